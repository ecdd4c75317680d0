/* group.c - group commit: with fsync=on a save costs a few device
 * flushes, and saves from several writers used to queue for the write
 * lock, each paying its own. Here a save that finds another in progress
 * waits; the next one to run (the leader) makes every waiting save of
 * the same branch: each its own commit, chained on the head in the order
 * they came, their objects written as one pack (grouppack.c) and synced
 * in one set, then the ref moved once,
 * by compare-and-swap, to the last. Each save returns when its commit is
 * durable and the branch names it (or with its own error). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "banned.h"

/* Saves made by one flush at most (a burst of writers beyond it waits
 * for the next). */
#define GROUP_MAX 64
/* How long a leader waits for as many saves as its last groups made
 * (ns; more), building those it has meanwhile. With several writers a
 * group is otherwise only those that came back while the last one
 * flushed, about half of them: each group costs two flushes and a pack,
 * whatever its size, and on two cores more, smaller groups made four
 * writers no faster than one and a half. One writer never waits (its
 * last group was itself). */
#define GROUP_WAIT_NS 2000000L
/* The groups whose largest size is waited for: one that came up short
 * (a writer late, a merge of packs) does not make the next ones short. */
#define GROUP_SEEN 8
/* Commits whose turn is done, remembered for their children's savers
 * (store_turn_wait); a child comes a few commits later. */
#define TURNS 64
/* How long a saver waits for its parent's turn (ns): the parent's saver
 * is released with it and takes microseconds, so only a saver that never
 * comes (a caller without turns) makes it run out. */
#define TURN_WAIT_NS 200000000L

struct waiter {
	const char *branch;
	const struct store_change *c;
	struct store_commit_info *info;
	git_oid blob, commit;
	bool have_blob;
	bool made; /* a commit of the current attempt */
	bool tried; /* its own outcome is in err (else the batch's is) */
	int err;
	bool taken; /* in a leader's batch: it waits for done */
	struct calls *calls; /* its batch moved the ref: see make_calls */
	bool done;
	/* Its own: a wake-up goes to the one saver it is for (a broadcast
	 * woke every saver three times a group, on two cores). */
	pthread_cond_t cv;
	/* Why it failed: messages are per thread, and the leader's thread
	 * made it (given to the saver's thread at the end). */
	char msg[1024];
	struct waiter *next;
};

struct store_group {
	pthread_mutex_t lock; /* guards everything below; taken alone or
			       * under write_lock, never under st->lock */
	pthread_cond_t arrived; /* a save joined the queue */
	struct waiter *head, **tail;
	size_t sizes[GROUP_SEEN]; /* saves of the last groups, a ring */
	size_t seen;
	bool leading;
	pthread_cond_t turn; /* a commit's turn is done */
	git_oid turned[TURNS]; /* a ring */
	size_t nturned;
	/* The last commit of the last groups, a ring (their leaders' only:
	 * under st->write_lock). */
	git_oid last[GROUP_SEEN];
	size_t nlast;
};

int store_group_new(struct store *st)
{
	struct store_group *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->arrived, &ca);
	pthread_cond_init(&g->turn, &ca);
	pthread_condattr_destroy(&ca);
	g->tail = &g->head;
	st->group = g;
	return 0;
}

void store_group_free(struct store *st)
{
	if (!st->group)
		return;
	pthread_cond_destroy(&st->group->arrived);
	pthread_cond_destroy(&st->group->turn);
	pthread_mutex_destroy(&st->group->lock);
	free(st->group);
	st->group = NULL;
}

/* A leader's batch: its saves in commit order, and while the first
 * attempt builds them, how many more it waits for, until when. */
struct batch {
	struct waiter *v[GROUP_MAX];
	size_t n;
	size_t want;
	struct timespec until;
	bool waiting;
};

/* Queued saves of the batch's branch (the first queued one's if it has
 * none yet) moved into it, up to GROUP_MAX (caller holds g->lock). */
static void take(struct store_group *g, struct batch *b)
{
	struct waiter **pp = &g->head;

	while (*pp && b->n < GROUP_MAX) {
		struct waiter *w = *pp;

		if (b->n && strcmp(w->branch, b->v[0]->branch)) {
			pp = &w->next;
			continue;
		}
		b->v[b->n++] = w;
		w->taken = true;
		*pp = w->next;
	}
	g->tail = &g->head;
	while (*g->tail)
		g->tail = &(*g->tail)->next;
}

