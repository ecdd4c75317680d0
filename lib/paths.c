/* paths.c - the SPEC's path rules, decided here for the library, the
 * daemon and the tool: what is a document, what is reserved, and what may
 * be committed at all (Git's fsck rules included: no "..", no empty or
 * "."-leading component, no absolute path). */
#include <limits.h>

#include "lib_int.h"
#include "banned.h"

bool cfs_is_document_path(const char *path)
{
	return store_is_document_path(path);
}

bool cfs_name_reserved(const char *name)
{
	return name[0] == '@';
}

int cfs_path_check(const char *path)
{
	const char *p = path;
	size_t depth = 0;

	if (!*path)
		return store_fail(-EINVAL, "empty document path");
	if (*path == '/')
		return store_fail(-EINVAL,
				  "%s: document paths are relative to "
				  "the branch",
				  path);
	for (;;) {
		size_t len = strcspn(p, "/");

		if (len == 0)
			return store_fail(-EINVAL, "%s: empty path component",
					  path);
		if (p[0] == '.')
			return store_fail(-EINVAL,
					  "%s: a component begins "
					  "with '.' (a scratch name, never "
					  "committed)",
					  path);
		if (cfs_name_reserved(p))
			return store_fail(-EINVAL,
					  "%s: names beginning with "
					  "'@' are reserved",
					  path);
		if (len > NAME_MAX)
			return store_fail(-ENAMETOOLONG,
					  "%s: a component is "
					  "over %d bytes",
					  path, NAME_MAX);
		if (++depth > CFS_MAX_DEPTH)
			return store_fail(-ENAMETOOLONG,
					  "%.200s...: deeper "
					  "than %d components",
					  path, CFS_MAX_DEPTH);
		if (!p[len])
			break;
		p += len + 1;
	}
	if (!cfs_is_document_path(path))
		return store_fail(-EINVAL, "%s: not a document name (*.json)",
				  path);
	return 0;
}
