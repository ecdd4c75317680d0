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
 *   The threads are made once, at the first such set, and wait for the
 *   next: made per set, their stacks' unmapping stopped both cores (a
 *   TLB shootdown each) and cost more CPU than the fsyncs themselves.
 *
 * `git config chronofs.fsyncMethod syncfs|files` fixes one way (auto,
 * the default, is the above, and a group's save goes by the journal
 * instead: journal.c; `journal` is the same as auto). Either way the ref
 * is moved only if the sync succeeded. Nothing is deferred outside a save
 * (store_syncset_begin..end), so other writers keep their order. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
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

#define EXT_SUPER_MAGIC 0xEF53 /* ext2, ext3 and ext4 */

/* Whether GITDIR is on ext2/3/4 without a journal (or we cannot tell).
 * There fsync(2) writes a file's inode, data and directory block, not the
 * block group descriptor its allocation changed: after a power cut e2fsck
 * finds the inode in the group's "unused" area and clears the entry, and
 * fsynced objects and refs were gone (the stress suite's power-loss
 * scenario). syncfs(2) writes every dirty metadata block. A journaled
 * one has its jbd2 thread's entry in /proc/fs/jbd2/<device>-<inode>. */
static bool ext_without_journal(const char *gitdir)
{
	char link[PATH_MAX], path[64];
	const char *dev;
	struct statfs sf;
	struct stat sb;
	struct dirent *e;
	bool journal = false;
	ssize_t n;
	size_t len;
	DIR *d;

	if (statfs(gitdir, &sf) < 0 || sf.f_type != EXT_SUPER_MAGIC)
		return false;
	if (stat(gitdir, &sb) < 0)
		return true;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(sb.st_dev),
		 minor(sb.st_dev));
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0 || !(d = opendir("/proc/fs/jbd2")))
		return true;
	link[n] = '\0';
	dev = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	len = strlen(dev);
	while (!journal && (e = readdir(d)) != NULL)
		journal = !strncmp(e->d_name, dev, len) &&
			  e->d_name[len] == '-';
	closedir(d);
	return !journal;
}

void store_syncset_configure(struct store *st, git_config *cfg)
{
	git_buf v = GIT_BUF_INIT;
	char msg[300];

	st->sync_method = METHOD_AUTO;
	if (git_config_get_string_buf(&v, cfg, "chronofs.fsyncMethod") == 0) {
		if (!strcmp(v.ptr, "syncfs"))
			st->sync_method = METHOD_SYNCFS;
		else if (!strcmp(v.ptr, "files"))
			st->sync_method = METHOD_FILES;
		else if (strcmp(v.ptr, "auto") && strcmp(v.ptr, "journal") &&
			 st->log) {
			snprintf(msg, sizeof(msg),
				 "chronofs.fsyncMethod=%.60s: want auto, "
				 "journal, syncfs or files; using auto",
				 v.ptr);
			st->log(msg);
		}
		git_buf_dispose(&v);
	}
	/* Decided before the no-journal check below overrides the set's. */
	st->journal_on = st->fsync && st->sync_method == METHOD_AUTO;
	if (st->sync_method != METHOD_SYNCFS &&
	    ext_without_journal(st->gitdir)) {
		if (st->sync_method == METHOD_FILES && st->log) {
			snprintf(msg, sizeof(msg),
				 "%.200s: ext4 without a journal: "
				 "chronofs.fsyncMethod=files is not durable "
				 "there; using syncfs",
				 st->gitdir);
			st->log(msg);
		}
		st->sync_method = METHOD_SYNCFS;
	}
}

/* Whether this save's set of N items goes by syncfs(2). */
static bool by_syncfs(struct store *st, size_t n)
{
	if (st->sync_method != METHOD_AUTO)
		return st->sync_method == METHOD_SYNCFS;
	return n > 1 && mono_ns() >= st->syncfs_slow_until;
}