/* Wait for the batch's next saves, its saves so far built: until one
 * more came, or B->until. False if none came. */
static bool more(struct store_group *g, struct batch *b)
{
	size_t had = b->n;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		take(g, b);
		if (b->n > had ||
		    pthread_cond_timedwait(&g->arrived, &g->lock, &b->until))
			break;
	}
	take(g, b);
	pthread_mutex_unlock(&g->lock);
	return b->n > had;
}

static bool in_ring(const git_oid *v, size_t n, size_t cap, const git_oid *id)
{
	for (size_t i = 0; i < n && i < cap; i++)
		if (git_oid_equal(&v[(n - 1 - i) % cap], id))
			return true;
	return false;
}

/* W's failure as the leader's thread was told it. */
static void said(struct waiter *w)
{
	snprintf(w->msg, sizeof(w->msg), "%s", store_errmsg());
}

/* One attempt: every save of the batch built on the head in order (under
 * st->lock; the first attempt waits for the batch's next saves meanwhile),
 * then synced and the ref moved once (without it); DIR: the ref's
 * directory, still to sync. 0, -EAGAIN (the head moved: again), or an
 * error of the whole batch. */
static int attempt(struct store *st, const char *ref, struct batch *b,
		   char *dir, size_t dirsz)
{
	struct waiter **v = b->v;
	git_oid first, prev, parent;
	char msg[2048];
	size_t made = 0;
	int err;

	bool unborn = false;

	for (size_t i = 0; i < b->n; i++)
		v[i]->made = v[i]->tried = false;
	pthread_mutex_lock(&st->lock);
	err = store_ref_read(st, ref, &first);
	/* HEAD's unborn branch: the first commit is its root (the build
	 * finds that out), the ref made from the zero id. */
	if (err == -ENOENT && store_head_is(st, ref)) {
		memset(&first, 0, sizeof(first));
		unborn = true;
		err = 0;
	}
	prev = first;
	for (size_t i = 0; err == 0; i++) {
		struct waiter *w;

		if (i == b->n) {
			bool got;

			if (!b->waiting || b->n >= b->want)
				break;
			pthread_mutex_unlock(&st->lock);
			got = more(st->group, b);
			pthread_mutex_lock(&st->lock);
			if (!got)
				break;
		}
		w = v[i];
		w->tried = true;
		store_error_clear(); /* what it says is its own */
		if (w->c->op == STORE_PUT && !w->have_blob) {
			w->err = git_odb_hash(&w->blob, w->c->data, w->c->len,
					      GIT_OBJECT_BLOB);
			w->err = w->err < 0 ?
					 store_git_fail(w->err, w->c->path) :
					 store_object_write(st, &w->blob,
							    w->c->data,
							    w->c->len,
							    GIT_OBJECT_BLOB);
			w->have_blob = w->err == 0;
			if (w->err < 0) {
				said(w);
				continue;
			}
		}
		store_change_message(msg, sizeof(msg), w->c);
		w->err = store_build_commit(st, ref, w->c, &w->blob, msg,
					    unborn && !made ? NULL : &prev,
					    &parent, &w->commit, w->info);
		if (w->err < 0)
			said(w);
		if (w->err == 0) {
			w->info->chained = made > 0 ||
					   in_ring(st->group->last,
						   st->group->nlast, GROUP_SEEN,
						   &first);
			w->made = true;
			prev = w->commit;
			made++;
		}
	}
	b->waiting = false; /* an attempt again builds what it has */
	pthread_mutex_unlock(&st->lock);
	if (err < 0 || made == 0)
		return err;
	/* Every object durable before the ref names them: the group's
	 * objects, one pack, join the set the compare-and-swap syncs with
	 * the ref lock's new value. */
	if ((err = store_gpack_write(st)) < 0)
		return err;
	snprintf(msg, sizeof(msg), "%zu saves", made);
	if (made == 1)
		for (size_t i = 0; i < b->n; i++)
			if (v[i]->made)
				store_change_message(msg, sizeof(msg), v[i]->c);
	return store_ref_cas_but_dir(st, ref, &first, &prev, msg, dir, dirsz);
}

