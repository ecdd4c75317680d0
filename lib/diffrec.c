/* diffrec.c - a diff of two commits from what each commit on the way
 * changed (index/changes.h): from where their first-parent chains meet,
 * along each chain, the newest version of every file a side changed against
 * the version it had at the base. Only those files are compared and only
 * the ones that differ are read, so the cost follows the changes, where
 * the tree diff reads both versions of every bucket a change touched (a
 * bucket of a 100,000-document collection is ~15 KB). Where a commit on
 * the way has no record, or the chains are longer than WALK_MAX before
 * they meet, the caller diffs the trees instead. Every answer is checked for
 * consistency (a file's versions must follow each other on a side and
 * agree on the base); anything off falls back too. */
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "diffrec.h"
#include "lib_int.h"
#include "banned.h"

#define WALK_MAX 10000 /* commits a side, past which Git answers */

static int cmp_item(const void *pa, const void *pb)
{
	const struct lib_ritem *a = pa, *b = pb;
	int c = strcmp(a->path, b->path);

	if (c)
		return c;
	if (a->side != b->side)
		return a->side < b->side ? -1 : 1;
	return a->step < b->step ? -1 : a->step > b->step;
}

void lib_rec_sort(struct lib_rgather *g)
{
	if (g->n)
		qsort(g->v, g->n, sizeof(*g->v), cmp_item);
}

void lib_rgather_release(struct lib_rgather *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].path);
	free(g->v);
	memset(g, 0, sizeof(*g));
}

static bool under(const char *path, size_t plen, const char *prefix)
{
	size_t n = strlen(prefix);

	return !n || (plen >= n && !memcmp(path, prefix, n) &&
		      (plen == n || path[n] == '/'));
}

struct lib_ritem *lib_rgather_grow(struct lib_rgather *g)
{
	struct lib_ritem *it;

	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 256;

		if (!(it = realloc(g->v, cap * sizeof(*it))))
			return NULL;
		g->v = it;
		g->cap = cap;
	}
	it = &g->v[g->n];
	memset(it, 0, sizeof(*it));
	return it;
}

int lib_rec_add(struct lib_rgather *g, struct idx_db *idx,
		const struct store_oid *id, unsigned side, unsigned step,
		const char *prefix, bool plain)
{
	struct idx_changes rec;
	struct idx_changed f;
	int err = idx_changes_get(idx, id, &rec);

	if (err != 0)
		return err; /* 1: none */
	if (plain && !rec.plain)
		err = -EIO; /* modes unknown: no answer */
	while (err == 0 && (err = idx_changes_next(&rec, &f)) == 0) {
		struct lib_ritem *it;

		if (!under(f.path, f.plen, prefix))
			continue;
		if (!(it = lib_rgather_grow(g)) ||
		    !(it->path = strndup(f.path, f.plen))) {
			err = -ENOMEM;
			break;
		}
		g->n++;
		it->side = side;
		it->step = step;
		it->has_old = f.has_old;
		it->has_new = f.has_new;
		it->old = f.old;
		it->new = f.new;
	}
	idx_changes_release(&rec);
	/* 1 is its end. One that does not parse is no answer: Git gives
	 * one. */
	return err == 1 ? 0 : err == -EIO ? 1 : err;
}

/* The two first-parent chains, walked a commit a side in turn until one
 * reaches a commit the other has passed: their meeting point, the newest
 * common ancestor both chains hold (a merge base that only a second
 * parent reaches would leave the records of that side's merges unable to
 * say what changed against it). */
struct chains {
	struct store_oid *v[2]; /* each side's commits, newest first */
	size_t n[2], cap[2];
	struct store_oid *set; /* every commit walked, open addressing */
	unsigned char *side_of; /* 1 + side, 0: empty slot */
	size_t *at; /* its place in v[side] */
	size_t slots;
	bool met; /* false: both walked to their roots */
};

