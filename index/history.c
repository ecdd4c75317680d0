/* history.c - the time and path-history indexes (see history.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "history.h"
#include "order_int.h"
#include "banned.h"

#define BATCH_COMMITS 1024

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
	struct idx_key k;
	uint64_t seq;
	struct store_oid commit;
	int64_t time;
	int64_t last_time; /* of the newest indexed commit */
	bool have_last;
	const struct idx_defs *defs; /* ordered indexes on this branch */
	char **paths;	      /* this commit's changed documents, for them */
	struct store_oid *blobs;
	bool *deleted;
	size_t npaths, cappaths;
};

/* Remember a changed path for the ordered indexes (applied after the
 * diff, which holds the store lock that reading blobs needs). */
static int remember(struct catchup *c, const char *path,
		    const struct store_oid *new)
{
	if (c->npaths == c->cappaths) {
		size_t cap = c->cappaths ? c->cappaths * 2 : 16;
		char **p = realloc(c->paths, cap * sizeof(*p));
		struct store_oid *b;
		bool *d;

		if (!p)
			return -ENOMEM;
		c->paths = p;
		if (!(b = realloc(c->blobs, cap * sizeof(*b))))
			return -ENOMEM;
		c->blobs = b;
		if (!(d = realloc(c->deleted, cap * sizeof(*d))))
			return -ENOMEM;
		c->deleted = d;
		c->cappaths = cap;
	}
	c->paths[c->npaths] = strdup(path);
	if (!c->paths[c->npaths])
		return -ENOMEM;
	c->deleted[c->npaths] = !new;
	if (new)
		c->blobs[c->npaths] = *new;
	c->npaths++;
	return 0;
}

static int apply_orders(struct catchup *c)
{
	int err = 0;

	for (size_t i = 0; i < c->npaths; i++) {
		if (err == 0)
			err = idx_order_apply(c->db, c->st, c->wb, c->defs,
					      c->branch, c->paths[i],
					      c->deleted[i] ? NULL
							    : &c->blobs[i]);
		free(c->paths[i]);
	}
	c->npaths = 0;
	return err;
}

int idx_head_read(struct idx_db *db, const char *branch,
		     struct store_oid *head, uint64_t *seq)
{
	struct idx_key k = {0};
	char *val, *e = NULL;
	size_t vlen;
	int err = idx_key_start(&k, 'H', branch);

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

/* The committer time of the commit at SEQ, from its 'S' record. */
static int read_time(struct idx_db *db, const char *branch, uint64_t seq,
		     int64_t *out)
{
	struct idx_key k = {0};
	char *val, *e = NULL;
	size_t vlen;
	int err;

	if ((err = idx_key_start(&k, 'S', branch)) < 0 ||
	    (err = idx_key_be64(&k, seq)) < 0) {
		free(k.p);
		return err;
	}
	val = rocksdb_get(db->db, db->ropts, (char *)k.p, k.len, &vlen, &e);
	free(k.p);
	if (e)
		return idx_rocks_fail(e, "get seq");
	err = val && vlen == 28 ? 0 : -ENOENT;
	if (err == 0)
		*out = (int64_t)idx_get_be64((unsigned char *)val + 20);
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

	if (idx_key_start(&c->k, 'P', c->branch) < 0 ||
	    idx_key_add(&c->k, path, strlen(path) + 1) < 0 ||
	    idx_key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, (uint64_t)c->time);
	if (new)
		memcpy(val + 28, new->id, 20);
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len,
			       (char *)val, sizeof(val));
	return c->defs->n ? remember(c, path, new) : 0;
}

static int flush(struct catchup *c);

/* A commit dated before its predecessors (clock skew, an outside commit
 * with an old date): every indexed commit keyed by a time above T gets T,
 * so T keys stay the suffix minimum (see history.h). They are the newest
 * entries, so this touches only the commits after the skew. */
