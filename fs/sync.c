/* sync.c - -o sync=REMOTE[,sync_interval=SECONDS]: a thread running the
 * core's sync rounds (cfs_sync) every interval, never on the save path (a
 * save never waits for a round or the network; the round's ref updates
 * are compare-and-swap like any save's). A failed round is logged with
 * its cause and retried after a backoff that doubles up to the interval.
 *
 * After a round moves a branch, the kernel's caches of what changed are
 * invalidated from this thread: the entries of the changed paths (a
 * negative entry of a new name too), their parents' listings and
 * attributes, the pages of changed documents. No fs lock is held across
 * a notification (the kernel may wait on a request in flight).
 *
 * MNT/@sync (reached, never listed) reads as JSON: the remote, the last
 * round's time and result, per branch the commits ahead and behind and
 * what the last round did, the conflicts merged so far, the last error. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "log.h"
#include "banned.h"

/* The first retry after a failure; doubled up to the interval. */
#define BACKOFF_FIRST_MS 250
#define WALK_MAX 64

struct fs_sync {
	struct fs *fs;
	char *remote;
	unsigned interval; /* seconds */
	pthread_t tid;
	_Atomic bool stop;
	pthread_mutex_t lock; /* guards what follows; a leaf */
	pthread_cond_t wake;
	uint64_t rounds, failures, conflicts;
	int64_t last_time; /* start of the last round; 0: none yet */
	char *last_result; /* "ok", "failed" */
	json_t *branches; /* name -> {ahead, behind, last} */
	char *last_error; /* NULL: none */
	int64_t last_error_time;
};

static char *when(int64_t t)
{
	char buf[CFS_WHEN_SZ];

	cfs_format_when(buf, t);
	return strdup(buf);
}

/* What B's round did, in the words chronofsctl sync uses. */
static json_t *did(const chronofs_sync_branch *b)
{
	static const struct {
		unsigned bit;
		const char *word;
	} words[] = {
		{ CHRONOFS_SYNC_CREATED, "new from the remote" },
		{ CHRONOFS_SYNC_FAST_FORWARD, "fast-forward" },
		{ CHRONOFS_SYNC_MERGED, "merged" },
		{ CHRONOFS_SYNC_PUSHED, "pushed" },
		{ CHRONOFS_SYNC_DELETED, "deleted" },
		{ CHRONOFS_SYNC_DELETED_REMOTE, "deleted on the remote" },
		{ CHRONOFS_SYNC_KEPT, "kept" },
		{ CHRONOFS_SYNC_FAILED, "failed" },
	};
	json_t *a = json_array();

	for (size_t i = 0; a && i < sizeof(words) / sizeof(*words); i++)
		if (b->done & words[i].bit)
			json_array_append_new(a, json_string(words[i].word));
	return a;
}

/* The kernel's caches along REL (below the mount's root): the entry of
 * its last component (and of the first component the table does not
 * hold: it may be a negative entry), the listing and attributes of every
 * directory on the way, the pages of the document. GONE: REL was
 * deleted, so directories on the way may have gone too. */
static void inval_rel(struct fs *fs, const char *rel, const char *branch,
		      const struct cfs_oid *head, bool gone)
{
	fuse_ino_t inos[WALK_MAX], parent = FUSE_ROOT_ID;
	size_t k = fs_node_walk(&fs->nodes, rel, inos, WALK_MAX);
	const char *p = rel;

	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, -1, 0);
	for (size_t i = 0; i < k; i++) {
		size_t len = strcspn(p, "/");
		bool last = !p[len];
		bool drop = last || !inos[i];

		/* A directory that is gone: its entry goes. The path of a
		 * directory inside the branch is the prefix of REL after
		 * the branch's own components. */
		if (!drop && gone && head) {
			size_t off = (size_t)(p + len - rel);
			size_t bl = fs->cfg.branch ? 0 : strlen(branch) + 1;
			struct cfs_entry e;

			if (off > bl) {
				char *dir = strndup(rel + bl, off - bl);

				drop = dir && cfs_stat(fs->db, head, dir, &e) ==
						      -ENOENT;
				free(dir);
			}
		}
		if (drop) {
			fuse_lowlevel_notify_inval_entry(fs->se, parent, p,
							 len);
			if (inos[i])
				fuse_lowlevel_notify_inval_inode(fs->se,
								 inos[i], 0, 0);
			return;
		}
		fuse_lowlevel_notify_inval_inode(fs->se, inos[i], -1, 0);
		parent = inos[i];
		p += len + 1;
	}
}

struct inval {
	struct fs *fs;
	const char *branch;
	struct cfs_oid head;
	bool has_head;
};

static int inval_path(void *ctx, const char *path, int deleted)
{
	struct inval *v = ctx;
	char *rel;

	if (v->fs->cfg.branch)
		rel = strdup(path);
	else if (asprintf(&rel, "%s/%s", v->branch, path) < 0)
		rel = NULL;
	if (!rel)
		return -ENOMEM;
	inval_rel(v->fs, rel, v->branch, v->has_head ? &v->head : NULL,
		  deleted);
	free(rel);
	return 0;
}

