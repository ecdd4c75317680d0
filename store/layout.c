/* layout.c - where a document lives in Git. A collection is stored flat
 * (users/alice.json) until it holds LAYOUT_FANOUT_AT files; then it is
 * stored with a 256-way hash fanout (users/5c/alice.json, the bucket being
 * the low byte of the FNV-1a hash of the name, as two hex digits) and a
 * marker blob users/.chronofs-fanout, so a save rewrites a tree of a few
 * hundred entries instead of one of the whole collection. A bucket that
 * holds LAYOUT_FANOUT_AT files in its turn (past half a million documents)
 * is split the same way, by the hash's second byte, with its own marker
 * (users/5c/.chronofs-fanout, users/5c/e1/alice.json): each bucket is
 * plain or split, as its tree says. Everything above store/ sees the
 * flat, logical paths. In a fanout collection the two-hex-digit subtrees
 * are buckets, never collections of their own; in a split bucket only
 * the marker and the sub-buckets are part of the layout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

bool store_is_document_path(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len <= 5 || strcmp(base + len - 5, ".json") != 0)
		return false;
	/* No component may be hidden (".git", ".cache", "x/.y.json"). */
	return path[0] != '.' && !strstr(path, "/.");
}

bool store_layout_bucket_name(const char *name)
{
	static const char hex[] = "0123456789abcdef";

	return strlen(name) == 2 && strchr(hex, name[0]) &&
	       strchr(hex, name[1]);
}

unsigned store_layout_bucket_no_at(const char *name, unsigned level)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return (h >> (8 * level)) & 0xff;
}

unsigned store_layout_bucket_no(const char *name)
{
	return store_layout_bucket_no_at(name, 0);
}

void store_layout_bucket_at(const char *name, unsigned level, char out[3])
{
	snprintf(out, 3, "%02x", store_layout_bucket_no_at(name, level));
}

void store_layout_bucket(const char *name, char out[3])
{
	store_layout_bucket_at(name, 0, out);
}

int store_layout_marker(struct store *st, unsigned level, git_oid *out)
{
	static const char text[] =
		"chronofs: documents of this collection are in 256 buckets, "
		"named by the low byte of the FNV-1a hash of their name\n";
	static const char split[] =
		"chronofs: documents of this bucket are in 256 buckets, "
		"named by the second byte of the FNV-1a hash of their name\n";
	const char *m = level ? split : text;
	int err = git_blob_create_from_buffer(out, st->repo, m, strlen(m));

	return err < 0 ? store_git_fail(err, "fanout marker") : 0;
}

bool store_layout_bucketed(bool fanout, bool name_is_direct)
{
	return fanout && !name_is_direct;
}

