/* history.c - the read-only views: BRANCH@WHEN / BRANCH@COMMIT (a commit's
 * tree) and BRANCH@history (the versions of each document, from the path
 * index the core keeps current with every commit). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "log.h"
#include "banned.h"

int fs_history_catchup(struct fs *fs, const char *branch, bool background)
{
	struct timespec t0, t1;
	uint64_t added = 0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = background ? cfs_catchup_background(fs->db, branch, &added) :
			   cfs_catchup(fs->db, branch, &added);
	if (err == -ECANCELED) /* an unmount stopped it: the next goes on */
		fs_log(LOG_INFO, "index of branch %s: %s", branch,
		       chronofs_errmsg(fs->db));
	else if (err == -EAGAIN) /* the first indexing is still running */
		fs_log_op(LOG_WARNING, "catch-up", branch, err, "%s",
			  chronofs_errmsg(fs->db));
	else if (err < 0)
		fs_log_op(LOG_ERR, "catch-up", branch, err,
			  "history index not brought up to the head: %s",
			  chronofs_errmsg(fs->db));
	if (err < 0)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (added > 100)
		fs_log(LOG_INFO, "indexed %llu commits of branch %s in %.1f s",
		       (unsigned long long)added, branch,
		       (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

static void version_name(char *buf, size_t sz, int64_t time,
			 const struct cfs_oid *commit)
{
	char hex[CFS_OID_HEXSZ + 1], when[CFS_WHEN_SZ];

	cfs_oid_fmt(hex, commit);
	cfs_format_when(when, time);
	snprintf(buf, sz, "%s_%.7s.json", when, hex);
}

/* Find a version by name, or count/list versions. */
struct versions {
	const char *want; /* a version name, or NULL to count */
	size_t n;
	bool found;
	int64_t time;
	struct cfs_oid commit, blob;
	fs_list_cb cb;
	void *ctx;
};

static int version_cb(void *ctx, int64_t time, const struct cfs_oid *commit,
		      const struct cfs_oid *blob)
{
	struct versions *v = ctx;
	char name[64];

	if (!blob)
		return 0; /* a deletion: no bytes to show */
	v->n++;
	version_name(name, sizeof(name), time, commit);
	if (v->cb)
		return v->cb(v->ctx, name, S_IFREG);
	if (v->want && !strcmp(v->want, name)) {
		v->found = true;
		v->time = time;
		v->commit = *commit;
		v->blob = *blob;
		return 1;
	}
	return 0;
}

struct names {
	size_t n;
	fs_list_cb cb;
	void *ctx;
};

static int name_cb(void *ctx, const char *name, int is_dir)
{
	struct names *n = ctx;

	n->n++;
	/* Every name is a directory here: a document's versions, or a
	 * collection. */
	return n->cb ? n->cb(n->ctx, name, S_IFDIR) : 1;
}

/* Is PATH (in a history view) a version file? Fills V. */
static int find_version(struct fs *fs, const struct fs_loc *loc,
			struct versions *v)
{
	const char *slash = strrchr(loc->path, '/');
	char *dir;
	int err;

	memset(v, 0, sizeof(*v));
	if (!slash)
		return -ENOENT;
	dir = strndup(loc->path, (size_t)(slash - loc->path));
	if (!dir)
		return -ENOMEM;
	v->want = slash + 1;
	err = cfs_versions(fs->db, loc->branch, dir, version_cb, v);
	free(dir);
	if (err < 0)
		return err;
	return v->found ? 0 : -ENOENT;
}

static int stat_snap(struct fs *fs, const struct fs_loc *loc, struct stat *st)
{
	struct cfs_entry e;
	int64_t t = 0;
	int err;

	if ((err = cfs_commit_time(fs->db, &loc->commit, &t)) < 0 ||
	    (err = cfs_stat(fs->db, &loc->commit, loc->path, &e)) < 0)
		return err;
	if (e.kind == CFS_DIR) {
		fs_stat_fill(fs, st, loc->full, S_IFDIR | 0555, (time_t)t, 0);
	} else if (e.kind == CFS_LINK) {
		fs_stat_fill(fs, st, loc->full, S_IFLNK | 0777, (time_t)t,
			     (off_t)e.size);
	} else {
		fs_stat_fill(fs, st, loc->full, S_IFREG | 0444, (time_t)t,
			     (off_t)e.size);
	}
	return 0;
}

static int stat_history(struct fs *fs, const struct fs_loc *loc,
			struct stat *st)
{
	struct versions v = { 0 };
	struct names n = { 0 };
	struct cfs_entry e;
	const char *slash;
	char *dir;
	int err;

	if (!*loc->path) {
		fs_stat_fill(fs, st, loc->full, S_IFDIR | 0555, fs->started, 0);
		return 0;
	}
	err = cfs_versions(fs->db, loc->branch, loc->path, version_cb, &v);
	if (err < 0)
		return err;
	if (v.n > 0) {
		fs_stat_fill(fs, st, loc->full, S_IFDIR | 0555, fs->started, 0);
		return 0;
	}
	if (find_version(fs, loc, &v) == 0) {
		/* The version's size: the path in the commit that made it. */
		slash = strrchr(loc->path, '/');
		dir = strndup(loc->path, (size_t)(slash - loc->path));
		if (!dir)
			return -ENOMEM;
		err = cfs_stat(fs->db, &v.commit, dir, &e);
		free(dir);
		if (err < 0)
			return err;
		fs_stat_fill(fs, st, loc->full, S_IFREG | 0444, (time_t)v.time,
			     (off_t)e.size);
		return 0;
	}
	err = cfs_names(fs->db, loc->branch, loc->path, name_cb, &n);
	if (err < 0)
		return err;
	if (n.n == 0)
		return -ENOENT;
	fs_stat_fill(fs, st, loc->full, S_IFDIR | 0555, fs->started, 0);
	return 0;
}

int fs_history_stat(struct fs *fs, const struct fs_loc *loc, struct stat *st)
{
	if (loc->where == FS_CONFLICTS)
		return fs_conflicts_stat(fs, loc, st);
	return loc->where == FS_SNAP ? stat_snap(fs, loc, st) :
				       stat_history(fs, loc, st);
}

int fs_history_read(struct fs *fs, const struct fs_loc *loc, char **out,
		    size_t *len)
{
	if (loc->where == FS_CONFLICTS)
		return fs_conflicts_read(fs, loc, out, len);
	if (loc->where == FS_SYNC)
		return fs_sync_read(fs, out, len);
	struct cfs_entry e;
	struct versions v;
	int err;

	if (loc->where == FS_SNAP) {
		err = cfs_stat(fs->db, &loc->commit, loc->path, &e);
		if (err == 0 && e.kind != CFS_DOC)
			err = -EISDIR;
		if (err == 0)
			err = cfs_blob_read(fs->db, &e.oid, out, len);
		return err;
	}
	err = find_version(fs, loc, &v);
	if (err < 0)
		return err == -ENOENT ? -EISDIR : err;
	return cfs_blob_read(fs->db, &v.blob, out, len);
}

struct snap_list {
	fs_list_cb cb;
	void *ctx;
};

static int snap_entry_cb(void *ctx, const char *name, const struct cfs_entry *e)
{
	struct snap_list *l = ctx;

	return l->cb(l->ctx, name,
		     e->kind == CFS_DIR	 ? S_IFDIR :
		     e->kind == CFS_LINK ? S_IFLNK :
					   S_IFREG);
}

int fs_history_list(struct fs *fs, const struct fs_loc *loc, fs_list_cb cb,
		    void *ctx)
{
	if (loc->where == FS_CONFLICTS)
		return fs_conflicts_list(fs, loc, cb, ctx);
	struct snap_list sl = { cb, ctx };
	struct versions v = { .cb = cb, .ctx = ctx };
	struct names n = { .cb = cb, .ctx = ctx };
	struct versions count = { 0 };
	int err;

	if (loc->where == FS_SNAP)
		return cfs_readdir(fs->db, &loc->commit, loc->path,
				   snap_entry_cb, &sl);
	if (*loc->path) {
		err = cfs_versions(fs->db, loc->branch, loc->path, version_cb,
				   &count);
		if (err < 0)
			return err;
		if (count.n > 0)
			return cfs_versions(fs->db, loc->branch, loc->path,
					    version_cb, &v);
	}
	return cfs_names(fs->db, loc->branch, loc->path, name_cb, &n);
}
