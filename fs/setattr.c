/* setattr.c - SETATTR: truncate, times, mode and owner, on documents
 * (kept beside the repository) and scratch files (on the real file). */
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

static struct timespec set_time(const struct stat *attr, int to_set,
				int which_set, int which_now, bool mtime)
{
	struct timespec t = { .tv_nsec = UTIME_OMIT };

	if (to_set & which_now)
		t.tv_nsec = UTIME_NOW;
	else if (to_set & which_set)
		t = mtime ? attr->st_mtim : attr->st_atim;
	return t;
}

/* utimens on a document: keep the mtime beside the repository. */
static int doc_times(struct fs *fs, const struct fs_loc *loc,
		     struct timespec mt)
{
	struct cfs_entry e;
	struct cfs_mtime t;
	int err;

	if (mt.tv_nsec == UTIME_OMIT)
		return 0;
	if (mt.tv_nsec == UTIME_NOW)
		clock_gettime(CLOCK_REALTIME, &mt);
	err = fs_live_entry(fs, loc->branch, loc->path, &e, NULL);
	if (err < 0)
		return err;
	t.sec = mt.tv_sec;
	t.nsec = (uint32_t)mt.tv_nsec;
	err = cfs_mtime_set(fs->db, loc->branch, loc->path, &e.oid, &t);
	if (err < 0)
		fs_log_op(LOG_ERR, "utimens", loc->full, err,
			  "mtime not kept: %s", chronofs_errmsg(NULL));
	return err;
}

/* truncate(2) of a document nobody has open: one save of the result. */
static int doc_truncate_closed(struct fs *fs, struct fs_node *n,
			       const struct fs_loc *loc, off_t size)
{
	/* Emptied: the committed bytes need not be read (nor can be, over
	 * max_doc_size). */
	int err = fs_doc_open(fs, n, loc, size == 0, false, NULL);

	if (err < 0)
		return err;
	err = fs_doc_truncate(fs, n, size);
	if (err == 0)
		err = fs_doc_save(fs, n, loc);
	fs_doc_release(fs, n);
	return err;
}

static int setattr_doc(struct fs *fs, struct fs_node *n,
		       const struct fs_loc *loc, const struct stat *attr,
		       int to_set, bool created)
{
	struct timespec ts[2];
	char *real;
	int err = 0;

	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (fs_node_doc(n))
			err = fs_doc_truncate(fs, n, attr->st_size);
		else
			err = doc_truncate_closed(fs, n, loc, attr->st_size);
	}
	ts[0] = set_time(attr, to_set, FUSE_SET_ATTR_ATIME,
			 FUSE_SET_ATTR_ATIME_NOW, false);
	ts[1] = set_time(attr, to_set, FUSE_SET_ATTR_MTIME,
			 FUSE_SET_ATTR_MTIME_NOW, true);
	if (err < 0 || ts[1].tv_nsec == UTIME_OMIT)
		return err;
	/* cp -p and tar set the time on the open file: the save at close
	 * keeps it rather than stamping its own. */
	if (fs_node_doc(n))
		fs_doc_set_mtime(fs, n, &ts[1]);
	if (!created)
		return doc_times(fs, loc, ts[1]);
	/* A new document lives as a placeholder: its times are the file's. */
	err = fs_scratch_of(fs, loc, &real);
	if (err == 0 && utimensat(AT_FDCWD, real, ts, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	free(real);
	return err;
}

static int setattr_scratch(struct fs *fs, const struct fs_loc *loc,
			   const struct stat *attr, int to_set,
			   struct fuse_file_info *fi)
{
	struct fs_fh *fh = fi ? (struct fs_fh *)fi->fh : NULL;
	struct timespec ts[2];
	struct stat st;
	char *real;
	int err = fs_scratch_of(fs, loc, &real);

	if (err < 0)
		return err;
	if (lstat(real, &st) < 0) {
		/* A collection Git holds: keep its mode, owner and times on
		 * a directory in scratch. */
		if (!(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW |
				FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
				FUSE_SET_ATTR_GID)))
			goto out;
		if ((err = fs_scratch_mkparents(real)) < 0 ||
		    (mkdir(real, 0755) < 0 && errno != EEXIST) ||
		    lstat(real, &st) < 0) {
			err = err ? err : -errno;
			goto out;
		}
	}
	/* The kernel follows links before a chmod or truncate reaches us;
	 * the daemon never follows one itself. */
	if (S_ISLNK(st.st_mode) &&
	    (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE))) {
		err = -EOPNOTSUPP;
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		err = fs_scratch_chmod(real, -1, &st, attr->st_mode);
	/* The owner shown is the one held: a chown the daemon may not do
	 * (it does not run as root) fails as it would on disk. */
	if (err == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    lchown(real,
		   (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1,
		   (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1) < 0)
		err = -errno;
	if (err == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		if ((fh && fh->fd >= 0 ? ftruncate(fh->fd, attr->st_size) :
					 truncate(real, attr->st_size)) < 0)
			err = -errno;
	}
	ts[0] = set_time(attr, to_set, FUSE_SET_ATTR_ATIME,
			 FUSE_SET_ATTR_ATIME_NOW, false);
	ts[1] = set_time(attr, to_set, FUSE_SET_ATTR_MTIME,
			 FUSE_SET_ATTR_MTIME_NOW, true);
	if (err == 0 &&
	    (ts[0].tv_nsec != UTIME_OMIT || ts[1].tv_nsec != UTIME_OMIT) &&
	    utimensat(AT_FDCWD, real, ts, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
out:
	free(real);
	return err;
}

static int do_setattr(struct fs *fs, struct fs_node *n, struct stat *attr,
		      int to_set, struct fuse_file_info *fi)
{
	struct fs_loc loc;
	struct cfs_entry e;
	bool created;
	int err = fs_loc_of(fs, n, NULL, &loc);

	if (err < 0 || (err = fs_writable(fs, &loc)) < 0)
		goto out;
	/* The root and branch roots are the mount's: their mode and owner
	 * cannot change (EPERM, as for a file one does not own); times may
	 * be set and change nothing. */
	if ((loc.where != FS_LIVE || !*loc.path) &&
	    (to_set &
	     (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		err = -EPERM;
		goto out;
	}
	if (loc.where == FS_LIVE && *loc.path) {
		/* A link committed by others is shown read-only. */
		if (fs_live_entry(fs, loc.branch, loc.path, &e, NULL) == 0 &&
		    e.kind == CFS_LINK)
			err = (to_set &
			       ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW |
				 FUSE_SET_ATTR_MTIME |
				 FUSE_SET_ATTR_MTIME_NOW)) ?
				      -EPERM :
				      0;
		else if (fs_is_doc(fs, &loc, &created, &e))
			err = setattr_doc(fs, n, &loc, attr, to_set, created);
		else
			err = setattr_scratch(fs, &loc, attr, to_set, fi);
	}
	if (err == 0)
		err = fs_stat_loc(fs, &loc, n, attr);
	if (err == 0)
		fs_stat_ino(attr, n);
out:
	fs_loc_release(&loc);
	return err;
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi)
{
	int err = do_setattr(fs_of(req), node_of(req, ino), attr, to_set, fi);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, attr, ATTR_TIMEOUT);
}
