/* treemerge.c - logical-path diffs of two trees and three-way merges of
 * three (see treemerge.h). Trees are compared by walking both at once,
 * skipping equal subtree ids; per-document merging is jmerge_doc's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "treemerge.h"
#include "banned.h"

/* One file that differs between two trees. */
struct tchange {
	char *path;
	bool has_old, has_new;
	git_oid old, new;
	unsigned old_mode, new_mode;
};

struct walk {
	struct store *st;
	struct tchange *v;
	size_t n, cap;
	size_t trees_read;
	bool partial; /* a missing tree reads as empty (store_tdiff_partial) */
	bool missing;
	git_oid missing_id; /* the first one */
};

static void walk_release(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].path);
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

static char *join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
		return NULL;
	return p;
}

static bool is_tree(const git_tree_entry *e)
{
	return e && git_tree_entry_type(e) == GIT_OBJECT_TREE;
}

/* Record file DIR/NAME going from A to B (either NULL), unless equal. */
static int emit(struct walk *w, const char *dir, const char *name,
		const git_tree_entry *a, const git_tree_entry *b)
{
	struct tchange *c;

	if (a && b &&
	    git_oid_equal(git_tree_entry_id(a), git_tree_entry_id(b)) &&
	    git_tree_entry_filemode(a) == git_tree_entry_filemode(b))
		return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;

		c = realloc(w->v, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		w->v = c;
		w->cap = cap;
	}
	c = &w->v[w->n];
	memset(c, 0, sizeof(*c));
	if (!(c->path = join(dir, name)))
		return -ENOMEM;
	if ((c->has_old = a != NULL)) {
		git_oid_cpy(&c->old, git_tree_entry_id(a));
		c->old_mode = git_tree_entry_filemode(a);
	}
	if ((c->has_new = b != NULL)) {
		git_oid_cpy(&c->new, git_tree_entry_id(b));
		c->new_mode = git_tree_entry_filemode(b);
	}
	w->n++;
	return 0;
}

static int load(struct walk *w, const git_oid *id, git_tree **out)
{
	int err;

	*out = NULL;
	if (!id)
		return 0;
	err = git_tree_lookup(out, w->st->repo, id);
	if (err == GIT_ENOTFOUND && w->partial) {
		if (!w->missing)
			git_oid_cpy(&w->missing_id, id);
		w->missing = true;
		git_error_clear();
		return 0;
	}
	if (err < 0)
		return store_git_fail(err, "tree");
	w->trees_read++;
	return 0;
}

/* The entries of a directory as the mount lists them, in strcmp order of
 * name; the bucket trees they point into are held until release. */
struct listing {
	const git_tree_entry **v;
	size_t n;
	git_tree **held;
	size_t nheld;
};

static void listing_release(struct listing *l)
{
	for (size_t i = 0; i < l->nheld; i++)
		git_tree_free(l->held[i]);
	free(l->held);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(git_tree_entry_name(*(const git_tree_entry *const *)a),
		      git_tree_entry_name(*(const git_tree_entry *const *)b));
}

static bool is_bucket_entry(const git_tree_entry *e)
{
	return is_tree(e) && store_layout_bucket_name(git_tree_entry_name(e));
}

static int add_entries(struct listing *l, const git_tree *t, bool fanout,
		       bool files_only)
{
	size_t n = git_tree_entrycount(t);
	const git_tree_entry **v = realloc(l->v, (l->n + n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);

		if ((files_only && is_tree(e)) ||
		    (fanout &&
		     (is_bucket_entry(e) ||
		      !strcmp(git_tree_entry_name(e), LAYOUT_MARKER))))
			continue;
		l->v[l->n++] = e;
	}
	return 0;
}

/* The logical entries of T (NULL: none): a fanout collection's buckets
 * opened (BUCKETS false: its direct entries only). */
static int list_logical(struct walk *w, const git_tree *t, bool buckets,
			struct listing *l)
{
	bool fanout = t && store_layout_is_fanout(t);
	int err;

