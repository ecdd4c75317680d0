/* catchup_int.h - private to index/: one catch-up's state and the row
 * writers shared by catchup.c (the records a commit adds, the catch-up's
 * steps), chainidx.c (the walk of the new commits, oldest first, in
 * bounded memory), rewind.c (a branch moved back), add.c (a save's own
 * commit), worker.c (the catch-ups saves ask for) and wait.c (who runs a
 * catch-up, and what lookups wait for meanwhile). The row writers are
 * called with db->catchup_lock held. */
#ifndef CHRONOFS_INDEX_CATCHUP_INT_H
#define CHRONOFS_INDEX_CATCHUP_INT_H

#include <time.h>

#include "db_int.h"
#include "history.h"
#include "order_int.h"

/* Commits per write batch (and between checks for a stop). */
#define BATCH_COMMITS 1024
/* Path rows per write batch at most, within a commit too: a commit of a
 * million documents is written in parts (memory bounded by this). The
 * environment's CHRONOFS_INDEX_CHUNK overrides it (tests), read once. */
#define CHUNK_ROWS 32768
size_t idx_chunk_rows(void);

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

/* changes.c: a commit's 'K' record (changes.h) being gathered. */
struct idx_rec {
	struct idx_key v; /* the value so far (empty: no file yet) */
	size_t n; /* files */
	bool odd; /* no record: too many files, or one not reported */
	bool plain; /* every file 100644: written as version 1 */
};
void idx_rec_reset(struct idx_rec *r);
void idx_rec_release(struct idx_rec *r);
int idx_rec_add(struct idx_rec *r, const char *path,
		const struct store_oid *before, const struct store_oid *after);
/* The record's key, for COMMIT. */
int idx_rec_key(struct idx_key *k, const struct store_oid *commit);

struct catchup {
	struct idx_db *db;
	struct store *st;
	const char *branch;
	struct store_oid stop; /* the indexed head, if any */
	bool have_stop;
	uint64_t stop_seq;
	size_t n; /* new commits */
	uint64_t base_seq; /* seq of the commit below the new ones + 1, or 0 */
	bool found; /* the walk met an indexed commit: base, at base_seq - 1 */
	struct store_oid base;
	rocksdb_writebatch_t *wb;
	struct idx_key k;
	uint64_t seq;
	struct store_oid commit;
	int64_t time;
	int64_t last_time; /* of the newest indexed commit */
	bool have_last;
	bool head_dirty; /* the batch holds commits: 'H' goes with them */
	struct store_oid hcommit; /* the newest commit put whole, its seq */
	uint64_t hseq;
	size_t rows; /* path rows put since the last write */
	/* c->commit's rows are partly written, its 'W' record with them
	 * (see idx_wip_read); put_commit deletes it with the last part. */
	bool partial;
	bool stoppable; /* a catch-up: a stop ends it between parts too */
	bool have_wip; /* a 'W' record when the catch-up started */
	struct store_oid wip;
	uint64_t wip_seq;
	bool bulk; /* written with idx_db_bulk's options */
	bool sorted; /* puts gathered in SB, added in key order at flush */
	struct idx_sortbatch sb;
	const struct idx_defs *defs; /* ordered indexes on this branch */
	time_t reported; /* last progress call */
	struct idx_rec rec; /* what this commit changed ('K') */
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
/* The 'T', 'S' and 'C' rows of c->commit at c->seq; its 'H' record goes
 * with the batch (idx_cu_flush), so a commit is indexed, for the next
 * catch-up, with its last part. */
int idx_cu_put_commit(struct catchup *c);
int idx_cu_flush(struct catchup *c);
void idx_cu_release(struct catchup *c);
/* The progress hook, at most every IDX_PROGRESS_S seconds. */
void idx_cu_progress(struct catchup *c, size_t done);
/* A tree missing from the repository, hit indexing c->commit: logged
 * once per tree; the commit is indexed without it. */
void idx_cu_missing_tree(struct catchup *c, const struct store_oid *tree);

/* A commit written in parts and not finished (a stop or a crash between
 * them): its 'W' record ('W' B -> commit (20) seq (8)) names it. Its rows
 * at SEQ are keyed as a new catch-up writes them again, so if it indexes
 * the same commit at the same seq they are overwritten; else they are
 * dropped first (chainidx.c). 0, or -ENOENT if there is none. */
int idx_wip_read(struct idx_db *db, const char *branch,
		 struct store_oid *commit, uint64_t *seq);

/* The commit at SEQ (if COMMIT is not NULL) and its committer time, from
 * its 'S' record. -ENOENT if none. */
int idx_seq_read(struct idx_db *db, const char *branch, uint64_t seq,
		 struct store_oid *commit, int64_t *time);
/* Is COMMIT on the indexed chain? 1 with its *seq if its 'C' record
 * says so, else 0. */
int idx_cu_indexed_seq(struct catchup *c, const struct store_oid *commit,
		       uint64_t *seq);

/* Everything derived from BRANCH's history into WB; the definitions of
 * its ordered indexes too when DEFS. */
void idx_drop_all(rocksdb_writebatch_t *wb, const char *branch, bool defs);

/* Drop the ordered indexes of collections HEAD no longer has. */
int idx_drop_gone(struct idx_db *db, struct store *st, const char *branch,
		  const struct store_oid *head);

/* Bring BRANCH's indexes up to its head; caller holds the lock. */
int idx_catchup_locked(struct idx_db *db, struct store *st, const char *branch,
		       uint64_t *added);

/* chainidx.c: index the commits from HEAD back to the first indexed one
 * (c->found: the base; the indexed head, or where the branch moved back
 * or onto another line, the newest commit both lines share, cut back to
 * first) or the root, oldest first. Caller holds the catch-up lock and
 * has set c->db, st, branch, stop, stop_seq, have_stop. *CUT: the index
 * was cut back. */
int idx_chain_index(struct catchup *c, const struct store_oid *head, bool *cut);

/* rewind.c: cut the indexed chain back to c->base at c->base_seq - 1, its
 * newest commit also on the head's chain, in one batch with the head
 * record: the rows of the commits after it go, the time keys of those
 * before it are raised where a commit cut away had lowered them, and
 * the ordered indexes are set to the base's tree. */
int idx_rewind(struct catchup *c);

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
