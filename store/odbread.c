/* odbread.c - around libgit2's object cache: an object's bytes read from
 * the object database's backends themselves, for callers that keep their
 * own copy (the tree memo, the commit chain's walk), where the cache's
 * would be a second one and push out what others read through it; and
 * the cache emptied when what it holds is history (after a reshard). */
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

int store_odb_read_header_raw(git_odb *odb, const git_oid *id, size_t *len,
			      git_object_t *type)
{
	size_t n = git_odb_num_backends(odb);
	git_odb_backend *be;

	for (size_t i = 0; i < n; i++) {
		int rc;

		if (git_odb_get_backend(&be, odb, i) < 0 || !be->read_header)
			continue;
		rc = be->read_header(len, type, be, id);
		if (rc != GIT_ENOTFOUND && rc != GIT_PASSTHROUGH)
			return rc;
	}
	return GIT_ENOTFOUND;
}

void store_cache_drop_all(struct store *st, const git_oid *id)
{
	git_object *o = NULL;

	/* libgit2 cannot drop one object from its cache; with caching off,
	 * the next object it would keep clears the cache instead. */
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
	if (git_object_lookup(&o, st->repo, id, GIT_OBJECT_ANY) == 0)
		git_object_free(o);
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 1);
}
