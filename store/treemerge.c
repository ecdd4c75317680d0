/* treemerge.c - the three-way merge of three trees by logical path
 * (store_merge_trees, treemerge.h), walking the trees' bytes at once
 * (treewalk.h); per-document merging is jmerge_doc's.
 *
 * A subtree or bucket theirs did not change, or changed as ours did, is
 * skipped unread: the result keeps ours there. A bucket only theirs
 * changed is the result's as it is (a take, mergebuild.c), its files
 * listed from theirs against the base; only buckets both sides changed
 * are read on all three sides. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "treewalk.h"
#include "treemerge.h"
#include "banned.h"

/* ---- the merge ---- */

struct merge_ctx {
	struct store *st;
	const struct store_oid *ours, *theirs;
	const struct store_merge_opts *opts;
};

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

/* ---- the walk ---- */

struct mwalk {
	struct walk w; /* the store and the trees read */
	struct store_merge *m;
	size_t cap;
};

static const git_oid *tree_id(const struct rt_entry *e)
{
	return store_rt_is_tree(e) ? tw_id(e) : NULL;
}

static const struct rt_entry *file_of(const struct rt_entry *e)
{
	return e && !store_rt_is_tree(e) ? e : NULL;
}

/* Files X and Y (NULL: absent) are the same version. */
static bool same_file(const struct rt_entry *x, const struct rt_entry *y)
{
	return x == y || (x && y && x->mode == y->mode &&
			  !memcmp(x->id, y->id, GIT_OID_RAWSZ));
}

static void set_version(struct store_merge_entry *e, int i,
			const struct rt_entry *f)
{
	if ((e->has[i] = f != NULL)) {
		memcpy(e->blob[i].id, f->id, STORE_OID_RAWSZ);
		e->mode[i] = f->mode;
	}
}

static bool ours_changed(const struct store_merge_entry *e)
{
	return e->has[STORE_MERGE_BASE_I] != e->has[STORE_MERGE_OURS_I] ||
	       (e->has[STORE_MERGE_OURS_I] &&
		(e->mode[STORE_MERGE_BASE_I] != e->mode[STORE_MERGE_OURS_I] ||
		 !store_oid_equal(&e->blob[STORE_MERGE_BASE_I],
				  &e->blob[STORE_MERGE_OURS_I])));
}

/* File NAME of DIR in the base (B), ours (O) and theirs (T): an entry if
 * theirs changed it to something ours does not have. Changed on both
 * sides, merge_entry decides after the walk (it reads blobs, and the
 * winner may walk history, outside the store lock). */
static int file3(struct mwalk *mw, const char *dir, const char *name,
		 const struct rt_entry *b, const struct rt_entry *o,
		 const struct rt_entry *t, bool taken)
{
	struct store_merge *m = mw->m;
	struct store_merge_entry *e;

	if (same_file(t, b) || same_file(o, t))
		return 0;
	if (m->n == mw->cap) {
		size_t cap = mw->cap ? 2 * mw->cap : 64;

		if (!(e = realloc(m->v, cap * sizeof(*e))))
			return -ENOMEM;
		m->v = e;
		mw->cap = cap;
	}
	e = &m->v[m->n];
	memset(e, 0, sizeof(*e));
	if (!(e->path = tw_join(dir, name)))
		return -ENOMEM;
	set_version(e, STORE_MERGE_BASE_I, b);
	set_version(e, STORE_MERGE_OURS_I, o);
	set_version(e, STORE_MERGE_THEIRS_I, t);
	e->taken = taken;
	e->action = t ? STORE_MERGE_THEIRS : STORE_MERGE_DELETE;
	m->n++;
	return 0;
}

static int merge_dir(struct mwalk *mw, const char *dir, const git_oid *b,
		     const git_oid *o, const git_oid *t);

/* Entries E[3] (base, ours, theirs; NULL: absent) of one name in DIR;
 * TAKEN: files in a bucket the result takes whole. */
