/* db_int.h - private to index/: the database handle and error helpers. */
#ifndef CHRONOFS_INDEX_DB_INT_H
#define CHRONOFS_INDEX_DB_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "db.h"
#include "store.h"

struct idx_db {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts;
	rocksdb_writeoptions_t *bulk_wopts; /* no log: idx_db_bulk */
	pthread_mutex_t catchup_lock; /* one catch-up at a time; released
				       * with idx_catchup_unlock */
	/* What the running catch-up has written (wait.c): lookups that
	 * need only part of a long history wait on it, not for all. */
	pthread_mutex_t prog_lock;
	pthread_cond_t prog_cond; /* broadcast at every change below */
	struct idx_prog {
		bool reserved; /* idx_db_reserve: the owner's indexer runs */
		bool running; /* a catch-up of BRANCH toward TARGET */
		char *branch;
		struct store_oid target;
		/* The least committer time among its commits not yet
		 * written (INT64_MIN: not known yet). */
		int64_t pending_min;
		uint64_t gen; /* counts the changes */
	} prog;
	atomic_bool cancel; /* idx_db_cancel: catch-ups stop at their next
			     * batch (what they wrote is kept) */
	idx_progress_fn progress; /* idx_db_set_progress, or NULL */
	void *progress_ctx;
	bool readonly; /* another process (a mount) holds it */
	bool read_only_wanted; /* idx_db_open_read: never a writer */
	bool paused; /* idx_db_open_paused: no compaction till resumed */
	struct idx_defs_memo *defs_memo; /* order_maint.c; catchup_lock */
	struct store_oid *missing; /* trees logged missing; catchup_lock */
	size_t nmissing;
	/* worker.c: the catch-ups asked for by saves, run on a thread of
	 * their own; due_lock guards the fields after it. */
	pthread_mutex_t due_lock;
	pthread_cond_t due_cond;
	char **due; /* branches, oldest request first */
	size_t ndue;
	struct store *due_st;
	bool worker_on, worker_stop;
	pthread_t worker;
};

/* worker.c: end the catch-up thread, if one was started (idx_db_close). */
void idx_worker_stop(struct idx_db *db);

/* A long catch-up's writes (with bulk_wopts): no compaction while ON
 * (each would merge its new keys, spread over the whole key space by the
 * commit ids, into everything written before: most of the catch-up's
 * work), one after; and no write-ahead log (half its writes): turned
 * off, the memory part is written out, so nothing later in the log can
 * be replayed ahead of it after a crash. A crash meanwhile keeps what
 * was written out, a prefix of the batches (an index of an older head):
 * the next catch-up goes on from there. RocksDB's stall on many level-0
 * files is off with compactions too. */
int idx_db_bulk(struct idx_db *db, bool on);

/* wait.c: release the catch-up lock, waking the lookups that wait. */
void idx_catchup_unlock(struct idx_db *db);

/* idx_mtime_set's record, added to batch WB instead. */
int idx_mtime_put(rocksdb_writebatch_t *wb, const char *branch,
		  const char *path, const unsigned char blob[IDX_OID_RAWSZ],
		  const struct idx_mtime *t);

/* order_maint.c: drop the kept index definitions (idx_db_close). */
void idx_defs_memo_free(struct idx_db *db);

/* A line on the index's log (idx_set_logger's), IDX_LOG_* LEVEL. */
void idx_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* skip.c: a document over the store's max_doc_size left out of what
 * parses documents, said once per version (not at every listing). */
void idx_skip_say(const char *branch, const char *path,
		  const struct store_oid *blob, size_t size, size_t max);

/* The index's failures go to the core's one record (store/error.c). */
#define idx_fail store_fail
/* Translate and free a RocksDB error string. */
int idx_rocks_fail(char *e, const char *what);
/* Whether tree ID, which Git cannot find, is reported missing for the
 * first time by this handle (so it is logged once). Caller holds
 * db->catchup_lock. */
bool idx_missing_first(struct idx_db *db, const struct store_oid *id);
/* A line to idx_set_logger's channel (IDX_LOG_ERROR, IDX_LOG_WARNING):
 * what the index handled by itself but the user should know. */
void idx_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Big-endian integers keep numeric order under memcmp. */
static inline void idx_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint64_t idx_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* A key under construction: family, branch, then parts. */
struct idx_key {
	unsigned char *p;
	size_t len, cap;
};

static inline int idx_key_add(struct idx_key *k, const void *data, size_t n)
{
	if (k->len + n > k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 128;
		unsigned char *p;

		while (cap < k->len + n)
			cap *= 2;
		p = realloc(k->p, cap);
		if (!p)
			return -ENOMEM;
		k->p = p;
		k->cap = cap;
	}
	if (n) /* DATA may be NULL for an empty part */
		memcpy(k->p + k->len, data, n);
	k->len += n;
	return 0;
}

/* F B \0, the prefix of every key of one family and branch. */
static inline int idx_key_start(struct idx_key *k, char family,
				const char *branch)
{
	k->len = 0;
	if (idx_key_add(k, &family, 1) < 0 ||
	    idx_key_add(k, branch, strlen(branch) + 1) < 0)
		return -ENOMEM;
	return 0;
}

static inline int idx_key_be64(struct idx_key *k, uint64_t v)
{
	unsigned char b[8];

	idx_put_be64(b, v);
	return idx_key_add(k, b, 8);
}

/* A committer time as an order-preserving key part: the sign bit
 * flipped, so that big-endian bytes sort as the signed times do. */
static inline uint64_t idx_time_bits(int64_t t)
{
	return (uint64_t)t ^ (1ull << 63);
}

#endif
