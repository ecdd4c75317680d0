/* treediff.c - the files that differ between two trees by logical path
 * (store_tdiff, treemerge.h), walking both trees' bytes at once
 * (treewalk.h); equal subtree and bucket ids are skipped unread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treewalk.h"
#include "treemerge.h"
#include "banned.h"

void tw_release(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].path);
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

char *tw_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
		return NULL;
	return p;
}

int tw_load(struct walk *w, const git_oid *id, struct rtree *out)
{
	int err = store_rt_read(w->st, id, out);

	if (err == -ENOENT && w->partial) {
		if (!w->missing)
			git_oid_cpy(&w->missing_id, id);
		w->missing = true;
		return 0; /* out is the empty tree */
	}
	if (err == 0 && id)
		w->trees_read++;
	return err;
}

bool tw_same_id(const git_oid *a, const git_oid *b)
{
	return a == b || (a && b && git_oid_equal(a, b));
}

bool tw_is_bucket(const struct rt_entry *e)
{
	return store_rt_is_tree(e) && store_layout_bucket_name(e->name);
}

bool tw_plain_fanout(const struct rtree *t)
{
	if (!store_rt_is_fanout(t))
		return false;
	for (size_t i = 0; i < t->n; i++)
		if (!store_rt_is_tree(&t->v[i]) &&
		    strcmp(t->v[i].name, LAYOUT_MARKER))
			return false;
	return true;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				      -1;
}

void tw_buckets(const struct rtree *t, const struct rt_entry *out[256])
{
	memset(out, 0, 256 * sizeof(*out));
	for (size_t i = 0; t && i < t->n; i++)
		if (tw_is_bucket(&t->v[i]))
			out[hexval(t->v[i].name[0]) * 16 +
			    hexval(t->v[i].name[1])] = &t->v[i];
}

/* Record file DIR/NAME going from A to B (either NULL), unless equal. */
int tw_emit(struct walk *w, const char *dir, const char *name, const git_oid *a,
	    unsigned amode, const git_oid *b, unsigned bmode)
{
	struct tchange *c;

	if (a && b && git_oid_equal(a, b) && amode == bmode)
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
	if (!(c->path = tw_join(dir, name)))
		return -ENOMEM;
	if ((c->has_old = a != NULL)) {
		git_oid_cpy(&c->old, a);
		c->old_mode = amode;
	}
	if ((c->has_new = b != NULL)) {
		git_oid_cpy(&c->new, b);
		c->new_mode = bmode;
	}
	w->n++;
	return 0;
}

static int emit_rt(struct walk *w, const char *dir, const char *name,
		   const struct rt_entry *a, const struct rt_entry *b)
{
	return tw_emit(w, dir, name, tw_id(a), a ? a->mode : 0, tw_id(b),
		       b ? b->mode : 0);
}

void tw_listing_release(struct listing *l)
{
	for (size_t i = 0; i < l->nheld; i++)
		store_rt_release(&l->held[i]);
	free(l->held);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp((*(const struct rt_entry *const *)a)->name,
		      (*(const struct rt_entry *const *)b)->name);
}

