/* lookup.c - names and attributes (LOOKUP, FORGET, GETATTR) and the
 * helpers every operation resolves its node with.
 *
 *
 * Caching, decided here and nowhere else:
 * - Inside a live branch, names are cached by the kernel for 30 s and a
 *   file's attributes for 1 s (directories' not at all), as passthrough_ll
 *   does by default: `ls -l`, `cat` and rsync cost a round trip per page
 *   of names or per read, not one more per stat; -o entry_timeout= and
 *   attr_timeout= set them. Within that second a stat may show the size
 *   or existence from before an outside commit; writes through the mount
 *   and sync rounds update it at once (the kernel drops a file's
 *   attributes when it writes; sync.c invalidates what a round changed).
 *   A read is never cut short by a stale size: an open that finds the
 *   blob changed since the kernel last read the document drops its cached
 *   attributes (and pages). Pages are kept across opens while the
 *   document's blob is the one the kernel last read (keep_cache), since a
 *   blob never changes; any open for writing starts the pages afresh.
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
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "ops_int.h"
#include "banned.h"

#define ENTRY_TIMEOUT 1.0

/* Resolve node N (or its child NAME). */
int fs_loc_of(struct fs *fs, struct fs_node *n, const char *name,
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
int fs_child_full(struct fs *fs, struct fs_node *n, const char *name,
		  char **out)
{
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	return fs_node_path(&fs->nodes, n, name, out);
}

int fs_refuse_reserved(const char *where, const char *name)
{
	if (!cfs_name_reserved(name))
		return 0;
	char *full;

	if (asprintf(&full, "%s%s%s", where, *where ? "/" : "", name) < 0)
		return -EINVAL;
	fs_log_op(LOG_WARNING, "create", full, EINVAL,
		  "names beginning with '@' are reserved");
	free(full);
	return -EINVAL;
}

int fs_refuse_deep(const struct fs_loc *parent, const char *name)
{
	size_t depth = 1; /* NAME */

	if (parent->where != FS_LIVE)
		return 0;
	for (const char *p = parent->path; *p; p++)
		depth += p == parent->path || *p == '/';
	if (depth <= CFS_MAX_DEPTH)
		return 0;
	fs_log_op(LOG_WARNING, "create", parent->full, ENAMETOOLONG,
		  "%s: deeper than %d levels, the most a document may have",
		  name, CFS_MAX_DEPTH);
	return -ENAMETOOLONG;
}

/* Changes inside snapshots and history fail with EROFS, as on a
 * read-only mount. */
int fs_writable(struct fs *fs, const struct fs_loc *loc)
{
	if (fs->cfg.ro || fs_loc_readonly(loc))
		return -EROFS;
	/* Git's receive.denyCurrentBranch: moving the branch under a
	 * working tree makes `git status` show every save as undone. */
	if (loc->where == FS_LIVE && fs_branch_checked_out(fs, loc->branch)) {
		fs_log_op(LOG_WARNING, "write", loc->full, EROFS,
			  "branch %s is checked out in the working tree of %s: "
			  "read-only through the mount (mount with -o "
			  "allow_checked_out to write to it)",
			  loc->branch, fs->cfg.repo);
		return -EROFS;
	}
	return 0;
}

static bool snap_root(const struct fs_loc *loc)
{
	return loc->where == FS_SNAP && !*loc->path;
}

static double entry_timeout(const struct fs *fs, const struct fs_loc *loc)
{
	/* A snapshot's own name is looked up again after ENTRY_TIMEOUT: if
	 * it names another commit by then, it gets a new node (see
	 * fs_node_ref) and the kernel drops all it cached below. */
	if (snap_root(loc))
		return ENTRY_TIMEOUT;
	if (fs_loc_frozen(loc))
		return FS_SNAP_TIMEOUT;
	return loc->where == FS_LIVE && *loc->path ? fs->cfg.entry_timeout :
						     ENTRY_TIMEOUT;
}

static double attr_timeout(const struct fs *fs, const struct fs_loc *loc,
			   const struct stat *st)
{
	mode_t mode = st->st_mode;

	/* stat of a snapshot's name tells at once that it is gone. */
	if (snap_root(loc))
		return 0;
	/* A hard-linked scratch file is one kernel inode per name: a write
	 * through one name must show at once through the others. */
	if (loc->where == FS_LIVE && S_ISREG(mode) && st->st_nlink <= 1)
		return fs->cfg.attr_timeout;
	return fs_loc_frozen(loc) ? FS_SNAP_TIMEOUT : ATTR_TIMEOUT;
}

int fs_scratch_of(struct fs *fs, const struct fs_loc *loc, char **out)
{
	return fs_scratch_path(fs, loc->branch, loc->path, out);
}

/* Is LOC a document: in Git, or a new one held in scratch? */
/* *E is its entry when it is in Git (*created false). */
bool fs_is_doc(struct fs *fs, const struct fs_loc *loc, bool *created,
	       struct cfs_entry *e)
{
	struct stat st;
	char *real;
	bool found = false;

	*created = false;
	if (loc->where != FS_LIVE || !*loc->path)
		return false;
	if (fs_live_entry(fs, loc->branch, loc->path, e, NULL) == 0)
		return e->kind == CFS_DOC;
	if (!cfs_is_document_path(loc->path) ||
	    fs_scratch_of(fs, loc, &real) < 0)
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
	fs_stat_ino(&e->attr, n);
	e->attr_timeout = attr_timeout(fs, loc, st);
	e->entry_timeout = entry_timeout(fs, loc);
	fs_doc_size(fs, n, &e->attr.st_size);
}

/* Look NAME up in PARENT and count the kernel's reference. */
int fs_lookup_entry(struct fs *fs, struct fs_node *parent, const char *name,
		    struct fuse_entry_param *e)
{
	struct fs_loc loc;
	struct fs_node *n;
	struct stat st;
	int err;

	err = fs_loc_of(fs, parent, name, &loc);
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

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = fs_lookup_entry(fs_of(req), node_of(req, parent), name, &e);

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

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_node_forget(&fs_of(req)->nodes, node_of(req, ino), nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_node_forget(&fs_of(req)->nodes, node_of(req, forgets[i].ino),
			       forgets[i].nlookup);
	fuse_reply_none(req);
}

/* fstat of a file whose name is gone (unlinked or renamed over while
 * open): what the open file holds. FI is the file the kernel names, if it
 * does; else any file open on N. */
static int stat_open(struct fs *fs, struct fs_node *n,
		     struct fuse_file_info *fi, struct stat *st)
{
	struct fs_fh *fh;
	int err = -ENOENT;

	pthread_mutex_lock(&fs->open_lock);
	for (fh = fs->open_files; fh; fh = fh->next)
		if (fi ? fh == fh_of(fi) : fh->node == n)
			break;
	if (fh && fh->node == n)
		err = fs_stat_open(fs, n, fh->fd, st);
	pthread_mutex_unlock(&fs->open_lock);
	return err;
}

static int do_getattr(struct fs *fs, struct fs_node *n, struct stat *st,
		      double *timeout, struct fuse_file_info *fi)
{
	struct fs_loc loc;
	int err = fs_loc_of(fs, n, NULL, &loc);

	if (err == 0)
		err = fs_stat_loc(fs, &loc, n, st);
	if ((err == -ENOENT || err == -ESTALE) && n->detached) {
		fs_loc_release(&loc);
		*timeout = ATTR_TIMEOUT;
		return stat_open(fs, n, fi, st);
	}
	if (err == 0) {
		fs_stat_ino(st, n);
		*timeout = attr_timeout(fs, &loc, st);
	}
	fs_loc_release(&loc);
	return err;
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double timeout = ATTR_TIMEOUT;
	int err = do_getattr(fs_of(req), node_of(req, ino), &st, &timeout, fi);

	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, timeout);
}