static size_t slot_of(const struct chains *w, const struct store_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	for (h &= w->slots - 1;
	     w->side_of[h] && !store_oid_equal(&w->set[h], id);
	     h = (h + 1) & (w->slots - 1))
		;
	return h;
}

static int chain_push(struct chains *w, unsigned side,
		      const struct store_oid *id)
{
	size_t h = slot_of(w, id);

	if (w->n[side] == w->cap[side]) {
		size_t cap = w->cap[side] ? 2 * w->cap[side] : 64;
		struct store_oid *v = realloc(w->v[side], cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v[side] = v;
		w->cap[side] = cap;
	}
	w->set[h] = *id;
	w->side_of[h] = (unsigned char)(1 + side);
	w->at[h] = w->n[side];
	w->v[side][w->n[side]++] = *id;
	return 0;
}

static void chains_release(struct chains *w)
{
	free(w->v[0]);
	free(w->v[1]);
	free(w->set);
	free(w->side_of);
	free(w->at);
}

/* Walk from A and B: 0 with each side's commits above the meeting point
 * in w->v (to their roots if they never meet), 1 past WALK_MAX, or
 * -errno. */
static int walk_chains(struct chains *w, struct store_chain *ch,
		       const struct store_oid *a, const struct store_oid *b)
{
	struct store_oid cur[2] = { *a, *b };
	bool live[2] = { true, true };
	struct store_chain_commit cc;
	int err;

	/* A power of two (the probe masks with slots - 1: 40,000 left it
	 * cycling through 64 slots, forever once they filled), at least
	 * twice the 2 * WALK_MAX commits it can hold. */
	for (w->slots = 1; w->slots < 4 * WALK_MAX; w->slots *= 2)
		;
	w->set = malloc(w->slots * sizeof(*w->set));
	w->side_of = calloc(w->slots, 1);
	w->at = malloc(w->slots * sizeof(*w->at));
	if (!w->set || !w->side_of || !w->at)
		return -ENOMEM;
	while (live[0] || live[1]) {
		for (unsigned s = 0; s < 2; s++) {
			size_t h;

			if (!live[s])
				continue;
			if (w->n[s] == WALK_MAX)
				return 1;
			h = slot_of(w, &cur[s]);
			if (w->side_of[h] == 2 - s) {
				/* Met: the other side stops there too. */
				w->n[!s] = w->at[h];
				w->met = true;
				return 0;
			}
			if (w->side_of[h]) /* a chain through itself? */
				return 1;
			if ((err = chain_push(w, s, &cur[s])) < 0 ||
			    (err = store_chain_commit(ch, &cur[s], &cc)) < 0)
				return err;
			live[s] = cc.has_parent;
			cur[s] = cc.parent;
		}
	}
	return 0; /* unrelated: both to their roots, the base empty */
}

int lib_rec_state(const struct lib_ritem *v, size_t i, size_t j, bool *has,
		  struct store_oid *id, bool *base_has,
		  struct store_oid *base_id)
{
	*has = v[i].has_new;
	*id = v[i].new;
	for (size_t k = i + 1; k < j; k++)
		if (v[k].has_new != v[k - 1].has_old ||
		    (v[k].has_new &&
		     !store_oid_equal(&v[k].new, &v[k - 1].old)))
			return 1;
	*base_has = v[j - 1].has_old;
	*base_id = v[j - 1].old;
	return 0;
}

/* One path of the diff: its versions at A and at B (they differ). */
static int emit(void *ctx, struct lib_ritem *it, bool ha,
		const struct store_oid *a, bool hb, const struct store_oid *b)
{
	struct lib_drec *r = ctx;
	struct store_tdiff_entry *e;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;

		if (!(e = realloc(r->v, cap * sizeof(*e))))
			return -ENOMEM;
		r->v = e;
		r->cap = cap;
	}
	e = &r->v[r->n++];
	memset(e, 0, sizeof(*e));
	e->path = it->path;
	it->path = NULL; /* now R's */
	e->op = !ha ? STORE_TDIFF_ADD :
		!hb ? STORE_TDIFF_DELETE :
		      STORE_TDIFF_MODIFY;
	if (ha) {
		e->old_blob = *a;
		e->old_mode = 0100644;
	}
	if (hb) {
		e->new_blob = *b;
		e->new_mode = 0100644;
	}
	return 0;
}

