/* history.c - the time and path-history indexes (see history.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "history.h"

#define BATCH_COMMITS 1024

/* A key under construction: family, branch, then parts. */
struct key {
	unsigned char *p;
	size_t len, cap;
};

static int key_add(struct key *k, const void *data, size_t n)
{
	if (k->len + n > k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 128;
		unsigned char *p;

		while (cap < k->len + n)
			cap *= 2;
		p = realloc(k->p, cap);
		if (!p)
			return -ENOMEM;
		k->p = p;
		k->cap = cap;
	}
	memcpy(k->p + k->len, data, n);
	k->len += n;
	return 0;
}

/* F B \0, the prefix of every key of one family and branch. */
static int key_start(struct key *k, char family, const char *branch)
{
	k->len = 0;
	if (key_add(k, &family, 1) < 0 ||
	    key_add(k, branch, strlen(branch) + 1) < 0)
		return -ENOMEM;
	return 0;
}

static int key_be64(struct key *k, uint64_t v)
{
	unsigned char b[8];

	idx_put_be64(b, v);
	return key_add(k, b, 8);
}

static uint64_t time_bits(int64_t t)
{
	return (uint64_t)t ^ (1ull << 63);
}

struct catchup {
	struct idx_db *db;
	struct store *st;
	const char *branch;
	struct store_oid stop; /* the indexed head, if any */
	bool have_stop;
	struct store_oid *v; /* new commits, newest first */
	int64_t *times;
	size_t n, cap;
	uint64_t base_seq; /* seq of stop + 1, or 0 */
	bool found;
	rocksdb_writebatch_t *wb;
	struct key k;
	uint64_t seq;
	struct store_oid commit;
	int64_t time;
};

static int read_head(struct idx_db *db, const char *branch,
		     struct store_oid *head, uint64_t *seq)
{
	struct key k = {0};
	char *val, *e = NULL;
	size_t vlen;
	int err = key_start(&k, 'H', branch);

	if (err < 0)
		return err;
	val = rocksdb_get(db->db, db->ropts, (char *)k.p, k.len - 1, &vlen,
			  &e);
	free(k.p);
	if (e)
		return idx_rocks_fail(e, "get head");
	if (!val || vlen != 28)
		err = -ENOENT;
	else {
		memcpy(head->id, val, 20);
		*seq = idx_get_be64((unsigned char *)val + 20);
	}
	rocksdb_free(val);
	return err;
}

static int collect(void *ctx, const struct store_oid *commit, int64_t time)
{
	struct catchup *c = ctx;

	if (c->have_stop && store_oid_equal(commit, &c->stop)) {
		c->found = true;
		return 1;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct store_oid *v = realloc(c->v, cap * sizeof(*v));
		int64_t *t = v ? realloc(c->times, cap * sizeof(*t)) : NULL;

		if (v)
			c->v = v;
		if (!v || !t)
			return -ENOMEM;
		c->times = t;
		c->cap = cap;
	}
	c->v[c->n] = *commit;
	c->times[c->n++] = time;
	return 0;
}

static int put_path(void *ctx, const char *path, const struct store_oid *old,
		    const struct store_oid *new)
{
	struct catchup *c = ctx;
	unsigned char val[48] = {0};

	if (key_start(&c->k, 'P', c->branch) < 0 ||
	    key_add(&c->k, path, strlen(path) + 1) < 0 ||
	    key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, (uint64_t)c->time);
	if (new)
		memcpy(val + 28, new->id, 20);
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len,
			       (char *)val, sizeof(val));
	return 0;
}

static int put_commit(struct catchup *c)
{
	unsigned char val[28];
	char hex[STORE_OID_HEXSZ + 1];

	if (key_start(&c->k, 'T', c->branch) < 0 ||
	    key_be64(&c->k, time_bits(c->time)) < 0 ||
	    key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len,
			       (char *)c->commit.id, 20);
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, (uint64_t)c->time);
	if (key_start(&c->k, 'S', c->branch) < 0 ||
	    key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len, (char *)val,
			       28);
	store_oid_fmt(hex, &c->commit);
	idx_put_be64(val, c->seq);
	idx_put_be64(val + 8, (uint64_t)c->time);
	if (key_start(&c->k, 'C', c->branch) < 0 ||
	    key_add(&c->k, hex, STORE_OID_HEXSZ) < 0)
		return -ENOMEM;
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len, (char *)val,
			       16);
	/* The head record goes in the same batch as the commit it names. */
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, c->seq);
	if (key_start(&c->k, 'H', c->branch) < 0)
		return -ENOMEM;
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len - 1,
			       (char *)val, 28);
	return 0;
}

static int flush(struct catchup *c)
{
	char *e = NULL;

	rocksdb_write(c->db->db, c->db->wopts, c->wb, &e);
	rocksdb_writebatch_clear(c->wb);
	return e ? idx_rocks_fail(e, "write history") : 0;
}

