/* error.c - the one place where libgit2 errors become -errno codes.
 * The message of the last failure is kept per thread. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <git2.h>

#include "store_int.h"

static _Thread_local char errmsg[512];

const char *store_errmsg(void)
{
	return errmsg;
}

int store_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int store_git_fail(int gerr, const char *what)
{
	const git_error *e = git_error_last();
	int err;

	switch (gerr) {
	case GIT_ENOTFOUND:
		err = -ENOENT;
		break;
	case GIT_EEXISTS:
		err = -EEXIST;
		break;
	case GIT_EINVALIDSPEC:
	case GIT_EINVALID:
		err = -EINVAL;
		break;
	case GIT_ELOCKED:
	case GIT_EMODIFIED:
		err = -EAGAIN;
		break;
	case GIT_EBUFS:
		err = -ENOBUFS;
		break;
	default:
		err = -EIO;
		break;
	}
	return store_fail(err, "%s: %s", what,
			  e && e->message ? e->message : "libgit2 error");
}
