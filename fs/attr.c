/* attr.c - what stat shows: documents from Git (mode 0644, the mounting
 * user as owner, mtime as a client set it or as the save that wrote it,
 * else the head commit's time), scratch files as they are on disk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "banned.h"

int fs_live_entry(struct fs *fs, const char *branch, const char *path,
		  struct cfs_entry *e, struct cfs_oid *head)
{
	struct cfs_oid h;
	int err;

	err = cfs_head(fs->db, branch, &h);
	if (err < 0)
		return err;
	if (head)
		*head = h;
	err = cfs_stat(fs->db, &h, path, e);
	if (err < 0)
		return err;
	if (e->kind == CFS_DOC && fs_pending_has(fs->pending, branch, path))
		return -ENOENT;
	return 0;
}

void fs_stat_fill(struct fs *fs, struct stat *st, const char *full, mode_t mode,
		  time_t mtime, off_t size)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_path_ino(full);
	st->st_mode = mode;
	/* Directories: 1, as btrfs says, "not counted": 2 + subdirectories
	 * would cost a listing per stat, and find(1) takes 1 to mean it
	 * must not guess from the count. */
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
	st->st_size = size;
	st->st_blksize = FS_BLKSIZE;
	st->st_blocks = (size + FS_SECTOR - 1) / FS_SECTOR;
}

static void fill_dir(struct fs *fs, struct stat *st, const char *full,
		     time_t mtime)
{
	fs_stat_fill(fs, st, full, S_IFDIR | 0755, mtime, 0);
}

static time_t head_time(struct fs *fs, const struct cfs_oid *head)
{
	int64_t t = 0;

	cfs_commit_time(fs->db, head, &t);
	return (time_t)t;
}

static void doc_mtime(struct fs *fs, const struct fs_loc *loc,
		      const struct cfs_entry *e, const struct cfs_oid *head,
		      struct stat *st)
{
	struct cfs_mtime t;

	if (cfs_mtime_get(fs->db, loc->branch, loc->path, &e->oid, &t) == 0) {
		st->st_mtim.tv_sec = t.sec;
		st->st_mtim.tv_nsec = t.nsec;
	} else {
		st->st_mtim.tv_sec = head_time(fs, head);
	}
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

#define OWN_INO 1 /* in st_dev: st_ino is the backing file's */

uint64_t fs_scratch_ino(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ (uint64_t)ino;

	h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return h <= 1 ? h + 2 : h; /* clear of 0 and the root's 1 */
}

void fs_stat_ino(struct stat *st, const struct fs_node *n)
{
	if (st->st_dev != OWN_INO)
		st->st_ino = n->ino;
	st->st_dev = 0;
}

/* What a scratch entry holds: its type and mode, owner, links, device
 * and times, as on a local file system; for files its inode number
 * (hard links share it). */
static void scratch_attrs(struct stat *st, const struct stat *real,
			  const char *path, int fd)
{
	if (!S_ISDIR(real->st_mode)) {
		st->st_ino = fs_scratch_ino(real->st_dev, real->st_ino);
		st->st_dev = OWN_INO;
	}
	st->st_mode = fs_scratch_shown_mode(path, fd, real->st_mode);
	st->st_uid = real->st_uid;
	st->st_gid = real->st_gid;
	st->st_rdev = real->st_rdev;
	if (!S_ISDIR(real->st_mode))
		st->st_nlink = real->st_nlink;
	st->st_mtim = real->st_mtim;
	st->st_ctim = real->st_ctim;
	st->st_atim = real->st_atim;
}

int fs_stat_open(struct fs *fs, struct fs_node *n, int fd, struct stat *st)
{
	struct stat real;
	off_t size;

	if (fd >= 0) {
		if (fstat(fd, &real) < 0)
			return -errno;
		fs_stat_fill(fs, st, "", real.st_mode, 0, real.st_size);
		scratch_attrs(st, &real, NULL, fd);
	} else if (fs_doc_size(fs, n, &size)) {
		fs_stat_fill(fs, st, "", S_IFREG | 0644, time(NULL), size);
		st->st_nlink = 0; /* its name is gone */
	} else {
		return -ENOENT;
	}
	fs_stat_ino(st, n);
	return 0;
}

static int stat_live(struct fs *fs, const struct fs_loc *loc, struct fs_node *n,
		     struct stat *st)
{
	struct cfs_entry e;
	struct cfs_oid head;
	struct stat real;
	char *scratch = NULL;
	int err, serr;