	memset(l, 0, sizeof(*l));
	if (!t)
		return 0;
	err = add_entries(l, t, fanout, false);
	for (size_t i = 0, n = git_tree_entrycount(t);
	     fanout && buckets && err == 0 && i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		git_tree **h;

		if (!is_bucket_entry(e))
			continue;
		h = realloc(l->held, (l->nheld + 1) * sizeof(*h));
		if (!h)
			return -ENOMEM;
		l->held = h;
		err = load(w, git_tree_entry_id(e), &h[l->nheld]);
		if (err == 0 && h[l->nheld]) /* NULL: missing (partial) */
			err = add_entries(l, h[l->nheld++], false, true);
	}
	if (err == 0 && l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_entry);
	return err;
}

static int diff_dir(struct walk *w, const char *dir, const git_oid *a,
		    const git_oid *b);

/* Entry NAME of DIR (A and/or B) differs or not. */
static int diff_pair(struct walk *w, const char *dir, const git_tree_entry *a,
		     const git_tree_entry *b)
{
	const char *name = git_tree_entry_name(a ? a : b);
	char *sub;
	int err = 0;

	if (is_tree(a) || is_tree(b)) {
		if (!(sub = join(dir, name)))
			return -ENOMEM;
		err = diff_dir(w, sub, is_tree(a) ? git_tree_entry_id(a) : NULL,
			       is_tree(b) ? git_tree_entry_id(b) : NULL);
		free(sub);
	}
	if (err == 0 && ((a && !is_tree(a)) || (b && !is_tree(b))))
		err = emit(w, dir, name, a && !is_tree(a) ? a : NULL,
			   b && !is_tree(b) ? b : NULL);
	return err;
}

/* Two sorted listings side by side. */
static int diff_lists(struct walk *w, const char *dir, const struct listing *la,
		      const struct listing *lb)
{
	size_t i = 0, j = 0;
	int err = 0;

	while (err == 0 && (i < la->n || j < lb->n)) {
		int c = i == la->n ? 1 :
			j == lb->n ? -1 :
				     strcmp(git_tree_entry_name(la->v[i]),
					    git_tree_entry_name(lb->v[j]));

		if (c == 0)
			err = diff_pair(w, dir, la->v[i++], lb->v[j++]);
		else if (c < 0)
			err = diff_pair(w, dir, la->v[i++], NULL);
		else
			err = diff_pair(w, dir, NULL, lb->v[j++]);
	}
	return err;
}

/* Bucket A against bucket B (either NULL): their files in Git's order,
 * which for files alone is strcmp order, walked side by side. */
static int diff_buckets(struct walk *w, const char *dir, const git_tree *a,
			const git_tree *b)
{
	size_t na = a ? git_tree_entrycount(a) : 0, i = 0;
	size_t nb = b ? git_tree_entrycount(b) : 0, j = 0;
	int err = 0;

	while (err == 0 && (i < na || j < nb)) {
		const git_tree_entry *ea =
			i < na ? git_tree_entry_byindex(a, i) : NULL;
		const git_tree_entry *eb =
			j < nb ? git_tree_entry_byindex(b, j) : NULL;
		int c;

		if (is_tree(ea) || is_tree(eb)) {
			/* Not part of the layout: ignored. */
			i += is_tree(ea);
			j += is_tree(eb);
			continue;
		}
		c = !ea ? 1 :
		    !eb ? -1 :
			  strcmp(git_tree_entry_name(ea),
				 git_tree_entry_name(eb));
		err = emit(w, dir, git_tree_entry_name(c <= 0 ? ea : eb),
			   c <= 0 ? ea : NULL, c >= 0 ? eb : NULL);
		i += c <= 0;
		j += c >= 0;
	}
	return err;
}

/* Two fanout collections: direct entries, then bucket by bucket, equal
 * buckets skipped unread. */
