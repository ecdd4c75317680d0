/* remote.c - what sync needs of refs beyond a save's compare-and-swap:
 * the refs under a prefix with their values, a branch made only where
 * none is, deleted only while it points where we saw it, plain refs set
 * or dropped (remote-tracking and sync-state refs), ancestry, and a
 * remote's URL. The network itself is the git command's (lib/sync.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"
#include "store_int.h"
#include "banned.h"

struct reflist {
	char **names;
	struct store_oid *oids;
	size_t n, cap;
};

static int reflist_add(struct reflist *l, const char *name, const git_oid *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **names = realloc(l->names, cap * sizeof(*names));
		struct store_oid *oids;

		if (!names)
			return -ENOMEM;
		l->names = names;
		oids = realloc(l->oids, cap * sizeof(*oids));
		if (!oids)
			return -ENOMEM;
		l->oids = oids;
		l->cap = cap;
	}
	if (!(l->names[l->n] = strdup(name)))
		return -ENOMEM;
	memcpy(l->oids[l->n].id, id->id, STORE_OID_RAWSZ);
	l->n++;
	return 0;
}

int store_refs_list(struct store *st, const char *prefix, char ***names,
		    struct store_oid **oids, size_t *n)
{
	struct reflist l = { 0 };
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	char glob[1100];
	size_t plen = strlen(prefix);
	int err;

	*names = NULL;
	*oids = NULL;
	*n = 0;
	if (snprintf(glob, sizeof(glob), "%s*", prefix) >= (int)sizeof(glob))
		return store_fail(-ENAMETOOLONG, "%s: name too long", prefix);
	pthread_mutex_lock(&st->lock);
	err = git_reference_iterator_glob_new(&it, st->repo, glob);
	while (err == 0 && (err = git_reference_next(&ref, it)) == 0) {
		/* A symbolic ref (refs/remotes/origin/HEAD) is skipped. */
		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    !strncmp(git_reference_name(ref), prefix, plen) &&
		    git_reference_target(ref))
			err = reflist_add(&l, git_reference_name(ref) + plen,
					  git_reference_target(ref));
		git_reference_free(ref);
		ref = NULL;
	}
	git_reference_iterator_free(it);
	pthread_mutex_unlock(&st->lock);
	if (err == GIT_ITEROVER)
		err = 0;
	if (err < 0) {
		store_strv_free(l.names, l.n);
		free(l.oids);
		return err == -ENOMEM ?
			       store_fail(err, "%s: out of memory", prefix) :
			       store_git_fail(err, prefix);
	}
	/* Sorted by name (the iterator's order is the backend's). */
	for (size_t i = 1; i < l.n; i++)
		for (size_t j = i;
		     j > 0 && strcmp(l.names[j - 1], l.names[j]) > 0; j--) {
			char *tn = l.names[j];
			struct store_oid to = l.oids[j];

			l.names[j] = l.names[j - 1];
			l.oids[j] = l.oids[j - 1];
			l.names[j - 1] = tn;
			l.oids[j - 1] = to;
		}
	*names = l.names;
	*oids = l.oids;
	*n = l.n;
	return 0;
}

static int branch_ref(char *buf, size_t sz, const char *branch)
{
	if (!store_branch_name_valid(branch))
		return store_fail(-EINVAL, "%s: not a valid branch name",
				  branch);
	if (snprintf(buf, sz, "refs/heads/%s", branch) >= (int)sz)
		return store_fail(-ENAMETOOLONG, "%s: name too long", branch);
	return 0;
}

int store_branch_create_at(struct store *st, const char *branch,
			   const struct store_oid *to, const char *msg)
{
	git_reference *ref = NULL;
	char name[1100];
	int err = branch_ref(name, sizeof(name), branch);

	if (err < 0)
		return err;
	pthread_mutex_lock(&st->lock);
	err = git_reference_create(&ref, st->repo, name, store_goid(to), 0,
				   msg);
	git_reference_free(ref);
	pthread_mutex_unlock(&st->lock);
	if (err == GIT_EEXISTS)
		return store_fail(-EEXIST, "%s: exists", branch);
	return err < 0 ? store_git_fail(err, branch) : 0;
}

