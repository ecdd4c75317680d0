/* fs.h - the daemon's shared state and the helpers its FUSE operations
 * are built from. fs/ translates kernel requests into calls of the core
 * (libchronofs: chronofs.h and its internal chronofs_int.h), which decides
 * every rule; fs/ owns only what is FUSE's: inodes, open-file buffers,
 * scratch files, kernel caches and their invalidation.
 *
 * Lock order (the core's own is in chronofs_int.h; none of these is held
 * across a call that commits, syncs or sleeps):
 *   branches_lock, snaps_lock, open_lock: leaves, taken alone
 *   nodes.lock -> a document's lock (fs_doc.lock), never the reverse
 *   a document's save_lock -> its lock (taken briefly, around the copy of
 *     the bytes and the bookkeeping after the commit)
 */
#ifndef CHRONOFS_FS_FS_H
#define CHRONOFS_FS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "chronofs_int.h"
#include "node.h"

struct fs_config {
	char *repo;
	char *mountpoint;
	char *author;
	char *branch; /* branch=NAME: that branch at the root */
	char *fsync_opt;
	char *max_doc_size_opt;
	char *sync_remote; /* sync=REMOTE */
	char *sync_interval_opt; /* sync_interval=SECONDS */
	unsigned sync_interval;
	/* How long the kernel may keep a live document's name and its
	 * attributes (entry_timeout=, attr_timeout=; lookup.c). */
	char *entry_timeout_opt, *attr_timeout_opt;
	double entry_timeout, attr_timeout;
	int ro;
	int allow_other; /* then default_permissions too */
	int allow_checked_out; /* write to a working tree's branch */
	char *logfile; /* logfile=PATH, or chosen when detached */
	int foreground;
	int debug;
	int show_help;
	int show_version;
	bool fsync;
	size_t max_doc_size;
};

/* A resolved snapshot name, valid while its branch head stays put. */
#define FS_SNAP_MEMO 32
struct fs_snap_memo {
	char *name; /* "BRANCH@SPEC" */
	struct cfs_oid head, commit;
	bool frozen;
};

struct fs_pending; /* renamed-away documents, see pending.c */
struct fs_sync; /* the sync thread, see sync.c */
struct fs_fh; /* an open file, see ops.c */

struct fs {
	struct fs_config cfg;
	struct fuse_session *se; /* for notifications to the kernel */
	chronofs *db; /* the core's owner handle */
	struct fs_nodes nodes;
	struct fs_pending *pending;
	struct fs_sync *sync; /* -o sync=REMOTE, else NULL */
	char *scratch_root; /* <gitdir>/chronofs/scratch */
	time_t started; /* mtime of the root and branch-prefix dirs */
	uid_t uid;
	gid_t gid;

	pthread_t indexer; /* catches every branch up once mounted */
	bool indexing; /* the indexer was started (join it at close) */

	pthread_mutex_t open_lock; /* guards open_files */
	struct fs_fh *open_files; /* every open file, for teardown */

	pthread_mutex_t snaps_lock; /* guards the snapshot names' memo */
	struct fs_snap_memo snaps[FS_SNAP_MEMO];
	unsigned snaps_next;

	pthread_mutex_t branches_lock; /* guards the branch cache */
	char **branches;
	size_t nbranches;
	struct timespec branches_at;
	bool branches_stale;
	char *unborn; /* HEAD's branch while it has no commit, or NULL */
	char *checked_out; /* a working tree's branch: read-only, or NULL */
};

/* Where a mount path points. */
enum fs_where {
	FS_ROOT, /* the list of branches */
	FS_PREFIX, /* "feature" when branch "feature/x" exists */
	FS_LIVE, /* inside a branch: branch + path ("" is the branch root) */
	FS_SNAP, /* BRANCH@WHEN or BRANCH@COMMIT: commit + path, read-only */
	FS_HISTORY, /* BRANCH@history: branch + path, read-only */
	FS_CONFLICTS, /* BRANCH@conflicts: branch + path, read-only */
	FS_ORDER, /* COLLECTION/@by/SPEC[/STEP...][/ENTRY], read-only */
	FS_LOG, /* @log at the mount's root: recent warnings, read-only */
	FS_SYNC, /* @sync at the mount's root: sync status, read-only */
};

