/* syncset.c - the fsyncs of one save (fsync=on), made together.
 *
 * A save writes four or five objects and links each into its objects/xx/
 * directory; with fsync=on each file and each directory must be durable
 * before the ref moves. Made one after another, each fsync waits for its
 * own device flush (~0.3 ms here, 13 per save). The object writer hands
 * them to the save's set instead, and right before the ref update the set
 * is made durable at once, one of two ways:
 *
 * - syncfs(2) on the repository's file system: every dirty file and
 *   directory of it written, then one device flush (what git's
 *   core.fsyncMethod=batch aims at, without relying on a journal). Here a
 *   group's set took 0.8 ms this way against 1.4-2.0 ms the other way.
 * - the files' and directories' own fsyncs on a few threads at once, so
 *   their flushes overlap. syncfs also writes whatever other programs left
 *   dirty on that file system; when one took longer than SYNCFS_SLOW the
 *   saves of the next second use this way, then try syncfs again (a
 *   burst of others' writes is over by then); a second slow one in a row
 *   doubles the wait, up to a minute (the others keep writing).
 *
 * `git config chronofs.fsyncMethod syncfs|files` fixes one way (auto,
 * the default, is the above). Either way the ref is moved only if the
 * sync succeeded. Nothing is deferred outside a save
 * (store_syncset_begin..end), so other writers keep their order. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define SYNC_THREADS 8

struct sync_item {
	int fd; /* an object file, or -1 */
	char *dir; /* a directory to sync, or NULL */
};

struct store_syncset {
	/* The saving thread: objects other threads write meanwhile (a
	 * merge's, under st->lock only) are synced by their writer. */
	pthread_t owner;
	struct sync_item *v;
	size_t n, cap;
	atomic_size_t next;
	atomic_int err;
	/* Past SYNC_MAX items (a transaction or an import of thousands of
	 * documents) the set stops holding descriptors, and its flush syncs
	 * the whole file system of the repository instead: one flush, as
	 * git's core.fsyncMethod=batch does, without thousands of open
	 * files. */
	bool whole;
};

#define SYNC_MAX 1024

#define SYNCFS_SLOW 10000000LL /* ns: others' dirty data written too */
#define SLOW_RUNS_MAX 6 /* waits of 1, 2, 4 ... 64 s */

static long long mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

enum { METHOD_AUTO, METHOD_SYNCFS, METHOD_FILES };

void store_syncset_configure(struct store *st, git_config *cfg)
{
	git_buf v = GIT_BUF_INIT;
	char msg[200];

	st->sync_method = METHOD_AUTO;
	if (git_config_get_string_buf(&v, cfg, "chronofs.fsyncMethod") < 0)
		return;
	if (!strcmp(v.ptr, "syncfs"))
		st->sync_method = METHOD_SYNCFS;
	else if (!strcmp(v.ptr, "files"))
		st->sync_method = METHOD_FILES;
	else if (strcmp(v.ptr, "auto") && st->log) {
		snprintf(msg, sizeof(msg),
			 "chronofs.fsyncMethod=%.60s: want auto, syncfs or "
			 "files; using auto",
			 v.ptr);
		st->log(msg);
	}
	git_buf_dispose(&v);
}

/* Whether this save's set of N items goes by syncfs(2). */
static bool by_syncfs(struct store *st, size_t n)
{
	if (st->sync_method != METHOD_AUTO)
		return st->sync_method == METHOD_SYNCFS;
	return n > 1 && mono_ns() >= st->syncfs_slow_until;
}

/* One syncfs(2) of the repository's file system. */
static int sync_whole(struct store *st)
{
	int fd = open(st->gitdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long long t0 = mono_ns(), took;
	int err = fd < 0 || syncfs(fd) < 0 ? -errno : 0;

	if (fd >= 0)
		close(fd);
	took = mono_ns() - t0;
	if (took <= SYNCFS_SLOW) {
		st->syncfs_slow_runs = 0;
	} else {
		st->syncfs_slow_until =
			t0 + took + (1000000000LL << st->syncfs_slow_runs);
		if (st->syncfs_slow_runs < SLOW_RUNS_MAX)
			st->syncfs_slow_runs++;
	}
	return err;
}

void store_syncset_begin(struct store *st)
{
	if (st->fsync && !st->syncset) {
		st->syncset = calloc(1, sizeof(*st->syncset));
		if (st->syncset)
			st->syncset->owner = pthread_self();
	}
}

static int add(struct store_syncset *s, int fd, char *dir)
{
	if (s->whole || s->n >= SYNC_MAX) {
		s->whole = true;
		if (fd >= 0)
			close(fd);
		free(dir);
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct sync_item *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].fd = fd;
	s->v[s->n++].dir = dir;
	return 0;
}

static struct store_syncset *mine(struct store *st)
{
	struct store_syncset *s = st->syncset;

	return s && pthread_equal(s->owner, pthread_self()) ? s : NULL;
}

bool store_syncset_take_fd(struct store *st, int fd)
{
	struct store_syncset *s = mine(st);

	return s && add(s, fd, NULL) == 0;
}

bool store_syncset_take_dir(struct store *st, const char *dir)
{
	struct store_syncset *s = mine(st);
	char *copy;

	if (!s)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].dir && !strcmp(s->v[i].dir, dir))
			return true; /* once per directory */
	if (!(copy = strdup(dir)))
		return false;
	if (add(s, -1, copy) < 0) {
		free(copy);
		return false;
	}
	return true;
}

static void *worker(void *arg)
{
	struct store_syncset *s = arg;
	size_t i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->n) {
		struct sync_item *it = &s->v[i];
		int err = it->dir ? store_fsync_dir(it->dir) :
				    (fsync(it->fd) < 0 ? -errno : 0);

		if (err < 0) {
			int none = 0;

			atomic_compare_exchange_strong(&s->err, &none, err);
		}
	}
	return NULL;
}

/* Close and forget the items. */
static void clear(struct store_syncset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].fd >= 0)
			close(s->v[i].fd);
		free(s->v[i].dir);
	}
	s->n = 0;
}

int store_syncset_flush(struct store *st)
{
	/* Only the saving thread's own set: another thread's ref update
	 * (libgit2's, a fast-forward) has no objects in it. Caller does not
	 * hold st->lock (it guards the pointer; the set is then ours). */
	struct store_syncset *s;
	pthread_t tids[SYNC_THREADS];
	size_t started = 0, want;
	int err;

	pthread_mutex_lock(&st->lock);
	s = mine(st);
	pthread_mutex_unlock(&st->lock);
	if (s && (s->whole || (s->n && by_syncfs(st, s->n)))) {
		err = sync_whole(st);
		clear(s);
		s->whole = false;
		return err;
	}
	if (!s || s->n == 0)
		return 0;
	atomic_store(&s->next, 0);
	atomic_store(&s->err, 0);
	want = s->n < SYNC_THREADS ? s->n : SYNC_THREADS;
	/* This thread works too; threads that cannot start leave more to
	 * it. */
	while (started + 1 < want &&
	       pthread_create(&tids[started], NULL, worker, s) == 0)
		started++;
	worker(s);
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	err = atomic_load(&s->err);
	clear(s);
	return err;
}

void store_syncset_end(struct store *st)
{
	struct store_syncset *s = st->syncset;

	if (!s)
		return;
	clear(s); /* a save that failed before its ref moved */
	free(s->v);
	free(s);
	st->syncset = NULL;
}
