/* file.c - open files: OPEN, CREATE, READ, WRITE, FLUSH, FSYNC and
 * RELEASE of documents (a shared buffer saved at close), scratch files
 * (a real descriptor) and read-only views (their bytes). */
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

int fs_fh_open(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi,
	       int fd)
{
	struct fs_fh *fh = calloc(1, sizeof(*fh));

	if (!fh) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	fh->fd = fd;
	fh->node = n;
	fh->writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	pthread_mutex_lock(&fs->open_lock);
	fh->next = fs->open_files;
	if (fh->next)
		fh->next->prev = fh;
	fs->open_files = fh;
	pthread_mutex_unlock(&fs->open_lock);
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = 0;
	return 0;
}

/* Close FH and what it holds. */
void fs_fh_close(struct fs *fs, struct fs_fh *fh)
{
	pthread_mutex_lock(&fs->open_lock);
	if (fh->prev)
		fh->prev->next = fh->next;
	else
		fs->open_files = fh->next;
	if (fh->next)
		fh->next->prev = fh->prev;
	pthread_mutex_unlock(&fs->open_lock);
	if (fh->fd >= 0)
		close(fh->fd);
	else if (fh->data)
		free(fh->data);
	else if (fh->listing)
		fs_listing_free(fh->listing);
	else if (fh->blob)
		cfs_blob_close(fh->blob);
	else if (fh->node)
		fs_doc_release(fs, fh->node);
	free(fh);
}

void fs_ops_release_all(struct fs *fs)
{
	while (fs->open_files)
		fs_fh_close(fs, fs->open_files);
}

/* May the kernel keep the pages (or listing) it holds for N in snapshot
 * LOC? Only if LOC is frozen and they came from LOC's commit: until the
 * kernel looks the snapshot's name up again, N may be reached by a name
 * that now resolves elsewhere. Then its attributes are dropped too (only
 * attributes: this takes no lock an open holds). */
bool fs_frozen_cache_ok(struct fs *fs, struct fs_node *n,
			const struct fs_loc *loc)
{
	if (loc->where != FS_SNAP)
		return false;
	if (fs_node_same_commit(&fs->nodes, n, loc->commit.id))
		return loc->frozen;
	if (fs->se)
		fuse_lowlevel_notify_inval_inode(
			fs->se, fs_node_ino(&fs->nodes, n), -1, 0);
	return false;
}

/* The flags a scratch file is opened with. O_DIRECT reads need buffers
 * aligned as the backing file system wants, which FUSE's are not: the
 * open is direct I/O through the kernel instead (no page cache), and the
 * backing file is read through its own. */
static int real_flags(struct fuse_file_info *fi)
{
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
	return fi->flags & ~(O_CREAT | O_DIRECT);
}

/* A live document over max_doc_size that no open holds (committed from
 * outside: a save refuses one): read in parts, never held whole. */
static int open_big(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi,
		    const struct cfs_entry *e)
{
	struct cfs_blob *b;
	uint64_t size;
	int err = cfs_blob_open(fs->db, &e->oid, &b, &size);

	if (err < 0)
		return err;
	if ((err = fs_fh_open(fs, NULL, fi, -1)) < 0) {
		cfs_blob_close(b);
		return err;
	}
	fh_of(fi)->blob = b;
	fi->keep_cache = fs_node_keep_pages(fs, n, &e->oid);
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
	if (!fi->keep_cache && fs->se)
		fuse_lowlevel_notify_inval_inode(
			fs->se, fs_node_ino(&fs->nodes, n), -1, 0);
	return 0;
}

/* A live document: its buffer, shared by every open of it. */
static int open_doc(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi,
		    const struct fs_loc *loc, bool created,
		    const struct cfs_entry *e)
{
	bool wr = (fi->flags & O_ACCMODE) != O_RDONLY;
	int err = 0;

	if (wr && !cfs_is_document_path(loc->path))
		err = -EACCES; /* a non-JSON file committed by git */
	else
		err = fs_doc_open(fs, n, loc, wr && (fi->flags & O_TRUNC),
				  created, created ? NULL : e);
	if (err == 0 && (err = fs_fh_open(fs, n, fi, -1)) < 0)
		fs_doc_release(fs, n);
	if (err == 0)
		fi->keep_cache = fs_doc_keep_cache(fs, n, wr);
	if (err == 0 && (fi->flags & O_DIRECT))
		fi->direct_io = 1;
	/* New content: sizes from a listing may be stale too. Only
	 * attributes: this takes no lock the open holds. */
	if (err == 0 && !wr && !fi->keep_cache && fs->se)
		fuse_lowlevel_notify_inval_inode(
			fs->se, fs_node_ino(&fs->nodes, n), -1, 0);
	return err;
}

