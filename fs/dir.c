/* dir.c - MKDIR, UNLINK and RMDIR: collections, documents and scratch
 * files inside a branch, and branches themselves at the root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "ops_int.h"
#include "banned.h"

/* After a create: look the new name up for the reply. */
int fs_entry_for(struct fs *fs, struct fs_node *parent, const char *name,
		 struct fuse_entry_param *e, struct fs_node **out)
{
	int err = fs_lookup_entry(fs, parent, name, e);

	if (err == 0 && out)
		*out = fs_node_get(&fs->nodes, e->ino);
	return err;
}

static int do_mkdir(struct fs *fs, const struct fuse_ctx *who,
		    struct fs_node *parent, const char *name, mode_t mode,
		    struct fuse_entry_param *e)
{
	struct fs_loc ploc, loc;
	char *full = NULL, *real = NULL;
	struct stat st;
	int err;

	memset(&loc, 0, sizeof(loc));
	if (fs->cfg.ro)
		return -EROFS;
	err = fs_loc_of(fs, parent, NULL, &ploc);
	if (err < 0)
		return err;
	if ((err = fs_writable(fs, &ploc)) < 0 ||
	    (err = fs_child_full(fs, parent, name, &full)) < 0 ||
	    (err = fs_refuse_reserved(ploc.full, name)) < 0 ||
	    (err = fs_refuse_deep(&ploc, name)) < 0)
		goto out;
	if (ploc.where != FS_LIVE) {
		/* mkdir at the root makes a branch at HEAD's head. */
		err = chronofs_branch_create(fs->db, full);
		if (err < 0) {
			fs_log_op(err == -EINVAL || err == -ENOENT ?
					  LOG_WARNING :
					  LOG_ERR,
				  "mkdir", full, err, "branch not created: %s",
				  chronofs_errmsg(NULL));
			goto out;
		}
		fs_branches_changed(fs);
	} else {
		err = fs_resolve(fs, full, &loc);
		if (err == 0 && fs_stat_loc(fs, &loc, NULL, &st) == 0)
			err = -EEXIST;
		if (err == 0 && (err = fs_scratch_of(fs, &loc, &real)) == 0 &&
		    (err = fs_scratch_mkparents(real)) == 0 &&
		    mkdir(real, mode & 07777) < 0)
			err = -errno;
		if (err == 0)
			err = fs_scratch_adopt(fs, real, -1, mode, who->uid,
					       who->gid);
	}
	if (err == 0)
		err = fs_entry_for(fs, parent, name, e, NULL);
out:
	free(real);
	free(full);
	fs_loc_release(&loc);
	fs_loc_release(&ploc);
	return err;
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode)
{
	struct fuse_entry_param e;
	int err = do_mkdir(fs_of(req), fuse_req_ctx(req), node_of(req, parent),
			   name, mode, &e);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

/* Delete a document: one commit. */
static int delete_doc(struct fs *fs, const struct fs_loc *loc)
{
	int err = cfs_delete(fs->db, loc->branch, loc->path, NULL);

	if (err < 0) {
		fs_log_op(err == -ENOENT ? LOG_DEBUG : LOG_ERR, "unlink",
			  loc->full, err, "deletion not committed: %s",
			  chronofs_errmsg(NULL));
		return err;
	}
	fs_log_op(LOG_INFO, "unlink", loc->full, 0, "deleted");
	fs_doc_error_clear(loc->full);
	return 0;
}

static int do_unlink(struct fs *fs, struct fs_node *parent, const char *name)
{
	struct cfs_entry e;
	struct fs_loc loc;
	char *real = NULL;
	int err, gerr;

	if (fs->cfg.ro)
		return -EROFS;
	err = fs_loc_of(fs, parent, name, &loc);
	if (err < 0)
		return err;
	if ((err = fs_writable(fs, &loc)) < 0)
		goto out;
	if (loc.where != FS_LIVE || !*loc.path) {
		err = -EISDIR;
		goto out;
	}
	gerr = fs_live_entry(fs, loc.branch, loc.path, &e, NULL);
	if (gerr == 0 && e.kind == CFS_DIR) {
		err = -EISDIR;
		goto out;
	}
	if (gerr == 0 && (err = delete_doc(fs, &loc)) < 0)
		goto out;
	/* The scratch file (or a new document's placeholder) of that name. */
	if ((err = fs_scratch_of(fs, &loc, &real)) < 0)
		goto out;
	if (unlink(real) == 0)
		fs_pending_backup_gone(fs->pending, loc.branch, loc.path);
	else if (gerr != 0)
		err = -errno;
	/* Files open on it go on reading and writing what they hold. */
	if (err == 0)
		fs_node_detach(&fs->nodes, parent, name);
out:
	free(real);
	fs_loc_release(&loc);
	return err;
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_unlink(fs_of(req), node_of(req, parent), name));
}

