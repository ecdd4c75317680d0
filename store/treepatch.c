/* treepatch.c - the trees of a one-path change, written by splicing.
 *
 * A save changes one path. libgit2's git_tree_create_updated loads every
 * entry of each tree on the way into a tree builder (a hash table), sorts
 * them again and writes through the object database's existence checks:
 * for a collection of 1,000 documents that was two thirds of a save. Here
 * each tree on the path is rewritten from its bytes with the one entry
 * replaced, added or dropped, hashed, and written by the pool-fed writer
 * (objwrite.c). The bytes of the trees written last are kept with their
 * entries' offsets (the memo), so the next save into the same collection
 * finds its place by binary search and copies; other trees are serialized
 * from their parsed entries. A tree left empty by a removal is dropped
 * from its parent, as git_tree_create_updated does. Changes of several
 * paths (a reshard) still go through libgit2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define MAX_DEPTH 64

struct buf {
	char *p;
	size_t len, cap;
};

static int put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		if (!(p = realloc(b->p, cap)))
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int put_entry(struct buf *b, git_filemode_t mode, const char *name,
		     const git_oid *id)
{
	char head[16], *h = head + sizeof(head);
	unsigned m = (unsigned)mode;
	int err;

	/* "%o " by hand: this runs for every entry of every tree a save
	 * rewrites. */
	*--h = ' ';
	do {
		*--h = (char)('0' + (m & 7));
		m >>= 3;
	} while (m);
	err = put(b, h, (size_t)(head + sizeof(head) - h));

	if (err == 0)
		err = put(b, name, strlen(name) + 1);
	if (err == 0)
		err = put(b, id->id, GIT_OID_RAWSZ);
	return err;
}

/* Git's tree order: names compared bytewise, a tree's name as if it ended
 * in '/'. */
static int order(const char *a, bool adir, const char *b, bool bdir)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
	int c = memcmp(a, b, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = la > n ? (unsigned char)a[n] : adir ? '/' : 0;
	cb = lb > n ? (unsigned char)b[n] : bdir ? '/' : 0;
	return ca < cb ? -1 : ca > cb;
}

/* The bytes of tree T and its entries' offsets: from the memo when this
 * process wrote T, else serialized from its parsed entries. */
static int source(struct store *st, const git_tree *t, struct tree_bytes *out,
		  bool *borrowed)
{
	struct store_treememo *m = st->treememo;
	size_t n = t ? git_tree_entrycount(t) : 0;
	struct buf b = {0};
	int err = 0;

	memset(out, 0, sizeof(*out));
	*borrowed = false;
	for (size_t i = 0; t && m && i < TREE_MEMO; i++)
		if (m->v[i].p && git_oid_equal(&m->v[i].id, git_tree_id(t))) {
			*out = m->v[i];
			*borrowed = true;
			return 0;
		}
	if (!(out->off = malloc((n + 1) * sizeof(*out->off))))
		return -ENOMEM;
	for (size_t i = 0; i < n && err == 0; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);

		out->off[i] = b.len;
		err = put_entry(&b, git_tree_entry_filemode(e),
				git_tree_entry_name(e), git_tree_entry_id(e));
	}
	out->off[n] = b.len;
	out->n = n;
	out->p = b.p;
	out->len = b.len;
	return err;
}

static void bytes_free(struct tree_bytes *t)
{
	free(t->p);
	free(t->off);
	memset(t, 0, sizeof(*t));
}

/* Keep T (its buffers move to the memo). */
static void memo_put(struct store *st, struct tree_bytes *t)
{
	struct store_treememo *m = st->treememo;

	if (!m && !(m = st->treememo = calloc(1, sizeof(*m)))) {
		bytes_free(t);
		return;
	}
	bytes_free(&m->v[m->next]);
	m->v[m->next] = *t;
	m->next = (m->next + 1) % TREE_MEMO;
	memset(t, 0, sizeof(*t));
}

void store_treememo_free(struct store *st)
{
	if (!st->treememo)
		return;
	for (size_t i = 0; i < TREE_MEMO; i++)
		bytes_free(&st->treememo->v[i]);
	free(st->treememo);
	st->treememo = NULL;
}

/* Entry I of T: its name, and whether it is a tree. */
static const char *entry_name(const struct tree_bytes *t, size_t i, bool *dir)
{
	const char *e = t->p + t->off[i];
	const char *sp = memchr(e, ' ', t->off[i + 1] - t->off[i]);

	*dir = sp && sp - e == 5 && !memcmp(e, "40000", 5);
	return sp ? sp + 1 : e;
}

