/* pool.c - new files without new inodes on the save path.
 *
 * Every save makes files: four or five loose objects and a ref lock. On
 * ext4 (and most so when it runs without a journal, which then avoids
 * reusing recently freed inodes) allocating an inode can cost a
 * millisecond, more than the rest of the commit, and freeing one (the old
 * ref file a rename replaces) about as much. So a background thread keeps
 * a pool of empty files in <gitdir>/chronofs/pool/<pid>-<time>-<n>/; the
 * save path names them into place by link(2), which allocates nothing;
 * the thread unlinks the pool's name afterwards (the save path never
 * changes the pool directory, so it never waits for the thread's slow
 * creations in it). The inode a ref update would free is linked into
 * trash/ first and, after a quarantine long enough for any reader that
 * opened the old ref to have read it, emptied and reused as a pool file,
 * but only if no descriptor or mapping of it is open anywhere (a write
 * lease is granted only then) and it has no other name: whoever still
 * holds an old file keeps its bytes. So are loose objects once packed
 * (pack.c moves them here): in a steady stream of saves the pool then
 * makes and frees almost no inode.
 *
 * Pool files are empty and read-only (0444, as loose objects are): the
 * next ones to be taken are held open for writing (a descriptor opened
 * before the mode changed keeps write access), so a save neither opens
 * nor chmods them; writers never truncate them (a truncate makes ext4
 * flush the file at close). Free files are f<lo>..f<hi-1>, taken in order,
 * f<lo>..f<oh-1> with a descriptor open; f<ulo>..f<lo-1> are taken and
 * unlinked once released; trash is trash/t<tlo>..t<thi-1>. A pool
 * directory left by a process that is gone is adopted (renamed) by the
 * next one, so nothing leaks. Its owner holds flock(2) on it for as long
 * as it lives: a process id alone cannot tell (kill(pid, 0) answers ESRCH
 * for a live owner in another pid namespace, and a pid is reused). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

/* The pool is refilled at the lowest CPU priority, so a busy machine
 * gives the saves themselves the time first, up to a target that starts
 * small (a mount that saves little makes few files) and doubles each time
 * saves drain it below a quarter, up to enough for a burst of about 800
 * saves. */
#define POOL_START 256
#define POOL_MAX 4096
#define TRASH_CAP 16384 /* trash entries waiting; past this, free inline */
#define FREE_MAX 8192 /* free files kept; trash past this is freed */
#define QUARANTINE_S 10 /* trash is reused after this many seconds */
#define DONE_RING 1024 /* taken files awaiting their unlink, at first */
#define FD_AHEAD 64 /* free files held open, the next to be taken */
#define IDLE_UNLINK_S 1 /* released names left at most this long */
#define KEEP_AT_STOP POOL_START /* free files left for the next process */
/* In a live process's pool directory; removed by a clean stop, so a dead
 * one's that still holds it crashed (torn.c). */
#define RUNNING "running"

struct store_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t tid;
	char dir[4096];
	char adopt[4200]; /* a dead process's directory we took over */
	char refs[4200]; /* <gitdir>/refs */
	char top[4200]; /* <gitdir>/chronofs/pool */
	int own_fd; /* dir, flock(2)ed while we live */
	int adopt_fd; /* adopt, flock(2)ed until taken over; or -1 */
	unsigned long ulo, lo, hi; /* see the top of the file */
	unsigned long oh; /* f<lo>..f<oh-1> are open: fds[n % FD_AHEAD] */
	int fds[FD_AHEAD];
	/* f<n> released: done[n % ndone]. It grows with the thread's lag:
	 * a release past it once unlinked its name itself, and f<ulo> then
	 * never came back released, so every later save unlinked its own
	 * and the stop tried each name. */
	bool *done;
	size_t ndone;
	unsigned long tlo, thi; /* trash t<tlo>..t<thi-1> */
	unsigned long held; /* last h<n>: locks made without the pool */
	time_t ttime[TRASH_CAP]; /* when each trash entry came */
	unsigned long target; /* refill up to this many free files */
	bool adopting, refilling, stop;
};