/* Make batch B of one branch; each waiter's err is its outcome once DIR
 * (the ref's directory, "" if none) is synced. */
static void run(struct store *st, struct batch *b, char *dir, size_t dirsz)
{
	struct waiter **v = b->v;
	const git_oid *fin = NULL; /* the batch's last commit */
	bool gc = store_gc_running(st); /* then its objects go loose */
	char ref[1024];
	int err = 0, eio = 0;

	if (snprintf(ref, sizeof(ref), "refs/heads/%s", v[0]->branch) >=
	    (int)sizeof(ref))
		err = store_fail(-ENAMETOOLONG, "branch name too long");
	pthread_mutex_lock(&st->lock);
	store_pool_once(st);
	store_syncset_begin(st);
	store_gpack_begin(st, gc);
	pthread_mutex_unlock(&st->lock);
	for (int i = 0; err == 0 && i < STORE_CAS_RETRIES; i++) {
		struct timespec pause = { 0, 100000L * (i < 100 ? i : 100) };

		err = attempt(st, ref, b, dir, dirsz);
		/* A gc beside us may have removed an objects/xx/ directory
		 * under a new object: nothing was published, write again. */
		if (err == -EIO && eio++ < STORE_IO_RETRIES) {
			for (size_t k = 0; k < b->n; k++)
				v[k]->have_blob = false;
			err = 0;
			continue;
		}
		if (err != -EAGAIN)
			break;
		if (i % 50 == 49)
			store_clear_stale_lock(st, ref);
		nanosleep(&pause, NULL);
		err = 0;
		if (i + 1 == STORE_CAS_RETRIES)
			err = -EAGAIN;
	}
	store_gpack_end(st, err == 0);
	pthread_mutex_lock(&st->lock);
	store_syncset_end(st);
	pthread_mutex_unlock(&st->lock);
	for (size_t k = 0; k < b->n; k++) {
		struct waiter *w = v[k];

		if (!w->made) {
			if (!w->tried) { /* the batch failed before it */
				w->err = err < 0 ? err : -EIO;
				said(w);
			}
			continue; /* its own error, or no change (1) */
		}
		if (err < 0) {
			w->err = err;
			said(w);
			continue;
		}
		memcpy(w->info->commit.id, w->commit.id, STORE_OID_RAWSZ);
		store_pack_note_commit(st);
		fin = &w->commit;
	}
	if (fin)
		st->group->last[st->group->nlast++ % GROUP_SEEN] = *fin;
}

/* *UNTIL: NS from now on the monotonic clock. */
static void deadline(struct timespec *until, long ns)
{
	clock_gettime(CLOCK_MONOTONIC, until);
	until->tv_nsec += ns;
	while (until->tv_nsec >= 1000000000L) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000L;
	}
}

/* As many saves as the largest of the last GROUP_SEEN groups made
 * (caller holds g->lock). */
static size_t wanted(const struct store_group *g)
{
	size_t want = 0;

	for (size_t i = 0; i < GROUP_SEEN; i++)
		want = g->sizes[i] > want ? g->sizes[i] : want;
	return want;
}

/* A batch's info->moved calls, made in commit order by one thread: one
 * of its savers while the leader flushes the ref's directory, or, if none
 * came first (one writer), the leader after it. */
struct calls {
	struct waiter **v;
	size_t n;
	bool claimed, finished;
	pthread_cond_t cv; /* the leader's: finished */
};

/* Caller holds g->lock, which this lets go meanwhile. */
static void make_calls(struct store_group *g, struct calls *c)
{
	c->claimed = true;
	pthread_mutex_unlock(&g->lock);
	for (size_t k = 0; k < c->n; k++) {
		struct waiter *w = c->v[k];

		if (w->made && w->err == 0 && w->info->moved)
			w->info->moved(w->info->moved_ctx, w->info);
	}
	pthread_mutex_lock(&g->lock);
	c->finished = true;
	pthread_cond_signal(&c->cv);
}

