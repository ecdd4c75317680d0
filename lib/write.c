/* write.c - the save sequence, written once: path rule, size limit,
 * validation, then one commit (blob, trees, commit, ref compare-and-swap)
 * and its indexes and mtime in one step. The daemon's saves, deletions
 * and renames and the public put/delete/rename all come here. */
#include <stdio.h>
#include <time.h>

#include "history.h"
#include "json.h"
#include "lib_int.h"
#include "banned.h"

/* Components a tree may hold at all: not empty, not "." or "..", the
 * path not absolute (for deletions and renames of what others made). */
static int path_sane(const char *path)
{
	const char *p = path;

	if (!*path || *path == '/')
		return store_fail(-EINVAL, "'%s': not a path in a branch",
				  path);
	for (;;) {
		size_t len = strcspn(p, "/");

		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return store_fail(-EINVAL,
					  "%s: empty, '.' or '..' "
					  "component",
					  path);
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* A commit is made; its indexes failing loses nothing (the next catch-up
 * starts from what the index holds), so it is logged, not returned.
 * Where the indexes are behind, the owner's catch-up thread brings them
 * up (a save does not wait for it); a guest's next read that needs them
 * does. */
static void index_commit(chronofs *db, const char *branch,
			 const struct store_commit_info *info,
			 const struct idx_mtime *mtime)
{
	struct idx_db *idx;
	char msg[1200];
	int rc;

	/* Saves of one group come back together: each commit is indexed
	 * after its parent, or it would find the indexes behind and leave
	 * them to a catch-up from Git (with four writers, a third of the
	 * daemon's time). */
	store_turn_wait(db->st, info);
	rc = lib_index_get(db, &idx);
	if (rc == 0 && idx) {
		rc = idx_history_add(idx, db->st, branch, info, mtime);
		if (rc > 0 && db->owner)
			rc = idx_history_catchup_later(idx, db->st, branch);
	}
	store_turn_done(db->st, info);
	if (rc >= 0 && idx) {
		lib_index_put(db, idx);
		store_error_clear();
		return;
	}
	lib_index_put(db, idx);
	if (db->log) {
		snprintf(msg, sizeof(msg), "index of branch %s: %s", branch,
			 store_errmsg());
		db->log(msg);
	}
	store_error_clear(); /* the call itself succeeded */
}

void lib_index_catchup(chronofs *db, const char *branch)
{
	struct idx_db *idx;
	char msg[1200];

	/* The owner's catch-up thread brings the branch up (the commit's
	 * maker does not wait for it); a guest catches up now unless a
	 * catch-up runs (then that one or the next takes its commit). */
	if (lib_index_get(db, &idx) == 0 && idx &&
	    (db->owner ? idx_history_catchup_later(idx, db->st, branch) :
			 idx_history_catchup_nowait(idx, db->st, branch)) < 0 &&
	    db->log) {
		snprintf(msg, sizeof(msg), "index of branch %s: %s", branch,
			 store_errmsg());
		db->log(msg);
	}
	lib_index_put(db, idx);
	store_error_clear();
}

struct moved_ctx {
	chronofs *db;
	const char *branch;
	const struct idx_mtime *mtime;
};

static void moved(void *ctx, const struct store_commit_info *info)
{
	struct moved_ctx *m = ctx;

	index_commit(m->db, m->branch, info, m->mtime);
}

int lib_apply(chronofs *db, const char *branch, const struct store_change *c,
	      const struct idx_mtime *mtime, struct store_oid *out)
{
	struct moved_ctx m = { db, branch, mtime };
	/* The commit is indexed as soon as it is on the branch, while its
	 * ref's directory is flushed (moved is called for every commit
	 * made, before store_apply_info returns). */
	struct store_commit_info info = { .moved = moved, .moved_ctx = &m };
	int rc = store_apply_info(db->st, branch, c, &info);

	if (rc < 0)
		return lib_fail(rc, c->path);
	/* Lookups on the way fail as a matter of course (a new document
	 * is not found): what they said is no message of this call. */
	store_error_clear();
	if (rc > 0)
		return 1;
	if (out)
		*out = info.commit;
	return 0;
}

int cfs_save(chronofs *db, const char *branch, const char *path,
	     const char *buf, size_t len, const struct cfs_mtime *mtime,
	     struct cfs_oid *commit)
{
	struct store_change c = {
		.op = STORE_PUT, .path = path, .data = buf, .len = len
	};
	struct store_json_error e;
	struct store_oid out, blob;
	struct idx_mtime t;
	struct timespec now;
	struct idx_db *idx;
	int rc, err;

	lib_enter();
	if ((err = cfs_path_check(path)) < 0)
		return err;
	if (len > db->max_doc_size)
		return store_fail(-EFBIG,
				  "%s: %zu bytes is over max_doc_size "
				  "%zu",
				  path, len, db->max_doc_size);
	if (store_json_validate(buf, len, &e) < 0)
		return store_fail(-EINVAL,
				  "%s: invalid JSON at line %u, "
				  "column %u: %s",
				  path, e.line, e.column, e.reason);
	/* A save's mtime is the client's, or now, recorded with the
	 * commit's indexes in one write. */
	if (mtime) {
		t.sec = mtime->sec;
		t.nsec = mtime->nsec;
	} else {
		clock_gettime(CLOCK_REALTIME, &now);
		t.sec = now.tv_sec;
		t.nsec = (uint32_t)now.tv_nsec;
	}
	rc = lib_apply(db, branch, &c, &t, &out);
	if (rc == 0 && commit)
		*commit = lib_coid(&out);
	/* Identical bytes make no commit, but a time the client set is
	 * still kept. */
	if (rc == 1 && mtime && store_blob_hash(buf, len, &blob) == 0 &&
	    lib_index_get(db, &idx) == 0 && idx) {
		if (idx_mtime_set(idx, branch, path, blob.id, &t) < 0 &&
		    db->log)
			db->log(store_errmsg());
		store_error_clear();
		lib_index_put(db, idx);
	}
	return rc;
}

int cfs_delete(chronofs *db, const char *branch, const char *path,
	       struct cfs_oid *commit)
{
	struct store_change c = { .op = STORE_DELETE, .path = path };
	struct store_oid out;
	int rc;

	lib_enter();
	if ((rc = path_sane(path)) < 0)
		return rc;
	rc = lib_apply(db, branch, &c, NULL, &out);
	if (rc == 0 && commit)
		*commit = lib_coid(&out);
	return rc;
}

int cfs_rename(chronofs *db, const char *branch, const char *from,
	       const char *to, struct cfs_oid *commit)
{
	struct store_change c = { .op = STORE_RENAME, .path = from, .to = to };
	struct store_entry e = { 0 };
	struct store_oid head, out;
	struct idx_mtime t;
	struct idx_db *idx;
	bool timed = false;
	int rc;

	lib_enter();
	if ((rc = path_sane(from)) < 0 || (rc = cfs_path_check(to)) < 0)
		return rc;
	/* The mtime a document had moves with it. */
	if (store_branch_head(db->st, branch, &head) == 0 &&
	    store_stat(db->st, &head, from, &e) == 0 && e.kind == STORE_DOC &&
	    lib_index_get(db, &idx) == 0 && idx) {
		timed = idx_mtime_get(idx, branch, from, e.oid.id, &t) == 0;
		lib_index_put(db, idx);
	}
	store_error_clear();
	rc = lib_apply(db, branch, &c, NULL, &out);
	if (rc == 0 && commit)
		*commit = lib_coid(&out);
	if (rc == 0 && timed && lib_index_get(db, &idx) == 0 && idx) {
		idx_mtime_set(idx, branch, to, e.oid.id, &t);
		lib_index_put(db, idx);
		store_error_clear(); /* a lost mtime fails nothing */
	}
	return rc;
}

static void commit_hex(char out[CHRONOFS_COMMIT_HEXSZ + 1], int rc,
		       const struct cfs_oid *commit)
{
	if (!out)
		return;
	if (rc == 0)
		cfs_oid_fmt(out, commit);
	else
		out[0] = '\0';
}

/* The public calls: 0 whether or not a commit was made ("" then). */
int chronofs_put(chronofs *db, const char *branch, const char *path,
		 const char *json, size_t len,
		 char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct cfs_oid c;
	int rc = cfs_save(db, branch, path, json, len, NULL, &c);

	commit_hex(commit, rc, &c);
	return rc < 0 ? rc : 0;
}

int chronofs_delete(chronofs *db, const char *branch, const char *path,
		    char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct cfs_oid c;
	int rc = cfs_delete(db, branch, path, &c);

	commit_hex(commit, rc, &c);
	return rc < 0 ? rc : 0;
}

int chronofs_rename(chronofs *db, const char *branch, const char *from,
		    const char *to, char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct cfs_oid c;
	int rc = cfs_rename(db, branch, from, to, &c);

	commit_hex(commit, rc, &c);
	return rc < 0 ? rc : 0;
}

int cfs_mtime_get(chronofs *db, const char *branch, const char *path,
		  const struct cfs_oid *blob, struct cfs_mtime *out)
{
	struct idx_mtime t;
	struct idx_db *idx;
	int err;

	lib_enter();
	if ((err = lib_index_get(db, &idx)) < 0 || !idx)
		return err < 0 ? err : -ENOENT;
	err = idx_mtime_get(idx, branch, path, blob->id, &t);
	lib_index_put(db, idx);
	if (err == 0) {
		out->sec = t.sec;
		out->nsec = t.nsec;
	}
	return err;
}

int cfs_mtime_set(chronofs *db, const char *branch, const char *path,
		  const struct cfs_oid *blob, const struct cfs_mtime *t)
{
	struct idx_mtime m = { .sec = t->sec, .nsec = t->nsec };
	struct idx_db *idx;
	int err;

	lib_enter();
	if ((err = lib_index_get(db, &idx)) < 0 || !idx)
		return err < 0 ? err : -EIO;
	err = idx_mtime_set(idx, branch, path, blob->id, &m);
	lib_index_put(db, idx);
	return err < 0 ? lib_fail(err, path) : 0;
}