static int lower_tail(struct catchup *c, int64_t t)
{
	struct idx_key lo = {0}, hi = {0}, nk = {0};
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	char *e = NULL;
	int err;

	if ((err = flush(c)) < 0 ||
	    (err = idx_key_start(&lo, 'T', c->branch)) < 0 ||
	    (err = idx_key_be64(&lo, time_bits(t) + 1)) < 0 ||
	    (err = idx_key_start(&hi, 'T', c->branch)) < 0) {
		rocksdb_readoptions_destroy(ro);
		goto out;
	}
	hi.p[hi.len - 1] = 1;
	rocksdb_readoptions_set_iterate_upper_bound(ro, (char *)hi.p, hi.len);
	it = rocksdb_create_iterator(c->db->db, ro);
	for (rocksdb_iter_seek(it, (char *)lo.p, lo.len);
	     rocksdb_iter_valid(it) && err == 0; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);

		if (klen < 16)
			continue;
		rocksdb_writebatch_delete(c->wb, k, klen);
		if ((err = idx_key_start(&nk, 'T', c->branch)) < 0 ||
		    (err = idx_key_be64(&nk, time_bits(t))) < 0 ||
		    (err = idx_key_add(&nk, k + klen - 8, 8)) < 0)
			break;
		rocksdb_writebatch_put(c->wb, (char *)nk.p, nk.len, v, vlen);
	}
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (e)
		err = idx_rocks_fail(e, "lower tail");
	if (err == 0)
		err = flush(c);
out:
	free(lo.p);
	free(hi.p);
	free(nk.p);
	return err;
}

static int put_commit(struct catchup *c)
{
	unsigned char val[28];
	char hex[STORE_OID_HEXSZ + 1];
	int err;

	if (c->have_last && c->time < c->last_time &&
	    (err = lower_tail(c, c->time)) < 0)
		return err;
	c->last_time = c->time;
	c->have_last = true;
	if (idx_key_start(&c->k, 'T', c->branch) < 0 ||
	    idx_key_be64(&c->k, time_bits(c->time)) < 0 ||
	    idx_key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len,
			       (char *)c->commit.id, 20);
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, (uint64_t)c->time);
	if (idx_key_start(&c->k, 'S', c->branch) < 0 ||
	    idx_key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len, (char *)val,
			       28);
	store_oid_fmt(hex, &c->commit);
	idx_put_be64(val, c->seq);
	idx_put_be64(val + 8, (uint64_t)c->time);
	if (idx_key_start(&c->k, 'C', c->branch) < 0 ||
	    idx_key_add(&c->k, hex, STORE_OID_HEXSZ) < 0)
		return -ENOMEM;
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len, (char *)val,
			       16);
	/* The head record goes in the same batch as the commit it names. */
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, c->seq);
	if (idx_key_start(&c->k, 'H', c->branch) < 0)
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
	struct idx_key lo = {0}, hi = {0};

	if (idx_key_start(&lo, family, branch) == 0 &&
	    idx_key_start(&hi, family, branch) == 0) {
		hi.p[hi.len - 1] = 1; /* just past every "F B \0 ..." */
		rocksdb_writebatch_delete_range(wb, (char *)lo.p, lo.len,
						(char *)hi.p, hi.len);
		rocksdb_writebatch_delete(wb, (char *)lo.p, lo.len - 1);
	}
	free(lo.p);
	free(hi.p);
}

/* Everything derived from the branch's history; the definitions of its
 * ordered indexes too when DEFS. */
static void drop_all(rocksdb_writebatch_t *wb, const char *branch, bool defs)
{
	drop_family(wb, 'H', branch);
	drop_family(wb, 'T', branch);
	drop_family(wb, 'S', branch);
	drop_family(wb, 'C', branch);
	drop_family(wb, 'P', branch);
	drop_family(wb, 'O', branch);
	drop_family(wb, 'R', branch);
	if (defs)
		drop_family(wb, 'D', branch);
}

int idx_history_drop(struct idx_db *db, const char *branch)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	char *e = NULL;

	pthread_mutex_lock(&db->catchup_lock);
	drop_all(wb, branch, true);
	rocksdb_write(db->db, db->wopts, wb, &e);
	idx_defs_forget(db);
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
			err = apply_orders(c);
		if (err == 0)
			err = put_commit(c);
		/* With ordered indexes, one batch per commit: a row changed
		 * twice must see its first change (see order_int.h). */
		if (err == 0 && (c->defs->n || i % BATCH_COMMITS == 0))
			err = flush(c);
	}
	return err;
}

