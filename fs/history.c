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

/* "YYYY-MM-DDTHH:MM:SSZ_<commit7>.json" and its NUL. */
#define VERSION_NAME_SZ (CFS_WHEN_SZ + 13)

static void version_name(char *buf, size_t sz, int64_t time,
			 const struct cfs_oid *commit)
{
	char hex[CFS_OID_HEXSZ + 1], when[CFS_WHEN_SZ];

	cfs_oid_fmt(hex, commit);
	cfs_format_when(when, time);
	snprintf(buf, sz, "%s_%.7s.json", when, hex);
}

/* Spelled as version_name spells them. */
static bool version_like(const char *name)
{
	return strlen(name) == VERSION_NAME_SZ - 1 && name[10] == 'T' &&
	       name[19] == 'Z' && name[20] == '_' &&
	       !strcmp(name + VERSION_NAME_SZ - 6, ".json");
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
	char (*kept)[VERSION_NAME_SZ]; /* the names listed, when KEEP */
	size_t cap;
	bool keep;
};

static int version_cb(void *ctx, int64_t time, const struct cfs_oid *commit,
		      const struct cfs_oid *blob)
{
	struct versions *v = ctx;
	char name[VERSION_NAME_SZ];

	if (!blob)
		return 0; /* a deletion: no bytes to show */
	version_name(name, sizeof(name), time, commit);
	if (v->keep && v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		void *p = realloc(v->kept, cap * sizeof(*v->kept));

		if (!p)
			return -ENOMEM;
		v->kept = p;
		v->cap = cap;
	}
	if (v->keep)
		memcpy(v->kept[v->n], name, sizeof(*v->kept));
	v->n++;
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
	const struct versions *listed; /* versions listed before, or NULL */
};

static bool listed_version(const struct versions *v, const char *name)
{
	for (size_t i = 0; v && i < v->n; i++)
		if (!strcmp(v->kept[i], name))
			return true;
	return false;
}

static int name_cb(void *ctx, const char *name, int is_dir)
{
	struct names *n = ctx;

	/* A name spelled as a version of the directory itself: the version
	 * is what a lookup finds (stat_history), so only it is listed. */
	if (version_like(name) && listed_version(n->listed, name))
		return 0;
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
	if (!slash || !version_like(slash + 1))
		return -ENOENT; /* no RocksDB seek for a name no version has */
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
	/* A version of the parent first: a directory that was a file in
	 * some commit holds both, and a name spelled as one of its versions
	 * is that version (the listing agrees, name_cb). */
	err = find_version(fs, loc, &v);
	if (err < 0 && err != -ENOENT)
		return err;
	if (err == 0) {
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
	memset(&v, 0, sizeof(v));
	err = cfs_versions(fs->db, loc->branch, loc->path, version_cb, &v);
	if (err < 0)
		return err;
	if (v.n > 0) {
		fs_stat_fill(fs, st, loc->full, S_IFDIR | 0555, fs->started, 0);
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

int fs_blob_get(struct fs *fs, const struct cfs_oid *oid, uint64_t size,
		char **out, size_t *len, struct cfs_blob **big)
{
	int err = 0;

	*out = NULL;
	*len = 0;
	*big = NULL;
	if (size == UINT64_MAX && (err = cfs_blob_size(fs->db, oid, &size)) < 0)
		return err;
	if (size > fs->cfg.max_doc_size)
		return cfs_blob_open(fs->db, oid, big, &size);
	return cfs_blob_read(fs->db, oid, out, len);
}

int fs_history_read(struct fs *fs, const struct fs_loc *loc, char **out,
		    size_t *len, struct cfs_blob **big)
{
	*big = NULL;
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
			err = fs_blob_get(fs, &e.oid, e.size, out, len, big);
		return err;
	}
	err = find_version(fs, loc, &v);
	if (err < 0)
		return err == -ENOENT ? -EISDIR : err;
	return fs_blob_get(fs, &v.blob, UINT64_MAX, out, len, big);
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
	struct versions v = { .cb = cb, .ctx = ctx, .keep = true };
	struct names n = { .cb = cb, .ctx = ctx, .listed = &v };
	int err = 0;

	if (loc->where == FS_SNAP)
		return cfs_readdir(fs->db, &loc->commit, loc->path,
				   snap_entry_cb, &sl);
	/* A document's versions, then the names below the path: a path
	 * that was a file in one commit and a directory in another has
	 * both, and neither hides the other. */
	if (*loc->path)
		err = cfs_versions(fs->db, loc->branch, loc->path, version_cb,
				   &v);
	if (err == 0)
		err = cfs_names(fs->db, loc->branch, loc->path, name_cb, &n);
	free(v.kept);
	return err;
}
