/* testrepo.h - what the unit tests on a real repository share: a fresh
 * store in a temporary directory, and commits made as an outside `git
 * commit` makes them (through libgit2, not the store's save path). */
#ifndef CHRONOFS_TEST_TESTREPO_H
#define CHRONOFS_TEST_TESTREPO_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct testrepo_put {
	const char *path; /* git path */
	const char *data; /* NULL: removed */
	/* 0: a plain blob; GIT_FILEMODE_COMMIT: a submodule, DATA its
	 * commit's hex id; any other: a blob of that mode. */
	unsigned mode;
};

/* A new repository in DIR (a mkdtemp(3) template, filled in here),
 * opened with OPTS (NULL: the defaults): 0 and *OUT, or -1 with the
 * reason on stderr. */
int testrepo_open(struct store **out, char *dir, const struct store_opts *opts);
/* Close ST (NULL: none open) and remove DIR with all in it. */
void testrepo_close(struct store *st, const char *dir);
/* A commit in ST's repository on PARENT (NULL: a root commit) with the
 * N PUTS applied, committed at TIME (UTC offset TZ minutes): 0 and *OUT,
 * or libgit2's error (its message in git_error_last()) and *OUT zero. */
int testrepo_commit(struct store *st, struct store_oid *out,
		    const struct store_oid *parent, int64_t time, int tz,
		    const struct testrepo_put *puts, size_t n);

/* Branch NAME set to commit C (made or moved): 0, or libgit2's error. */
int testrepo_branch(struct store *st, const char *name,
		    const struct store_oid *c);

#endif