/* f<n> free, t<n> trash, h<n> a lock made while the pool was dry. */
static void name_of(const struct store_pool *p, char *buf, size_t sz, char kind,
		    unsigned long n)
{
	if (kind == 't')
		snprintf(buf, sz, "%s/trash/t%lu", p->dir, n);
	else
		snprintf(buf, sz, "%s/%c%lu", p->dir, kind, n);
}

/* Empty the file at PATH for reuse; false if it cannot be used. A file
 * with another name too is never emptied: that name is a published object
 * or ref (a pool name whose unlink was still due when its process died,
 * trash whose rename over the ref did not happen). Nor is one that anyone
 * else holds open or mapped: the kernel grants a write lease only on a
 * file open by no other descriptor (its one name left is ours, so no one
 * new can open it but through our private directory). Through a file
 * descriptor, so its close also clears ext4's flush-on-close mark. */
static bool empty_file(const char *path)
{
	int fd = store_pool_open(path);
	struct stat sb;
	bool ok;

	if (fd < 0)
		return false;
	/* An open(2) during the lease signals its holder: SIGIO would end
	 * the process, SIGWINCH is ignored unless asked for. */
	ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_nlink == 1 &&
	     fcntl(fd, F_SETSIG, SIGWINCH) == 0 &&
	     fcntl(fd, F_SETLEASE, F_WRLCK) == 0;
	if (ok) {
		fcntl(fd, F_SETLEASE, F_UNLCK);
		ok = ftruncate(fd, 0) == 0;
	}
	close(fd);
	return ok;
}

/* Pool directory TOP/NAME (PID-STAMP) if its owner is gone, so we may
 * take it over: a descriptor of it holding its flock(2), or -1 (the owner
 * lives and holds the lock, or NAME is no pool directory). */
static int lock_dead(const char *top, const char *name)
{
	char path[4600], *end;
	long pid = strtol(name, &end, 10);
	int fd;

	if (pid <= 0 || *end != '-')
		return -1;
	snprintf(path, sizeof(path), "%s/%s", top, name);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	close(fd);
	return -1;
}

/* Move the files of the claimed directory P->adopt into ours as f<N>..,
 * emptied (whatever a dead process left there is unnamed content), each
 * published at once: saves use them while the rest are moved (thousands
 * can be waiting, and a save that finds none makes its own). Nothing
 * else names files in our directory while this runs. */
static unsigned long adopt_dir(struct store_pool *p, const char *dir,
			       unsigned long n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char from[4800], to[4400];

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "trash"))
			continue;
		snprintf(from, sizeof(from), "%s/%s", dir, e->d_name);
		name_of(p, to, sizeof(to), 'f', n);
		if (empty_file(from) && rename(from, to) == 0) {
			pthread_mutex_lock(&p->mu);
			p->hi = ++n;
			pthread_mutex_unlock(&p->mu);
		} else {
			unlink(from);
		}
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return n;
}

/* Remove every ref lock under DIR whose inode is in INOS: locks the dead
 * owner of the adopted directory held (refs.c keeps a lock's pool name
 * while it holds the lock; git's own locks have one name). */
static void clear_locks(const char *dir, const ino_t *inos, size_t n, int depth)
{
	DIR *d = depth < 16 ? opendir(dir) : NULL;
	struct dirent *e;
	char path[4800];
	struct stat sb;

	while (d && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			clear_locks(path, inos, n, depth + 1);
			continue;
		}
		if (len < 5 || strcmp(e->d_name + len - 5, ".lock") ||
		    sb.st_nlink < 2)
			continue;
		for (size_t i = 0; i < n; i++)
			if (inos[i] == sb.st_ino) {
				unlink(path);
				break;
			}
	}
	if (d)
		closedir(d);
}

