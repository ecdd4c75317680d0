/* treewalk.h - private to treediff.c and treemerge.c: the walk of trees
 * by logical path over their bytes (rawtree.c). A fanout collection is
 * its direct entries plus the files of its buckets; two fanout
 * collections are compared bucket by bucket, equal bucket ids skipped
 * unread. Everything here runs under st->lock. */
#ifndef CHRONOFS_STORE_TREEWALK_H
#define CHRONOFS_STORE_TREEWALK_H

#include "store_int.h"

/* One file that differs between two trees. */
struct tchange {
	char *path;
	bool has_old, has_new;
	git_oid old, new;
	unsigned old_mode, new_mode;
};

struct walk {
	struct store *st;
	struct tchange *v;
	size_t n, cap;
	size_t trees_read;
	bool partial; /* a missing tree reads as empty (store_tdiff_partial) */
	bool missing;
	git_oid missing_id; /* the first one */
};

void tw_release(struct walk *w);
/* "DIR/NAME" ("NAME" if DIR is ""), malloc'd, or NULL. */
char *tw_join(const char *dir, const char *name);
/* Tree ID (NULL: the empty tree) read; counted in W->trees_read. In a
 * partial walk a tree Git cannot find reads as empty and is noted. */
int tw_load(struct walk *w, const git_oid *id, struct rtree *out);
/* An entry's id as libgit2's type (its bytes, borrowed). */
static inline const git_oid *tw_id(const struct rt_entry *e)
{
	return e ? (const git_oid *)(const void *)e->id : NULL;
}
/* Both absent, or the same id. */
bool tw_same_id(const git_oid *a, const git_oid *b);
/* A bucket of a fanout collection (a tree with a bucket's name). */
bool tw_is_bucket(const struct rt_entry *e);
/* T is a fanout collection with no file beside its buckets but the
 * marker, so it can be compared bucket by bucket (a file there shadows
 * its bucket's copy, store_layout_bucketed). */
bool tw_plain_fanout(const struct rtree *t);
/* The buckets of T by number (NULL where there is none). */
void tw_buckets(const struct rtree *t, const struct rt_entry *out[256]);

/* A directory's logical entries in strcmp order of name; the bucket
 * trees they point into are held until tw_listing_release. */
struct listing {
	const struct rt_entry **v;
	size_t n;
	struct rtree *held;
	size_t nheld;
};
/* T's logical entries (T NULL: none): a fanout collection's buckets
 * opened, but for the files a direct entry shadows (BUCKETS false: its
 * direct entries only, without the buckets and the marker). */
int tw_list(struct walk *w, const struct rtree *t, bool buckets,
	    struct listing *l);
void tw_listing_release(struct listing *l);
/* The files of bucket T (of LEVEL 0, a collection's, or 1, a split
 * bucket's; NULL: none) as a listing sorted by name: a split bucket's
 * are those of its sub-buckets, nothing else of it is part of the
 * layout. */
int tw_bucket_files(struct walk *w, const struct rtree *t, unsigned level,
		    struct listing *l);

/* Record file DIR/NAME going from A to B (ids, NULL: absent), unless
 * they are equal. */
int tw_emit(struct walk *w, const char *dir, const char *name, const git_oid *a,
	    unsigned amode, const git_oid *b, unsigned bmode);
/* The files that differ under logical directory DIR between trees A and
 * B (ids; NULL: absent), appended to W->v in walk order. */
int tw_diff_dir(struct walk *w, const char *dir, const git_oid *a,
		const git_oid *b);
/* The root tree id of commit-or-tree ID (NULL stays NULL: *outp). */
int tw_root_tree(struct store *st, const struct store_oid *id, git_oid *out,
		 const git_oid **outp);

#endif
