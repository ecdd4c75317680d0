/* treepatch.c - the trees of a one-path change, written by splicing.
 *
 * A save changes one path. libgit2's git_tree_create_updated loads every
 * entry of each tree on the way into a tree builder (a hash table), sorts
 * them again and writes through the object database's existence checks:
 * for a collection of 1,000 documents that was two thirds of a save. Here
 * each tree on the path is rewritten from its bytes with the one entry
 * replaced, added or dropped, hashed, and written by the pool-fed writer
 * (objwrite.c). Trees are taken as bytes (treebytes.c): the ones written
 * last are in its memo, so the next save into the same collection finds
 * its place by binary search and copies two ranges. A tree left empty by
 * a removal is dropped from its parent, as git_tree_create_updated does.
 * Changes of several paths (a reshard) still go through libgit2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

#define MAX_DEPTH STORE_MAX_DEPTH

/* Tree ID (NULL: a new tree) with entry NAME set to ENTRY/MODE, or
 * removed if ENTRY is NULL, written; *out its id, *empty if it has no
 * entry left (then it is not written, unless it is the root: ROOT). The
 * old entry is cut out of the tree's bytes and the new one spliced in
 * where git's order puts it. */
static int patch(struct store *st, const git_oid *id, const char *name,
		 const git_oid *entry, git_filemode_t mode, bool root,
		 git_oid *out, bool *empty)
{
	struct tree_bytes src, dst = { 0 };
	struct store_tb_buf ent = { 0 };
	bool borrowed = false;
	size_t rem, ins = 0, r0 = 0, r1 = 0, at, k = 0;
	int err = store_tb_get(st, id, &src, &borrowed);

	if (err < 0)
		return err;
	rem = store_tb_find(&src, name);
	if (rem < src.n) {
		r0 = src.off[rem];
		r1 = src.off[rem + 1];
	}
	if (entry) {
		ins = store_tb_lower_bound(&src, name,
					   mode == GIT_FILEMODE_TREE);
		if ((err = store_tb_put_entry(&ent, mode, name, entry)) < 0)
			goto out;
	}
	dst.n = src.n - (rem < src.n) + (entry != NULL);
	dst.len = src.len - (r1 - r0) + ent.len;
	dst.p = malloc(dst.len ? dst.len : 1);
	dst.off = malloc((dst.n + 1) * sizeof(*dst.off));
	if (!dst.p || !dst.off) {
		err = -ENOMEM;
		goto out;
	}
	at = 0;
	for (size_t i = 0; i <= src.n; i++) {
		if (entry && i == ins) {
			dst.off[k++] = at;
			memcpy(dst.p + at, ent.p, ent.len);
			at += ent.len;
		}
		if (i == src.n)
			break;
		if (i == rem)
			continue;
		dst.off[k++] = at;
		memcpy(dst.p + at, src.p + src.off[i],
		       src.off[i + 1] - src.off[i]);
		at += src.off[i + 1] - src.off[i];
	}
	dst.off[k] = at;
	*empty = dst.n == 0;
	if (dst.n > 0 || root) {
		err = store_object_hash(out, dst.p, dst.len, GIT_OBJECT_TREE);
		if (err == 0)
			err = store_object_write(st, out, dst.p, dst.len,
						 GIT_OBJECT_TREE);
		if (err == 0) {
			dst.id = *out;
			store_tb_keep(st, &dst);
			/* The tree this one replaces is seldom read again:
			 * a save into a large collection would otherwise
			 * leave each bucket's every version in the memo. */
			if (borrowed && !git_oid_equal(id, out))
				store_tb_drop(st, id);
		}
	}
out:
	if (!borrowed)
		store_tb_free(&src);
	store_tb_free(&dst);
	free(ent.p);
	return err;
}

int store_tree_patch(struct store *st, const git_oid *root, const char *path,
		     const git_oid *id, git_filemode_t mode, git_oid *out)
{
	git_oid trees[MAX_DEPTH];
	bool there[MAX_DEPTH] = { true };
	char *comp[MAX_DEPTH];
	char *copy = strdup(path), *c;
	size_t depth = 0;
	git_oid cur;
	bool empty = false, have = id != NULL;
	int err = copy ? 0 : -ENOMEM;

	/* trees[k] holds comp[k] (there[k] false: not there yet). */
	trees[0] = *root;
	for (char *rest = copy; err == 0 && rest && (c = strsep(&rest, "/"));) {
		if (!*c)
			continue; /* "a//b", "/a": as strtok skipped them */
		if (depth == MAX_DEPTH)
			err = store_fail(-ENAMETOOLONG, "%s: too deep", path);
		else
			comp[depth++] = c;
	}
	for (size_t k = 1; k < depth && err == 0; k++) {
		struct tree_bytes t;
		bool borrowed;
		size_t i;

		there[k] = false;
		if (!there[k - 1])
			continue;
		err = store_tb_get(st, &trees[k - 1], &t, &borrowed);
		if (err < 0)
			break;
		i = store_tb_find(&t, comp[k - 1]);
		if (i < t.n) {
			unsigned m;

			store_tb_entry(&t, i, &trees[k], &m);
			there[k] = m == GIT_FILEMODE_TREE;
		}
		if (!borrowed)
			store_tb_keep(st, &t); /* patched below */
	}
	if (err == 0 && depth == 0)
		err = store_fail(-EINVAL, "empty path");
	if (have)
		cur = *id;
	for (size_t k = depth; k-- > 0 && err == 0;) {
		err = patch(st, there[k] ? &trees[k] : NULL, comp[k],
			    have ? &cur : NULL, mode, k == 0, &cur, &empty);
		have = !empty;
		mode = GIT_FILEMODE_TREE;
	}
	if (err == 0)
		*out = cur;
	free(copy);
	return err;
}
