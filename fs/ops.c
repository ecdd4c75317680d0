/* ops.c - the FUSE low-level operations: each decodes the request, calls
 * one do_* helper returning 0 or -errno, and replies exactly once.
 *
 * Caching, decided here and nowhere else:
 * - Inside a live branch, names are cached by the kernel for LIVE_TIMEOUT
 *   and a file's attributes for LIVE_ATTR_TIMEOUT (directories' not at
 *   all), as passthrough_ll does by default: `ls -l`, `cat` and rsync
 *   cost a round trip per page of names or per read, not one more per
 *   stat. Within that second a stat may show the size or existence from
 *   before an outside commit; writes through the mount update it at once
 *   (the kernel drops a file's attributes when it writes). A read is never
 *   cut short by a stale size: an open that finds the blob changed since
 *   the kernel last read the document drops its cached attributes (and
 *   pages). Pages are kept across opens
 *   while the document's blob is the one the kernel last read
 *   (keep_cache), since a blob never changes; any open for writing starts
 *   the pages afresh.
 * - The root, branch directories and the views that follow new commits
 *   (history, the head's own snapshot, ordered views) get ENTRY_TIMEOUT
 *   for names and no attribute caching: branches come and go from outside.
 * - Snapshots pinned to a commit are cached for FS_SNAP_TIMEOUT, their
 *   directory listings too (cache_readdir). The snapshot's own name is
 *   looked up again after ENTRY_TIMEOUT; when it has come to name another
 *   commit (a rewrite, a commit with a slow clock) it gets a new node, so
 *   the kernel drops everything it cached below the old one. Reads and
 *   stat of the name itself are never stale.
 * - Negative lookups are not cached: outside commits add names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs.h"
#include "history.h"
#include "log.h"
#include "ops.h"

#define ENTRY_TIMEOUT 1.0
#define ATTR_TIMEOUT 0.0
#define LIVE_TIMEOUT 30.0
#define LIVE_ATTR_TIMEOUT 1.0

/* An open file: a document (shared buffer on the node), a scratch fd, or
 * the bytes of a read-only view. All are on fs->open_files. */
struct listing;

struct fs_fh {
	int fd;	    /* scratch file, or -1 */
	char *data; /* a snapshot's or a version's bytes (immutable) */
	size_t len;
	struct listing *listing; /* an open directory */
	bool writable;		 /* opened for writing: its close saves */
	struct fs_node *node;
	struct fs_fh *prev, *next;
};

static void listing_free(struct listing *l);

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_node *node_of(fuse_req_t req, fuse_ino_t ino)
{
	return fs_node_get(&fs_of(req)->nodes, ino);
}

/* Resolve node N (or its child NAME). */
static int loc_of(struct fs *fs, struct fs_node *n, const char *name,
		  struct fs_loc *loc)
{
	char *full;
	int err;

	memset(loc, 0, sizeof(*loc));
	if (name && strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	err = fs_node_path(&fs->nodes, n, name, &full);
	if (err < 0)
		return err;
	err = fs_resolve(fs, full, loc);
	free(full);
	return err;
}

/* The full path of child NAME of N, for names that do not exist yet. */
static int child_full(struct fs *fs, struct fs_node *n, const char *name,
		      char **out)
{
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	return fs_node_path(&fs->nodes, n, name, out);
}

static int refuse_reserved(const char *where, const char *name)
{
	if (!fs_name_reserved(name))
		return 0;
	fs_log(LOG_WARNING, "%s/%s: names beginning with '@' are reserved",
	       where, name);
	return -EINVAL;
}

/* Changes inside snapshots and history fail with EROFS, as on a
 * read-only mount. */
static int writable(const struct fs *fs, const struct fs_loc *loc)
{
	if (fs->cfg.ro || fs_loc_readonly(loc))
		return -EROFS;
	return 0;
}

static bool snap_root(const struct fs_loc *loc)
{
	return loc->where == FS_SNAP && !*loc->path;
}

static double entry_timeout(const struct fs_loc *loc)
{
	/* A snapshot's own name is looked up again after ENTRY_TIMEOUT: if
	 * it names another commit by then, it gets a new node (see
	 * fs_node_ref) and the kernel drops all it cached below. */
	if (snap_root(loc))
		return ENTRY_TIMEOUT;
	if (fs_loc_frozen(loc))
		return FS_SNAP_TIMEOUT;
	return loc->where == FS_LIVE && *loc->path ? LIVE_TIMEOUT
						   : ENTRY_TIMEOUT;
}

static double attr_timeout(const struct fs_loc *loc, mode_t mode)
{
	/* stat of a snapshot's name tells at once that it is gone. */
	if (snap_root(loc))
		return 0;
	if (loc->where == FS_LIVE && S_ISREG(mode))
		return LIVE_ATTR_TIMEOUT;
	return fs_loc_frozen(loc) ? FS_SNAP_TIMEOUT : ATTR_TIMEOUT;
}

static int scratch_of(struct fs *fs, const struct fs_loc *loc, char **out)
{
	return fs_scratch_path(fs, loc->branch, loc->path, out);
}

/* Is LOC a document: in Git, or a new one held in scratch? */
/* *E is its entry when it is in Git (*created false). */
static bool is_doc(struct fs *fs, const struct fs_loc *loc, bool *created,
		   struct store_entry *e)
{
	struct stat st;
	char *real;
	bool found = false;

