/* mergecommit.c - committing a merged tree on a branch (a merge commit,
 * a squash) and moving a branch to a commit (a fast-forward), each by
 * compare-and-swap on the branch, as a save does (commit.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "treemerge.h"

static int ref_name(char *buf, size_t sz, const char *branch)
{
	if (snprintf(buf, sz, "refs/heads/%s", branch) >= (int)sz)
		return store_fail(-ENAMETOOLONG, "branch name too long");
	return 0;
}

/* The commit object of TREE with PARENTS, written; *out its id. */
static int write_commit(struct store *st, const struct store_oid *tree,
			const struct store_oid *parents, size_t n,
			const char *msg, git_oid *out)
{
	git_commit **pc = calloc(n + 1, sizeof(*pc));
	git_tree *t = NULL;
	git_signature *sig = NULL;
	git_buf cbuf = GIT_BUF_INIT;
	int err = pc ? 0 : -ENOMEM;

	for (size_t i = 0; i < n && err == 0; i++)
		if ((err = git_commit_lookup(&pc[i], st->repo,
					     store_goid(&parents[i]))) < 0)
			err = store_git_fail(err, "parent commit");
	if (err == 0 &&
	    ((err = git_tree_lookup(&t, st->repo, store_goid(tree))) < 0 ||
	     (err = git_signature_now(&sig, st->author_name,
				      st->author_email)) < 0 ||
	     (err =
		  git_commit_create_buffer(&cbuf, st->repo, sig, sig, NULL, msg,
					   t, n, (const git_commit **)pc)) < 0))
		err = store_git_fail(err, "commit");
	if (err == 0)
		err = store_object_hash(out, cbuf.ptr, cbuf.size,
					GIT_OBJECT_COMMIT);
	if (err == 0)
		err = store_object_write(st, out, cbuf.ptr, cbuf.size,
					 GIT_OBJECT_COMMIT);
	git_buf_dispose(&cbuf);
	git_signature_free(sig);
	git_tree_free(t);
	for (size_t i = 0; pc && i < n; i++)
		git_commit_free(pc[i]);
	free(pc);
	return err;
}

int store_commit_tree(struct store *st, const char *branch,
		      const struct store_oid *tree,
		      const struct store_oid *parents, size_t n,
		      const char *msg, struct store_oid *out)
{
	char ref[1024];
	git_oid id;
	int err = ref_name(ref, sizeof(ref), branch);

	if (err < 0)
		return err;
	if (n == 0)
		return store_fail(-EINVAL, "%s: a commit needs its parent",
				  branch);
	pthread_mutex_lock(&st->lock);
	store_syncset_begin(st);
	err = write_commit(st, tree, parents, n, msg, &id);
	/* fsync=on: every object durable before the ref names them. */
	if (err == 0 && (err = store_syncset_flush(st)) < 0)
		err = store_fail(err, "sync objects: %s", strerror(-err));
	if (err == 0)
		err = store_ref_cas(st, ref, store_goid(&parents[0]), &id, msg);
	store_syncset_end(st);
	pthread_mutex_unlock(&st->lock);
	if (err == 0) {
		memcpy(out->id, id.id, STORE_OID_RAWSZ);
		store_pack_note_commit(st);
	}
	return err;
}

int store_branch_cas(struct store *st, const char *branch,
		     const struct store_oid *old, const struct store_oid *new,
		     const char *msg)
{
	char ref[1024];
	int err = ref_name(ref, sizeof(ref), branch);

	if (err < 0)
		return err;
	pthread_mutex_lock(&st->lock);
	err = store_ref_cas(st, ref, store_goid(old), store_goid(new), msg);
	pthread_mutex_unlock(&st->lock);
	return err;
}
