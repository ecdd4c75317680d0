/* lib_int.h - what the files of libchronofs share: the handle, the error
 * record's entry and exit, the index database (held by an owner handle,
 * opened per call by a guest) and the conversions between the public and
 * internal id types. Private to lib/. */
#ifndef CHRONOFS_LIB_INT_H
#define CHRONOFS_LIB_INT_H

#include <errno.h>
#include <string.h>

#include "chronofs.h"
#include "chronofs_int.h"
#include "db.h"
#include "store.h"

_Static_assert(CFS_OID_RAWSZ == STORE_OID_RAWSZ, "one object id size");
_Static_assert(CFS_OID_RAWSZ == IDX_OID_RAWSZ, "one object id size");
_Static_assert(CFS_MAX_DEPTH == STORE_MAX_DEPTH, "one depth limit");

struct chronofs {
	struct store *st;
	char *index_dir; /* <gitdir>/chronofs/index, decided in core.c */
	struct idx_db *idx; /* an owner's, for the handle's life; else NULL */
	bool owner; /* cfs_open: the index is ours (or read-only) */
	bool sync; /* write the index durably */
	size_t max_doc_size;
	void (*log)(const char *msg); /* the owner's log, or NULL */
	void (*info)(const char *msg); /* its log of what it did, or NULL */
	struct cfs_conflicts *conflicts; /* conflicts.c's memo */
	struct lib_uses *uses; /* query.c: uses of unindexed specs */
};

int lib_uses_new(chronofs *db); /* at open: the handle's threads share it */
void lib_uses_free(chronofs *db);

void lib_conflicts_free(chronofs *db);

/* Every public entry point starts with this: a call's message is its
 * own. */
static inline void lib_enter(void)
{
	store_error_clear();
}

/* Fail with ERR. The record keeps what the failing module said where it
 * failed; WHAT (a path, a branch) is put in front only when that message
 * does not name it already, and strerror(ERR) stands in for none. */
int lib_fail(int err, const char *what);
/* A message of the library's own: store_fail() (store.h), the record's
 * one setter. */

/* The index database for one call: the owner's, or one opened now. NULL
 * with 0 if a guest finds it unusable (the caller answers from Git). */
int lib_index_get(chronofs *db, struct idx_db **out);
/* The same for a call that only reads: a guest opens it read-only. */
int lib_index_get_read(chronofs *db, struct idx_db **out);
/* The same for a call that reads first and writes at its end (a merge):
 * a guest's open starts no compaction until lib_index_resume (the
 * owner's database is left as it is). */
int lib_index_get_paused(chronofs *db, struct idx_db **out);
int lib_index_resume(chronofs *db, struct idx_db *idx);
void lib_index_put(chronofs *db, struct idx_db *idx);

static inline struct store_oid lib_soid(const struct cfs_oid *o)
{
	struct store_oid s;

	memcpy(s.id, o->id, sizeof(s.id));
	return s;
}

static inline struct cfs_oid lib_coid(const struct store_oid *o)
{
	struct cfs_oid c;

	memcpy(c.id, o->id, sizeof(c.id));
	return c;
}

static inline void lib_centry(struct cfs_entry *out,
			      const struct store_entry *e)
{
	out->kind = e->kind == STORE_DIR  ? CFS_DIR :
		    e->kind == STORE_DOC  ? CFS_DOC :
		    e->kind == STORE_LINK ? CFS_LINK :
					    CFS_NONE;
	out->oid = lib_coid(&e->oid);
	out->size = e->size;
}

/* The blob of PATH at COMMIT, NUL-terminated; -EISDIR for a collection. */
int lib_read_at(chronofs *db, const struct store_oid *commit, const char *path,
		char **json, size_t *len);

/* write.c: one change as one commit, then the indexes (MTIME for its
 * first path, or NULL). 0 committed, 1 nothing changed. */
int lib_apply(chronofs *db, const char *branch, const struct store_change *c,
	      const struct idx_mtime *mtime, struct store_oid *out);

/* Bring BRANCH's indexes up to its head after a commit made here from
 * a whole tree (a transaction, a merge): best effort, as after a save. */
void lib_index_catchup(chronofs *db, const char *branch);

/* merge.c: merge COMMIT (NULL: branch FROM's head) into INTO, FROM
 * naming it in the message; a write session, retried while INTO moves.
 * A merge commit is indexed from the merge's own list of changes; a
 * fast-forward is left to the caller's catch-up. */
int lib_merge_commit(chronofs *db, const char *from,
		     const struct store_oid *commit, const char *into,
		     const char *message, unsigned flags,
		     chronofs_merge_result *res);

/* branch.c: drop the indexes of BRANCH, deleted (best effort). */
void lib_index_drop_branch(chronofs *db, const char *branch);

#endif
