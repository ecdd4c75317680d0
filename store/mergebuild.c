/* mergebuild.c - the root tree of a merge (store_merge_build_tree,
 * treemerge.h): ours' tree with the merge's files put in, each
 * collection laid out by the threshold rule of layout.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "treemerge.h"
#include "banned.h"

struct updates {
	git_tree_update *up;
	size_t n;
	char **paths;
	size_t np;
};

static void updates_release(struct updates *u)
{
	for (size_t i = 0; i < u->np; i++)
		free(u->paths[i]);
	free(u->paths);
	free(u->up);
}

/* Append an update of git path PATH (taken: freed with U). */
static int add(struct updates *u, git_tree_update_t action, const git_oid *id,
	       unsigned mode, char *path)
{
	git_tree_update *up = path ? realloc(u->up, (u->n + 1) * sizeof(*up)) :
				     NULL;
	char **p = up ? realloc(u->paths, (u->np + 1) * sizeof(*p)) : NULL;

	if (up)
		u->up = up;
	if (p)
		u->paths = p;
	if (!p) {
		free(path);
		return -ENOMEM;
	}
	u->paths[u->np++] = path;
	u->up[u->n++] = (git_tree_update){ action,
					   id ? *id : (git_oid){ { 0 } },
					   (git_filemode_t)mode, path };
	return 0;
}

const char *store_merge_base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

size_t store_merge_dir_len(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? (size_t)(s - path) : 0;
}

int store_merge_cmp_dir(const void *a, const void *b)
{
	const struct store_merge_entry *x = *(const void *const *)a;
	const struct store_merge_entry *y = *(const void *const *)b;
	size_t dx = store_merge_dir_len(x->path),
	       dy = store_merge_dir_len(y->path);
	int c = memcmp(x->path, y->path, dx < dy ? dx : dy);

	return c ? c : dx < dy ? -1 : dx > dy;
}

static int cmp_by_dir(const void *a, const void *b)
{
	const struct store_merge_entry *x = *(const void *const *)a;
	const struct store_merge_entry *y = *(const void *const *)b;
	int c = store_merge_cmp_dir(a, b);

	return c ? c :
		   strcmp(store_merge_base_name(x->path),
			  store_merge_base_name(y->path));
}

/* An entry and the bucket its file goes to. */
struct bucketed {
	char bucket[3];
	struct store_merge_entry *e;
};

