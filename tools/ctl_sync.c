/* ctl_sync.c - `chronofsctl clone URL REPO` and `chronofsctl sync REPO
 * [REMOTE]`: one round by hand, one line per branch saying what it did.
 * Exit 1 if the remote could not be reached (nothing changed here) or a
 * branch failed. */
#include <stdio.h>
#include <string.h>

#include "chronofs.h"
#include "ctl.h"
#include "ctl_sync.h"
#include "banned.h"

int ctl_clone(int argc, char **argv)
{
	int err;

	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		return -1;
	err = chronofs_clone(argv[1], argv[2]);
	if (err < 0)
		return ctl_fail(NULL, err);
	printf("cloned %s into %s (bare, remote origin)\n", argv[1], argv[2]);
	return 0;
}

/* "fast-forward, pushed" and such: what DONE says, in words. */
static void print_branch(const chronofs_sync_branch *b)
{
	const char *sep = "";

	printf("%s: ", b->name);
	if (!b->done)
		printf("nothing");
	if (b->done & CHRONOFS_SYNC_CREATED)
		printf("%snew from the remote", sep), sep = ", ";
	if (b->done & CHRONOFS_SYNC_FAST_FORWARD)
		printf("%sfast-forward", sep), sep = ", ";
	if (b->done & CHRONOFS_SYNC_MERGED)
		printf("%smerged with %zu conflict%s", sep, b->conflicts,
		       b->conflicts == 1 ? "" : "s"),
			sep = ", ";
	if (b->done & CHRONOFS_SYNC_PUSHED)
		printf("%spushed", sep), sep = ", ";
	if (b->done & CHRONOFS_SYNC_DELETED)
		printf("%sdeleted (deleted on the remote)", sep), sep = ", ";
	if (b->done & CHRONOFS_SYNC_DELETED_REMOTE)
		printf("%sdeleted on the remote", sep), sep = ", ";
	if (b->done & CHRONOFS_SYNC_KEPT)
		printf("%skept", sep), sep = ", ";
	if (b->done & CHRONOFS_SYNC_FAILED)
		printf("%sfailed", sep);
	if (b->message)
		printf(": %s", b->message);
	if (b->ahead || b->behind)
		printf(" (%zu ahead, %zu behind)", b->ahead, b->behind);
	printf("\n");
}

int ctl_sync(int argc, char **argv)
{
	const char *remote = argc > 2 ? argv[2] : "origin";
	chronofs_sync_result *r;
	chronofs *db;
	int err;

	if (argc < 2 || argc > 3)
		return -1;
	err = chronofs_open(&db, argv[1], NULL);
	if (err < 0)
		return ctl_fail(NULL, err);
	err = chronofs_sync(db, remote, &r);
	if (err < 0) {
		err = ctl_fail(db, err);
		chronofs_close(db);
		return err;
	}
	for (size_t i = 0; i < r->n; i++)
		print_branch(&r->v[i]);
	if (r->failed)
		fprintf(stderr,
			"chronofsctl: sync with %s: %zu branch%s "
			"failed\n",
			remote, r->failed, r->failed == 1 ? "" : "es");
	err = r->failed ? 1 : 0;
	chronofs_sync_result_free(r);
	chronofs_close(db);
	return err;
}
