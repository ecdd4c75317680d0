/* pack.c - keeping the repository compact: every PACK_EVERY commits the
 * store runs `git gc --auto` in a background thread, so loose objects are
 * packed past git's own threshold (gc.auto, 6700 by default) without a
 * save ever waiting for it. gc is safe beside our writers: it packs and
 * prunes only objects already packed or unreachable for two weeks. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "store_int.h"

#define PACK_EVERY 256

extern char **environ;

static void *pack_thread(void *arg)
{
	struct store *st = arg;
	char dir[4200];
	/* pack-refs would take the ref locks our saves compare-and-swap. */
	char *argv[] = {"git", dir, "-c", "gc.autoDetach=false", "-c",
			"gc.packRefs=false", "gc", "--auto", "--quiet", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0, rc;

	snprintf(dir, sizeof(dir), "--git-dir=%s", st->gitdir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, "git", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc == 0 && waitpid(pid, &status, 0) < 0)
		rc = errno;
	if (st->log && (rc || !WIFEXITED(status) || WEXITSTATUS(status)))
		st->log(rc ? "background packing: cannot run git"
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