static int diff_fanouts(struct walk *w, const char *dir, git_tree *ta,
			git_tree *tb)
{
	struct listing la = { 0 }, lb = { 0 };
	int err;

	err = list_logical(w, ta, false, &la);
	if (err == 0)
		err = list_logical(w, tb, false, &lb);
	if (err == 0)
		err = diff_lists(w, dir, &la, &lb);
	listing_release(&la);
	listing_release(&lb);
	for (unsigned k = 0; k < 256 && err == 0; k++) {
		char name[3];
		const git_tree_entry *ea, *eb;
		git_tree *ba = NULL, *bb = NULL;

		snprintf(name, sizeof(name), "%02x", k);
		ea = git_tree_entry_byname(ta, name);
		eb = git_tree_entry_byname(tb, name);
		ea = is_tree(ea) ? ea : NULL;
		eb = is_tree(eb) ? eb : NULL;
		if ((!ea && !eb) || (ea && eb &&
				     git_oid_equal(git_tree_entry_id(ea),
						   git_tree_entry_id(eb))))
			continue;
		err = load(w, ea ? git_tree_entry_id(ea) : NULL, &ba);
		if (err == 0)
			err = load(w, eb ? git_tree_entry_id(eb) : NULL, &bb);
		if (err == 0)
			err = diff_buckets(w, dir, ba, bb);
		git_tree_free(ba);
		git_tree_free(bb);
	}
	return err;
}

/* Logical directory DIR, tree A against tree B (ids; NULL: absent). */
static int diff_dir(struct walk *w, const char *dir, const git_oid *a,
		    const git_oid *b)
{
	git_tree *ta = NULL, *tb = NULL;
	struct listing la = { 0 }, lb = { 0 };
	int err;

	if (a && b && git_oid_equal(a, b))
		return 0;
	err = load(w, a, &ta);
	if (err == 0)
		err = load(w, b, &tb);
	if (err == 0 && ta && tb && store_layout_is_fanout(ta) &&
	    store_layout_is_fanout(tb)) {
		err = diff_fanouts(w, dir, ta, tb);
	} else if (err == 0) {
		err = list_logical(w, ta, true, &la);
		if (err == 0)
			err = list_logical(w, tb, true, &lb);
		if (err == 0)
			err = diff_lists(w, dir, &la, &lb);
	}
	listing_release(&la);
	listing_release(&lb);
	git_tree_free(ta);
	git_tree_free(tb);
	return err;
}