int lib_rec_path(const struct lib_rgather *g, size_t i, size_t *j,
		 struct lib_rpath *p)
{
	size_t k;

	memset(p, 0, sizeof(*p));
	for (*j = i; *j < g->n && !strcmp(g->v[*j].path, g->v[i].path); ++*j)
		;
	for (size_t s = i; s < *j; s = k) {
		unsigned side = g->v[s].side;

		for (k = s; k < *j && g->v[k].side == side; k++)
			;
		if (lib_rec_state(g->v, s, k, &p->has[side], &p->id[side],
				  &p->bhas[side], &p->bid[side]))
			return 1;
		p->seen[side] = true;
	}
	if (p->seen[0] && p->seen[1] &&
	    (p->bhas[0] != p->bhas[1] ||
	     (p->bhas[0] && !store_oid_equal(&p->bid[0], &p->bid[1]))))
		return 1; /* the sides disagree on the base */
	return 0;
}

int lib_rec_compose(struct lib_rgather *g, lib_rec_emit_fn fn, void *ctx)
{
	size_t i = 0;
	int err = 0;

	lib_rec_sort(g);
	while (i < g->n && err == 0) {
		struct lib_rpath p;
		size_t j;

		if (lib_rec_path(g, i, &j, &p))
			return 1;
		for (int s = 0; s < 2; s++)
			if (!p.seen[s]) {
				p.has[s] = p.bhas[!s];
				p.id[s] = p.bid[!s];
			}
		if (p.has[0] != p.has[1] ||
		    (p.has[0] && !store_oid_equal(&p.id[0], &p.id[1])))
			err = fn(ctx, &g->v[i], p.has[0], &p.id[0], p.has[1],
				 &p.id[1]);
		i = j;
	}
	return err;
}

int lib_rec_walk(struct lib_rgather *g, struct idx_db *idx,
		 struct store_chain *ch, const struct store_oid *a,
		 const struct store_oid *b, const char *prefix, bool plain,
		 bool *met)
{
	struct chains w = { 0 };
	int err = walk_chains(&w, ch, a, b);

	for (unsigned s = 0; s < 2 && err == 0; s++)
		for (size_t i = 0; i < w.n[s] && err == 0; i++)
			err = lib_rec_add(g, idx, &w.v[s][i], s, (unsigned)i,
					  prefix, plain);
	*met = w.met;
	chains_release(&w);
	return err;
}

int lib_diff_records(chronofs *db, const struct store_oid *a,
		     const struct store_oid *b, const char *prefix,
		     struct lib_drec *out)
{
	struct lib_rgather g = { 0 };
	struct idx_db *idx = NULL;
	struct store_chain *ch = NULL;
	bool met;
	int err;

	memset(out, 0, sizeof(*out));
	if (!prefix)
		prefix = "";
	/* A prefix the tree diff reads otherwise ("dir/", "a//b"). */
	if (*prefix && (prefix[strlen(prefix) - 1] == '/' ||
			strstr(prefix, "//") || *prefix == '/'))
		return 1;
	if ((err = lib_index_get_read(db, &idx)) < 0 || !idx) {
		store_error_clear();
		return 1; /* no index: the trees answer */
	}
	err = store_chain_open(&ch, db->st);
	if (err == 0)
		err = lib_rec_walk(&g, idx, ch, a, b, prefix, false, &met);
	store_chain_close(ch);
	lib_index_put(db, idx);
	if (err == 0)
		err = lib_rec_compose(&g, emit, out);
	lib_rgather_release(&g);
	if (err != 0)
		lib_drec_release(out);
	return err;
}

void lib_drec_release(struct lib_drec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free((char *)r->v[i].path);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
