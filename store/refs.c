/* refs.c - the compare-and-swap of a branch ref, as git does it: take
 * refs/heads/NAME.lock (O_EXCL, or link(2) of a pool file, which is as
 * exclusive and allocates no inode), check the current value, write the
 * new one, append the reflog when git would, rename the lock over the ref.
 * The replaced ref file is linked into the pool's trash first, so the
 * rename frees no inode on the save path (pool.c says why that matters).
 *
 * Anything unusual (a symbolic ref, a ref directory that does not exist, a
 * lock we cannot make) goes to libgit2's git_reference_create_matching,
 * which handles every case, only slower.
 *
 * Reads: a branch head is read at every open, stat and save. The value of
 * a loose ref is kept with the identity of its file (inode, size and
 * modification time; not the change time, which the pool's unlink of a
 * lock's second name moves), so a read is one stat(2) while the file is
 * the one we read or wrote. A ref file read within a few clock ticks of
 * its last write is not kept: a rewrite in place in the same tick would
 * keep its time (git never rewrites in place: it renames a new file
 * over). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define FALLBACK 1 /* internal: let libgit2 do it */
#define SETTLED_NS 50000000L /* a ref file this old keeps its times */
#define LOG_RECHECK_S 1 /* whether a reflog exists, kept this long */

struct store_refmemo {
	struct ref_value {
		char *ref;
		struct stat sb; /* of the file the value came from */
		git_oid id;
	} v[REFMEMO_N];
	size_t next;
	struct log_seen {
		char *path;
		bool exists;
		time_t at;
	} logs[REFMEMO_N];
	size_t lnext;
};

void store_refmemo_free(struct store *st)
{
	struct store_refmemo *m = st->refmemo;

	if (!m)
		return;
	for (size_t i = 0; i < REFMEMO_N; i++) {
		free(m->v[i].ref);
		free(m->logs[i].path);
	}
	free(m);
	st->refmemo = NULL;
}

static struct store_refmemo *memo_of(struct store *st)
{
	if (!st->refmemo)
		st->refmemo = calloc(1, sizeof(*st->refmemo));
	return st->refmemo;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Keep REF = ID as read from (or written to) the file SB describes. */
static void memo_put(struct store *st, const char *ref, const struct stat *sb,
		     const git_oid *id)
{
	struct store_refmemo *m = memo_of(st);
	struct ref_value *v = NULL;

	if (!m)
		return;
	for (size_t i = 0; i < REFMEMO_N && !v; i++)
		if (m->v[i].ref && !strcmp(m->v[i].ref, ref))
			v = &m->v[i];
	if (!v) {
		v = &m->v[m->next];
		m->next = (m->next + 1) % REFMEMO_N;
		free(v->ref);
		if (!(v->ref = strdup(ref)))
			return;
	}
	v->sb = *sb;
	v->id = *id;
}

static void memo_drop(struct store *st, const char *ref)
{
	struct store_refmemo *m = st->refmemo;

	for (size_t i = 0; m && i < REFMEMO_N; i++)
		if (m->v[i].ref && !strcmp(m->v[i].ref, ref)) {
			free(m->v[i].ref);
			m->v[i].ref = NULL;
		}
}

/* Was the file SB describes last written long enough before NOW? */
static bool settled(const struct stat *sb, const struct timespec *now)
{
	long long age =
		(long long)(now->tv_sec - sb->st_mtim.tv_sec) * 1000000000LL +
		(now->tv_nsec - sb->st_mtim.tv_nsec);

	return age > SETTLED_NS;
}

static int slow_path(struct store *st, const char *ref, const git_oid *old,
		     const git_oid *new, const char *msg)
{
	git_reference *moved = NULL;
	int err = git_reference_create_matching(&moved, st->repo, ref, new, 1,
						old, msg);

	git_reference_free(moved);
	return err < 0 ? store_git_fail(err, ref) : 0;
}

/* The ref's value now: 0 with *cur, FALLBACK for a symbolic or odd ref,
 * -ENOENT if there is none. *loose: it is a file of its own. */
static int current(struct store *st, const char *ref, const char *path,
		   git_oid *cur, bool *loose)
{
	char buf[128];
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*loose = fd >= 0;
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < GIT_OID_HEXSZ ||
		    (n > GIT_OID_HEXSZ && buf[GIT_OID_HEXSZ] != '\n'))
			return FALLBACK;
		buf[GIT_OID_HEXSZ] = '\0';
		return git_oid_fromstr(cur, buf) == 0 ? 0 : FALLBACK;
	}
	if (errno != ENOENT)
		return FALLBACK;
	/* Only in packed-refs (libgit2 reads and caches that file). */
	return git_reference_name_to_id(cur, st->repo, ref) == 0 ? 0 : -ENOENT;
}

