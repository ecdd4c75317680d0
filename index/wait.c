/* wait.c - who runs a catch-up, and lookups beside a long one: the
 * catch-up lock as foreground callers take it (bounded by
 * IDX_CATCHUP_WAIT_S), the owner's reservation for its background
 * indexer, and the running catch-up's progress, so a BRANCH@WHEN lookup
 * waits only until the commits it needs are written (it is indexed
 * oldest first), not for the whole history. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catchup_int.h"
#include "banned.h"

/* Every change: a new generation, and the waiters look again. */
static void changed(struct idx_db *db)
{
	db->prog.gen++;
	pthread_cond_broadcast(&db->prog_cond);
}

void idx_catchup_unlock(struct idx_db *db)
{
	pthread_mutex_unlock(&db->catchup_lock);
	pthread_mutex_lock(&db->prog_lock);
	changed(db);
	pthread_mutex_unlock(&db->prog_lock);
}

void idx_prog_start(struct idx_db *db, const char *branch,
		    const struct store_oid *target)
{
	char *b = strdup(branch);

	pthread_mutex_lock(&db->prog_lock);
	free(db->prog.branch);
	db->prog.branch = b; /* NULL (no memory): no lookup is helped */
	db->prog.target = *target;
	db->prog.pending_min = INT64_MIN;
	db->prog.running = true;
	changed(db);
	pthread_mutex_unlock(&db->prog_lock);
}

void idx_prog_pending(struct idx_db *db, int64_t pending_min)
{
	pthread_mutex_lock(&db->prog_lock);
	db->prog.pending_min = pending_min;
	changed(db);
	pthread_mutex_unlock(&db->prog_lock);
}

void idx_prog_end(struct idx_db *db)
{
	pthread_mutex_lock(&db->prog_lock);
	db->prog.running = false;
	changed(db);
	pthread_mutex_unlock(&db->prog_lock);
}

bool idx_prog_reserved(struct idx_db *db)
{
	bool r;

	pthread_mutex_lock(&db->prog_lock);
	r = db->prog.reserved;
	pthread_mutex_unlock(&db->prog_lock);
	return r;
}

void idx_db_reserve(struct idx_db *db, bool on)
{
	pthread_mutex_lock(&db->prog_lock);
	db->prog.reserved = on;
	changed(db);
	pthread_mutex_unlock(&db->prog_lock);
}

static struct timespec deadline(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += IDX_CATCHUP_WAIT_S;
	return t;
}

static int too_long(const char *branch)
{
	return idx_fail(-EAGAIN,
			"index of %s: still being built after "
			"%d s (a long history's first indexing); try again",
			branch, IDX_CATCHUP_WAIT_S);
}

/* Wait for the next change, at most until UNTIL; -ETIMEDOUT past it.
 * Caller holds prog_lock. */
static int wait_change(struct idx_db *db, const struct timespec *until)
{
	uint64_t gen = db->prog.gen;
	int rc = 0;

	while (db->prog.gen == gen && rc == 0)
		rc = pthread_cond_timedwait(&db->prog_cond, &db->prog_lock,
					    until);
	return rc ? -ETIMEDOUT : 0;
}

int idx_catchup_lock_fg(struct idx_db *db, const char *branch)
{
	struct timespec until = deadline();

	pthread_mutex_lock(&db->prog_lock);
	while (db->prog.reserved) {
		if (wait_change(db, &until) < 0) {
			pthread_mutex_unlock(&db->prog_lock);
			return too_long(branch);
		}
	}
	pthread_mutex_unlock(&db->prog_lock);
	if (pthread_mutex_timedlock(&db->catchup_lock, &until) == 0)
		return 0;
	return too_long(branch);
}

/* The least committer time of the commits from the branch's head back to
 * TARGET (saves made while it is indexed), INT64_MAX if none; -ESRCH if
 * TARGET is not within a few hundred of them (history rewritten, or many
 * commits since: the lookup waits for the whole catch-up then). */
struct since {
	const struct store_oid *target;
	int64_t min;
	unsigned n;
	bool found;
};

static int since_cb(void *ctx, const struct store_oid *commit, int64_t time)
{
	struct since *s = ctx;

	if (store_oid_equal(commit, s->target)) {
		s->found = true;
		return 1;
	}
	if (time < s->min)
		s->min = time;
	return ++s->n >= 256 ? 1 : 0;
}

