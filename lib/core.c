/* core.c - the handle of libchronofs: open and close (a guest opens the
 * index database per call, the daemon's owner handle holds it), the one
 * error record's entry and exit, and where the index lives. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "history.h"
#include "lib_int.h"
#include "banned.h"

/* A library call may hold the database a moment; the owner waits for it
 * in steps of this long. */
#define INDEX_WAIT_STEP_US 100000

const char *chronofs_errmsg(chronofs *db)
{
	(void)db;
	return store_errmsg();
}

int lib_fail(int err, const char *what)
{
	const char *m = store_errmsg();

	if (!*m)
		return store_fail(err, "%s: %s", what, strerror(-err));
	if (what && *what && !strstr(m, what))
		return store_fail(err, "%s: %s", what, m);
	return err;
}

const char *chronofs_version(void)
{
	return CHRONOFS_VERSION;
}

void chronofs_free(void *p)
{
	free(p);
}

void chronofs_strings_free(char **v, size_t n)
{
	store_strv_free(v, n);
}

int chronofs_init(const char *path)
{
	int err;

	lib_enter();
	err = store_init(path);
	return err < 0 ? lib_fail(err, path) : 0;
}

static int handle_open(chronofs **out, const char *path,
		       const struct store_opts *so, size_t max_doc_size)
{
	struct store_opts o = *so;
	chronofs *db;
	int err;

	*out = NULL;
	db = calloc(1, sizeof(*db));
	if (!db)
		return lib_fail(-ENOMEM, path);
	/* What parses documents (the ordered indexes) leaves larger ones
	 * out: a blob committed from outside may be any size. */
	o.max_doc_size = max_doc_size ? max_doc_size : CFS_MAX_DOC_SIZE;
	err = store_open(&db->st, path, &o);
	if (err < 0) {
		free(db);
		return lib_fail(err, path);
	}
	if (asprintf(&db->index_dir, "%s/chronofs/index",
		     store_gitdir(db->st)) < 0) {
		store_close(db->st);
		free(db);
		return lib_fail(-ENOMEM, path);
	}
	if (lib_uses_new(db) < 0) {
		free(db->index_dir);
		store_close(db->st);
		free(db);
		return lib_fail(-ENOMEM, path);
	}
	/* The index is derived from Git and caught up from it after a
	 * crash: its writes need no device flush of their own (with
	 * fsync=on that was one more flush per save, one after another). */
	db->sync = false;
	db->log = so->log;
	db->max_doc_size = max_doc_size ? max_doc_size : CFS_MAX_DOC_SIZE;
	*out = db;
	return 0;
}

int chronofs_open(chronofs **out, const char *path, const char *author)
{
	struct store_opts so = { .author = author, .fsync = true };

	lib_enter();
	return handle_open(out, path, &so, 0);
}

/* The index's own log lines (a database moved aside, a full disk) go to
 * the owner's channels: one daemon per process. */
static void (*owner_log)(const char *msg), (*owner_warn)(const char *msg);

static void index_log(int level, const char *msg)
{
	void (*fn)(const char *) = level <= IDX_LOG_ERROR ? owner_log :
							    owner_warn;

	if (fn)
		fn(msg);
}

int cfs_open(chronofs **out, const char *repo, const struct cfs_opts *o)
{
	struct store_opts so = { .author = o->author,
				 .fsync = o->fsync,
				 .log = o->log,
				 .warm = true,
				 .info = o->info };
	int err;

	lib_enter();
	err = handle_open(out, repo, &so, o->max_doc_size);
	if (err == 0) {
		(*out)->owner = true;
		(*out)->info = o->info;
		owner_log = o->log;
		owner_warn = o->warn ? o->warn : o->log;
		if (owner_log)
			idx_set_logger(index_log);
	}
	return err;
}

void chronofs_close(chronofs *db)
{
	if (!db)
		return;
	lib_conflicts_free(db);
	lib_uses_free(db);
	idx_db_close(db->idx);
	store_close(db->st);
	free(db->index_dir);
	free(db);
}