static int pair3(struct mwalk *mw, const char *dir, const struct rt_entry *e[3],
		 bool taken)
{
	const char *name = (e[0] ? e[0] : e[1] ? e[1] : e[2])->name;
	char *sub;
	int err = 0;

	if (tree_id(e[0]) || tree_id(e[1]) || tree_id(e[2])) {
		if (!(sub = tw_join(dir, name)))
			return -ENOMEM;
		err = merge_dir(mw, sub, tree_id(e[0]), tree_id(e[1]),
				tree_id(e[2]));
		free(sub);
	}
	if (err == 0 && (file_of(e[0]) || file_of(e[1]) || file_of(e[2])))
		err = file3(mw, dir, name, file_of(e[0]), file_of(e[1]),
			    file_of(e[2]), taken);
	return err;
}

/* Three listings (strcmp order) side by side. */
static int merge_lists(struct mwalk *mw, const char *dir,
		       const struct listing *l[3], bool taken)
{
	size_t i[3] = { 0, 0, 0 };
	int err = 0;

	while (err == 0) {
		const struct rt_entry *e[3] = { NULL, NULL, NULL };
		const char *min = NULL;

		for (int k = 0; k < 3; k++)
			if (i[k] < l[k]->n &&
			    (!min || strcmp(l[k]->v[i[k]]->name, min) < 0))
				min = l[k]->v[i[k]]->name;
		if (!min)
			break;
		for (int k = 0; k < 3; k++)
			if (i[k] < l[k]->n && !strcmp(l[k]->v[i[k]]->name, min))
				e[k] = l[k]->v[i[k]++];
		err = pair3(mw, dir, e, taken);
	}
	return err;
}

/* The files of three buckets side by side (Git's order is strcmp order
 * for files; subtrees are not part of the layout: ignored). */
static int merge_buckets(struct mwalk *mw, const char *dir,
			 const struct rtree *t[3], bool taken)
{
	size_t i[3] = { 0, 0, 0 };
	int err = 0;

	while (err == 0) {
		const struct rt_entry *e[3] = { NULL, NULL, NULL };
		const char *min = NULL;

		/* Most entries are the same on all sides. */
		if (i[0] < t[0]->n && i[1] < t[1]->n && i[2] < t[2]->n &&
		    store_rt_same(&t[0]->v[i[0]], &t[1]->v[i[1]]) &&
		    store_rt_same(&t[0]->v[i[0]], &t[2]->v[i[2]])) {
			i[0]++, i[1]++, i[2]++;
			continue;
		}
		for (int k = 0; k < 3; k++) {
			while (i[k] < t[k]->n &&
			       store_rt_is_tree(&t[k]->v[i[k]]))
				i[k]++;
			if (i[k] < t[k]->n &&
			    (!min || strcmp(t[k]->v[i[k]].name, min) < 0))
				min = t[k]->v[i[k]].name;
		}
		if (!min)
			break;
		for (int k = 0; k < 3; k++)
			if (i[k] < t[k]->n && !strcmp(t[k]->v[i[k]].name, min))
				e[k] = &t[k]->v[i[k]++];
		err = file3(mw, dir, min, e[0], e[1], e[2], taken);
	}
	return err;
}

/* The sub-buckets of three split buckets T[3] (an absent one empty) side
 * by side, the ones theirs left as the base has them or changed as ours
 * did skipped unread. */
static int merge_subs(struct mwalk *mw, const char *dir,
		      const struct rtree *t[3], bool taken)
{
	const struct rt_entry *bk[3][256];
	int err = 0;

	for (int k = 0; k < 3; k++)
		tw_buckets(t[k], bk[k]);
	for (unsigned k = 0; k < 256 && err == 0; k++) {
		const git_oid *id[3] = { tw_id(bk[0][k]), tw_id(bk[1][k]),
					 tw_id(bk[2][k]) };
		struct rtree r[3] = { { 0 } };
		const struct rtree *rp[3] = { &r[0], &r[1], &r[2] };

		if (tw_same_id(id[2], id[0]) || tw_same_id(id[1], id[2]))
			continue;
		for (int s = 0; s < 3 && err == 0; s++)
			err = tw_load(&mw->w, id[s], &r[s]);
		if (err == 0)
			err = merge_buckets(mw, dir, rp, taken);
		for (int s = 0; s < 3; s++)
			store_rt_release(&r[s]);
	}
	return err;
}

/* Three buckets T[3] (an absent one empty) of collection DIR: split ones
 * sub-bucket by sub-bucket, split and plain ones by their files, plain
 * ones entry by entry. TAKEN: the result takes theirs' bucket whole. */