/* Add to *INOS the inodes of DIR's files that have another name too. */
static void linked_inodes(const char *dir, ino_t **inos, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat sb;
	ino_t *v;

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(sb.st_mode) || sb.st_nlink < 2)
			continue;
		if (!(v = realloc(*inos, (*n + 1) * sizeof(*v))))
			break;
		*inos = v;
		(*inos)[(*n)++] = sb.st_ino;
	}
	if (d)
		closedir(d);
}

/* Remove the ref locks under REFS held by dead processes: those whose
 * pool directories are still under TOP (every one), and ADOPTED's (the
 * one we claimed, if any: its lock is ours now). */
static void clear_dead_locks(const char *top, const char *refs,
			     const char *adopted)
{
	DIR *d = opendir(top);
	struct dirent *e;
	char path[4600];
	ino_t *inos = NULL;
	size_t n = 0;

	if (adopted)
		linked_inodes(adopted, &inos, &n);
	while (d && (e = readdir(d)) != NULL) {
		int fd = lock_dead(top, e->d_name);

		if (fd < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", top, e->d_name);
		linked_inodes(path, &inos, &n);
		close(fd);
	}
	if (d)
		closedir(d);
	if (n)
		clear_locks(refs, inos, n, 0);
	free(inos);
}

static void adopt_files(struct store_pool *p)
{
	char trash[4400];
	unsigned long n;

	snprintf(trash, sizeof(trash), "%s/trash", p->adopt);
	n = adopt_dir(p, trash, 0);
	adopt_dir(p, p->adopt, n);
	close(p->adopt_fd);
	p->adopt_fd = -1;
}

void store_spread_subdirs(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), flags;

	if (fd < 0)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    !(flags & FS_TOPDIR_FL)) {
		flags |= FS_TOPDIR_FL;
		ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
}

/* The RUNNING marker in directory DIRFD (made durable with the
 * directory's name: make_own). */