struct fs_loc {
	enum fs_where where;
	char *full; /* the whole path below the mount (owned) */
	char *branch; /* owned; NULL for FS_ROOT and FS_PREFIX */
	const char *path; /* inside the branch, points into full */
	struct cfs_oid commit; /* FS_SNAP, and FS_ORDER in a snapshot */
	bool snap; /* FS_ORDER: in a snapshot (at commit) */
	bool frozen; /* FS_SNAP: can never change (cache it) */
	char *collection; /* FS_ORDER: owned */
	const char *order; /* FS_ORDER: "SPEC/STEP.../ENTRY", into full */
};

/* Views the kernel may cache long: snapshots that can never change (a
 * commit id, or a time before the head). History and the head's own
 * snapshot grow with new commits. */
static inline bool fs_loc_frozen(const struct fs_loc *loc)
{
	return (loc->where == FS_SNAP ||
		(loc->where == FS_ORDER && loc->snap)) &&
	       loc->frozen;
}

static inline bool fs_loc_readonly(const struct fs_loc *loc)
{
	return loc->where == FS_SNAP || loc->where == FS_HISTORY ||
	       loc->where == FS_CONFLICTS || loc->where == FS_ORDER ||
	       loc->where == FS_LOG || loc->where == FS_SYNC;
}

/* The virtual file of recent warnings and errors at the mount's root. */
#define FS_LOG_NAME "@log"

/* Snapshots never change: the kernel may cache them this long. */
#define FS_SNAP_TIMEOUT 3600.0
/* A live document's name and attributes: the defaults of entry_timeout=
 * and attr_timeout= (lookup.c says why). */
#define FS_LIVE_ENTRY_TIMEOUT 30.0
#define FS_LIVE_ATTR_TIMEOUT 1.0

/* ops.c: free the open files the kernel never released (unmount races
 * RELEASE against DESTROY). */
void fs_ops_release_all(struct fs *fs);

/* sync.c: -o sync=REMOTE. start: the thread (after mounting); stop:
 * end it and free everything (before the session goes). */
#define FS_SYNC_NAME "@sync"
#define FS_SYNC_INTERVAL 10
int fs_sync_start(struct fs *fs);
void fs_sync_stop(struct fs *fs);
/* @sync: its attributes and its JSON (*out the caller's: free()). */
int fs_sync_stat(struct fs *fs, const struct fs_loc *loc, struct stat *st);
int fs_sync_read(struct fs *fs, char **out, size_t *len);

/* resolve.c */
int fs_resolve(struct fs *fs, const char *full, struct fs_loc *out);
void fs_loc_release(struct fs_loc *loc);
void fs_branches_changed(struct fs *fs);
int fs_branch_list(struct fs *fs, char ***out, size_t *n);
/* Is BRANCH HEAD's branch with no commit yet (an empty `git init`)? */
bool fs_branch_unborn(struct fs *fs, const char *branch);
/* Is BRANCH checked out in the repository's working tree (and so
 * read-only through the mount without allow_checked_out)? */
bool fs_branch_checked_out(struct fs *fs, const char *branch);

/* scratch.c: files kept beside the repository, not committed. */
int fs_scratch_init(struct fs *fs);
/* Work in the scratch root: every scratch path below is relative to it.
 * Once daemonized (which changes to "/"), before serving. */
int fs_scratch_enter(struct fs *fs);
/* The path of PATH on BRANCH in the scratch area, relative to the scratch
 * root the daemon works in; caller frees. */
int fs_scratch_path(struct fs *fs, const char *branch, const char *path,
		    char **out);
int fs_scratch_branch_dir(struct fs *fs, const char *branch, char **out);
/* A scratch entry just made at REAL (FD, or -1 to go by path) on a
 * caller's behalf: exactly MODE's permission bits (the daemon's own umask
 * must not mask the caller's mode again; the kernel applied the caller's),
 * and, when the daemon may (it runs as root), the caller's UID and GID as
 * its owner, as a local file system does. */
