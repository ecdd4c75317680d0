/* merge.c - branch merges and diffs on the one merge engine
 * (store/treemerge.c): FROM into INTO with a compare-and-swap on INTO, a
 * fast-forward when INTO has nothing of its own, --squash as one ordinary
 * commit; the conflicted paths listed in the merge commit's message (Git
 * keeps both parents, so each conflict can be derived again). Diffs of
 * two commits as JSON lines with RFC 6902 patches. */
#include <stdio.h>
#include <stdlib.h>

#include "lib_int.h"
#include "treemerge.h"
#include "banned.h"

/* The trailer that lists a merge's conflicted documents, one per line
 * after it, each indented by a tab (as git lists conflicts). */
#define CONFLICTS_TRAILER "Conflicts:"

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
	return lib_failf(-ENOENT, "%s: no such branch, snapshot or commit",
			 name);
}

/* The message of a merge: the caller's or ours, then the conflicts. */
static char *merge_message(const char *from, const char *into,
			   const char *message, bool squash,
			   const struct store_merge *m)
{
	size_t cap = 256, len;
	char *s, *grown;

	for (size_t i = 0; i < m->n; i++)
		cap += strlen(m->v[i].path) + 2;
	if (!(s = malloc(cap)))
		return NULL;
	if (message && *message)
		len = (size_t)snprintf(s, cap, "%s", message);
	else
		len = (size_t)snprintf(s, cap, "%s %s into %s",
				       squash ? "squash" : "merge", from, into);
	if (m->nconflicted) {
		len += (size_t)snprintf(s + len, cap - len, "\n\n%s\n",
					CONFLICTS_TRAILER);
		for (size_t i = 0; i < m->n; i++)
			if (m->v[i].n)
				len += (size_t)snprintf(s + len, cap - len,
							"\t%s\n", m->v[i].path);
	}
	grown = realloc(s, len + 1);
	return grown ? grown : s;
}

/* One attempt: 0 done (*res filled), -EAGAIN if INTO moved meanwhile.
 * FO: the commit to merge (NULL: branch FROM's head). */
static int merge_once(chronofs *db, const char *from,
		      const struct store_oid *fo, const char *into,
		      const char *message, unsigned flags,
		      chronofs_merge_result *res)
{
	bool squash = flags & CHRONOFS_MERGE_SQUASH;
	struct store_oid f, i, base, tree, itree, parents[2], out;
	struct store_merge m = {0};
	char *msg = NULL;
	int err, rc;

	if (fo)
		f = *fo;
	else if ((err = store_branch_head(db->st, from, &f)) < 0)
		return lib_failf(err, "%s: no such branch", from);
	if ((err = store_branch_head(db->st, into, &i)) < 0)
		return lib_failf(err, "%s: no such branch", into);
	if (store_oid_equal(&f, &i))
		return 0; /* up to date */
	rc = store_merge_base(db->st, &i, &f, &base);
	if (rc < 0)
		return lib_fail(rc, into);
	if (rc == 0 && store_oid_equal(&base, &f))
		return 0; /* FROM is in INTO already */
	if (rc == 0 && store_oid_equal(&base, &i) && !squash) {
		err = store_ref_move(db->st, into, &i, &f, "merge: fast-forward");
		if (err == 0) {
			store_oid_fmt(res->commit, &f);
			res->fast_forward = 1;
		}
		return err;
	}
	/* No merge base (unrelated histories): everything is an addition
	 * against an empty base. */
	res->unrelated = rc == 1;
	err = store_merge_trees(&m, db->st, rc == 0 ? &base : NULL, &i, &f,
				NULL);
	if (err == 0)
		err = store_merge_build_tree(db->st, &m, &tree);
	if (err == 0)
		err = store_commit_tree_of(db->st, &i, &itree);
	if (err == 0 && squash && store_oid_equal(&tree, &itree))
		goto out; /* nothing to squash */
	if (err == 0 && !(msg = merge_message(from, into, message, squash, &m)))
		err = -ENOMEM;
	parents[0] = i;
	parents[1] = f;
	if (err == 0)
		err = store_commit_tree(db->st, into, &tree, parents,
					squash ? 1 : 2, msg, &out);
	if (err == 0) {
		store_oid_fmt(res->commit, &out);
		res->conflicts = m.nconflicted;
	}
out:
	free(msg);
	store_merge_release(&m);
	return err;
}

int chronofs_merge(chronofs *db, const char *from, const char *into,
		   const char *message, unsigned flags,
		   chronofs_merge_result *res)
{
	int err;

	lib_enter();
	memset(res, 0, sizeof(*res));
	if (flags & ~(unsigned)CHRONOFS_MERGE_SQUASH)
		return lib_failf(-EINVAL, "unknown merge flags %#x", flags);
	if (!strcmp(from, into))
		return lib_failf(-EINVAL, "%s: a branch cannot be merged into "
				 "itself", from);
	err = lib_merge_commit(db, from, NULL, into, message, flags, res);
	if (err < 0)
		return err;
	if (res->commit[0])
		lib_index_catchup(db, into);
	store_error_clear();
	return 0;
}

int lib_merge_commit(chronofs *db, const char *from,
		     const struct store_oid *commit, const char *into,
		     const char *message, unsigned flags,
		     chronofs_merge_result *res)
{
	int err, tries = 0;

	store_write_begin(db->st);
	do {
		memset(res, 0, sizeof(*res));
		err = merge_once(db, from, commit, into, message, flags, res);
	} while (err == -EAGAIN && ++tries < 100);
	store_write_end(db->st);
	if (err < 0)
		return err == -EAGAIN ? lib_failf(err, "%s: moved at every one "
						  "of %d tries", into, tries)
				      : err;
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