/* The first entry of T not before NAME (as a tree if DIR). */
static size_t lower_bound(const struct tree_bytes *t, const char *name,
			  bool dir)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		bool edir;
		const char *en = entry_name(t, mid, &edir);

		if (order(en, edir, name, dir) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The entry of T named NAME (a tree or not), or T->n. */
static size_t find(const struct tree_bytes *t, const char *name)
{
	for (int dir = 0; dir < 2; dir++) {
		size_t i = lower_bound(t, name, dir);
		bool edir;

		if (i < t->n && !strcmp(entry_name(t, i, &edir), name))
			return i;
	}
	return t->n;
}

/* T (NULL: a new tree) with entry NAME set to ID/MODE, or removed if ID is
 * NULL, written; *out its id, *empty if it has no entry left (then it is
 * not written, unless it is the root: ROOT). The old entry is cut out of
 * T's bytes and the new one spliced in where git's order puts it. */
static int patch(struct store *st, const git_tree *t, const char *name,
		 const git_oid *id, git_filemode_t mode, bool root,
		 git_oid *out, bool *empty)
{
	struct tree_bytes src, dst = {0};
	struct buf ent = {0};
	bool borrowed;
	size_t rem, ins = 0, r0 = 0, r1 = 0, at, k = 0;
	int err = source(st, t, &src, &borrowed);

	if (err < 0)
		goto out;
	rem = find(&src, name);
	if (rem < src.n) {
		r0 = src.off[rem];
		r1 = src.off[rem + 1];
	}
	if (id) {
		ins = lower_bound(&src, name, mode == GIT_FILEMODE_TREE);
		if ((err = put_entry(&ent, mode, name, id)) < 0)
			goto out;
	}
	dst.n = src.n - (rem < src.n) + (id != NULL);
	dst.len = src.len - (r1 - r0) + ent.len;
	dst.p = malloc(dst.len ? dst.len : 1);
	dst.off = malloc((dst.n + 1) * sizeof(*dst.off));
	if (!dst.p || !dst.off) {
		err = -ENOMEM;
		goto out;
	}
	at = 0;
	for (size_t i = 0; i <= src.n; i++) {
		if (id && i == ins) {
			dst.off[k++] = at;
			memcpy(dst.p + at, ent.p, ent.len);
			at += ent.len;
		}
		if (i == src.n)
			break;
		if (i == rem)
			continue;
		dst.off[k++] = at;
		memcpy(dst.p + at, src.p + src.off[i],
		       src.off[i + 1] - src.off[i]);
		at += src.off[i + 1] - src.off[i];
	}
	dst.off[k] = at;
	*empty = dst.n == 0;
	if (dst.n > 0 || root) {
		err = store_object_hash(out, dst.p, dst.len, GIT_OBJECT_TREE);
		if (err == 0)
			err = store_object_write(st, out, dst.p, dst.len,
						 GIT_OBJECT_TREE);
		if (err == 0) {
			dst.id = *out;
			memo_put(st, &dst);
		}
	}
out:
	if (!borrowed)
		bytes_free(&src);
	bytes_free(&dst);
	free(ent.p);
	return err;
}

int store_tree_patch(struct store *st, git_tree *root, const char *path,
		     const git_oid *id, git_filemode_t mode, git_oid *out)
{
	git_tree *trees[MAX_DEPTH] = {root};
	char *comp[MAX_DEPTH];
	char *copy = strdup(path), *save = NULL, *c;
	size_t depth = 0;
	git_oid cur;
	bool empty = false, have = id != NULL;
	int err = copy ? 0 : -ENOMEM;

	/* trees[k] is the tree that holds comp[k] (NULL: not there yet). */
	for (c = copy ? strtok_r(copy, "/", &save) : NULL; c && err == 0;
	     c = strtok_r(NULL, "/", &save)) {
		if (depth == MAX_DEPTH)
			err = store_fail(-ENAMETOOLONG, "%s: too deep", path);
		else
			comp[depth++] = c;
	}
	for (size_t k = 1; k < depth && err == 0; k++) {
		const git_tree_entry *e =
			trees[k - 1] ? git_tree_entry_byname(trees[k - 1],
							     comp[k - 1])
				     : NULL;

		trees[k] = NULL;
		if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE &&
		    git_tree_lookup(&trees[k], st->repo,
				    git_tree_entry_id(e)) < 0)
			err = store_git_fail(-1, comp[k - 1]);
	}
	if (err == 0 && depth == 0)
		err = store_fail(-EINVAL, "empty path");
	if (have)
		cur = *id;
	for (size_t k = depth; k-- > 0 && err == 0;) {
		err = patch(st, trees[k], comp[k], have ? &cur : NULL,
			    mode, k == 0, &cur, &empty);
		have = !empty;
		mode = GIT_FILEMODE_TREE;
	}
	if (err == 0)
		*out = cur;
	for (size_t k = 1; k < depth; k++)
		git_tree_free(trees[k]);
	free(copy);
	return err;
}
