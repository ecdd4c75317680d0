/* merge.c - the library's faces of the one merge engine (store/
 * treemerge.h, store/mergebranch.c): branch merges (FROM into INTO by
 * compare-and-swap, a fast-forward, --squash; the merge commit's message
 * lists the conflicted paths, and Git keeps both parents, so each
 * conflict can be derived again) and diffs of two commits as JSON lines
 * with RFC 6902 patches. */
#include <stdio.h>
#include <stdlib.h>

#include "lib_int.h"
#include "treemerge.h"
#include "banned.h"

/* A commit named by a branch, BRANCH@WHEN or 7-40 hex digits. */
static int name_commit(chronofs *db, const char *name, struct store_oid *out)
{
	const char *at = strchr(name, '@');
	struct cfs_oid c;
	size_t hex = strspn(name, "0123456789abcdef");
	int err;

	if (store_branch_head(db->st, name, out) == 0)
		return 0;
	if (at && at > name) {
		char *branch = strndup(name, (size_t)(at - name));

		if (!branch)
			return lib_fail(-ENOMEM, name);
		err = cfs_resolve(db, branch, at + 1, strlen(at + 1), &c);
		free(branch);
		if (err == 0)
			*out = lib_soid(&c);
		return err;
	}
	if (hex == strlen(name) && hex >= 7 && hex <= 40 &&
	    store_commit_lookup_prefix(db->st, name, out) == 0)
		return 0;
	return store_fail(-ENOENT, "%s: no such branch, snapshot or commit",
			  name);
}

int lib_merge_commit(chronofs *db, const char *from,
		     const struct store_oid *commit, const char *into,
		     const char *message, unsigned flags,
		     chronofs_merge_result *res)
{
	struct store_merge_outcome o;
	int err;

	memset(res, 0, sizeof(*res));
	/* A write session: saves of this handle wait, the merge's objects
	 * are synced together before INTO moves. */
	store_write_begin(db->st);
	err = store_merge_commit(
		&o, db->st, from, commit, into, message,
		flags & CHRONOFS_MERGE_SQUASH ? STORE_MERGE_SQUASH : 0, NULL);
	store_write_end(db->st);
	if (err == -ENOENT && !commit &&
	    store_branch_head(db->st, from, &o.commit) < 0)
		return store_fail(err, "%s: no such branch", from);
	if (err == -ENOENT)
		return store_fail(err, "%s: no such branch", into);
	if (err < 0)
		return lib_fail(err, into);
	if (o.kind != STORE_MERGED_NOTHING) {
		store_oid_fmt(res->commit, &o.commit);
		res->fast_forward = o.kind == STORE_MERGED_FAST_FORWARD;
		res->unrelated = !o.has_base;
		res->conflicts = o.merge.nconflicted;
	}
	store_merge_outcome_release(&o);
	return 0;
}

int chronofs_merge(chronofs *db, const char *from, const char *into,
		   const char *message, unsigned flags,
		   chronofs_merge_result *res)
{
	int err;

	lib_enter();
	memset(res, 0, sizeof(*res));
	if (flags & ~(unsigned)CHRONOFS_MERGE_SQUASH)
		return store_fail(-EINVAL, "unknown merge flags %#x", flags);
	if (!strcmp(from, into))
		return store_fail(-EINVAL,
				  "%s: a branch cannot be merged into "
				  "itself",
				  from);
	if ((err = lib_merge_commit(db, from, NULL, into, message, flags,
				    res)) < 0)
		return err;
	if (res->commit[0])
		lib_index_catchup(db, into);
	store_error_clear();
	return 0;
}

/* Diffs: the entries of the engine's tree diff, one JSON line each. */
struct chronofs_diff {
	chronofs *db;
	struct store_tdiff *d;
	struct jt_buf line;
};

int chronofs_diff_open(chronofs_diff **out, chronofs *db, const char *a,
		       const char *b, const char *path)
{
	struct store_oid ca, cb;
	chronofs_diff *d;
	int err;

	lib_enter();
	*out = NULL;
	if ((err = name_commit(db, a, &ca)) < 0 ||
	    (err = name_commit(db, b, &cb)) < 0)
		return err;
	if (!(d = calloc(1, sizeof(*d))))
		return lib_fail(-ENOMEM, a);
	d->db = db;
	err = store_tdiff_new(&d->d, db->st, &ca, &cb, path);
	if (err < 0) {
		free(d);
		return lib_fail(err, path && *path ? path : b);
	}
	*out = d;
	return 0;
}

int chronofs_diff_next(chronofs_diff *d, const char **line, size_t *len)
{
	const struct store_tdiff_entry *e;
	int err;

	lib_enter();
	err = store_tdiff_next(d->d, &e);
	if (err == 1)
		return 0;
	if (err < 0)
		return lib_fail(err, "diff");
	d->line.len = 0;
	err = store_tdiff_line(d->db->st, e, &d->line);
	if (err < 0)
		return lib_fail(err, e->path);
	/* One line, without its newline. */
	while (d->line.len && d->line.p[d->line.len - 1] == '\n')
		d->line.len--;
	*len = d->line.len;
	if (jt_buf_put(&d->line, "", 1) < 0)
		return lib_fail(-ENOMEM, e->path);
	*line = d->line.p;
	return 1;
}

void chronofs_diff_free(chronofs_diff *d)
{
	if (!d)
		return;
	store_tdiff_free(d->d);
	free(d->line.p);
	free(d);
}
