/* add.c - the indexes of a save's own commit, taken from what the save
 * did (never a catch-up: a save does not wait for one), a branch's
 * indexes dropped, and an ordered index built where it is first used. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catchup_int.h"
#include "history.h"
#include "banned.h"

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

void idx_drop_all(rocksdb_writebatch_t *wb, const char *branch, bool defs)
{
	drop_family(wb, 'H', branch);
	drop_family(wb, 'T', branch);
	drop_family(wb, 'S', branch);
	drop_family(wb, 'C', branch);
	drop_family(wb, 'P', branch);
	drop_family(wb, 'O', branch);
	drop_family(wb, 'R', branch);
	drop_family(wb, 'W', branch);
	if (defs)
		drop_family(wb, 'D', branch);
}

int idx_history_drop(struct idx_db *db, const char *branch)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	char *e = NULL;

	pthread_mutex_lock(&db->catchup_lock);
	idx_drop_all(wb, branch, true);
	rocksdb_write(db->db, db->wopts, wb, &e);
	idx_defs_forget(db);
	idx_catchup_unlock(db);
	rocksdb_writebatch_destroy(wb);
	return e ? idx_rocks_fail(e, "drop history") : 0;
}

/* Ordered indexes of collections the head no longer has (deleted with
 * all their documents, renamed away): dropped, so no save keeps them and
 * no listing shows them with 0 rows. */
int idx_drop_gone(struct idx_db *db, struct store *st, const char *branch,
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

/* idx_history_add(_changes); DOCS: only the documents among CH. */
static int add_changes(struct idx_db *db, struct store *st, const char *branch,
		       const struct store_oid *commit,
		       const struct store_oid *parent, int64_t time,
		       const struct idx_change *ch, size_t n, bool complete,
		       bool plain, const struct idx_mtime *mtime, bool docs)
{
	struct catchup c = { .db = db, .st = st, .branch = branch };
	struct store_oid head;
	uint64_t seq;
	/* The mtime goes with the first path's new content. */
	bool timed = mtime && n && !ch[0].deleted, gone = false;
	int err;

	if (db->readonly)
		return 0;
	/* A catch-up is running, or the indexes are behind (an outside
	 * commit, a branch moved back): the commit's maker does not wait,
	 * nor catch up; a catch-up from Git indexes its commit (1 says one
	 * is due). Its mtime is kept now. So under the owner's reservation
	 * (the mount's first indexing) too: one commit on the indexed head
	 * is no catch-up, and anything more is left to the background. */
	if (pthread_mutex_trylock(&db->catchup_lock) != 0)
		goto behind;
	err = idx_head_read(db, branch, &head, &seq);
	if (err < 0 || !store_oid_equal(&head, parent)) {
		idx_catchup_unlock(db);
		store_error_clear();
		goto behind;
	}
	c.wb = rocksdb_writebatch_create();
	c.have_last = idx_seq_read(db, branch, seq, NULL, &c.last_time) == 0;
	if ((err = idx_defs_get(db, branch, &c.defs)) < 0)
		goto out;
	c.commit = *commit;
	c.time = time;
	c.seq = seq + 1;
	c.rec.odd = !complete;
	c.rec.plain = plain;
	for (size_t i = 0; i < n && err == 0; i++) {
		if (docs && !store_is_document_path(ch[i].path)) {
			c.rec.odd = true; /* a file the record would miss */
			continue;
		}
		gone |= ch[i].deleted;
		err = idx_cu_put_path(&c, ch[i].path,
				      ch[i].had ? &ch[i].old : NULL,
				      ch[i].deleted ? NULL : &ch[i].blob);
	}
	if (err == 0)
		err = idx_cu_apply_orders(&c);
	if (err == 0)
		err = idx_cu_put_commit(&c);
	if (err == 0 && timed)
		err = idx_mtime_put(c.wb, branch, ch[0].path, ch[0].blob.id,
				    mtime);
	if (err == 0)
		err = idx_cu_flush(&c);
	/* A deletion may have taken a collection's last document. */
	if (err == 0 && c.defs->n && gone)
		err = idx_drop_gone(db, st, branch, commit);
out:
	idx_cu_release(&c);
	idx_catchup_unlock(db);
	return err;
behind:
	err = timed ? idx_mtime_set(db, branch, ch[0].path, ch[0].blob.id,
				    mtime) :
		      0;
	return err < 0 ? err : 1;
}

int idx_history_add_changes(struct idx_db *db, struct store *st,
			    const char *branch, const struct store_oid *commit,
			    const struct store_oid *parent, int64_t time,
			    const struct idx_change *ch, size_t n,
			    bool complete, bool plain,
			    const struct idx_mtime *mtime)
{
	return add_changes(db, st, branch, commit, parent, time, ch, n,
			   complete, plain, mtime, false);
}

int idx_history_add(struct idx_db *db, struct store *st, const char *branch,
		    const struct store_commit_info *info,
		    const struct idx_mtime *mtime)
{
	struct idx_change ch[2];

	for (size_t i = 0; i < info->n && i < 2; i++)
		ch[i] = (struct idx_change){ info->paths[i].path,
					     info->paths[i].deleted,
					     info->paths[i].blob,
					     info->paths[i].had,
					     info->paths[i].old };
	return add_changes(db, st, branch, &info->commit, &info->parent,
			   info->time, ch, info->n < 2 ? info->n : 2,
			   info->n <= 2 && !info->odd, true, mtime, true);
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
