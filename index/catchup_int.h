/* catchup_int.h - private to index/: one catch-up's state, shared by
 * catchup.c (the records a commit adds, the locking entry points),
 * chainidx.c (the walk of a long chain, oldest first, in bounded memory)
 * and wait.c (what lookups wait for meanwhile). */
#ifndef CHRONOFS_INDEX_CATCHUP_INT_H
#define CHRONOFS_INDEX_CATCHUP_INT_H

#include <time.h>

#include "db_int.h"
#include "history.h"
#include "order_int.h"

/* Commits per write batch (and between checks for a stop). */
#define BATCH_COMMITS 1024

/* sortbatch.c: records gathered, then added to a write batch in key
 * order (and the gathering cleared). */
struct kvref;
struct idx_sortbatch {
	unsigned char *buf;
	size_t len, cap;
	struct kvref *v;
	size_t n, vcap;
};
int idx_sortbatch_put(struct idx_sortbatch *b, const void *k, size_t klen,
		      const void *v, size_t vlen);
void idx_sortbatch_apply(struct idx_sortbatch *b, rocksdb_writebatch_t *wb);
void idx_sortbatch_release(struct idx_sortbatch *b);

struct catchup {
	struct idx_db *db;
	struct store *st;
	const char *branch;
	struct store_oid stop; /* the indexed head, if any */
	bool have_stop;
	size_t n; /* new commits */
	uint64_t base_seq; /* seq of stop + 1, or 0 */
	bool found; /* the stop is on the chain */
	rocksdb_writebatch_t *wb;
	struct idx_key k;
	uint64_t seq;
	struct store_oid commit;
	int64_t time;
	int64_t last_time; /* of the newest indexed commit */
	bool have_last;
	bool head_dirty; /* the batch holds commits: 'H' goes with them */
	bool bulk; /* written with idx_db_bulk's options */
	bool sorted; /* puts gathered in SB, added in key order at flush */
	struct idx_sortbatch sb;
	const struct idx_defs *defs; /* ordered indexes on this branch */
	time_t reported; /* last progress call */
	char **paths; /* this commit's changed documents, for them */
	struct store_oid *blobs;
	bool *deleted;
	size_t npaths, cappaths;
};

/* catchup.c: a changed path of the current commit (a store_diff_cb). */
int idx_catchup_put_path(void *ctx, const char *path,
			 const struct store_oid *old,
			 const struct store_oid *new);
/* The ordered indexes' rows for the paths put, then the commit itself. */
int idx_catchup_apply_orders(struct catchup *c);
int idx_catchup_put_commit(struct catchup *c);
/* Write the batch (with the 'H' record of its last commit). */
int idx_catchup_flush(struct catchup *c);
/* The committer time of the commit at SEQ. */
int idx_catchup_read_time(struct idx_db *db, const char *branch, uint64_t seq,
			  int64_t *out);
/* Every key of BRANCH derived from its history into WB. */
void idx_catchup_drop_all(rocksdb_writebatch_t *wb, const char *branch,
			  bool defs);
void idx_catchup_release(struct catchup *c);
/* The progress hook, at most every IDX_PROGRESS_S seconds. */
void idx_catchup_progress(struct catchup *c, size_t done);

/* Bring BRANCH's indexes up to its head; caller holds the lock. */
int idx_catchup_locked(struct idx_db *db, struct store *st, const char *branch,
		       uint64_t *added);

/* chainidx.c: index the commits from HEAD back to c->stop (or the root:
 * history rewritten, or none indexed), oldest first, SEQ being the stop's
 * seq. Caller holds the catch-up lock and has set c->db, st, branch,
 * stop, have_stop. */
int idx_chain_index(struct catchup *c, const struct store_oid *head,
		    uint64_t seq);

/* wait.c: the running catch-up's state for waiting lookups. start: of
 * BRANCH toward TARGET (what it has is unknown); pending: the least time
 * among its commits not yet written; end: done. */
void idx_prog_start(struct idx_db *db, const char *branch,
		    const struct store_oid *target);
void idx_prog_pending(struct idx_db *db, int64_t pending_min);
void idx_prog_end(struct idx_db *db);
/* Is the owner's indexer at work (idx_db_reserve)? */
bool idx_prog_reserved(struct idx_db *db);
/* Take the catch-up lock as a foreground caller (a lookup, an index
 * build): not while the owner's indexer holds the reservation, and at
 * most IDX_CATCHUP_WAIT_S (-EAGAIN and a message). */
int idx_catchup_lock_fg(struct idx_db *db, const char *branch);

/* What a lookup needs of the index: all of it, or the commit whose id is
 * HEX (40 digits), or the newest commit at or before WHEN. */
struct idx_need {
	bool all;
	const char *hex;
	int64_t when;
};
/* Wait for NEED: 0 when the index reflects the head (caught up here if
 * no one else was at it; or read-only: the caller walks), 1 when the
 * running catch-up has written enough for it, -EAGAIN (and a message)
 * past IDX_CATCHUP_WAIT_S. */
int idx_history_wait(struct idx_db *db, struct store *st, const char *branch,
		     const struct idx_need *need);

#endif
