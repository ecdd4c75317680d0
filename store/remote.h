/* remote.h - refs for sync between machines (store/remote.c): listing by
 * prefix, a branch made or deleted only as seen, plain refs, ancestry, a
 * remote's URL. Each call takes the store lock for its duration only and
 * returns 0 or -errno with store_errmsg() set. */
#ifndef CHRONOFS_STORE_REMOTE_H
#define CHRONOFS_STORE_REMOTE_H

#include <stddef.h>

#include "store.h"

/* The direct refs whose names begin with PREFIX ("refs/heads/"), PREFIX
 * stripped, sorted by name, each with its value. *names is the caller's
 * (store_strv_free), *oids too (free). */
int store_refs_list(struct store *st, const char *prefix, char ***names,
		    struct store_oid **oids, size_t *n);
/* Make branch BRANCH at TO; -EEXIST if it exists. */
int store_branch_create_at(struct store *st, const char *branch,
			   const struct store_oid *to, const char *msg);
/* Delete branch BRANCH if it still points at OLD: -EAGAIN if it moved,
 * -EBUSY for the branch HEAD names, -ENOENT if it is gone. */
int store_branch_delete_at(struct store *st, const char *branch,
			   const struct store_oid *old);
/* Set REF (not a branch) to TO, or remove it if TO is NULL. */
int store_ref_set(struct store *st, const char *ref, const struct store_oid *to,
		  const char *msg);
/* 1 if A is B or an ancestor of B, else 0. */
int store_is_ancestor(struct store *st, const struct store_oid *a,
		      const struct store_oid *b);
/* The commits reachable from A and not B (*ahead), and from B not A. */
int store_ahead_behind(struct store *st, const struct store_oid *a,
		       const struct store_oid *b, size_t *ahead,
		       size_t *behind);
/* The URL of REMOTE (*url the caller's: free()); -ENOENT: no such remote. */
int store_remote_url(struct store *st, const char *remote, char **url);
/* The bare repository at PATH (a fresh clone) gets branch main (one
 * empty commit, HEAD) if it has no branch at all, and a HEAD naming a
 * branch it has (main if it can). */
int store_init_branch(const char *path);

#endif