int idx_history_catchup(struct idx_db *db, struct store *st,
			const char *branch, uint64_t *added)
{
	int err;

	if (added)
		*added = 0;
	if (db->readonly)
		return 0; /* the process holding the database catches up */
	pthread_mutex_lock(&db->catchup_lock);
	err = idx_catchup_locked(db, st, branch, added);
	pthread_mutex_unlock(&db->catchup_lock);
	return err;
}

static void catchup_release(struct catchup *c)
{
	if (c->wb)
		rocksdb_writebatch_destroy(c->wb);
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->blobs);
	free(c->deleted);
	free(c->k.p);
	free(c->v);
	free(c->times);
}

int idx_history_add(struct idx_db *db, struct store *st, const char *branch,
		    const struct store_commit_info *info,
		    const struct idx_mtime *mtime)
{
	struct catchup c = {.db = db, .st = st, .branch = branch};
	struct store_oid head;
	uint64_t seq;
	/* The mtime goes with the first path's new content. */
	bool timed = mtime && info->n && !info->paths[0].deleted;
	int err;

	if (db->readonly)
		return 0;
	pthread_mutex_lock(&db->catchup_lock);
	err = idx_head_read(db, branch, &head, &seq);
	if (err < 0 || !store_oid_equal(&head, &info->parent)) {
		err = idx_catchup_locked(db, st, branch, NULL);
		if (err == 0 && timed)
			err = idx_mtime_set(db, branch, info->paths[0].path,
					    info->paths[0].blob.id, mtime);
		goto out;
	}
	c.wb = rocksdb_writebatch_create();
	c.have_last = read_time(db, branch, seq, &c.last_time) == 0;
	if ((err = idx_defs_get(db, branch, &c.defs)) < 0)
		goto out;
	c.commit = info->commit;
	c.time = info->time;
	c.seq = seq + 1;
	for (size_t i = 0; i < info->n && err == 0; i++)
		if (store_is_document_path(info->paths[i].path))
			err = put_path(&c, info->paths[i].path, NULL,
				       info->paths[i].deleted
					       ? NULL
					       : &info->paths[i].blob);
	if (err == 0)
		err = apply_orders(&c);
	if (err == 0)
		err = put_commit(&c);
	if (err == 0 && timed)
		err = idx_mtime_put(c.wb, branch, info->paths[0].path,
				    info->paths[0].blob.id, mtime);
	if (err == 0)
		err = flush(&c);
out:
	catchup_release(&c);
	pthread_mutex_unlock(&db->catchup_lock);
	return err;
}

int idx_catchup_locked(struct idx_db *db, struct store *st,
		       const char *branch, uint64_t *added)
{
	struct catchup c = {.db = db, .st = st, .branch = branch};
	struct store_oid head;
	uint64_t seq = 0;
	int err;

	err = store_branch_head(st, branch, &head);
	if (err < 0)
		return err;
	err = idx_head_read(db, branch, &c.stop, &seq);
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
		c.have_last = read_time(db, branch, seq, &c.last_time) == 0;
	} else if (c.have_stop) {
		/* The indexed head is not on the chain any more: history was
		 * rewritten. Index it again from the root (the ordered
		 * indexes too, from the root commit's diff on). */
		drop_all(c.wb, branch, false);
		if ((err = flush(&c)) < 0)
			goto out;
	}
	if ((err = idx_defs_get(db, branch, &c.defs)) < 0)
		goto out;
	err = index_new(&c);
	if (err == 0)
		err = flush(&c);
	if (err == 0 && added)
		*added = c.n;
out:
	catchup_release(&c);
	return err;
}

/* An iterator bounded to keys starting with PREFIX. */
struct scan {
	rocksdb_iterator_t *it;
	rocksdb_readoptions_t *ro;
	struct idx_key hi;
};

