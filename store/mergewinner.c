/* mergewinner.c - what a merge asks of history: the merge base of two
 * commits, and who wins a document's conflicts (the side whose latest
 * change to it is newer, treemerge.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "treemerge.h"
#include "banned.h"

int store_merge_latest_change(struct store *st, const struct store_oid *head,
			      const char *path, int64_t *time,
			      struct store_oid *commit)
{
	git_commit *c = NULL, *p = NULL;
	git_tree *t = NULL;
	struct store_entry at, e;
	int err, have, h;

	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(head));
	if (err < 0) {
		err = store_git_fail(err, "commit");
		goto out;
	}
	if ((err = git_commit_tree(&t, c)) < 0) {
		err = store_git_fail(err, "commit tree");
		goto out;
	}
	h = store_stat_tree_locked(st, t, path, &at, false);
	if (h < 0 && h != -ENOENT) {
		err = h;
		goto out;
	}
	while (git_commit_parentcount(c) > 0) {
		git_tree_free(t);
		t = NULL;
		if ((err = git_commit_parent(&p, c, 0)) < 0 ||
		    (err = git_commit_tree(&t, p)) < 0) {
			err = store_git_fail(err, "parent");
			goto out;
		}
		have = store_stat_tree_locked(st, t, path, &e, false);
		if (have < 0 && have != -ENOENT) {
			err = have;
			goto out;
		}
		if ((have == 0) != (h == 0) ||
		    (h == 0 &&
		     (e.kind != at.kind || !store_oid_equal(&e.oid, &at.oid))))
			break;
		git_commit_free(c);
		c = p;
		p = NULL;
	}
	err = 0;
	*time = git_commit_committer(c)->when.time;
	memcpy(commit->id, git_commit_id(c)->id, STORE_OID_RAWSZ);
out:
	git_tree_free(t);
	git_commit_free(p);
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_merge_base(struct store *st, const struct store_oid *a,
		     const struct store_oid *b, struct store_oid *out)
{
	git_oid id;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_merge_base(&id, st->repo, store_goid(a), store_goid(b));
	if (err == GIT_ENOTFOUND)
		err = store_fail(-ENOENT, "no common ancestor");
	else if (err < 0)
		err = store_git_fail(err, "merge base");
	else
		memcpy(out->id, id.id, STORE_OID_RAWSZ);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_merge_winner(struct store *st, const struct store_oid *ours,
		       const struct store_oid *theirs, const char *path,
		       enum jmerge_side *out)
{
	struct store_oid co, ct;
	int64_t to, tt;
	int err;

	if (!ours || !theirs)
		return store_fail(-EINVAL, "%s: no history to pick a winner",
				  path);
	err = store_merge_latest_change(st, ours, path, &to, &co);
	if (err == 0)
		err = store_merge_latest_change(st, theirs, path, &tt, &ct);
	if (err < 0)
		return err;
	*out = tt > to || (tt == to &&
			   memcmp(ct.id, co.id, STORE_OID_RAWSZ) > 0) ?
		       JMERGE_THEIRS :
		       JMERGE_OURS;
	return 0;
}
