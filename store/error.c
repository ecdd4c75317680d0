/* error.c - the one error record of the core: set where a failure happens
 * (store/ and index/ both write it), cleared at each public entry point of
 * libchronofs, read by one call. Also the one place where libgit2 errors
 * become -errno codes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <git2.h>

#include "store_int.h"
#include "banned.h"

static _Thread_local char errmsg[1024];

const char *store_errmsg(void)
{
	return errmsg;
}

void store_error_clear(void)
{
	errmsg[0] = '\0';
}

int store_fail(int err, const char *fmt, ...)
{
	char buf[sizeof(errmsg)];
	va_list ap;

	/* Formatted aside: a message may quote the previous one. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(errmsg, buf, sizeof(errmsg));
	return err;
}

/* libgit2 keeps no errno, only its text in an OS error's message: a
 * full disk or quota is told to the writer as such (it may free space
 * and retry), everything else is EIO. */
static int os_errno(const git_error *e)
{
	static const int kept[] = { ENOSPC, EDQUOT, EROFS };

	if (!e || e->klass != GIT_ERROR_OS || !e->message)
		return -EIO;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strstr(e->message, strerror(kept[i])))
			return -kept[i];
	return -EIO;
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
		err = os_errno(e);
		break;
	}
	return store_fail(err, "%s: %s", what,
			  e && e->message ? e->message : "libgit2 error");
}
