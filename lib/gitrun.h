/* gitrun.h - the git command as a child process (lib/gitrun.c). Private
 * to lib/. */
#ifndef CHRONOFS_LIB_GITRUN_H
#define CHRONOFS_LIB_GITRUN_H

#include <stdbool.h>
#include <stddef.h>

struct git_run {
	char *out, *err; /* stdout and stderr, NUL-terminated (or NULL) */
	size_t outlen, errlen;
	int status; /* exit status, or 128 + signal */
};

/* git -c gc.auto=0 -c maintenance.auto=false [--git-dir=GITDIR] ARGS...
 * (ARGS NULL-terminated, ARGS[0] the subcommand): 0 if it ran (R->status
 * says how it ended; R is the caller's: git_run_free), else -errno with
 * the error record set: -ECANCELED once *STOP (may be NULL) is true (the
 * child killed), -ETIMEDOUT if it was silent too long. */
int git_run(const char *gitdir, const char *const *args,
	    const _Atomic bool *stop, struct git_run *r);
void git_run_free(struct git_run *r);
/* Git's own words on a failure: the last lines of its stderr, on one line
 * (borrowed from R, which it rewrites). */
const char *git_words(struct git_run *r);

#endif
