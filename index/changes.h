/* changes.h - what each commit changed against its first parent, kept in
 * the index by commit (a fact of the commit, the same on every branch):
 *   'K' \0 commit (20) -> version, then per file: BE16(path length) path
 *                         flags (1: old, 2: new) [old (20)] [new (20)]
 * Version 1: every file listed is a regular file (100644) on each side
 * it has; 0: some may be executable (the record has no modes). A merge
 * from the records (lib/mergerec.c) needs the modes, so version 1.
 * A diff of two commits near their merge base then reads only the
 * documents that differ (lib/diffrec.c) instead of the Git trees on the
 * way, whose collection buckets hold N/256 entries each. Only a complete
 * record is kept: a commit with more than IDX_CHANGES_MAX files, a tree
 * missing from the repository, or a change the catch-up's diff does not
 * report (a mode alone, a symbolic link, a submodule) has none, and a
 * diff across it reads Git. */
#ifndef CHRONOFS_INDEX_CHANGES_H
#define CHRONOFS_INDEX_CHANGES_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "store.h"

#define IDX_CHANGES_MAX 4096

/* A commit's record, read back. */
struct idx_changes {
	char *buf;
	size_t len;
	size_t pos; /* of the next file */
	bool plain; /* version 1: every file 100644 */
};

struct idx_changed {
	const char *path; /* not NUL-terminated: plen bytes */
	size_t plen;
	bool has_old, has_new;
	struct store_oid old, new;
};

/* COMMIT's record: 0, or 1 if it has none. *out is the caller's
 * (idx_changes_release). */
int idx_changes_get(struct idx_db *db, const struct store_oid *commit,
		    struct idx_changes *out);
/* The next file of the record: 0, 1 past the last, -EIO if malformed. */
int idx_changes_next(struct idx_changes *c, struct idx_changed *out);
void idx_changes_release(struct idx_changes *c);

#endif