static int merge_bucket3(struct mwalk *mw, const char *dir,
			 const struct rtree *t[3], bool taken)
{
	struct listing l[3] = { { 0 } };
	const struct listing *lp[3] = { &l[0], &l[1], &l[2] };
	bool split = false, plain = false;
	int err = 0;

	for (int k = 0; k < 3; k++) {
		if (!t[k]->n)
			continue;
		if (store_rt_is_fanout(t[k]))
			split = true;
		else
			plain = true;
	}
	if (!split)
		return merge_buckets(mw, dir, t, taken);
	if (!plain)
		return merge_subs(mw, dir, t, taken);
	for (int k = 0; k < 3 && err == 0; k++)
		err = tw_bucket_files(&mw->w, t[k], 0, &l[k]);
	if (err == 0)
		err = merge_lists(mw, dir, lp, taken);
	for (int k = 0; k < 3; k++)
		tw_listing_release(&l[k]);
	return err;
}

int store_merge_add_take(struct store_merge *m, const char *dir, unsigned k,
			 const unsigned char *id)
{
	struct store_merge_take *t =
		realloc(m->takes, (m->ntakes + 1) * sizeof(*t));

	if (!t)
		return -ENOMEM;
	m->takes = t;
	t = &m->takes[m->ntakes];
	memset(t, 0, sizeof(*t));
	if (!(t->dir = strdup(dir)))
		return -ENOMEM;
	snprintf(t->bucket, sizeof(t->bucket), "%02x", k);
	if ((t->has = id != NULL))
		memcpy(t->tree.id, id, STORE_OID_RAWSZ);
	m->ntakes++;
	return 0;
}

/* Three fanout collections (the base's may be absent): direct entries,
 * then bucket by bucket. */
static int merge_fanouts(struct mwalk *mw, const char *dir,
			 const struct rtree *t[3])
{
	const struct rt_entry *bk[3][256];
	struct listing l[3] = { { 0 } };
	const struct listing *lp[3] = { &l[0], &l[1], &l[2] };
	int err = 0;

	for (int k = 0; k < 3 && err == 0; k++)
		err = tw_list(&mw->w, t[k], false, &l[k]);
	if (err == 0)
		err = merge_lists(mw, dir, lp, false);
	for (int k = 0; k < 3; k++) {
		tw_listing_release(&l[k]);
		tw_buckets(t[k], bk[k]);
	}
	for (unsigned k = 0; k < 256 && err == 0; k++) {
		const git_oid *ib = tw_id(bk[0][k]), *io = tw_id(bk[1][k]),
			      *it = tw_id(bk[2][k]);
		struct rtree r[3] = { { 0 } };
		const struct rtree *rp[3] = { &r[0], &r[1], &r[2] };
		bool take = tw_same_id(io, ib);

		if (tw_same_id(it, ib) || tw_same_id(io, it))
			continue;
		/* Ours did not change the bucket: the result is theirs'. */
		if (take) {
			rp[1] = &r[0];
			err = store_merge_add_take(mw->m, dir, k,
						   it ? it->id : NULL);
		}
		if (err == 0)
			err = tw_load(&mw->w, ib, &r[0]);
		if (err == 0 && !take)
			err = tw_load(&mw->w, io, &r[1]);
		if (err == 0)
			err = tw_load(&mw->w, it, &r[2]);
		if (err == 0)
			err = merge_bucket3(mw, dir, rp, take);
		for (int s = 0; s < 3; s++)
			store_rt_release(&r[s]);
	}
	return err;
}