/* Does the reflog at PATH exist? Asked at every save: the answer is kept
 * LOG_RECHECK_S seconds (a log made by git meanwhile gets our lines from
 * then on). */
static bool log_exists(struct store *st, const char *path)
{
	struct store_refmemo *m = memo_of(st);
	time_t now = time(NULL);
	struct log_seen *l = NULL;

	for (size_t i = 0; m && i < REFMEMO_N && !l; i++)
		if (m->logs[i].path && !strcmp(m->logs[i].path, path))
			l = &m->logs[i];
	if (l && now - l->at < LOG_RECHECK_S && now >= l->at)
		return l->exists;
	if (!l && m) {
		l = &m->logs[m->lnext];
		m->lnext = (m->lnext + 1) % REFMEMO_N;
		free(l->path);
		if (!(l->path = strdup(path)))
			return access(path, F_OK) == 0;
	}
	if (!l)
		return access(path, F_OK) == 0;
	l->exists = access(path, F_OK) == 0;
	l->at = now;
	return l->exists;
}

/* REF's value through the memo: 0 with *cur, FALLBACK for a symbolic or
 * odd ref, -ENOENT if there is none. *loose: it is a file of its own. */
static int read_ref(struct store *st, const char *ref, const char *path,
		    git_oid *cur, bool *loose)
{
	struct store_refmemo *m = st->refmemo;
	struct timespec now;
	struct stat sb;
	bool have = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	int err;

	for (size_t i = 0; have && m && i < REFMEMO_N; i++)
		if (m->v[i].ref && !strcmp(m->v[i].ref, ref) &&
		    same_file(&m->v[i].sb, &sb)) {
			*cur = m->v[i].id;
			*loose = true;
			return 0;
		}
	clock_gettime(CLOCK_REALTIME, &now);
	err = current(st, ref, path, cur, loose);
	if (err == 0 && have && *loose && settled(&sb, &now))
		memo_put(st, ref, &sb, cur);
	return err;
}

int store_ref_read(struct store *st, const char *ref, git_oid *out)
{
	char path[4200];
	bool loose;
	int valid = 0, err;

	/* Not a path of our choosing: "..", "x.lock" and such are no refs. */
	if (git_reference_name_is_valid(&valid, ref) < 0 || !valid)
		return store_fail(-EINVAL, "%s: not a valid ref name", ref);
	if (snprintf(path, sizeof(path), "%s/%s", st->gitdir, ref) >=
	    (int)sizeof(path))
		return store_fail(-ENAMETOOLONG, "%s: name too long", ref);
	err = read_ref(st, ref, path, out, &loose);
	if (err == FALLBACK) {
		err = git_reference_name_to_id(out, st->repo, ref);
		return err < 0 ? store_git_fail(err, ref) : 0;
	}
	return err < 0 ? store_fail(err, "%s: not found", ref) : 0;
}

/* Should NAME get a reflog entry (git's files backend rule)? */
static bool wants_log(struct store *st, const char *name, const char *path)
{
	if (log_exists(st, path))
		return true;
	if (st->reflog == STORE_REFLOG_ALWAYS)
		return true;
	return st->reflog == STORE_REFLOG_BRANCHES &&
	       (!strncmp(name, "refs/heads/", 11) || !strcmp(name, "HEAD"));
}

