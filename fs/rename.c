/* rename.c - RENAME: documents (one commit), the temporary-and-rename
 * save of scratch files onto document names, a document renamed away to
 * a scratch name (the backup dance) and branches. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "ops_int.h"
#include "banned.h"

static int read_file(const char *path, size_t max, char **out, size_t *len,
		     struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	char *buf = NULL;
	ssize_t r;
	size_t got = 0;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		err = S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if ((size_t)st->st_size > max) {
		err = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st->st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st->st_size &&
	       (r = read(fd, buf + got, (size_t)st->st_size - got)) > 0)
		got += (size_t)r;
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

/* The rest of FD is BIG's bytes, a part at a time. */
static int copy_blob(int fd, struct cfs_blob *big)
{
	size_t got = 1, done, chunk = 1u << 20;
	char *buf = malloc(chunk);
	uint64_t off = 0;
	ssize_t w;
	int err = buf ? 0 : -ENOMEM;

	while (err == 0 && got > 0 &&
	       (err = cfs_blob_pread(big, buf, chunk, off, &got)) == 0) {
		for (done = 0; done < got; done += (size_t)w)
			if ((w = write(fd, buf + done, got - done)) <= 0) {
				err = w < 0 ? -errno : -EIO;
				break;
			}
		off += got;
	}
	free(buf);
	return err;
}

/* PATH holds BUF (and then BIG's bytes, if given), with MTIME. */
static int write_file(const char *path, const char *buf, size_t len,
		      struct cfs_blob *big, const struct timespec *mtime)
{
	struct timespec ts[2] = { *mtime, *mtime };
	int fd, err = fs_scratch_mkparents(path);
	size_t done = 0;
	ssize_t w;

	if (err < 0)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	while (done < len && (w = write(fd, buf + done, len - done)) > 0)
		done += (size_t)w;
	if (done < len)
		err = -EIO;
	if (err == 0 && big)
		err = copy_blob(fd, big);
	if (err == 0 && futimens(fd, ts) < 0)
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	return err;
}

/* x.json -> x.json~ : copy to scratch now, delete later (pending.c). */
static int rename_doc_away(struct fs *fs, const struct fs_loc *from,
			   const struct fs_loc *to, const struct cfs_entry *e)
{
	struct timespec mt;
	struct stat st;
	struct cfs_blob *big = NULL;
	char *buf = NULL, *real = NULL;
	size_t len;
	int err;

	/* One over max_doc_size (committed from outside) is copied in
	 * parts, never held whole. */
	err = fs_blob_get(fs, &e->oid, e->size, &buf, &len, &big);
	if (err < 0)
		return err;
	if (fs_stat_loc(fs, from, NULL, &st) == 0)
		mt = st.st_mtim;
	else
		clock_gettime(CLOCK_REALTIME, &mt);
	if ((err = fs_scratch_of(fs, to, &real)) == 0 &&
	    (err = write_file(real, buf, len, big, &mt)) == 0)
		err = fs_pending_add(fs->pending, from->branch, from->path,
				     to->path);
	free(real);
	free(buf);
	cfs_blob_close(big);
	return err;
}

/* scratch -> document name: the temporary-and-rename save. */
static int rename_scratch_in(struct fs *fs, const char *src,
			     const struct fs_loc *to, bool had_version)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int err;

	err = read_file(src, fs->cfg.max_doc_size, &buf, &len, &st);
	if (err == -EFBIG)
		fs_log_op(LOG_WARNING, "rename", to->full, err,
			  "%s is over max_doc_size %zu", src,
			  fs->cfg.max_doc_size);
	if (err == 0)
		err = fs_save_bytes(fs, to->branch, to->path, buf, len,
				    &st.st_mtim, had_version);
	if (err == 0 && unlink(src) < 0)
		err = -errno;
	free(buf);
	return err;
}