/* Take the write lock and make the next batch; SELF is the leader's own
 * save. The next leader may start once our ref has moved: the rename is
 * made durable (the fsync of its directory, the second device flush of a
 * save) while it builds its batch on our commits, and what our saves do
 * after their commits (info->moved) is done meanwhile. They return once
 * both are. */
static void lead(struct store *st, struct waiter *self)
{
	struct store_group *g = st->group;
	struct batch b = { .n = 0 };
	struct waiter **v = b.v;
	char dir[4200] = "";
	struct calls c = { .v = v };
	int err = 0;

	pthread_mutex_lock(&st->write_lock);
	pthread_mutex_lock(&g->lock);
	b.want = wanted(g);
	take(g, &b);
	b.waiting = b.n < b.want;
	deadline(&b.until, GROUP_WAIT_NS);
	pthread_mutex_unlock(&g->lock);
	if (b.n)
		run(st, &b, dir, sizeof(dir));
	pthread_mutex_unlock(&st->write_lock);
	pthread_cond_init(&c.cv, NULL);
	pthread_mutex_lock(&g->lock);
	g->sizes[g->seen++ % GROUP_SEEN] = b.n;
	g->leading = false;
	if (g->head) /* the next leader */
		pthread_cond_signal(&g->head->cv);
	c.n = b.n;
	for (size_t k = 0; k < b.n; k++)
		v[k]->calls = &c;
	for (size_t k = 0; k < b.n; k++) {
		if (v[k] != self) { /* to make the calls */
			pthread_cond_signal(&v[k]->cv);
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (dir[0] && (err = store_fsync_dir(dir)) < 0)
		store_fail(err, "fsync of %s: %s", dir, strerror(-err));
	pthread_mutex_lock(&g->lock);
	if (!c.claimed)
		make_calls(g, &c);
	while (!c.finished)
		pthread_cond_wait(&c.cv, &g->lock);
	for (size_t k = 0; k < b.n; k++) {
		/* The branch names it, but the name may not be durable. */
		if (err < 0 && v[k]->made && v[k]->err == 0) {
			v[k]->err = err;
			said(v[k]);
		}
		v[k]->done = true;
		pthread_cond_signal(&v[k]->cv);
	}
	pthread_mutex_unlock(&g->lock);
	pthread_cond_destroy(&c.cv);
}

int store_group_apply(struct store *st, const char *branch,
		      const struct store_change *c,
		      struct store_commit_info *info)
{
	struct store_group *g = st->group;
	struct waiter w = { .branch = branch, .c = c, .info = info };

	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&g->lock);
	*g->tail = &w;
	g->tail = &w.next;
	pthread_cond_signal(&g->arrived);
	while (!w.done) {
		if (w.calls && !w.calls->claimed) {
			make_calls(g, w.calls);
			continue;
		}
		if (g->leading || w.taken) {
			pthread_cond_wait(&w.cv, &g->lock);
			continue;
		}
		g->leading = true;
		pthread_mutex_unlock(&g->lock);
		lead(st, &w); /* lets the lead go, and marks its batch done */
		pthread_mutex_lock(&g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	pthread_cond_destroy(&w.cv);
	if (w.err < 0 && w.msg[0])
		store_fail(w.err, "%s", w.msg);
	return w.err;
}

void store_turn_wait(struct store *st, const struct store_commit_info *info)
{
	struct store_group *g = st->group;
	struct timespec until;
	git_oid parent;

	if (!info->chained)
		return;
	memcpy(parent.id, info->parent.id, STORE_OID_RAWSZ);
	deadline(&until, TURN_WAIT_NS);
	pthread_mutex_lock(&g->lock);
	while (!in_ring(g->turned, g->nturned, TURNS, &parent))
		if (pthread_cond_timedwait(&g->turn, &g->lock, &until))
			break; /* timed out */
	pthread_mutex_unlock(&g->lock);
}

void store_turn_done(struct store *st, const struct store_commit_info *info)
{
	struct store_group *g = st->group;

	pthread_mutex_lock(&g->lock);
	memcpy(g->turned[g->nturned++ % TURNS].id, info->commit.id,
	       STORE_OID_RAWSZ);
	pthread_cond_broadcast(&g->turn);
	pthread_mutex_unlock(&g->lock);
}
