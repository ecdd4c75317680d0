/* ctl_check.c - chronofsctl status and fsck: a repository's branches,
 * index state and mounts; the indexes checked against Git. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chronofs.h"
#include "ctl.h"
#include "banned.h"

/* The mountpoints of REPO: /proc/self/mountinfo's fuse.chronofs entries
 * whose source (the daemon's fsname) is REPO's absolute path. Each
 * mountpoint is printed by CB. */
static int mounts_of(const char *repo, void (*cb)(const char *mnt))
{
	char *abs = realpath(repo, NULL), line[8192];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int n = 0;

	while (abs && f && fgets(line, sizeof(line), f)) {
		char mnt[4096], type[256], source[4096];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%255s %4095s", type, source) != 2)
			continue;
		if (!strcmp(type, "fuse.chronofs") && !strcmp(source, abs)) {
			cb(mnt);
			n++;
		}
	}
	if (f)
		fclose(f);
	free(abs);
	return n;
}

static void print_mount(const char *mnt)
{
	char path[4200], line[2048];
	FILE *log;
	int shown = 0;

	printf("mounted on %s\n", mnt);
	/* The mount's recent refusals, if it keeps them (@log). */
	snprintf(path, sizeof(path), "%s/@log", mnt);
	if (!(log = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), log) && shown < 10) {
		printf("  %s", line);
		shown++;
	}
	fclose(log);
}

int cmd_status(int argc, char **argv)
{
	char head[CHRONOFS_COMMIT_HEXSZ + 1], ix[CHRONOFS_COMMIT_HEXSZ + 1];
	char **names = NULL;
	size_t n = 0;
	chronofs *db;
	int err;

	if (argc != 2)
		return -1;
	if (ctl_open_repo(&db, argv[1]))
		return 1;
	err = chronofs_branches(db, &names, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		if ((err = chronofs_head(db, names[i], head)) < 0)
			break;
		if (chronofs_index_head(db, names[i], ix) < 0)
			snprintf(ix, sizeof(ix), "?");
		printf("branch %s: head %.12s, index %s\n", names[i], head,
		       !ix[0]		 ? "not built yet" :
		       !strcmp(ix, head) ? "at the head" :
					   "behind (a mount or the next "
					   "call catches it up)");
	}
	chronofs_strings_free(names, n);
	if (err < 0) {
		err = ctl_fail(db, err);
	} else if (mounts_of(argv[1], print_mount) == 0) {
		printf("not mounted\n");
	}
	chronofs_close(db);
	return err;
}

static void print_problem(void *ctx, const char *problem)
{
	(void)ctx;
	printf("%s\n", problem);
}

int cmd_fsck(int argc, char **argv)
{
	int repair = argc == 3 && !strcmp(argv[2], "--repair");
	size_t problems = 0, left = 0;
	chronofs *db;
	int err;

	if (argc != 2 && !repair)
		return -1;
	if (ctl_open_repo(&db, argv[1]))
		return 1;
	err = chronofs_fsck(db, repair, print_problem, NULL, &problems);
	if (err == 0 && repair && problems)
		err = chronofs_fsck(db, 0, NULL, NULL, &left);
	if (err < 0) {
		err = ctl_fail(db, err);
	} else {
		printf("%zu problem%s%s\n", problems, problems == 1 ? "" : "s",
		       !repair || !problems ? "" :
		       left		    ? ", not all repaired" :
					      ", repaired");
		err = problems ? 1 : 0;
	}
	chronofs_close(db);
	return err;
}
