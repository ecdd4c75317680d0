/* rawdiff.c - the documents one tree changed against another, from raw
 * trees (chain.c): what store_diff_parent reports, by the rules of
 * treemerge.c's diff (logical paths, a fanout collection's buckets
 * opened and equal ones skipped, equal subtrees skipped unread), walking
 * Git's own order instead of sorting every listing again. Each change
 * goes to the callback as it is found (not in path order): a commit of a
 * million documents is never held whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chain_int.h"
#include "banned.h"

struct rd {
	struct store_chain *ch;
	struct store_missing *missing; /* NULL: a missing tree fails */
	store_diff_cb cb;
	void *ctx;
	char *path; /* the directory being compared */
	size_t plen, pcap;
};

/* A listing: a tree's own entries (borrowed), or a fanout collection's
 * logical ones (owned copies, sorted). */
struct rlist {
	struct rent *v;
	size_t n;
	bool owned;
	struct ctree **held; /* buckets the copies point into */
	size_t nheld;
};

static bool is_blob(unsigned mode)
{
	return mode == GIT_FILEMODE_BLOB ||
	       mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

static bool is_bucket(const struct rent *e)
{
	static const char hex[] = "0123456789abcdef";

	return rent_is_tree(e) && e->nlen == 2 && memchr(hex, e->name[0], 16) &&
	       memchr(hex, e->name[1], 16);
}

static bool is_marker(const struct rent *e)
{
	return e->nlen == sizeof(LAYOUT_MARKER) - 1 &&
	       !memcmp(e->name, LAYOUT_MARKER, e->nlen);
}

/* Append "/NAME" (or NAME at the root) to the path; the old length. */
static int path_push(struct rd *d, const struct rent *e, size_t *old)
{
	size_t need = d->plen + 1 + e->nlen + 1;

	*old = d->plen;
	if (need > d->pcap) {
		size_t cap = d->pcap ? 2 * d->pcap : 256;
		char *p;

		while (cap < need)
			cap *= 2;
		if (!(p = realloc(d->path, cap)))
			return -ENOMEM;
		d->path = p;
		d->pcap = cap;
	}
	if (d->plen)
		d->path[d->plen++] = '/';
	memcpy(d->path + d->plen, e->name, e->nlen);
	d->plen += e->nlen;
	d->path[d->plen] = '\0';
	return 0;
}

static void path_pop(struct rd *d, size_t old)
{
	d->plen = old;
	if (d->path)
		d->path[old] = '\0';
}

/* Tree RAW (a reference, or NULL when absent). A tree missing from the
 * repository reads as empty where the caller asked (store_diff_parent's
 * partial diff): noted, the first one kept. */
static int get_tree(struct rd *d, const unsigned char *raw, struct ctree **out)
{
	git_oid id;
	int err;

	git_oid_fromraw(&id, raw);
	err = chain_tree_get(d->ch, &id, out);
	if (err != -ENOENT || !d->missing)
		return err;
	store_error_clear();
	if (!d->missing->any)
		memcpy(d->missing->id.id, raw, STORE_OID_RAWSZ);
	d->missing->any = true;
	return 0;
}

/* File NAME of the directory going from A to B (either NULL). */
static int emit(struct rd *d, const struct rent *a, const struct rent *b)
{
	bool has_old = a && is_blob(rent_mode(a));
	bool has_new = b && is_blob(rent_mode(b));
	struct store_oid o, n;
	size_t old;
	int err;

	bool same = a && b && rent_mode(a) == rent_mode(b) &&
		    !memcmp(a->id, b->id, GIT_OID_RAWSZ);

	if (!same && d->missing &&
	    ((a && !has_old) || (b && !has_new) ||
	     (has_old && has_new && rent_mode(a) != rent_mode(b))))
		d->missing->skipped = true;
	if (!has_old && !has_new)
		return 0;
	if (has_old && has_new && !memcmp(a->id, b->id, GIT_OID_RAWSZ))
		return 0; /* equal, or a mode change only */
	if (d->missing && ((has_old && rent_mode(a) != GIT_FILEMODE_BLOB) ||
			   (has_new && rent_mode(b) != GIT_FILEMODE_BLOB)))
		d->missing->exec = true;
	if ((err = path_push(d, a ? a : b, &old)) < 0)
		return err;
	if (has_old)
		memcpy(o.id, a->id, GIT_OID_RAWSZ);
	if (has_new)
		memcpy(n.id, b->id, GIT_OID_RAWSZ);
	err = d->cb(d->ctx, d->path, has_old ? &o : NULL, has_new ? &n : NULL);
	path_pop(d, old);
	return err;
}

static int diff_dir(struct rd *d, const unsigned char *a,
		    const unsigned char *b);

/* Entry NAME (A and/or B) of the directory. */
static int diff_pair(struct rd *d, const struct rent *a, const struct rent *b)
{
	size_t old;
	int err = 0;

	if (rent_is_tree(a) || rent_is_tree(b)) {
		if ((err = path_push(d, a ? a : b, &old)) < 0)
			return err;
		err = diff_dir(d, rent_is_tree(a) ? a->id : NULL,
			       rent_is_tree(b) ? b->id : NULL);
		path_pop(d, old);
	}
	if (err == 0 && ((a && !rent_is_tree(a)) || (b && !rent_is_tree(b))))
		err = emit(d, a && !rent_is_tree(a) ? a : NULL,
			   b && !rent_is_tree(b) ? b : NULL);
	return err;
}

/* Two listings in Git's order, side by side. */
static int diff_lists(struct rd *d, const struct rlist *la,
		      const struct rlist *lb)
{
	size_t i = 0, j = 0;
	int err = 0;

	while (err == 0 && (i < la->n || j < lb->n)) {
		int c = i == la->n ? 1 :
			j == lb->n ? -1 :
				     rent_cmp(&la->v[i], &lb->v[j]);

		if (c == 0)
			err = diff_pair(d, &la->v[i++], &lb->v[j++]);
		else if (c < 0)
			err = diff_pair(d, &la->v[i++], NULL);
		else
			err = diff_pair(d, NULL, &lb->v[j++]);
	}
	return err;
}

static void list_release(struct store_chain *ch, struct rlist *l)
{
	for (size_t i = 0; i < l->nheld; i++)
		chain_tree_put(ch, l->held[i]);
	free(l->held);
	if (l->owned)
		free(l->v);
	memset(l, 0, sizeof(*l));
}

static int list_add(struct rlist *l, const struct rent *e, size_t *cap)
{
	if (l->n == *cap) {
		struct rent *v;

		*cap = *cap ? 2 * *cap : 64;
		if (!(v = realloc(l->v, *cap * sizeof(*v))))
			return -ENOMEM;
		l->v = v;
	}
	l->v[l->n++] = *e;
	return 0;
}

static int cmp_rent(const void *a, const void *b)
{
	return rent_cmp(a, b);
}

static int cmp_name(const void *a, const void *b)
{
	const struct rent *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->nlen < y->nlen ? x->nlen : y->nlen);

	return c ? c : x->nlen < y->nlen ? -1 : x->nlen > y->nlen;
}

