/* diffrec.h - a diff of two commits from the index's records of what
 * each commit changed (diffrec.c). */
#ifndef CHRONOFS_LIB_DIFFREC_H
#define CHRONOFS_LIB_DIFFREC_H

#include "lib_int.h"
#include "treemerge.h"

/* The files that differ from A to B (under PREFIX, NULL or "" for all),
 * in strcmp order of their paths, as store_tdiff would list them. */
struct lib_drec {
	struct store_tdiff_entry *v; /* paths owned */
	size_t n, cap;
};

/* 0 with *out (the caller's: lib_drec_release), 1 if the records cannot
 * answer (diff the trees), or -errno. */
int lib_diff_records(chronofs *db, const struct store_oid *a,
		     const struct store_oid *b, const char *prefix,
		     struct lib_drec *out);
void lib_drec_release(struct lib_drec *r);

/* The records gathered, for the diff and the merge (mergerec.c). */
struct lib_ritem {
	char *path;
	unsigned side; /* 0: A (ours), 1: B (theirs) */
	unsigned step; /* 0: the side's own commit, then older */
	bool has_old, has_new;
	struct store_oid old, new;
};

struct lib_rgather {
	struct lib_ritem *v;
	size_t n, cap;
};

/* The files commit ID changed (under PREFIX), as items of SIDE at STEP:
 * 0, 1 if it has no record (or, PLAIN, none that says every file is
 * 100644), or -errno. */
int lib_rec_add(struct lib_rgather *g, struct idx_db *idx,
		const struct store_oid *id, unsigned side, unsigned step,
		const char *prefix, bool plain);
/* A new item at G's end (zeroed; the caller counts it in G->n once
 * filled), or NULL. */
struct lib_ritem *lib_rgather_grow(struct lib_rgather *g);
/* The records of the commits on A's first-parent chain (side 0) and on
 * B's (side 1) down to where the two chains meet (walked in turn, a
 * commit a side), as items: 0 (*MET false if they never meet: both to
 * their roots), 1 past 10,000 commits a side or a commit without a record
 * (lib_rec_add's), or -errno. */
int lib_rec_walk(struct lib_rgather *g, struct idx_db *idx,
		 struct store_chain *ch, const struct store_oid *a,
		 const struct store_oid *b, const char *prefix, bool plain,
		 bool *met);
/* Called by lib_rec_compose for a path whose versions at A and at B
 * differ (has false: absent); it may take IT->path. */
typedef int (*lib_rec_emit_fn)(void *ctx, struct lib_ritem *it, bool ha,
			       const struct store_oid *a, bool hb,
			       const struct store_oid *b);
/* The items of a lib_rec_walk (sorted here) as the files that differ
 * from A to B, in strcmp order: each version at A (at B) the newest of
 * side 0's (side 1's) items, else its version where the chains meet.
 * 0, 1 if the records do not follow each other or the sides disagree on
 * the meeting point, or FN's error. */
int lib_rec_compose(struct lib_rgather *g, lib_rec_emit_fn fn, void *ctx);
/* The items by path, then side, then step (newest first). */
void lib_rec_sort(struct lib_rgather *g);
/* One file's state at a side's end, and at the base, from the sorted
 * items of that side [I, J). 1 if they do not follow each other. */
int lib_rec_state(const struct lib_ritem *v, size_t i, size_t j, bool *has,
		  struct store_oid *id, bool *base_has,
		  struct store_oid *base_id);
/* One path's states in sorted items: per side, whether it has items
 * (seen), and its version at the side's end and at the base. */
struct lib_rpath {
	bool seen[2], has[2], bhas[2];
	struct store_oid id[2], bid[2];
};
/* The states of the path of sorted item I; *J: the next path's first
 * item. 1 if a side's items do not follow each other or the two sides
 * disagree on the base. */
int lib_rec_path(const struct lib_rgather *g, size_t i, size_t *j,
		 struct lib_rpath *p);
void lib_rgather_release(struct lib_rgather *g);

#endif