static bool regular(unsigned mode)
{
	return mode == GIT_FILEMODE_BLOB ||
	       mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

static bool result_present(const struct store_merge_entry *e)
{
	return e->action != STORE_MERGE_DELETE;
}

/* The blob and mode the result has at E's path. */
static int result_blob(struct store *st, const struct store_merge_entry *e,
		       git_oid *id, unsigned *mode)
{
	int i = e->has[STORE_MERGE_OURS_I] ? STORE_MERGE_OURS_I :
					     STORE_MERGE_THEIRS_I;
	int err;

	if (e->action == STORE_MERGE_THEIRS)
		i = STORE_MERGE_THEIRS_I;
	*mode = e->mode[i] ? e->mode[i] : GIT_FILEMODE_BLOB;
	if (e->action != STORE_MERGE_BYTES) {
		memcpy(id->id, e->blob[i].id, STORE_OID_RAWSZ);
		return 0;
	}
	*mode = regular(e->mode[i]) ? e->mode[i] : GIT_FILEMODE_BLOB;
	err = git_blob_create_from_buffer(id, st->repo, e->bytes, e->len);
	return err < 0 ? store_git_fail(err, e->path) : 0;
}

/* The git path of E's file in a collection laid out FANOUT. */
static char *git_path(const char *dir, const char *name, bool fanout)
{
	char bucket[3], *p;

	store_layout_bucket(name, bucket);
	if (asprintf(&p, "%s%s%s%s%s", dir, *dir ? "/" : "",
		     fanout ? bucket : "", fanout ? "/" : "", name) < 0)
		return NULL;
	return p;
}

/* DIR's tree in ROOT, or NULL if there is none. */
static int dir_tree(struct store *st, git_tree *root, const char *dir,
		    git_tree **out)
{
	int err = store_layout_dir(st, root, dir, out);

	return err == -ENOENT || err == -ENOTDIR ? 0 : err;
}

/* Updates that make flat collection DIR (tree T; NULL: none yet) a fanout
 * one; from U->n on, its files' upserts into buckets. */
static int reshard(struct store *st, const char *dir, git_tree *t,
		   struct updates *u)
{
	git_treebuilder *tb = NULL;
	git_tree *empty = NULL;
	git_oid id;
	int err = 0;

	if (!t) {
		/* Only the marker: reshard an empty tree. */
		if ((err = git_treebuilder_new(&tb, st->repo, NULL)) < 0 ||
		    (err = git_treebuilder_write(&id, tb)) < 0 ||
		    (err = git_tree_lookup(&empty, st->repo, &id)) < 0)
			err = store_git_fail(err, "empty tree");
		t = empty;
	}
	if (err == 0)
		err = store_layout_reshard(st, dir, t, "", &u->up, &u->n,
					   &u->paths, &u->np);
	git_tree_free(empty);
	git_treebuilder_free(tb);
	return err;
}

static int cmp_bucket(const void *a, const void *b)
{
	return strcmp(((const struct bucketed *)a)->bucket,
		      ((const struct bucketed *)b)->bucket);
}

/* B[0..N) (their entries set) given their bucket at LEVEL and sorted by
 * it. */
static void sort_by_bucket(struct bucketed *b, size_t n, unsigned level)
{
	for (size_t i = 0; i < n; i++)
		store_layout_bucket_at(store_merge_base_name(b[i].e->path),
				       level, b[i].bucket);
	qsort(b, n, sizeof(*b), cmp_bucket);
}

/* The end of B[I]'s run of one bucket in B[0..N) (sorted). */
static size_t bucket_end(const struct bucketed *b, size_t i, size_t n)
{
	size_t j = i + 1;

	while (j < n && !strcmp(b[j].bucket, b[i].bucket))
		j++;
	return j;
}

/* Bucket tree BID (NULL: none yet) at git path GP (the updates' once
 * given) with entries B[0..N) put in: its bytes spliced (rawtree.c),
 * the new bucket one update of GP, or its removal if it ends empty. */
static int splice_bucket(struct store *st, const git_oid *bid, char *gp,
			 const struct bucketed *b, size_t n, struct updates *u)
{
	struct rt_update *up = calloc(n, sizeof(*up));
	git_oid *ids = calloc(n, sizeof(*ids)), id;
	struct rtree t = { 0 };
	bool empty;
	int err = up && ids ? store_rt_read(st, bid, &t) : -ENOMEM;

	for (size_t i = 0; i < n && err == 0; i++) {
		unsigned mode = 0;

		up[i].name = store_merge_base_name(b[i].e->path);
		if (result_present(b[i].e)) {
			err = result_blob(st, b[i].e, &ids[i], &mode);
			up[i].id = &ids[i];
			up[i].mode = (git_filemode_t)mode;
		}
	}
	if (err == 0)
		err = store_rt_splice(st, &t, up, n, &id, &empty);
	if (err == 0 && !empty)
		err = add(u, GIT_TREE_UPDATE_UPSERT, &id, GIT_FILEMODE_TREE,
			  gp);
	else if (err == 0 && bid)
		err = add(u, GIT_TREE_UPDATE_REMOVE, NULL, 0, gp);
	else
		free(gp);
	store_rt_release(&t);
	free(ids);
	free(up);
	return err;
}

/* Bucket BK of fanout collection DIR (tree OD, ours) with entries
 * B[0..N) put in, each of its sub-buckets in turn if it is split. */
static int build_bucket(struct store *st, git_tree *od, const char *dir,
			const struct bucketed *b, size_t n, struct updates *u)
{
	const git_tree_entry *te = git_tree_entry_byname(od, b->bucket);
	const git_oid *bid = te && git_tree_entry_type(te) == GIT_OBJECT_TREE ?
				     git_tree_entry_id(te) :
				     NULL;
	struct bucketed *sub = NULL;
	struct rtree t = { 0 };
	char *gp = NULL;
	int err = 0;

	if (asprintf(&gp, "%s%s%s", dir, *dir ? "/" : "", b->bucket) < 0)
		return -ENOMEM;
	if ((err = store_rt_read(st, bid, &t)) < 0) {
		free(gp);
		return err;
	}
	if (!store_rt_is_fanout(&t)) {
		store_rt_release(&t);
		return splice_bucket(st, bid, gp, b, n, u);
	}
	if (!(sub = calloc(n, sizeof(*sub))))
		err = -ENOMEM;
	for (size_t i = 0; i < n && sub; i++)
		sub[i].e = b[i].e;
	if (sub)
		sort_by_bucket(sub, n, 1);
	for (size_t i = 0, j; i < n && err == 0; i = j) {
		const struct rt_entry *se =
			store_rt_find(&t, sub[i].bucket, true);
		git_oid sid;
		char *sgp;

		j = bucket_end(sub, i, n);
		if (se)
			memcpy(sid.id, se->id, GIT_OID_RAWSZ);
		if (asprintf(&sgp, "%s/%s", gp, sub[i].bucket) < 0)
			err = -ENOMEM;
		else
			err = splice_bucket(st, se ? &sid : NULL, sgp, sub + i,
					    j - i, u);
	}
	free(sub);
	free(gp);
	store_rt_release(&t);
	return err;
}

/* The updates of fanout collection DIR (tree OD, ours: fanout too) for
 * entries E[0..N): one per bucket they fall in. */
static int build_buckets(struct store *st, git_tree *od, const char *dir,
			 struct store_merge_entry **e, size_t n,
			 struct updates *u)
{
	struct bucketed *b = calloc(n + 1, sizeof(*b));
	int err = b ? 0 : -ENOMEM;

	for (size_t i = 0; i < n && b; i++)
		b[i].e = e[i];
	if (b)
		sort_by_bucket(b, n, 0);
	for (size_t i = 0, j; i < n && err == 0; i = j) {
		j = bucket_end(b, i, n);
		err = build_bucket(st, od, dir, b + i, j - i, u);
	}
	free(b);
	return err;
}

/* The updates of collection DIR for entries E[0..N). */
static int build_dir(struct store *st, git_tree *ours, git_tree *theirs,
		     const char *dir, struct store_merge_entry **e, size_t n,
		     struct updates *u)
{
	git_tree *od = NULL, *td = NULL;
	bool ofan, fanout;
	long files = 0;
	size_t from;
	int err;

	if ((err = dir_tree(st, ours, dir, &od)) < 0 ||
	    (err = dir_tree(st, theirs, dir, &td)) < 0)
		goto out;
	ofan = store_layout_is_fanout(od);
	for (size_t i = 0, k = od ? git_tree_entrycount(od) : 0; i < k; i++)
		files += git_tree_entry_type(git_tree_entry_byindex(od, i)) ==
			 GIT_OBJECT_BLOB;
	for (size_t i = 0; i < n; i++)
		files += (long)result_present(e[i]) -
			 (long)e[i]->has[STORE_MERGE_OURS_I];
	fanout = ofan || store_layout_is_fanout(td) ||
		 files >= LAYOUT_FANOUT_AT;
	if (ofan) {
		err = build_buckets(st, od, dir, e, n, u);
		/* A file beside the buckets shadowed the bucket's copy: the
		 * result is in the bucket now. */
		for (size_t i = 0; i < n && err == 0; i++) {
			const char *name = store_merge_base_name(e[i]->path);
			const git_tree_entry *te =
				git_tree_entry_byname(od, name);

			if (te && git_tree_entry_type(te) != GIT_OBJECT_TREE)
				err = add(u, GIT_TREE_UPDATE_REMOVE, NULL, 0,
					  git_path(dir, name, false));
		}
		goto out;
	}
	from = u->n;
	if (fanout && !ofan && (err = reshard(st, dir, od, u)) < 0)
		goto out;
	for (size_t i = 0; i < n && err == 0; i++) {
		bool had = e[i]->has[STORE_MERGE_OURS_I];
		char *gp = git_path(dir, store_merge_base_name(e[i]->path),
				    fanout);
		git_oid id;
		unsigned mode;
		size_t k = u->n;

		if (!gp) {
			err = -ENOMEM;
			break;
		}
		/* Resharded: the file's move into its bucket is planned. */
		for (size_t j = from; fanout && !ofan && had && j < u->n; j++)
			if (u->up[j].action == GIT_TREE_UPDATE_UPSERT &&
			    !strcmp(u->up[j].path, gp))
				k = j;
		if (!result_present(e[i])) {
			/* Resharded: its move is dropped, the flat file's
			 * removal stays; else removed where it is. */
			if (k < u->n) {
				u->up[k] = u->up[--u->n];
			} else if (had && !(fanout && !ofan)) {
				err = add(u, GIT_TREE_UPDATE_REMOVE, NULL, 0,
					  gp);
				continue; /* GP is U's now */
			}
			free(gp);
			continue;
		}
		err = result_blob(st, e[i], &id, &mode);
		if (err == 0 && k < u->n) {
			u->up[k].id = id;
			u->up[k].filemode = (git_filemode_t)mode;
			free(gp);
		} else if (err == 0) {
			err = add(u, GIT_TREE_UPDATE_UPSERT, &id, mode, gp);
		} else {
			free(gp);
		}
	}
out:
	git_tree_free(od);
	git_tree_free(td);
	return err;
}

int store_merge_build_tree(struct store *st, const struct store_merge *m,
			   struct store_oid *tree_out)
{
	struct store_merge_entry **v = calloc(m->n + 1, sizeof(*v));
	git_tree *ours = NULL, *theirs = NULL;
	struct updates u = { 0 };
	size_t n = 0;
	git_oid id;
	int err = v ? 0 : -ENOMEM;

	for (size_t i = 0; i < m->n && v; i++) {
		const struct store_merge_entry *e = &m->v[i];

		/* Ours is the starting point: nothing to do for it, nor
		 * for a deletion of what ours does not have, nor in a
		 * bucket taken whole (below). */
		if (e->action != STORE_MERGE_OURS && !e->taken &&
		    (result_present(e) || e->has[STORE_MERGE_OURS_I]))
			v[n++] = (struct store_merge_entry *)e;
	}
	if (v)
		qsort(v, n, sizeof(*v), cmp_by_dir);
	pthread_mutex_lock(&st->lock);
	if (err == 0 &&
	    ((err = git_tree_lookup(&ours, st->repo,
				    store_goid(&m->ours_tree))) < 0 ||
	     (err = git_tree_lookup(&theirs, st->repo,
				    store_goid(&m->theirs_tree))) < 0))
		err = store_git_fail(err, "tree");
	for (size_t i = 0; i < n && err == 0;) {
		size_t j = i + 1, dl = store_merge_dir_len(v[i]->path);
		char *dir = strndup(v[i]->path, dl);

		while (j < n && store_merge_dir_len(v[j]->path) == dl &&
		       !memcmp(v[j]->path, v[i]->path, dl))
			j++;
		err = dir ? build_dir(st, ours, theirs, dir, v + i, j - i, &u) :
			    -ENOMEM;
		free(dir);
		i = j;
	}
	for (size_t i = 0; i < m->ntakes && err == 0; i++) {
		const struct store_merge_take *t = &m->takes[i];
		char *gp;

		if (asprintf(&gp, "%s%s%s", t->dir, *t->dir ? "/" : "",
			     t->bucket) < 0)
			err = -ENOMEM;
		else
			err = add(&u,
				  t->has ? GIT_TREE_UPDATE_UPSERT :
					   GIT_TREE_UPDATE_REMOVE,
				  t->has ? store_goid(&t->tree) : NULL,
				  GIT_FILEMODE_TREE, gp);
	}
	if (err == 0) {
		err = git_tree_create_updated(&id, st->repo, ours, u.n, u.up);
		if (err < 0)
			err = store_git_fail(err, "merged tree");
		else
			memcpy(tree_out->id, id.id, STORE_OID_RAWSZ);
	}
	git_tree_free(ours);
	git_tree_free(theirs);
	pthread_mutex_unlock(&st->lock);
	updates_release(&u);
	free(v);
	return err;
}
