/* catchup.c - bringing a branch's indexes up to its head: the records
 * each new commit adds to the time and path-history indexes and to every
 * ordered index defined on the branch, in one write batch per group of
 * commits. The walk of the new commits (oldest first, one tree diff each,
 * through the store's chain reader) is chainidx.c's; a branch moved back
 * or onto another line is first cut back to the newest commit both lines
 * share (rewind.c); who runs a catch-up, and lookups beside it, wait.c's;
 * the catch-ups saves ask for worker.c's; a save's own commit add.c's.
 * Reading them is history.c's and order.c's; row upkeep order_maint.c's. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catchup_int.h"
#include "banned.h"

static size_t chunk_rows = CHUNK_ROWS;

static void chunk_init(void)
{
	const char *v = getenv("CHRONOFS_INDEX_CHUNK");
	char *end;
	unsigned long n;

	if (!v || !*v)
		return;
	n = strtoul(v, &end, 10);
	if (!*end && n > 0)
		chunk_rows = n;
}

size_t idx_chunk_rows(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, chunk_init);
	return chunk_rows;
}

int idx_wip_read(struct idx_db *db, const char *branch,
		 struct store_oid *commit, uint64_t *seq)
{
	struct idx_key k = { 0 };
	char *val, *e = NULL;
	size_t vlen;
	int err;

	if ((err = idx_key_start(&k, 'W', branch)) < 0)
		return err;
	val = rocksdb_get(db->db, db->ropts, (char *)k.p, k.len - 1, &vlen, &e);
	free(k.p);
	if (e)
		return idx_rocks_fail(e, "get unfinished commit");
	err = val && vlen == 28 ? 0 : -ENOENT;
	if (err == 0) {
		memcpy(commit->id, val, STORE_OID_RAWSZ);
		*seq = idx_get_be64((unsigned char *)val + 20);
	}
	rocksdb_free(val);
	return err;
}

/* Write what is gathered of c->commit so far, its 'W' record with the
 * first part: the commit is not indexed until its last part. A stop (an
 * unmount) ends a catch-up here too, not only between commits: one
 * commit of a million documents takes seconds. */
static int flush_part(struct catchup *c)
{
	unsigned char val[28];
	int err;

	if (c->defs->n && (err = idx_cu_apply_orders(c)) < 0)
		return err;
	if (!c->partial) {
		memcpy(val, c->commit.id, 20);
		idx_put_be64(val + 20, c->seq);
		if (idx_key_start(&c->k, 'W', c->branch) < 0)
			return -ENOMEM;
		rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len - 1,
				       (char *)val, sizeof(val));
		c->partial = true;
	}
	if ((err = idx_cu_flush(c)) < 0)
		return err;
	if (c->stoppable && atomic_load(&c->db->cancel))
		return idx_fail(-ECANCELED, "index of %s: stopped in a commit",
				c->branch);
	return 0;
}

/* Remember a changed path for the ordered indexes (applied after the
 * diff, which holds the store lock that reading blobs needs). */