static int rename_live(struct fs *fs, const struct fs_loc *from,
		       const struct fs_loc *to, unsigned flags)
{
	struct cfs_entry e, te;
	struct stat st;
	char *src = NULL, *dst = NULL;
	bool from_git, to_git, to_doc = cfs_is_document_path(to->path);
	int err;

	if (flags & RENAME_NOREPLACE && fs_stat_loc(fs, to, NULL, &st) == 0)
		return -EEXIST;
	err = fs_live_entry(fs, from->branch, from->path, &e, NULL);
	if (err < 0 && err != -ENOENT)
		return err;
	from_git = err == 0;
	/* mv copies collections, one save each, and a link made by others
	 * (a scratch link made anew, then the old one's deletion). */
	if (from_git && (e.kind == CFS_DIR || e.kind == CFS_LINK))
		return -EXDEV;
	to_git = fs_live_entry(fs, to->branch, to->path, &te, NULL) == 0;
	if (to_git && te.kind == CFS_DIR)
		return -EISDIR;
	if ((err = fs_scratch_of(fs, from, &src)) < 0 ||
	    (err = fs_scratch_of(fs, to, &dst)) < 0)
		goto out;
	if (from_git && to_doc) {
		err = cfs_rename(fs->db, from->branch, from->path, to->path,
				 NULL);
		if (err >= 0) {
			err = 0;
			fs_pending_drop(fs->pending, to->branch, to->path);
			unlink(dst); /* a placeholder of that name */
			fs_log_op(LOG_INFO, "rename", from->full, 0,
				  "renamed to %s", to->path);
			fs_doc_error_clear(from->full);
			fs_doc_error_clear(to->full);
		}
	} else if (from_git) {
		err = rename_doc_away(fs, from, to, &e);
	} else if (lstat(src, &st) < 0) {
		err = -errno;
	} else if (to_doc && !cfs_is_document_path(from->path) &&
		   S_ISREG(st.st_mode)) {
		err = rename_scratch_in(fs, src, to, to_git);
	} else if (to_doc && S_ISDIR(st.st_mode)) {
		err = -EXDEV;
	} else {
		/* scratch to scratch, or a new document's placeholder. */
		if ((err = fs_scratch_mkparents(dst)) == 0 &&
		    rename(src, dst) < 0)
			err = -errno;
	}
out:
	if (err < 0 && err != -EEXIST && err != -EXDEV && err != -ENOENT)
		fs_log_op(err == -EINVAL || err == -EFBIG ? LOG_WARNING :
							    LOG_ERR,
			  "rename", from->full, err, "rename to %s: %s",
			  to->full, strerror(-err));
	free(src);
	free(dst);
	return err;
}

static int rename_branch(struct fs *fs, const struct fs_loc *from,
			 const char *to)
{
	int err = chronofs_branch_rename(fs->db, from->branch, to);

	if (err < 0) {
		fs_log_op(LOG_WARNING, "rename", from->branch, err,
			  "branch not renamed to %s: %s", to,
			  chronofs_errmsg(NULL));
		return err;
	}
	fs_branches_changed(fs);
	err = fs_scratch_branch_rename(fs, from->branch, to);
	if (err < 0)
		fs_log_op(LOG_ERR, "rename", to, err,
			  "scratch files of the branch not moved: %s",
			  strerror(-err));
	fs_log(LOG_INFO, "branch %s renamed to %s", from->branch, to);
	return 0;
}

static int do_rename(struct fs *fs, struct fs_node *parent, const char *name,
		     struct fs_node *newparent, const char *newname,
		     unsigned flags)
{
	struct fs_loc from, to, ploc;
	char *full = NULL;
	int err;

	memset(&to, 0, sizeof(to));
	memset(&ploc, 0, sizeof(ploc));
	if (fs->cfg.ro)
		return -EROFS;
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	err = fs_loc_of(fs, parent, name, &from);
	if (err < 0)
		return err;
	if ((err = fs_writable(fs, &from)) < 0 ||
	    (err = fs_loc_of(fs, newparent, NULL, &ploc)) < 0 ||
	    (err = fs_writable(fs, &ploc)) < 0 ||
	    (err = fs_child_full(fs, newparent, newname, &full)) < 0 ||
	    (err = fs_refuse_reserved(ploc.full, newname)) < 0)
		goto out;
	if (from.where == FS_LIVE && !*from.path && ploc.where != FS_LIVE) {
		err = rename_branch(fs, &from, full);
		goto out;
	}
	err = fs_resolve(fs, full, &to);
	if (err == 0 &&
	    (from.where != FS_LIVE || to.where != FS_LIVE || !*from.path ||
	     !*to.path || strcmp(from.branch, to.branch) != 0))
		err = -EXDEV;
	if (err == 0)
		err = rename_live(fs, &from, &to, flags);
out:
	if (err == 0)
		fs_node_move(&fs->nodes, parent, name, newparent, newname);
	free(full);
	fs_loc_release(&ploc);
	fs_loc_release(&to);
	fs_loc_release(&from);
	return err;
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req,
		       -do_rename(fs_of(req), node_of(req, parent), name,
				  node_of(req, newparent), newname, flags));
}