static int scan_open(struct scan *s, struct idx_db *db,
		     const struct idx_key *prefix)
{
	memset(s, 0, sizeof(*s));
	if (idx_key_add(&s->hi, prefix->p, prefix->len) < 0)
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
	struct idx_key k = {0};
	struct scan s;
	const char *key, *val;
	size_t klen, vlen, plen;
	int err = idx_key_start(&k, 'T', branch);

	if (err < 0)
		return err;
	plen = k.len;
	if ((err = scan_open(&s, db, &k)) < 0)
		goto out;
	if ((err = idx_key_be64(&k, time_bits(when))) < 0 ||
	    (err = idx_key_be64(&k, UINT64_MAX)) < 0)
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
	struct idx_key k = {0};
	struct scan s = {0};
	const char *key;
	size_t klen, n = strlen(hex), plen, found = 0;
	int err;

	if (n < 7 || n > STORE_OID_HEXSZ || strspn(hex, "0123456789abcdef") != n)
		return -ENOENT;
	if ((err = idx_key_start(&k, 'C', branch)) < 0)
		return err;
	plen = k.len;
	if ((err = idx_key_add(&k, hex, n)) < 0 ||
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
	struct idx_key k = {0};
	struct scan s = {0};
	const unsigned char *val;
	static const unsigned char zero[20];
	struct store_oid commit, blob;
	size_t vlen;
	int err;

	if ((err = idx_key_start(&k, 'P', branch)) < 0 ||
	    (err = idx_key_add(&k, path, strlen(path) + 1)) < 0 ||
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
	struct idx_key k = {0};
	struct scan s = {0};
	char *last = NULL;
	size_t plen;
	int err;

	if ((err = idx_key_start(&k, 'P', branch)) < 0 ||
	    (err = idx_key_add(&k, dir, strlen(dir))) < 0 ||
	    (*dir && (err = idx_key_add(&k, "/", 1)) < 0))
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
		if (idx_key_add(&k, name, nlen) < 0 ||
		    idx_key_add(&k, is_dir ? "0" : "\x01", 1) < 0) {
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

bool idx_history_fresh(struct idx_db *db, struct store *st,
		       const char *branch)
{
	struct store_oid head, indexed;
	uint64_t seq;

	return store_branch_head(st, branch, &head) == 0 &&
	       idx_head_read(db, branch, &indexed, &seq) == 0 &&
	       store_oid_equal(&head, &indexed);
}

/* The walk the index spares us, for an index that cannot catch up. */
struct walk {
	int64_t when;
	const char *hex;
	size_t hexlen;
	bool found;
	struct store_oid commit;
};

static int walk_cb(void *ctx, const struct store_oid *commit, int64_t time)
{
	struct walk *w = ctx;
	char hex[STORE_OID_HEXSZ + 1];

	if (w->hex) {
		store_oid_fmt(hex, commit);
		w->found = !strncmp(hex, w->hex, w->hexlen);
	} else {
		w->found = time <= w->when;
	}
	if (w->found)
		w->commit = *commit;
	return w->found ? 1 : 0;
}

int idx_history_resolve(struct idx_db *db, struct store *st,
			const char *branch, const char *spec, size_t len,
			struct store_oid *out)
{
	struct walk w = {0};
	struct store_oid head;
	char hex[STORE_OID_HEXSZ + 1];
	bool is_hex = len >= 7 && len <= STORE_OID_HEXSZ;
	int err;

	for (size_t i = 0; is_hex && i < len; i++)
		is_hex = (spec[i] >= '0' && spec[i] <= '9') ||
			 (spec[i] >= 'a' && spec[i] <= 'f');
	if (!is_hex && idx_parse_when(spec, len, &w.when) < 0)
		return idx_fail(-EINVAL, "'%.*s' is neither an ISO-8601 time "
				"nor a commit id", (int)len, spec);
	err = idx_history_catchup(db, st, branch, NULL);
	if (err < 0)
		return err;
	if (is_hex) {
		memcpy(hex, spec, len);
		hex[len] = '\0';
	}
	if (idx_history_fresh(db, st, branch))
		return is_hex ? idx_history_commit(db, branch, hex, out)
			      : idx_history_at(db, branch, w.when, out);
	w.hex = is_hex ? hex : NULL;
	w.hexlen = len;
	err = store_branch_head(st, branch, &head);
	if (err == 0)
		err = store_walk(st, &head, walk_cb, &w);
	if (err < 0)
		return err;
	if (!w.found)
		return -ENOENT;
	*out = w.commit;
	return 0;
}
