/* ctl_merge.c - chronofsctl merge and diff, on the library's one merge
 * engine. */
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

int cmd_merge(int argc, char **argv)
{
	const char *pos[3], *msg = NULL;
	chronofs_merge_result r;
	unsigned flags = 0;
	chronofs *db;
	int npos = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--squash"))
			flags |= CHRONOFS_MERGE_SQUASH;
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			msg = argv[++i];
		else if (argv[i][0] == '-' || npos == 3)
			return -1;
		else
			pos[npos++] = argv[i];
	}
	if (npos != 3)
		return -1;
	if (ctl_open_repo(&db, pos[0]))
		return 1;
	err = chronofs_merge(db, pos[1], pos[2], msg, flags, &r);
	if (err < 0) {
		err = ctl_fail(db, err);
	} else if (!r.commit[0]) {
		printf("%s: already up to date with %s\n", pos[2], pos[1]);
	} else if (r.fast_forward) {
		printf("%s: fast-forward to %s\n", pos[2], r.commit);
	} else {
		printf("%s: %s %s as %s, %zu conflict%s%s\n", pos[2],
		       flags ? "squashed" : "merged", pos[1], r.commit,
		       r.conflicts, r.conflicts == 1 ? "" : "s",
		       r.unrelated ? " (no common history: merged against "
				     "an empty base)" :
				     "");
	}
	chronofs_close(db);
	return err;
}

int cmd_diff(int argc, char **argv)
{
	chronofs_diff *d = NULL;
	const char *line;
	chronofs *db;
	size_t len;
	int err;

	if (argc != 4 && argc != 5)
		return -1;
	if (ctl_open_repo(&db, argv[1]))
		return 1;
	err = chronofs_diff_open(&d, db, argv[2], argv[3],
				 argc == 5 ? argv[4] : NULL);
	if (err == 0)
		while ((err = chronofs_diff_next(d, &line, &len)) == 1)
			printf("%.*s\n", (int)len, line);
	err = err < 0 ? ctl_fail(db, err) : 0;
	chronofs_diff_free(d);
	chronofs_close(db);
	return err;
}
