/* db.h - the RocksDB database kept inside the Git directory
 * (<gitdir>/chronofs/index): a mirror of facts derivable from Git plus the
 * client-set mtimes. Every function returns 0 or -errno; the message of
 * the last failure on this thread is store_errmsg(), the core's one
 * error record. The handle is
 * thread-safe (RocksDB's own guarantee).
 */
#ifndef CHRONOFS_INDEX_DB_H
#define CHRONOFS_INDEX_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDX_OID_RAWSZ 20

struct idx_db;

/* A long catch-up's progress (history.h's idx_db_set_progress). */
typedef void (*idx_progress_fn)(void *ctx, const char *branch, uint64_t done,
				uint64_t total);

struct idx_mtime {
	int64_t sec;
	uint32_t nsec;
};

/* Where the index's own log lines go (a database moved aside, opened
 * read-only for a full disk); default: stderr as "chronofs: LEVEL: msg".
 * NULL restores the default. */
#define IDX_LOG_ERROR 3 /* syslog's LOG_ERR */
#define IDX_LOG_WARNING 4 /* syslog's LOG_WARNING */
void idx_set_logger(void (*fn)(int level, const char *msg));

/* Open (creating if missing) the database in directory DIR. Caller owns
 * *out and frees it with idx_db_close(). SYNC: write durably. A database
 * RocksDB reports corrupt is moved to DIR.broken-TIME (a log line) and an
 * empty one made; one held by another process, or on a filesystem with
 * less than a few MiB free, is opened read-only. A write that fails
 * returns -ENOSPC, -EDQUOT or -EIO, never aborts. */
int idx_db_open(struct idx_db **out, const char *dir, bool sync);
/* The same, read-only whatever holds it: for a caller that only reads
 * (a diff), which then writes nothing, not even RocksDB's own files at
 * open. A database not there yet is an error. */
int idx_db_open_read(struct idx_db **out, const char *dir);
/* As idx_db_open, RocksDB's compactions held back until idx_db_resume:
 * for a short call that reads first and writes at its end (a merge).
 * Else the open starts the compaction its level-0 files call for, which
 * runs beside the whole call only to be cut off at the close. */
int idx_db_open_paused(struct idx_db **out, const char *dir, bool sync);
/* Compactions as idx_db_open has them, from now on. */
int idx_db_resume(struct idx_db *db);
void idx_db_close(struct idx_db *db);
/* Close, writing the in-memory part out first when it is large (a
 * catch-up of many commits), so the next open replays little. */
void idx_db_close_flushed(struct idx_db *db);
/* Write the in-memory part out, so the next open replays no log (seconds
 * for an index of 100,000 commits). The daemon does it at unmount. */
int idx_db_flush(struct idx_db *db);
/* Opened read-only, because another process holds the database. */
bool idx_db_readonly(const struct idx_db *db);

/* The mtime of document PATH on BRANCH while its content is BLOB: set by
 * a client (utimens) or by the save that wrote it. Get returns -ENOENT if
 * none is recorded for this very content. */
int idx_mtime_set(struct idx_db *db, const char *branch, const char *path,
		  const unsigned char blob[IDX_OID_RAWSZ],
		  const struct idx_mtime *t);
int idx_mtime_get(struct idx_db *db, const char *branch, const char *path,
		  const unsigned char blob[IDX_OID_RAWSZ],
		  struct idx_mtime *out);

#endif
