/* treemerge.h - the documents that differ between two commits, and the
 * three-way merge of three commits, by logical path.
 *
 * Both work on logical paths: a collection stored flat on one side and
 * with the hash fanout (layout.c) on the other compares document by
 * document. A subtree whose id is the same on the two sides compared is
 * skipped without being read (buckets of two fanout collections too), so
 * the cost follows the number of changed documents, not the size of the
 * collections; only a collection flat on one side and fanout on the other
 * is read whole. Every file counts (documents and the odd non-document a
 * Git user committed), except the fanout marker.
 *
 * Commits may be given as commit ids or as tree ids; NULL is the empty
 * tree (a merge without a merge base: everything is an addition).
 * Every function takes the store lock while it reads or writes Git, and
 * returns 0 or -errno with store_errmsg() set.
 */
#ifndef CHRONOFS_STORE_TREEMERGE_H
#define CHRONOFS_STORE_TREEMERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jmerge.h"
#include "jtree.h"
#include "store.h"

/* ---- two-commit diff ---- */

enum store_tdiff_op {
	STORE_TDIFF_ADD,
	STORE_TDIFF_DELETE,
	STORE_TDIFF_MODIFY,
};

struct store_tdiff_entry {
	const char *path; /* logical path */
	enum store_tdiff_op op;
	struct store_oid old_blob, new_blob; /* zero where absent */
	unsigned old_mode, new_mode; /* Git file modes; 0: absent */
};

struct store_tdiff;

/* The files that differ from A to B, under PREFIX (a logical directory or
 * document path; NULL or "" for all), in strcmp order of their paths.
 * *out is the caller's (store_tdiff_free). -ENOENT: no such commit. */
int store_tdiff_new(struct store_tdiff **out, struct store *st,
		    const struct store_oid *a, const struct store_oid *b,
		    const char *prefix);
/* As store_tdiff_new (every path), for a repository missing objects: a
 * tree Git cannot find reads as an empty directory instead of failing the
 * diff, so what can be read is diffed (store_tdiff_missing says if it
 * was whole). */
int store_tdiff_partial(struct store_tdiff **out, struct store *st,
			const struct store_oid *a, const struct store_oid *b);
/* Whether a partial diff found a tree missing: true with the first such
 * tree's id in *out. */
bool store_tdiff_missing(const struct store_tdiff *d, struct store_oid *out);
/* The next entry: 0 with *e borrowed until the next call or the free, 1
 * at the end. */
int store_tdiff_next(struct store_tdiff *d, const struct store_tdiff_entry **e);
size_t store_tdiff_count(const struct store_tdiff *d);
/* How many Git trees the diff read (the test of "cost follows the
 * changes"). */
size_t store_tdiff_trees_read(const struct store_tdiff *d);
void store_tdiff_free(struct store_tdiff *d);

/* Append E's line of `chronofsctl diff` to OUT (jtree.h's buffer), read
 * from the store:
 *   {"path":"users/alice.json","op":"modify","patch":[...]}\n
 * the patch being jpatch_diff's RFC 6902 operations from the old
 * document to the new one (an added document: one "add" of the whole at
 * ""; a deleted one: one "remove" of ""). If a version is not JSON (a
 * file a Git user committed), "patch" is null. 0 or -errno. */
int store_tdiff_line(struct store *st, const struct store_tdiff_entry *e,
		     struct jt_buf *out);

/* ---- three-way merge ---- */

enum store_merge_action {
	STORE_MERGE_OURS, /* ours' file stays (exact bytes) */
	STORE_MERGE_THEIRS, /* theirs' blob, exact bytes, theirs' mode */
	STORE_MERGE_DELETE, /* the path is gone from the result */
	STORE_MERGE_BYTES, /* a new blob: BYTES (members merged) */
};

enum { STORE_MERGE_BASE_I, STORE_MERGE_OURS_I, STORE_MERGE_THEIRS_I };

/* One path theirs changed (since the base) to a version ours does not
 * have: where the result may differ from ours. A path only ours changed,
 * or both changed alike, is not listed: the result keeps ours' file. */
struct store_merge_entry {
	char *path; /* logical */
	enum store_merge_action action;
	/* The versions (index STORE_MERGE_*_I); has[i] false: absent. */
	bool has[3];
	struct store_oid blob[3];
	unsigned mode[3];
	char *bytes; /* STORE_MERGE_BYTES */
	size_t len;
	/* Conflicts (jmerge.h, with the document's JSON values); winner:
	 * the side that won them (meaningful when n > 0). */
	struct jmerge_conflict *conflicts;
	size_t n;
	enum jmerge_side winner;
	/* In a bucket the result takes from theirs whole (a take below):
	 * listed, but nothing to build. */
	bool taken;
};

/* A bucket of fanout collection DIR that theirs changed and ours did not
 * (the three sides fanout): the result's bucket is theirs' tree, or gone
 * if theirs has none (HAS false), as it is: nothing in it is read again
 * or rewritten. */
struct store_merge_take {
	char *dir; /* logical */
	char bucket[3];
	bool has;
	struct store_oid tree;
};