static int mkdirs_for(const char *path)
{
	char buf[4400];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = strchr(buf + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

/* Append one reflog line to the log at PATH (a ref's, or HEAD's, that
 * wants_log said yes to), synced if SYNC. Runs without st->lock: reads
 * only what never changes. */
static int append_log(struct store *st, const char *path, const git_oid *old,
		      const git_oid *new, const char *msg, bool sync)
{
	char line[8192], a[GIT_OID_HEXSZ + 1], b[GIT_OID_HEXSZ + 1];
	time_t now = time(NULL);
	struct tm tm;
	long off;
	int fd, n, err;

	localtime_r(&now, &tm);
	off = tm.tm_gmtoff / 60;
	git_oid_tostr(a, sizeof(a), old);
	git_oid_tostr(b, sizeof(b), new);
	n = snprintf(line, sizeof(line),
		     "%s %s %s <%s> %lld %c%02ld%02ld\t%s\n", a, b,
		     st->author_name, st->author_email, (long long)now,
		     off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60, msg);
	if (n < 0 || n >= (int)sizeof(line))
		return -ENAMETOOLONG;
	/* One line per entry: a newline in a path must not split it. */
	for (char *c = strchr(line, '\t'); c && c < line + n - 1; c++)
		if (*c == '\n')
			*c = ' ';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT && mkdirs_for(path) == 0)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  0644);
	if (fd < 0)
		return -errno;
	err = store_write_all(fd, line, (size_t)n);
	if (err == 0 && sync && fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Does HEAD point at REF (so its reflog records this move too)? */
bool store_head_is(struct store *st, const char *ref)
{
	char path[4200], buf[1100];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/HEAD", st->gitdir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 5)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return !strncmp(buf, "ref: ", 5) && !strcmp(buf + 5, ref);
}

/* A ref lock taken: its descriptor, and its second name in the pool
 * directory (see lock()). */
struct ref_lock {
	int fd;
	bool pooled; /* a pool file: TICKET to release */
	unsigned long ticket;
	unsigned long held; /* made there while the pool was dry: h<held> */
};

/* Take REF's lock: 0 with L's descriptor open, -EAGAIN if another writer
 * holds it, FALLBACK if we cannot tell. A lock made from a pool file keeps
 * its pool name while it is held (lock_names_drop once the lock is gone):
 * if this process dies holding it, the next one to take over the pool
 * directory knows the lock as ours and removes it (pool.c). When the pool
 * ran dry the lock is made in the pool directory too. */
static int lock(struct store *st, const char *lockpath, struct ref_lock *l)
{
	char pool[4400];

	memset(l, 0, sizeof(*l));
	if (store_pool_take(st, pool, sizeof(pool), &l->ticket, &l->fd) == 0) {
		int rc, e;

		if (l->fd < 0)
			l->fd = store_pool_open(pool); /* empty */
		rc = l->fd >= 0 ? link(pool, lockpath) : -1;
		e = errno;
		if (rc < 0) {
			if (l->fd >= 0)
				close(l->fd);
			store_pool_release(st, l->ticket);
			return e == EEXIST ? -EAGAIN : FALLBACK;
		}
		/* Pool files are read-only as objects are; a ref is not. */
		if (fchmod(l->fd, 0644) == 0) {
			l->pooled = true;
			return 0;
		}
		close(l->fd);
		unlink(lockpath);
		store_pool_release(st, l->ticket);
		return FALLBACK;
	}
	if ((l->fd = store_pool_fresh(st, pool, sizeof(pool), &l->held)) >= 0) {
		int rc = link(pool, lockpath), e = errno;

		if (rc == 0)
			return 0;
		close(l->fd);
		unlink(pool);
		l->held = 0;
		return e == EEXIST ? -EAGAIN : FALLBACK;
	}
	l->fd = open(lockpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (l->fd >= 0)
		return 0;
	return errno == EEXIST ? -EAGAIN : FALLBACK;
}

/* Drop the lock's second name, once the lock is gone or is the ref. */
static void lock_names_drop(struct store *st, const struct ref_lock *l)
{
	if (l->pooled)
		store_pool_release(st, l->ticket);
	store_pool_unhold(st, l->held);
}

/* With fsync=on: FD (the ref lock) synced together with this thread's
 * objects if it has a set of them, else on its own. */
static int sync_with_objects(struct store *st, int fd)
{
	int dup_fd = dup(fd);
	bool taken;

	pthread_mutex_lock(&st->lock);
	taken = dup_fd >= 0 && store_syncset_take_fd(st, dup_fd);
	pthread_mutex_unlock(&st->lock);
	if (taken)
		return store_syncset_flush(st);
	if (dup_fd >= 0)
		close(dup_fd);
	return fsync(fd) < 0 ? -errno : 0;
}

/* libgit2's ref update, for refs we cannot lock ourselves: the objects
 * first. Caller holds st->lock; it is let go across the syncs. */
static int synced_slow_path(struct store *st, const char *ref,
			    const git_oid *old, const git_oid *new,
			    const char *msg)
{
	int err;

	pthread_mutex_unlock(&st->lock);
	err = store_journal_commit(st, ref, old, new);
	err = err == 1 ? store_syncset_flush(st) : err;
	pthread_mutex_lock(&st->lock);
	return err < 0 ? store_fail(err, "sync objects: %s", strerror(-err)) :
			 slow_path(st, ref, old, new, msg);
}

/* Called without st->lock: it is taken for the memo and libgit2 parts
 * only, so the fsyncs (of the lock file, the reflogs and refs/heads/)
 * never hold up readers of the store. The ref lock file excludes other
 * writers, git's and ours, meanwhile. */
int store_ref_cas(struct store *st, const char *ref, const git_oid *old,
		  const git_oid *new, const char *msg)
{
	char dir[4200];
	int err =
		store_ref_cas_but_dir(st, ref, old, new, msg, dir, sizeof(dir));

	if (err == 0 && dir[0])
		store_fsync_dir(dir);
	return err;
}

int store_ref_cas_but_dir(struct store *st, const char *ref, const git_oid *old,
			  const git_oid *new, const char *msg, char *dir,
			  size_t dirsz)
{
	char path[4200], lockpath[4300], hex[GIT_OID_HEXSZ + 2];
	char head_log[4200], ref_log[4400];
	bool loose, log_ref = false, log_head = false, journaled = false;
	git_oid cur;
	struct stat sb;
	struct ref_lock l;
	int err;

	dir[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", st->gitdir, ref);
	snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	snprintf(ref_log, sizeof(ref_log), "%s/logs/%s", st->gitdir, ref);
	snprintf(head_log, sizeof(head_log), "%s/logs/HEAD", st->gitdir);
	pthread_mutex_lock(&st->lock);
	err = lock(st, lockpath, &l);
	if (err == FALLBACK) {
		err = synced_slow_path(st, ref, old, new, msg);
		pthread_mutex_unlock(&st->lock);
		return err;
	}
	if (err < 0) {
		pthread_mutex_unlock(&st->lock);
		return store_fail(err, "%s is locked by another writer", ref);
	}
	err = read_ref(st, ref, path, &cur, &loose);
	if (err == 0 && !git_oid_equal(&cur, old))
		err = -EAGAIN;
	/* The first commit of an unborn branch: OLD is zero, no ref yet. */
	if (err == -ENOENT && git_oid_is_zero(old))
		err = 0;
	else if (err == -ENOENT)
		err = -EAGAIN;
	if (err != 0) {
		close(l.fd);
		unlink(lockpath);
		lock_names_drop(st, &l);
		err = err == FALLBACK ?
			      synced_slow_path(st, ref, old, new, msg) :
			      store_fail(-EAGAIN, "%s moved", ref);
		pthread_mutex_unlock(&st->lock);
		return err;
	}
	log_ref = wants_log(st, ref, ref_log);
	log_head = wants_log(st, "HEAD", head_log) && store_head_is(st, ref);
	pthread_mutex_unlock(&st->lock);
	git_oid_tostr(hex, GIT_OID_HEXSZ + 1, new);
	hex[GIT_OID_HEXSZ] = '\n';
	err = store_write_all(l.fd, hex, GIT_OID_HEXSZ + 1);
	/* fsync=on: a group's save by a journal record (one flush, the Git
	 * files left to the kernel); else the objects the ref will name
	 * (this thread's set) and the lock file's new value synced
	 * together, one flush, and the rename another. */
	if (err == 0 && st->fsync &&
	    (err = store_journal_commit(st, ref, old, new)) == 0)
		journaled = true;
	else if (err == 1)
		err = sync_with_objects(st, l.fd);
	/* The reflog is written under the lock, before the ref moves, as
	 * git does; a failed reflog line does not undo a save. A journaled
	 * save's is not synced: a replay writes a line of its own. */
	if (err == 0 && log_ref)
		append_log(st, ref_log, old, new, msg, st->fsync && !journaled);
	if (err == 0 && log_head)
		append_log(st, head_log, old, new, msg,
			   st->fsync && !journaled);
	pthread_mutex_lock(&st->lock);
	if (err == 0 && loose)
		store_pool_trash(st, path, false);
	if (err == 0 && rename(lockpath, path) < 0)
		err = -errno;
	/* The lock's descriptor is still open: the identity of its inode,
	 * now the ref, whoever renames over it next. */
	if (err == 0 && fstat(l.fd, &sb) == 0)
		memo_put(st, ref, &sb, new);
	else
		memo_drop(st, ref);
	pthread_mutex_unlock(&st->lock);
	if (close(l.fd) < 0 && err == 0)
		err = -errno;
	lock_names_drop(st, &l);
	if (err < 0) {
		if (journaled)
			store_journal_undo(st);
		unlink(lockpath);
		return store_fail(err, "%s: cannot update: %s", ref,
				  strerror(-err));
	}
	if (st->fsync && !journaled) {
		*strrchr(path, '/') = '\0';
		snprintf(dir, dirsz, "%s", path);
	}
	return 0;
}