	*created = false;
	if (loc->where != FS_LIVE || !*loc->path)
		return false;
	if (fs_live_entry(fs, loc->branch, loc->path, e, NULL) == 0)
		return e->kind == STORE_DOC;
	if (!store_is_document_path(loc->path) || scratch_of(fs, loc, &real) < 0)
		return false;
	found = lstat(real, &st) == 0 && S_ISREG(st.st_mode);
	free(real);
	*created = found;
	return found;
}

static void fill_entry(struct fs *fs, struct fs_node *n, const struct stat *st,
		       const struct fs_loc *loc, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = fs_node_ino(&fs->nodes, n);
	e->attr = *st;
	e->attr.st_ino = n->ino;
	e->attr_timeout = attr_timeout(loc, st->st_mode);
	e->entry_timeout = entry_timeout(loc);
	fs_doc_size(fs, n, &e->attr.st_size);
}

/* Look NAME up in PARENT and count the kernel's reference. */
static int do_lookup(struct fs *fs, struct fs_node *parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct fs_loc loc;
	struct fs_node *n;
	struct stat st;
	int err;

	err = loc_of(fs, parent, name, &loc);
	if (err == 0)
		err = fs_stat_loc(fs, &loc, NULL, &st);
	if (err == 0)
		err = fs_node_ref(&fs->nodes, parent, name,
				  loc.where == FS_SNAP ? loc.commit.id : NULL,
				  snap_root(&loc) && loc.frozen, &n);
	if (err == 0)
		fill_entry(fs, n, &st, &loc, e);
	fs_loc_release(&loc);
	return err;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = do_lookup(fs_of(req), node_of(req, parent), name, &e);

	if (err == -ENOENT) {
		/* A negative entry, not cached: outside commits add names. */
		memset(&e, 0, sizeof(e));
		fuse_reply_entry(req, &e);
	} else if (err < 0) {
		fuse_reply_err(req, -err);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_node_forget(&fs_of(req)->nodes, node_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_node_forget(&fs_of(req)->nodes,
			       node_of(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static int do_getattr(struct fs *fs, struct fs_node *n, struct stat *st,
		      double *timeout)
{
	struct fs_loc loc;
	int err = loc_of(fs, n, NULL, &loc);

	if (err == 0)
		err = fs_stat_loc(fs, &loc, n, st);
	if (err == 0) {
		st->st_ino = n->ino;
		*timeout = attr_timeout(&loc, st->st_mode);
	}
	fs_loc_release(&loc);
	return err;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	double timeout = ATTR_TIMEOUT;
	int err = do_getattr(fs_of(req), node_of(req, ino), &st, &timeout);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, timeout);
}

static struct timespec set_time(const struct stat *attr, int to_set,
				int which_set, int which_now, bool mtime)
{
	struct timespec t = {.tv_nsec = UTIME_OMIT};

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
	struct store_entry e;
	struct idx_mtime t;
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
	err = idx_mtime_set(fs->db, loc->branch, loc->path, e.oid.id, &t);
	if (err < 0)
		fs_log(LOG_ERR, "%s: mtime not kept: %s", loc->full,
		       idx_errmsg());
	return err;
}

/* truncate(2) of a document nobody has open: one save of the result. */
static int doc_truncate_closed(struct fs *fs, struct fs_node *n,
			       const struct fs_loc *loc, off_t size)
{
	int err = fs_doc_open(fs, n, loc, false, false, NULL);

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
		if (n->doc)
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
	if (n->doc)
		fs_doc_set_mtime(fs, n, &ts[1]);
	if (!created)
		return doc_times(fs, loc, ts[1]);
	/* A new document lives as a placeholder: its times are the file's. */
	err = scratch_of(fs, loc, &real);
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
	int err = scratch_of(fs, loc, &real);

	if (err < 0)
		return err;
	if (lstat(real, &st) < 0) {
		/* A collection Git holds: keep its times in a scratch dir. */
		if (!(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)))
			goto out;
		if ((err = fs_scratch_mkparents(real)) < 0 ||
		    (mkdir(real, 0755) < 0 && errno != EEXIST)) {
			err = err ? err : -errno;
			goto out;
		}
	}
	if ((to_set & FUSE_SET_ATTR_MODE) &&
	    chmod(real, attr->st_mode & 07777) < 0)
		err = -errno;
	if (err == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    lchown(real, (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1,
		   (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1) < 0)
		err = errno == EPERM ? 0 : -errno; /* shown as ours anyway */
	if (err == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		if ((fh && fh->fd >= 0 ? ftruncate(fh->fd, attr->st_size)
				       : truncate(real, attr->st_size)) < 0)
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
	struct store_entry e;
	bool created;
	int err = loc_of(fs, n, NULL, &loc);

	if (err < 0 || (err = writable(fs, &loc)) < 0)
		goto out;
	/* Branches and the root take chmod/chown/utimens as no-ops. */
	if (loc.where == FS_LIVE && *loc.path) {
		if (is_doc(fs, &loc, &created, &e))
			err = setattr_doc(fs, n, &loc, attr, to_set, created);
		else
			err = setattr_scratch(fs, &loc, attr, to_set, fi);
	}
	if (err == 0)
		err = fs_stat_loc(fs, &loc, n, attr);
	if (err == 0)
		attr->st_ino = n->ino;
out:
	fs_loc_release(&loc);
	return err;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	int err = do_setattr(fs_of(req), node_of(req, ino), attr, to_set, fi);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, attr, ATTR_TIMEOUT);
}

/* After a create: look the new name up for the reply. */
static int entry_for(struct fs *fs, struct fs_node *parent, const char *name,
		     struct fuse_entry_param *e, struct fs_node **out)
{
	int err = do_lookup(fs, parent, name, e);

	if (err == 0 && out)
		*out = fs_node_get(&fs->nodes, e->ino);
	return err;
}

static int do_mkdir(struct fs *fs, struct fs_node *parent, const char *name,
		    struct fuse_entry_param *e)
{
	struct fs_loc ploc, loc;
	char *full = NULL, *real = NULL;
	struct stat st;
	int err;

	memset(&loc, 0, sizeof(loc));
	if (fs->cfg.ro)
		return -EROFS;
	err = loc_of(fs, parent, NULL, &ploc);
	if (err < 0)
		return err;
	if ((err = writable(fs, &ploc)) < 0 ||
	    (err = child_full(fs, parent, name, &full)) < 0 ||
	    (err = refuse_reserved(ploc.full, name)) < 0)
		goto out;
	if (ploc.where != FS_LIVE) {
		/* mkdir at the root makes a branch at HEAD's head. */
		err = store_branch_create(fs->st, full);
		if (err < 0) {
			fs_log(err == -EINVAL ? LOG_WARNING : LOG_ERR,
			       "mkdir %s: %s", full, store_errmsg());
			goto out;
		}
		fs_branches_changed(fs);
	} else {
		err = fs_resolve(fs, full, &loc);
		if (err == 0 && fs_stat_loc(fs, &loc, NULL, &st) == 0)
			err = -EEXIST;
		if (err == 0 && (err = scratch_of(fs, &loc, &real)) == 0 &&
		    (err = fs_scratch_mkparents(real)) == 0 &&
		    mkdir(real, 0755) < 0)
			err = -errno;
	}
	if (err == 0)
		err = entry_for(fs, parent, name, e, NULL);
out:
	free(real);
	free(full);
	fs_loc_release(&loc);
	fs_loc_release(&ploc);
	return err;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fuse_entry_param e;
	int err = do_mkdir(fs_of(req), node_of(req, parent), name, &e);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

/* Delete a document: one commit. */
static int delete_doc(struct fs *fs, const struct fs_loc *loc)
{
	struct store_change c = {.op = STORE_DELETE, .path = loc->path};
	int err = fs_commit(fs, loc->branch, &c, NULL, NULL);

	if (err < 0) {
		fs_log(err == -ENOENT ? LOG_DEBUG : LOG_ERR, "delete %s: %s",
		       loc->full, store_errmsg());
		return err;
	}
	fs_log(LOG_INFO, "%s: deleted", loc->full);
	return 0;
}

static int do_unlink(struct fs *fs, struct fs_node *parent, const char *name)
{
	struct store_entry e;
	struct fs_loc loc;
	char *real = NULL;
	int err, gerr;

	if (fs->cfg.ro)
		return -EROFS;
	err = loc_of(fs, parent, name, &loc);
	if (err < 0)
		return err;
	if ((err = writable(fs, &loc)) < 0)
		goto out;
	if (loc.where != FS_LIVE || !*loc.path) {
		err = -EISDIR;
		goto out;
	}
	gerr = fs_live_entry(fs, loc.branch, loc.path, &e, NULL);
	if (gerr == 0 && e.kind == STORE_DIR) {
		err = -EISDIR;
		goto out;
	}
	if (gerr == 0 && (err = delete_doc(fs, &loc)) < 0)
		goto out;
	/* The scratch file (or a new document's placeholder) of that name. */
	if ((err = scratch_of(fs, &loc, &real)) < 0)
		goto out;
	if (unlink(real) == 0)
		fs_pending_backup_gone(fs->pending, loc.branch, loc.path);
	else if (gerr != 0)
		err = -errno;
out:
	free(real);
	fs_loc_release(&loc);
	return err;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_unlink(fs_of(req), node_of(req, parent), name));
}

/* Does the branch hold anything at all (documents or scratch files)? */
static int count_cb(void *ctx, const char *name, const struct store_entry *e)
{
	(*(size_t *)ctx)++;
	return 0;
}

static bool dir_is_empty(struct fs *fs, const struct fs_loc *loc)
{
	struct store_oid head;
	size_t n = 0;

	return store_branch_head(fs->st, loc->branch, &head) == 0 &&
	       store_readdir(fs->st, &head, loc->path, count_cb, &n) == 0 &&
	       n == 0;
}

static int delete_branch(struct fs *fs, const struct fs_loc *loc)
{
	struct store_oid head;
	size_t n = 0;
	int err;

	err = store_branch_head(fs->st, loc->branch, &head);
	if (err == 0)
		err = store_readdir(fs->st, &head, "", count_cb, &n);
	if (err == 0 && n > 0)
		err = -ENOTEMPTY;
	if (err == 0)
		err = fs_scratch_branch_clear(fs, loc->branch);
	if (err == 0)
		err = store_branch_delete(fs->st, loc->branch);
	if (err < 0 && err != -ENOTEMPTY)
		fs_log(LOG_WARNING, "rmdir %s: %s", loc->full, store_errmsg());
	if (err == 0) {
		fs_log(LOG_INFO, "branch %s deleted", loc->branch);
		fs_branches_changed(fs);
		if (idx_history_drop(fs->db, loc->branch) < 0)
			fs_log(LOG_ERR, "index of branch %s: %s", loc->branch,
			       idx_errmsg());
	}
	return err;
}

static int do_rmdir(struct fs *fs, struct fs_node *parent, const char *name)
{
	struct store_entry e;
	struct fs_loc loc;
	char *real = NULL;
	int err;

	if (fs->cfg.ro)
		return -EROFS;
	err = loc_of(fs, parent, name, &loc);
	if (err < 0)
		return err;
	if ((err = writable(fs, &loc)) < 0) {
	} else if (loc.where == FS_PREFIX) {
		err = -ENOTEMPTY;
	} else if (loc.where == FS_LIVE && !*loc.path) {
		err = delete_branch(fs, &loc);
	} else if (loc.where == FS_LIVE) {
		err = fs_live_entry(fs, loc.branch, loc.path, &e, NULL);
		/* A fanout collection emptied keeps only its marker in Git:
		 * empty to the eye, so its rmdir succeeds too. */
		if (err == 0 && e.kind == STORE_DIR && dir_is_empty(fs, &loc))
			err = -ENOENT;
		else if (err == 0)
			err = e.kind == STORE_DIR ? -ENOTEMPTY : -ENOTDIR;
		else if (err == -ENOENT && (err = scratch_of(fs, &loc, &real)) == 0 &&
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

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_rmdir(fs_of(req), node_of(req, parent), name));
}

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

static int write_file(const char *path, const char *buf, size_t len,
		      const struct timespec *mtime)
{
	struct timespec ts[2] = {*mtime, *mtime};
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
	if (err == 0 && futimens(fd, ts) < 0)
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	return err;
}

/* x.json -> x.json~ : copy to scratch now, delete later (pending.c). */
static int rename_doc_away(struct fs *fs, const struct fs_loc *from,
			   const struct fs_loc *to, const struct store_entry *e)
{
	struct timespec mt;
	struct stat st;
	char *buf = NULL, *real = NULL;
	size_t len;
	int err;

	err = store_blob_read(fs->st, &e->oid, &buf, &len);
	if (err < 0)
		return err;
	if (fs_stat_loc(fs, from, NULL, &st) == 0)
		mt = st.st_mtim;
	else
		clock_gettime(CLOCK_REALTIME, &mt);
	if ((err = scratch_of(fs, to, &real)) == 0 &&
	    (err = write_file(real, buf, len, &mt)) == 0)
		err = fs_pending_add(fs->pending, from->branch, from->path,
				     to->path);
	free(real);
	free(buf);
	return err;
}

/* The mtime a document had moves with it on rename. */
static void move_mtime(struct fs *fs, const struct fs_loc *from,
		       const struct fs_loc *to, const struct store_entry *e)
{
	struct idx_mtime t;

	if (idx_mtime_get(fs->db, from->branch, from->path, e->oid.id, &t) ==
	    0)
		idx_mtime_set(fs->db, to->branch, to->path, e->oid.id, &t);
}

/* scratch -> document name: the temporary-and-rename save. */
static int rename_scratch_in(struct fs *fs, const char *src,
			     const struct fs_loc *to)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int err;

	err = read_file(src, fs->cfg.max_doc_size, &buf, &len, &st);
	if (err == -EFBIG)
		fs_log(LOG_WARNING, "%s: over max_doc_size", to->full);
	if (err == 0)
		err = fs_save_bytes(fs, to->branch, to->path, buf, len,
				    &st.st_mtim);
	if (err == 0 && unlink(src) < 0)
		err = -errno;
	free(buf);
	return err;
}

static int rename_live(struct fs *fs, const struct fs_loc *from,
		       const struct fs_loc *to, unsigned flags)
{
	struct store_entry e, te;
	struct stat st;
	char *src = NULL, *dst = NULL;
	bool from_git, to_doc = store_is_document_path(to->path);
	int err;

	if (flags & RENAME_NOREPLACE && fs_stat_loc(fs, to, NULL, &st) == 0)
		return -EEXIST;
	err = fs_live_entry(fs, from->branch, from->path, &e, NULL);
	if (err < 0 && err != -ENOENT)
		return err;
	from_git = err == 0;
	if (from_git && e.kind == STORE_DIR)
		return -EXDEV; /* mv copies collections, one save each */
	if (fs_live_entry(fs, to->branch, to->path, &te, NULL) == 0 &&
	    te.kind == STORE_DIR)
		return -EISDIR;
	if ((err = scratch_of(fs, from, &src)) < 0 ||
	    (err = scratch_of(fs, to, &dst)) < 0)
		goto out;
	if (from_git && to_doc) {
		struct store_change c = {.op = STORE_RENAME,
					 .path = from->path,
					 .to = to->path};

		err = fs_commit(fs, from->branch, &c, NULL, NULL);
		if (err >= 0) {
			err = 0;
			move_mtime(fs, from, to, &e);
			fs_pending_drop(fs->pending, to->branch, to->path);
			unlink(dst); /* a placeholder of that name */
			fs_log(LOG_INFO, "%s: renamed to %s", from->full,
			       to->path);
		}
	} else if (from_git) {
		err = rename_doc_away(fs, from, to, &e);
	} else if (lstat(src, &st) < 0) {
		err = -errno;
	} else if (to_doc && !store_is_document_path(from->path) &&
		   S_ISREG(st.st_mode)) {
		err = rename_scratch_in(fs, src, to);
	} else if (to_doc && S_ISDIR(st.st_mode)) {
		err = -EXDEV;
	} else {
		/* scratch to scratch, or a new document's placeholder. */
		if ((err = fs_scratch_mkparents(dst)) == 0 && rename(src, dst) < 0)
			err = -errno;
	}
out:
	if (err < 0 && err != -EEXIST && err != -EXDEV && err != -ENOENT)
		fs_log(err == -EINVAL || err == -EFBIG ? LOG_WARNING : LOG_ERR,
		       "rename %s -> %s: %s", from->full, to->full,
		       strerror(-err));
	free(src);
	free(dst);
	return err;
}

static int rename_branch(struct fs *fs, const struct fs_loc *from,
			 const char *to)
{
	int err = store_branch_rename(fs->st, from->branch, to);

	if (err < 0) {
		fs_log(LOG_WARNING, "rename branch %s -> %s: %s", from->branch,
		       to, store_errmsg());
		return err;
	}
	fs_branches_changed(fs);
	/* The index follows names: the new name is indexed on first use. */
	if (idx_history_drop(fs->db, from->branch) < 0)
		fs_log(LOG_ERR, "index of branch %s: %s", from->branch,
		       idx_errmsg());
	err = fs_scratch_branch_rename(fs, from->branch, to);
	if (err < 0)
		fs_log(LOG_ERR, "scratch of branch %s not moved: %s", to,
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
	err = loc_of(fs, parent, name, &from);
	if (err < 0)
		return err;
	if ((err = writable(fs, &from)) < 0 ||
	    (err = loc_of(fs, newparent, NULL, &ploc)) < 0 ||
	    (err = writable(fs, &ploc)) < 0 ||
	    (err = child_full(fs, newparent, newname, &full)) < 0 ||
	    (err = refuse_reserved(ploc.full, newname)) < 0)
		goto out;
	if (from.where == FS_LIVE && !*from.path && ploc.where != FS_LIVE) {
		err = rename_branch(fs, &from, full);
		goto out;
	}
	err = fs_resolve(fs, full, &to);
	if (err == 0 && (from.where != FS_LIVE || to.where != FS_LIVE ||
			 !*from.path || !*to.path ||
			 strcmp(from.branch, to.branch) != 0))
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

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	fuse_reply_err(req, -do_rename(fs_of(req), node_of(req, parent), name,
				       node_of(req, newparent), newname,
				       flags));
}

static struct fs_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct fs_fh *)(uintptr_t)fi->fh;
}

static int open_fh(struct fs *fs, struct fs_node *n,
		   struct fuse_file_info *fi, int fd)
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
static void close_fh(struct fs *fs, struct fs_fh *fh)
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
		listing_free(fh->listing);
	else if (fh->node)
		fs_doc_release(fs, fh->node);
	free(fh);
}

void fs_ops_release_all(struct fs *fs)
{
	while (fs->open_files)
		close_fh(fs, fs->open_files);
}

/* May the kernel keep the pages (or listing) it holds for N in snapshot
 * LOC? Only if LOC is frozen and they came from LOC's commit: until the
 * kernel looks the snapshot's name up again, N may be reached by a name
 * that now resolves elsewhere. Then its attributes are dropped too (only
 * attributes: this takes no lock an open holds). */
static bool frozen_cache_ok(struct fs *fs, struct fs_node *n,
			    const struct fs_loc *loc)
{
	if (loc->where != FS_SNAP)
		return false;
	if (fs_node_same_commit(&fs->nodes, n, loc->commit.id))
		return loc->frozen;
	if (fs->se)
		fuse_lowlevel_notify_inval_inode(fs->se,
						 fs_node_ino(&fs->nodes, n), -1, 0);
	return false;
}

static int do_open(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi)
{
	bool wr = (fi->flags & O_ACCMODE) != O_RDONLY, created;
	struct store_entry e;
	struct fs_loc loc;
	struct stat st;
	char *real = NULL;
	int err, fd;

	err = loc_of(fs, n, NULL, &loc);
	if (err < 0)
		return err;
	if (wr && (err = writable(fs, &loc)) < 0) {
	} else if (fs_loc_readonly(&loc)) {
		char *data = NULL;
		size_t len = 0;

		err = loc.where == FS_ORDER
			      ? fs_order_read(fs, &loc, &data, &len)
			      : fs_history_read(fs, &loc, &data, &len);
		if (err == 0 && (err = open_fh(fs, NULL, fi, -1)) == 0) {
			fh_of(fi)->data = data;
			fh_of(fi)->len = len;
			fi->keep_cache = frozen_cache_ok(fs, n, &loc);
		} else {
			free(data);
		}
	} else if (loc.where != FS_LIVE || !*loc.path) {
		err = -EISDIR;
	} else if (is_doc(fs, &loc, &created, &e)) {
		if (wr && !store_is_document_path(loc.path))
			err = -EACCES; /* a non-JSON file committed by git */
		else
			err = fs_doc_open(fs, n, &loc,
					  wr && (fi->flags & O_TRUNC), created,
					  created ? NULL : &e);
		if (err == 0 && (err = open_fh(fs, n, fi, -1)) < 0)
			fs_doc_release(fs, n);
		if (err == 0)
			fi->keep_cache = fs_doc_keep_cache(fs, n, wr);
		/* New content: sizes from a listing may be stale too. Only
		 * attributes: this takes no lock the open holds. */
		if (err == 0 && !wr && !fi->keep_cache && fs->se)
			fuse_lowlevel_notify_inval_inode(
				fs->se, fs_node_ino(&fs->nodes, n), -1, 0);
	} else if ((err = scratch_of(fs, &loc, &real)) == 0) {
		if (lstat(real, &st) == 0 && S_ISDIR(st.st_mode))
			err = -EISDIR;
		else if ((fd = open(real, (fi->flags & ~O_CREAT) | O_NOFOLLOW)) <
			 0)
			err = -errno;
		else
			err = open_fh(fs, n, fi, fd);
	}
	free(real);
	fs_loc_release(&loc);
	return err;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err = do_open(fs_of(req), node_of(req, ino), fi);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_open(req, fi);
}

static int do_create(struct fs *fs, struct fs_node *parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi,
		     struct fuse_entry_param *e)
{
	struct fs_loc loc, ploc;
	struct fs_node *n = NULL;
	char *real = NULL;
	bool doc;
	int err, fd = -1;

	memset(&loc, 0, sizeof(loc));
	if (fs->cfg.ro)
		return -EROFS;
	err = loc_of(fs, parent, NULL, &ploc);
	if (err < 0)
		return err;
	if ((err = writable(fs, &ploc)) < 0 ||
	    (err = refuse_reserved(ploc.full, name)) < 0)
		goto out;
	if (ploc.where != FS_LIVE) {
		err = -EPERM; /* only branches live at the root */
		goto out;
	}
	if ((err = loc_of(fs, parent, name, &loc)) < 0 ||
	    (err = scratch_of(fs, &loc, &real)) < 0 ||
	    (err = fs_scratch_mkparents(real)) < 0)
		goto out;
	doc = store_is_document_path(loc.path);
	/* A new document is held as an empty placeholder until saved. */
	fd = open(real, (doc ? O_WRONLY : fi->flags) | O_CREAT | O_NOFOLLOW,
		  doc ? 0644 : mode);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (doc) {
		close(fd);
		fd = -1;
	}
	if ((err = entry_for(fs, parent, name, e, &n)) < 0)
		goto out;
	if (doc)
		err = fs_doc_open(fs, n, &loc, (fi->flags & O_TRUNC) != 0,
				  false, NULL);
	if (err == 0)
		err = open_fh(fs, n, fi, fd);
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

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int err = do_create(fs_of(req), node_of(req, parent), name, mode, fi,
			    &e);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_create(req, &e, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
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
	} else {
		err = fs_doc_read(node_of(req, ino), buf, size, off, &got);
	}
	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
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
			fs_log(LOG_WARNING, "write past max_doc_size %zu "
			       "refused", fs->cfg.max_doc_size);
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
	int err = loc_of(fs, n, NULL, &loc);

	if (err == 0)
		err = fs_doc_save(fs, n, &loc);
	fs_loc_release(&loc);
	return err;
}

static void op_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	int err = 0;

	/* Only a writer's close saves: a reader's close must not commit
	 * what another process has half written. */
	if (fh_of(fi)->fd < 0 && !fh_of(fi)->data && fh_of(fi)->writable)
		err = save(fs_of(req), node_of(req, ino));
	fuse_reply_err(req, -err);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct fs_fh *fh = fh_of(fi);
	int err;

	if (fh->fd >= 0)
		err = (datasync ? fdatasync(fh->fd) : fsync(fh->fd)) < 0 ? -errno
									  : 0;
	else if (fh->data || !fh->writable)
		err = 0;
	else
		err = save(fs_of(req), node_of(req, ino));
	fuse_reply_err(req, -err);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	close_fh(fs_of(req), fh_of(fi));
	fuse_reply_err(req, 0);
}

/* A directory listing, made at opendir and served by offset. */
struct dirent_buf {
	char *name;
	uint64_t ino;
	mode_t type;
};

struct listing {
	struct dirent_buf *v;
	size_t n, cap;
	const char *full; /* for the entries' st_ino */
};

static int list_add(struct listing *l, const char *name, mode_t type)
{
	char *path;

	/* Virtual names are reached, never listed. */
	if (strchr(name, '@') && strcmp(name, ".") && strcmp(name, ".."))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct dirent_buf *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (asprintf(&path, "%s%s%s", l->full, *l->full ? "/" : "", name) < 0)
		return -ENOMEM;
	l->v[l->n].ino = fs_path_ino(path);
	free(path);
	l->v[l->n].name = strdup(name);
	l->v[l->n].type = type;
	if (!l->v[l->n].name)
		return -ENOMEM;
	l->n++;
	return 0;
}

static int list_add_cb(void *ctx, const char *name, mode_t type)
{
	return list_add(ctx, name, type);
}

static void listing_free(struct listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	free(l);
}

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct dirent_buf *)a)->name,
		      ((const struct dirent_buf *)b)->name);
}

