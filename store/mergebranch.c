/* mergebranch.c - a branch merged into another, whole: fast-forward when
 * INTO has nothing of its own, else the three-way merge (treemerge.c),
 * its tree (mergebuild.c) and a commit moved onto INTO by compare-and-
 * swap, all again on the new head if INTO moved meanwhile. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "treemerge.h"
#include "banned.h"

#define MERGE_RETRIES 100

void store_merge_outcome_release(struct store_merge_outcome *o)
{
	if (!o)
		return;
	store_merge_release(&o->merge);
	free(o->message);
	memset(o, 0, sizeof(*o));
}

/* The commit message: MSG or the default, then the conflicted paths. */
static int message(struct store_merge_outcome *o, const char *from,
		   const char *into, const char *msg, bool squash)
{
	struct jt_buf b = { 0 };
	char line[512];
	int err;

	if (msg)
		err = jt_buf_puts(&b, msg);
	else {
		snprintf(line, sizeof(line), "%s %s into %s",
			 squash ? "squash" : "merge", from, into);
		err = jt_buf_puts(&b, line);
	}
	if (err == 0 && !o->has_base)
		err = jt_buf_puts(&b, "\n\nNo common history: merged against "
				      "an empty base.");
	if (err == 0 && o->merge.nconflicted)
		err = jt_buf_puts(&b, "\n\nConflicts:\n");
	for (size_t i = 0; i < o->merge.n && err == 0; i++) {
		if (!o->merge.v[i].n)
			continue;
		err = jt_buf_puts(&b, "\t");
		if (err == 0)
			err = jt_buf_puts(&b, o->merge.v[i].path);
		if (err == 0)
			err = jt_buf_puts(&b, "\n");
	}
	if (err < 0) {
		free(b.p);
		return err;
	}
	o->message = b.p;
	return 0;
}

/* Is commit A an ancestor of (or equal to) B? */
static int ancestor(struct store *st, const struct store_oid *a,
		    const struct store_oid *b, bool *yes)
{
	int rc;

	if (store_oid_equal(a, b)) {
		*yes = true;
		return 0;
	}
	pthread_mutex_lock(&st->lock);
	rc = git_graph_descendant_of(st->repo, store_goid(b), store_goid(a));
	pthread_mutex_unlock(&st->lock);
	if (rc < 0)
		return store_git_fail(rc, "ancestry");
	*yes = rc == 1;
	return 0;
}

/* One attempt on the current heads; -EAGAIN if INTO moved. */
static int attempt(struct store_merge_outcome *o, struct store *st,
		   const char *from, const struct store_oid *from_commit,
		   const char *into, const char *msg, unsigned flags,
		   const struct store_merge_opts *opts)
{
	bool squash = flags & STORE_MERGE_SQUASH, done = false, ff = false;
	struct store_oid parents[2], tree;
	int err;

	store_merge_outcome_release(o);
	if (from_commit)
		o->from_head = *from_commit;
	else if ((err = store_branch_head(st, from, &o->from_head)) < 0)
		return err;
	if ((err = store_branch_head(st, into, &o->old_head)) < 0)
		return err;
	/* FROM already in INTO: nothing to do. */
	if ((err = ancestor(st, &o->from_head, &o->old_head, &done)) < 0)
		return err;
	if (done) {
		o->kind = STORE_MERGED_NOTHING;
		o->commit = o->old_head;
		return 0;
	}
	if ((err = ancestor(st, &o->old_head, &o->from_head, &ff)) < 0)
		return err;
	if (ff && !squash) {
		o->kind = STORE_MERGED_FAST_FORWARD;
		o->commit = o->from_head;
		o->has_base = true;
		o->base = o->old_head;
		return store_branch_cas(st, into, &o->old_head, &o->from_head,
					"merge: fast-forward");
	}
	err = store_merge_base(st, &o->old_head, &o->from_head, &o->base);
	if (err < 0 && err != -ENOENT)
		return err;
	o->has_base = err == 0;
	/* What each side changed, from elsewhere if it can say (no tree
	 * read), else from the trees. */
	err = o->has_base && opts && opts->changes ?
		      opts->changes(opts->changes_ctx, &o->base, &o->old_head,
				    &o->from_head, &o->merge) :
		      1;
	if (err == 0)
		err = store_merge_finish(&o->merge, st, &o->old_head,
					 &o->from_head, opts);
	else if (err == 1)
		err = store_merge_trees(&o->merge, st,
					o->has_base ? &o->base : NULL,
					&o->old_head, &o->from_head, opts);
	if (err == 0)
		err = store_merge_build_tree(st, &o->merge, &tree);
	if (err == 0)
		err = message(o, from, into, msg, squash);
	if (err < 0)
		return err;
	parents[0] = o->old_head;
	parents[1] = o->from_head;
	o->kind = STORE_MERGED_COMMIT;
	return store_commit_tree(st, into, &tree, parents, squash ? 1 : 2,
				 o->message, &o->commit);
}

int store_merge_branch(struct store_merge_outcome *out, struct store *st,
		       const char *from, const char *into, const char *msg,
		       unsigned flags, const struct store_merge_opts *opts)
{
	memset(out, 0, sizeof(*out));
	if (!strcmp(from, into))
		return store_fail(-EINVAL,
				  "%s: cannot merge a branch into "
				  "itself",
				  from);
	return store_merge_commit(out, st, from, NULL, into, msg, flags, opts);
}

int store_merge_commit(struct store_merge_outcome *out, struct store *st,
		       const char *from, const struct store_oid *from_commit,
		       const char *into, const char *msg, unsigned flags,
		       const struct store_merge_opts *opts)
{
	int err = -EAGAIN;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < MERGE_RETRIES && err == -EAGAIN; i++) {
		/* INTO moved or its ref is locked by a save: back off as a
		 * save does (group.c), or a quick merge spends its tries
		 * while one save holds the lock. */
		struct timespec pause = { 0, 100000L * (i < 100 ? i : 100) };

		if (i)
			nanosleep(&pause, NULL);
		err = attempt(out, st, from, from_commit, into, msg, flags,
			      opts);
	}
	if (err < 0)
		store_merge_outcome_release(out);
	return err;
}
