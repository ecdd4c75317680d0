/* committree.c - commits of whole trees (a transaction, a merge, a squash,
 * a fast-forward) inside a write session: the session holds the write
 * lock, so saves wait, and every object this thread writes meanwhile is
 * synced with the others right before the ref moves (fsync=on). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"
#include "treemerge.h"
#include "banned.h"

void store_write_begin(struct store *st)
{
	pthread_mutex_lock(&st->write_lock);
	pthread_mutex_lock(&st->lock);
	store_pool_once(st); /* after a crash: torn objects out first */
	store_syncset_begin(st);
	pthread_mutex_unlock(&st->lock);
}

void store_write_end(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	store_syncset_end(st);
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_unlock(&st->write_lock);
}

int store_blob_write(struct store *st, const void *data, size_t len,
		     struct store_oid *out)
{
	git_oid id;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_odb_hash(&id, data, len, GIT_OBJECT_BLOB);
	if (err < 0)
		err = store_git_fail(err, "blob");
	else
		err = store_object_write(st, &id, data, len, GIT_OBJECT_BLOB);
	pthread_mutex_unlock(&st->lock);
	if (err == 0)
		memcpy(out->id, id.id, STORE_OID_RAWSZ);
	return err;
}

/* The commit object (under st->lock). */
static int write_commit(struct store *st, const struct store_oid *tree,
			const struct store_oid *parents, size_t nparents,
			const char *msg, git_oid *out, int64_t *time)
{
	const git_commit *pv[STORE_MAX_PARENTS] = { 0 };
	git_commit *owned[STORE_MAX_PARENTS] = { 0 };
	git_signature *sig = NULL;
	git_tree *t = NULL;
	git_buf buf = GIT_BUF_INIT;
	int err = 0;

	if (nparents > STORE_MAX_PARENTS)
		return store_fail(-EINVAL, "too many parents");
	for (size_t i = 0; i < nparents && err == 0; i++) {
		err = git_commit_lookup(&owned[i], st->repo,
					store_goid(&parents[i]));
		pv[i] = owned[i];
	}
	if (err == 0)
		err = git_tree_lookup(&t, st->repo, store_goid(tree));
	if (err == 0)
		err = store_signature_now(st, &sig);
	if (err == 0)
		err = git_commit_create_buffer(&buf, st->repo, sig, sig, NULL,
					       msg, t, nparents, pv);
	if (err < 0) {
		err = store_git_fail(err, "commit");
		goto out;
	}
	*time = (int64_t)sig->when.time;
	err = store_object_hash(out, buf.ptr, buf.size, GIT_OBJECT_COMMIT);
	if (err == 0)
		err = store_object_write(st, out, buf.ptr, buf.size,
					 GIT_OBJECT_COMMIT);
out:
	git_buf_dispose(&buf);
	git_signature_free(sig);
	git_tree_free(t);
	for (size_t i = 0; i < nparents; i++)
		git_commit_free(owned[i]);
	return err;
}

int store_commit_tree(struct store *st, const char *branch,
		      const struct store_oid *tree,
		      const struct store_oid *parents, size_t nparents,
		      const char *msg, struct store_oid *out)
{
	char ref[1024];
	git_oid id;
	int64_t time;
	int err;

	if (snprintf(ref, sizeof(ref), "refs/heads/%s", branch) >=
	    (int)sizeof(ref))
		return store_fail(-ENAMETOOLONG, "branch name too long");
	if (nparents == 0)
		return store_fail(-EINVAL,
				  "%s: a commit of a tree needs the "
				  "head as its first parent",
				  branch);
	pthread_mutex_lock(&st->lock);
	err = write_commit(st, tree, parents, nparents, msg, &id, &time);
	pthread_mutex_unlock(&st->lock);
	/* The objects are synced with the ref lock's value (store_ref_cas). */
	if (err == 0)
		err = store_ref_cas(st, ref, store_goid(&parents[0]), &id, msg);
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

	if (snprintf(ref, sizeof(ref), "refs/heads/%s", branch) >=
	    (int)sizeof(ref))
		return store_fail(-ENAMETOOLONG, "branch name too long");
	return store_ref_cas(st, ref, store_goid(old), store_goid(new), msg);
}