static int min_since(struct store *st, const char *branch,
		     const struct store_oid *target, int64_t *out)
{
	struct since s = { .target = target, .min = INT64_MAX };
	struct store_oid head;
	int err = store_branch_head(st, branch, &head);

	if (err == 0 && store_oid_equal(&head, target)) {
		*out = INT64_MAX;
		return 0;
	}
	if (err == 0 && (err = store_walk(st, &head, since_cb, &s)) > 0)
		err = 0;
	if (err < 0)
		return err;
	*out = s.min;
	return s.found ? 0 : -ESRCH;
}

/* Is what the running catch-up wrote enough for NEED? */
static bool enough(struct idx_db *db, struct store *st, const char *branch,
		   const struct idx_need *need, const struct store_oid *target,
		   int64_t pending_min)
{
	struct store_oid c;
	int64_t newer;

	if (need->all || pending_min == INT64_MIN ||
	    min_since(st, branch, target, &newer) < 0) {
		store_error_clear();
		return false;
	}
	if (newer < pending_min)
		pending_min = newer;
	/* Every commit not written is later than WHEN: the answer is among
	 * those written (their 'T' keys ahead of WHEN can only go down to
	 * times that are still later). A commit id written is on the
	 * chain, with the seq the whole index will give it. */
	if (!need->hex)
		return need->when < pending_min;
	return idx_history_commit(db, branch, need->hex, &c) == 0;
}

int idx_history_wait(struct idx_db *db, struct store *st, const char *branch,
		     const struct idx_need *need)
{
	struct timespec until = deadline();
	struct store_oid target;
	bool here;
	int64_t pending;
	int err;

	if (db->readonly)
		return 0;
	pthread_mutex_lock(&db->prog_lock);
	for (;;) {
		if (!db->prog.reserved &&
		    pthread_mutex_trylock(&db->catchup_lock) == 0) {
			pthread_mutex_unlock(&db->prog_lock);
			err = idx_catchup_locked(db, st, branch, NULL);
			idx_catchup_unlock(db);
			return err;
		}
		here = db->prog.running && db->prog.branch &&
		       !strcmp(db->prog.branch, branch);
		target = db->prog.target;
		pending = db->prog.pending_min;
		if (here) {
			/* Read outside the lock the writer publishes under. */
			uint64_t gen = db->prog.gen;

			pthread_mutex_unlock(&db->prog_lock);
			if (enough(db, st, branch, need, &target, pending))
				return 1;
			pthread_mutex_lock(&db->prog_lock);
			if (db->prog.gen != gen)
				continue;
		}
		if (wait_change(db, &until) < 0)
			break;
	}
	pthread_mutex_unlock(&db->prog_lock);
	return too_long(branch);
}

void idx_db_cancel(struct idx_db *db)
{
	if (db)
		atomic_store(&db->cancel, true);
}

void idx_db_set_progress(struct idx_db *db, idx_progress_fn fn, void *ctx)
{
	db->progress = fn;
	db->progress_ctx = ctx;
}

int idx_history_catchup(struct idx_db *db, struct store *st, const char *branch,
			uint64_t *added)
{
	int err;

	if (added)
		*added = 0;
	if (db->readonly)
		return 0; /* the process holding the database catches up */
	if ((err = idx_catchup_lock_fg(db, branch)) < 0)
		return err;
	err = idx_catchup_locked(db, st, branch, added);
	idx_catchup_unlock(db);
	return err;
}

int idx_history_catchup_nowait(struct idx_db *db, struct store *st,
			       const char *branch)
{
	int err;

	if (db->readonly || idx_prog_reserved(db) ||
	    pthread_mutex_trylock(&db->catchup_lock) != 0)
		return 0;
	err = idx_catchup_locked(db, st, branch, NULL);
	idx_catchup_unlock(db);
	return err;
}

int idx_history_catchup_background(struct idx_db *db, struct store *st,
				   const char *branch, uint64_t *added)
{
	int err;

	if (added)
		*added = 0;
	if (db->readonly)
		return 0;
	pthread_mutex_lock(&db->catchup_lock);
	err = idx_catchup_locked(db, st, branch, added);
	idx_catchup_unlock(db);
	return err;
}
