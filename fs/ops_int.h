/* ops_int.h - what the files of the FUSE operations share: the open-file
 * handle, the per-request accessors, the helpers that resolve a node, and
 * the operations themselves for the table in ops.c. Private to fs/. */
#ifndef CHRONOFS_FS_OPS_INT_H
#define CHRONOFS_FS_OPS_INT_H

#include <stdint.h>

#include "fs.h"

/* Attributes of what follows new commits are not cached (lookup.c says
 * what is, and for how long). */
#define ATTR_TIMEOUT 0.0

struct listing; /* list.c */

/* An open file: a document (shared buffer on the node), a scratch fd, or
 * the bytes of a read-only view. All are on fs->open_files. */
struct fs_fh {
	int fd; /* scratch file, or -1 */
	char *data; /* a snapshot's or a version's bytes (immutable) */
	size_t len;
	struct cfs_blob *blob; /* a document over max_doc_size, read in parts */
	struct listing *listing; /* an open directory */
	bool writable; /* opened for writing: its close saves */
	struct fs_node *node;
	struct fs_fh *prev, *next;
};

static inline struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct fs_node *node_of(fuse_req_t req, fuse_ino_t ino)
{
	return fs_node_get(&fs_of(req)->nodes, ino);
}

static inline struct fs_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct fs_fh *)(uintptr_t)fi->fh;
}

/* lookup.c */
/* Resolve node N (or its child NAME). */
int fs_loc_of(struct fs *fs, struct fs_node *n, const char *name,
	      struct fs_loc *loc);
/* The full path of child NAME of N, for names that do not exist yet. */
int fs_child_full(struct fs *fs, struct fs_node *n, const char *name,
		  char **out);
/* -EINVAL (logged) for a reserved NAME created in WHERE. */
int fs_refuse_reserved(const char *where, const char *name);
/* -ENAMETOOLONG (logged) for NAME in PARENT deeper than a document may
 * be (CFS_MAX_DEPTH): mkdir and create refuse it, never a later close. */
int fs_refuse_deep(const struct fs_loc *parent, const char *name);
/* -EROFS for changes in read-only views or mounts. */
int fs_writable(struct fs *fs, const struct fs_loc *loc);
int fs_scratch_of(struct fs *fs, const struct fs_loc *loc, char **out);
/* Is LOC a document: in Git, or a new one held in scratch? *E is its
 * entry when it is in Git (*created false). */
bool fs_is_doc(struct fs *fs, const struct fs_loc *loc, bool *created,
	       struct cfs_entry *e);
/* Look NAME up in PARENT and count the kernel's reference. */
int fs_lookup_entry(struct fs *fs, struct fs_node *parent, const char *name,
		    struct fuse_entry_param *e);
/* After a create: look the new name up for the reply. */
int fs_entry_for(struct fs *fs, struct fs_node *parent, const char *name,
		 struct fuse_entry_param *e, struct fs_node **out);

/* file.c */
int fs_fh_open(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi,
	       int fd);
/* Close FH and what it holds. */
void fs_fh_close(struct fs *fs, struct fs_fh *fh);
/* May the kernel keep the pages (or listing) it holds for N in snapshot
 * LOC? */
bool fs_frozen_cache_ok(struct fs *fs, struct fs_node *n,
			const struct fs_loc *loc);

/* list.c */
void fs_listing_free(struct listing *l);

/* The operations, one file per job. */
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname,
		  unsigned int flags);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);

#endif