/* Logical directory DIR: trees B, O, T (ids; NULL: absent). */
static int merge_dir(struct mwalk *mw, const char *dir, const git_oid *b,
		     const git_oid *o, const git_oid *t)
{
	struct rtree r[3] = { { 0 } };
	const struct rtree *rp[3] = { &r[0], &r[1], &r[2] };
	struct listing l[3] = { { 0 } };
	const struct listing *lp[3] = { &l[0], &l[1], &l[2] };
	bool ours_base = tw_same_id(o, b);
	int err;

	if (tw_same_id(t, b) || tw_same_id(o, t))
		return 0;
	/* Ours unchanged here: its tree is the base's, read once. */
	if (ours_base) {
		rp[1] = &r[0];
		lp[1] = &l[0];
	}
	err = tw_load(&mw->w, b, &r[0]);
	if (err == 0 && !ours_base)
		err = tw_load(&mw->w, o, &r[1]);
	if (err == 0)
		err = tw_load(&mw->w, t, &r[2]);
	if (err == 0 && o && t && tw_plain_fanout(rp[1]) &&
	    tw_plain_fanout(&r[2]) && (!b || tw_plain_fanout(&r[0]))) {
		err = merge_fanouts(mw, dir, rp);
	} else if (err == 0) {
		err = tw_list(&mw->w, b ? &r[0] : NULL, true, &l[0]);
		if (err == 0 && !ours_base)
			err = tw_list(&mw->w, o ? &r[1] : NULL, true, &l[1]);
		if (err == 0)
			err = tw_list(&mw->w, t ? &r[2] : NULL, true, &l[2]);
		if (err == 0)
			err = merge_lists(mw, dir, lp, false);
	}
	for (int k = 0; k < 3; k++) {
		tw_listing_release(&l[k]);
		store_rt_release(&r[k]);
	}
	return err;
}

static int cmp_entry_path(const void *a, const void *b)
{
	return strcmp(((const struct store_merge_entry *)a)->path,
		      ((const struct store_merge_entry *)b)->path);
}

/* M's entries in path order, the ones both sides changed merged. */
static int merge_all(struct merge_ctx *ctx, struct store_merge *m)
{
	int err = 0;

	if (m->n)
		qsort(m->v, m->n, sizeof(*m->v), cmp_entry_path);
	for (size_t i = 0; i < m->n && err == 0; i++) {
		if (!ours_changed(&m->v[i]))
			continue;
		err = merge_entry(ctx, &m->v[i]);
		if (err == 0 && m->v[i].n)
			m->nconflicted++;
	}
	return err;
}

/* The root trees of OURS and THEIRS (IDS: their storage), noted in M;
 * the caller holds the lock. */
static int side_trees(struct store *st, const struct store_oid *ours,
		      const struct store_oid *theirs, struct store_merge *m,
		      git_oid ids[2], const git_oid *p[2])
{
	int err = tw_root_tree(st, ours, &ids[0], &p[0]);

	if (err == 0)
		err = tw_root_tree(st, theirs, &ids[1], &p[1]);
	if (err == 0 && (!p[0] || !p[1]))
		err = store_fail(-EINVAL, "a merge needs both sides");
	if (err == 0) {
		memcpy(m->ours_tree.id, p[0]->id, STORE_OID_RAWSZ);
		memcpy(m->theirs_tree.id, p[1]->id, STORE_OID_RAWSZ);
	}
	return err;
}

int store_merge_trees(struct store_merge *out, struct store *st,
		      const struct store_oid *base,
		      const struct store_oid *ours,
		      const struct store_oid *theirs,
		      const struct store_merge_opts *opts)
{
	struct merge_ctx ctx = { st, ours, theirs, opts };
	struct mwalk mw = { .w = { .st = st }, .m = out };
	git_oid tb, ids[2];
	const git_oid *pb, *p[2];
	int err;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->lock);
	err = tw_root_tree(st, base, &tb, &pb);
	if (err == 0)
		err = side_trees(st, ours, theirs, out, ids, p);
	if (err == 0)
		err = merge_dir(&mw, "", pb, p[0], p[1]);
	pthread_mutex_unlock(&st->lock);
	out->trees_read = mw.w.trees_read;
	if (err == 0)
		err = merge_all(&ctx, out);
	if (err < 0)
		store_merge_release(out);
	return err;
}

int store_merge_finish(struct store_merge *m, struct store *st,
		       const struct store_oid *ours,
		       const struct store_oid *theirs,
		       const struct store_merge_opts *opts)
{
	struct merge_ctx ctx = { st, ours, theirs, opts };
	git_oid ids[2];
	const git_oid *p[2];
	int err;

	pthread_mutex_lock(&st->lock);
	err = side_trees(st, ours, theirs, m, ids, p);
	pthread_mutex_unlock(&st->lock);
	if (err == 0)
		err = merge_all(&ctx, m);
	if (err < 0)
		store_merge_release(m);
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
	for (size_t i = 0; i < m->ntakes; i++)
		free(m->takes[i].dir);
	free(m->takes);
	free(m->v);
	memset(m, 0, sizeof(*m));
}
