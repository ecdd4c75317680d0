/* test_pool.c - the pool's thread unlinks the names of taken files in a
 * batch once saves release them (pool.c), however far behind it falls.
 *
 * One file is taken and held while thousands more are taken and
 * released (a save stalled while the others go on, the thread starved
 * meanwhile); then it is released too. Its name and every other must be
 * unlinked by the thread: the backlog of taken names comes back to 0.
 * It did not when the released tickets were kept in a ring of 1,024: a
 * release past it unlinked its own name, and the thread, stopped at that
 * ticket for good, left every later save to unlink its own (and the
 * stop to try each name). */
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "store_int.h"
#include "testrepo.h"

#define TAKEN 3000

/* Take a pool file (waiting for the thread to make more when the pool
 * ran dry): its ticket; the test fails if none comes within 10 s. */
static unsigned long take(struct store *st, char *path, size_t sz)
{
	unsigned long ticket = 0;
	int fd = -1;

	for (int tries = 0; tries < 20000; tries++) {
		if (store_pool_take(st, path, sz, &ticket, &fd) == 0) {
			if (fd >= 0)
				close(fd);
			return ticket;
		}
		usleep(500);
	}
	CHECK(0, "no pool file within 10 s");
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/chronofs-pool-XXXXXX", path[4400], first[4400];
	struct store *st;
	unsigned long held, ticket;
	int waited = 0;

	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	store_prepare_writes(st);
	held = take(st, first, sizeof(first));
	for (int i = 0; i < TAKEN && !failures; i++) {
		ticket = take(st, path, sizeof(path));
		store_pool_release(st, ticket);
	}
	CHECK(store_pool_backlog(st) > 1024,
	      "the thread held back behind the held file: backlog %lu",
	      store_pool_backlog(st));
	store_pool_release(st, held);
	/* Released names are unlinked within IDLE_UNLINK_S of the last. */
	while (store_pool_backlog(st) && waited++ < 100)
		usleep(100000);
	CHECK(store_pool_backlog(st) == 0,
	      "every taken name unlinked by the thread: %lu left",
	      store_pool_backlog(st));
	CHECK(access(first, F_OK) < 0, "the held file's name unlinked: %s",
	      first);
	CHECK(access(path, F_OK) < 0, "the last file's name unlinked: %s",
	      path);
	testrepo_close(st, dir);
	return failures != 0;
}
