/* db.c - opening the RocksDB mirror and the mtime records; the one place
 * where RocksDB's errptr strings become -errno codes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rocksdb/c.h>

#include "db_int.h"
#include "banned.h"

/* Key prefixes: one byte per record family. */
#define FAMILY_MTIME 'm'

int idx_rocks_fail(char *e, const char *what)
{
	int err = idx_fail(-EIO, "rocksdb %s: %s", what, e);

	rocksdb_free(e);
	return err;
}

/* RocksDB creates the database directory but not its parents. */
static int make_parent(const char *dir)
{
	char *copy = strdup(dir), *slash;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash && slash != copy) {
		*slash = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			err = idx_fail(-errno, "%s: %s", copy, strerror(errno));
	}
	free(copy);
	return err;
}

int idx_db_open(struct idx_db **out, const char *dir, bool sync)
{
	struct idx_db *db;
	char *e = NULL;
	int err;

	*out = NULL;
	if ((err = make_parent(dir)) < 0)
		return err;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	pthread_mutex_init(&db->catchup_lock, NULL);
	db->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(db->opts, 1);
	rocksdb_options_set_keep_log_file_num(db->opts, 2);
	rocksdb_options_set_max_open_files(db->opts, 256);
	db->ropts = rocksdb_readoptions_create();
	db->wopts = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(db->wopts, sync);
	db->db = rocksdb_open(db->opts, dir, &e);
	if (e && strstr(e, "lock")) {
		/* A mount holds the database: read what it keeps current. */
		rocksdb_free(e);
		e = NULL;
		db->readonly = true;
		db->db = rocksdb_open_for_read_only(db->opts, dir, 0, &e);
	}
	if (e) {
		err = idx_rocks_fail(e, dir);
		idx_db_close(db);
		return err;
	}
	*out = db;
	return 0;
}

int idx_db_flush(struct idx_db *db)
{
	rocksdb_flushoptions_t *fo;
	char *e = NULL;

	if (db->readonly)
		return 0;
	fo = rocksdb_flushoptions_create();
	rocksdb_flushoptions_set_wait(fo, 1);
	rocksdb_flush(db->db, fo, &e);
	rocksdb_flushoptions_destroy(fo);
	return e ? idx_rocks_fail(e, "flush") : 0;
}

/* Past this much in memory a guest's close writes it out: the next open
 * (the next library call) would replay it from the log otherwise. */
#define CLOSE_FLUSH_BYTES (1u << 20)

void idx_db_close_flushed(struct idx_db *db)
{
	uint64_t bytes = 0;

	if (db && !db->readonly &&
	    rocksdb_property_int(db->db, "rocksdb.cur-size-all-mem-tables",
				 &bytes) == 0 &&
	    bytes > CLOSE_FLUSH_BYTES && idx_db_flush(db) < 0)
		store_error_clear(); /* the log still holds it all */
	idx_db_close(db);
}

bool idx_db_readonly(const struct idx_db *db)
{
	return db->readonly;
}

void idx_db_close(struct idx_db *db)
{
	if (!db)
		return;
	idx_defs_memo_free(db);
	if (db->db)
		rocksdb_close(db->db);
	rocksdb_writeoptions_destroy(db->wopts);
	rocksdb_readoptions_destroy(db->ropts);
	rocksdb_options_destroy(db->opts);
	pthread_mutex_destroy(&db->catchup_lock);
	free(db);
}

/* FAMILY branch \0 path: the two strings cannot hold NUL. */
static int mtime_key(char **out, size_t *len, const char *branch,
		     const char *path)
{
	size_t bl = strlen(branch), pl = strlen(path);
	char *k = malloc(bl + pl + 2);

	if (!k)
		return -ENOMEM;
	k[0] = FAMILY_MTIME;
	memcpy(k + 1, branch, bl + 1);
	memcpy(k + 2 + bl, path, pl);
	*out = k;
	*len = bl + pl + 2;
	return 0;
}

static void mtime_val(unsigned char val[IDX_OID_RAWSZ + 12],
		      const unsigned char blob[IDX_OID_RAWSZ],
		      const struct idx_mtime *t)
{
	memcpy(val, blob, IDX_OID_RAWSZ);
	memcpy(val + IDX_OID_RAWSZ, &t->sec, 8);
	memcpy(val + IDX_OID_RAWSZ + 8, &t->nsec, 4);
}

int idx_mtime_set(struct idx_db *db, const char *branch, const char *path,
		  const unsigned char blob[IDX_OID_RAWSZ],
		  const struct idx_mtime *t)
{
	unsigned char val[IDX_OID_RAWSZ + 12];
	char *key, *e = NULL;
	size_t klen;
	int err = mtime_key(&key, &klen, branch, path);

	if (err < 0)
		return err;
	mtime_val(val, blob, t);
	rocksdb_put(db->db, db->wopts, key, klen, (const char *)val,
		    sizeof(val), &e);
	free(key);
	return e ? idx_rocks_fail(e, "put mtime") : 0;
}

int idx_mtime_put(rocksdb_writebatch_t *wb, const char *branch,
		  const char *path, const unsigned char blob[IDX_OID_RAWSZ],
		  const struct idx_mtime *t)
{
	unsigned char val[IDX_OID_RAWSZ + 12];
	char *key;
	size_t klen;
	int err = mtime_key(&key, &klen, branch, path);

	if (err < 0)
		return err;
	mtime_val(val, blob, t);
	rocksdb_writebatch_put(wb, key, klen, (const char *)val, sizeof(val));
	free(key);
	return 0;
}

int idx_mtime_get(struct idx_db *db, const char *branch, const char *path,
		  const unsigned char blob[IDX_OID_RAWSZ],
		  struct idx_mtime *out)
{
	char *key, *val, *e = NULL;
	size_t klen, vlen = 0;
	int err = mtime_key(&key, &klen, branch, path);

	if (err < 0)
		return err;
	val = rocksdb_get(db->db, db->ropts, key, klen, &vlen, &e);
	free(key);
	if (e)
		return idx_rocks_fail(e, "get mtime");
	if (!val || vlen != IDX_OID_RAWSZ + 12 ||
	    memcmp(val, blob, IDX_OID_RAWSZ) != 0)
		err = -ENOENT;
	else {
		memcpy(&out->sec, val + IDX_OID_RAWSZ, 8);
		memcpy(&out->nsec, val + IDX_OID_RAWSZ + 8, 4);
	}
	rocksdb_free(val);
	return err;
}
