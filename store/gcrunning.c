/* gcrunning.c - whether a git gc runs beside us.
 *
 * git gc holds GITDIR/gc.pid ("PID HOST") while it runs. Its pack-objects
 * lists the packs first and opens their indexes later, and fails ("unable
 * to add recent objects") if one went away in between: so a group pack
 * merged into another, or packed again, stays where it is while a gc runs,
 * for a later round to drop. A gc.pid older than 12 hours, or of a process
 * of this host that is gone, is stale, as git itself decides. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
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
	char path[4200], host[128] = "", mine[128] = "";
	uintmax_t pid = 0;
	struct stat sb;
	bool running;
	FILE *f;

	snprintf(path, sizeof(path), "%s/gc.pid", st->gitdir);
	if (!(f = fopen(path, "re")))
		return false; /* the common case: one failed open */
	running = fstat(fileno(f), &sb) == 0 &&
		  time(NULL) - sb.st_mtime <= STALE_SECONDS;
	if (running && fscanf(f, "%" SCNuMAX " %127[^\n]", &pid, host) == 2) {
		if (gethostname(mine, sizeof(mine) - 1) != 0)
			mine[0] = '\0';
		running = strcmp(host, mine) != 0 || kill((pid_t)pid, 0) == 0 ||
			  errno == EPERM;
	}
	fclose(f);
	return running;
}
