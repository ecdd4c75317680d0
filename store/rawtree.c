/* rawtree.c - trees read as their bytes for the tree walks of diffs and
 * merges (treediff.c, treemerge.c, mergebuild.c), and buckets rewritten
 * by splicing those bytes.
 *
 * A walk of a fanout collection meets a few hundred bucket trees of ~400
 * entries. libgit2's tree objects copy every entry into an array of its
 * own (and its tree builder prints each entry's mode again when it
 * writes); here the object database's bytes are used in place: one
 * array of pointers into them per tree, no copy, and a rewritten bucket
 * is the old bytes with the changed entries cut out and spliced in. All
 * under st->lock. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

/* The first NUL in [P, END), or END. Names are short (a loop beats
 * memchr's setup), and followed by an id, so eight bytes at a time are
 * read where eight are left: this runs for every entry of every bucket. */
static const unsigned char *find_nul(const unsigned char *p,
				     const unsigned char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull;

	for (; end - p >= 8; p += 8) {
		uint64_t w, z;

		memcpy(&w, p, 8);
		/* The lowest flagged byte is the first zero byte. */
		z = (w - ones) & ~w & (ones << 7);
		if (z)
			return p + (__builtin_ctzll(z) >> 3);
	}
#endif
	while (p < end && *p)
		p++;
	return p;
}

int store_rt_read(struct store *st, const git_oid *id, struct rtree *out)
{
	const unsigned char *p, *end;
	size_t cap;
	int err;

	memset(out, 0, sizeof(*out));
	if (!id)
		return 0;
	err = git_odb_read(&out->obj, st->odb, id);
	if (err < 0)
		return store_git_fail(err, "tree");
	if (git_odb_object_type(out->obj) != GIT_OBJECT_TREE) {
		store_rt_release(out);
		return store_fail(-EIO, "%s is not a tree",
				  git_oid_tostr_s(id));
	}
	p = git_odb_object_data(out->obj);
	end = p + git_odb_object_size(out->obj);
	/* The shortest entry is "1 x\0" and an id: 24 bytes. */
	cap = (size_t)(end - p) / 24 + 1;
	if (!(out->v = malloc(cap * sizeof(*out->v)))) {
		store_rt_release(out);
		return -ENOMEM;
	}
	while (p < end) {
		struct rt_entry *e = &out->v[out->n];
		const unsigned char *nul;

		e->start = p;
		e->mode = 0;
		/* The modes of documents and directories, without the
		 * digit loop (this runs for every entry of every bucket). */
		if (end - p > 7 && !memcmp(p, "100644 ", 7)) {
			e->mode = GIT_FILEMODE_BLOB;
			p += 6;
		} else if (end - p > 6 && !memcmp(p, "40000 ", 6)) {
			e->mode = GIT_FILEMODE_TREE;
			p += 5;
		}
		for (; p < end && *p >= '0' && *p <= '7'; p++)
			e->mode = e->mode * 8 + (unsigned)(*p - '0');
		if (p == end || p == e->start || *p != ' ' || out->n == cap)
			break;
		e->name = (const char *)++p;
		nul = find_nul(p, end);
		if (nul == end || nul == p ||
		    (size_t)(end - nul) <= GIT_OID_RAWSZ)
			break;
		e->id = nul + 1;
		e->nlen = (size_t)(nul - p);
		p = nul + 1 + GIT_OID_RAWSZ;
		out->n++;
	}
	if (p != end) {
		store_rt_release(out);
		return store_fail(-EIO, "tree %s is malformed",
				  git_oid_tostr_s(id));
	}
	return 0;
}

void store_rt_release(struct rtree *t)
{
	if (!t)
		return;
	git_odb_object_free(t->obj);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

int store_rt_order(const char *a, size_t la, bool adir, const char *b,
		   size_t lb, bool bdir)
{
	size_t n = la < lb ? la : lb;
	int c = memcmp(a, b, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = la > n ? (unsigned char)a[n] : adir ? '/' : 0;
	cb = lb > n ? (unsigned char)b[n] : bdir ? '/' : 0;
	return ca < cb ? -1 : ca > cb;
}

/* The first entry of T not before NAME (as a tree if DIR). */
static size_t lower_bound(const struct rtree *t, const char *name, size_t len,
			  bool dir)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rt_entry *e = &t->v[mid];

		if (store_rt_order(e->name, e->nlen, store_rt_is_tree(e), name,
				   len, dir) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct rt_entry *store_rt_find(const struct rtree *t, const char *name,
				     bool dir)
{
	size_t len = strlen(name), i = lower_bound(t, name, len, dir);

	return i < t->n && t->v[i].nlen == len &&
			       !memcmp(t->v[i].name, name, len) &&
			       store_rt_is_tree(&t->v[i]) == dir ?
		       &t->v[i] :
		       NULL;
}

bool store_rt_is_fanout(const struct rtree *t)
{
	return t && store_rt_find(t, LAYOUT_MARKER, false);
}

static int cmp_update(const void *a, const void *b)
{
	const struct rt_update *x = a, *y = b;

	return store_rt_order(x->name, strlen(x->name),
			      x->mode == GIT_FILEMODE_TREE, y->name,
			      strlen(y->name), y->mode == GIT_FILEMODE_TREE);
}

/* Entry E's bytes to B, as they are. */
static int put_old(struct store_tb_buf *b, const struct rt_entry *e)
{
	return store_tb_put(b, e->start,
			    (size_t)(e->id + GIT_OID_RAWSZ - e->start));
}

int store_rt_splice(struct store *st, const struct rtree *t,
		    struct rt_update *u, size_t n, git_oid *out, bool *empty)
{
	struct store_tb_buf b = { 0 };
	size_t i = 0, j = 0, kept = 0;
	int err = 0;

	qsort(u, n, sizeof(*u), cmp_update);
	while (err == 0 && (i < t->n || j < n)) {
		const struct rt_entry *e = i < t->n ? &t->v[i] : NULL;
		int c = !e    ? 1 :
			j < n ? store_rt_order(e->name, e->nlen,
					       store_rt_is_tree(e), u[j].name,
					       strlen(u[j].name),
					       u[j].mode == GIT_FILEMODE_TREE) :
				-1;

		if (c < 0) {
			err = put_old(&b, e);
			kept++;
			i++;
			continue;
		}
		if (u[j].id) {
			err = store_tb_put_entry(&b, u[j].mode, u[j].name,
						 u[j].id);
			kept++;
		}
		i += c == 0;
		j++;
	}
	*empty = kept == 0;
	if (err == 0 && kept)
		err = store_object_hash(out, b.p, b.len, GIT_OBJECT_TREE);
	if (err == 0 && kept)
		err = store_object_write(st, out, b.p, b.len, GIT_OBJECT_TREE);
	free(b.p);
	return err;
}
