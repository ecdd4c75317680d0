/* history.c - what the indexes are built from: the first-parent chain of
 * a branch and the paths each commit changed (a tree diff, not a reparse of
 * whole trees). */
#include <errno.h>
#include <string.h>

#include "store_int.h"

int store_oid_parse(struct store_oid *out, const char *hex)
{
	git_oid o;

	if (strlen(hex) != STORE_OID_HEXSZ || git_oid_fromstr(&o, hex) < 0)
		return store_fail(-EINVAL, "'%s' is not a commit id", hex);
	memcpy(out->id, o.id, STORE_OID_RAWSZ);
	return 0;
}

int store_walk(struct store *st, const struct store_oid *from,
	       store_walk_cb cb, void *ctx)
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
	for (;;) {
		memcpy(o.id, git_commit_id(c)->id, STORE_OID_RAWSZ);
		err = cb(ctx, &o, (int64_t)git_commit_time(c));
		if (err || git_commit_parentcount(c) == 0)
			break;
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

static bool is_blob(const git_diff_file *f)
{
	return f->mode == GIT_FILEMODE_BLOB ||
	       f->mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

int store_diff_parent(struct store *st, const struct store_oid *commit,
		      store_diff_cb cb, void *ctx)
{
	git_diff_options o = GIT_DIFF_OPTIONS_INIT;
	git_commit *c = NULL, *p = NULL;
	git_tree *t = NULL, *pt = NULL;
	git_diff *diff = NULL;
	int err;

	pthread_mutex_lock(&st->lock);
	if ((err = git_commit_lookup(&c, st->repo, store_goid(commit))) < 0 ||
	    (err = git_commit_tree(&t, c)) < 0 ||
	    (git_commit_parentcount(c) > 0 &&
	     ((err = git_commit_parent(&p, c, 0)) < 0 ||
	      (err = git_commit_tree(&pt, p)) < 0)) ||
	    (err = git_diff_tree_to_tree(&diff, st->repo, pt, t, &o)) < 0) {
		err = store_git_fail(err, "diff");
		goto out;
	}
	for (size_t i = 0, n = git_diff_num_deltas(diff); i < n && !err; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		struct store_oid old, new;
		bool has_old = is_blob(&d->old_file) &&
			       d->status != GIT_DELTA_ADDED;
		bool has_new = is_blob(&d->new_file) &&
			       d->status != GIT_DELTA_DELETED;

		memcpy(old.id, d->old_file.id.id, STORE_OID_RAWSZ);
		memcpy(new.id, d->new_file.id.id, STORE_OID_RAWSZ);
		if (!has_old && !has_new)
			continue;
		err = cb(ctx, has_new ? d->new_file.path : d->old_file.path,
			 has_old ? &old : NULL, has_new ? &new : NULL);
	}
out:
	git_diff_free(diff);
	git_tree_free(pt);
	git_tree_free(t);
	git_commit_free(p);
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err;
}
