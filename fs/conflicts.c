/* conflicts.c - BRANCH@conflicts/: where the losing side of every merge
 * conflict is found. PATH/ (a conflicted document) holds one directory per
 * merge that conflicted on it, <time>_<merge7>/, newest first, each with
 * base.json, ours.json, theirs.json, merged.json and conflicts.json; the
 * levels above it are the collections on the way. All read-only, all
 * derived from Git by the core (cfs_conflicts, cfs_conflict_file). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "banned.h"

static const char *const parts[] = {
	[CFS_CONFLICT_BASE] = "base.json",
	[CFS_CONFLICT_OURS] = "ours.json",
	[CFS_CONFLICT_THEIRS] = "theirs.json",
	[CFS_CONFLICT_MERGED] = "merged.json",
	[CFS_CONFLICTS_JSON] = "conflicts.json",
};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

/* "<time>_<merge7>" */
static void merge_name(char out[64], const struct cfs_oid *merge, int64_t t)
{
	char hex[CFS_OID_HEXSZ + 1], when[CFS_WHEN_SZ];

	cfs_oid_fmt(hex, merge);
	cfs_format_when(when, t);
	snprintf(out, 64, "%s_%.7s", when, hex);
}

/* What one path below @conflicts is, found in one pass over the records:
 * a directory on the way (collections, a document), a merge's directory
 * or one of its files. */
struct find {
	const char *path; /* below BRANCH@conflicts/ */
	size_t len;
	enum { F_NONE, F_DIR, F_MERGE, F_FILE } what;
	struct cfs_oid merge;
	int64_t time;
	char *doc; /* F_MERGE, F_FILE: the document's path */
	int part; /* F_FILE */
	fs_list_cb cb; /* listing: names directly below PATH */
	void *ctx;
	char **seen; /* names listed already (dirs of collections) */
	size_t nseen;
};

static bool seen(struct find *f, const char *name, size_t len)
{
	char **v;

	for (size_t i = 0; i < f->nseen; i++)
		if (strlen(f->seen[i]) == len && !memcmp(f->seen[i], name, len))
			return true;
	v = realloc(f->seen, (f->nseen + 1) * sizeof(*v));
	if (!v)
		return true;
	f->seen = v;
	f->seen[f->nseen] = strndup(name, len);
	if (f->seen[f->nseen])
		f->nseen++;
	return false;
}

static int record_cb(void *ctx, const char *doc, const struct cfs_oid *merge,
		     int64_t time)
{
	struct find *f = ctx;
	size_t dl = strlen(doc);
	char name[64];
	int err = 0;

	/* PATH is the document itself: its merges are its entries. */
	if (f->len == dl && !memcmp(f->path, doc, dl)) {
		f->what = F_DIR;
		merge_name(name, merge, time);
		return f->cb ? f->cb(f->ctx, name, S_IFDIR) : 0;
	}
	/* PATH is above the document ("" or a collection). */
	if (f->len == 0 || (dl > f->len && !memcmp(f->path, doc, f->len) &&
			    doc[f->len] == '/')) {
		const char *rest = doc + (f->len ? f->len + 1 : 0);
		size_t rl = strcspn(rest, "/");

		f->what = F_DIR;
		if (f->cb && !seen(f, rest, rl)) {
			char *n = strndup(rest, rl);

			err = n ? f->cb(f->ctx, n, S_IFDIR) : -ENOMEM;
			free(n);
		}
		return err;
	}
	/* PATH is DOC/<merge>[/<part>]. */
	if (f->len > dl + 1 && !memcmp(f->path, doc, dl) &&
	    f->path[dl] == '/' && f->what == F_NONE) {
		const char *rest = f->path + dl + 1;
		size_t rl = strcspn(rest, "/");

		merge_name(name, merge, time);
		if (strlen(name) != rl || memcmp(rest, name, rl))
			return 0;
		f->merge = *merge;
		f->time = time;
		if (!(f->doc = strdup(doc)))
			return -ENOMEM;
		if (!rest[rl]) {
			f->what = F_MERGE;
			return 0;
		}
		for (size_t i = 0; i < NPARTS; i++)
			if (!strcmp(rest + rl + 1, parts[i])) {
				f->what = F_FILE;
				f->part = (int)i;
			}
		if (f->what != F_FILE) {
			free(f->doc);
			f->doc = NULL;
		}
	}
	return 0;
}

static int find(struct fs *fs, const struct fs_loc *loc, struct find *f)
{
	int err;

	f->path = loc->path;
	f->len = strlen(loc->path);
	err = cfs_conflicts(fs->db, loc->branch, record_cb, f);
	for (size_t i = 0; i < f->nseen; i++)
		free(f->seen[i]);
	free(f->seen);
	f->seen = NULL;
	if (err == 0 && f->what == F_NONE && f->len)
		err = -ENOENT;
	return err;
}

int fs_conflicts_stat(struct fs *fs, const struct fs_loc *loc, struct stat *st)
{
	struct find f = { 0 };
	char *data = NULL;
	size_t len = 0;
	int err = find(fs, loc, &f);

	if (err == 0 && f.what == F_FILE)
		err = cfs_conflict_file(fs->db, &f.merge, f.doc, f.part, &data,
					&len);
	if (err == 0)
		fs_stat_fill(fs, st, loc->full,
			     f.what == F_FILE ? S_IFREG | 0444 : S_IFDIR | 0555,
			     f.what == F_NONE || f.what == F_DIR ?
				     fs->started :
				     (time_t)f.time,
			     (off_t)len);
	free(data);
	free(f.doc);
	return err;
}

int fs_conflicts_read(struct fs *fs, const struct fs_loc *loc, char **out,
		      size_t *len)
{
	struct find f = { 0 };
	int err = find(fs, loc, &f);

	if (err == 0 && f.what != F_FILE)
		err = -EISDIR;
	if (err == 0)
		err = cfs_conflict_file(fs->db, &f.merge, f.doc, f.part, out,
					len);
	free(f.doc);
	return err;
}

int fs_conflicts_list(struct fs *fs, const struct fs_loc *loc, fs_list_cb cb,
		      void *ctx)
{
	struct find f = { .cb = cb, .ctx = ctx };
	char *data;
	size_t len;
	int err = find(fs, loc, &f);

	/* A merge's directory: the parts the document has there. */
	for (size_t i = 0; err == 0 && f.what == F_MERGE && i < NPARTS; i++) {
		if (cfs_conflict_file(fs->db, &f.merge, f.doc, (int)i, &data,
				      &len) < 0)
			continue;
		free(data);
		err = cb(ctx, parts[i], S_IFREG);
	}
	free(f.doc);
	return err == 0 && f.what == F_FILE ? -ENOTDIR : err;
}
