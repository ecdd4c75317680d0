/* odbread.c - an object's bytes read from the object database's backends
 * themselves, without libgit2's object cache. For callers that keep their
 * own copy (the tree memo, the commit chain's walk) the cache's would be
 * a second one, and would push out what others read through it. */
#include <git2.h>
#include <git2/sys/odb_backend.h>

#include "store_int.h"
#include "banned.h"

int store_odb_read_raw(git_odb *odb, const git_oid *id, void **data,
		       size_t *len, git_object_t *type, git_odb_backend **be)
{
	size_t n = git_odb_num_backends(odb);
	int rc = GIT_ENOTFOUND;

	/* In the odb's order (by priority); a backend that leaves an
	 * object to the next says GIT_PASSTHROUGH (packread.c). */
	for (size_t i = 0;
	     i < n && (rc == GIT_ENOTFOUND || rc == GIT_PASSTHROUGH); i++) {
		if (git_odb_get_backend(be, odb, i) < 0 || !(*be)->read)
			continue;
		rc = (*be)->read(data, len, type, *be, id);
	}
	return rc == GIT_PASSTHROUGH ? GIT_ENOTFOUND : rc;
}
