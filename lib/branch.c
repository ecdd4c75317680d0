/* branch.c - branches: list, create (at the head of HEAD's branch),
 * delete and rename, each with its indexes (which follow names: a
 * deleted or renamed branch's are dropped, the new name is indexed on
 * first use). */
#include "history.h"
#include "lib_int.h"
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

int chronofs_branch_rename(chronofs *db, const char *from, const char *to)
{
	int err;

	lib_enter();
	err = store_branch_rename(db->st, from, to);
	if (err < 0)
		return lib_fail(err, from);
	lib_index_drop_branch(db, from);
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