/* Sort and drop names listed twice (a collection in Git and in scratch). */
static void list_unique(struct listing *l)
{
	size_t w = 0;

	qsort(l->v, l->n, sizeof(*l->v), cmp_dirent);
	for (size_t r = 0; r < l->n; r++) {
		if (w > 0 && !strcmp(l->v[w - 1].name, l->v[r].name)) {
			free(l->v[r].name);
			continue;
		}
		l->v[w++] = l->v[r];
	}
	l->n = w;
}

/* The next component below LOC of each branch name. */
static int list_branches(struct fs *fs, const struct fs_loc *loc,
			 struct listing *l)
{
	size_t n, plen = strlen(loc->full);
	char **v;
	int err = fs_branch_list(fs, &v, &n);

	for (size_t i = 0; err == 0 && i < n; i++) {
		char *name = v[i], *slash;

		if (plen) {
			if (strncmp(name, loc->full, plen) || name[plen] != '/')
				continue;
			name += plen + 1;
		}
		slash = strchr(name, '/');
		if (slash)
			*slash = '\0';
		err = list_add(l, name, S_IFDIR);
	}
	store_strv_free(v, n);
	return err;
}

struct git_list_ctx {
	struct fs *fs;
	const struct fs_loc *loc;
	struct listing *l;
};

