/* txcommit.c - many changes as one commit (a transaction): their tree
 * built once from the head they began on (layout rules of mergebuild.c),
 * committed there, or merged onto the head the branch moved to. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "treemerge.h"
#include "banned.h"

#define TX_RETRIES 100

/* The final state of one path after the changes. */
struct pstate {
	const char *path; /* borrowed from the changes */
	bool present;
	git_oid blob;
	unsigned mode;
};

/* The states, and a hash index of them by path (a transaction may hold
 * thousands of documents). */
struct states {
	struct pstate *v;
	size_t n;
	size_t *slot; /* index + 1 into v; 0: empty */
	size_t mask;
};

static size_t path_hash(const char *p)
{
	size_t h = 1469598103934665603u;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211u;
	return h;
}

/* The state of PATH; *SLOTP (if not NULL) where a new one is indexed. */
static struct pstate *find_state(struct states *s, const char *path,
				 size_t **slotp)
{
	size_t i = path_hash(path) & s->mask;

	for (; s->slot[i]; i = (i + 1) & s->mask)
		if (!strcmp(s->v[s->slot[i] - 1].path, path))
			return &s->v[s->slot[i] - 1];
	if (slotp)
		*slotp = &s->slot[i];
	return NULL;
}

static struct pstate *state_of(struct states *s, const char *path)
{
	return find_state(s, path, NULL);
}

/* Room for N changes (two states each, the index at most half full). */
static int states_init(struct states *s, size_t n)
{
	size_t ns = 16;

	while (ns < 4 * n + 4)
		ns *= 2;
	s->v = calloc(2 * n + 1, sizeof(*s->v));
	s->slot = calloc(ns, sizeof(*s->slot));
	s->mask = ns - 1;
	s->n = 0;
	return s->v && s->slot ? 0 : -ENOMEM;
}

/* Path's current content (after the changes so far, else in ROOT). */
static int current(struct store *st, struct states *s, git_tree *root,
		   const char *path, bool *present, git_oid *blob,
		   unsigned *mode)
{
	const struct pstate *p = state_of(s, path);
	struct store_entry e;
	int err;

	if (p) {
		*present = p->present;
		*blob = p->blob;
		*mode = p->mode;
		return 0;
	}
	err = store_stat_tree_locked(st, root, path, &e, false);
	if (err == -ENOENT) {
		*present = false;
		return 0;
	}
	if (err < 0)
		return err;
	if (e.kind != STORE_DOC)
		return store_fail(-EISDIR, "%s: is a directory", path);
	*present = true;
	memcpy(blob->id, e.oid.id, STORE_OID_RAWSZ);
	*mode = GIT_FILEMODE_BLOB;
	return 0;
}

static int set_state(struct states *s, const char *path, bool present,
		     const git_oid *blob, unsigned mode)
{
	size_t *slot = NULL;
	struct pstate *p = find_state(s, path, &slot);

	if (!p) {
		p = &s->v[s->n++]; /* room for two per change */
		p->path = path;
		*slot = s->n;
	}
	p->present = present;
	if (present) {
		p->blob = *blob;
		p->mode = mode;
	}
	return 0;
}

/* Apply change C to the states (blobs written); caller holds the lock. */
static int apply_one(struct store *st, struct states *s, git_tree *root,
		     const struct store_change *c)
{
	bool present = false;
	git_oid blob;
	unsigned mode = GIT_FILEMODE_BLOB;
	int err;

	switch (c->op) {
	case STORE_PUT:
		err = git_blob_create_from_buffer(&blob, st->repo, c->data,
						  c->len);
		if (err < 0)
			return store_git_fail(err, c->path);
		return set_state(s, c->path, true, &blob, mode);
	case STORE_DELETE:
	case STORE_RENAME:
		err = current(st, s, root, c->path, &present, &blob, &mode);
		if (err == 0 && !present)
			err = store_fail(-ENOENT, "%s: not found", c->path);
		if (err == 0)
			err = set_state(s, c->path, false, NULL, 0);
		if (err == 0 && c->op == STORE_RENAME && strcmp(c->path, c->to))
			err = set_state(s, c->to, true, &blob, mode);
		else if (err == 0 && c->op == STORE_RENAME)
			err = set_state(s, c->path, true, &blob, mode);
		return err;
	}
	return store_fail(-EINVAL, "%s: unknown operation", c->path);
}

/* The entries of a merge that takes every state (as "theirs") onto
 * ROOT (as "ours"). */
