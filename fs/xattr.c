/* xattr.c - GETXATTR and LISTXATTR: user.chronofs.error, why the last
 * save of a document was refused (see docerr.c). No other attribute is
 * kept, and none can be set (the kernel then answers EOPNOTSUPP). Only
 * the user namespace exists: a name outside it (security.selinux,
 * system.posix_acl_access, trusted.*) is EOPNOTSUPP, not ENODATA, so
 * GNU ls -l, which caches "unsupported" per device, asks once per mount
 * instead of twice per file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "ops_int.h"
#include "banned.h"

/* The refusal recorded for node N, or -ENODATA. */
static int error_of(struct fs *fs, struct fs_node *n, char **out)
{
	char *full;
	int err = fs_node_path(&fs->nodes, n, NULL, &full);

	*out = NULL;
	if (err < 0)
		return err;
	err = fs_doc_error_get(full, out);
	free(full);
	return err;
}

/* SIZE 0 asks for the length; too small a buffer is ERANGE. */
static void reply_value(fuse_req_t req, const char *v, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size)
{
	char *msg;
	int err;

	/* The kernel asks for security.capability before every write:
	 * answered without a look at anything. */
	if (strncmp(name, "user.", 5)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (strcmp(name, FS_XATTR_ERROR)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	err = error_of(fs_of(req), node_of(req, ino), &msg);
	if (err < 0)
		fuse_reply_err(req, err == -ESTALE ? ENODATA : -err);
	else
		reply_value(req, msg, strlen(msg), size);
	free(msg);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *msg;
	int err = error_of(fs_of(req), node_of(req, ino), &msg);

	free(msg);
	if (err == 0)
		reply_value(req, FS_XATTR_ERROR, sizeof(FS_XATTR_ERROR), size);
	else if (err == -ENODATA || err == -ESTALE)
		reply_value(req, "", 0, size);
	else
		fuse_reply_err(req, -err);
}
