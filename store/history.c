/* history.c - what the indexes are built from: the first-parent chain of
 * a branch and the paths each commit changed (a tree diff, not a reparse of
 * whole trees). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "treemerge.h"
#include "banned.h"

int store_oid_parse(struct store_oid *out, const char *hex)
{
	git_oid o;

	if (strlen(hex) != STORE_OID_HEXSZ || git_oid_fromstr(&o, hex) < 0)
		return store_fail(-EINVAL, "'%s' is not a commit id", hex);
	memcpy(out->id, o.id, STORE_OID_RAWSZ);
	return 0;
}

#define WALK_TURN 256

int store_walk(struct store *st, const struct store_oid *from, store_walk_cb cb,
	       void *ctx)
{
	git_commit *c = NULL, *parent;
	struct store_oid o;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(from));
	if (err < 0) {
		err = store_git_fail(err, "commit");
		goto out;
	}
	for (size_t n = 1;; n++) {
		memcpy(o.id, git_commit_id(c)->id, STORE_OID_RAWSZ);
		err = cb(ctx, &o, (int64_t)git_commit_time(c));
		if (err || git_commit_parentcount(c) == 0)
			break;
		/* A long walk (an index catch-up, in the background) lets
		 * saves in now and then: the commit held is ours. */
		if (n % WALK_TURN == 0) {
			pthread_mutex_unlock(&st->lock);
			pthread_mutex_lock(&st->lock);
		}
		err = git_commit_parent(&parent, c, 0);
		if (err < 0) {
			err = store_git_fail(err, "parent commit");
			break;
		}
		git_commit_free(c);
		c = parent;
	}
out:
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err;
}

static bool is_blob(unsigned mode)
{
	return mode == GIT_FILEMODE_BLOB ||
	       mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

/* The engine's tree diff (treemerge.c): logical paths, the fanout marker
 * left out, a reshard's moves seen as the same path, and equal subtrees
 * and buckets skipped unread, so a commit's cost follows what it changed
 * (libgit2's diff read every bucket of a fanout collection: ~13 ms per
 * commit at 100,000 documents, which a fetch of many commits pays once
 * per commit at catch-up). */
/* The entries of D to CB; 0 at the end, else CB's return or -errno. */
static int diff_each(struct store_tdiff *d, int err, store_diff_cb cb,
		     void *ctx)
{
	const struct store_tdiff_entry *e;
	int rc = 0;

	while (err == 0 && (err = store_tdiff_next(d, &e)) == 0) {
		bool has_old = e->op != STORE_TDIFF_ADD && is_blob(e->old_mode);
		bool has_new = e->op != STORE_TDIFF_DELETE &&
			       is_blob(e->new_mode);

		if (!has_old && !has_new)
			continue;
		if (has_old && has_new &&
		    store_oid_equal(&e->old_blob, &e->new_blob))
			continue; /* a mode change only */
		rc = cb(ctx, e->path, has_old ? &e->old_blob : NULL,
			has_new ? &e->new_blob : NULL);
		if (rc)
			break;
	}
	store_tdiff_free(d);
	return rc ? rc : err == 1 ? 0 : err;
}

int store_diff_parent(struct store *st, const struct store_oid *commit,
		      store_diff_cb cb, void *ctx,
		      struct store_missing *missing)
{
	struct store_tdiff *d = NULL;
	struct store_oid parent;
	git_commit *c = NULL;
	bool has_parent = false;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(commit));
	if (err == 0 && (has_parent = git_commit_parentcount(c) > 0))
		memcpy(parent.id, git_commit_parent_id(c, 0)->id,
		       STORE_OID_RAWSZ);
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	if (err < 0)
		return store_git_fail(err, "diff");
	if (missing) {
		err = store_tdiff_partial(&d, st, has_parent ? &parent : NULL,
					  commit);
		missing->any = err == 0 && store_tdiff_missing(d, &missing->id);
	} else {
		err = store_tdiff_new(&d, st, has_parent ? &parent : NULL,
				      commit, NULL);
	}
	return diff_each(d, err, cb, ctx);
}

int store_diff_commits(struct store *st, const struct store_oid *from,
		       const struct store_oid *to, store_diff_cb cb, void *ctx)
{
	struct store_tdiff *d = NULL;
	int err = store_tdiff_new(&d, st, from, to, NULL);

	return diff_each(d, err, cb, ctx);
}
