/* history.h - the time index and the path-history index of each branch,
 * mirrored from Git in RocksDB so that BRANCH@WHEN, BRANCH@COMMIT and
 * BRANCH@history are lookups, never history walks.
 *
 * Keys (F = family byte, B = branch name, \0 separates, BE = big-endian):
 *   'H' B               -> head commit (20) seq (8): what the index reflects
 *   'T' B \0 BE(mintime^sign) BE(seq) -> commit (20)
 *   'S' B \0 BE(seq)    -> commit (20) time (8)
 *   'C' B \0 hex40      -> seq (8) time (8)
 *   'P' B \0 path \0 BE(seq) -> commit (20) time (8) blob (20, zero: deleted)
 *   'K' \0 commit (20)  -> what the commit changed (changes.h; any branch)
 *   'W' B               -> a commit whose rows are partly written
 *                          (catchup_int.h)
 * seq numbers the first-parent chain from its root commit (0) upward.
 * mintime is the least committer time of that commit and every later one
 * on the chain: it never decreases along the chain, so "the newest commit
 * whose time is <= WHEN" (with dates out of order too) is the last 'T' key
 * at or below WHEN, one seek. In the usual chain it is the commit's time.
 */
#ifndef CHRONOFS_INDEX_HISTORY_H
#define CHRONOFS_INDEX_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "store.h"

/* Parse an ISO-8601 instant: YYYY-MM-DD, optionally THH:MM and :SS[.frac],
 * optionally Z or +HH[:MM] / -HH[:MM] (no zone is UTC), into seconds since
 * the epoch. -EINVAL if S[0..LEN) is not one. */
int idx_parse_when(const char *s, size_t len, int64_t *out);

/* WHEN as "YYYY-MM-DDTHH:MM:SSZ" (UTC), the form history names use. */
#define IDX_WHEN_SZ 21
void idx_format_when(char out[IDX_WHEN_SZ], int64_t when);

/* How long a catch-up or a lookup waits for another catch-up (a mount's
 * first indexing of a long history, in the background) before it gives
 * up with -EAGAIN. A save never waits: its commit is indexed by the
 * catch-up after. */
#define IDX_CATCHUP_WAIT_S 30

/* Catch-ups stop at their next batch (-ECANCELED), keeping what they
 * wrote: the next one goes on from there. For an unmount. */
void idx_db_cancel(struct idx_db *db);
/* FN gets BRANCH and DONE of TOTAL commits now and then while a long
 * catch-up runs (at most every IDX_PROGRESS_S seconds). */
#define IDX_PROGRESS_S 5
void idx_db_set_progress(struct idx_db *db, idx_progress_fn fn, void *ctx);

/* Bring BRANCH's indexes up to its head: a walk back to the newest commit
 * already indexed, then one tree diff per new commit, oldest first, in
 * memory that does not grow with the history (index/chainidx.c). A branch moved back
 * or onto another line (reset, force push) is cut back to the newest
 * commit both lines share, then goes on from there; one with no commit in
 * common (or where that costs more) is indexed again from the root.
 * *added (if not NULL) is the number of commits indexed. A foreground
 * call: it waits for the owner's reservation and for another catch-up at
 * most IDX_CATCHUP_WAIT_S (then -EAGAIN). */
int idx_history_catchup(struct idx_db *db, struct store *st, const char *branch,
			uint64_t *added);

/* idx_history_catchup on the database's own thread, later: returns at
 * once. For the process that holds the database while it serves (a
 * mount): what saves, merges and transactions that found the indexes
 * behind ask for. The thread (a background caller, as below) has its own
 * handle on the repository; it is started by the first call and ended by
 * idx_db_close. ST must stay open until then. */
int idx_history_catchup_later(struct idx_db *db, struct store *st,
			      const char *branch);
/* idx_history_catchup, unless another catch-up runs or the owner's
 * indexer holds the reservation (then that one, or the next, indexes the
 * head): for a guest's commit just made, which must not wait. */
int idx_history_catchup_nowait(struct idx_db *db, struct store *st,
			       const char *branch);
/* idx_history_catchup for the owner's background threads (the mount's
 * first indexing of every branch, and the catch-up thread above): it
 * waits for the lock as long as it takes, and may run while the
 * reservation is held. The lock keeps the two from ever running at once. */
int idx_history_catchup_background(struct idx_db *db, struct store *st,
				   const char *branch, uint64_t *added);
