/* idxrows.c - see idxrows.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idxrows.h"
#include "banned.h"

void idxt_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		exit(1);
	}
}

void idxt_rev(const char *repo, char out[STORE_OID_HEXSZ + 1], const char *what)
{
	char cmd[600];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "git --git-dir='%s' rev-parse '%s'", repo,
		 what);
	p = popen(cmd, "r");
	if (!p || !fgets(out, STORE_OID_HEXSZ + 1, p) ||
	    strlen(out) != STORE_OID_HEXSZ) {
		fprintf(stderr, "rev-parse %s failed\n", what);
		exit(1);
	}
	pclose(p);
}

void idxt_doc(FILE *f, const char *path, int v)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"v\": %d, \"n\": \"%s\"}", v % 7, path);
	fprintf(f, "M 100644 inline %s\ndata %zu\n%s\n", path, strlen(body),
		body);
}

void idxt_commit_head(FILE *f, const char *ref, int mark, long when)
{
	fprintf(f, "commit %s\nmark :%d\n", ref, mark);
	fprintf(f, "committer t <t@example.invalid> %ld +0000\n", when);
	fprintf(f, "data 2\nc\n");
}

static void skip_records(rocksdb_iterator_t *it)
{
	size_t kl;

	while (rocksdb_iter_valid(it) && *rocksdb_iter_key(it, &kl) == 'K')
		rocksdb_iter_next(it);
}

static bool records_kept(struct idx_db *a, struct idx_db *b, char *msg,
			 size_t len)
{
	rocksdb_iterator_t *ib = rocksdb_create_iterator(b->db, b->ropts);
	bool same = true;
	size_t n = 0;

	for (rocksdb_iter_seek(ib, "K", 1); same && rocksdb_iter_valid(ib);
	     rocksdb_iter_next(ib), n++) {
		size_t kl, vl, al = 0;
		const char *k = rocksdb_iter_key(ib, &kl);
		const char *v = rocksdb_iter_value(ib, &vl);
		char *e = NULL, *x;

		if (*k != 'K')
			break;
		x = rocksdb_get(a->db, a->ropts, k, kl, &al, &e);
		same = !e && x && al == vl && !memcmp(x, v, vl);
		if (!same)
			snprintf(msg, len,
				 "record %zu of the rebuild is not "
				 "the catch-up's",
				 n);
		rocksdb_free(x);
		rocksdb_free(e);
	}
	rocksdb_iter_destroy(ib);
	if (same && n == 0) {
		snprintf(msg, len, "the rebuild has no records of changes");
		same = false;
	}
	return same;
}

bool idxrows_same(struct idx_db *a, struct idx_db *b, char *msg, size_t len)
{
	rocksdb_iterator_t *ia, *ib;
	bool same = records_kept(a, b, msg, len);
	size_t n = 0;

	if (!same)
		return false;
	ia = rocksdb_create_iterator(a->db, a->ropts);
	ib = rocksdb_create_iterator(b->db, b->ropts);
	rocksdb_iter_seek_to_first(ia);
	rocksdb_iter_seek_to_first(ib);
	for (;; rocksdb_iter_next(ia), rocksdb_iter_next(ib), n++) {
		size_t kla, klb, vla, vlb;
		const char *ka, *kb, *xa, *xb;
		bool va, vb;

		skip_records(ia);
		skip_records(ib);
		va = rocksdb_iter_valid(ia);
		vb = rocksdb_iter_valid(ib);
		if (!va || !vb) {
			if (va != vb)
				snprintf(msg, len,
					 "row %zu: only the %s has more", n,
					 va ? "catch-up" : "rebuild");
			same = va == vb;
			break;
		}
		ka = rocksdb_iter_key(ia, &kla);
		kb = rocksdb_iter_key(ib, &klb);
		xa = rocksdb_iter_value(ia, &vla);
		xb = rocksdb_iter_value(ib, &vlb);
		if (kla != klb || memcmp(ka, kb, kla) || vla != vlb ||
		    memcmp(xa, xb, vla)) {
			snprintf(msg, len,
				 "row %zu differs: catch-up '%c' (%zu bytes), "
				 "rebuild '%c' (%zu bytes)",
				 n, ka[0], kla, kb[0], klb);
			same = false;
			break;
		}
	}
	rocksdb_iter_destroy(ia);
	rocksdb_iter_destroy(ib);
	return same;
}
