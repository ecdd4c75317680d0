/* catchup.c - bringing a branch's indexes up to its head: the time and
 * path-history indexes and every ordered index defined on the branch, in
 * one write batch per group of commits (a walk back to the newest indexed
 * commit, then one tree diff per new commit; a branch moved back or onto
 * another line is first cut back to the newest commit both lines share,
 * rewind.c). A save's own commit is add.c's; reading them is history.c's
 * and order.c's; row upkeep order_maint.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catchup_int.h"
#include "history.h"
#include "banned.h"

#define BATCH_COMMITS 1024

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

/* Is COMMIT on the indexed chain? 1 with its *seq if its 'C' record
 * says so, else 0. */
static int indexed_seq(struct catchup *c, const struct store_oid *commit,
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

/* The walk back from the head stops at the first indexed commit: the
 * indexed head, or (the branch moved back or onto another line) the
 * newest commit the two chains share. */
static int collect(void *ctx, const struct store_oid *commit, int64_t time)
{
	struct catchup *c = ctx;
	uint64_t seq = c->stop_seq;
	int rc = 0;

	if (c->have_stop && !store_oid_equal(commit, &c->stop) &&
	    (rc = indexed_seq(c, commit, &seq)) < 0)
		return rc;
	if (c->have_stop && (rc || store_oid_equal(commit, &c->stop)) &&
	    seq <= c->stop_seq) {
		c->found = true;
		c->base = *commit;
		c->base_seq = seq + 1;
		return 1;
	}
	if (c->n % BATCH_COMMITS == 0 && atomic_load(&c->db->cancel))
		return idx_fail(-ECANCELED, "index of %s: stopped", c->branch);
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

int idx_cu_put_path(void *ctx, const char *path, const struct store_oid *old,
		    const struct store_oid *new)
{
	struct catchup *c = ctx;
	unsigned char val[48] = { 0 };

	if (idx_key_start(&c->k, 'P', c->branch) < 0 ||
	    idx_key_add(&c->k, path, strlen(path) + 1) < 0 ||
	    idx_key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	memcpy(val, c->commit.id, 20);
	idx_put_be64(val + 20, (uint64_t)c->time);
	if (new)
		memcpy(val + 28, new->id, 20);
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len, (char *)val,
			       sizeof(val));
	return c->defs->n ? idx_cu_remember(c, path, new) : 0;
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

	if ((err = idx_cu_flush(c)) < 0 ||
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
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len - 1, (char *)val,
			       28);
	return 0;
}

int idx_cu_flush(struct catchup *c)
{
	char *e = NULL;

	rocksdb_write(c->db->db, c->db->wopts, c->wb, &e);
	rocksdb_writebatch_clear(c->wb);
	return e ? idx_rocks_fail(e, "write history") : 0;
}

/* Tell the progress hook, at most every IDX_PROGRESS_S seconds. */
static void progress(struct catchup *c, size_t done)
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
static void missing_tree(struct catchup *c, const struct store_oid *tree)
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

static int index_new(struct catchup *c)
{
	struct store_missing miss;
	int err = 0;

	for (size_t i = c->n; i-- > 0 && err == 0;) {
		c->commit = c->v[i];
		c->time = c->times[i];
		c->seq = c->base_seq + (c->n - 1 - i);
		err = store_diff_parent(c->st, &c->commit, idx_cu_put_path, c,
					&miss);
		if (err == 0 && miss.any)
			missing_tree(c, &miss.id);
		if (err == 0)
			err = idx_cu_apply_orders(c);
		if (err == 0)
			err = idx_cu_put_commit(c);
		/* With ordered indexes, one batch per commit: a row changed
		 * twice must see its first change (see order_int.h). */
		if (err == 0 && (c->defs->n || i % BATCH_COMMITS == 0)) {
			err = idx_cu_flush(c);
			progress(c, c->n - i);
		}
		/* Stopped (an unmount): what is flushed, head record
		 * included, is where the next catch-up goes on. */
		if (err == 0 && i % BATCH_COMMITS == 0 &&
		    atomic_load(&c->db->cancel))
			err = idx_fail(-ECANCELED, "index of %s: stopped",
				       c->branch);
	}
	return err;
}

void idx_db_cancel(struct idx_db *db)
{
	if (db)
		atomic_store(&db->cancel, true);
}

void idx_db_set_progress(struct idx_db *db, idx_progress_fn fn, void *ctx)
{
	db->progress = fn;
	db->progress_ctx = ctx;
}

int idx_lock_bounded(struct idx_db *db, const char *branch)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += IDX_CATCHUP_WAIT_S;
	if (pthread_mutex_timedlock(&db->catchup_lock, &until) == 0)
		return 0;
	return idx_fail(-EAGAIN,
			"index of %s: still being built after "
			"%d s (a long history's first indexing); try again",
			branch, IDX_CATCHUP_WAIT_S);
}

int idx_history_catchup(struct idx_db *db, struct store *st, const char *branch,
			uint64_t *added)
{
	int err;

	if (added)
		*added = 0;
	if (db->readonly)
		return 0; /* the process holding the database catches up */
	if ((err = idx_lock_bounded(db, branch)) < 0)
		return err;
	err = idx_catchup_locked(db, st, branch, added);
	pthread_mutex_unlock(&db->catchup_lock);
	return err;
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
	free(c->v);
	free(c->times);
}

/* Cut back to the shared commit (rewind.c) where that costs less than
 * indexing the new chain from its root; else, or if it fails (a commit
 * cut away is gone from Git), 0 with C reset for a walk from the root. */
static int cut_back(struct catchup *c, const struct store_oid *head, bool *cut)
{
	uint64_t cuts = c->stop_seq - (c->base_seq - 1);
	int err = -ERANGE;

	*cut = false;
	if (cuts <= c->base_seq + c->n) {
		err = idx_rewind(c);
		if (err == 0)
			err = idx_cu_flush(c);
	}
	if (err == 0 || err == -ECANCELED) {
		*cut = err == 0;
		return err;
	}
	rocksdb_writebatch_clear(c->wb);
	store_error_clear();
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	c->npaths = 0;
	c->n = 0;
	c->found = c->have_stop = false;
	c->base_seq = 0;
	return store_walk(c->st, head, collect, c);
}

int idx_catchup_locked(struct idx_db *db, struct store *st, const char *branch,
		       uint64_t *added)
{
	struct catchup c = { .db = db, .st = st, .branch = branch };
	struct store_oid head;
	bool was_indexed, cut = false;
	int err;

	err = store_branch_head(st, branch, &head);
	if (err < 0)
		return err;
	err = idx_head_read(db, branch, &c.stop, &c.stop_seq);
	if (err == 0 && store_oid_equal(&c.stop, &head))
		goto out;
	if (err < 0 && err != -ENOENT)
		goto out;
	was_indexed = c.have_stop = err == 0;
	err = store_walk(st, &head, collect, &c);
	if (err < 0)
		goto out;
	c.wb = rocksdb_writebatch_create();
	if ((err = idx_defs_get(db, branch, &c.defs)) < 0)
		goto out;
	/* Moved back, or onto another line that forked from the indexed
	 * one: the commits after the fork go, the new ones are added. */
	if (c.found && !store_oid_equal(&c.base, &c.stop) &&
	    (err = cut_back(&c, &head, &cut)) < 0)
		goto out;
	if (c.found) {
		c.have_last = idx_seq_read(db, branch, c.base_seq - 1, NULL,
					   &c.last_time) == 0;
	} else if (was_indexed) {
		/* No commit in common (an unrelated history), or cheaper
		 * so: index it again from the root (the ordered indexes
		 * too, from the root commit's diff on). */
		idx_drop_all(c.wb, branch, false);
		if ((err = idx_cu_flush(&c)) < 0)
			goto out;
	}
	err = index_new(&c);
	if (err == 0)
		err = idx_cu_flush(&c);
	if (err == 0 && (c.n || cut))
		err = idx_drop_gone(db, st, branch, &head);
	if (err == 0 && added)
		*added = c.n;
out:
	idx_cu_release(&c);
	return err;
}
