/* chain_int.h - private to store/: the catch-up reader's raw trees
 * (chain.c reads and parses them, rawdiff.c compares them). */
#ifndef CHRONOFS_STORE_CHAIN_INT_H
#define CHRONOFS_STORE_CHAIN_INT_H

#include "store_int.h"

/* One entry of a raw tree: pointers into the tree's bytes (the name is
 * NUL-terminated there). */
struct rent {
	const char *name;
	size_t nlen;
	unsigned mode; /* as written; see rent_is_tree, rent_mode */
	const unsigned char *id;
};

/* A parsed tree, shared by the memo and the diff frames reading it. */
struct ctree {
	git_oid id;
	unsigned refs;
	void *data; /* the backend's buffer (or malloc'd: be == NULL) */
	git_odb_backend *be;
	struct rent *v; /* in Git's order (sorted so if written otherwise) */
	size_t n;
	bool fanout; /* holds LAYOUT_MARKER */
	bool direct; /* holds files other than LAYOUT_MARKER */
};

/* The tree ID, parsed; a reference the caller puts back with
 * chain_tree_put. -ENOENT: no such object; -EIO: not a valid tree. */
int chain_tree_get(struct store_chain *ch, const git_oid *id,
		   struct ctree **out);
void chain_tree_put(struct store_chain *ch, struct ctree *t);

/* What libgit2 makes of a mode: git_tree_entry_type is a tree, and
 * git_tree_entry_filemode's normalized mode. */
static inline bool rent_is_tree(const struct rent *e)
{
	return e && (e->mode & 0170000) == 0040000;
}

unsigned rent_mode(const struct rent *e);

/* Git's order of tree entries: names byte-wise, a tree's as if it ended
 * in '/'. Zero only for the same name and the same kind. */
int rent_cmp(const struct rent *a, const struct rent *b);

#endif