static int add_bucket(struct rd *d, struct rlist *l, const unsigned char *raw,
		      unsigned level, size_t nd, size_t *cap);

/* The files of bucket tree BT (of LEVEL; a split bucket's are those of
 * its sub-buckets, nothing else of it is part of the layout) into L, but
 * those L's first ND entries (sorted by name) shadow. */
static int add_files(struct rd *d, struct rlist *l, const struct ctree *bt,
		     unsigned level, size_t nd, size_t *cap)
{
	int err = 0;

	for (size_t k = 0; err == 0 && k < bt->n; k++) {
		const struct rent *e = &bt->v[k];

		if (level == 0 && bt->fanout) {
			if (is_bucket(e))
				err = add_bucket(d, l, e->id, 1, nd, cap);
		} else if (!rent_is_tree(e) &&
			   !(nd &&
			     bsearch(e, l->v, nd, sizeof(*l->v), cmp_name))) {
			err = list_add(l, e, cap);
		}
	}
	return err;
}

/* Bucket RAW read and held by L, its files into L (add_files). */
static int add_bucket(struct rd *d, struct rlist *l, const unsigned char *raw,
		      unsigned level, size_t nd, size_t *cap)
{
	struct ctree **h, *bt;
	int err;

	if (!(h = realloc(l->held, (l->nheld + 1) * sizeof(*h))))
		return -ENOMEM;
	l->held = h;
	if ((err = get_tree(d, raw, &bt)) < 0 || !bt)
		return err;
	l->held[l->nheld++] = bt;
	return add_files(d, l, bt, level, nd, cap);
}