struct store_merge {
	struct store_merge_entry *v; /* in strcmp order of path */
	size_t n;
	size_t nconflicted; /* entries with n > 0 */
	struct store_merge_take *takes;
	size_t ntakes;
	size_t trees_read;
	struct store_oid ours_tree, theirs_tree;
};

/* Who wins the conflicts of PATH (changed on both sides): 0 or -errno.
 * Called only for documents with conflicts, without the store lock (it
 * may call the store). */
typedef int (*store_merge_winner_fn)(void *ctx, const char *path,
				     enum jmerge_side *out);

struct store_merge_opts {
	/* NULL: store_merge_latest_change on both heads (OURS and THEIRS
	 * must then be commits): the newer committer time wins, then the
	 * greater commit id. */
	store_merge_winner_fn winner;
	void *ctx;
	/* NULL, or the paths theirs changed from BASE (a commit) as
	 * store_merge_trees lists them, found without reading the trees
	 * (lib/mergerec.c: the commits' records of changes): 0 with OUT->v
	 * and OUT->n set (entries unsorted, actions THEIRS or DELETE, the
	 * takes by store_merge_take_buckets), 1 where it cannot answer (the
	 * trees do), or -errno. store_merge_branch then finishes them
	 * (store_merge_finish). */
	int (*changes)(void *ctx, const struct store_oid *base,
		       const struct store_oid *ours,
		       const struct store_oid *theirs, struct store_merge *out);
	void *changes_ctx;
};

/* Merge THEIRS into OURS against BASE. Documents changed on one side
 * take that side; changed on both merge by jmerge_doc (JSON documents
 * member by member; other files, and texts that are not JSON, as whole
 * values). Subtrees and buckets theirs left as the base has them, or
 * changed as ours did, are not read; buckets only theirs changed are
 * read on two sides (the base's and theirs), only those both changed on
 * three. The store lock is held while the trees are compared and each
 * blob read, not while documents merge. *out is the caller's
 * (store_merge_release). */
int store_merge_trees(struct store_merge *out, struct store *st,
		      const struct store_oid *base,
		      const struct store_oid *ours,
		      const struct store_oid *theirs,
		      const struct store_merge_opts *opts);
void store_merge_release(struct store_merge *m);
/* M's entries (theirs' changes, from opts->changes) merged as
 * store_merge_trees merges its own: sorted, the ones both sides changed
 * merged by jmerge_doc, the root trees of OURS and THEIRS noted. On
 * failure M is released. */
int store_merge_finish(struct store_merge *m, struct store *st,
		       const struct store_oid *ours,
		       const struct store_oid *theirs,
		       const struct store_merge_opts *opts);

/* The takes of M, whose entries (theirs' changes since BASE) came from
 * opts->changes: in each collection M has entries in that is fanout on
 * the three sides (the base's may be absent), every bucket theirs
 * changed and ours did not is taken whole, its entries marked taken, as
 * store_merge_trees decides; only the trees down to those collections
 * are read, no bucket. 0; 1 where the trees might decide otherwise (a
 * file beside a collection's buckets, an entry where theirs' tree is
 * the base's or ours'); -errno. */
int store_merge_take_buckets(struct store_merge *m, struct store *st,
			     const struct store_oid *base,
			     const struct store_oid *ours,
			     const struct store_oid *theirs);
/* Bucket K of collection DIR is taken whole: theirs' tree, whose id is
 * the STORE_OID_RAWSZ bytes at ID (NULL: removed); appended to
 * M->takes. */
int store_merge_add_take(struct store_merge *m, const char *dir, unsigned k,
			 const unsigned char *id);
/* An entry path's name, and the length of its directory. */
const char *store_merge_base_name(const char *path);
size_t store_merge_dir_len(const char *path);
/* qsort order of pointers to entries by their directories alone. */
int store_merge_cmp_dir(const void *a, const void *b);

/* The merged root tree: ours' tree (M->ours_tree) with M's entries
 * applied, new merged blobs and trees written (no commit, no ref moved:
 * the caller commits it with ours and theirs as parents, or ours alone
 * for a squash). Layout: a collection stays fanout if
 * it is fanout in ours; it becomes fanout if it is fanout in theirs or
 * holds LAYOUT_FANOUT_AT files or more after the merge (the rule of a
 * save, layout.c: collections never go back to flat), else flat. */
int store_merge_build_tree(struct store *st, const struct store_merge *m,
			   struct store_oid *tree_out);

/* Commit TREE on BRANCH with parents PARENTS[0..N) (N >= 1; a merge:
 * ours then theirs; a squash: ours alone) and message MSG, the branch
 * moved from PARENTS[0] to it by compare-and-swap: -EAGAIN if the branch
 * is no longer at PARENTS[0] (merge again on the new head). With
 * fsync=on the objects are durable before the branch moves. */
int store_commit_tree(struct store *st, const char *branch,
		      const struct store_oid *tree,
		      const struct store_oid *parents, size_t n,
		      const char *msg, struct store_oid *out);