static int do_open(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi)
{
	bool wr = (fi->flags & O_ACCMODE) != O_RDONLY, created;
	struct cfs_entry e;
	struct fs_loc loc;
	struct stat st;
	off_t held;
	char *real = NULL;
	int err, fd;

	err = fs_loc_of(fs, n, NULL, &loc);
	if (err < 0)
		return err;
	if (wr && (err = fs_writable(fs, &loc)) < 0) {
	} else if (fs_loc_readonly(&loc)) {
		struct cfs_blob *big = NULL;
		char *data = NULL;
		size_t len = 0;

		if (loc.where == FS_LOG)
			err = fs_log_ring_json(&data, &len);
		else if (loc.where == FS_ORDER)
			err = fs_order_read(fs, &loc, &data, &len, &big);
		else
			err = fs_history_read(fs, &loc, &data, &len, &big);
		/* Its size changes with every warning: reads go to EOF. */
		fi->direct_io = loc.where == FS_LOG;
		if (err == 0 && (err = fs_fh_open(fs, NULL, fi, -1)) == 0) {
			fh_of(fi)->data = data;
			fh_of(fi)->len = len;
			fh_of(fi)->blob = big;
			fi->keep_cache = fs_frozen_cache_ok(fs, n, &loc);
			/* @sync changes size between stat and read. */
			fi->direct_io = loc.where == FS_SYNC;
		} else {
			free(data);
			cfs_blob_close(big);
		}
	} else if (loc.where != FS_LIVE || !*loc.path) {
		err = -EISDIR;
	} else if (fs_is_doc(fs, &loc, &created, &e)) {
		if (!wr && !created && e.size > fs->cfg.max_doc_size &&
		    !fs_doc_size(fs, n, &held))
			err = open_big(fs, n, fi, &e);
		else
			err = open_doc(fs, n, fi, &loc, created, &e);
	} else if ((err = fs_scratch_of(fs, &loc, &real)) == 0) {
		if (lstat(real, &st) == 0 && S_ISDIR(st.st_mode))
			err = -EISDIR;
		else if ((fd = open(real, real_flags(fi) | O_NOFOLLOW)) < 0)
			err = -errno;
		else
			err = fs_fh_open(fs, n, fi, fd);
		/* The name the kernel holds is gone (an outside commit
		 * deleted the document): ESTALE makes it look the name up
		 * again, so `echo > x.json` creates it now instead of
		 * failing until the cached entry expires. */
		if (err == -ENOENT)
			err = -ESTALE;
	}
	free(real);
	fs_loc_release(&loc);
	return err;
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err = do_open(fs_of(req), node_of(req, ino), fi);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_open(req, fi);
}

