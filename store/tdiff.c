/* tdiff.c - the diff iterator (store_tdiff, treemerge.h): the sorted
 * files that differ between two commits or trees, whole or under one
 * logical path, collected by the tree walk of treediff.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treewalk.h"
#include "treemerge.h"
#include "banned.h"

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct tchange *)a)->path,
		      ((const struct tchange *)b)->path);
}

/* The file at logical PATH in root tree ROOT (NULL if none); *out is
 * the caller's. */
static int find_file(struct store *st, const git_oid *root, const char *path,
		     git_tree_entry **out)
{
	git_tree *t = NULL;
	char *gpath = NULL;
	bool fanout;
	int err;

	*out = NULL;
	if (!root)
		return 0;
	err = git_tree_lookup(&t, st->repo, root);
	if (err < 0)
		return store_git_fail(err, "tree");
	err = store_layout_git_path(st, t, path, &gpath, &fanout, NULL);
	if (err == -ENOENT || err == -ENOTDIR)
		err = 0;
	else if (err == 0 && git_tree_entry_bypath(out, t, gpath) == 0 &&
		 git_tree_entry_type(*out) == GIT_OBJECT_TREE) {
		git_tree_entry_free(*out);
		*out = NULL;
	}
	free(gpath);
	git_tree_free(t);
	return err;
}

/* The directory at logical path DIR in ROOT: its tree id in *id, or
 * *idp NULL. */
static void find_dir(struct store *st, const git_oid *root, const char *dir,
		     git_oid *id, const git_oid **idp)
{
	git_tree *t = NULL;
	git_tree_entry *e = NULL;

	*idp = NULL;
	if (!root || git_tree_lookup(&t, st->repo, root) < 0)
		return;
	if (git_tree_entry_bypath(&e, t, dir) == 0 &&
	    git_tree_entry_type(e) == GIT_OBJECT_TREE) {
		git_oid_cpy(id, git_tree_entry_id(e));
		*idp = id;
	}
	git_tree_entry_free(e);
	git_tree_free(t);
}

/* The diff under PREFIX: its directory, and the document of that path. */
static int diff_prefix(struct walk *w, const git_oid *a, const git_oid *b,
		       const char *prefix)
{
	git_oid ida, idb;
	const git_oid *pa, *pb;
	git_tree_entry *fa = NULL, *fb = NULL;
	const char *slash = strrchr(prefix, '/');
	char *dir;
	int err;

	find_dir(w->st, a, prefix, &ida, &pa);
	find_dir(w->st, b, prefix, &idb, &pb);
	err = pa || pb ? tw_diff_dir(w, prefix, pa, pb) : 0;
	if (err == 0)
		err = find_file(w->st, a, prefix, &fa);
	if (err == 0)
		err = find_file(w->st, b, prefix, &fb);
	if (err == 0 && (fa || fb)) {
		dir = strndup(prefix, slash ? (size_t)(slash - prefix) : 0);
		err = dir ? tw_emit(w, dir, slash ? slash + 1 : prefix,
				    fa ? git_tree_entry_id(fa) : NULL,
				    fa ? git_tree_entry_filemode(fa) : 0,
				    fb ? git_tree_entry_id(fb) : NULL,
				    fb ? git_tree_entry_filemode(fb) : 0) :
			    -ENOMEM;
		free(dir);
	}
	git_tree_entry_free(fa);
	git_tree_entry_free(fb);
	return err;
}

/* ---- the diff iterator ---- */

struct store_tdiff {
	struct walk w;
	size_t next;
	struct store_tdiff_entry cur;
};

static int tdiff_new(struct store_tdiff **out, struct store *st,
		     const struct store_oid *a, const struct store_oid *b,
		     const char *prefix, bool partial)
{
	struct store_tdiff *d = calloc(1, sizeof(*d));
	struct walk *w = d ? &d->w : NULL;
	git_oid ta, tb;
	const git_oid *pa, *pb;
	int err;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	w->st = st;
	w->partial = partial;
	pthread_mutex_lock(&st->lock);
	err = tw_root_tree(st, a, &ta, &pa);
	if (err == 0)
		err = tw_root_tree(st, b, &tb, &pb);
	if (err == 0 && prefix && *prefix)
		err = diff_prefix(w, pa, pb, prefix);
	else if (err == 0)
		err = tw_diff_dir(w, "", pa, pb);
	pthread_mutex_unlock(&st->lock);
	if (err < 0) {
		tw_release(w);
		free(d);
		return err;
	}
	if (w->n)
		qsort(w->v, w->n, sizeof(*w->v), cmp_change);
	*out = d;
	return 0;
}

int store_tdiff_new(struct store_tdiff **out, struct store *st,
		    const struct store_oid *a, const struct store_oid *b,
		    const char *prefix)
{
	return tdiff_new(out, st, a, b, prefix, false);
}

int store_tdiff_partial(struct store_tdiff **out, struct store *st,
			const struct store_oid *a, const struct store_oid *b)
{
	return tdiff_new(out, st, a, b, NULL, true);
}

bool store_tdiff_missing(const struct store_tdiff *d, struct store_oid *out)
{
	if (d->w.missing)
		memcpy(out->id, d->w.missing_id.id, STORE_OID_RAWSZ);
	return d->w.missing;
}

int store_tdiff_next(struct store_tdiff *d, const struct store_tdiff_entry **e)
{
	const struct tchange *c;

	*e = NULL;
	if (d->next == d->w.n)
		return 1;
	c = &d->w.v[d->next++];
	memset(&d->cur, 0, sizeof(d->cur));
	d->cur.path = c->path;
	d->cur.op = !c->has_old ? STORE_TDIFF_ADD :
		    !c->has_new ? STORE_TDIFF_DELETE :
				  STORE_TDIFF_MODIFY;
	if (c->has_old)
		memcpy(d->cur.old_blob.id, c->old.id, STORE_OID_RAWSZ);
	if (c->has_new)
		memcpy(d->cur.new_blob.id, c->new.id, STORE_OID_RAWSZ);
	d->cur.old_mode = c->old_mode;
	d->cur.new_mode = c->new_mode;
	*e = &d->cur;
	return 0;
}

size_t store_tdiff_count(const struct store_tdiff *d)
{
	return d->w.n;
}

size_t store_tdiff_trees_read(const struct store_tdiff *d)
{
	return d->w.trees_read;
}

void store_tdiff_free(struct store_tdiff *d)
{
	if (!d)
		return;
	tw_release(&d->w);
	free(d);
}
