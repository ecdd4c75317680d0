/* catchup.c - bringing a branch's indexes up to its head: the records
 * each new commit adds to the time and path-history indexes and to every
 * ordered index defined on the branch (the walk of the new commits, one
 * tree diff each, is chainidx.c's; who runs a catch-up, and lookups
 * beside it, wait.c's), a save's own commit from what the save did,
 * building an ordered index where it is first used, and dropping a
 * branch's indexes. Reading them is history.c's and order.c's; row
 * upkeep order_maint.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catchup_int.h"
#include "banned.h"

static int drop_gone(struct idx_db *db, struct store *st, const char *branch,
		     const struct store_oid *head);

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

int idx_catchup_apply_orders(struct catchup *c)
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

/* From its 'S' record. */
int idx_catchup_read_time(struct idx_db *db, const char *branch, uint64_t seq,
			  int64_t *out)
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
	if (err == 0)
		*out = (int64_t)idx_get_be64((unsigned char *)val + 20);
	rocksdb_free(val);
	return err;
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

int idx_catchup_put_path(void *ctx, const char *path,
			 const struct store_oid *old,
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
	if (put(c, c->k.p, c->k.len, val, sizeof(val)) < 0)
		return -ENOMEM;
	return c->defs->n ? remember(c, path, new) : 0;
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

	if ((err = idx_catchup_flush(c)) < 0 ||
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
		err = idx_catchup_flush(c);
out:
	free(lo.p);
	free(hi.p);
	free(nk.p);
	return err;
}

int idx_catchup_put_commit(struct catchup *c)
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
	c->head_dirty = true;
	return 0;
}

int idx_catchup_flush(struct catchup *c)
{
	unsigned char val[28];
	char *e = NULL;

	if (c->sb.n)
		idx_sortbatch_apply(&c->sb, c->wb);
	/* The head record goes in the same batch as the commit it names
	 * (the last one put), once per batch. */
	if (c->head_dirty) {
		memcpy(val, c->commit.id, 20);
		idx_put_be64(val + 20, c->seq);
		if (idx_key_start(&c->k, 'H', c->branch) < 0)
			return -ENOMEM;
		rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len - 1,
				       (char *)val, 28);
		c->head_dirty = false;
	}
	rocksdb_write(c->db->db, c->bulk ? c->db->bulk_wopts : c->db->wopts,
		      c->wb, &e);
	rocksdb_writebatch_clear(c->wb);
	return e ? idx_rocks_fail(e, "write history") : 0;
}

/* Delete every key of FAMILY for BRANCH. */
static void drop_family(rocksdb_writebatch_t *wb, char family,
			const char *branch)
{
	struct idx_key lo = { 0 }, hi = { 0 };

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
void idx_catchup_drop_all(rocksdb_writebatch_t *wb, const char *branch,
			  bool defs)
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
	idx_catchup_drop_all(wb, branch, true);
	rocksdb_write(db->db, db->wopts, wb, &e);
	idx_defs_forget(db);
	idx_catchup_unlock(db);
	rocksdb_writebatch_destroy(wb);
	return e ? idx_rocks_fail(e, "drop history") : 0;
}

void idx_catchup_progress(struct catchup *c, size_t done)
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

/* Ordered indexes of collections the head no longer has (deleted with
 * all their documents, renamed away): dropped, so no save keeps them and
 * no listing shows them with 0 rows. Caller holds db->catchup_lock. */
static int drop_gone(struct idx_db *db, struct store *st, const char *branch,
		     const struct store_oid *head)
{
	const struct idx_defs *defs;
	struct store_entry e;
	int err = idx_defs_get(db, branch, &defs);
	char **gone = NULL;
	size_t n = 0;

	for (size_t i = 0; err == 0 && i < defs->n; i++) {
		const char *coll = defs->v[i].collection;
		char **v;

		if (!*coll || store_stat(st, head, coll, &e) == 0)
			continue;
		store_error_clear();
		if (!(v = realloc(gone, (n + 2) * sizeof(*v)))) {
			err = -ENOMEM;
			break;
		}
		gone = v;
		gone[n] = strdup(coll);
		gone[n + 1] = strdup(defs->v[i].spec.canon);
		n += 2;
		if (!gone[n - 2] || !gone[n - 1])
			err = -ENOMEM;
	}
	/* Collected first: a drop forgets the definitions iterated. */
	for (size_t i = 0; i < n; i += 2) {
		if (err == 0 && gone[i] && gone[i + 1])
			err = idx_order_drop_locked(db, branch, gone[i],
						    gone[i + 1]);
		free(gone[i]);
		free(gone[i + 1]);
	}
	free(gone);
	return err;
}

void idx_catchup_release(struct catchup *c)
{
	if (c->wb)
		rocksdb_writebatch_destroy(c->wb);
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->blobs);
	free(c->deleted);
	free(c->k.p);
	idx_sortbatch_release(&c->sb);
}