/* Does the branch hold anything at all (documents or scratch files)? */
static int count_cb(void *ctx, const char *name, const struct cfs_entry *e)
{
	(*(size_t *)ctx)++;
	return 0;
}

static bool dir_is_empty(struct fs *fs, const struct fs_loc *loc)
{
	struct cfs_oid head;
	size_t n = 0;

	return cfs_head(fs->db, loc->branch, &head) == 0 &&
	       cfs_readdir(fs->db, &head, loc->path, count_cb, &n) == 0 &&
	       n == 0;
}

static int delete_branch(struct fs *fs, const struct fs_loc *loc)
{
	struct cfs_oid head;
	size_t n = 0;
	int err;

	err = cfs_head(fs->db, loc->branch, &head);
	if (err == 0)
		err = cfs_readdir(fs->db, &head, "", count_cb, &n);
	if (err == 0 && n > 0)
		err = -ENOTEMPTY;
	if (err == 0)
		err = fs_scratch_branch_clear(fs, loc->branch);
	if (err == 0)
		err = chronofs_branch_delete(fs->db, loc->branch);
	if (err < 0 && err != -ENOTEMPTY)
		fs_log_op(LOG_WARNING, "rmdir", loc->full, err,
			  "branch not deleted: %s", chronofs_errmsg(NULL));
	if (err == 0) {
		fs_log(LOG_INFO, "branch %s deleted", loc->branch);
		fs_branches_changed(fs);
	}
	return err;
}

static int do_rmdir(struct fs *fs, struct fs_node *parent, const char *name)
{
	struct cfs_entry e;
	struct fs_loc loc;
	char *real = NULL;
	int err;

	if (fs->cfg.ro)
		return -EROFS;
	err = fs_loc_of(fs, parent, name, &loc);
	if (err < 0)
		return err;
	if ((err = fs_writable(fs, &loc)) < 0) {
	} else if (loc.where == FS_PREFIX) {
		err = -ENOTEMPTY;
	} else if (loc.where == FS_LIVE && !*loc.path) {
		err = delete_branch(fs, &loc);
	} else if (loc.where == FS_LIVE) {
		err = fs_live_entry(fs, loc.branch, loc.path, &e, NULL);
		/* A fanout collection emptied keeps only its marker in Git:
		 * empty to the eye, so its rmdir succeeds too. */
		if (err == 0 && e.kind == CFS_DIR && dir_is_empty(fs, &loc))
			err = -ENOENT;
		else if (err == 0)
			err = e.kind == CFS_DIR ? -ENOTEMPTY : -ENOTDIR;
		else if (err == -ENOENT &&
			 (err = fs_scratch_of(fs, &loc, &real)) == 0 &&
			 rmdir(real) < 0 && errno != ENOENT)
			err = -errno;
		/* A collection whose documents were all deleted is gone from
		 * Git already: its rmdir succeeds. */
	} else {
		err = -EBUSY;
	}
	free(real);
	fs_loc_release(&loc);
	return err;
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_rmdir(fs_of(req), node_of(req, parent), name));
}