/* After a round: what the kernel holds of every branch it moved. */
static void invalidate(struct fs_sync *s, const chronofs_sync_result *r)
{
	struct fs *fs = s->fs;

	for (size_t i = 0; i < r->n; i++) {
		const chronofs_sync_branch *b = &r->v[i];
		struct inval v = { .fs = fs, .branch = b->name };

		if (!strcmp(b->before, b->after))
			continue;
		if (fs->cfg.branch && strcmp(fs->cfg.branch, b->name))
			continue;
		if (!b->before[0] || !b->after[0]) { /* made or deleted */
			fs_branches_changed(fs);
			if (!fs->cfg.branch)
				inval_rel(fs, b->name, b->name, NULL, false);
			continue;
		}
		v.has_head = cfs_head(fs->db, b->name, &v.head) == 0;
		if (cfs_changed_paths(fs->db, b->before, b->after, inval_path,
				      &v) < 0)
			fs_log(LOG_WARNING, "sync: %s: %s", b->name,
			       chronofs_errmsg(fs->db));
	}
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* What B's round did, in chronofsctl sync's words, into OUT. */
static void words(const chronofs_sync_branch *b, char *out, size_t sz)
{
	json_t *a = did(b);
	size_t len = 0, n = a ? json_array_size(a) : 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && len < sz; i++) {
		const char *w = json_string_value(json_array_get(a, i));

		if (!strcmp(w, "merged"))
			len += (size_t)snprintf(out + len, sz - len,
						"%smerged with %zu conflict%s",
						i ? ", " : "", b->conflicts,
						b->conflicts == 1 ? "" : "s");
		else
			len += (size_t)snprintf(out + len, sz - len, "%s%s",
						i ? ", " : "", w);
	}
	json_decref(a);
}

/* One log line per round that did something, and per failure. */
static void log_round(struct fs_sync *s, const chronofs_sync_result *r,
		      uint64_t started_ms)
{
	char line[2048], w[256];
	size_t len = 0;

	for (size_t i = 0; i < r->n; i++) {
		const chronofs_sync_branch *b = &r->v[i];

		if (b->done & CHRONOFS_SYNC_FAILED)
			fs_log(LOG_WARNING, "sync with %s: %s failed: %s",
			       s->remote, b->name,
			       b->message ? b->message : "?");
		else if (b->message)
			fs_log(LOG_WARNING, "sync with %s: %s: %s", s->remote,
			       b->name, b->message);
		if (!b->done || (b->done & CHRONOFS_SYNC_FAILED))
			continue;
		words(b, w, sizeof(w));
		if (len < sizeof(line))
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						"%s %s: %s", len ? ";" : "",
						b->name, w);
	}
	if (len)
		fs_log(LOG_INFO, "sync with %s:%s (%.2f s)", s->remote, line,
		       (double)(now_ms() - started_ms) / 1000.0);
}

/* The status @sync shows, after a round (ERR < 0: it could not run). */
static void record(struct fs_sync *s, int64_t started, const char *failure,
		   const chronofs_sync_result *r)
{
	json_t *branches = json_object();
	char *error = NULL;

	if (failure)
		error = strdup(failure);
	for (size_t i = 0; r && i < r->n; i++) {
		const chronofs_sync_branch *b = &r->v[i];

		if (b->done & CHRONOFS_SYNC_FAILED && !error &&
		    asprintf(&error, "%s: %s", b->name,
			     b->message ? b->message : "failed") < 0)
			error = NULL;
		if (!b->after[0])
			continue; /* gone here */
		json_object_set_new(branches, b->name,
				    json_pack("{s:I,s:I,s:o}", "ahead",
					      (json_int_t)b->ahead, "behind",
					      (json_int_t)b->behind, "last",
					      did(b)));
	}
	pthread_mutex_lock(&s->lock);
	s->rounds++;
	s->last_time = started;
	free(s->last_result);
	s->last_result = strdup(failure || (r && r->failed) ? "failed" : "ok");
	for (size_t i = 0; r && i < r->n; i++)
		s->conflicts += r->v[i].conflicts;
	if (r) {
		json_decref(s->branches);
		s->branches = branches;
		branches = NULL;
	}
	if (error) {
		s->failures++;
		free(s->last_error);
		s->last_error = error;
		s->last_error_time = started;
	}
	pthread_mutex_unlock(&s->lock);
	json_decref(branches);
}

/* Sleep MS unless told to stop; true if told. */
static bool nap(struct fs_sync *s, unsigned ms)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!(stop = atomic_load(&s->stop)) &&
	       pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
		;
	pthread_mutex_unlock(&s->lock);
	return stop || atomic_load(&s->stop);
}

/* What is left of the interval that began at STARTED. */
static unsigned until_next(uint64_t started, unsigned interval_ms)
{
	uint64_t spent = now_ms() - started;

	return spent >= interval_ms ? 0 : (unsigned)(interval_ms - spent);
}