int idx_history_add(struct idx_db *db, struct store *st, const char *branch,
		    const struct store_commit_info *info,
		    const struct idx_mtime *mtime)
{
	struct catchup c = { .db = db, .st = st, .branch = branch };
	struct store_oid head;
	uint64_t seq;
	/* The mtime goes with the first path's new content. */
	bool timed = mtime && info->n && !info->paths[0].deleted;
	int err;

	if (db->readonly)
		return 0;
	/* A catch-up is running (a long history being indexed): the save
	 * does not wait; that catch-up, or the next, indexes its commit
	 * from Git. Its mtime is kept now. */
	if (pthread_mutex_trylock(&db->catchup_lock) != 0)
		return timed ? idx_mtime_set(db, branch, info->paths[0].path,
					     info->paths[0].blob.id, mtime) :
			       0;
	err = idx_head_read(db, branch, &head, &seq);
	if (err < 0 || !store_oid_equal(&head, &info->parent)) {
		/* Others committed since the index: catch up from Git,
		 * unless that is the owner's indexer's long work. */
		if (idx_prog_reserved(db)) {
			err = 0;
			goto out;
		}
		err = idx_catchup_locked(db, st, branch, NULL);
		if (err == 0 && timed)
			err = idx_mtime_set(db, branch, info->paths[0].path,
					    info->paths[0].blob.id, mtime);
		goto out;
	}
	c.wb = rocksdb_writebatch_create();
	c.have_last = idx_catchup_read_time(db, branch, seq, &c.last_time) == 0;
	if ((err = idx_defs_get(db, branch, &c.defs)) < 0)
		goto out;
	c.commit = info->commit;
	c.time = info->time;
	c.seq = seq + 1;
	for (size_t i = 0; i < info->n && err == 0; i++)
		if (store_is_document_path(info->paths[i].path))
			err = idx_catchup_put_path(
				&c, info->paths[i].path, NULL,
				info->paths[i].deleted ? NULL :
							 &info->paths[i].blob);
	if (err == 0)
		err = idx_catchup_apply_orders(&c);
	if (err == 0)
		err = idx_catchup_put_commit(&c);
	if (err == 0 && timed)
		err = idx_mtime_put(c.wb, branch, info->paths[0].path,
				    info->paths[0].blob.id, mtime);
	if (err == 0)
		err = idx_catchup_flush(&c);
	/* A deletion may have taken a collection's last document. */
	if (err == 0 && c.defs->n && info->n && info->paths[0].deleted)
		err = drop_gone(db, st, branch, &info->commit);
out:
	idx_catchup_release(&c);
	idx_catchup_unlock(db);
	return err;
}

int idx_catchup_locked(struct idx_db *db, struct store *st, const char *branch,
		       uint64_t *added)
{
	struct catchup c = { .db = db, .st = st, .branch = branch };
	struct store_oid head;
	uint64_t seq = 0;
	int err;

	err = store_branch_head(st, branch, &head);
	if (err < 0)
		return err;
	err = idx_head_read(db, branch, &c.stop, &seq);
	if (err == 0 && store_oid_equal(&c.stop, &head))
		return 0;
	if (err < 0 && err != -ENOENT)
		return err;
	c.have_stop = err == 0;
	idx_prog_start(db, branch, &head);
	err = idx_chain_index(&c, &head, seq);
	if (err == 0 && c.n)
		err = drop_gone(db, st, branch, &head);
	if (err == 0 && added)
		*added = c.n;
	idx_prog_end(db);
	idx_catchup_release(&c);
	return err;
}

int idx_order_ensure(struct idx_db *db, struct store *st, const char *branch,
		     const char *collection, const struct idx_spec *spec,
		     bool *built)
{
	struct idx_key dk = { 0 };
	struct store_oid head;
	rocksdb_writebatch_t *wb = NULL;
	uint64_t seq;
	char *val, *e = NULL;
	size_t vlen;
	int err;

	*built = false;
	if (db->readonly)
		return 0;
	if ((err = idx_catchup_lock_fg(db, branch)) < 0)
		return err;
	if ((err = idx_catchup_locked(db, st, branch, NULL)) < 0 ||
	    (err = idx_order_prefix(&dk, 'D', branch, collection, spec->canon,
				    false)) < 0)
		goto out;
	val = rocksdb_get(db->db, db->ropts, (char *)dk.p, dk.len, &vlen, &e);
	if (e) {
		err = idx_rocks_fail(e, "get index");
		goto out;
	}
	rocksdb_free(val);
	if (val)
		goto out;
	/* Built from the head the history indexes reflect, under the same
	 * lock, so later catch-ups continue from exactly there. */
	if ((err = idx_head_read(db, branch, &head, &seq)) < 0)
		goto out;
	wb = rocksdb_writebatch_create();
	err = idx_order_build(db, st, wb, branch, &head, collection, spec);
	if (err == 0) {
		rocksdb_write(db->db, db->wopts, wb, &e);
		if (e)
			err = idx_rocks_fail(e, "write index");
		else
			*built = true;
		idx_defs_forget(db);
	}
out:
	idx_catchup_unlock(db);
	if (wb)
		rocksdb_writebatch_destroy(wb);
	free(dk.p);
	return err;
}
