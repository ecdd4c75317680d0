/* db.c - opening the RocksDB mirror and the mtime records; the one place
 * where RocksDB's errptr strings become -errno codes.
 *
 * The index is derived data: one RocksDB cannot open for corruption is
 * moved aside and made anew (the catch-up rebuilds it from Git), and a
 * full disk must not stop the repository from mounting, so the files
 * RocksDB makes are sized for an index, not for its defaults (a 64 MiB
 * memtable, whose write-ahead log it preallocates at 1.1 times that, and
 * a 4 MiB MANIFEST preallocation: 70 MiB at the first write). */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <rocksdb/c.h>

#include "db_int.h"
#include "banned.h"

/* Key prefixes: one byte per record family. */
#define FAMILY_MTIME 'm'

/* A memtable (and so the write-ahead log before it is flushed) of 4 MiB:
 * an index of 100,000 commits flushes a few times while it is built. */
#define WRITE_BUFFER (4u << 20)
#define WAL_MAX (16u << 20)
#define MANIFEST_PREALLOC (64u << 10)
/* With less free space than this the database is opened read-only: a
 * RocksDB that runs out of space while it opens aborts the process. */
#define OPEN_MIN_FREE (2 * WRITE_BUFFER)

static atomic_bool io_failed; /* a RocksDB write failed for its disk */

static void log_stderr(int level, const char *msg)
{
	fprintf(stderr, "chronofs: %s: %s\n",
		level == IDX_LOG_WARNING ? "WARNING" : "ERROR", msg);
}

static void (*log_fn)(int level, const char *msg) = log_stderr;

void idx_set_logger(void (*fn)(int level, const char *msg))
{
	log_fn = fn ? fn : log_stderr;
}

void idx_log(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(level, line);
}

/* RocksDB's status strings name their kind first ("IO error: No space
 * left on device: ..."). */
static int rocks_errno(const char *e)
{
	if (strstr(e, "No space left on device"))
		return -ENOSPC;
	if (strstr(e, "Disk quota exceeded"))
		return -EDQUOT;
	return -EIO;
}