/* One syncfs(2) of the repository's file system. */
int store_syncfs(struct store *st)
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

/* The threads that sync a set's items beside the flushing thread: one
 * set at a time (sets are flushed under write_lock). */
struct store_syncers {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a set to join, or stop */
	pthread_cond_t idle; /* the last thread left the set */
	struct store_syncset *set; /* open to join; NULL once taken */
	unsigned long gen; /* bumped for each set */
	int busy; /* threads inside a set */
	int n;
	bool stop;
	pthread_t tids[SYNC_THREADS - 1];
};

static void sync_items(struct store_syncset *s)
{
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
}

static void *syncer(void *arg)
{
	struct store_syncers *w = arg;
	unsigned long seen = 0;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct store_syncset *s = w->set;

		if (!s || w->gen == seen) {
			pthread_cond_wait(&w->work, &w->mu);
			continue;
		}
		seen = w->gen;
		w->busy++;
		pthread_mutex_unlock(&w->mu);
		sync_items(s);
		pthread_mutex_lock(&w->mu);
		if (--w->busy == 0)
			pthread_cond_signal(&w->idle);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The store's sync threads, made at the first call; NULL if none could
 * be (the flushing thread then syncs every item itself). */
static struct store_syncers *syncers(struct store *st)
{
	struct store_syncers *w = st->syncers;

	if (w || !(w = calloc(1, sizeof(*w))))
		return w;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	while (w->n < SYNC_THREADS - 1 &&
	       pthread_create(&w->tids[w->n], NULL, syncer, w) == 0)
		w->n++;
	st->syncers = w;
	return w;
}

void store_syncset_stop(struct store *st)
{
	struct store_syncers *w = st->syncers;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->n; i++)
		pthread_join(w->tids[i], NULL);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->mu);
	free(w);
	st->syncers = NULL;
}

/* Sync S's items on this thread and the store's sync threads at once. */
static void sync_together(struct store *st, struct store_syncset *s)
{
	struct store_syncers *w = s->n > 1 ? syncers(st) : NULL;

	if (w) {
		pthread_mutex_lock(&w->mu);
		w->set = s;
		w->gen++;
		pthread_cond_broadcast(&w->work);
		pthread_mutex_unlock(&w->mu);
	}
	sync_items(s);
	if (w) {
		/* Every item is taken: no thread joins now; wait for those
		 * still syncing theirs. */
		pthread_mutex_lock(&w->mu);
		w->set = NULL;
		while (w->busy)
			pthread_cond_wait(&w->idle, &w->mu);
		pthread_mutex_unlock(&w->mu);
	}
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

bool store_syncset_empty(struct store *st)
{
	struct store_syncset *s;
	bool empty;

	pthread_mutex_lock(&st->lock);
	s = mine(st);
	empty = !s || (s->n == 0 && !s->whole);
	pthread_mutex_unlock(&st->lock);
	return empty;
}

bool store_syncset_whole(struct store *st)
{
	struct store_syncset *s;

	pthread_mutex_lock(&st->lock);
	s = mine(st);
	if (s)
		s->whole = true;
	pthread_mutex_unlock(&st->lock);
	return s != NULL;
}

int store_syncset_flush(struct store *st)
{
	/* Only the saving thread's own set: another thread's ref update
	 * (libgit2's, a fast-forward) has no objects in it. Caller does not
	 * hold st->lock (it guards the pointer; the set is then ours). */
	struct store_syncset *s;
	int err;

	pthread_mutex_lock(&st->lock);
	s = mine(st);
	pthread_mutex_unlock(&st->lock);
	if (s && (s->whole || (s->n && by_syncfs(st, s->n)))) {
		err = store_syncfs(st);
		clear(s);
		s->whole = false;
		return err;
	}
	if (!s || s->n == 0)
		return 0;
	atomic_store(&s->next, 0);
	atomic_store(&s->err, 0);
	sync_together(st, s);
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
