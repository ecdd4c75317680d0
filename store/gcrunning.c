/* gcrunning.c - whether a git gc runs beside us.
 *
 * git gc holds GITDIR/gc.pid ("PID HOST") while it runs. Its pack-objects
 * lists the packs first and opens their indexes later, and fails ("unable
 * to add recent objects") if one went away in between: so a group pack
 * merged into another, or packed again, stays where it is while a gc runs,
 * for a later round to drop. A gc.pid older than 12 hours, or of a process
 * of this host that is gone, is stale, as git itself decides. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define STALE_SECONDS (12 * 3600)

bool store_gc_running(const struct store *st)
{
	char path[4200], buf[256], mine[128] = "", *host;
	struct stat sb;
	unsigned long long pid;
	bool running;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/gc.pid", st->gitdir);
	/* The common case, once a group: one failed open, no allocation. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	running = fstat(fd, &sb) == 0 &&
		  time(NULL) - sb.st_mtime <= STALE_SECONDS;
	n = running ? read(fd, buf, sizeof(buf) - 1) : -1;
	close(fd);
	/* git writes it whole (a lock file renamed): one it cannot read
	 * it takes for no gc, and so do we. */
	if (n <= 0)
		return false;
	buf[n] = '\0';
	errno = 0;
	pid = strtoull(buf, &host, 10);
	if (errno || host == buf || *host != ' ')
		return false;
	host[strcspn(host, "\n")] = '\0';
	if (gethostname(mine, sizeof(mine) - 1) != 0)
		mine[0] = '\0';
	/* Another host's gc: nothing tells whether it lives. */
	if (strcmp(host + 1, mine) != 0)
		return true;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}