int store_branch_delete_at(struct store *st, const char *branch,
			   const struct store_oid *old)
{
	git_reference *ref = NULL;
	char name[1100];
	int err = branch_ref(name, sizeof(name), branch);

	/* No replay of the journal may bring it back (journal.c). */
	if (err < 0 || (err = store_journal_checkpoint(st)) < 0)
		return err;
	pthread_mutex_lock(&st->lock);
	err = git_reference_lookup(&ref, st->repo, name);
	if (err == 0 && git_branch_is_head(ref) == 1) {
		err = store_fail(-EBUSY, "'%s' is the default branch", branch);
		goto out;
	}
	if (err == 0 &&
	    (!git_reference_target(ref) ||
	     !git_oid_equal(git_reference_target(ref), store_goid(old)))) {
		err = store_fail(-EAGAIN, "%s moved", branch);
		goto out;
	}
	/* libgit2 deletes it only if it still holds the value read. */
	if (err == 0)
		err = git_reference_delete(ref);
	if (err == GIT_EMODIFIED)
		err = store_fail(-EAGAIN, "%s moved", branch);
	else if (err < 0)
		err = store_git_fail(err, branch);
out:
	git_reference_free(ref);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_ref_set(struct store *st, const char *ref, const struct store_oid *to,
		  const char *msg)
{
	git_reference *r = NULL;
	int err;

	if (!strncmp(ref, "refs/heads/", 11))
		return store_fail(-EINVAL,
				  "%s: branches move by "
				  "compare-and-swap only",
				  ref);
	pthread_mutex_lock(&st->lock);
	if (to) {
		err = git_reference_create(&r, st->repo, ref, store_goid(to), 1,
					   msg);
	} else {
		err = git_reference_remove(st->repo, ref);
		if (err == GIT_ENOTFOUND)
			err = 0;
	}
	git_reference_free(r);
	pthread_mutex_unlock(&st->lock);
	return err < 0 ? store_git_fail(err, ref) : 0;
}

int store_is_ancestor(struct store *st, const struct store_oid *a,
		      const struct store_oid *b)
{
	int rc;

	if (store_oid_equal(a, b))
		return 1;
	pthread_mutex_lock(&st->lock);
	rc = git_graph_descendant_of(st->repo, store_goid(b), store_goid(a));
	pthread_mutex_unlock(&st->lock);
	return rc < 0 ? store_git_fail(rc, "ancestry") : rc;
}

int store_ahead_behind(struct store *st, const struct store_oid *a,
		       const struct store_oid *b, size_t *ahead, size_t *behind)
{
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_graph_ahead_behind(ahead, behind, st->repo, store_goid(a),
				     store_goid(b));
	pthread_mutex_unlock(&st->lock);
	return err < 0 ? store_git_fail(err, "ahead/behind") : 0;
}

int store_remote_url(struct store *st, const char *remote, char **url)
{
	git_remote *r = NULL;
	int err;

	*url = NULL;
	pthread_mutex_lock(&st->lock);
	err = git_remote_lookup(&r, st->repo, remote);
	if (err == 0 && git_remote_url(r) &&
	    !(*url = strdup(git_remote_url(r))))
		err = -ENOMEM;
	git_remote_free(r);
	pthread_mutex_unlock(&st->lock);
	if (err == GIT_ENOTFOUND || err == GIT_EINVALIDSPEC)
		return store_fail(-ENOENT,
				  "no remote '%s' (git remote add "
				  "%s URL)",
				  remote, remote);
	if (err == 0 && !*url)
		return store_fail(-ENOENT, "remote '%s' has no URL", remote);
	return err == -ENOMEM ? store_fail(err, "out of memory") :
	       err < 0	      ? store_git_fail(err, remote) :
				0;
}

/* HEAD to main if there is one, else the first branch. */
static int set_head(git_repository *repo, const git_strarray *refs)
{
	const char *pick = NULL;
	int err;

	for (size_t i = 0; i < refs->count; i++) {
		if (strncmp(refs->strings[i], "refs/heads/", 11))
			continue;
		if (!pick || !strcmp(refs->strings[i], "refs/heads/main"))
			pick = refs->strings[i];
	}
	err = pick ? git_repository_set_head(repo, pick) : 0;
	return err < 0 ? store_git_fail(err, pick) : 0;
}

int store_init_branch(const char *path)
{
	git_repository *repo = NULL;
	git_strarray refs = { 0 };
	int err;

	git_libgit2_init();
	err = git_repository_open_bare(&repo, path);
	if (err == 0)
		err = git_reference_list(&refs, repo);
	for (size_t i = 0; err == 0 && i < refs.count; i++)
		if (!strncmp(refs.strings[i], "refs/heads/", 11)) {
			/* It has a branch; HEAD must name one (a remote's
			 * HEAD may name a branch it does not have). */
			if (git_repository_head_unborn(repo) == 1)
				err = set_head(repo, &refs);
			goto out;
		}
	if (err < 0)
		err = store_git_fail(err, path);
	else if ((err = store_init_commit(repo, path)) == 0 &&
		 (err = git_repository_set_head(repo, "refs/heads/main")) < 0)
		err = store_git_fail(err, path);
out:
	git_strarray_dispose(&refs);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return err;
}
