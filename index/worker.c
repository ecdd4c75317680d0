/* worker.c - catch-ups asked for by saves, run on a thread of the
 * database's own: a save whose commit the indexes could not take (an
 * outside commit came first, the branch was moved back, a catch-up was
 * running) goes on at once, and this thread brings the branch's indexes
 * up to its head from Git. Started at the first request, ended by
 * idx_db_close. The mount's first indexing of every branch runs on the
 * daemon's own thread (fs/main.c) under the reservation; both are
 * background callers of the one catch-up (catchup.c, chainidx.c) and
 * take the same lock, so they never index at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catchup_int.h"
#include "history.h"
#include "banned.h"

static void catch_up(struct idx_db *db, struct store *st, const char *branch)
{
	struct store_oid head;
	int err;

	/* A background caller: it waits for the lock as long as it takes
	 * (the mount's first indexing may hold it for minutes), and runs
	 * under the mount's reservation, which keeps foreground callers
	 * off. */
	err = idx_history_catchup_background(db, st, branch, NULL);
	/* Stopped by an unmount, or the branch deleted meanwhile: the
	 * next catch-up (if any) has nothing lost to redo. */
	if (err < 0 && err != -ECANCELED &&
	    !(err == -ENOENT && store_branch_head(st, branch, &head) < 0))
		idx_log(IDX_LOG_ERROR, "index of branch %s: %s", branch,
			store_errmsg());
	store_error_clear();
}

static void *run(void *arg)
{
	struct idx_db *db = arg;
	struct store *own = NULL;

	/* Its own handle on the repository: the walks and tree diffs of a
	 * catch-up take no lock a save needs. Without one, the caller's. */
	if (store_open_again(&own, db->due_st) < 0)
		store_error_clear();
	pthread_mutex_lock(&db->due_lock);
	for (;;) {
		char *branch;

		while (!db->worker_stop && !db->ndue)
			pthread_cond_wait(&db->due_cond, &db->due_lock);
		if (db->worker_stop)
			break;
		branch = db->due[0];
		memmove(db->due, db->due + 1, --db->ndue * sizeof(*db->due));
		pthread_mutex_unlock(&db->due_lock);
		catch_up(db, own ? own : db->due_st, branch);
		free(branch);
		pthread_mutex_lock(&db->due_lock);
	}
	pthread_mutex_unlock(&db->due_lock);
	store_close(own);
	return NULL;
}

int idx_history_catchup_later(struct idx_db *db, struct store *st,
			      const char *branch)
{
	char **v, *b;
	int err = 0;

	if (db->readonly)
		return 0;
	pthread_mutex_lock(&db->due_lock);
	/* Due already: that catch-up, not begun yet, takes this commit. */
	for (size_t i = 0; i < db->ndue; i++)
		if (!strcmp(db->due[i], branch))
			goto out;
	if (!db->worker_on) {
		db->due_st = st;
		err = -pthread_create(&db->worker, NULL, run, db);
		if (err < 0) {
			err = idx_fail(err, "index of %s: no catch-up thread",
				       branch);
			goto out;
		}
		db->worker_on = true;
	}
	v = realloc(db->due, (db->ndue + 1) * sizeof(*v));
	b = strdup(branch);
	if (v)
		db->due = v;
	if (!v || !b) {
		free(b);
		err = -ENOMEM;
		goto out;
	}
	db->due[db->ndue++] = b;
	pthread_cond_signal(&db->due_cond);
out:
	pthread_mutex_unlock(&db->due_lock);
	return err;
}

void idx_worker_stop(struct idx_db *db)
{
	bool on;

	pthread_mutex_lock(&db->due_lock);
	db->worker_stop = true;
	on = db->worker_on;
	pthread_cond_signal(&db->due_cond);
	pthread_mutex_unlock(&db->due_lock);
	if (on) {
		/* A catch-up under way stops at its next batch. */
		atomic_store(&db->cancel, true);
		pthread_join(db->worker, NULL);
	}
	for (size_t i = 0; i < db->ndue; i++)
		free(db->due[i]);
	free(db->due);
	db->due = NULL;
	db->ndue = 0;
}
