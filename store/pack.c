/* pack.c - keeping the repository compact: every PACK_EVERY commits the
 * store packs in a background thread, so no save waits for it.
 *
 * First the loose objects are packed as they are: their ids go to `git
 * pack-objects` (no history walk: the cost follows the number of loose
 * objects, not the size of the history; trees of one collection delta
 * well against each other), and once the pack is there the loose files
 * are not unlinked but moved to the file pool's trash (pool.c), to come
 * back as the empty files later saves write: an inode freed on ext4 makes
 * the next allocations slower, one reused costs nothing. Then `git gc
 * --auto` does the rest git would do (merge packs past gc.autoPackLimit,
 * expire reflogs, and pack loose objects itself past gc.auto if the first
 * step could not). Both are safe beside our writers: objects are only
 * removed once they are in a pack, and gc prunes only objects unreachable
 * for two weeks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define PACK_EVERY 256
/* Fewer loose objects than this stay loose (git's gc.auto default): a
 * pack costs CPU (delta search, compression) that saves on a small
 * machine feel, so it is done in big batches, as git does. */
#define LOOSE_MIN 6700

extern char **environ;

/* The loose objects now: their ids, as "xx" + the file name. */
struct loose {
	char (*ids)[GIT_OID_HEXSZ + 1];
	size_t n, cap;
};

static bool hex_name(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int list_loose(const char *gitdir, struct loose *l)
{
	char dir[4400];

	for (int i = 0; i < 256; i++) {
		DIR *d;
		struct dirent *e;

		snprintf(dir, sizeof(dir), "%s/objects/%02x", gitdir, i);
		if (!(d = opendir(dir)))
			continue;
		while ((e = readdir(d)) != NULL) {
			if (!hex_name(e->d_name, GIT_OID_HEXSZ - 2))
				continue;
			if (l->n == l->cap) {
				size_t cap = l->cap ? l->cap * 2 : 1024;
				void *v = realloc(l->ids, cap * sizeof(*l->ids));

				if (!v) {
					closedir(d);
					return -ENOMEM;
				}
				l->ids = v;
				l->cap = cap;
			}
			snprintf(l->ids[l->n++], GIT_OID_HEXSZ + 1, "%02x%s", i,
				 e->d_name);
		}
		closedir(d);
	}
	return 0;
}

/* Run git ARGV (with --git-dir) with stdin from IN (or /dev/null) and
 * the rest to /dev/null; its exit status, or -1. */
static int run_git(const char *const *argv, int in, pid_t *child)
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
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, "git", &fa, NULL, (char *const *)argv,
			  environ);
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

/* Pack L's objects into a new pack: 0 once it is in place. */
static int pack_ids(struct store *st, const struct loose *l)
{
	char dir[4200], base[4300];
	const char *argv[] = {"git", dir, "pack-objects", "-q",
			      "--delta-base-offset", "--non-empty", base, NULL};
	int sv[2], rc = 0;
	pid_t pid;

	snprintf(dir, sizeof(dir), "--git-dir=%s", st->gitdir);
	snprintf(base, sizeof(base), "%s/objects/pack/pack", st->gitdir);
	/* A socket, not a pipe: MSG_NOSIGNAL, so a git that dies early
	 * costs an error here, not a SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (run_git(argv, sv[1], &pid) < 0) {
		close(sv[0]), close(sv[1]);
		return -EIO;
	}
	close(sv[1]);
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		char line[GIT_OID_HEXSZ + 2];
		size_t len = (size_t)snprintf(line, sizeof(line), "%s\n",
					      l->ids[i]);

		for (size_t off = 0; off < len && rc == 0;) {
			ssize_t w = send(sv[0], line + off, len - off,
					 MSG_NOSIGNAL);

			if (w < 0 && errno != EINTR)
				rc = -errno;
			else if (w > 0)
				off += (size_t)w;
		}
	}
	close(sv[0]);
	if (wait_git(pid) != 0 && rc == 0)
		rc = -EIO;
	if (rc == 0 && st->fsync) {
		snprintf(base, sizeof(base), "%s/objects/pack", st->gitdir);
		rc = store_fsync_dir(base);
	}
	return rc;
}

/* Pack the loose objects and give their files to the pool. */
static void pack_loose(struct store *st)
{
	struct loose l = {0};
	char path[4400];
	int err = list_loose(st->gitdir, &l);

	if (err == 0 && l.n >= LOOSE_MIN && (err = pack_ids(st, &l)) == 0)
		for (size_t i = 0; i < l.n; i++) {
			snprintf(path, sizeof(path), "%s/objects/%.2s/%s",
				 st->gitdir, l.ids[i], l.ids[i] + 2);
			if (store_pool_trash(st, path, true) < 0)
				unlink(path);
		}
	if (err < 0 && st->log)
		st->log("background packing: loose objects not packed by id; "
			"git gc --auto packs them instead");
	free(l.ids);
}

static void *pack_thread(void *arg)
{
	struct store *st = arg;
	char dir[4200];
	/* pack-refs would take the ref locks our saves compare-and-swap. */
	const char *argv[] = {"git", dir, "-c", "gc.autoDetach=false", "-c",
			      "gc.packRefs=false", "gc", "--auto", "--quiet",
			      NULL};
	pid_t pid;
	int rc;

	/* Saves first; git inherits this thread's priority. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	pack_loose(st);
	snprintf(dir, sizeof(dir), "--git-dir=%s", st->gitdir);
	rc = run_git(argv, -1, &pid);
	if (rc == 0)
		rc = wait_git(pid);
	if (st->log && rc != 0)
		st->log(rc < 0 ? "background packing: cannot run git"
			       : "background packing: git gc --auto failed");
	pthread_mutex_lock(&st->pack_lock);
	st->packing = false;
	pthread_mutex_unlock(&st->pack_lock);
	return NULL;
}

void store_pack_note_commit(struct store *st)
{
	bool start = false;

	pthread_mutex_lock(&st->pack_lock);
	if (++st->commits_since_pack >= PACK_EVERY && !st->packing &&
	    !st->closing) {
		st->commits_since_pack = 0;
		if (st->pack_started)
			pthread_join(st->pack_tid, NULL);
		st->packing = start = true;
	}
	pthread_mutex_unlock(&st->pack_lock);
	if (start && pthread_create(&st->pack_tid, NULL, pack_thread, st) != 0)
		st->packing = false;
	else if (start)
		st->pack_started = true;
}

void store_pack_wait(struct store *st)
{
	pthread_mutex_lock(&st->pack_lock);
	st->closing = true;
	pthread_mutex_unlock(&st->pack_lock);
	if (st->pack_started)
		pthread_join(st->pack_tid, NULL);
	st->pack_started = false;
}