/* The root tree id of commit-or-tree ID (NULL stays NULL). */
static int root_tree(struct store *st, const struct store_oid *id, git_oid *out,
		     const git_oid **outp)
{
	git_object *o = NULL;
	int err;

	*outp = NULL;
	if (!id)
		return 0;
	err = git_object_lookup(&o, st->repo, store_goid(id), GIT_OBJECT_ANY);
	if (err < 0)
		return store_git_fail(err, "commit");
	if (git_object_type(o) == GIT_OBJECT_COMMIT)
		git_oid_cpy(out, git_commit_tree_id((git_commit *)o));
	else if (git_object_type(o) == GIT_OBJECT_TREE)
		git_oid_cpy(out, git_object_id(o));
	else
		err = store_fail(-EINVAL, "%s is neither a commit nor a tree",
				 git_oid_tostr_s(git_object_id(o)));
	git_object_free(o);
	*outp = err < 0 ? NULL : out;
	return err;
}

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
	err = store_layout_git_path(st, t, path, &gpath, &fanout);
	if (err == -ENOENT || err == -ENOTDIR)
		err = 0;
	else if (err == 0 && git_tree_entry_bypath(out, t, gpath) == 0 &&
		 is_tree(*out)) {
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
	if (git_tree_entry_bypath(&e, t, dir) == 0 && is_tree(e)) {
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
	err = pa || pb ? diff_dir(w, prefix, pa, pb) : 0;
	if (err == 0)
		err = find_file(w->st, a, prefix, &fa);
	if (err == 0)
		err = find_file(w->st, b, prefix, &fb);
	if (err == 0 && (fa || fb)) {
		dir = strndup(prefix, slash ? (size_t)(slash - prefix) : 0);
		err = dir ? emit(w, dir, slash ? slash + 1 : prefix, fa, fb) :
			    -ENOMEM;
		free(dir);
	}
	git_tree_entry_free(fa);
	git_tree_entry_free(fb);
	return err;
}

/* The sorted changes from A to B (commit or tree ids) under PREFIX;
 * takes the store lock. */
static int collect(struct walk *w, struct store *st, const struct store_oid *a,
		   const struct store_oid *b, const char *prefix, bool partial,
		   git_oid *ta_out, git_oid *tb_out)
{
	git_oid ta, tb;
	const git_oid *pa, *pb;
	int err;

	memset(w, 0, sizeof(*w));
	w->st = st;
	w->partial = partial;
	pthread_mutex_lock(&st->lock);
	err = root_tree(st, a, &ta, &pa);
	if (err == 0)
		err = root_tree(st, b, &tb, &pb);
	if (err == 0 && ta_out)
		git_oid_cpy(ta_out, pa ? pa : &ta);
	if (err == 0 && tb_out)
		git_oid_cpy(tb_out, pb ? pb : &tb);
	if (err == 0 && prefix && *prefix)
		err = diff_prefix(w, pa, pb, prefix);
	else if (err == 0)
		err = diff_dir(w, "", pa, pb);
	pthread_mutex_unlock(&st->lock);
	if (err < 0) {
		walk_release(w);
		return err;
	}
	if (w->n)
		qsort(w->v, w->n, sizeof(*w->v), cmp_change);
	return 0;
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
	int err;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	err = collect(&d->w, st, a, b, prefix, partial, NULL, NULL);
	if (err < 0) {
		free(d);
		return err;
	}
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
	walk_release(&d->w);
	free(d);
}

/* ---- the merge ---- */

int store_merge_latest_change(struct store *st, const struct store_oid *head,
			      const char *path, int64_t *time,
			      struct store_oid *commit)
{
	git_commit *c = NULL, *p = NULL;
	git_tree *t = NULL;
	struct store_entry at, e;
	int err, have, h;

	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(head));
	if (err < 0) {
		err = store_git_fail(err, "commit");
		goto out;
	}
	if ((err = git_commit_tree(&t, c)) < 0) {
		err = store_git_fail(err, "commit tree");
		goto out;
	}
	h = store_stat_tree_locked(st, t, path, &at, false);
	if (h < 0 && h != -ENOENT) {
		err = h;
		goto out;
	}
	while (git_commit_parentcount(c) > 0) {
		git_tree_free(t);
		t = NULL;
		if ((err = git_commit_parent(&p, c, 0)) < 0 ||
		    (err = git_commit_tree(&t, p)) < 0) {
			err = store_git_fail(err, "parent");
			goto out;
		}
		have = store_stat_tree_locked(st, t, path, &e, false);
		if (have < 0 && have != -ENOENT) {
			err = have;
			goto out;
		}
		if ((have == 0) != (h == 0) ||
		    (h == 0 &&
		     (e.kind != at.kind || !store_oid_equal(&e.oid, &at.oid))))
			break;
		git_commit_free(c);
		c = p;
		p = NULL;
	}
	err = 0;
	*time = git_commit_committer(c)->when.time;
	memcpy(commit->id, git_commit_id(c)->id, STORE_OID_RAWSZ);
out:
	git_tree_free(t);
	git_commit_free(p);
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_merge_base(struct store *st, const struct store_oid *a,
		     const struct store_oid *b, struct store_oid *out)
{
	git_oid id;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_merge_base(&id, st->repo, store_goid(a), store_goid(b));
	if (err == GIT_ENOTFOUND)
		err = store_fail(-ENOENT, "no common ancestor");
	else if (err < 0)
		err = store_git_fail(err, "merge base");
	else
		memcpy(out->id, id.id, STORE_OID_RAWSZ);
	pthread_mutex_unlock(&st->lock);
	return err;
}

struct merge_ctx {
	struct store *st;
	const struct store_oid *ours, *theirs;
	const struct store_merge_opts *opts;
};

int store_merge_winner(struct store *st, const struct store_oid *ours,
		       const struct store_oid *theirs, const char *path,
		       enum jmerge_side *out)
{
	struct store_oid co, ct;
	int64_t to, tt;
	int err;

	if (!ours || !theirs)
		return store_fail(-EINVAL, "%s: no history to pick a winner",
				  path);
	err = store_merge_latest_change(st, ours, path, &to, &co);
	if (err == 0)
		err = store_merge_latest_change(st, theirs, path, &tt, &ct);
	if (err < 0)
		return err;
	*out = tt > to || (tt == to &&
			   memcmp(ct.id, co.id, STORE_OID_RAWSZ) > 0) ?
		       JMERGE_THEIRS :
		       JMERGE_OURS;
	return 0;
}

static int winner_by_time(struct merge_ctx *m, const char *path,
			  enum jmerge_side *out)
{
	return store_merge_winner(m->st, m->ours, m->theirs, path, out);
}

static bool regular(bool has, unsigned mode)
{
	return !has || mode == GIT_FILEMODE_BLOB ||
	       mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

/* Merge entry E, changed on both sides to different files. */
static int merge_entry(struct merge_ctx *m, struct store_merge_entry *e)
{
	char *data[3] = { NULL, NULL, NULL };
	size_t len[3] = { 0, 0, 0 };
	struct jmerge_doc d = { 0 };
	enum jmerge_side w = JMERGE_OURS;
	unsigned flags = 0;
	int err = 0;

	for (int i = 0; i < 3 && err == 0; i++) {
		if (!regular(e->has[i], e->mode[i]))
			flags = JMERGE_DOC_OPAQUE;
		if (!e->has[i])
			continue;
		if (e->mode[i] == GIT_FILEMODE_COMMIT) {
			/* A submodule: its id is all there is to compare. */
			data[i] = malloc(STORE_OID_RAWSZ);
			if (!data[i])
				err = -ENOMEM;
			else
				memcpy(data[i], e->blob[i].id, STORE_OID_RAWSZ);
			len[i] = STORE_OID_RAWSZ;
			continue;
		}
		err = store_blob_read(m->st, &e->blob[i], &data[i], &len[i]);
	}
	if (!store_is_document_path(e->path))
		flags = JMERGE_DOC_OPAQUE;
	if (err == 0)
		err = jmerge_doc(&d, data[0], len[0], data[1], len[1], data[2],
				 len[2], w, flags);
	if (err == 0 && d.n) {
		err = m->opts && m->opts->winner ?
			      m->opts->winner(m->opts->ctx, e->path, &w) :
			      winner_by_time(m, e->path, &w);
		if (err == 0 && w == JMERGE_THEIRS) {
			jmerge_doc_release(&d);
			err = jmerge_doc(&d, data[0], len[0], data[1], len[1],
					 data[2], len[2], w, flags);
		}
	}
	if (err == 0) {
		static const enum store_merge_action act[] = {
			[JMERGE_DOC_OURS] = STORE_MERGE_OURS,
			[JMERGE_DOC_THEIRS] = STORE_MERGE_THEIRS,
			[JMERGE_DOC_DELETE] = STORE_MERGE_DELETE,
			[JMERGE_DOC_MERGED] = STORE_MERGE_BYTES,
		};

		e->action = act[d.action];
		e->bytes = d.bytes;
		e->len = d.len;
		e->conflicts = d.conflicts;
		e->n = d.n;
		e->winner = w;
		memset(&d, 0, sizeof(d));
	}
	jmerge_doc_release(&d);
	for (int i = 0; i < 3; i++)
		free(data[i]);
	return err;
}

static void set_version(struct store_merge_entry *e, int i, bool has,
			const git_oid *id, unsigned mode)
{
	e->has[i] = has;
	if (has) {
		memcpy(e->blob[i].id, id->id, STORE_OID_RAWSZ);
		e->mode[i] = mode;
	}
}

/* Entry K of the result from ours' change O and theirs' change T (either
 * NULL: that side did not change the path). */
static int make_entry(struct merge_ctx *m, struct store_merge_entry *e,
		      struct tchange *o, struct tchange *t)
{
	struct tchange *any = o ? o : t;

	memset(e, 0, sizeof(*e));
	e->path = any->path;
	any->path = NULL; /* the entry owns it now */
	set_version(e, STORE_MERGE_BASE_I, any->has_old, &any->old,
		    any->old_mode);
	if (o)
		set_version(e, STORE_MERGE_OURS_I, o->has_new, &o->new,
			    o->new_mode);
	else
		set_version(e, STORE_MERGE_OURS_I, t->has_old, &t->old,
			    t->old_mode);
	if (t)
		set_version(e, STORE_MERGE_THEIRS_I, t->has_new, &t->new,
			    t->new_mode);
	else
		set_version(e, STORE_MERGE_THEIRS_I, o->has_old, &o->old,
			    o->old_mode);
	if (!t)
		e->action = o->has_new ? STORE_MERGE_OURS : STORE_MERGE_DELETE;
	else if (!o)
		e->action = t->has_new ? STORE_MERGE_THEIRS :
					 STORE_MERGE_DELETE;
	else if (o->has_new == t->has_new &&
		 (!o->has_new || (git_oid_equal(&o->new, &t->new) &&
				  o->new_mode == t->new_mode)))
		e->action = o->has_new ? STORE_MERGE_OURS : STORE_MERGE_DELETE;
	else
		return merge_entry(m, e);
	return 0;
}

int store_merge_trees(struct store_merge *out, struct store *st,
		      const struct store_oid *base,
		      const struct store_oid *ours,
		      const struct store_oid *theirs,
		      const struct store_merge_opts *opts)
{
	struct merge_ctx m = { st, ours, theirs, opts };
	struct walk wo, wt;
	git_oid to, tt;
	size_t i = 0, j = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = collect(&wo, st, base, ours, NULL, false, NULL, &to);
	if (err < 0)
		return err;
	err = collect(&wt, st, base, theirs, NULL, false, NULL, &tt);
	if (err < 0) {
		walk_release(&wo);
		return err;
	}
	memcpy(out->ours_tree.id, to.id, STORE_OID_RAWSZ);
	memcpy(out->theirs_tree.id, tt.id, STORE_OID_RAWSZ);
	out->trees_read = wo.trees_read + wt.trees_read;
	out->v = calloc(wo.n + wt.n + 1, sizeof(*out->v));
	if (!out->v)
		err = -ENOMEM;
	while (err == 0 && (i < wo.n || j < wt.n)) {
		int c = i == wo.n ? 1 :
			j == wt.n ? -1 :
				    strcmp(wo.v[i].path, wt.v[j].path);
		struct store_merge_entry *e = &out->v[out->n];

		err = make_entry(&m, e, c <= 0 ? &wo.v[i] : NULL,
				 c >= 0 ? &wt.v[j] : NULL);
		i += c <= 0;
		j += c >= 0;
		if (e->path)
			out->n++;
		if (err == 0 && e->n)
			out->nconflicted++;
	}
	walk_release(&wo);
	walk_release(&wt);
	if (err < 0)
		store_merge_release(out);
	return err;
}

void store_merge_release(struct store_merge *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		struct jmerge_doc d = { .bytes = m->v[i].bytes,
					.conflicts = m->v[i].conflicts,
					.n = m->v[i].n };

		jmerge_doc_release(&d);
		free(m->v[i].path);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}
