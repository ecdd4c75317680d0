/* mergerec.c - a merge's entries (treemerge.h) from the commits' records
 * of changes (index/changes.h), not from the trees: for each side, every
 * file that differs between the merge base and the side's head, with
 * both versions, composed as a diff of two commits is (diffrec.c) from
 * the first-parent chains of the base and the head down to where they
 * meet (the base itself on a side's first merge). The trees' walk
 * reads the base's, ours' and theirs' version of every bucket both sides
 * changed, and the base's and theirs' of one only theirs changed (a
 * bucket of a 100,000-document collection is ~15 KB); from the records
 * no bucket is read here (store_merge_take_buckets reads the collection
 * trees to take whole a bucket only theirs changed, as the trees do),
 * and the build (mergebuild.c) reads only ours' of one both changed, to
 * splice. The base must be the merge base Git finds (a three-way merge
 * against any other commit is another merge): where the chains do not
 * meet within 10,000 commits, a commit has no record that gives its
 * modes, or the records do not follow each other, the trees answer. */
#include <stdlib.h>
#include <string.h>

#include "diffrec.h"
#include "mergerec.h"
#include "banned.h"

struct side_ctx {
	struct lib_rgather *g;
	unsigned side;
};

/* A file SIDE changed since the base: one item, its version at the base
 * as old, at the side's head as new (what one commit's record says). */
static int side_emit(void *ctx, struct lib_ritem *it, bool ha,
		     const struct store_oid *a, bool hb,
		     const struct store_oid *b)
{
	struct side_ctx *c = ctx;
	struct lib_ritem *n = lib_rgather_grow(c->g);

	if (!n)
		return -ENOMEM;
	n->path = it->path;
	it->path = NULL; /* now C->g's */
	c->g->n++;
	n->side = c->side;
	n->has_old = ha;
	n->has_new = hb;
	if (ha)
		n->old = *a;
	if (hb)
		n->new = *b;
	return 0;
}

/* What SIDE changed from BASE to HEAD, as diffrec.c diffs two commits:
 * the first-parent chains of BASE and HEAD walked to where they meet,
 * their records composed (BASE's reversed). Where BASE is on HEAD's
 * chain (a first merge) they meet at BASE: only HEAD's commits are read.
 * Else (the base a second parent on this side: a second merge the same
 * way) they meet further down, where the side's history left the base's.
 * 0, 1 if the records cannot say. */
static int gather_side(struct lib_rgather *g, struct idx_db *idx,
		       struct store_chain *ch, const struct store_oid *head,
		       const struct store_oid *base, unsigned side)
{
	struct lib_rgather w = { 0 };
	struct side_ctx c = { g, side };
	bool met = false;
	int err = lib_rec_walk(&w, idx, ch, base, head, "", true, &met);

	/* Never meeting: Git's base is an ancestor of HEAD, so the chains
	 * have other roots; the trees answer. */
	if (err == 0 && !met)
		err = 1;
	if (err == 0)
		err = lib_rec_compose(&w, side_emit, &c);
	lib_rgather_release(&w);
	return err;
}

static int add_entry(struct store_merge *m, size_t *cap, const char *path,
		     const bool has[3], const struct store_oid id[3])
{
	struct store_merge_entry *e;

	if (m->n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;

		if (!(e = realloc(m->v, c * sizeof(*e))))
			return -ENOMEM;
		m->v = e;
		*cap = c;
	}
	e = &m->v[m->n];
	memset(e, 0, sizeof(*e));
	if (!(e->path = strdup(path)))
		return -ENOMEM;
	for (int i = 0; i < 3; i++)
		if ((e->has[i] = has[i])) {
			e->blob[i] = id[i];
			e->mode[i] = 0100644; /* the records' version 1 */
		}
	e->action = has[STORE_MERGE_THEIRS_I] ? STORE_MERGE_THEIRS :
						STORE_MERGE_DELETE;
	m->n++;
	return 0;
}

static bool same(bool ha, const struct store_oid *a, bool hb,
		 const struct store_oid *b)
{
	return ha == hb && (!ha || store_oid_equal(a, b));
}

/* The gathered items (sorted) as M's entries: every path theirs changed
 * to a version ours does not have. 1 if the records disagree. */
static int compose(struct lib_rgather *g, struct store_merge *m)
{
	const int B = STORE_MERGE_BASE_I, O = STORE_MERGE_OURS_I,
		  T = STORE_MERGE_THEIRS_I;
	size_t i = 0, cap = 0;
	int err = 0;

	while (i < g->n && err == 0) {
		struct lib_rpath p;
		bool h[3];
		struct store_oid v[3];
		size_t j;

		/* One item a side (gather_side): base and head. */
		if (lib_rec_path(g, i, &j, &p))
			return 1;
		h[B] = p.bhas[1], v[B] = p.bid[1];
		h[T] = p.has[1], v[T] = p.id[1];
		h[O] = p.seen[0] ? p.has[0] : h[B];
		v[O] = p.seen[0] ? p.id[0] : v[B];
		/* As the trees' walk (treemerge.c file3): theirs unchanged,
		 * or changed as ours did, is no entry. */
		if (p.seen[1] && !same(h[T], &v[T], h[B], &v[B]) &&
		    !same(h[O], &v[O], h[T], &v[T]))
			err = add_entry(m, &cap, g->v[i].path, h, v);
		i = j;
	}
	return err;
}

int lib_merge_records(void *ctx, const struct store_oid *base,
		      const struct store_oid *ours,
		      const struct store_oid *theirs, struct store_merge *out)
{
	struct lib_mrec *r = ctx;
	struct lib_rgather g = { 0 };
	struct store_chain *ch = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = r->idx ? 0 : 1;
	if (err == 0)
		err = store_chain_open(&ch, r->st);
	if (err == 0)
		err = gather_side(&g, r->idx, ch, ours, base, 0);
	if (err == 0)
		err = gather_side(&g, r->idx, ch, theirs, base, 1);
	store_chain_close(ch);
	if (err == 0) {
		lib_rec_sort(&g);
		err = compose(&g, out);
	}
	/* The buckets only theirs changed taken whole, as the trees do. */
	if (err == 0)
		err = store_merge_take_buckets(out, r->st, base, ours, theirs);
	lib_rgather_release(&g);
	if (err != 0)
		store_merge_release(out);
	if (err == 1)
		store_error_clear();
	if (err == 1 && r->only)
		err = store_fail(-ENODATA, "the change records cannot answer");
	return err;
}
