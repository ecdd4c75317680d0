/* mergetakes.c - the takes of a merge whose entries came from elsewhere
 * (store_merge_take_buckets, treemerge.h): a bucket only theirs changed
 * becomes theirs' bucket whole, as treemerge.c's merge_fanouts decides,
 * so the build (mergebuild.c) neither reads ours' copy of it nor writes a
 * new one. Only the directory trees down to each collection are read
 * (a collection tree is its 256 bucket ids), never a bucket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treewalk.h"
#include "treemerge.h"
#include "banned.h"

enum {
	B = STORE_MERGE_BASE_I,
	O = STORE_MERGE_OURS_I,
	T = STORE_MERGE_THEIRS_I
};

/* One logical directory on the three sides. */
struct dir3 {
	git_oid id[3];
	bool has[3];
	struct rtree r[3]; /* read by find_dir */
};

static const git_oid *id_of(const struct dir3 *d, int k)
{
	return d->has[k] ? &d->id[k] : NULL;
}

static void dir3_release(struct dir3 *d)
{
	for (int k = 0; k < 3; k++)
		store_rt_release(&d->r[k]);
}

/* Subdirectory NAME of T as the trees' walk finds it: a tree among T's
 * entries, a fanout collection's buckets aside. */
static const struct rt_entry *sub_dir(const struct rtree *t, const char *name)
{
	const struct rt_entry *e = store_rt_find(t, name, true);

	return e && !(store_rt_is_fanout(t) && tw_is_bucket(e)) ? e : NULL;
}

/* D (the root's ids set) down to logical directory DIR, its three trees
 * left read in D->r. 1 if the trees' walk would not get there (a tree on
 * the way theirs has as the base or as ours has it): the entries there
 * are wrong. */
static int find_dir(struct walk *w, const char *dir, struct dir3 *d)
{
	const char *p = dir;
	char *name;
	int err = 0;

	for (;;) {
		const char *s = strchr(p, '/');
		size_t len = s ? (size_t)(s - p) : strlen(p);

		if (tw_same_id(id_of(d, T), id_of(d, B)) ||
		    tw_same_id(id_of(d, O), id_of(d, T)))
			return 1;
		for (int k = 0; k < 3 && err == 0; k++)
			err = tw_load(w, id_of(d, k), &d->r[k]);
		if (err < 0 || !*p)
			return err;
		if (!(name = strndup(p, len)))
			return -ENOMEM;
		for (int k = 0; k < 3; k++) {
			const struct rt_entry *e = sub_dir(&d->r[k], name);

			if ((d->has[k] = e != NULL))
				memcpy(d->id[k].id, e->id, GIT_OID_RAWSZ);
		}
		free(name);
		dir3_release(d);
		p += len + (s != NULL);
	}
}

/* The takes of collection DIR (its trees in D) for entries E[0..N) of
 * it: 0, 1 if the trees would decide otherwise than this can tell. */
static int take_dir(struct store_merge *m, const char *dir, struct dir3 *d,
		    struct store_merge_entry **e, size_t n)
{
	const struct rt_entry *bk[3][256];
	enum { SKIP = 1, TAKE = 2 };
	unsigned char how[256];
	int err = 0;

	/* As merge_dir: buckets compared only if the three are fanout. */
	if (!d->has[O] || !d->has[T] || !store_rt_is_fanout(&d->r[O]) ||
	    !store_rt_is_fanout(&d->r[T]) ||
	    (d->has[B] && !store_rt_is_fanout(&d->r[B])))
		return 0;
	/* A file beside the buckets and one in them have the same logical
	 * path: the entries do not say which they are. */
	for (int k = 0; k < 3; k++)
		if (d->has[k] && !tw_plain_fanout(&d->r[k]))
			return 1;
	for (int k = 0; k < 3; k++)
		tw_buckets(&d->r[k], bk[k]);
	for (unsigned k = 0; k < 256 && err == 0; k++) {
		const git_oid *ib = tw_id(bk[B][k]), *io = tw_id(bk[O][k]),
			      *it = tw_id(bk[T][k]);

		how[k] = tw_same_id(it, ib) || tw_same_id(io, it) ? SKIP :
			 tw_same_id(io, ib)			  ? TAKE :
								    0;
		if (how[k] == TAKE)
			err = store_merge_add_take(m, dir, k,
						   it ? it->id : NULL);
	}
	for (size_t i = 0; i < n && err == 0; i++) {
		switch (how[store_layout_bucket_no(
			store_merge_base_name(e[i]->path))]) {
		case SKIP:
			return 1; /* a change where the trees see none */
		case TAKE:
			e[i]->taken = true;
			break;
		}
	}
	return err;
}

int store_merge_take_buckets(struct store_merge *m, struct store *st,
			     const struct store_oid *base,
			     const struct store_oid *ours,
			     const struct store_oid *theirs)
{
	struct store_merge_entry **v = calloc(m->n + 1, sizeof(*v));
	const struct store_oid *c[3] = { base, ours, theirs };
	struct walk w = { .st = st };
	struct dir3 root = { 0 };
	const git_oid *p;
	int err = v ? 0 : -ENOMEM;

	for (size_t i = 0; i < m->n && v; i++)
		v[i] = &m->v[i];
	if (v)
		qsort(v, m->n, sizeof(*v), store_merge_cmp_dir);
	pthread_mutex_lock(&st->lock);
	for (int k = 0; k < 3 && err == 0; k++)
		if ((err = tw_root_tree(st, c[k], &root.id[k], &p)) == 0)
			root.has[k] = p != NULL;
	for (size_t i = 0, j; i < m->n && err == 0; i = j) {
		size_t dl = store_merge_dir_len(v[i]->path);
		struct dir3 d = root;
		char *dir = strndup(v[i]->path, dl);

		for (j = i + 1; j < m->n && !store_merge_cmp_dir(&v[i], &v[j]);
		     j++)
			;
		err = dir ? find_dir(&w, dir, &d) : -ENOMEM;
		if (err == 0)
			err = take_dir(m, dir, &d, v + i, j - i);
		dir3_release(&d);
		free(dir);
	}
	pthread_mutex_unlock(&st->lock);
	m->trees_read += w.trees_read;
	free(v);
	return err;
}
