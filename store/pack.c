/* pack.c - keeping the repository compact: every PACK_EVERY commits the
 * store looks at the loose objects in a background thread, so no save
 * waits for it.
 *
 * Past LOOSE_KB of loose files (a save of a document in a big collection
 * writes a collection tree of tens of KiB; packed as a delta of its last
 * version it takes tens of bytes) or LOOSE_MIN of them, they are packed
 * as git's own incremental repack does: `git pack-objects --revs
 * --unpacked` walks from the branch tips to the tips it packed the last
 * time (kept in chronofs/packed-tips), so the cost follows the new
 * commits, not the history, and every object comes with its path: trees
 * and documents delta against their own earlier versions. Once the pack
 * is there, the loose files of the objects in it leave objects/, as git's
 * prune-packed unlinks them, but into the file pool's trash (pool.c): an
 * inode freed on ext4 makes later allocations slower (without a journal
 * it scans past every inode freed in the last minute), one reused costs
 * nothing. The group packs (grouppack.c) are packed again the same way,
 * with the loose objects: the walk from the last tips takes the objects
 * in packs too (with no tips yet, from the tips before the first group),
 * and the group packs whose objects are all in the new pack, or in
 * another, go to the trash too. A reader may hold a loose object's file
 * open (a backup, a slow clone, an mmap) for as long as it likes and must read that object's
 * bytes throughout: the pool empties a file only when the kernel grants
 * it a write lease, which it does only if no one else holds the file
 * open or mapped, and only if it has no other name. Then `git gc --auto`
 * does the rest git would do (merge packs past gc.autoPackLimit, expire
 * reflogs, and pack loose objects no branch reaches past gc.auto). Both
 * are safe beside our writers: objects are only removed once they are in
 * a pack, and gc prunes only objects unreachable for two weeks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define PACK_EVERY 64
/* Loose objects are packed once they take this much disk, or are this
 * many (git's gc.auto default); below both a pack costs more CPU (a git
 * process, a delta search) than the disk it saves. */
#define LOOSE_KB 4096
#define LOOSE_MIN 6700
/* At close, what a mount of a few saves left loose is packed past this
 * (a mount that packed while it saved packs all it left): a mount that
 * ends after a burst of saves leaves a compact repository. */
#define LOOSE_KB_AT_CLOSE 256
#define TIPS_MAX (1 << 20) /* bytes of branch tips read from git */
/* Checks (of PACK_EVERY commits) between looks when this process wrote
 * too little to pack (what a crash or another program left). */
#define LOOK_EVERY 64

extern char **environ;

/* The loose objects now: their ids, as "xx" + the file name, and the
 * disk they take. */
struct loose {
	char (*ids)[GIT_OID_HEXSZ + 1];
	size_t n, cap;
	unsigned long long kb;
};

static bool hex_name(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int store_loose_each(const char *gitdir,
		     int (*fn)(int dirfd, const char *name, const char *hex,
			       void *ctx),
		     void *ctx)
{
	char dir[4400], hex[GIT_OID_HEXSZ + 1];
	int rc = 0;

	for (int i = 0; i < 256 && rc == 0; i++) {
		DIR *d;
		struct dirent *e;

		snprintf(dir, sizeof(dir), "%s/objects/%02x", gitdir, i);
		if (!(d = opendir(dir)))
			continue;
		while (rc == 0 && (e = readdir(d)) != NULL) {
			if (!hex_name(e->d_name, GIT_OID_HEXSZ - 2))
				continue;
			snprintf(hex, sizeof(hex), "%02x%s", i, e->d_name);
			rc = fn(dirfd(d), e->d_name, hex, ctx);
		}
		closedir(d);
	}
	return rc;
}

static int add_loose(int dirfd, const char *name, const char *hex, void *ctx)
{
	struct loose *l = ctx;
	struct stat sb;

	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		l->kb += (unsigned long long)sb.st_blocks / 2;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		void *v = realloc(l->ids, cap * sizeof(*l->ids));

		if (!v)
			return -ENOMEM;
		l->ids = v;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], GIT_OID_HEXSZ + 1, "%s", hex);
	return 0;
}

static int list_loose(const char *gitdir, struct loose *l)
{
	return store_loose_each(gitdir, add_loose, l);
}

/* Start git ARGV (with --git-dir) with stdin from IN (or /dev/null),
 * stdout to OUT (or /dev/null) and stderr to /dev/null: 0 with *CHILD, or
 * -1. */
