/* branch.c - branches: list, create (at the head of HEAD's branch),
 * delete and rename, each with its indexes (which follow names: a
 * deleted branch's are dropped, a renamed branch's persistent indexes
 * are made again under its new name). */
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "lib_int.h"
#include "order.h"
#include "banned.h"

int chronofs_branches(chronofs *db, char ***names, size_t *n)
{
	int err;

	lib_enter();
	err = store_branch_list(db->st, names, n);
	return err < 0 ? lib_fail(err, "branches") : 0;
}

int chronofs_branch_create(chronofs *db, const char *name)
{
	int err;

	lib_enter();
	err = store_branch_create(db->st, name);
	return err < 0 ? lib_fail(err, name) : 0;
}

/* The indexes of a name that no longer names the branch they reflect.
 * Best effort: a later catch-up of a new branch of that name sees a
 * rewritten history and indexes it again from its root. */
void lib_index_drop_branch(chronofs *db, const char *branch)
{
	struct idx_db *idx;

	if (lib_index_get(db, &idx) == 0 && idx &&
	    idx_history_drop(idx, branch) < 0 && db->log)
		db->log(store_errmsg());
	lib_index_put(db, idx);
	store_error_clear();
}

int chronofs_branch_delete(chronofs *db, const char *name)
{
	int err;

	lib_enter();
	err = store_branch_delete(db->st, name);
	if (err < 0)
		return lib_fail(err, name);
	lib_index_drop_branch(db, name);
	return 0;
}

/* The (collection, spec) pairs of one branch's persistent indexes. */
struct defs {
	const char *branch;
	char **v; /* collection, spec, collection, spec, ... */
	size_t n;
};

static int collect_def(void *ctx, const char *branch, const char *collection,
		       const char *spec, uint64_t rows)
{
	struct defs *d = ctx;
	char **v;

	if (strcmp(branch, d->branch))
		return 0;
	v = realloc(d->v, (d->n + 2) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->v = v;
	d->v[d->n] = strdup(collection);
	d->v[d->n + 1] = strdup(spec);
	d->n += 2;
	return d->v[d->n - 2] && d->v[d->n - 1] ? 0 : -ENOMEM;
}

int chronofs_branch_rename(chronofs *db, const char *from, const char *to)
{
	struct defs d = { .branch = from };
	struct idx_db *idx;
	int err;

	lib_enter();
	/* Its indexes follow it: the definitions are read first (best
	 * effort: beside a mount, which holds the index database, a new
	 * name is indexed on first use as ever). */
	if (lib_index_get(db, &idx) == 0 && idx) {
		if (idx_order_list(idx, collect_def, &d) < 0 && db->log)
			db->log(store_errmsg());
		lib_index_put(db, idx);
	}
	store_error_clear();
	err = store_branch_rename(db->st, from, to);
	if (err == 0)
		lib_index_drop_branch(db, from);
	for (size_t i = 0; i + 1 < d.n; i += 2) {
		bool built;

		if (err == 0 && d.v[i] && d.v[i + 1] &&
		    cfs_order_ensure(db, to, d.v[i], d.v[i + 1], &built) < 0 &&
		    db->log)
			db->log(store_errmsg());
		free(d.v[i]);
		free(d.v[i + 1]);
	}
	free(d.v);
	if (err < 0)
		return lib_fail(err, from);
	store_error_clear();
	return 0;
}

int cfs_head_branch(chronofs *db, char **branch, bool *unborn,
		    bool *checked_out)
{
	int err;

	lib_enter();
	err = store_head_branch(db->st, branch, unborn, checked_out);
	return err < 0 ? lib_fail(err, "HEAD") : 0;
}
