/* store_int.h - private to store/: the store handle and error helpers. */
#ifndef CHRONOFS_STORE_INT_H
#define CHRONOFS_STORE_INT_H

#include <pthread.h>

#include <git2.h>

#include "store.h"

struct store {
	pthread_mutex_t lock; /* guards repo, odb and every libgit2 object */
	git_repository *repo;
	git_odb *odb;
	char *gitdir;
	char *author_name;
	char *author_email;
	void (*log)(const char *msg);

	pthread_mutex_t pack_lock; /* guards the packing state below */
	unsigned commits_since_pack;
	bool packing, pack_started, closing;
	pthread_t pack_tid;
};

/* pack.c: count a commit; past a threshold, pack in the background. */
void store_pack_note_commit(struct store *st);
/* Wait for a running pack (store_close). */
void store_pack_wait(struct store *st);

/* Set this thread's message; returns ERR. */
int store_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Translate a libgit2 code (with git_error_last()) to -errno. */
int store_git_fail(int gerr, const char *what);

/* Helpers for callers that hold st->lock. */
int store_head_locked(struct store *st, const char *branch, git_oid *out);
int store_tree_locked(struct store *st, const git_oid *commit, git_tree **out);
int store_stat_tree_locked(struct store *st, git_tree *tree, const char *path,
			   struct store_entry *out);

static inline const git_oid *store_goid(const struct store_oid *o)
{
	return (const git_oid *)o->id;
}

#endif
