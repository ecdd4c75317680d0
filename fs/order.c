/* order.c - ordered views: COLLECTION/@by/SPEC[/STEP...]/ lists the
 * collection's documents in index order as <rank>_<id>.json, each reading
 * as the document. STEPs bound the first field (ge=V, gt=V, lt=V, le=V,
 * V a JSON value, or a bare string) and cut the list (first=N). The rows
 * are the core's (cfs_order_rows): from a persistent index where there is
 * one, else computed from the tree (when one is made is the core's rule). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"
#include "banned.h"

#define RANK_WIDTH 6
#define ENTRY_NAME_MAX 512

/* A parsed view path: SPEC, its range steps (each a copy the range
 * points into) and the entry it ends at, if any. */
struct view {
	char *spec;
	chronofs_range range;
	char *steps[8];
	size_t nsteps;
	char *entry; /* the document id, if the path ends at an entry */
};

static void view_release(struct view *v)
{
	free(v->spec);
	for (size_t i = 0; i < v->nsteps; i++)
		free(v->steps[i]);
	free(v->entry);
}

/* "NNN_ID.json" -> ID; NULL if NAME is not an entry name. */
static char *entry_id(const char *name, size_t len)
{
	size_t digits = strspn(name, "0123456789");

	if (digits == 0 || digits >= len || name[digits] != '_' || len < 6 ||
	    strncmp(name + len - 5, ".json", 5) || len - 5 <= digits + 1)
		return NULL;
	return strndup(name + digits + 1, len - 5 - digits - 1);
}

/* The grammar is the core's (chronofs_range_step); a path that is not in
 * it names nothing. */
static int view_parse(const char *order, struct view *v)
{
	const char *p = order;
	size_t len = strcspn(p, "/");
	int err = 0;

	memset(v, 0, sizeof(*v));
	if (!(v->spec = strndup(p, len)))
		return -ENOMEM;
	if (cfs_spec_check(v->spec) < 0)
		err = -ENOENT;
	for (p += len; *p == '/' && err == 0; p += len) {
		p++;
		len = strcspn(p, "/");
		if (!p[len] && (v->entry = entry_id(p, len)))
			break;
		if (v->nsteps == sizeof(v->steps) / sizeof(v->steps[0]))
			err = -ENOENT;
		else if (!(v->steps[v->nsteps] = strndup(p, len)))
			err = -ENOMEM;
		else if (chronofs_range_step(&v->range, v->steps[v->nsteps++]) <
			 0)
			err = -ENOENT;
	}
	if (err < 0)
		view_release(v);
	return err;
}

/* The document an entry names, in the live head or the snapshot. */
static int entry_doc(struct fs *fs, const struct fs_loc *loc, const char *id,
		     struct cfs_entry *e)
{
	char *path;
	int err;

	if (asprintf(&path, "%s%s%s.json", loc->collection,
		     *loc->collection ? "/" : "", id) < 0)
		return -ENOMEM;
	err = loc->snap ? cfs_stat(fs->db, &loc->commit, path, e) :
			  fs_live_entry(fs, loc->branch, path, e, NULL);
	free(path);
	if (err == 0 && e->kind != CFS_DOC)
		err = -ENOENT;
	return err;
}

int fs_order_stat(struct fs *fs, const struct fs_loc *loc, struct stat *st)
{
	struct cfs_entry e;
	struct view v;
	int err;

	fs_stat_fill(fs, st, loc->full, S_IFDIR | 0555, fs->started, 0);
	if (!*loc->order)
		return 0; /* @by itself: reached, holds nothing listed */
	if ((err = view_parse(loc->order, &v)) < 0)
		return err;
	if (v.entry) {
		err = entry_doc(fs, loc, v.entry, &e);
		fs_stat_fill(fs, st, loc->full, S_IFREG | 0444, fs->started,
			     (off_t)e.size);
	}
	view_release(&v);
	return err;
}

int fs_order_read(struct fs *fs, const struct fs_loc *loc, char **out,
		  size_t *len, struct cfs_blob **big)
{
	struct cfs_entry e;
	struct view v;
	int err;

	if (!*loc->order)
		return -EISDIR;
	if ((err = view_parse(loc->order, &v)) < 0)
		return err;
	if (!v.entry)
		err = -EISDIR;
	if (err == 0)
		err = entry_doc(fs, loc, v.entry, &e);
	if (err == 0)
		err = fs_blob_get(fs, &e.oid, e.size, out, len, big);
	view_release(&v);
	return err;
}

struct rows {
	char **ids;
	size_t n, cap;
};

static int row_cb(void *ctx, const char *id, const struct cfs_oid *blob,
		  const char *doc, size_t len)
{
	struct rows *r = ctx;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		char **v = realloc(r->ids, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->ids = v;
		r->cap = cap;
	}
	r->ids[r->n] = strdup(id);
	return r->ids[r->n++] ? 0 : -ENOMEM;
}

int fs_order_list(struct fs *fs, const struct fs_loc *loc, fs_list_cb cb,
		  void *ctx)
{
	struct rows r = { 0 };
	struct view v;
	int err, width = RANK_WIDTH;
	char name[ENTRY_NAME_MAX];

	if (!*loc->order)
		return 0;
	if ((err = view_parse(loc->order, &v)) < 0)
		return err;
	if (v.entry)
		err = -ENOTDIR;
	else
		err = cfs_order_rows(fs->db, loc->branch,
				     loc->snap ? &loc->commit : NULL,
				     loc->collection, v.spec, &v.range, row_cb,
				     &r);
	if (err == -EINVAL)
		err = -ENOENT;
	for (size_t n = r.n; n >= 1000000; n /= 10)
		width++;
	for (size_t i = 0; i < r.n; i++) {
		int len = snprintf(name, sizeof(name), "%0*zu_%s.json", width,
				   i + 1, r.ids[i]);

		/* A name no program could open is not listed; the rank
		 * stays taken, so the others keep theirs. */
		if (err == 0 && len > NAME_MAX)
			fs_log(LOG_WARNING,
			       "%s: the entry of %s.json is not "
			       "listed: its name would be %d bytes, over %d",
			       loc->full, r.ids[i], len, NAME_MAX);
		else if (err == 0)
			err = cb(ctx, name, S_IFREG);
		free(r.ids[i]);
	}
	free(r.ids);
	view_release(&v);
	return err;
}