int idx_cu_remember(struct catchup *c, const char *path,
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

int idx_cu_apply_orders(struct catchup *c)
{
	int err = 0;

	for (size_t i = 0; i < c->npaths; i++) {
		if (err == 0)
			err = idx_order_apply(c->db, c->st, c->wb, c->defs,
					      c->branch, c->paths[i],
					      c->deleted[i] ? NULL :
							      &c->blobs[i]);
		free(c->paths[i]);
	}
	c->npaths = 0;
	return err;
}

int idx_seq_read(struct idx_db *db, const char *branch, uint64_t seq,
		 struct store_oid *commit, int64_t *time)
{
	struct idx_key k = { 0 };
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
	if (err == 0 && commit)
		memcpy(commit->id, val, STORE_OID_RAWSZ);
	if (err == 0)
		*time = (int64_t)idx_get_be64((unsigned char *)val + 20);
	rocksdb_free(val);
	return err;
}

int idx_cu_indexed_seq(struct catchup *c, const struct store_oid *commit,
		       uint64_t *seq)
{
	char hex[STORE_OID_HEXSZ + 1], *val, *e = NULL;
	size_t vlen;
	int found;

	store_oid_fmt(hex, commit);
	if (idx_key_start(&c->k, 'C', c->branch) < 0 ||
	    idx_key_add(&c->k, hex, STORE_OID_HEXSZ) < 0)
		return -ENOMEM;
	val = rocksdb_get(c->db->db, c->db->ropts, (char *)c->k.p, c->k.len,
			  &vlen, &e);
	if (e)
		return idx_rocks_fail(e, "get commit");
	found = val && vlen == 16;
	if (found)
		*seq = idx_get_be64((unsigned char *)val);
	rocksdb_free(val);
	return found;
}

/* One record of the batch: gathered to go in key order (sortbatch.c), or
 * added now. */
static int put(struct catchup *c, const void *k, size_t klen, const void *v,
	       size_t vlen)
{
	if (c->sorted)
		return idx_sortbatch_put(&c->sb, k, klen, v, vlen);
	rocksdb_writebatch_put(c->wb, k, klen, v, vlen);
	return 0;
}

int idx_cu_put_path(void *ctx, const char *path, const struct store_oid *old,
		    const struct store_oid *new)
{
	struct catchup *c = ctx;
	unsigned char val[48] = { 0 };
	int err;

	if (idx_key_start(&c->k, 'P', c->branch) < 0 ||
	    idx_key_add(&c->k, path, strlen(path) + 1) < 0 ||
	    idx_key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, (uint64_t)c->time);
	if (new)
		memcpy(val + 28, new->id, 20);
	if (put(c, c->k.p, c->k.len, val, sizeof(val)) < 0 ||
	    idx_rec_add(&c->rec, path, old, new) < 0)
		return -ENOMEM;
	if (c->defs->n && (err = idx_cu_remember(c, path, new)) < 0)
		return err;
	return ++c->rows >= idx_chunk_rows() ? flush_part(c) : 0;
}

/* A commit dated before its predecessors (clock skew, an outside commit
 * with an old date): every indexed commit keyed by a time above T gets T,
 * so T keys stay the suffix minimum (see history.h). They are the newest
 * entries, so this touches only the commits after the skew. */
static int lower_tail(struct catchup *c, int64_t t)
{
	struct idx_key lo = { 0 }, hi = { 0 }, nk = { 0 };
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	char *e = NULL;
	int err;

	if ((err = flush_part(c)) < 0 ||
	    (err = idx_key_start(&lo, 'T', c->branch)) < 0 ||
	    (err = idx_key_be64(&lo, idx_time_bits(t) + 1)) < 0 ||
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
		    (err = idx_key_be64(&nk, idx_time_bits(t))) < 0 ||
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
		err = idx_cu_flush(c);
out:
	free(lo.p);
	free(hi.p);
	free(nk.p);
	return err;
}

int idx_cu_put_commit(struct catchup *c)
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
	    idx_key_be64(&c->k, idx_time_bits(c->time)) < 0 ||
	    idx_key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	if (put(c, c->k.p, c->k.len, c->commit.id, 20) < 0)
		return -ENOMEM;
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, (uint64_t)c->time);
	if (idx_key_start(&c->k, 'S', c->branch) < 0 ||
	    idx_key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	if (put(c, c->k.p, c->k.len, val, 28) < 0)
		return -ENOMEM;
	store_oid_fmt(hex, &c->commit);
	idx_put_be64(val, c->seq);
	idx_put_be64(val + 8, (uint64_t)c->time);
	if (idx_key_start(&c->k, 'C', c->branch) < 0 ||
	    idx_key_add(&c->k, hex, STORE_OID_HEXSZ) < 0)
		return -ENOMEM;
	if (put(c, c->k.p, c->k.len, val, 16) < 0)
		return -ENOMEM;
	if (!c->rec.odd) {
		/* The version (changes.h); alone, a record of no file. */
		unsigned char none = c->rec.plain ? 1 : 0;

		if (c->rec.v.len)
			c->rec.v.p[0] = none;
		if (idx_rec_key(&c->k, &c->commit) < 0 ||
		    put(c, c->k.p, c->k.len, c->rec.v.len ? c->rec.v.p : &none,
			c->rec.v.len ? c->rec.v.len : 1) < 0)
			return -ENOMEM;
	}
	idx_rec_reset(&c->rec);
	if (c->partial) {
		if (idx_key_start(&c->k, 'W', c->branch) < 0)
			return -ENOMEM;
		rocksdb_writebatch_delete(c->wb, (char *)c->k.p, c->k.len - 1);
		c->partial = false;
	}
	c->hcommit = c->commit;
	c->hseq = c->seq;
	c->head_dirty = true;
	return 0;
}

int idx_cu_flush(struct catchup *c)
{
	unsigned char val[28];
	char *e = NULL;

	if (c->sb.n)
		idx_sortbatch_apply(&c->sb, c->wb);
	/* The head record goes in the same batch as the commit it names
	 * (the last one put whole), once per batch. */
	if (c->head_dirty) {
		memcpy(val, c->hcommit.id, 20);
		idx_put_be64(val + 20, c->hseq);
		if (idx_key_start(&c->k, 'H', c->branch) < 0)
			return -ENOMEM;
		rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len - 1,
				       (char *)val, 28);
		c->head_dirty = false;
	}
	rocksdb_write(c->db->db, c->bulk ? c->db->bulk_wopts : c->db->wopts,
		      c->wb, &e);
	rocksdb_writebatch_clear(c->wb);
	c->rows = 0;
	return e ? idx_rocks_fail(e, "write history") : 0;
}

