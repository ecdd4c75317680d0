/* rangeq.c - range query, library call against library call, for
 * tools/bench: chronofs's ordered index (cfs_order_rows over RocksDB on an
 * owner handle, the call the daemon makes; `chronofsctl query` makes it
 * through chronofs_query_range) against SQLite with
 * an expression index on json_extract(doc, '$.age'), on the same
 * documents.
 *
 *   rangeq REPO SQLITE_DB WIDTH QUERIES MODE
 *
 * Ages are integers 0..9999; each query asks age >= lo AND age < lo+WIDTH
 * for QUERIES different lo. MODE "ids": each side hands back the matching
 * ids (chronofs: id and blob id from the index; SQLite: the id column);
 * "docs": each side also hands back every matching document's bytes
 * (chronofs: the bytes its index rows carry for documents up to
 * IDX_INLINE_MAX, else cfs_blob_read of the blob; SQLite: the doc
 * column). Both
 * are warmed once, then each query is run on both sides alternately.
 * Prints one line: "chronofs_median_s sqlite_median_s rows_per_query".
 * Exits 1 if the two sides disagree on a row count.
 */
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chronofs_int.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof *v, cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct ctx {
	chronofs *db;
	int docs;
	long rows;
	size_t bytes;
};

static int row(void *p, const char *id, const struct cfs_oid *blob,
	       const char *doc, size_t dlen)
{
	struct ctx *c = p;
	c->rows++;
	c->bytes += strlen(id);
	if (c->docs && doc) {
		/* Carried by the index row; touched as SQLite's side touches
		 * its column (length and first byte). */
		c->bytes += dlen + (unsigned char)doc[0];
	} else if (c->docs) {
		char *buf;
		size_t len;
		int err = cfs_blob_read(c->db, blob, &buf, &len);
		if (err < 0)
			return err;
		c->bytes += len;
		free(buf);
	}
	return 0;
}

static long run_chronofs(struct ctx *c, long lo, long hi)
{
	char ge[32], lt[32];
	chronofs_range r = { .ge = ge, .lt = lt };
	snprintf(ge, sizeof ge, "%ld", lo);
	snprintf(lt, sizeof lt, "%ld", hi);
	c->rows = 0;
	int err = cfs_order_rows(c->db, "main", NULL, "c", "age", &r, row, c);
	if (err < 0) {
		fprintf(stderr, "rangeq: scan: %s\n", chronofs_errmsg(c->db));
		exit(1);
	}
	return c->rows;
}

static long run_sqlite(sqlite3_stmt *q, int docs, long lo, long hi,
		       size_t *bytes)
{
	long rows = 0;
	sqlite3_bind_int64(q, 1, lo);
	sqlite3_bind_int64(q, 2, hi);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		rows++;
		*bytes += sqlite3_column_bytes(q, 0);
		if (docs) {
			const unsigned char *d = sqlite3_column_text(q, 1);
			*bytes += sqlite3_column_bytes(q, 1) + (d ? d[0] : 0);
		}
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "rangeq: sqlite step: %d\n", rc);
		exit(1);
	}
	sqlite3_reset(q);
	return rows;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: rangeq REPO SQLITE_DB WIDTH QUERIES "
				"ids|docs\n");
		return 2;
	}
	long width = atol(argv[3]);
	int nq = atoi(argv[4]);
	int docs = !strcmp(argv[5], "docs");
	struct cfs_opts so = { .fsync = false };
	chronofs *db;
	bool built, ro;
	int err;

	if ((err = cfs_open(&db, argv[1], &so)) < 0) {
		fprintf(stderr, "rangeq: open: %s\n", chronofs_errmsg(NULL));
		return 1;
	}
	if ((err = cfs_index_attach(db, 0, &ro)) < 0 ||
	    (err = cfs_order_ensure(db, "main", "c", "age", &built)) < 0) {
		fprintf(stderr, "rangeq: index: %s\n", chronofs_errmsg(db));
		return 1;
	}
	sqlite3 *sq;
	sqlite3_stmt *q;
	if (sqlite3_open_v2(argv[2], &sq, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "rangeq: sqlite open: %s\n",
			sqlite3_errmsg(sq));
		return 1;
	}
	const char *sql =
		docs ? "SELECT id, doc FROM docs WHERE json_extract(doc, '$.age') >= ?1"
		       " AND json_extract(doc, '$.age') < ?2"
		       " ORDER BY json_extract(doc, '$.age')" :
		       "SELECT id FROM docs WHERE json_extract(doc, '$.age') >= ?1"
		       " AND json_extract(doc, '$.age') < ?2"
		       " ORDER BY json_extract(doc, '$.age')";
	if (sqlite3_prepare_v2(sq, sql, -1, &q, NULL) != SQLITE_OK) {
		fprintf(stderr, "rangeq: prepare: %s\n", sqlite3_errmsg(sq));
		return 1;
	}
	/* The plan must use the expression index (no table scan). */
	{
		sqlite3_stmt *ex;
		char *esql = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
		sqlite3_prepare_v2(sq, esql, -1, &ex, NULL);
		sqlite3_bind_int64(ex, 1, 0);
		sqlite3_bind_int64(ex, 2, 1);
		while (sqlite3_step(ex) == SQLITE_ROW)
			fprintf(stderr, "rangeq: sqlite plan: %s\n",
				sqlite3_column_text(ex, 3));
		sqlite3_finalize(ex);
		sqlite3_free(esql);
	}

	struct ctx c = { .db = db, .docs = docs };
	double *tc = calloc(nq, sizeof *tc), *ts = calloc(nq, sizeof *ts);
	size_t bytes = 0;
	long rows = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < nq; i++) {
			long lo = ((long)i * 7919) % (10000 - width);
			long hi = lo + width;
			double t0, t1, t2, t3;
			long rc, rs;
			if (i % 2 == 0) {
				t0 = now();
				rc = run_chronofs(&c, lo, hi);
				t1 = now();
				rs = run_sqlite(q, docs, lo, hi, &bytes);
				t2 = now();
			} else {
				t3 = now();
				rs = run_sqlite(q, docs, lo, hi, &bytes);
				t0 = now();
				rc = run_chronofs(&c, lo, hi);
				t1 = now();
				t2 = t1 + (t0 - t3);
			}
			if (rc != rs) {
				fprintf(stderr,
					"rangeq: rows differ for "
					"[%ld,%ld): chronofs %ld sqlite %ld\n",
					lo, hi, rc, rs);
				return 1;
			}
			/* Pass 0 warms both; who goes first alternates. */
			if (pass == 1) {
				tc[i] = t1 - t0;
				ts[i] = t2 - t1;
				rows += rc;
			}
		}
	}
	printf("%.9f %.9f %.1f\n", median(tc, nq), median(ts, nq),
	       (double)rows / nq);
	sqlite3_finalize(q);
	sqlite3_close(sq);
	chronofs_close(db);
	return bytes == 42 ? 3 : 0;
}