/* Delete every key of FAMILY for BRANCH. */
static void drop_family(rocksdb_writebatch_t *wb, char family,
			const char *branch)
{
	struct key lo = {0}, hi = {0};

	if (key_start(&lo, family, branch) == 0 &&
	    key_start(&hi, family, branch) == 0) {
		hi.p[hi.len - 1] = 1; /* just past every "F B \0 ..." */
		rocksdb_writebatch_delete_range(wb, (char *)lo.p, lo.len,
						(char *)hi.p, hi.len);
		rocksdb_writebatch_delete(wb, (char *)lo.p, lo.len - 1);
	}
	free(lo.p);
	free(hi.p);
}

static void drop_all(rocksdb_writebatch_t *wb, const char *branch)
{
	drop_family(wb, 'H', branch);
	drop_family(wb, 'T', branch);
	drop_family(wb, 'S', branch);
	drop_family(wb, 'C', branch);
	drop_family(wb, 'P', branch);
}

int idx_history_drop(struct idx_db *db, const char *branch)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	char *e = NULL;

	pthread_mutex_lock(&db->catchup_lock);
	drop_all(wb, branch);
	rocksdb_write(db->db, db->wopts, wb, &e);
	pthread_mutex_unlock(&db->catchup_lock);
	rocksdb_writebatch_destroy(wb);
	return e ? idx_rocks_fail(e, "drop history") : 0;
}

static int index_new(struct catchup *c)
{
	int err = 0;

	for (size_t i = c->n; i-- > 0 && err == 0;) {
		c->commit = c->v[i];
		c->time = c->times[i];
		c->seq = c->base_seq + (c->n - 1 - i);
		err = store_diff_parent(c->st, &c->commit, put_path, c);
		if (err == 0)
			err = put_commit(c);
		if (err == 0 && (i % BATCH_COMMITS == 0))
			err = flush(c);
	}
	return err;
}

int idx_history_catchup(struct idx_db *db, struct store *st,
			const char *branch, uint64_t *added)
{
	struct catchup c = {.db = db, .st = st, .branch = branch};
	struct store_oid head;
	uint64_t seq = 0;
	int err;

	if (added)
		*added = 0;
	if (db->readonly)
		return 0; /* the process holding the database catches up */
	err = store_branch_head(st, branch, &head);
	if (err < 0)
		return err;
	pthread_mutex_lock(&db->catchup_lock);
	err = read_head(db, branch, &c.stop, &seq);
	if (err == 0 && store_oid_equal(&c.stop, &head))
		goto out;
	if (err < 0 && err != -ENOENT)
		goto out;
	c.have_stop = err == 0;
	err = store_walk(st, &head, collect, &c);
	if (err < 0)
		goto out;
	c.wb = rocksdb_writebatch_create();
	if (c.have_stop && c.found) {
		c.base_seq = seq + 1;
	} else if (c.have_stop) {
		/* The indexed head is not on the chain any more: history was
		 * rewritten. Index it again from the root. */
		drop_all(c.wb, branch);
	}
	err = index_new(&c);
	if (err == 0)
		err = flush(&c);
	if (err == 0 && added)
		*added = c.n;
out:
	pthread_mutex_unlock(&db->catchup_lock);
	if (c.wb)
		rocksdb_writebatch_destroy(c.wb);
	free(c.k.p);
	free(c.v);
	free(c.times);
	return err;
}

/* An iterator bounded to keys starting with PREFIX. */
struct scan {
	rocksdb_iterator_t *it;
	rocksdb_readoptions_t *ro;
	struct key hi;
};

static int scan_open(struct scan *s, struct idx_db *db, const struct key *prefix)
{
	memset(s, 0, sizeof(*s));
	if (key_add(&s->hi, prefix->p, prefix->len) < 0)
		return -ENOMEM;
	/* The least key greater than every key with this prefix. */
	while (s->hi.len > 0 && s->hi.p[s->hi.len - 1] == 0xff)
		s->hi.len--;
	if (s->hi.len > 0)
		s->hi.p[s->hi.len - 1]++;
	s->ro = rocksdb_readoptions_create();
	if (s->hi.len > 0)
		rocksdb_readoptions_set_iterate_upper_bound(s->ro, (char *)s->hi.p,
							    s->hi.len);
	s->it = rocksdb_create_iterator(db->db, s->ro);
	return 0;
}

static int scan_close(struct scan *s)
{
	char *e = NULL;

	if (s->it) {
		rocksdb_iter_get_error(s->it, &e);
		rocksdb_iter_destroy(s->it);
	}
	if (s->ro)
		rocksdb_readoptions_destroy(s->ro);
	free(s->hi.p);
	return e ? idx_rocks_fail(e, "scan") : 0;
}

int idx_history_at(struct idx_db *db, const char *branch, int64_t when,
		   struct store_oid *out)
{
	struct key k = {0};
	struct scan s;
	const char *key, *val;
	size_t klen, vlen, plen;
	int err = key_start(&k, 'T', branch);