/* Move BRANCH from OLD to NEW (a fast-forward) by compare-and-swap:
 * -EAGAIN if it is not at OLD. */
int store_branch_cas(struct store *st, const char *branch,
		     const struct store_oid *old, const struct store_oid *new,
		     const char *msg);

/* ---- a branch into another ---- */

#define STORE_MERGE_SQUASH 1u /* one ordinary commit, INTO its parent */

struct store_merge_outcome {
	enum {
		STORE_MERGED_NOTHING, /* FROM was already in INTO */
		STORE_MERGED_FAST_FORWARD, /* INTO moved to FROM's head */
		STORE_MERGED_COMMIT, /* a merge (or squash) commit */
	} kind;
	struct store_oid commit; /* INTO's head now */
	struct store_oid old_head; /* INTO's head before */
	struct store_oid from_head; /* FROM's head merged */
	bool has_base; /* false: unrelated histories */
	struct store_oid base; /* a fast-forward: OLD_HEAD */
	/* STORE_MERGED_COMMIT: the paths changed and their conflicts
	 * (for a fast-forward, store_tdiff from OLD_HEAD to COMMIT). */
	struct store_merge merge;
	char *message; /* the commit's message */
};

/* Merge branch FROM into branch INTO: nothing if FROM is already in
 * INTO; a fast-forward if INTO has nothing of its own (unless SQUASH);
 * else store_merge_trees of the merge base (none: the empty tree, and the
 * message says so), INTO's head (ours) and FROM's (theirs), its tree, and
 * a commit with parents INTO, FROM (SQUASH in FLAGS: INTO alone) and
 * message MSG (NULL: "merge FROM into INTO"), followed by the conflicted
 * paths ("Conflicts:", one per line). If INTO moves meanwhile, all of it
 * again on the new head. -EINVAL: FROM is INTO; -ENOENT: no such branch.
 * *out: release with store_merge_outcome_release. */
int store_merge_branch(struct store_merge_outcome *out, struct store *st,
		       const char *from, const char *into, const char *msg,
		       unsigned flags, const struct store_merge_opts *opts);
void store_merge_outcome_release(struct store_merge_outcome *o);
/* The same with FROM_COMMIT (not NULL) merged instead of branch FROM's
 * head, FROM naming it in the message (a remote's branch, for sync). */
int store_merge_commit(struct store_merge_outcome *out, struct store *st,
		       const char *from, const struct store_oid *from_commit,
		       const char *into, const char *msg, unsigned flags,
		       const struct store_merge_opts *opts);

/* ---- many changes, one commit ---- */

/* The tree of commit BASE with changes C[0..N) applied in order (PUT:
 * the data as a new blob; DELETE: -ENOENT if the path is not there;
 * RENAME: the content moves, replacing TO), collections laid out as
 * store_merge_build_tree does (a collection crossing the threshold is
 * resharded). No commit is made. */
int store_tree_apply(struct store *st, const struct store_oid *base,
		     const struct store_change *c, size_t n,
		     struct store_oid *tree_out);

#define STORE_TX_STRICT 1u

/* Changes C[0..N), begun on BEGIN (a commit of BRANCH), as one commit on
 * BRANCH with message MSG: on BEGIN if the branch is still there, else
 * merged onto its head by store_merge_trees (base BEGIN, ours the head,
 * theirs the changes' tree; the changes win conflicts, being the newer),
 * the branch moved by compare-and-swap, again on a newer head if it
 * moved meanwhile. STORE_TX_STRICT in FLAGS: -EBUSY instead of a merge
 * when a commit since BEGIN changed one of the paths of C. Returns 0 with
 * *out the commit, 1 if the result changes nothing (no commit), or
 * -errno (nothing written to the branch). */
int store_commit_changes(struct store *st, const char *branch,
			 const struct store_oid *begin,
			 const struct store_change *c, size_t n,
			 const char *msg, unsigned flags,
			 struct store_oid *out);

/* The merge base of commits A and B (libgit2's git_merge_base: with
 * several best common ancestors, one of them). -ENOENT: unrelated
 * histories (merge against NULL, the empty tree). */
int store_merge_base(struct store *st, const struct store_oid *a,
		     const struct store_oid *b, struct store_oid *out);

/* The winner of PATH's conflicts between heads OURS and THEIRS, by the
 * SPEC's rule (the side whose latest change to PATH is newer: committer
 * time, then the greater commit id); the merge's default, and what
 * BRANCH@conflicts derives again. */
int store_merge_winner(struct store *st, const struct store_oid *ours,
		       const struct store_oid *theirs, const char *path,
		       enum jmerge_side *out);

/* The commit on HEAD's first-parent chain that gave logical PATH its
 * content at HEAD (the oldest commit of the run, back from HEAD, in which
 * PATH has HEAD's content or is absent as at HEAD), its committer time
 * and id. Cost: the commits walked. */
int store_merge_latest_change(struct store *st, const struct store_oid *head,
			      const char *path, int64_t *time,
			      struct store_oid *commit);

#endif