/* Give the real file REAL (or FD) the mode a client asked, as far as a
 * file under GITDIR/chronofs may carry it; NOW is its stat. */
int fs_scratch_chmod(const char *real, int fd, const struct stat *now,
		     mode_t mode);
/* The mode to show for a real file of mode MODE. */
mode_t fs_scratch_shown_mode(const char *real, int fd, mode_t mode);
int fs_scratch_adopt(struct fs *fs, const char *real, int fd, mode_t mode,
		     uid_t uid, gid_t gid);
/* Make the parent directories of a scratch path. */
int fs_scratch_mkparents(const char *real);
/* 0 if the branch's scratch area holds nothing (placeholders for empty
 * directories aside, which are removed), else -ENOTEMPTY. */
int fs_scratch_branch_clear(struct fs *fs, const char *branch);
int fs_scratch_branch_rename(struct fs *fs, const char *from, const char *to);

/* attr.c: stat of a location. */
#define FS_BLKSIZE 4096 /* st_blksize of everything shown */
#define FS_SECTOR 512 /* st_blocks' unit */
/* The one way a struct stat is made: inode from FULL (the path below the
 * mount), the mounting user, MTIME as all three times, SIZE in blocks. */
void fs_stat_fill(struct fs *fs, struct stat *st, const char *full, mode_t mode,
		  time_t mtime, off_t size);
int fs_stat_loc(struct fs *fs, const struct fs_loc *loc, struct fs_node *n,
		struct stat *st);
/* The inode number shown for node N: its own (a hash of the path it was
 * first seen at, stable across renames) for documents and directories;
 * for scratch files the backing file's, so hard links share one. (The
 * kernel never takes st_dev from us: fs_stat_loc marks the second case
 * there, and this clears it.) */
void fs_stat_ino(struct stat *st, const struct fs_node *n);
/* A scratch file's st_ino from its backing file's device and inode. */
uint64_t fs_scratch_ino(dev_t dev, ino_t ino);
/* stat of node N, unlinked while open, from what its open file holds:
 * the scratch descriptor FD, else N's document buffer. */
int fs_stat_open(struct fs *fs, struct fs_node *n, int fd, struct stat *st);
/* What PATH on BRANCH is in Git at the branch head (a document renamed
 * away counts as absent): fills *e and, if HEAD is not NULL, *head. */
int fs_live_entry(struct fs *fs, const char *branch, const char *path,
		  struct cfs_entry *e, struct cfs_oid *head);

/* history.c: the read-only views BRANCH@WHEN and BRANCH@history. */
/* Bring BRANCH's time and path indexes up to its head (BACKGROUND: as
 * the mount's indexer, which waits as long as it takes). */
int fs_history_catchup(struct fs *fs, const char *branch, bool background);
int fs_history_stat(struct fs *fs, const struct fs_loc *loc, struct stat *st);
/* The bytes of a file in a snapshot or history view; caller frees. A
 * document over max_doc_size (committed from outside) is not read: *big
 * is a reader of it in parts instead (cfs_blob_close), *out NULL. */
int fs_history_read(struct fs *fs, const struct fs_loc *loc, char **out,
		    size_t *len, struct cfs_blob **big);
/* Blob OID of SIZE bytes (UINT64_MAX: not known yet) for a read-only
 * open, as fs_history_read gives it. */
int fs_blob_get(struct fs *fs, const struct cfs_oid *oid, uint64_t size,
		char **out, size_t *len, struct cfs_blob **big);
/* Each entry of a snapshot or history directory. */
typedef int (*fs_list_cb)(void *ctx, const char *name, mode_t type);
int fs_history_list(struct fs *fs, const struct fs_loc *loc, fs_list_cb cb,
		    void *ctx);

/* conflicts.c: BRANCH@conflicts (history.c's functions dispatch here). */
int fs_conflicts_stat(struct fs *fs, const struct fs_loc *loc, struct stat *st);
int fs_conflicts_read(struct fs *fs, const struct fs_loc *loc, char **out,
		      size_t *len);