	err = fs_live_entry(fs, loc->branch, loc->path, &e, &head);
	if (err < 0 && err != -ENOENT)
		return err;
	/* The scratch area matters for what Git lacks, and for the times of
	 * collections; a committed document needs no look there. */
	serr = -ENOENT;
	if (err < 0 || e.kind == CFS_DIR) {
		serr = fs_scratch_path(fs, loc->branch, loc->path, &scratch);
		if (serr < 0)
			return serr;
		serr = lstat(scratch, &real) < 0 ? -errno : 0;
	}
	if (err == 0 && e.kind == CFS_DIR) {
		fill_dir(fs, st, loc->full, head_time(fs, &head));
		/* Its mode, owner and times, if a client set them or made
		 * it with mkdir, are kept on its directory in scratch. */
		if (serr == 0 && S_ISDIR(real.st_mode))
			scratch_attrs(st, &real, scratch, -1);
		free(scratch);
		return 0;
	}
	if (err == 0 && e.kind == CFS_LINK) {
		/* A symbolic link committed by others: shown, read-only. */
		fs_stat_fill(fs, st, loc->full, S_IFLNK | 0777,
			     head_time(fs, &head), (off_t)e.size);
		return 0;
	}
	if (err == 0) {
		fs_stat_fill(fs, st, loc->full,
			     S_IFREG | (cfs_is_document_path(loc->path) ? 0644 :
									  0444),
			     0, (off_t)e.size);
		doc_mtime(fs, loc, &e, &head, st);
	} else if (serr == 0) {
		fs_stat_fill(fs, st, loc->full, real.st_mode, 0, real.st_size);
		if (S_ISREG(real.st_mode) && cfs_is_document_path(loc->path)) {
			/* A new document's placeholder: a document. */
			st->st_mode = S_IFREG | 0644;
			st->st_mtim = real.st_mtim;
			st->st_ctim = real.st_ctim;
			st->st_atim = real.st_atim;
		} else {
			scratch_attrs(st, &real, scratch, -1);
		}
	} else {
		free(scratch);
		return -ENOENT;
	}
	free(scratch);
	if (n && S_ISREG(st->st_mode))
		fs_doc_size(fs, n, &st->st_size);
	return 0;
}

/* MNT/@log: read-only, its size what a read gives now (reads do not
 * trust it: the file is opened direct_io). */
static int stat_log(struct fs *fs, const struct fs_loc *loc, struct stat *st)
{
	size_t len;
	time_t newest;

	fs_log_ring_stat(&len, &newest);
	fs_stat_fill(fs, st, loc->full, S_IFREG | 0444,
		     newest ? newest : fs->started, (off_t)len);
	return 0;
}

/* A branch root changes with its head's commits and with scratch entries
 * made or removed in it: the newer of the two. */
static void branch_root_mtime(struct fs *fs, const struct fs_loc *loc,
			      struct stat *st)
{
	struct stat real;
	char *dir;

	if (fs_scratch_branch_dir(fs, loc->branch, &dir) < 0)
		return;
	if (lstat(dir, &real) == 0 && S_ISDIR(real.st_mode) &&
	    (real.st_mtim.tv_sec > st->st_mtim.tv_sec ||
	     (real.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	      real.st_mtim.tv_nsec > st->st_mtim.tv_nsec))) {
		st->st_mtim = real.st_mtim;
		st->st_ctim = real.st_ctim;
	}
	free(dir);
}

int fs_stat_loc(struct fs *fs, const struct fs_loc *loc, struct fs_node *n,
		struct stat *st)
{
	struct cfs_oid head;

	switch (loc->where) {
	case FS_ROOT:
	case FS_PREFIX:
		fill_dir(fs, st, loc->full, fs->started);
		return 0;
	case FS_LIVE:
		if (*loc->path)
			return stat_live(fs, loc, n, st);
		if (cfs_head(fs->db, loc->branch, &head) == 0)
			fill_dir(fs, st, loc->full, head_time(fs, &head));
		else if (fs_branch_unborn(fs, loc->branch))
			fill_dir(fs, st, loc->full, fs->started);
		else
			return -ENOENT;
		branch_root_mtime(fs, loc, st);
		return 0;
	case FS_SNAP:
	case FS_HISTORY:
	case FS_CONFLICTS:
		return fs_history_stat(fs, loc, st);
	case FS_ORDER:
		return fs_order_stat(fs, loc, st);
	case FS_LOG:
		return stat_log(fs, loc, st);
	case FS_SYNC:
		return fs_sync_stat(fs, loc, st);
	}
	return -ENOENT;
}