/* Tell the progress hook, at most every IDX_PROGRESS_S seconds. */
void idx_cu_progress(struct catchup *c, size_t done)
{
	time_t now = time(NULL);

	if (!c->db->progress || c->n < BATCH_COMMITS)
		return;
	if (!c->reported) {
		c->reported = now;
		return;
	}
	if (now - c->reported < IDX_PROGRESS_S && done < c->n)
		return;
	c->reported = now;
	c->db->progress(c->db->progress_ctx, c->branch, done, c->n);
}

/* A repository missing a tree (a lost loose object): the commits are
 * indexed with what can be read, so every other snapshot and history
 * answers; said once per tree, naming the first commit it hurt. */
void idx_cu_missing_tree(struct catchup *c, const struct store_oid *tree)
{
	char t[STORE_OID_HEXSZ + 1], h[STORE_OID_HEXSZ + 1];

	if (!idx_missing_first(c->db, tree))
		return;
	store_oid_fmt(t, tree);
	store_oid_fmt(h, &c->commit);
	idx_log(IDX_LOG_ERROR,
		"index of branch %s: tree %s, needed to index commit %s, is "
		"missing from the repository (git fsck): the commit is "
		"indexed without it, so @history lacks the versions in it",
		c->branch, t, h);
}

void idx_cu_release(struct catchup *c)
{
	if (c->wb)
		rocksdb_writebatch_destroy(c->wb);
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->blobs);
	free(c->deleted);
	free(c->k.p);
	idx_rec_release(&c->rec);
	idx_sortbatch_release(&c->sb);
}

int idx_catchup_locked(struct idx_db *db, struct store *st, const char *branch,
		       uint64_t *added)
{
	struct catchup c = { .db = db, .st = st, .branch = branch };
	struct store_oid head;
	bool cut = false;
	int err;

	err = store_branch_head(st, branch, &head);
	if (err < 0)
		return err;
	err = idx_wip_read(db, branch, &c.wip, &c.wip_seq);
	if (err < 0 && err != -ENOENT)
		return err;
	c.have_wip = err == 0;
	err = idx_head_read(db, branch, &c.stop, &c.stop_seq);
	/* Up to date, but for a commit's rows left unfinished. */
	if (err == 0 && store_oid_equal(&c.stop, &head) && !c.have_wip)
		return 0;
	if (err < 0 && err != -ENOENT)
		return err;
	c.have_stop = err == 0;
	idx_prog_start(db, branch, &head);
	err = idx_chain_index(&c, &head, &cut);
	if (err == 0 && (c.n || cut))
		err = idx_drop_gone(db, st, branch, &head);
	if (err == 0 && added)
		*added = c.n;
	idx_prog_end(db);
	idx_cu_release(&c);
	return err;
}