static int do_create(struct fs *fs, const struct fuse_ctx *who,
		     struct fs_node *parent, const char *name, mode_t mode,
		     struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	struct fs_loc loc, ploc;
	struct fs_node *n = NULL;
	struct stat st;
	char *real = NULL;
	bool doc, existed;
	int err, fd = -1;

	memset(&loc, 0, sizeof(loc));
	if (fs->cfg.ro)
		return -EROFS;
	err = fs_loc_of(fs, parent, NULL, &ploc);
	if (err < 0)
		return err;
	if ((err = fs_writable(fs, &ploc)) < 0 ||
	    (err = fs_refuse_reserved(ploc.full, name)) < 0 ||
	    (err = fs_refuse_deep(&ploc, name)) < 0)
		goto out;
	if (ploc.where != FS_LIVE) {
		err = -EPERM; /* only branches live at the root */
		goto out;
	}
	if ((err = fs_loc_of(fs, parent, name, &loc)) < 0 ||
	    (err = fs_scratch_of(fs, &loc, &real)) < 0 ||
	    (err = fs_scratch_mkparents(real)) < 0)
		goto out;
	doc = cfs_is_document_path(loc.path);
	existed = lstat(real, &st) == 0;
	/* A new document is held as an empty placeholder until saved. */
	fd = open(real,
		  (doc ? O_WRONLY : real_flags(fi)) | O_CREAT | O_NOFOLLOW,
		  doc ? 0644 : mode);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (!doc && !existed &&
	    (err = fs_scratch_adopt(fs, real, fd, mode, who->uid, who->gid)) <
		    0)
		goto out;
	if (doc) {
		close(fd);
		fd = -1;
	}
	if ((err = fs_entry_for(fs, parent, name, e, &n)) < 0)
		goto out;
	if (doc)
		err = fs_doc_open(fs, n, &loc, (fi->flags & O_TRUNC) != 0,
				  false, NULL);
	if (err == 0)
		err = fs_fh_open(fs, n, fi, fd);
	fd = -1;
	if (err < 0)
		fs_node_forget(&fs->nodes, n, 1);
out:
	if (fd >= 0)
		close(fd);
	free(real);
	fs_loc_release(&loc);
	fs_loc_release(&ploc);
	return err;
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int err = do_create(fs_of(req), fuse_req_ctx(req), node_of(req, parent),
			    name, mode, fi, &e);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_create(req, &e, fi);
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs_fh *fh = fh_of(fi);
	char *buf = malloc(size ? size : 1);
	size_t got = 0;
	ssize_t r;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (fh->fd >= 0) {
		r = pread(fh->fd, buf, size, off);
		err = r < 0 ? -errno : 0;
		got = r < 0 ? 0 : (size_t)r;
	} else if (fh->data) {
		got = (size_t)off < fh->len ? fh->len - (size_t)off : 0;
		got = got < size ? got : size;
		memcpy(buf, fh->data + off, got);
	} else if (fh->blob) {
		err = cfs_blob_pread(fh->blob, buf, size, (uint64_t)off, &got);
		if (err < 0)
			fs_log(LOG_ERR, "read: %s", chronofs_errmsg(NULL));
	} else {
		err = fs_doc_read(node_of(req, ino), buf, size, off, &got);
	}
	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

static void write_too_big(struct fs *fs, struct fs_node *n)
{
	char *full;

	if (fs_node_path(&fs->nodes, n, NULL, &full) < 0)
		return;
	fs_log_op(LOG_WARNING, "write", full, EFBIG,
		  "write past max_doc_size %zu refused", fs->cfg.max_doc_size);
	free(full);
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_fh *fh = fh_of(fi);
	ssize_t w;
	int err;

	if (fh->fd >= 0) {
		w = pwrite(fh->fd, buf, size, off);
		err = w < 0 ? -errno : 0;
		size = w < 0 ? 0 : (size_t)w;
	} else {
		err = fs_doc_write(fs, node_of(req, ino), buf, size, off);
		if (err == -EFBIG)
			write_too_big(fs, node_of(req, ino));
	}
	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}

/* close, fsync: save a changed document. */
static int save(struct fs *fs, struct fs_node *n)
{
	struct fs_loc loc;
	int err = fs_loc_of(fs, n, NULL, &loc);

	/* Unlinked, or replaced by a rename, while open: as on disk, what
	 * is written to it goes nowhere once the last file closes. */
	if (err == -ESTALE)
		return 0;
	if (err == 0)
		err = fs_doc_save(fs, n, &loc);
	fs_loc_release(&loc);
	return err;
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err = 0;

	/* Only a writer's close saves: a reader's close must not commit
	 * what another process has half written. */
	if (fh_of(fi)->fd < 0 && !fh_of(fi)->data && fh_of(fi)->writable)
		err = save(fs_of(req), node_of(req, ino));
	fuse_reply_err(req, -err);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct fs_fh *fh = fh_of(fi);
	int err;

	if (fh->fd >= 0)
		err = (datasync ? fdatasync(fh->fd) : fsync(fh->fd)) < 0 ?
			      -errno :
			      0;
	else if (fh->data || !fh->writable)
		err = 0;
	else
		err = save(fs_of(req), node_of(req, ino));
	fuse_reply_err(req, -err);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_fh_close(fs_of(req), fh_of(fi));
	fuse_reply_err(req, 0);
}