int store_commit_tree_of(struct store *st, const struct store_oid *commit,
			 struct store_oid *tree)
{
	git_commit *c = NULL;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(commit));
	if (err == 0)
		memcpy(tree->id, git_commit_tree_id(c)->id, STORE_OID_RAWSZ);
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err < 0 ? store_git_fail(err, "commit") : 0;
}

int store_commit_lookup_prefix(struct store *st, const char *hex,
			       struct store_oid *out)
{
	git_object *o = NULL;
	git_oid id;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_oid_fromstrn(&id, hex, strlen(hex));
	if (err == 0)
		err = git_object_lookup_prefix(&o, st->repo, &id, strlen(hex),
					       GIT_OBJECT_COMMIT);
	if (err == 0)
		memcpy(out->id, git_object_id(o)->id, STORE_OID_RAWSZ);
	git_object_free(o);
	pthread_mutex_unlock(&st->lock);
	return err < 0 ? store_git_fail(err, hex) : 0;
}

int store_commit_message(struct store *st, const struct store_oid *commit,
			 char **out)
{
	git_commit *c = NULL;
	int err;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(commit));
	if (err == 0 && !(*out = strdup(git_commit_message(c))))
		err = -ENOMEM;
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err == -ENOMEM ? err :
	       err < 0	      ? store_git_fail(err, "commit") :
				0;
}

int store_commit_parents(struct store *st, const struct store_oid *commit,
			 struct store_oid out[2])
{
	git_commit *c = NULL;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(commit));
	if (err == 0 && git_commit_parentcount(c) != 2)
		err = GIT_EINVALID;
	for (unsigned i = 0; err == 0 && i < 2; i++)
		memcpy(out[i].id, git_commit_parent_id(c, i)->id,
		       STORE_OID_RAWSZ);
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err < 0 ? store_git_fail(err, "merge commit") : 0;
}

struct merges {
	struct store_oid *v;
	int64_t *t;
	size_t n, cap;
};

int store_walk_merges(struct store *st, const struct store_oid *from,
		      store_walk_cb cb, void *ctx)
{
	struct merges m = { 0 };
	git_revwalk *walk = NULL;
	git_oid id;
	int err;

	pthread_mutex_lock(&st->lock);
	if ((err = git_revwalk_new(&walk, st->repo)) < 0 ||
	    (err = git_revwalk_push(walk, store_goid(from))) < 0 ||
	    (err = git_revwalk_simplify_first_parent(walk)) < 0)
		goto out;
	while ((err = git_revwalk_next(&id, walk)) == 0) {
		git_commit *c = NULL;

		if ((err = git_commit_lookup(&c, st->repo, &id)) < 0)
			break;
		if (git_commit_parentcount(c) == 2) {
			if (m.n == m.cap) {
				size_t cap = m.cap ? m.cap * 2 : 16;
				struct store_oid *v =
					realloc(m.v, cap * sizeof(*v));
				int64_t *t =
					v ? realloc(m.t, cap * sizeof(*t)) :
					    NULL;

				if (v)
					m.v = v;
				if (!t) {
					git_commit_free(c);
					err = -ENOMEM;
					break;
				}
				m.t = t;
				m.cap = cap;
			}
			memcpy(m.v[m.n].id, id.id, STORE_OID_RAWSZ);
			m.t[m.n++] = (int64_t)git_commit_time(c);
		}
		git_commit_free(c);
	}
	if (err == GIT_ITEROVER)
		err = 0;
out:
	git_revwalk_free(walk);
	pthread_mutex_unlock(&st->lock);
	if (err < 0 && err != -ENOMEM)
		err = store_git_fail(err, "walk");
	/* The callback may call into the store: the lock is released. */
	for (size_t i = 0; err == 0 && i < m.n; i++)
		err = cb(ctx, &m.v[i], m.t[i]);
	free(m.v);
	free(m.t);
	return err;
}