static int mark_running(int dirfd)
{
	int fd = openat(dirfd, RUNNING, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* What crash_left does to each crashed directory. */
enum crash_act {
	CRASH_FIND, /* nothing */
	CRASH_REPLAY, /* its journal replayed (journal.c) */
	CRASH_CLEAR, /* its RUNNING marker removed */
};

/* Whether a dead process's pool directory under TOP holds the RUNNING
 * marker (it crashed); ACT done to each such directory. */
static bool crash_left(struct store *st, const char *top, enum crash_act act)
{
	DIR *d = opendir(top);
	struct dirent *e;
	char path[4400];
	bool found = false;

	while (d && (e = readdir(d)) != NULL) {
		int fd = lock_dead(top, e->d_name);

		if (fd < 0)
			continue;
		if (faccessat(fd, RUNNING, F_OK, 0) == 0) {
			found = true;
			if (act == CRASH_REPLAY) {
				snprintf(path, sizeof(path), "%s/%s", top,
					 e->d_name);
				store_journal_replay(st, path);
			} else if (act == CRASH_CLEAR) {
				unlinkat(fd, RUNNING, 0);
			}
		}
		close(fd);
	}
	if (d)
		closedir(d);
	return found;
}

/* What a process that crashed left (its pool directory under TOP still
 * holds RUNNING) put right: its ref locks under REFS removed first (a
 * replay moves refs), its journal replayed, torn objects and packs
 * removed, then the marker. */
static void recover(struct store *st, const char *top, const char *refs)
{
	if (!crash_left(st, top, CRASH_FIND))
		return;
	clear_dead_locks(top, refs, NULL);
	crash_left(st, top, CRASH_REPLAY);
	store_drop_torn_objects(st);
	store_drop_torn_packs(st);
	crash_left(st, top, CRASH_CLEAR);
}

void store_crash_recover(struct store *st)
{
	char top[4200], refs[4200];

	/* Someone else's repository, read-only to us: nothing is written
	 * (nor could be). */
	if (access(st->gitdir, W_OK) < 0)
		return;
	snprintf(top, sizeof(top), "%s/chronofs/pool", st->gitdir);
	snprintf(refs, sizeof(refs), "%s/refs", st->gitdir);
	pthread_mutex_lock(&st->lock);
	recover(st, top, refs);
	pthread_mutex_unlock(&st->lock);
}

/* Make P->dir under a private name, lock it, then give it its name, so no
 * one ever sees it unlocked; NOREPLACE: a process of another pid namespace
 * may have the same pid, second and sequence number. */
static int make_own(struct store_pool *p, const char *top)
{
	static _Atomic unsigned seq; /* several stores in one process */
	long pid = (long)getpid(), now = (long)time(NULL);
	char tmp[4400], sub[4500];

	for (int tries = 0; tries < 64; tries++) {
		unsigned n = seq++;
		int err;

		if (snprintf(p->dir, sizeof(p->dir), "%s/%ld-%ld-%u", top, pid,
			     now, n) >= (int)sizeof(p->dir) ||
		    snprintf(p->adopt, sizeof(p->adopt), "%s-adopt", p->dir) >=
			    (int)sizeof(p->adopt))
			return -ENAMETOOLONG;
		snprintf(tmp, sizeof(tmp), "%s/.new-%ld-%ld-%u", top, pid, now,
			 n);
		if (mkdir(tmp, 0755) < 0) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		p->own_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->own_fd < 0 || flock(p->own_fd, LOCK_EX | LOCK_NB) < 0) {
			err = -errno;
			if (p->own_fd >= 0)
				close(p->own_fd);
			p->own_fd = -1;
			rmdir(tmp);
			return err;
		}
		snprintf(sub, sizeof(sub), "%s/trash", tmp);
		if (mkdir(sub, 0755) < 0 || mark_running(p->own_fd) < 0 ||
		    renameat2(AT_FDCWD, tmp, AT_FDCWD, p->dir,
			      RENAME_NOREPLACE) < 0) {
			err = -errno;
			close(p->own_fd);
			p->own_fd = -1;
			rmdir(sub);
			snprintf(sub, sizeof(sub), "%s/" RUNNING, tmp);
			unlink(sub);
			rmdir(tmp);
			if (err == -EEXIST)
				continue;
			return err;
		}
		snprintf(p->adopt, sizeof(p->adopt), "%s-adopt", p->dir);
		/* The marker, in its directory by its name, durable before any
		 * object (a power cut must not take it and leave them): all of
		 * it, block group descriptors too (on ext4 without a journal
		 * fsync does not write them: syncset.c). */
		syncfs(p->own_fd);
		return 0;
	}
	return -EEXIST;
}

/* Make P->dir, and claim a directory a dead process left (P->adopt, its
 * files to be taken over by the thread): 1 if there is one. */
static int make_dir(struct store_pool *p, struct store *st)
{
	const char *gitdir = st->gitdir;
	char top[4096], old[4400];
	DIR *d;
	struct dirent *e;
	int found = 0, err;

	snprintf(p->refs, sizeof(p->refs), "%s/refs", gitdir);
	snprintf(top, sizeof(top), "%s/chronofs", gitdir);
	if (mkdir(top, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(top, sizeof(top), "%s/chronofs/pool", gitdir);
	snprintf(p->top, sizeof(p->top), "%s", top);
	if (mkdir(top, 0755) < 0 && errno != EEXIST)
		return -errno;
	store_spread_subdirs(top);
	if ((err = make_own(p, top)) < 0)
		return err;
	/* Before any write of ours finds a torn object's name (the open did
	 * it too, but a process may have died since). */
	recover(st, top, p->refs);
	d = opendir(top);
	while (d && !found && (e = readdir(d)) != NULL) {
		int fd = lock_dead(top, e->d_name);

		if (fd < 0)
			continue;
		snprintf(old, sizeof(old), "%s/%s", top, e->d_name);
		/* Atomic: one claimant; it keeps the lock while it takes the
		 * files over. */
		found = renameat2(AT_FDCWD, old, AT_FDCWD, p->adopt,
				  RENAME_NOREPLACE) == 0;
		if (found)
			p->adopt_fd = fd;
		else
			close(fd);
	}
	if (d)
		closedir(d);
	return found;
}

/* Recycle trash entry T (its quarantine is over) as free file f<N>, or
 * free it if the pool is FULL. */
static bool recycle(struct store_pool *p, unsigned long t, unsigned long n,
		    bool full)
{
	char from[4400], to[4400];

	name_of(p, from, sizeof(from), 't', t);
	name_of(p, to, sizeof(to), 'f', n);
	if (!full && empty_file(from) && rename(from, to) == 0)
		return true;
	unlink(from);
	return false;
}

static bool create(struct store_pool *p, unsigned long n)
{
	char path[4400];
	int fd;

	name_of(p, path, sizeof(path), 'f', n);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int store_pool_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;

	/* Made writable again only while the pool's name is its one name:
	 * a second name is a published object or ref. */
	if (fd < 0 && errno == EACCES && lstat(path, &sb) == 0 &&
	    S_ISREG(sb.st_mode) && sb.st_nlink == 1 && chmod(path, 0644) == 0)
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/* A descriptor for writing free file f<N> (read-only from here on), or
 * -1. */
static int open_ahead(struct store_pool *p, unsigned long n)
{
	char path[4400];
	int fd;

	name_of(p, path, sizeof(path), 'f', n);
	fd = store_pool_open(path);
	if (fd >= 0 && fchmod(fd, 0444) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void *pool_thread(void *arg)
{
	struct store_pool *p = arg;
	unsigned long n, t;
	struct timespec ts;
	bool ok;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		time_t now = time(NULL);

		if (p->oh < p->lo)
			p->oh = p->lo; /* taken before we opened them */
		if (p->oh < p->hi && p->oh - p->lo < FD_AHEAD) {
			int fd;

			n = p->oh;
			pthread_mutex_unlock(&p->mu);
			fd = open_ahead(p, n);
			pthread_mutex_lock(&p->mu);
			if (fd >= 0 && n == p->oh && n >= p->lo) {
				p->fds[n % FD_AHEAD] = fd;
				p->oh = n + 1;
				continue;
			}
			if (fd >= 0) {
				close(fd); /* taken meanwhile: its taker opens */
				continue;
			}
			/* Cannot open it: the taker will see why. */
			p->oh = n + 1;
			p->fds[n % FD_AHEAD] = -1;
			continue;
		}
		if (p->ulo < p->lo && p->done[p->ulo % p->ndone]) {
			char path[4400];

			p->done[p->ulo % p->ndone] = false;
			name_of(p, path, sizeof(path), 'f', p->ulo++);
			pthread_mutex_unlock(&p->mu);
			unlink(path);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->tlo < p->thi &&
		    now - p->ttime[p->tlo % TRASH_CAP] >= QUARANTINE_S) {
			bool full = p->hi - p->lo >= FREE_MAX;

			t = p->tlo, n = p->hi;
			pthread_mutex_unlock(&p->mu);
			ok = recycle(p, t, n, full);
			pthread_mutex_lock(&p->mu);
			p->tlo++;
			if (ok)
				p->hi = n + 1;
			continue;
		}
		if (p->refilling || p->hi - p->lo < p->target / 4) {
			p->refilling = p->hi - p->lo < p->target;
			if (p->refilling) {
				n = p->hi;
				pthread_mutex_unlock(&p->mu);
				ok = create(p, n);
				pthread_mutex_lock(&p->mu);
				if (ok) {
					p->hi = n + 1;
					continue;
				}
				/* Full disk, a removed directory: the save
				 * path makes its own files; try later. */
				p->refilling = false;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 1;
				pthread_cond_timedwait(&p->cv, &p->mu, &ts);
				continue;
			}
		}
		/* Saves wake the thread only every FD_AHEAD / 2 files; the
		 * names they released meanwhile are unlinked then, or after
		 * IDLE_UNLINK_S when saves stop. */
		clock_gettime(CLOCK_REALTIME, &ts);
		if (p->tlo < p->thi &&
		    (p->ulo == p->lo ||
		     p->ttime[p->tlo % TRASH_CAP] + QUARANTINE_S - now <
			     IDLE_UNLINK_S)) {
			ts.tv_sec += p->ttime[p->tlo % TRASH_CAP] +
				     QUARANTINE_S - now;
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		} else if (p->ulo < p->lo) {
			ts.tv_sec += IDLE_UNLINK_S;
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		} else {
			pthread_cond_wait(&p->cv, &p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void *pool_main(void *arg)
{
	struct store_pool *p = arg;

	setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	if (p->adopting)
		adopt_files(p);
	return pool_thread(p);
}

const char *store_pool_dir(struct store *st)
{
	return st->pool ? st->pool->dir : NULL;
}

int store_pool_start(struct store *st)
{
	struct store_pool *p;
	int err;

	if (st->pool)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->done = calloc(DONE_RING, sizeof(*p->done)))) {
		free(p);
		return -ENOMEM;
	}
	p->ndone = DONE_RING;
	p->own_fd = p->adopt_fd = -1;
	err = make_dir(p, st);
	if (err < 0) {
		free(p->done);
		free(p);
		return err;
	}
	p->adopting = err == 1; /* pool_main: adopt first */
	/* Here, not in the thread: at the lowest priority it can wait
	 * seconds for a busy machine, and the first save after a crash
	 * would wait on the dead process's lock. Before adoption drops the
	 * names it matches. */
	clear_dead_locks(p->top, p->refs, p->adopt_fd >= 0 ? p->adopt : NULL);
	p->target = POOL_START;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->tid, NULL, pool_main, p) != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		if (p->adopt_fd >= 0)
			close(p->adopt_fd);
		close(p->own_fd); /* the next process takes the files over */
		free(p->done);
		free(p);
		return -EAGAIN;
	}
	st->pool = p;
	return 0;
}

/* Leave only a few empty files behind (the next process takes them
 * over): the names of files saves took, the trash (old refs; no one will
 * reuse them now) and the free files past KEEP_AT_STOP go. Nothing else
 * runs on the pool now. */
static void trim(struct store_pool *p)
{
	char path[4400];

	for (unsigned long n = p->ulo; n < p->lo; n++) {
		name_of(p, path, sizeof(path), 'f', n);
		unlink(path);
	}
	for (unsigned long t = p->tlo; t < p->thi; t++) {
		name_of(p, path, sizeof(path), 't', t);
		unlink(path);
	}
	for (unsigned long n = p->lo + KEEP_AT_STOP; n < p->hi; n++) {
		name_of(p, path, sizeof(path), 'f', n);
		unlink(path);
	}
}

void store_pool_stop(struct store *st)
{
	struct store_pool *p = st->pool;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->tid, NULL);
	for (unsigned long n = p->lo; n < p->oh; n++)
		if (p->fds[n % FD_AHEAD] >= 0)
			close(p->fds[n % FD_AHEAD]);
	trim(p);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	/* A clean stop: what it wrote is durable (with fsync=off too, and
	 * objects of saves that failed), then the marker goes. */
	if (syncfs(p->own_fd) == 0)
		unlinkat(p->own_fd, RUNNING, 0);
	close(p->own_fd); /* the next process takes the files over */
	free(p->done);
	free(p);
	st->pool = NULL;
}

int store_pool_take(struct store *st, char *path, size_t sz,
		    unsigned long *ticket, int *fd)
{
	struct store_pool *p = st->pool;
	unsigned long n;

	*fd = -1;
	if (!p)
		return -EAGAIN;
	pthread_mutex_lock(&p->mu);
	if (p->lo == p->hi) {
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return -EAGAIN;
	}
	n = p->lo++;
	if (n < p->oh)
		*fd = p->fds[n % FD_AHEAD];
	if (p->oh - n == FD_AHEAD / 2)
		pthread_cond_signal(&p->cv); /* open more ahead */
	if (p->hi - p->lo < p->target / 4) {
		if (!p->refilling && p->target < POOL_MAX)
			p->target *= 2; /* drained: a burst, keep more */
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	name_of(p, path, sz, 'f', n);
	*ticket = n;
	return 0;
}

/* Room in P->done for ticket T, released (caller holds P->mu): the ring
 * doubled, its flags moved to their new places. */
static int done_room(struct store_pool *p, unsigned long t)
{
	size_t cap = p->ndone;
	bool *v;

	while (t - p->ulo >= cap)
		cap *= 2;
	if (cap == p->ndone)
		return 0;
	if (!(v = calloc(cap, sizeof(*v))))
		return -ENOMEM;
	for (unsigned long n = p->ulo; n < p->ulo + p->ndone; n++)
		v[n % cap] = p->done[n % p->ndone];
	free(p->done);
	p->done = v;
	p->ndone = cap;
	return 0;
}

void store_pool_release(struct store *st, unsigned long ticket)
{
	struct store_pool *p = st->pool;
	char path[4400];

	pthread_mutex_lock(&p->mu);
	if (done_room(p, ticket) == 0) {
		p->done[ticket % p->ndone] = true; /* unlinked in a batch */
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_unlock(&p->mu);
	/* No memory: unlinked now, and the thread can no longer unlink
	 * in a batch (f<ulo> never comes back released); correct still. */
	name_of(p, path, sizeof(path), 'f', ticket);
	unlink(path);
}

unsigned long store_pool_backlog(struct store *st)
{
	struct store_pool *p = st->pool;
	unsigned long n;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	n = p->lo - p->ulo;
	pthread_mutex_unlock(&p->mu);
	return n;
}

int store_pool_trash(struct store *st, const char *victim, bool move)
{
	struct store_pool *p = st->pool;
	char path[4400];
	int err = 0;

	if (!p)
		return -EAGAIN;
	/* Held across link(2) so the thread never sees a name before it
	 * exists; only that thread competes for the lock. */
	pthread_mutex_lock(&p->mu);
	if (p->thi - p->tlo >= TRASH_CAP) {
		pthread_mutex_unlock(&p->mu);
		return -EAGAIN;
	}
	name_of(p, path, sizeof(path), 't', p->thi);
	if ((move ? rename(victim, path) : link(victim, path)) == 0) {
		p->ttime[p->thi % TRASH_CAP] = time(NULL);
		if (p->thi++ == p->tlo)
			pthread_cond_signal(&p->cv);
	} else {
		err = -errno;
	}
	pthread_mutex_unlock(&p->mu);
	return err;
}

int store_pool_fresh(struct store *st, char *path, size_t sz, unsigned long *n)
{
	struct store_pool *p = st->pool;
	int fd;

	*n = 0;
	if (!p)
		return -EAGAIN;
	pthread_mutex_lock(&p->mu);
	*n = ++p->held;
	pthread_mutex_unlock(&p->mu);
	name_of(p, path, sz, 'h', *n);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		*n = 0;
	return fd < 0 ? -errno : fd;
}

void store_pool_unhold(struct store *st, unsigned long n)
{
	struct store_pool *p = st->pool;
	char name[4400];

	if (!p || !n)
		return;
	name_of(p, name, sizeof(name), 'h', n);
	unlink(name); /* the lock's inode lives on as the ref, or is gone */
}
