/* ops.c - the FUSE low-level operation table and STATFS. Each
 * operation lives in the file of its job (lookup.c, setattr.c, dir.c,
 * rename.c, file.c, list.c): it decodes the request, calls one helper
 * returning 0 or -errno, and replies exactly once. */
#include <errno.h>
#include <sys/statvfs.h>

#include "fs.h"
#include "ops.h"
#include "ops_int.h"
#include "banned.h"

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (statvfs(fs_of(req)->scratch_root, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops fs_ops = {
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.setattr = fs_op_setattr,
	.mkdir = fs_op_mkdir,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.rename = fs_op_rename,
	.open = fs_op_open,
	.create = fs_op_create,
	.read = fs_op_read,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.fsync = fs_op_fsync,
	.release = fs_op_release,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.statfs = fs_op_statfs,
	.mknod = fs_op_mknod,
	.symlink = fs_op_symlink,
	.readlink = fs_op_readlink,
	.link = fs_op_link,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
};