/* A long catch-up's progress, on the owner's info channel. */
static void progress(void *ctx, const char *branch, uint64_t done,
		     uint64_t total)
{
	chronofs *db = ctx;
	char msg[512];

	if (!db->info)
		return;
	snprintf(msg, sizeof(msg), "indexing branch %s: %llu of %llu commits",
		 branch, (unsigned long long)done, (unsigned long long)total);
	db->info(msg);
}

int cfs_index_attach(chronofs *db, unsigned wait_ms, bool *readonly)
{
	int err = 0;

	lib_enter();
	for (unsigned waited = 0;; waited += INDEX_WAIT_STEP_US / 1000) {
		err = idx_db_open(&db->idx, db->index_dir, db->sync);
		if (err < 0 || !idx_db_readonly(db->idx) || waited >= wait_ms)
			break;
		idx_db_close(db->idx);
		db->idx = NULL;
		usleep(INDEX_WAIT_STEP_US);
	}
	if (err < 0)
		return lib_fail(err, db->index_dir);
	*readonly = idx_db_readonly(db->idx);
	idx_db_set_progress(db->idx, progress, db);
	return 0;
}

void cfs_index_cancel(chronofs *db)
{
	idx_db_cancel(db->idx);
}

void cfs_index_reserve(chronofs *db, bool on)
{
	if (db->idx)
		idx_db_reserve(db->idx, on);
}

int cfs_index_flush(chronofs *db)
{
	int err;

	lib_enter();
	if (!db->idx)
		return 0;
	err = idx_db_flush(db->idx);
	return err < 0 ? lib_fail(err, db->index_dir) : 0;
}

/* A handle that does not own the index opens the database for each
 * call. RocksDB allows one open per process: two threads (or two
 * handles) of one process take turns, or the second open fails (EIO,
 * or a read-only view of a database this process holds). Recursive: a
 * call may read the index twice on one thread. */
static pthread_mutex_t index_turn = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

enum { GET_WRITE, GET_READ, GET_PAUSED };

static int index_get(chronofs *db, struct idx_db **out, int how)
{
	int err;

	*out = NULL;
	if (db->owner) {
		*out = db->idx;
		return db->idx ? 0 :
				 store_fail(-EIO, "%s: index not open",
					    db->index_dir);
	}
	pthread_mutex_lock(&index_turn);
	err = how == GET_READ ?
		      idx_db_open_read(out, db->index_dir) :
	      how == GET_PAUSED ?
		      idx_db_open_paused(out, db->index_dir, db->sync) :
		      idx_db_open(out, db->index_dir, db->sync);
	if (err < 0) {
		pthread_mutex_unlock(&index_turn);
		return lib_fail(err, db->index_dir);
	}
	return 0;
}

int lib_index_get(chronofs *db, struct idx_db **out)
{
	return index_get(db, out, GET_WRITE);
}

int lib_index_get_read(chronofs *db, struct idx_db **out)
{
	return index_get(db, out, GET_READ);
}

int lib_index_get_paused(chronofs *db, struct idx_db **out)
{
	return index_get(db, out, GET_PAUSED);
}

int lib_index_resume(chronofs *db, struct idx_db *idx)
{
	return db->owner || !idx ? 0 : idx_db_resume(idx);
}

void lib_index_put(chronofs *db, struct idx_db *idx)
{
	if (db->owner || !idx)
		return;
	idx_db_close_flushed(idx);
	pthread_mutex_unlock(&index_turn);
}

void cfs_prepare_writes(chronofs *db)
{
	store_prepare_writes(db->st);
}

const char *cfs_gitdir(chronofs *db)
{
	return store_gitdir(db->st);
}

void cfs_spread_subdirs(const char *dir)
{
	store_spread_subdirs(dir);
}

size_t cfs_max_doc_size(chronofs *db)
{
	return db->max_doc_size;
}
