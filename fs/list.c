/* list.c - directory listings: OPENDIR builds the whole listing
 * (branches, Git entries and scratch files, or a view's), READDIR and
 * READDIRPLUS serve it by offset. Virtual names are reached, never
 * listed. */
#include <dirent.h>
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

/* A directory listing, made at opendir and served by offset. The names
 * are in one buffer (a million of them are 14 MB there, 32 MB as as many
 * allocations, which stay in the heap after the listing is gone), and an
 * entry takes 16 bytes. */
struct dirent_buf {
	uint64_t ino;
	uint32_t name; /* offset in names */
	uint32_t type;
};

struct listing {
	struct dirent_buf *v;
	size_t n, cap;
	char *names;
	size_t nlen, ncap;
	const char *full; /* for the entries' st_ino */
};

static const char *name_of(const struct listing *l, size_t i)
{
	return l->names + l->v[i].name;
}

/* Add NAME; its d_ino is INO, or (0) the hash of its path. */
static int list_add_ino(struct listing *l, const char *name, mode_t type,
			uint64_t ino)
{
	char *path;

	/* Virtual names are reached, never listed; a name with '@' further
	 * in ("alice@example.com.json") is an ordinary name. */
	if (cfs_name_reserved(name))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct dirent_buf *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!ino) {
		if (asprintf(&path, "%s%s%s", l->full, *l->full ? "/" : "",
			     name) < 0)
			return -ENOMEM;
		ino = fs_path_ino(path);
		free(path);
	}
	size_t len = strlen(name) + 1;

	if (l->nlen + len > UINT32_MAX)
		return -EOVERFLOW;
	if (l->nlen + len > l->ncap) {
		size_t cap = l->ncap ? l->ncap * 2 : 1024;
		char *p;

		while (cap < l->nlen + len)
			cap *= 2;
		if (!(p = realloc(l->names, cap)))
			return -ENOMEM;
		l->names = p;
		l->ncap = cap;
	}
	memcpy(l->names + l->nlen, name, len);
	l->v[l->n].name = (uint32_t)l->nlen;
	l->nlen += len;
	l->v[l->n].ino = ino;
	l->v[l->n].type = (uint32_t)type;
	l->n++;
	return 0;
}

static int list_add(struct listing *l, const char *name, mode_t type)
{
	return list_add_ino(l, name, type, 0);
}

static int list_add_cb(void *ctx, const char *name, mode_t type)
{
	return list_add(ctx, name, type);
}

void fs_listing_free(struct listing *l)
{
	if (!l)
		return;
	free(l->names);
	free(l->v);
	free(l);
}

static int cmp_dirent(const void *a, const void *b, void *names)
{
	return strcmp(
		(const char *)names + ((const struct dirent_buf *)a)->name,
		(const char *)names + ((const struct dirent_buf *)b)->name);
}