/* T's logical entries (T NULL: none): a plain tree's own; a fanout
 * collection's direct ones without buckets and marker, with the files of
 * its buckets too when BUCKETS, but for those a direct entry shadows
 * (store_layout_bucketed). */
static int list_logical(struct rd *d, const struct ctree *t, bool buckets,
			struct rlist *l)
{
	size_t cap = 0, nd;
	int err = 0;

	memset(l, 0, sizeof(*l));
	if (!t)
		return 0;
	if (!t->fanout) {
		l->v = t->v;
		l->n = t->n;
		return 0;
	}
	l->owned = true;
	for (size_t i = 0; err == 0 && i < t->n; i++)
		if (!is_bucket(&t->v[i]) && !is_marker(&t->v[i]))
			err = list_add(l, &t->v[i], &cap);
	nd = l->n;
	if (nd > 1)
		qsort(l->v, nd, sizeof(*l->v), cmp_name);
	for (size_t i = 0; buckets && err == 0 && i < t->n; i++)
		if (is_bucket(&t->v[i]))
			err = add_bucket(d, l, t->v[i].id, 0, nd, &cap);
	if (err == 0 && l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_rent);
	return err;
}

/* The files of bucket A against bucket B (either NULL; sub-trees are no
 * part of the layout), in the collection's directory. */
static int diff_buckets(struct rd *d, const struct ctree *a,
			const struct ctree *b)
{
	size_t na = a ? a->n : 0, nb = b ? b->n : 0, i = 0, j = 0;
	int err = 0;

	while (err == 0 && (i < na || j < nb)) {
		const struct rent *ea = i < na ? &a->v[i] : NULL;
		const struct rent *eb = j < nb ? &b->v[j] : NULL;
		int c;

		if (rent_is_tree(ea) || rent_is_tree(eb)) {
			i += rent_is_tree(ea);
			j += rent_is_tree(eb);
			continue;
		}
		c = !ea ? 1 : !eb ? -1 : rent_cmp(ea, eb);
		err = emit(d, c <= 0 ? ea : NULL, c >= 0 ? eb : NULL);
		i += c <= 0;
		j += c >= 0;
	}
	return err;
}

static unsigned hexval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/* T's bucket trees by number (the first of a name, as byname finds). */
static void buckets_of(const struct ctree *t, const struct rent *out[256])
{
	for (size_t i = 0; i < t->n; i++) {
		const struct rent *e = &t->v[i];
		unsigned k;

		if (!is_bucket(e))
			continue;
		k = hexval(e->name[0]) * 16 + hexval(e->name[1]);
		if (!out[k])
			out[k] = e;
	}
}

/* The files of bucket T (of LEVEL; NULL: none), sorted. */
static int bucket_files(struct rd *d, const struct ctree *t, unsigned level,
			struct rlist *l)
{
	size_t cap = 0;
	int err = 0;

	memset(l, 0, sizeof(*l));
	l->owned = true;
	if (t)
		err = add_files(d, l, t, level, 0, &cap);
	if (err == 0 && l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_rent);
	return err;
}

static int diff_bucket_sets(struct rd *d, const struct ctree *ta,
			    const struct ctree *tb, unsigned level);

/* Bucket X against bucket Y (of LEVEL; either NULL): two split ones
 * sub-bucket by sub-bucket, a split one against a plain one by their
 * files, two plain ones entry by entry. */
