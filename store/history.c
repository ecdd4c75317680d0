/* history.c - what the indexes are built from: the first-parent chain of
 * a branch and the paths each commit changed (a tree diff, not a reparse of
 * whole trees). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

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

/* One changed file, at its logical path. */
struct change {
	char *path;
	bool has_old, has_new;
	struct store_oid old, new;
};

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->path,
		      ((const struct change *)b)->path);
}

/* The diff's files at their logical paths, a file moved between a flat
 * and a fanout layout (a reshard) merged into one change, or none if its
 * bytes did not change. */
static int report(struct store *st, git_diff *diff, git_tree *old_tree,
		  git_tree *new_tree, store_diff_cb cb, void *ctx)
{
	size_t n = git_diff_num_deltas(diff), k = 0;
	struct change *v = calloc(n ? n : 1, sizeof(*v));
	int err = v ? 0 : -ENOMEM;

	for (size_t i = 0; i < n && err == 0; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		bool has_old = is_blob(&d->old_file) &&
			       d->status != GIT_DELTA_ADDED;
		bool has_new = is_blob(&d->new_file) &&
			       d->status != GIT_DELTA_DELETED;
		int rc;

		if (!has_old && !has_new)
			continue;
		rc = has_new ? store_layout_logical(st, new_tree,
						     d->new_file.path,
						     &v[k].path)
			     : store_layout_logical(st, old_tree,
						     d->old_file.path,
						     &v[k].path);
		if (rc == 1)
			continue; /* the fanout marker */
		if ((err = rc) < 0)
			break;
		v[k].has_old = has_old;
		v[k].has_new = has_new;
		memcpy(v[k].old.id, d->old_file.id.id, STORE_OID_RAWSZ);
		memcpy(v[k].new.id, d->new_file.id.id, STORE_OID_RAWSZ);
		k++;
	}
	qsort(v, k, sizeof(*v), cmp_change);
	for (size_t i = 0; i < k && err == 0; i++) {
		struct change c = v[i];

		while (i + 1 < k && !strcmp(v[i + 1].path, c.path)) {
			i++;
			if (v[i].has_old)
				c.has_old = true, c.old = v[i].old;
			if (v[i].has_new)
				c.has_new = true, c.new = v[i].new;
		}
		if (c.has_old && c.has_new && store_oid_equal(&c.old, &c.new))
			continue;
		err = cb(ctx, c.path, c.has_old ? &c.old : NULL,
			 c.has_new ? &c.new : NULL);
	}
	for (size_t i = 0; i < k; i++)
		free(v[i].path);
	free(v);
	return err;
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
	err = report(st, diff, pt, t, cb, ctx);
out:
	git_diff_free(diff);
	git_tree_free(pt);
	git_tree_free(t);
	git_commit_free(p);
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err;
}