static int add_entries(struct listing *l, const struct rtree *t, bool fanout,
		       bool files_only)
{
	const struct rt_entry **v =
		realloc(l->v, (l->n + t->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	for (size_t i = 0; i < t->n; i++) {
		const struct rt_entry *e = &t->v[i];

		if ((files_only && store_rt_is_tree(e)) ||
		    (fanout &&
		     (tw_is_bucket(e) || !strcmp(e->name, LAYOUT_MARKER))))
			continue;
		l->v[l->n++] = e;
	}
	return 0;
}

/* Tree ID read and held by L: 0 and *K its index there. */
static int hold(struct walk *w, struct listing *l, const git_oid *id, size_t *k)
{
	struct rtree *h = realloc(l->held, (l->nheld + 1) * sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	l->held = h;
	if ((err = tw_load(w, id, &h[l->nheld])) < 0)
		return err;
	*k = l->nheld++;
	return 0;
}

/* The files of bucket tree T (of LEVEL) into L: a split bucket's are
 * those of its sub-buckets, read and held by L; nothing else of it is
 * part of the layout. */
static int add_bucket(struct walk *w, struct listing *l, const struct rtree *t,
		      unsigned level)
{
	const struct rt_entry *sub[256];
	int err = 0;

	if (level > 0 || !store_rt_is_fanout(t))
		return add_entries(l, t, false, true);
	tw_buckets(t, sub);
	for (unsigned k = 0; k < 256 && err == 0; k++) {
		size_t h;

		if (sub[k] && (err = hold(w, l, tw_id(sub[k]), &h)) == 0)
			err = add_entries(l, &l->held[h], false, true);
	}
	return err;
}

int tw_bucket_files(struct walk *w, const struct rtree *t, unsigned level,
		    struct listing *l)
{
	int err;

	memset(l, 0, sizeof(*l));
	if (!t)
		return 0;
	err = add_bucket(w, l, t, level);
	if (err == 0 && l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_entry);
	return err;
}

int tw_list(struct walk *w, const struct rtree *t, bool buckets,
	    struct listing *l)
{
	bool fanout = store_rt_is_fanout(t);
	size_t nd;
	int err;

	memset(l, 0, sizeof(*l));
	if (!t)
		return 0;
	err = add_entries(l, t, fanout, false);
	nd = l->n;
	if (nd > 1)
		qsort(l->v, nd, sizeof(*l->v), cmp_entry);
	for (size_t i = 0; fanout && buckets && err == 0 && i < t->n; i++) {
		size_t h;

		if (!tw_is_bucket(&t->v[i]))
			continue;
		err = hold(w, l, tw_id(&t->v[i]), &h);
		if (err == 0)
			err = add_bucket(w, l, &l->held[h], 0);
	}
	/* A direct entry shadows its name's copy in a bucket. */
	if (nd) {
		size_t k = nd;

		for (size_t i = nd; i < l->n; i++)
			if (!bsearch(&l->v[i], l->v, nd, sizeof(*l->v),
				     cmp_entry))
				l->v[k++] = l->v[i];
		l->n = k;
	}
	if (err == 0 && l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_entry);
	return err;
}

/* Entry NAME of DIR (A and/or B) differs or not. */
static int diff_pair(struct walk *w, const char *dir, const struct rt_entry *a,
		     const struct rt_entry *b)
{
	const char *name = (a ? a : b)->name;
	bool ta = store_rt_is_tree(a), tb = store_rt_is_tree(b);
	char *sub;
	int err = 0;

	if (ta || tb) {
		if (!(sub = tw_join(dir, name)))
			return -ENOMEM;
		err = tw_diff_dir(w, sub, ta ? tw_id(a) : NULL,
				  tb ? tw_id(b) : NULL);
		free(sub);
	}
	if (err == 0 && ((a && !ta) || (b && !tb)))
		err = emit_rt(w, dir, name, a && !ta ? a : NULL,
			      b && !tb ? b : NULL);
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
				     strcmp(la->v[i]->name, lb->v[j]->name);

		if (c == 0)
			err = diff_pair(w, dir, la->v[i++], lb->v[j++]);
		else if (c < 0)
			err = diff_pair(w, dir, la->v[i++], NULL);
		else
			err = diff_pair(w, dir, NULL, lb->v[j++]);
	}
	return err;
}

/* Bucket A against bucket B: their files in Git's order, which for files
 * alone is strcmp order, walked side by side (subtrees are not part of
 * the layout: ignored). Equal entries are equal bytes. */
static int diff_buckets(struct walk *w, const char *dir, const struct rtree *a,
			const struct rtree *b)
{
	size_t i = 0, j = 0;
	int err = 0;

	while (err == 0 && (i < a->n || j < b->n)) {
		const struct rt_entry *ea = i < a->n ? &a->v[i] : NULL;
		const struct rt_entry *eb = j < b->n ? &b->v[j] : NULL;
		int c;

		/* Most entries of two versions of a bucket are equal. */
		if (ea && eb && store_rt_same(ea, eb)) {
			i++, j++;
			continue;
		}
		if (store_rt_is_tree(ea) || store_rt_is_tree(eb)) {
			i += store_rt_is_tree(ea);
			j += store_rt_is_tree(eb);
			continue;
		}
		c = !ea ? 1 : !eb ? -1 : strcmp(ea->name, eb->name);
		err = emit_rt(w, dir, (c <= 0 ? ea : eb)->name,
			      c <= 0 ? ea : NULL, c >= 0 ? eb : NULL);
		i += c <= 0;
		j += c >= 0;
	}
	return err;
}

static int diff_bucket_sets(struct walk *w, const char *dir,
			    const struct rtree *ta, const struct rtree *tb,
			    unsigned level);

/* Bucket A against bucket B (of LEVEL) of collection DIR: two split ones
 * sub-bucket by sub-bucket, a split one against a plain one by their
 * files, two plain ones entry by entry. */
static int diff_bucket_pair(struct walk *w, const char *dir,
			    const struct rtree *a, const struct rtree *b,
			    unsigned level)
{
	bool sa = level == 0 && store_rt_is_fanout(a);
	bool sb = level == 0 && store_rt_is_fanout(b);
	struct listing la = { 0 }, lb = { 0 };
	int err;

	if (sa && sb)
		return diff_bucket_sets(w, dir, a, b, 1);
	if (!sa && !sb)
		return diff_buckets(w, dir, a, b);
	err = tw_bucket_files(w, a, level, &la);
	if (err == 0)
		err = tw_bucket_files(w, b, level, &lb);
	if (err == 0)
		err = diff_lists(w, dir, &la, &lb);
	tw_listing_release(&la);
	tw_listing_release(&lb);
	return err;
}

/* The buckets of fanout trees TA and TB (of LEVEL) side by side, equal
 * ones skipped unread. */
static int diff_bucket_sets(struct walk *w, const char *dir,
			    const struct rtree *ta, const struct rtree *tb,
			    unsigned level)
{
	const struct rt_entry *ba[256], *bb[256];
	int err = 0;

	tw_buckets(ta, ba);
	tw_buckets(tb, bb);
	for (unsigned k = 0; k < 256 && err == 0; k++) {
		struct rtree ra, rb;

		if (tw_same_id(tw_id(ba[k]), tw_id(bb[k])))
			continue;
		err = tw_load(w, tw_id(ba[k]), &ra);
		if (err == 0 && (err = tw_load(w, tw_id(bb[k]), &rb)) == 0) {
			err = diff_bucket_pair(w, dir, &ra, &rb, level);
			store_rt_release(&rb);
		}
		store_rt_release(&ra);
	}
	return err;
}

/* Two fanout collections: direct entries, then bucket by bucket, equal
 * buckets skipped unread. */
static int diff_fanouts(struct walk *w, const char *dir, const struct rtree *ta,
			const struct rtree *tb)
{
	struct listing la = { 0 }, lb = { 0 };
	int err;

	err = tw_list(w, ta, false, &la);
	if (err == 0)
		err = tw_list(w, tb, false, &lb);
	if (err == 0)
		err = diff_lists(w, dir, &la, &lb);
	tw_listing_release(&la);
	tw_listing_release(&lb);
	return err ? err : diff_bucket_sets(w, dir, ta, tb, 0);
}

int tw_diff_dir(struct walk *w, const char *dir, const git_oid *a,
		const git_oid *b)
{
	struct rtree ta = { 0 }, tb = { 0 };
	struct listing la = { 0 }, lb = { 0 };
	int err;

	if (tw_same_id(a, b))
		return 0;
	err = tw_load(w, a, &ta);
	if (err == 0)
		err = tw_load(w, b, &tb);
	if (err == 0 && a && b && tw_plain_fanout(&ta) &&
	    tw_plain_fanout(&tb)) {
		err = diff_fanouts(w, dir, &ta, &tb);
	} else if (err == 0) {
		err = tw_list(w, a ? &ta : NULL, true, &la);
		if (err == 0)
			err = tw_list(w, b ? &tb : NULL, true, &lb);
		if (err == 0)
			err = diff_lists(w, dir, &la, &lb);
	}
	tw_listing_release(&la);
	tw_listing_release(&lb);
	store_rt_release(&ta);
	store_rt_release(&tb);
	return err;
}

int tw_root_tree(struct store *st, const struct store_oid *id, git_oid *out,
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