static void *run(void *arg)
{
	struct fs_sync *s = arg;
	unsigned interval_ms = s->interval * 1000u, backoff = 0;

	while (!atomic_load(&s->stop)) {
		chronofs_sync_result *r = NULL;
		int64_t started = (int64_t)time(NULL);
		uint64_t started_ms = now_ms();
		int err = cfs_sync(s->fs->db, s->remote, &s->stop, &r);
		bool failed = err < 0 || r->failed;
		char *failure = NULL;

		if (err == -ECANCELED)
			break;
		if (err < 0) {
			failure = strdup(chronofs_errmsg(s->fs->db));
			fs_log(LOG_WARNING, "sync with %s failed: %s",
			       s->remote, failure ? failure : "?");
			/* Offline: the status still counts what waits. */
			if (cfs_sync_state(s->fs->db, s->remote, &r) < 0)
				r = NULL;
		} else {
			log_round(s, r, started_ms);
		}
		if (err == 0 && r->changed)
			invalidate(s, r);
		record(s, started, failure, r);
		free(failure);
		chronofs_sync_result_free(r);
		if (failed)
			backoff = backoff ? backoff * 2 : BACKOFF_FIRST_MS;
		else
			backoff = 0;
		if (backoff > interval_ms)
			backoff = interval_ms;
		/* Rounds start every interval (a round's own time is not
		 * added to it); after a failure, the backoff. */
		if (nap(s,
			failed ? backoff : until_next(started_ms, interval_ms)))
			break;
	}
	return NULL;
}

int fs_sync_start(struct fs *fs)
{
	struct fs_sync *s;
	int err;

	if (!fs->cfg.sync_remote)
		return 0;
	if (!(s = calloc(1, sizeof(*s))) ||
	    !(s->remote = strdup(fs->cfg.sync_remote))) {
		free(s);
		return -ENOMEM;
	}
	s->fs = fs;
	s->interval = fs->cfg.sync_interval;
	atomic_init(&s->stop, false);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	fs->sync = s;
	err = -pthread_create(&s->tid, NULL, run, s);
	if (err < 0) {
		fs->sync = NULL;
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s->remote);
		free(s);
		return err;
	}
	fs_log(LOG_INFO, "sync with %s every %u s", s->remote, s->interval);
	return 0;
}

void fs_sync_stop(struct fs *fs)
{
	struct fs_sync *s = fs->sync;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->stop, true);
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->tid, NULL);
	fs->sync = NULL;
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	json_decref(s->branches);
	free(s->last_result);
	free(s->last_error);
	free(s->remote);
	free(s);
}

int fs_sync_read(struct fs *fs, char **out, size_t *len)
{
	struct fs_sync *s = fs->sync;
	json_t *o;
	char *t;

	*out = NULL;
	if (!s)
		return -ENOENT;
	pthread_mutex_lock(&s->lock);
	o = json_pack("{s:s,s:I,s:I,s:I,s:I}", "remote", s->remote, "interval",
		      (json_int_t)s->interval, "rounds", (json_int_t)s->rounds,
		      "failures", (json_int_t)s->failures, "conflicts",
		      (json_int_t)s->conflicts);
	if (o && s->last_time) {
		t = when(s->last_time);
		json_object_set_new(o, "last_round",
				    json_pack("{s:s?,s:s?}", "time", t,
					      "result", s->last_result));
		free(t);
	} else if (o) {
		json_object_set_new(o, "last_round", json_null());
	}
	/* A copy: the text is made after the lock is let go. */
	if (o)
		json_object_set_new(o, "branches",
				    s->branches ? json_deep_copy(s->branches) :
						  json_object());
	if (o && s->last_error) {
		t = when(s->last_error_time);
		json_object_set_new(o, "last_error",
				    json_pack("{s:s?,s:s}", "time", t,
					      "message", s->last_error));
		free(t);
	} else if (o) {
		json_object_set_new(o, "last_error", json_null());
	}
	pthread_mutex_unlock(&s->lock);
	if (!o)
		return -ENOMEM;
	t = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (!t)
		return -ENOMEM;
	*len = strlen(t);
	*out = t;
	/* One line's end, as a file of text has. */
	if ((t = realloc(*out, *len + 2))) {
		t[(*len)++] = '\n';
		t[*len] = '\0';
		*out = t;
	}
	return 0;
}

int fs_sync_stat(struct fs *fs, const struct fs_loc *loc, struct stat *st)
{
	char *text = NULL;
	size_t len = 0;
	int err = fs_sync_read(fs, &text, &len);
	time_t t = fs->started;

	free(text);
	if (err < 0)
		return err;
	pthread_mutex_lock(&fs->sync->lock);
	if (fs->sync->last_time)
		t = (time_t)fs->sync->last_time;
	pthread_mutex_unlock(&fs->sync->lock);
	fs_stat_fill(fs, st, loc->full, S_IFREG | 0444, t, (off_t)len);
	return 0;
}