static int entries(struct store *st, struct states *s, git_tree *root,
		   struct store_merge *m)
{
	m->v = calloc(s->n + 1, sizeof(*m->v));
	if (!m->v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct pstate *p = &s->v[i];
		struct store_merge_entry *e = &m->v[m->n];
		struct store_entry was;
		int err =
			store_stat_tree_locked(st, root, p->path, &was, false);
		bool had = err == 0 && was.kind == STORE_DOC;

		if (err < 0 && err != -ENOENT)
			return err;
		if ((!had && !p->present) ||
		    (had && p->present &&
		     !memcmp(was.oid.id, p->blob.id, STORE_OID_RAWSZ)))
			continue; /* no change */
		if (!(e->path = strdup(p->path)))
			return -ENOMEM;
		m->n++;
		e->has[STORE_MERGE_OURS_I] = had;
		if (had) {
			e->blob[STORE_MERGE_OURS_I] = was.oid;
			e->mode[STORE_MERGE_OURS_I] = GIT_FILEMODE_BLOB;
		}
		e->has[STORE_MERGE_THEIRS_I] = p->present;
		e->action = p->present ? STORE_MERGE_THEIRS :
					 STORE_MERGE_DELETE;
		if (p->present) {
			memcpy(e->blob[STORE_MERGE_THEIRS_I].id, p->blob.id,
			       STORE_OID_RAWSZ);
			e->mode[STORE_MERGE_THEIRS_I] = p->mode;
		}
	}
	return 0;
}

int store_tree_apply(struct store *st, const struct store_oid *base,
		     const struct store_change *c, size_t n,
		     struct store_oid *tree_out)
{
	struct states s;
	struct store_merge m = { 0 };
	git_commit *bc = NULL;
	git_tree *root = NULL;
	int err = states_init(&s, n);

	pthread_mutex_lock(&st->lock);
	if (err == 0 &&
	    ((err = git_commit_lookup(&bc, st->repo, store_goid(base))) < 0 ||
	     (err = git_commit_tree(&root, bc)) < 0))
		err = store_git_fail(err, "commit");
	for (size_t i = 0; i < n && err == 0; i++)
		err = apply_one(st, &s, root, &c[i]);
	if (err == 0)
		err = entries(st, &s, root, &m);
	if (err == 0)
		memcpy(m.ours_tree.id, git_tree_id(root)->id, STORE_OID_RAWSZ);
	m.theirs_tree = m.ours_tree;
	pthread_mutex_unlock(&st->lock);
	if (err == 0)
		err = store_merge_build_tree(st, &m, tree_out);
	store_merge_release(&m);
	git_tree_free(root);
	git_commit_free(bc);
	free(s.slot);
	free(s.v);
	return err;
}

/* Did a commit between BEGIN and HEAD change a path of C? */
static int touched(struct store *st, const struct store_oid *begin,
		   const struct store_oid *head, const struct store_change *c,
		   size_t n, bool *yes)
{
	struct store_tdiff *d = NULL;
	const struct store_tdiff_entry *e;
	int err = store_tdiff_new(&d, st, begin, head, NULL);

	*yes = false;
	while (err == 0 && !*yes && store_tdiff_next(d, &e) == 0)
		for (size_t i = 0; i < n && !*yes; i++)
			*yes = !strcmp(e->path, c[i].path) ||
			       (c[i].op == STORE_RENAME &&
				!strcmp(e->path, c[i].to));
	store_tdiff_free(d);
	return err;
}

static int tx_wins(void *ctx, const char *path, enum jmerge_side *out)
{
	(void)ctx, (void)path;
	*out = JMERGE_THEIRS;
	return 0;
}

/* The tree to commit on HEAD: TREE itself if HEAD is BEGIN, else TREE's
 * changes merged onto HEAD; 1 if it changes nothing. */
static int onto(struct store *st, const struct store_oid *begin,
		const struct store_oid *head, const struct store_oid *tree,
		struct store_oid *out)
{
	struct store_merge_opts opts = { tx_wins, NULL };
	struct store_merge m;
	int err;

	if (store_oid_equal(begin, head)) {
		*out = *tree;
	} else {
		err = store_merge_trees(&m, st, begin, head, tree, &opts);
		if (err == 0)
			err = store_merge_build_tree(st, &m, out);
		store_merge_release(&m);
		if (err < 0)
			return err;
	}
	/* The same tree as HEAD's: nothing to commit. */
	{
		struct store_entry root;

		err = store_stat(st, head, "", &root);
		if (err < 0)
			return err;
		return store_oid_equal(&root.oid, out) ? 1 : 0;
	}
}

int store_commit_changes(struct store *st, const char *branch,
			 const struct store_oid *begin,
			 const struct store_change *c, size_t n,
			 const char *msg, unsigned flags, struct store_oid *out)
{
	struct store_oid tree, head, t;
	bool busy;
	int err = store_tree_apply(st, begin, c, n, &tree);

	for (int i = 0; i < TX_RETRIES && err == 0; i++) {
		if ((err = store_branch_head(st, branch, &head)) < 0)
			break;
		if ((flags & STORE_TX_STRICT) &&
		    !store_oid_equal(&head, begin)) {
			err = touched(st, begin, &head, c, n, &busy);
			if (err == 0 && busy)
				err = store_fail(-EBUSY,
						 "%s: a document of "
						 "the transaction changed "
						 "since it began",
						 branch);
			if (err < 0)
				break;
		}
		err = onto(st, begin, &head, &tree, &t);
		if (err != 0)
			break;
		err = store_commit_tree(st, branch, &t, &head, 1, msg, out);
		if (err != -EAGAIN)
			break;
		err = 0;
	}
	return err;
}
