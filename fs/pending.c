/* pending.c - documents renamed to a scratch name (x.json -> x.json~, the
 * backup dance of emacs and vim), whose deletion is held back: if the
 * document is written again it is one save, not a delete and a re-create.
 * The deletion is committed when the backup is unlinked without the
 * document coming back, GRACE_MS after the rename, or at unmount. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"
#include "banned.h"

#define GRACE_MS 2000
#define TICK_MS 200

struct entry {
	struct entry *next;
	char *branch, *path, *backup;
	struct timespec deadline;
};

struct fs_pending {
	struct fs *fs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct entry *list;
	bool stop;
	pthread_t thread;
};

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	free(e->branch);
	free(e->path);
	free(e->backup);
	free(e);
}

static bool is(const struct entry *e, const char *branch, const char *path)
{
	return !strcmp(e->branch, branch) && !strcmp(e->path, path);
}

/* Commit E's deletion unless the document was saved again meanwhile (the
 * save dropped E, so reaching here means it was not). */
static void commit_delete(struct fs *fs, struct entry *e)
{
	int err = cfs_delete(fs->db, e->branch, e->path, NULL);
	char *full;

	if (asprintf(&full, "%s/%s", e->branch, e->path) < 0)
		return;
	if (err < 0 && err != -ENOENT)
		fs_log_op(LOG_ERR, "delete", full, err,
			  "deletion after rename failed: %s",
			  chronofs_errmsg(NULL));
	else
		fs_log_op(LOG_INFO, "delete", full, 0,
			  "renamed away, committed as deleted");
	if (err == 0)
		fs_doc_error_clear(full);
	free(full);
}

static bool expired(const struct entry *e, const struct timespec *now)
{
	return now->tv_sec > e->deadline.tv_sec ||
	       (now->tv_sec == e->deadline.tv_sec &&
		now->tv_nsec >= e->deadline.tv_nsec);
}

/* Take out the entries matching PRED (all if PRED is NULL). Caller holds
 * the lock. */
static struct entry *take(struct fs_pending *p, const struct timespec *now)
{
	struct entry **pp = &p->list, *out = NULL;

	while (*pp) {
		struct entry *e = *pp;

		if (!now || expired(e, now)) {
			*pp = e->next;
			e->next = out;
			out = e;
		} else {
			pp = &e->next;
		}
	}
	return out;
}

static void commit_all(struct fs_pending *p, struct entry *list)
{
	while (list) {
		struct entry *next = list->next;

		commit_delete(p->fs, list);
		entry_free(list);
		list = next;
	}
}

static void *worker(void *arg)
{
	struct fs_pending *p = arg;
	struct timespec now, wake;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct entry *due;

		clock_gettime(CLOCK_REALTIME, &wake);
		wake.tv_nsec += TICK_MS * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &wake);
		clock_gettime(CLOCK_MONOTONIC, &now);
		due = take(p, &now);
		if (!due)
			continue;
		pthread_mutex_unlock(&p->lock);
		commit_all(p, due);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int fs_pending_new(struct fs_pending **out, struct fs *fs)
{
	struct fs_pending *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fs = fs;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, worker, p) != 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
}

void fs_pending_flush(struct fs_pending *p)
{
	struct entry *all;

	pthread_mutex_lock(&p->lock);
	all = take(p, NULL);
	pthread_mutex_unlock(&p->lock);
	commit_all(p, all);
}

void fs_pending_free(struct fs_pending *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	fs_pending_flush(p);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int fs_pending_add(struct fs_pending *p, const char *branch, const char *path,
		   const char *backup)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->branch = strdup(branch);
	e->path = strdup(path);
	e->backup = strdup(backup);
	if (!e->branch || !e->path || !e->backup) {
		entry_free(e);
		return -ENOMEM;
	}
	clock_gettime(CLOCK_MONOTONIC, &e->deadline);
	e->deadline.tv_sec += GRACE_MS / 1000;
	e->deadline.tv_nsec += (GRACE_MS % 1000) * 1000000L;
	if (e->deadline.tv_nsec >= 1000000000L) {
		e->deadline.tv_sec++;
		e->deadline.tv_nsec -= 1000000000L;
	}
	fs_pending_drop(p, branch, path);
	pthread_mutex_lock(&p->lock);
	e->next = p->list;
	p->list = e;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

bool fs_pending_has(struct fs_pending *p, const char *branch, const char *path)
{
	bool found = false;

	pthread_mutex_lock(&p->lock);
	for (struct entry *e = p->list; e && !found; e = e->next)
		found = is(e, branch, path);
	pthread_mutex_unlock(&p->lock);
	return found;
}

void fs_pending_drop(struct fs_pending *p, const char *branch, const char *path)
{
	struct entry **pp, *gone = NULL;

	pthread_mutex_lock(&p->lock);
	for (pp = &p->list; *pp; pp = &(*pp)->next) {
		if (is(*pp, branch, path)) {
			gone = *pp;
			*pp = gone->next;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	entry_free(gone);
}

void fs_pending_backup_gone(struct fs_pending *p, const char *branch,
			    const char *backup)
{
	struct entry **pp, *gone = NULL;

	pthread_mutex_lock(&p->lock);
	for (pp = &p->list; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->branch, branch) &&
		    !strcmp((*pp)->backup, backup)) {
			gone = *pp;
			*pp = gone->next;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (gone)
		commit_delete(p->fs, gone);
	entry_free(gone);
}