int idx_rocks_fail(char *e, const char *what)
{
	const char *msg = e ? e : "unknown error";
	int err = idx_fail(rocks_errno(msg), "rocksdb %s: %s", what, msg);

	/* Past a failed write RocksDB refuses writes (until it recovers by
	 * itself) and its own flush may abort the process: idx_db_flush
	 * skips it. */
	if (!strncmp(msg, "IO error", 8) || err != -EIO)
		atomic_store(&io_failed, true);
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

/* Free bytes on the filesystem of DIR (or of its parent, before it
 * exists); (unsigned long long)-1 if unknown. */
static unsigned long long free_bytes(const char *dir)
{
	struct statvfs sv;
	char *copy, *slash;
	int rc = statvfs(dir, &sv);

	if (rc < 0 && (copy = strdup(dir)) != NULL) {
		if ((slash = strrchr(copy, '/')) != NULL && slash != copy)
			*slash = '\0';
		rc = statvfs(copy, &sv);
		free(copy);
	}
	if (rc < 0)
		return (unsigned long long)-1;
	return (unsigned long long)sv.f_bavail * sv.f_frsize;
}

/* Move the database in DIR aside (DIR.broken-TIME, or DIR.broken-TIME.N
 * past one in that second), keeping it for a look; 0, or -errno. */
static int move_aside(const char *dir, const char *why)
{
	long long now = (long long)time(NULL);
	char to[4400];
	int rc;

	snprintf(to, sizeof(to), "%s.broken-%lld", dir, now);
	for (int n = 2; (rc = rename(dir, to)) < 0 && n < 100 &&
			(errno == EEXIST || errno == ENOTEMPTY);
	     n++)
		snprintf(to, sizeof(to), "%s.broken-%lld.%d", dir, now, n);
	if (rc < 0 && errno != ENOENT) {
		int err = -errno;

		idx_log(IDX_LOG_ERROR,
			"index %s cannot be opened (%s) nor "
			"moved aside: %s",
			dir, why, strerror(errno));
		return err;
	}
	idx_log(IDX_LOG_WARNING,
		"index %s cannot be opened (%s): moved to %s; "
		"it is rebuilt from Git (mtimes set by clients are lost)",
		dir, why, to);
	return 0;
}

/* A database made on a nearly full disk: its memtable, and the least
 * free space to make one at all. */
#define FRESH_BUFFER (256u << 10)
#define FRESH_MIN_FREE (1u << 20)

static bool exists_in(const char *dir, const char *name)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int try_open(struct idx_db *db, const char *dir, char **e)
{
	unsigned long long avail = free_bytes(dir);
	bool low = avail < OPEN_MIN_FREE;

	*e = NULL;
	db->readonly = false;
	if (low && !exists_in(dir, "CURRENT") && avail >= FRESH_MIN_FREE) {
		/* No database yet, so none to read: a new one with a small
		 * memtable (and so a small log) fits where a 4 MiB one
		 * would not; a later write that finds the disk full
		 * degrades as any other. */
		rocksdb_options_set_write_buffer_size(db->opts, FRESH_BUFFER);
		rocksdb_options_set_max_total_wal_size(db->opts,
						       4 * FRESH_BUFFER);
		low = false;
		idx_log(IDX_LOG_WARNING,
			"index %s: %llu bytes free: made with a %u KiB "
			"memtable",
			dir, avail, FRESH_BUFFER >> 10);
	}
	if (!low && !db->read_only_wanted)
		db->db = rocksdb_open(db->opts, dir, e);
	if (low || db->read_only_wanted || (*e && strstr(*e, "lock"))) {
		/* A mount holds the database: read what it keeps current.
		 * Or the disk is (nearly) full: read what is there. */
		rocksdb_free(*e);
		*e = NULL;
		db->readonly = true;
		db->db = rocksdb_open_for_read_only(db->opts, dir, 0, e);
		if (low && !*e)
			idx_log(IDX_LOG_WARNING,
				"index %s: %llu bytes free: "
				"opened read-only",
				dir, avail);
	}
	return *e ? -1 : 0;
}

static int open_db(struct idx_db **out, const char *dir, bool sync,
		   bool read_only, bool paused)
{
	struct idx_db *db;
	char *e = NULL;
	int err;

	*out = NULL;
	if (!read_only && (err = make_parent(dir)) < 0)
		return err;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->read_only_wanted = read_only;
	db->paused = paused;
	pthread_mutex_init(&db->catchup_lock, NULL);
	pthread_mutex_init(&db->due_lock, NULL);
	pthread_cond_init(&db->due_cond, NULL);
	pthread_mutex_init(&db->prog_lock, NULL);
	pthread_cond_init(&db->prog_cond, NULL);
	db->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(db->opts, 1);
	/* Its info LOG only for what is fatal (and the options, at open):
	 * RocksDB (as Debian builds it, with assertions) aborts the process
	 * at the first line it logs after one it could not write for a full
	 * disk. Our own lines say what matters. */
	rocksdb_options_set_info_log_level(db->opts, 4 /* FATAL_LEVEL */);
	rocksdb_options_set_keep_log_file_num(db->opts, 2);
	rocksdb_options_set_max_log_file_size(db->opts, 1u << 20);
	rocksdb_options_set_max_open_files(db->opts, 256);
	rocksdb_options_set_write_buffer_size(db->opts, WRITE_BUFFER);
	rocksdb_options_set_max_total_wal_size(db->opts, WAL_MAX);
	rocksdb_options_set_target_file_size_base(db->opts, 2 * WRITE_BUFFER);
	/* zstd, not the default snappy: the rows hold commit ids as hex and
	 * paths, which it packs tighter (5,000 saves: 1.40 -> 1.14 MB). */
	rocksdb_options_set_compression(db->opts, rocksdb_zstd_compression);
	rocksdb_options_set_manifest_preallocation_size(db->opts,
							MANIFEST_PREALLOC);
	if (paused)
		rocksdb_options_set_disable_auto_compactions(db->opts, 1);
	db->ropts = rocksdb_readoptions_create();
	db->wopts = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(db->wopts, sync);
	db->bulk_wopts = rocksdb_writeoptions_create();
	rocksdb_writeoptions_disable_WAL(db->bulk_wopts, 1);
	/* Read-only, beside the process that holds it, files can go while
	 * they are opened (its compactions): that is no corruption, open
	 * again. Only a database we hold is judged corrupt. */
	for (int tries = 0; try_open(db, dir, &e) < 0 && db->readonly &&
			    !strncmp(e, "Corruption", 10) && tries < 20;
	     tries++) {
		rocksdb_free(e);
		e = NULL;
		usleep(20000);
	}
	if (e && !db->readonly && !strncmp(e, "Corruption", 10)) {
		/* Derived data: set it aside and start anew. */
		err = move_aside(dir, e);
		rocksdb_free(e);
		e = NULL;
		if (err < 0) { /* logged; no handle to give (it crashed) */
			idx_db_close(db);
			return idx_fail(err, "%s: corrupt, and not moved aside",
					dir);
		}
		try_open(db, dir, &e);
	}
	if (e) {
		err = idx_rocks_fail(e, dir);
		idx_db_close(db);
		return err;
	}
	*out = db;
	return 0;
}

int idx_db_open(struct idx_db **out, const char *dir, bool sync)
{
	return open_db(out, dir, sync, false, false);
}

int idx_db_open_paused(struct idx_db **out, const char *dir, bool sync)
{
	return open_db(out, dir, sync, false, true);
}

int idx_db_resume(struct idx_db *db)
{
	const char *keys[] = { "disable_auto_compactions" };
	const char *vals[] = { "false" };
	char *e = NULL;

	if (!db->paused || db->readonly)
		return 0;
	db->paused = false;
	rocksdb_set_options(db->db, 1, keys, vals, &e);
	return e ? idx_rocks_fail(e, "set options") : 0;
}

int idx_db_open_read(struct idx_db **out, const char *dir)
{
	return open_db(out, dir, false, true, false);
}

int idx_db_flush(struct idx_db *db)
{
	rocksdb_flushoptions_t *fo;
	char *e = NULL;

	if (db->readonly)
		return 0;
	if (atomic_load(&io_failed))
		return idx_fail(-EIO,
				"index not flushed: a write failed "
				"(the next mount replays or rebuilds it)");
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

int idx_db_bulk(struct idx_db *db, bool on)
{
	const char *keys[] = { "disable_auto_compactions" };
	const char *vals[] = { on ? "true" : "false" };
	char *e = NULL;

	int err = on ? 0 : idx_db_flush(db);

	/* Merged at once, before compactions are on again: else the
	 * level-0 files left would stall writes until they are. */
	if (!on && err == 0)
		rocksdb_compact_range(db->db, NULL, 0, NULL, 0);
	rocksdb_set_options(db->db, 1, keys, vals, &e);
	if (e && err == 0)
		return idx_rocks_fail(e, "set options");
	rocksdb_free(e);
	return err;
}

bool idx_db_readonly(const struct idx_db *db)
{
	return db->readonly;
}

void idx_db_close(struct idx_db *db)
{
	if (!db)
		return;
	idx_worker_stop(db);
	idx_defs_memo_free(db);
	free(db->missing);
	if (db->db)
		rocksdb_close(db->db);
	rocksdb_writeoptions_destroy(db->wopts);
	rocksdb_writeoptions_destroy(db->bulk_wopts);
	rocksdb_readoptions_destroy(db->ropts);
	rocksdb_options_destroy(db->opts);
	pthread_mutex_destroy(&db->catchup_lock);
	pthread_cond_destroy(&db->due_cond);
	pthread_mutex_destroy(&db->due_lock);
	pthread_mutex_destroy(&db->prog_lock);
	pthread_cond_destroy(&db->prog_cond);
	free(db->prog.branch);
	free(db);
}

bool idx_missing_first(struct idx_db *db, const struct store_oid *id)
{
	struct store_oid *v;

	for (size_t i = 0; i < db->nmissing; i++)
		if (store_oid_equal(&db->missing[i], id))
			return false;
	/* Without memory to remember it, it is logged again: no harm. */
	v = realloc(db->missing, (db->nmissing + 1) * sizeof(*v));
	if (v) {
		db->missing = v;
		v[db->nmissing++] = *id;
	}
	return true;
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