static int run_git(const char *const *argv, int in, int out, pid_t *child)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&fa);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&fa, in, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
						 0);
	if (out >= 0)
		posix_spawn_file_actions_adddup2(&fa, out, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
						 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, "git", &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	*child = pid;
	return 0;
}

static int wait_git(pid_t pid)
{
	int status = 0;

	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Up to MAX - 1 bytes of FD into BUF, NUL-terminated: their number, or
 * -1 (an error, or more than fits). */
static ssize_t read_all(int fd, char *buf, size_t max)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, max - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == max - 1)
			return -1;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Run git ARGV with LEN bytes of IN as its stdin; its stdout into OUT
 * (OUTMAX bytes at most). 0 if it succeeded. */
static int git_io(const char *const *argv, const char *in, size_t len,
		  char *out, size_t outmax)
{
	int sin[2], sout[2], rc = 0;
	pid_t pid;

	/* Sockets, not pipes: MSG_NOSIGNAL, so a git that dies early costs
	 * an error here, not a SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sin) < 0)
		return -errno;
	if (pipe2(sout, O_CLOEXEC) < 0) {
		rc = -errno;
		close(sin[0]), close(sin[1]);
		return rc;
	}
	rc = run_git(argv, sin[1], sout[1], &pid);
	close(sin[1]), close(sout[1]);
	if (rc < 0) {
		close(sin[0]), close(sout[0]);
		return -EIO;
	}
	/* Git reads all its input before it writes (a line or two). */
	for (size_t off = 0; off < len && rc == 0;) {
		ssize_t w = send(sin[0], in + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	close(sin[0]);
	if (read_all(sout[0], out, outmax) < 0 && rc == 0)
		rc = -EIO;
	close(sout[0]);
	if (wait_git(pid) != 0 && rc == 0)
		rc = -EIO;
	return rc;
}

/* The tips packed the last time, one id a line ("" if none). */
static void old_tips(struct store *st, char *buf, size_t max)
{
	char path[4300];
	int fd;

	snprintf(path, sizeof(path), "%s/chronofs/packed-tips", st->gitdir);
	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (read_all(fd, buf, max) < 0)
		buf[0] = '\0'; /* too many: walk it all once */
	close(fd);
}

static void save_tips(struct store *st, const char *tips)
{
	char path[4300], tmp[4400];
	int fd, err;

	snprintf(path, sizeof(path), "%s/chronofs/packed-tips", st->gitdir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	err = store_write_all(fd, tips, strlen(tips));
	if (close(fd) < 0 || err < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

/* Into IN: TIPS, then each line of OLD as "^id" (its size). */
static size_t with_old(char *in, const char *tips, const char *old)
{
	size_t n = (size_t)snprintf(in, TIPS_MAX, "%s", tips);

	for (const char *l = old, *e; *l; l = e + 1) {
		if (!(e = strchr(l, '\n')) ||
		    n + (size_t)(e - l) + 2 > 3 * TIPS_MAX)
			break;
		in[n++] = '^';
		memcpy(in + n, l, (size_t)(e - l + 1));
		n += (size_t)(e - l + 1);
	}
	return n;
}

/* pack_new's ARGV from [5] on, up to the pack's base name BASE. ALL:
 * every object of the new commits, from the tips packed last time, even
 * those in a pack already: what the group packs hold (grouppack.c) is
 * packed again with deltas, and an outside repack may have packed a
 * commit but not a tree a save was writing meanwhile. Else the walk of
 * git's incremental repack, from the tips alone: objects in no pack
 * (--incremental), the walk stopping at commits in packs (--unpacked). */
static void walk_args(const char **argv, const char *base, bool all)
{
	int i = 5;

	/* The group packs' objects are whole, stored: given them as they
	 * are, pack-objects copies most without looking for a delta. */
	argv[i++] = all ? "--no-reuse-object" : "--incremental";
	argv[i++] = "--delta-base-offset";
	argv[i++] = "--non-empty";
	argv[i++] = "--threads=1";
	if (!all)
		argv[i++] = "--unpacked";
	argv[i++] = base;
	argv[i] = NULL;
}

/* Pack the objects new since the last pack, each with its path: 0 once
 * the pack is in place (its name's hex in NAME), 1 if there was nothing
 * to pack, or -errno. *ALL: the walk took every object of the new
 * commits (walk_args). */
static int pack_new(struct store *st, char name[GIT_OID_HEXSZ + 1], bool *all)
{
	char dir[4200], base[4300], out[256];
	const char *refs[] = { "git", dir, "for-each-ref",
			       "--format=%(objectname)", NULL };
	/* One thread: git maps and unmaps each loose object, and in a
	 * process of several threads every unmap interrupts the other core
	 * to flush its TLB (a third of the packing's CPU); an incremental
	 * pack's delta search is small. */
	const char *argv[12] = { "git", dir, "pack-objects", "-q", "--revs" };
	char *tips = malloc(TIPS_MAX), *old = malloc(TIPS_MAX), *in = NULL;
	size_t n = 0;
	int rc;

	snprintf(dir, sizeof(dir), "--git-dir=%s", st->gitdir);
	snprintf(base, sizeof(base), "%s/objects/pack/pack", st->gitdir);
	if (!tips || !old || !(in = malloc(3 * TIPS_MAX))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = git_io(refs, "", 0, tips, TIPS_MAX);
	if (rc < 0)
		goto out;
	old_tips(st, old, TIPS_MAX);
	*all = false;
	if (old[0]) {
		walk_args(argv, base, true);
		n = with_old(in, tips, old);
		rc = git_io(argv, in, n, out, sizeof(out));
		*all = rc == 0;
	}
	/* The first round, or a tip packed last time is gone since (a gc
	 * pruned it): what the group packs hold, from the tips before the
	 * first group; then the rest not in a pack yet, from the tips alone
	 * (the walk stopping at commits in packs). */
	if (!old[0] || rc < 0) {
		char more[256] = "";

		out[0] = '\0';
		n = 0;
		pthread_mutex_lock(&st->pack_lock);
		if (st->group_base)
			n = with_old(in, tips, st->group_base);
		pthread_mutex_unlock(&st->pack_lock);
		rc = 0;
		if (n) {
			walk_args(argv, base, true);
			rc = git_io(argv, in, n, out, sizeof(out));
			*all = rc == 0;
		}
		walk_args(argv, base, false);
		if (rc == 0)
			rc = git_io(argv, tips, strlen(tips), more,
				    sizeof(more));
		if (rc == 0 && !out[0])
			memcpy(out, more, sizeof(out));
	}
	if (rc < 0)
		goto out;
	if (!out[0]) {
		rc = 1; /* nothing new */
		save_tips(st, tips);
		goto out;
	}
	if (strspn(out, "0123456789abcdef") != GIT_OID_HEXSZ) {
		rc = -EIO; /* no pack name */
		goto out;
	}
	memcpy(name, out, GIT_OID_HEXSZ);
	name[GIT_OID_HEXSZ] = '\0';
	if (st->fsync) {
		snprintf(base, sizeof(base), "%s/objects/pack", st->gitdir);
		rc = store_fsync_dir(base);
	}
	if (rc == 0)
		save_tips(st, tips);
out:
	free(in);
	free(old);
	free(tips);
	return rc;
}

/* Unlink the loose files of L's objects that are in a pack now (some
 * may have gone in a pack of an earlier round: written while it ran). */
static void drop_packed(struct store *st, const struct loose *l)
{
	char path[4400];
	git_odb_backend *be = NULL;
	git_odb *odb = NULL;
	git_oid id;

	snprintf(path, sizeof(path), "%s/objects", st->gitdir);
	if (git_odb_new(&odb) < 0)
		return;
	if (git_odb_backend_pack(&be, path) < 0 ||
	    git_odb_add_backend(odb, be, 1) < 0) {
		if (be)
			be->free(be);
		git_odb_free(odb);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (git_oid_fromstr(&id, l->ids[i]) < 0 ||
		    !git_odb_exists(odb, &id))
			continue;
		snprintf(path, sizeof(path), "%s/objects/%.2s/%s", st->gitdir,
			 l->ids[i], l->ids[i] + 2);
		if (store_pool_trash(st, path, true) < 0)
			unlink(path);
	}
	git_odb_free(odb);
}

/* Remove the empty objects/xx/ directories, as git's prune-packed does:
 * 256 of them take 1 MiB. A writer that finds its directory gone makes it
 * again (objwrite.c). */
static void drop_empty_dirs(struct store *st)
{
	char dir[4400];

	for (int i = 0; i < 256; i++) {
		snprintf(dir, sizeof(dir), "%s/objects/%02x", st->gitdir, i);
		rmdir(dir);
	}
}

/* Whether every object of group pack NAME is in pack NEWP, or in a pack
 * other than the N taken ones (a document saved back to an earlier
 * version: its blob was packed before). */
static bool covered(struct store *st, const char *dir, const char *name,
		    const struct store_pk *newp,
		    char (*taken)[GIT_OID_HEXSZ + 6], size_t n)
{
	struct store_pk *pk = store_pk_open(dir, name);
	bool ok = pk != NULL;

	for (uint32_t i = 0; ok && i < store_pk_count(pk); i++) {
		const unsigned char *id;
		uint32_t crc;
		uint64_t off, end;

		store_pk_entry(pk, i, &id, &crc, &off, &end);
		ok = store_pk_has(newp, (const git_oid *)id) ||
		     store_packread_has_besides(st, (const git_oid *)id, taken,
						n);
	}
	store_pk_close(pk);
	return ok;
}

/* The group packs TAKEN[0..N) after a packing round: unlinked where the
 * round's pack NAME (if ALL) covers them, else given back. */
static void drop_group_packs(struct store *st, char (*taken)[GIT_OID_HEXSZ + 6],
			     size_t n, const char *name, bool all)
{
	char dir[4300], base[GIT_OID_HEXSZ + 6];
	struct store_pk *newp = NULL;

	snprintf(dir, sizeof(dir), "%s/objects/pack", st->gitdir);
	snprintf(base, sizeof(base), "pack-%s", name);
	/* A gc lists packs before it reads them (gcrunning.c): the next
	 * round drops these. */
	if (all && name[0] && !store_gc_running(st))
		newp = store_pk_open(dir, base);
	/* Once: covered() asks the reader of every pack but the taken. */
	if (newp)
		store_packread_rescan(st);
	for (size_t i = 0; i < n; i++) {
		bool drop = newp && covered(st, dir, taken[i], newp, taken, n);

		if (drop)
			store_gpack_unlink(st, taken[i]);
		store_gpack_give_back(st, taken[i],
				      drop || store_gpack_gone(st, taken[i]));
	}
	store_pk_close(newp);
}

/* Pack the new objects once the loose ones and the group packs take
 * MIN_KB of disk (or the loose ones are LOOSE_MIN), and unlink the files
 * of those packed. */
static void pack_loose(struct store *st, unsigned long long min_kb)
{
	struct loose l = { 0 };
	char(*taken)[GIT_OID_HEXSZ + 6] = NULL, name[GIT_OID_HEXSZ + 1] = "";
	size_t ntaken = 0;
	bool all = false;
	int err;

	/* The new pack could lose its .idx to the gc (grouppack.c), and
	 * the objects it holds their loose files to us. */
	if (store_gc_running(st))
		return;
	err = list_loose(st->gitdir, &l);
	if (err == 0 && (l.n >= LOOSE_MIN ||
			 l.kb + store_gpack_bytes(st) / 1024 >= min_kb)) {
		/* Before the tips are read: every pack taken is of a group
		 * whose ref moved (or failed; its objects are garbage). */
		ntaken = store_gpack_take(st, &taken);
		if ((err = pack_new(st, name, &all)) >= 0 &&
		    !store_gc_running(st))
			drop_packed(st, &l);
		drop_group_packs(st, taken, ntaken, name, err == 0 && all);
	}
	if (err < 0 && st->log)
		st->log("background packing: new objects not packed; "
			"git gc --auto packs them instead");
	free(taken);
	free(l.ids);
}

void store_pack_seed_tips(struct store *st)
{
	char hex[GIT_OID_HEXSZ + 2];
	git_reference_iterator *it = NULL;
	git_reference *r;
	struct store_tb_buf b = { 0 };
	int err = 0;

	if (git_reference_iterator_new(&it, st->repo) < 0)
		return;
	while (err == 0 && git_reference_next(&r, it) == 0) {
		if (git_reference_type(r) == GIT_REFERENCE_DIRECT) {
			git_oid_tostr(hex, GIT_OID_HEXSZ + 1,
				      git_reference_target(r));
			hex[GIT_OID_HEXSZ] = '\n';
			err = store_tb_put(&b, hex, GIT_OID_HEXSZ + 1);
		}
		git_reference_free(r);
	}
	git_reference_iterator_free(it);
	if (err == 0 && store_tb_put(&b, "", 1) == 0 && b.len < TIPS_MAX) {
		pthread_mutex_lock(&st->pack_lock);
		free(st->group_base);
		st->group_base = b.p;
		b.p = NULL;
		pthread_mutex_unlock(&st->pack_lock);
	}
	free(b.p);
}

static void *pack_thread(void *arg)
{
	struct store *st = arg;
	char dir[4200], gc_auto[64], gc_packs[64];
	/* pack-refs would take the ref locks our saves compare-and-swap. */
	const char *argv[] = { "git",	  dir,
			       "-c",	  "gc.autoDetach=false",
			       "-c",	  "gc.packRefs=false",
			       "-c",	  gc_auto,
			       "-c",	  gc_packs,
			       "gc",	  "--auto",
			       "--quiet", NULL };
	bool closing;
	pid_t pid;
	int rc;

	/* Saves first; git inherits this thread's priority. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	pack_loose(st, LOOSE_KB);
	pthread_mutex_lock(&st->pack_lock);
	closing = st->closing;
	pthread_mutex_unlock(&st->pack_lock);
	/* An unmount waits for this thread: git's upkeep waits for the
	 * next mount instead. */
	if (!closing) {
		/* git counts every loose object toward gc.auto, ours written
		 * since this round began too (thousands a second in a
		 * burst), and its repack would pack them without their paths
		 * and unlink them past the file pool. They are the next
		 * round's: git's threshold applies to what is loose beyond
		 * them (twice their number: git estimates the count from one
		 * objects/xx/ of 256). */
		unsigned long mine = atomic_load(&st->loose_new_n);
		long limit = st->gc_auto < 0 ? LOOSE_MIN : st->gc_auto;

		snprintf(gc_auto, sizeof(gc_auto), "gc.auto=%lu",
			 limit > 0 ? (unsigned long)limit + 2 * mine : 0);
		/* Nor do the group packs count toward gc.autoPackLimit:
		 * they are the next round's, and git's full repack would
		 * copy their whole objects as they are, without deltas. */
		limit = st->gc_pack_limit < 0 ? 50 : st->gc_pack_limit;
		snprintf(gc_packs, sizeof(gc_packs), "gc.autoPackLimit=%lu",
			 limit > 0 ? (unsigned long)limit +
					     store_gpack_count(st) + 8 :
				     0);
		snprintf(dir, sizeof(dir), "--git-dir=%s", st->gitdir);
		rc = run_git(argv, -1, -1, &pid);
		if (rc == 0)
			rc = wait_git(pid);
		if (st->log && rc != 0)
			st->log(rc < 0 ? "background packing: cannot run git" :
					 "background packing: git gc --auto "
					 "failed");
	}
	pthread_mutex_lock(&st->pack_lock);
	st->packing = false;
	pthread_mutex_unlock(&st->pack_lock);
	return NULL;
}

/* Every PACK_EVERY commits: whether the packing thread should look. It
 * lists every loose file (an fstatat each, thousands when saves outrun
 * the packing), so only when this process's own writes since the last
 * look could reach LOOSE_MIN or LOOSE_KB, or every LOOK_EVERY checks
 * (objects other programs wrote; git gc --auto's upkeep). */
static bool due(struct store *st)
{
	/* The first check looks, and every LOOK_EVERY-th after a look. */
	return st->looks_skipped++ % LOOK_EVERY == 0 ||
	       atomic_load(&st->loose_new_n) >= LOOSE_MIN ||
	       atomic_load(&st->loose_new_kb) >= LOOSE_KB;
}

void store_pack_note_commit(struct store *st)
{
	bool start = false;

	pthread_mutex_lock(&st->pack_lock);
	if (++st->commits_since_pack >= PACK_EVERY) {
		st->commits_since_pack = 0;
		start = !st->packing && !st->closing && due(st);
	}
	if (start) {
		st->looks_skipped = 1;
		atomic_store(&st->loose_new_n, 0);
		atomic_store(&st->loose_new_kb, 0);
		if (st->pack_started)
			pthread_join(st->pack_tid, NULL);
		st->packing = true;
	}
	pthread_mutex_unlock(&st->pack_lock);
	if (start && pthread_create(&st->pack_tid, NULL, pack_thread, st) != 0)
		st->packing = false;
	else if (start)
		st->pack_started = true;
}

void store_pack_wait(struct store *st)
{
	bool wrote, burst;

	pthread_mutex_lock(&st->pack_lock);
	st->closing = true;
	wrote = st->pack_started || st->commits_since_pack > 0;
	/* A mount that packed while it saved leaves nothing loose; one of
	 * a few saves leaves them below LOOSE_KB_AT_CLOSE (no tiny pack). */
	burst = st->pack_started;
	pthread_mutex_unlock(&st->pack_lock);
	if (st->pack_started)
		pthread_join(st->pack_tid, NULL);
	st->pack_started = false;
	if (wrote && st->gitdir) {
		pack_loose(st, burst ? 1 : LOOSE_KB_AT_CLOSE);
		drop_empty_dirs(st);
	}
}
