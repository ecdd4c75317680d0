/* treepatch.c - the trees of a one-path change, written by splicing.
 *
 * A save changes one path. libgit2's git_tree_create_updated loads every
 * entry of each tree on the way into a tree builder (a hash table), sorts
 * them again and writes through the object database's existence checks:
 * for a collection of 1,000 documents that was two thirds of a save. Here
 * each tree on the path is serialized straight from its parsed, already
 * sorted entries with the one entry replaced, added or dropped, hashed,
 * and written by the pool-fed writer (objwrite.c). A tree left empty by a
 * removal is dropped from its parent, as git_tree_create_updated does.
 * Changes of several paths (a reshard) still go through libgit2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define MAX_DEPTH 64

struct buf {
	char *p;
	size_t len, cap;
};

static int put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		if (!(p = realloc(b->p, cap)))
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int put_entry(struct buf *b, git_filemode_t mode, const char *name,
		     const git_oid *id)
{
	char head[16], *h = head + sizeof(head);
	unsigned m = (unsigned)mode;
	int err;

	/* "%o " by hand: this runs for every entry of every tree a save
	 * rewrites. */
	*--h = ' ';
	do {
		*--h = (char)('0' + (m & 7));
		m >>= 3;
	} while (m);
	err = put(b, h, (size_t)(head + sizeof(head) - h));

	if (err == 0)
		err = put(b, name, strlen(name) + 1);
	if (err == 0)
		err = put(b, id->id, GIT_OID_RAWSZ);
	return err;
}

/* Git's tree order: names compared bytewise, a tree's name as if it ended
 * in '/'. */
static int order(const char *a, bool adir, const char *b, bool bdir)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
	int c = memcmp(a, b, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = la > n ? (unsigned char)a[n] : adir ? '/' : 0;
	cb = lb > n ? (unsigned char)b[n] : bdir ? '/' : 0;
	return ca < cb ? -1 : ca > cb;
}

/* T (NULL: a new tree) with entry NAME set to ID/MODE, or removed if ID is
 * NULL, written; *out its id, *empty if it has no entry left (then it is
 * not written, unless it is the root: ROOT). */
static int patch(struct store *st, const git_tree *t, const char *name,
		 const git_oid *id, git_filemode_t mode, bool root,
		 git_oid *out, bool *empty)
{
	struct buf b = {0};
	size_t n = t ? git_tree_entrycount(t) : 0, kept = 0;
	bool placed = id == NULL;
	int err = 0;

	for (size_t i = 0; i < n && err == 0; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const char *en = git_tree_entry_name(e);
		git_filemode_t em = git_tree_entry_filemode(e);

		if (!strcmp(en, name))
			continue; /* replaced or removed */
		if (!placed && order(en, em == GIT_FILEMODE_TREE, name,
				     mode == GIT_FILEMODE_TREE) > 0) {
			err = put_entry(&b, mode, name, id);
			placed = true, kept++;
		}
		if (err == 0)
			err = put_entry(&b, em, en, git_tree_entry_id(e));
		kept++;
	}
	if (err == 0 && !placed) {
		err = put_entry(&b, mode, name, id);
		kept++;
	}
	*empty = kept == 0;
	if (err == 0 && (kept > 0 || root)) {
		err = git_odb_hash(out, b.p ? b.p : "", b.len, GIT_OBJECT_TREE);
		err = err < 0 ? store_git_fail(err, "tree hash")
			      : store_object_write(st, out, b.p ? b.p : "",
						   b.len, GIT_OBJECT_TREE);
	}
	free(b.p);
	return err;
}

int store_tree_patch(struct store *st, git_tree *root, const char *path,
		     const git_oid *id, git_filemode_t mode, git_oid *out)
{
	git_tree *trees[MAX_DEPTH] = {root};
	char *comp[MAX_DEPTH];
	char *copy = strdup(path), *save = NULL, *c;
	size_t depth = 0;
	git_oid cur;
	bool empty = false, have = id != NULL;
	int err = copy ? 0 : -ENOMEM;

	/* trees[k] is the tree that holds comp[k] (NULL: not there yet). */
	for (c = copy ? strtok_r(copy, "/", &save) : NULL; c && err == 0;
	     c = strtok_r(NULL, "/", &save)) {
		if (depth == MAX_DEPTH)
			err = store_fail(-ENAMETOOLONG, "%s: too deep", path);
		else
			comp[depth++] = c;
	}
	for (size_t k = 1; k < depth && err == 0; k++) {
		const git_tree_entry *e =
			trees[k - 1] ? git_tree_entry_byname(trees[k - 1],
							     comp[k - 1])
				     : NULL;

		trees[k] = NULL;
		if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE &&
		    git_tree_lookup(&trees[k], st->repo,
				    git_tree_entry_id(e)) < 0)
			err = store_git_fail(-1, comp[k - 1]);
	}
	if (err == 0 && depth == 0)
		err = store_fail(-EINVAL, "empty path");
	if (have)
		cur = *id;
	for (size_t k = depth; k-- > 0 && err == 0;) {
		err = patch(st, trees[k], comp[k], have ? &cur : NULL,
			    mode, k == 0, &cur, &empty);
		have = !empty;
		mode = GIT_FILEMODE_TREE;
	}
	if (err == 0)
		*out = cur;
	for (size_t k = 1; k < depth; k++)
		git_tree_free(trees[k]);
	free(copy);
	return err;
}