int store_layout_bucket_path(const char *dir, size_t dirlen, const char *name,
			     bool split, char **out)
{
	char bucket[3], sub[3];

	store_layout_bucket(name, bucket);
	store_layout_bucket_at(name, 1, sub);
	if (asprintf(out, "%.*s%s%s/%s%s%s", (int)dirlen, dir,
		     dirlen ? "/" : "", bucket, split ? sub : "",
		     split ? "/" : "", name) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

bool store_layout_count(const char *name, bool is_file, size_t *files)
{
	if (is_file)
		(*files)++;
	else if (store_layout_bucket_name(name))
		return false;
	return true;
}

bool store_layout_too_big(size_t files)
{
	return files >= LAYOUT_FANOUT_AT;
}

bool store_layout_is_fanout(const git_tree *t)
{
	return t && git_tree_entry_byname(t, LAYOUT_MARKER) != NULL;
}

/* The tree of logical directory DIR ("" is ROOT); *out is the caller's. */
int store_layout_dir(struct store *st, git_tree *root, const char *dir,
		     git_tree **out)
{
	git_tree_entry *e = NULL;
	int err;

	*out = NULL;
	if (!*dir)
		return git_tree_dup(out, root) < 0 ? -ENOMEM : 0;
	err = git_tree_entry_bypath(&e, root, dir);
	if (err == GIT_ENOTFOUND)
		return store_fail(-ENOENT, "%s: not found", dir);
	if (err < 0)
		return store_git_fail(err, dir);
	if (git_tree_entry_type(e) != GIT_OBJECT_TREE) {
		git_tree_entry_free(e);
		return store_fail(-ENOTDIR, "%s: not a directory", dir);
	}
	err = git_tree_lookup(out, st->repo, git_tree_entry_id(e));
	git_tree_entry_free(e);
	return err < 0 ? store_git_fail(err, dir) : 0;
}

/* Split PATH at its last '/': *dir is the caller's. */
static int split(const char *path, char **dir, const char **name)
{
	const char *slash = strrchr(path, '/');

	*name = slash ? slash + 1 : path;
	*dir = strndup(path, slash ? (size_t)(slash - path) : 0);
	return *dir ? 0 : -ENOMEM;
}

bool store_layout_split(git_tree *root, const char *dir, size_t dirlen,
			const char *name)
{
	char bucket[3], *p = NULL;
	git_tree_entry *e = NULL;
	bool yes;

	store_layout_bucket(name, bucket);
	if (asprintf(&p, "%.*s%s%s/%s", (int)dirlen, dir, dirlen ? "/" : "",
		     bucket, LAYOUT_MARKER) < 0)
		return false;
	yes = git_tree_entry_bypath(&e, root, p) == 0;
	git_tree_entry_free(e);
	free(p);
	return yes;
}

int store_layout_git_path(struct store *st, git_tree *root, const char *path,
			  char **out, bool *fanout, bool *shadow)
{
	git_tree *dir = NULL;
	const char *name;
	char *dirpath;
	int err;

	*out = NULL;
	*fanout = false;
	if (shadow)
		*shadow = false;
	if ((err = split(path, &dirpath, &name)) < 0)
		return err;
	err = store_layout_dir(st, root, dirpath, &dir);
	if (err == 0 && store_layout_is_fanout(dir)) {
		const git_tree_entry *te = git_tree_entry_byname(dir, name);

		if (store_layout_bucketed(true, te != NULL)) {
			size_t dl = strlen(dirpath);

			*fanout = true;
			store_layout_bucket_path(
				dirpath, dl, name,
				store_layout_split(root, dirpath, dl, name),
				out);
		} else if (shadow) {
			*shadow = git_tree_entry_type(te) != GIT_OBJECT_TREE;
		}
	}
	if (!*out)
		*out = strdup(path);
	git_tree_free(dir);
	free(dirpath);
	return *out ? 0 : -ENOMEM;
}

/* Updates that move every file of flat collection DIR (tree T) into
 * buckets, plus the marker; appended to *up (grown). The file named SKIP
 * is left to the caller (it is being written anew in the same commit). */
int store_layout_reshard(struct store *st, const char *dir, git_tree *t,
			 const char *skip, git_tree_update **up, size_t *nup,
			 char ***paths, size_t *npaths)
{
	size_t n = git_tree_entrycount(t), k = *nup, p = *npaths;
	git_tree_update *u = realloc(*up, (k + 2 * n + 2) * sizeof(*u));
	char **v = u ? realloc(*paths, (p + 2 * n + 2) * sizeof(*v)) : NULL;
	git_oid marker;
	int err;

	if (u)
		*up = u;
	if (!u || !v)
		return -ENOMEM;
	*paths = v;
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const char *name = git_tree_entry_name(e);

		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
			continue;
		if (!strcmp(name, skip)) {
			/* Removed from the flat level; the caller adds it. */
			if (asprintf(&v[p], "%s%s%s", dir, *dir ? "/" : "",
				     name) < 0)
				return -ENOMEM;
			u[k++] = (git_tree_update){
				GIT_TREE_UPDATE_REMOVE, { { 0 } }, 0, v[p++]
			};
			continue;
		}
		if (asprintf(&v[p], "%s%s%s", dir, *dir ? "/" : "", name) < 0)
			return -ENOMEM;
		u[k++] = (git_tree_update){
			GIT_TREE_UPDATE_REMOVE, { { 0 } }, 0, v[p++]
		};
		if (store_layout_bucket_path(dir, strlen(dir), name, false,
					     &v[p]) < 0)
			return -ENOMEM;
		u[k++] = (git_tree_update){ GIT_TREE_UPDATE_UPSERT,
					    *git_tree_entry_id(e),
					    git_tree_entry_filemode(e),
					    v[p++] };
	}
	if ((err = store_layout_marker(st, 0, &marker)) < 0)
		return err;
	if (asprintf(&v[p], "%s%s%s", dir, *dir ? "/" : "", LAYOUT_MARKER) < 0)
		return -ENOMEM;
	u[k++] = (git_tree_update){ GIT_TREE_UPDATE_UPSERT, marker,
				    GIT_FILEMODE_BLOB, v[p++] };
	*nup = k;
	*npaths = p;
	return 0;
}