static int diff_bucket_pair(struct rd *d, const struct ctree *x,
			    const struct ctree *y, unsigned level)
{
	bool sx = level == 0 && x && x->fanout;
	bool sy = level == 0 && y && y->fanout;
	struct rlist lx, ly;
	int err;

	if (sx && sy)
		return diff_bucket_sets(d, x, y, 1);
	if (!sx && !sy)
		return diff_buckets(d, x, y);
	err = bucket_files(d, x, level, &lx);
	if (err == 0) {
		err = bucket_files(d, y, level, &ly);
		if (err == 0)
			err = diff_lists(d, &lx, &ly);
		list_release(d->ch, &ly);
	}
	list_release(d->ch, &lx);
	return err;
}

/* The buckets of fanout trees TA and TB (of LEVEL) side by side, equal
 * ones skipped unread. */
static int diff_bucket_sets(struct rd *d, const struct ctree *ta,
			    const struct ctree *tb, unsigned level)
{
	const struct rent *ba[256] = { 0 }, *bb[256] = { 0 };
	int err = 0;

	buckets_of(ta, ba);
	buckets_of(tb, bb);
	for (unsigned k = 0; k < 256 && err == 0; k++) {
		struct ctree *x = NULL, *y = NULL;

		if ((!ba[k] && !bb[k]) ||
		    (ba[k] && bb[k] &&
		     !memcmp(ba[k]->id, bb[k]->id, GIT_OID_RAWSZ)))
			continue;
		if (ba[k])
			err = get_tree(d, ba[k]->id, &x);
		if (err == 0 && bb[k])
			err = get_tree(d, bb[k]->id, &y);
		if (err == 0)
			err = diff_bucket_pair(d, x, y, level);
		chain_tree_put(d->ch, x);
		chain_tree_put(d->ch, y);
	}
	return err;
}

/* Two fanout collections: direct entries, then bucket by bucket, equal
 * buckets skipped unread. */
static int diff_fanouts(struct rd *d, const struct ctree *ta,
			const struct ctree *tb)
{
	struct rlist la = { 0 }, lb = { 0 };
	int err;

	err = list_logical(d, ta, false, &la);
	if (err == 0)
		err = list_logical(d, tb, false, &lb);
	if (err == 0)
		err = diff_lists(d, &la, &lb);
	list_release(d->ch, &la);
	list_release(d->ch, &lb);
	return err ? err : diff_bucket_sets(d, ta, tb, 0);
}

/* The directory (the path so far) from tree A to tree B (raw ids; NULL:
 * absent). */
static int diff_dir(struct rd *d, const unsigned char *a,
		    const unsigned char *b)
{
	struct ctree *ta = NULL, *tb = NULL;
	struct rlist la = { 0 }, lb = { 0 };
	int err = 0;

	if (a && b && !memcmp(a, b, GIT_OID_RAWSZ))
		return 0;
	if (a)
		err = get_tree(d, a, &ta);
	if (err == 0 && b)
		err = get_tree(d, b, &tb);
	/* Bucket by bucket only with nothing beside the buckets: a file
	 * there shadows its bucket's copy. */
	if (err == 0 && ta && tb && ta->fanout && tb->fanout && !ta->direct &&
	    !tb->direct) {
		err = diff_fanouts(d, ta, tb);
	} else if (err == 0) {
		err = list_logical(d, ta, true, &la);
		if (err == 0)
			err = list_logical(d, tb, true, &lb);
		if (err == 0)
			err = diff_lists(d, &la, &lb);
	}
	list_release(d->ch, &la);
	list_release(d->ch, &lb);
	chain_tree_put(d->ch, ta);
	chain_tree_put(d->ch, tb);
	return err;
}

int store_chain_diff(struct store_chain *ch, const struct store_oid *old_tree,
		     const struct store_oid *new_tree, store_diff_cb cb,
		     void *ctx, struct store_missing *missing)
{
	struct rd d = { .ch = ch, .missing = missing, .cb = cb, .ctx = ctx };
	int err;

	if (missing)
		missing->any = missing->skipped = missing->exec = false;
	err = diff_dir(&d, old_tree ? old_tree->id : NULL,
		       new_tree ? new_tree->id : NULL);
	free(d.path);
	return err;
}