static int git_entry_cb(void *ctx, const char *name,
			const struct store_entry *e)
{
	struct git_list_ctx *c = ctx;
	char *path;
	bool gone = false;

	if (e->kind == STORE_DOC) {
		if (asprintf(&path, "%s%s%s", c->loc->path,
			     *c->loc->path ? "/" : "", name) < 0)
			return -ENOMEM;
		gone = fs_pending_has(c->fs->pending, c->loc->branch, path);
		free(path);
	}
	if (gone)
		return 0;
	return list_add(c->l, name, e->kind == STORE_DIR ? S_IFDIR : S_IFREG);
}

static int list_scratch(struct fs *fs, const struct fs_loc *loc,
			struct listing *l)
{
	struct dirent *de;
	char *real;
	DIR *d;
	int err = scratch_of(fs, loc, &real);

	if (err < 0)
		return err;
	d = opendir(real);
	free(real);
	if (!d)
		return 0;
	while (err == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = list_add(l, de->d_name,
			       de->d_type == DT_DIR ? S_IFDIR : S_IFREG);
	}
	closedir(d);
	return err;
}

static int do_opendir(struct fs *fs, struct fs_node *n,
		      struct fuse_file_info *fi)
{
	struct listing *l = calloc(1, sizeof(*l));
	struct git_list_ctx ctx;
	struct store_oid head;
	struct fs_loc loc;
	int err;