/* Sort and drop names listed twice (a collection in Git and in scratch). */
static void list_unique(struct listing *l)
{
	size_t w = 0, i = 1;

	/* A collection's files come in order already (git's order is
	 * strcmp's for files): glibc's qsort would copy the entries first
	 * (16 MB at a million) for nothing. */
	while (i < l->n && strcmp(name_of(l, i - 1), name_of(l, i)) <= 0)
		i++;
	if (i < l->n)
		qsort_r(l->v, l->n, sizeof(*l->v), cmp_dirent, l->names);
	for (size_t r = 0; r < l->n; r++) {
		if (w > 0 && !strcmp(name_of(l, w - 1), name_of(l, r)))
			continue;
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
	chronofs_strings_free(v, n);
	return err;
}

struct git_list_ctx {
	struct fs *fs;
	const struct fs_loc *loc;
	struct listing *l;
};

static int git_entry_cb(void *ctx, const char *name, const struct cfs_entry *e)
{
	struct git_list_ctx *c = ctx;
	char *path;
	bool gone = false;

	if (e->kind == CFS_DOC) {
		if (asprintf(&path, "%s%s%s", c->loc->path,
			     *c->loc->path ? "/" : "", name) < 0)
			return -ENOMEM;
		gone = fs_pending_has(c->fs->pending, c->loc->branch, path);
		free(path);
	}
	if (gone)
		return 0;
	return list_add(c->l, name,
			e->kind == CFS_DIR  ? S_IFDIR :
			e->kind == CFS_LINK ? S_IFLNK :
					      S_IFREG);
}

static int list_scratch(struct fs *fs, const struct fs_loc *loc,
			struct listing *l)
{
	struct dirent *de;
	struct stat dst;
	char *real, *path;
	DIR *d;
	int err = fs_scratch_of(fs, loc, &real);

	if (err < 0)
		return err;
	d = opendir(real);
	free(real);
	if (!d)
		return 0;
	if (fstat(dirfd(d), &dst) < 0)
		dst.st_dev = 0;
	while (err == 0 && (de = readdir(d))) {
		mode_t type = de->d_type == DT_UNKNOWN ? S_IFREG :
							 DTTOIF(de->d_type);
		uint64_t ino = 0;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* A scratch file's d_ino is its stat's (see fs_stat_ino);
		 * a new document's placeholder is a document. */
		if (!S_ISDIR(type) &&
		    asprintf(&path, "%s%s%s", loc->path, *loc->path ? "/" : "",
			     de->d_name) >= 0) {
			if (!cfs_is_document_path(path))
				ino = fs_scratch_ino(dst.st_dev, de->d_ino);
			free(path);
		}
		err = list_add_ino(l, de->d_name, type, ino);
	}
	closedir(d);
	return err;
}

static int do_opendir(struct fs *fs, struct fs_node *n,
		      struct fuse_file_info *fi)
{
	struct listing *l = calloc(1, sizeof(*l));
	struct git_list_ctx ctx;
	struct cfs_oid head;
	struct fs_loc loc;
	int err;

	if (!l)
		return -ENOMEM;
	err = fs_loc_of(fs, n, NULL, &loc);
	if (err < 0)
		goto out;
	l->full = loc.full;
	if (loc.where == FS_LOG) {
		err = -ENOTDIR;
		goto out;
	}
	if ((err = list_add(l, ".", S_IFDIR)) < 0 ||
	    (err = list_add(l, "..", S_IFDIR)) < 0)
		goto out;
	if (loc.where == FS_ORDER) {
		err = fs_order_list(fs, &loc, list_add_cb, l);
		goto out;
	}
	if (loc.where == FS_SNAP || loc.where == FS_HISTORY ||
	    loc.where == FS_CONFLICTS) {
		err = fs_history_list(fs, &loc, list_add_cb, l);
		goto out;
	}
	if (loc.where != FS_LIVE) {
		err = list_branches(fs, &loc, l);
		goto out;
	}
	ctx = (struct git_list_ctx){ fs, &loc, l };
	err = cfs_head(fs->db, loc.branch, &head);
	if (err == 0)
		err = cfs_readdir(fs->db, &head, loc.path, git_entry_cb, &ctx);
	if (err == -ENOENT)
		err = 0; /* a collection that lives in scratch only */
	if (err == 0)
		err = list_scratch(fs, &loc, l);
out:
	if (err == 0) {
		/* History lists versions oldest first, views in index
		 * order: not by name. */
		if (loc.where != FS_HISTORY && loc.where != FS_ORDER &&
		    loc.where != FS_CONFLICTS)
			list_unique(l);
		l->full = NULL;
		err = fs_fh_open(fs, NULL, fi, -1);
	}
	if (err == 0) {
		fh_of(fi)->listing = l;
		/* A frozen snapshot's listing never changes: let the kernel
		 * keep it. */
		fi->cache_readdir = fi->keep_cache =
			loc.where == FS_SNAP && *loc.path &&
			fs_frozen_cache_ok(fs, n, &loc);
	} else {
		fs_listing_free(l);
	}
	fs_loc_release(&loc);
	return err;
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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
		const char *name = name_of(l, i);
		struct fuse_entry_param e = {
			.attr = { .st_ino = l->v[i].ino,
				  .st_mode = l->v[i].type }
		};
		size_t need =
			plus ? fuse_add_direntry_plus(req, NULL, 0, name, NULL,
						      0) :
			       fuse_add_direntry(req, NULL, 0, name, NULL, 0);

		if (need > size - used)
			break;
		if (!plus) {
			fuse_add_direntry(req, buf + used, size - used, name,
					  &e.attr, (off_t)(i + 1));
		} else {
			if (strcmp(name, ".") && strcmp(name, "..") &&
			    fs_lookup_entry(fs, node_of(req, ino), name, &e) <
				    0) {
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

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	list_page(req, ino, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	list_page(req, ino, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_fh_close(fs_of(req), fh_of(fi));
	fuse_reply_err(req, 0);
}
