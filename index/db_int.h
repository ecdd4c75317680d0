/* db_int.h - private to index/: the database handle and error helpers. */
#ifndef CHRONOFS_INDEX_DB_INT_H
#define CHRONOFS_INDEX_DB_INT_H

#include <pthread.h>

#include <rocksdb/c.h>

#include "db.h"

struct idx_db {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts;
	pthread_mutex_t catchup_lock; /* one catch-up at a time */
	bool readonly; /* another process (a mount) holds it */
};

int idx_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Translate and free a RocksDB error string. */
int idx_rocks_fail(char *e, const char *what);

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

#endif