	if (!l)
		return -ENOMEM;
	err = loc_of(fs, n, NULL, &loc);
	if (err < 0)
		goto out;
	l->full = loc.full;
	if ((err = list_add(l, ".", S_IFDIR)) < 0 ||
	    (err = list_add(l, "..", S_IFDIR)) < 0)
		goto out;
	if (loc.where == FS_ORDER) {
		err = fs_order_list(fs, &loc, list_add_cb, l);
		goto out;
	}
	if (loc.where == FS_SNAP || loc.where == FS_HISTORY) {
		err = fs_history_list(fs, &loc, list_add_cb, l);
		goto out;
	}
	if (loc.where != FS_LIVE) {
		err = list_branches(fs, &loc, l);
		goto out;
	}
	ctx = (struct git_list_ctx){fs, &loc, l};
	err = store_branch_head(fs->st, loc.branch, &head);
	if (err == 0)
		err = store_readdir(fs->st, &head, loc.path, git_entry_cb, &ctx);
	if (err == -ENOENT)
		err = 0; /* a collection that lives in scratch only */
	if (err == 0)
		err = list_scratch(fs, &loc, l);
out:
	if (err == 0) {
		/* History lists versions oldest first, views in index
		 * order: not by name. */
		if (loc.where != FS_HISTORY && loc.where != FS_ORDER)
			list_unique(l);
		l->full = NULL;
		err = open_fh(fs, NULL, fi, -1);
	}
	if (err == 0) {
		fh_of(fi)->listing = l;
		/* A frozen snapshot's listing never changes: let the kernel
		 * keep it. */
		fi->cache_readdir = fi->keep_cache =
			loc.where == FS_SNAP && *loc.path &&
			frozen_cache_ok(fs, n, &loc);
	} else {
		listing_free(l);
	}
	fs_loc_release(&loc);
	return err;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	int err = do_opendir(fs_of(req), node_of(req, ino), fi);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_open(req, fi);
}