/* The owner's indexer is about to catch up every branch (ON), or has
 * (off). Meanwhile no foreground call runs a catch-up of its own (one
 * of a long history would take minutes): a save's commit is left to the
 * indexer or the catch-up after; a lookup waits (BRANCH@WHEN only until
 * the commits it needs are written, as they are oldest first), at most
 * IDX_CATCHUP_WAIT_S. */
void idx_db_reserve(struct idx_db *db, bool on);

/* Index the commit INFO describes (one the caller just made on BRANCH)
 * from INFO alone when its parent is the indexed head, the common case of
 * a save. Otherwise (someone else committed in between, the branch was
 * moved back) or while a catch-up runs it returns 1 at once: a save never
 * waits for a catch-up; the commit is indexed by the next one, from Git.
 * MTIME (or NULL) is recorded for the first path of INFO and its new blob
 * either way, in the same write when the commit is indexed. */
int idx_history_add(struct idx_db *db, struct store *st, const char *branch,
		    const struct store_commit_info *info,
		    const struct idx_mtime *mtime);

/* One file a commit changed (idx_history_add_changes). */
struct idx_change {
	const char *path;
	bool deleted;
	struct store_oid blob; /* the new content unless deleted */
	bool had; /* the path held a file before: its blob in old */
	struct store_oid old;
};

/* The same for a commit of many paths (a merge): COMMIT, made on PARENT
 * at committer time TIME, changed the files CH[0..N) (each whose content
 * differs from PARENT's, as a catch-up's tree diff finds them): indexed
 * from the list when PARENT is the indexed head, else 1 at once, as
 * idx_history_add. MTIME (or NULL) goes with CH[0]. COMPLETE: CH is
 * every change of the commit, a mode alone or a file that is no regular
 * blob included (else it gets no record, changes.h). PLAIN: every file
 * of CH is a regular file (100644) before and after (the record's
 * version 1). */
int idx_history_add_changes(struct idx_db *db, struct store *st,
			    const char *branch, const struct store_oid *commit,
			    const struct store_oid *parent, int64_t time,
			    const struct idx_change *ch, size_t n,
			    bool complete, bool plain,
			    const struct idx_mtime *mtime);

/* The head commit the indexes of BRANCH reflect. -ENOENT if none. */
int idx_head_read(struct idx_db *db, const char *branch, struct store_oid *head,
		  uint64_t *seq);

/* Forget BRANCH's indexes (branch deleted or renamed). */
int idx_history_drop(struct idx_db *db, const char *branch);

/* BRANCH@WHEN: the newest commit whose committer time is <= WHEN.
 * -ENOENT before the first commit. */
int idx_history_at(struct idx_db *db, const char *branch, int64_t when,
		   struct store_oid *out);

/* BRANCH@HEX: the commit on BRANCH's chain whose id starts with HEX (7 to
 * 40 hex digits). -ENOENT if none or more than one. */
int idx_history_commit(struct idx_db *db, const char *branch, const char *hex,
		       struct store_oid *out);

/* BRANCH@SPEC for SPEC[0..LEN): 7 to 40 lowercase hex digits name a
 * commit on the chain, else an ISO-8601 instant (idx_parse_when; -EINVAL
 * if neither). Catches the index up first; where the index cannot be
 * current (held read-only by another process while the head moved), the
 * answer comes from a walk of the chain instead. -ENOENT if none. */
int idx_history_resolve(struct idx_db *db, struct store *st, const char *branch,
			const char *spec, size_t len, struct store_oid *out);

/* Does the index reflect BRANCH's current head? */
bool idx_history_fresh(struct idx_db *db, struct store *st, const char *branch);

/* The versions of document PATH, oldest first. BLOB is NULL where the
 * document was deleted. */
typedef int (*idx_version_cb)(void *ctx, int64_t time,
			      const struct store_oid *commit,
			      const struct store_oid *blob);
int idx_history_versions(struct idx_db *db, const char *branch,
			 const char *path, idx_version_cb cb, void *ctx);

/* Each name that ever existed directly in directory DIR ("" is the
 * branch root), once, in byte order; IS_DIR for collections. */
typedef int (*idx_name_cb)(void *ctx, const char *name, int is_dir);
int idx_history_names(struct idx_db *db, const char *branch, const char *dir,
		      idx_name_cb cb, void *ctx);

#endif
