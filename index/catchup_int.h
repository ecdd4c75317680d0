/* catchup_int.h - private to index/: one catch-up's state and the row
 * writers that catchup.c (from Git), add.c (a save's own commit) and
 * rewind.c (a branch moved back) share. Every function here is called
 * with db->catchup_lock held. */
#ifndef CHRONOFS_INDEX_CATCHUP_INT_H
#define CHRONOFS_INDEX_CATCHUP_INT_H

#include <time.h>

#include "db_int.h"
#include "order_int.h"

struct catchup {
	struct idx_db *db;
	struct store *st;
	const char *branch;
	struct store_oid stop; /* the indexed head, if any */
	bool have_stop;
	uint64_t stop_seq;
	struct store_oid *v; /* new commits, newest first */
	int64_t *times;
	size_t n, cap;
	uint64_t base_seq; /* seq of the commit below v's oldest + 1, or 0 */
	bool found; /* the walk met an indexed commit: base, at base_seq - 1 */
	struct store_oid base;
	rocksdb_writebatch_t *wb;
	struct idx_key k;
	uint64_t seq;
	struct store_oid commit;
	int64_t time;
	int64_t last_time; /* of the newest indexed commit */
	bool have_last;
	const struct idx_defs *defs; /* ordered indexes on this branch */
	time_t reported; /* last progress call */
	char **paths; /* this commit's changed documents, for them */
	struct store_oid *blobs;
	bool *deleted;
	size_t npaths, cappaths;
};

/* The 'P' row of PATH at c->seq (store_diff_cb's shape), remembering the
 * change for the ordered indexes. */
int idx_cu_put_path(void *ctx, const char *path, const struct store_oid *old,
		    const struct store_oid *new);
/* Remember PATH now holding NEW (NULL: deleted) for idx_cu_apply_orders. */
int idx_cu_remember(struct catchup *c, const char *path,
		    const struct store_oid *new);
/* The remembered changes to the ordered indexes, into c->wb. */
int idx_cu_apply_orders(struct catchup *c);
/* The 'T', 'S', 'C' and 'H' rows of c->commit at c->seq. */
int idx_cu_put_commit(struct catchup *c);
int idx_cu_flush(struct catchup *c);
void idx_cu_release(struct catchup *c);

/* The commit at SEQ (if COMMIT is not NULL) and its committer time, from
 * its 'S' record. -ENOENT if none. */
int idx_seq_read(struct idx_db *db, const char *branch, uint64_t seq,
		 struct store_oid *commit, int64_t *time);

/* Everything derived from BRANCH's history into WB; the definitions of
 * its ordered indexes too when DEFS. */
void idx_drop_all(rocksdb_writebatch_t *wb, const char *branch, bool defs);

/* Drop the ordered indexes of collections HEAD no longer has. */
int idx_drop_gone(struct idx_db *db, struct store *st, const char *branch,
		  const struct store_oid *head);

/* The catch-up lock, waited for at most IDX_CATCHUP_WAIT_S (-EAGAIN). */
int idx_lock_bounded(struct idx_db *db, const char *branch);

/* Bring BRANCH's indexes up to its head (idx_history_catchup's work). */
int idx_catchup_locked(struct idx_db *db, struct store *st, const char *branch,
		       uint64_t *added);

/* rewind.c: cut the indexed chain back to c->base at c->base_seq - 1, its
 * newest commit also on the head's chain, in one batch with the head
 * record: the rows of the commits after it go, the time keys of those
 * before it are raised where a commit cut away had lowered them, and
 * the ordered indexes are set to the base's tree. */
int idx_rewind(struct catchup *c);

#endif