/* One page of a listing from OFF; with PLUS, each entry's attributes too,
 * counted as a lookup. Entries that cannot be looked up (gone since the
 * listing was made, "." and "..") go without attributes; the kernel then
 * looks them up itself. */
static void list_page(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	struct listing *l = fh_of(fi)->listing;
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; i < l->n; i++) {
		const char *name = l->v[i].name;
		struct fuse_entry_param e = {.attr = {.st_ino = l->v[i].ino,
						      .st_mode = l->v[i].type}};
		size_t need = plus ? fuse_add_direntry_plus(req, NULL, 0, name,
							    NULL, 0)
				   : fuse_add_direntry(req, NULL, 0, name,
						       NULL, 0);

		if (need > size - used)
			break;
		if (!plus) {
			fuse_add_direntry(req, buf + used, size - used, name,
					  &e.attr, (off_t)(i + 1));
		} else {
			if (strcmp(name, ".") && strcmp(name, "..") &&
			    do_lookup(fs, node_of(req, ino), name, &e) < 0) {
				memset(&e, 0, sizeof(e));
				e.attr.st_ino = l->v[i].ino;
				e.attr.st_mode = l->v[i].type;
			}
			fuse_add_direntry_plus(req, buf + used, size - used,
					       name, &e, (off_t)(i + 1));
		}
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	list_page(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	list_page(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	close_fh(fs_of(req), fh_of(fi));
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (statvfs(fs_of(req)->scratch_root, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops fs_ops = {
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
};