int fs_conflicts_list(struct fs *fs, const struct fs_loc *loc, fs_list_cb cb,
		      void *ctx);

/* order.c: ordered views COLLECTION/@by/SPEC/. */
int fs_order_stat(struct fs *fs, const struct fs_loc *loc, struct stat *st);
int fs_order_read(struct fs *fs, const struct fs_loc *loc, char **out,
		  size_t *len, struct cfs_blob **big);
int fs_order_list(struct fs *fs, const struct fs_loc *loc, fs_list_cb cb,
		  void *ctx);

/* pending.c: documents renamed to a scratch name whose deletion is not
 * committed yet (the editors' backup dance). */
int fs_pending_new(struct fs_pending **out, struct fs *fs);
void fs_pending_free(struct fs_pending *p);
int fs_pending_add(struct fs_pending *p, const char *branch, const char *path,
		   const char *backup);
bool fs_pending_has(struct fs_pending *p, const char *branch, const char *path);
/* The document was saved again: forget its pending deletion. */
void fs_pending_drop(struct fs_pending *p, const char *branch,
		     const char *path);
/* BACKUP (a scratch path) was unlinked: commit the deletion of the
 * document it was renamed from, if it was not re-created. */
void fs_pending_backup_gone(struct fs_pending *p, const char *branch,
			    const char *backup);
/* Commit every pending deletion now (unmount). */
void fs_pending_flush(struct fs_pending *p);

/* doc.c: open-document buffers, committed on close, fsync and rename.
 * open: KNOWN is the document's entry if the caller just looked it up
 * (else NULL); TRUNC empties it (O_TRUNC: its bytes are not read). */
int fs_doc_open(struct fs *fs, struct fs_node *n, const struct fs_loc *loc,
		bool trunc, bool created, const struct cfs_entry *known);
void fs_doc_release(struct fs *fs, struct fs_node *n);
int fs_doc_read(struct fs_node *n, char *buf, size_t size, off_t off,
		size_t *got);
int fs_doc_write(struct fs *fs, struct fs_node *n, const char *buf, size_t size,
		 off_t off);
int fs_doc_truncate(struct fs *fs, struct fs_node *n, off_t size);
/* Validate and commit the buffer if it changed; 0, -EINVAL, -EFBIG... */
int fs_doc_save(struct fs *fs, struct fs_node *n, const struct fs_loc *loc);
/* May the kernel keep N's pages at this open? Yes when reading the blob
 * it read last time (blobs never change). */
bool fs_doc_keep_cache(struct fs *fs, struct fs_node *n, bool writing);
/* The same for an open that reads blob BLOB without a buffer. */
bool fs_node_keep_pages(struct fs *fs, struct fs_node *n,
			const struct cfs_oid *blob);
/* A client set the mtime of the open document: its next save keeps it. */
void fs_doc_set_mtime(struct fs *fs, struct fs_node *n,
		      const struct timespec *t);
/* Size of the open buffer, if N has one. */
bool fs_doc_size(struct fs *fs, struct fs_node *n, off_t *out);
/* Save BYTES as PATH on BRANCH (the core validates and commits) and log
 * the outcome; HAD_VERSION: the document has a committed version that a
 * refused save keeps. */
int fs_save_bytes(struct fs *fs, const char *branch, const char *path,
		  const char *buf, size_t len, const struct timespec *mtime,
		  bool had_version);

/* docerr.c: the reason the last save of FULL (BRANCH/PATH) was refused,
 * shown as its user.chronofs.error extended attribute. */
#define FS_XATTR_ERROR "user.chronofs.error"
/* On a real file in scratch: the mode a client set, when it is wider
 * than what the file may carry (the file then has S_ISVTX). */
#define FS_XATTR_MODE "user.chronofs.mode"
void fs_doc_error_set(const char *full, const char *msg);
void fs_doc_error_clear(const char *full);
/* 0 and *out (the caller's), or -ENODATA. */
int fs_doc_error_get(const char *full, char **out);
void fs_doc_error_clear_all(void);

#endif
