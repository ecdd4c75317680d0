/* special.c - MKNOD, SYMLINK, READLINK and LINK: fifos, sockets, device
 * nodes, symbolic links and hard links are scratch entries (kept in the
 * scratch area, listed, surviving remounts, never committed), as on a
 * local file system. The daemon never follows a link itself. Documents
 * take no part: a hard link to or from one fails with EPERM (one name,
 * one document, one commit). A symbolic link in a Git tree (made by
 * others) is shown as one, read-only. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "ops_int.h"
#include "banned.h"

/* Where new entry NAME of PARENT goes: *loc and its scratch path *real
 * (parents made). EEXIST if the name is taken. */
static int new_entry(struct fs *fs, struct fs_node *parent, const char *name,
		     struct fs_loc *loc, char **real)
{
	struct fs_loc ploc;
	struct stat st;
	int err;

	*real = NULL;
	memset(loc, 0, sizeof(*loc));
	if (fs->cfg.ro)
		return -EROFS;
	err = fs_loc_of(fs, parent, NULL, &ploc);
	if (err < 0)
		return err;
	if ((err = fs_writable(fs, &ploc)) == 0 &&
	    (err = fs_refuse_reserved(ploc.full, name)) == 0 &&
	    ploc.where != FS_LIVE)
		err = -EPERM; /* only branches live at the root */
	fs_loc_release(&ploc);
	if (err == 0)
		err = fs_loc_of(fs, parent, name, loc);
	if (err == 0 && fs_stat_loc(fs, loc, NULL, &st) == 0)
		err = -EEXIST;
	if (err == 0 && (err = fs_scratch_of(fs, loc, real)) == 0)
		err = fs_scratch_mkparents(*real);
	return err;
}

static int do_mknod(struct fs *fs, const struct fuse_ctx *who,
		    struct fs_node *parent, const char *name, mode_t mode,
		    dev_t rdev, struct fuse_entry_param *e)
{
	struct fs_loc loc;
	char *real;
	int err = new_entry(fs, parent, name, &loc, &real);

	/* A regular file made by mknod(2) is a file like any other: a
	 * document name would be a placeholder, so only scratch names. */
	if (err == 0 && S_ISREG(mode) && cfs_is_document_path(loc.path))
		err = -EPERM;
	if (err == 0 && mknod(real, mode, rdev) < 0)
		err = -errno;
	if (err == 0)
		err = fs_scratch_adopt(fs, real, -1, mode, who->uid, who->gid);
	if (err == 0)
		err = fs_entry_for(fs, parent, name, e, NULL);
	free(real);
	fs_loc_release(&loc);
	return err;
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev)
{
	struct fuse_entry_param e;
	int err = do_mknod(fs_of(req), fuse_req_ctx(req), node_of(req, parent),
			   name, mode, rdev, &e);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

static int do_symlink(struct fs *fs, const struct fuse_ctx *who,
		      const char *target, struct fs_node *parent,
		      const char *name, struct fuse_entry_param *e)
{
	struct fs_loc loc;
	char *real;
	int err = new_entry(fs, parent, name, &loc, &real);

	if (err == 0 && symlink(target, real) < 0)
		err = -errno;
	if (err == 0)
		err = fs_scratch_adopt(fs, real, -1, 0777, who->uid, who->gid);
	if (err == 0)
		err = fs_entry_for(fs, parent, name, e, NULL);
	free(real);
	fs_loc_release(&loc);
	return err;
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name)
{
	struct fuse_entry_param e;
	int err = do_symlink(fs_of(req), fuse_req_ctx(req), link,
			     node_of(req, parent), name, &e);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

/* The target of a link committed by others: at the branch head, or in a
 * snapshot. -EINVAL if LOC is no such link. */
static int git_link(struct fs *fs, const struct fs_loc *loc, char **out)
{
	struct cfs_entry e;
	size_t len;
	char *t;
	int err;

	if (loc->where == FS_SNAP)
		err = cfs_stat(fs->db, &loc->commit, loc->path, &e);
	else
		err = fs_live_entry(fs, loc->branch, loc->path, &e, NULL);
	if (err < 0 || e.kind != CFS_LINK)
		return -EINVAL;
	if ((err = cfs_blob_read(fs->db, &e.oid, &t, &len)) < 0)
		return err;
	/* A target holds no NUL; one that does is cut there. */
	*out = realloc(t, len + 1);
	if (!*out) {
		free(t);
		return -ENOMEM;
	}
	(*out)[len] = '\0';
	return 0;
}

static int do_readlink(struct fs *fs, struct fs_node *n, char **out)
{
	struct fs_loc loc;
	char *real = NULL, *buf = NULL;
	ssize_t len;
	int err = fs_loc_of(fs, n, NULL, &loc);

	*out = NULL;
	if (err < 0)
		return err;
	if ((loc.where != FS_LIVE && loc.where != FS_SNAP) || !*loc.path)
		err = -EINVAL; /* other views hold no links */
	else if (loc.where == FS_SNAP || git_link(fs, &loc, out) == 0)
		err = loc.where == FS_SNAP ? git_link(fs, &loc, out) : 0;
	else if ((err = fs_scratch_of(fs, &loc, &real)) == 0 &&
		 !(buf = malloc(PATH_MAX + 1)))
		err = -ENOMEM;
	if (buf && (len = readlink(real, buf, PATH_MAX)) < 0) {
		err = -errno;
	} else if (buf) {
		buf[len] = '\0';
		*out = buf;
		buf = NULL;
	}
	free(buf);
	free(real);
	fs_loc_release(&loc);
	return err;
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *target;
	int err = do_readlink(fs_of(req), node_of(req, ino), &target);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

static int do_link(struct fs *fs, struct fs_node *n, struct fs_node *newparent,
		   const char *newname, struct fuse_entry_param *e)
{
	struct fs_loc from, to;
	struct cfs_entry ce;
	struct stat st;
	char *src = NULL, *dst = NULL;
	bool created;
	int err;

	memset(&to, 0, sizeof(to));
	if ((err = fs_loc_of(fs, n, NULL, &from)) < 0)
		return err;
	if ((err = fs_writable(fs, &from)) < 0 ||
	    (err = new_entry(fs, newparent, newname, &to, &dst)) < 0)
		goto out;
	/* One name per document: a second would be a second document
	 * whose saves the first never sees. */
	if (from.where != FS_LIVE || !*from.path ||
	    fs_is_doc(fs, &from, &created, &ce) ||
	    fs_live_entry(fs, from.branch, from.path, &ce, NULL) == 0 ||
	    cfs_is_document_path(to.path) || strcmp(from.branch, to.branch)) {
		err = from.where == FS_LIVE && to.where == FS_LIVE &&
				      strcmp(from.branch, to.branch) ?
			      -EXDEV :
			      -EPERM;
		goto out;
	}
	if ((err = fs_scratch_of(fs, &from, &src)) < 0)
		goto out;
	if (lstat(src, &st) < 0)
		err = -errno;
	else if (S_ISDIR(st.st_mode))
		err = -EPERM;
	else if (link(src, dst) < 0)
		err = -errno;
	if (err == 0)
		err = fs_entry_for(fs, newparent, newname, e, NULL);
out:
	free(src);
	free(dst);
	fs_loc_release(&to);
	fs_loc_release(&from);
	return err;
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname)
{
	struct fuse_entry_param e;
	int err = do_link(fs_of(req), node_of(req, ino),
			  node_of(req, newparent), newname, &e);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}