	if (err < 0)
		return err;
	plen = k.len;
	if ((err = scan_open(&s, db, &k)) < 0)
		goto out;
	if ((err = key_be64(&k, time_bits(when))) < 0 ||
	    (err = key_be64(&k, UINT64_MAX)) < 0)
		goto out;
	rocksdb_iter_seek_for_prev(s.it, (char *)k.p, k.len);
	err = -ENOENT;
	if (rocksdb_iter_valid(s.it)) {
		key = rocksdb_iter_key(s.it, &klen);
		val = rocksdb_iter_value(s.it, &vlen);
		if (klen == plen + 16 && !memcmp(key, k.p, plen) && vlen == 20) {
			memcpy(out->id, val, 20);
			err = 0;
		}
	}
out:
	if (scan_close(&s) < 0 && err == 0)
		err = -EIO;
	free(k.p);
	return err;
}

int idx_history_commit(struct idx_db *db, const char *branch, const char *hex,
		       struct store_oid *out)
{
	char full[STORE_OID_HEXSZ + 1];
	struct key k = {0};
	struct scan s = {0};
	const char *key;
	size_t klen, n = strlen(hex), plen, found = 0;
	int err;

	if (n < 7 || n > STORE_OID_HEXSZ || strspn(hex, "0123456789abcdef") != n)
		return -ENOENT;
	if ((err = key_start(&k, 'C', branch)) < 0)
		return err;
	plen = k.len;
	if ((err = key_add(&k, hex, n)) < 0 ||
	    (err = scan_open(&s, db, &k)) < 0)
		goto out;
	for (rocksdb_iter_seek(s.it, (char *)k.p, k.len);
	     rocksdb_iter_valid(s.it) && found < 2; rocksdb_iter_next(s.it)) {
		key = rocksdb_iter_key(s.it, &klen);
		if (klen != plen + STORE_OID_HEXSZ)
			continue;
		memcpy(full, key + plen, STORE_OID_HEXSZ);
		full[STORE_OID_HEXSZ] = '\0';
		found++;
	}
	err = found == 1 ? store_oid_parse(out, full) : -ENOENT;
out:
	if (scan_close(&s) < 0 && err == 0)
		err = -EIO;
	free(k.p);
	return err;
}

int idx_history_versions(struct idx_db *db, const char *branch,
			 const char *path, idx_version_cb cb, void *ctx)
{
	struct key k = {0};
	struct scan s = {0};
	const unsigned char *val;
	static const unsigned char zero[20];
	struct store_oid commit, blob;
	size_t vlen;
	int err;

	if ((err = key_start(&k, 'P', branch)) < 0 ||
	    (err = key_add(&k, path, strlen(path) + 1)) < 0 ||
	    (err = scan_open(&s, db, &k)) < 0)
		goto out;
	for (rocksdb_iter_seek(s.it, (char *)k.p, k.len);
	     rocksdb_iter_valid(s.it) && err == 0; rocksdb_iter_next(s.it)) {
		val = (const unsigned char *)rocksdb_iter_value(s.it, &vlen);
		if (vlen != 48)
			continue;
		memcpy(commit.id, val, 20);
		memcpy(blob.id, val + 28, 20);
		err = cb(ctx, (int64_t)idx_get_be64(val + 20), &commit,
			 memcmp(val + 28, zero, 20) ? &blob : NULL);
	}
out:
	if (scan_close(&s) < 0 && err == 0)
		err = -EIO;
	free(k.p);
	return err;
}

int idx_history_names(struct idx_db *db, const char *branch, const char *dir,
		      idx_name_cb cb, void *ctx)
{
	struct key k = {0};
	struct scan s = {0};
	char *last = NULL;
	size_t plen;
	int err;

	if ((err = key_start(&k, 'P', branch)) < 0 ||
	    (err = key_add(&k, dir, strlen(dir))) < 0 ||
	    (*dir && (err = key_add(&k, "/", 1)) < 0))
		goto out;
	plen = k.len;
	if ((err = scan_open(&s, db, &k)) < 0)
		goto out;
	rocksdb_iter_seek(s.it, (char *)k.p, k.len);
	while (rocksdb_iter_valid(s.it) && err == 0) {
		size_t klen;
		const char *key = rocksdb_iter_key(s.it, &klen);
		const char *name = key + plen;
		size_t nlen = strcspn(name, "/");
		int is_dir = name[nlen] == '/';

		if (!last || strlen(last) != nlen || memcmp(last, name, nlen)) {
			free(last);
			last = strndup(name, nlen);
			if (!last) {
				err = -ENOMEM;
				break;
			}
			err = cb(ctx, last, is_dir);
		}
		/* Skip the rest of this name's keys: seek past NAME\0 or
		 * NAME/ (both sort before NAME followed by anything else). */
		k.len = plen;
		if (key_add(&k, name, nlen) < 0 ||
		    key_add(&k, is_dir ? "0" : "\x01", 1) < 0) {
			err = -ENOMEM;
			break;
		}
		rocksdb_iter_seek(s.it, (char *)k.p, k.len);
	}
out:
	if (scan_close(&s) < 0 && err == 0)
		err = -EIO;
	free(last);
	free(k.p);
	return err;
}
