/* reshard.c - a flat collection made a fanout one in one pass (and a
 * bucket grown too big made a split one, the same way a level down).
 *
 * Each file's entry is copied into its bucket's tree, written from bytes,
 * and the collection's new tree (its subdirectories, the marker and the
 * buckets) is one update of the collection's path. As tree updates (a
 * removal and an upsert per file) libgit2 inserts each into a sorted list
 * and removes each from the flat tree's builder, moving the rest of the
 * list every time: quadratic, 4 s at 100,000 files and many minutes at a
 * million. The buckets go into one pack (packwrite.c). Within a bucket
 * the files keep the flat tree's order, which is git's order already
 * (they are all files). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

#define NBUCKETS 256

/* One entry of the collection's top tree. */
struct top {
	const char *name;
	git_filemode_t mode;
	git_oid id;
};

static int cmp_top(const void *a, const void *b)
{
	const struct top *x = a, *y = b;

	return store_rt_order(x->name, strlen(x->name),
			      x->mode == GIT_FILEMODE_TREE, y->name,
			      strlen(y->name), y->mode == GIT_FILEMODE_TREE);
}

static int write_tree(struct store *st, const struct store_tb_buf *b,
		      git_oid *out)
{
	int err = store_object_hash(out, b->p, b->len, GIT_OBJECT_TREE);

	return err < 0 ? err :
			 store_object_write(st, out, b->p, b->len,
					    GIT_OBJECT_TREE);
}

/* Bucket tree K: the files ORDER[0..N) of T, with NAME set to BLOB where
 * git's order puts it (if BLOB), added to PW. *out zero if it is empty. */
static int bucket_tree(struct store_packw *pw, git_tree *t,
		       const uint32_t *order, size_t n, const char *name,
		       const git_oid *blob, struct store_tb_buf *b,
		       git_oid *out)
{
	bool put = blob == NULL;
	int err = 0;

	b->len = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n && err == 0; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, order[i]);
		const char *en = git_tree_entry_name(e);

		if (!put && strcmp(name, en) < 0) {
			err = store_tb_put_entry(b, GIT_FILEMODE_BLOB, name,
						 blob);
			put = true;
		}
		if (err == 0)
			err = store_tb_put_entry(b, git_tree_entry_filemode(e),
						 en, git_tree_entry_id(e));
	}
	if (err == 0 && !put)
		err = store_tb_put_entry(b, GIT_FILEMODE_BLOB, name, blob);
	if (err == 0 && b->len)
		err = store_object_hash(out, b->p, b->len, GIT_OBJECT_TREE);
	if (err == 0 && b->len)
		err = store_packw_add(pw, GIT_OBJECT_TREE, b->p, b->len);
	return err;
}

/* ORDER[0..N) (files of T) sorted in place by their sub-bucket (the
 * hash's second byte), stably (SCRATCH holds N); START[j]..START[j + 1]
 * the files of sub-bucket j. */
static void sub_sort(git_tree *t, uint32_t *order, size_t n, uint32_t *scratch,
		     size_t start[NBUCKETS + 1])
{
	size_t fill[NBUCKETS];

	memset(start, 0, (NBUCKETS + 1) * sizeof(*start));
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, order[i]);

		start[store_layout_bucket_no_at(git_tree_entry_name(e), 1) +
		      1]++;
	}
	for (size_t k = 0; k < NBUCKETS; k++)
		start[k + 1] += start[k];
	memcpy(fill, start, sizeof(fill));
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, order[i]);

		scratch[fill[store_layout_bucket_no_at(git_tree_entry_name(e),
						       1)]++] = order[i];
	}
	memcpy(order, scratch, n * sizeof(*order));
}

/* A split bucket: the sub-buckets of the files ORDER[0..N) of T (sorted
 * by sub_sort, START its ranges), NAME set to BLOB in its own (if BLOB),
 * each added to PW, then the bucket's tree of MARKER and them; *out its
 * id. */
static int split_tree(struct store_packw *pw, git_tree *t,
		      const uint32_t *order, const size_t start[NBUCKETS + 1],
		      const char *name, const git_oid *blob,
		      const git_oid *marker, struct store_tb_buf *b,
		      git_oid *out)
{
	unsigned mine = store_layout_bucket_no_at(name, 1);
	git_oid ids[NBUCKETS];
	int err = 0;

	for (size_t j = 0; j < NBUCKETS && err == 0; j++)
		err = bucket_tree(pw, t, order + start[j],
				  start[j + 1] - start[j], name,
				  blob && j == mine ? blob : NULL, b, &ids[j]);
	b->len = 0;
	/* The marker's "." sorts before every two-hex-digit name. */
	if (err == 0)
		err = store_tb_put_entry(b, GIT_FILEMODE_BLOB, LAYOUT_MARKER,
					 marker);
	for (size_t j = 0; j < NBUCKETS && err == 0; j++) {
		char hex[3] = { "0123456789abcdef"[j >> 4],
				"0123456789abcdef"[j & 15], '\0' };

		if (!git_oid_is_zero(&ids[j]))
			err = store_tb_put_entry(b, GIT_FILEMODE_TREE, hex,
						 &ids[j]);
	}
	if (err == 0)
		err = store_object_hash(out, b->p, b->len, GIT_OBJECT_TREE);
	if (err == 0)
		err = store_packw_add(pw, GIT_OBJECT_TREE, b->p, b->len);
	return err;
}

int store_layout_fanout_tree(struct store *st, git_tree *t, const char *name,
			     const git_oid *blob, unsigned level, git_oid *out)
{
	size_t n = git_tree_entrycount(t), start[NBUCKETS + 1] = { 0 };
	size_t ntop = 0;
	uint16_t *bk = malloc((n ? n : 1) * sizeof(*bk));
	uint32_t *order = malloc((n ? n : 1) * sizeof(*order));
	uint32_t *scratch = malloc((n ? n : 1) * sizeof(*scratch));
	/* Per split bucket, its sub-buckets' ranges (sub_sort); NULL: none. */
	size_t(*sub)[NBUCKETS + 1] = NULL;
	bool split[NBUCKETS];
	git_oid marker1;
	struct top *top = malloc((n + NBUCKETS + 1) * sizeof(*top));
	struct store_tb_buf b = { 0 };
	struct store_packw pw = { 0 };
	char hex[NBUCKETS][3];
	unsigned mine = store_layout_bucket_no_at(name, level);
	int err = 0;

	if (!bk || !order || !scratch || !top || n > UINT32_MAX) {
		err = -ENOMEM;
		goto out;
	}
	/* Counting sort of the files by bucket, in the flat tree's order;
	 * subdirectories (and submodules) stay at the top (NBUCKETS). */
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const char *en = git_tree_entry_name(e);
		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
			bk[i] = NBUCKETS;
			top[ntop++] = (struct top){ en,
						    git_tree_entry_filemode(e),
						    *git_tree_entry_id(e) };
			continue;
		}
		if (!strcmp(en, name)) {
			bk[i] = NBUCKETS; /* replaced by BLOB */
			continue;
		}
		bk[i] = (uint16_t)store_layout_bucket_no_at(en, level);
		start[bk[i] + 1]++;
	}
	for (size_t k = 0; k < NBUCKETS; k++)
		start[k + 1] += start[k];
	{
		size_t fill[NBUCKETS];

		memcpy(fill, start, sizeof(fill));
		for (size_t i = 0; i < n; i++)
			if (bk[i] < NBUCKETS)
				order[fill[bk[i]]++] = (uint32_t)i;
	}
	{
		/* The trees of the pack: the buckets with a file
		 * (bucket_tree); a bucket that would hold LAYOUT_FANOUT_AT
		 * files is split at once (split_tree: its sub-buckets with a
		 * file, and itself), its files sorted by sub-bucket here. */
		uint32_t count = 0;
		unsigned m1 = store_layout_bucket_no_at(name, 1);

		for (size_t k = 0; k < NBUCKETS; k++) {
			size_t files =
				start[k + 1] - start[k] + (blob && k == mine);

			split[k] = level == 0 && store_layout_too_big(files);
			if (!split[k]) {
				count += files > 0;
				continue;
			}
			if (!sub && !(sub = malloc(NBUCKETS * sizeof(*sub)))) {
				err = -ENOMEM;
				goto out;
			}
			sub_sort(t, order + start[k], start[k + 1] - start[k],
				 scratch, sub[k]);
			for (size_t j = 0; j < NBUCKETS; j++)
				count += sub[k][j + 1] > sub[k][j] ||
					 (blob && k == mine && j == m1);
			count++;
		}
		err = store_packw_begin(st, &pw, count);
		for (size_t k = 0; k < NBUCKETS && err == 0; k++)
			if (split[k]) {
				err = store_layout_marker(st, 1, &marker1);
				break;
			}
	}
	for (size_t k = 0; k < NBUCKETS && err == 0; k++) {
		git_oid id;
		bool here;

		hex[k][0] = "0123456789abcdef"[k >> 4];
		hex[k][1] = "0123456789abcdef"[k & 15];
		hex[k][2] = '\0';
		here = blob && k == mine;
		if (split[k]) {
			err = split_tree(&pw, t, order + start[k], sub[k], name,
					 here ? blob : NULL, &marker1, &b, &id);
		} else {
			err = bucket_tree(&pw, t, order + start[k],
					  start[k + 1] - start[k], name,
					  here ? blob : NULL, &b, &id);
		}
		if (err == 0 && !git_oid_is_zero(&id))
			top[ntop++] =
				(struct top){ hex[k], GIT_FILEMODE_TREE, id };
	}
	if (err == 0)
		err = store_packw_finish(st, &pw);
	if (err == 0) {
		top[ntop].name = LAYOUT_MARKER;
		top[ntop].mode = GIT_FILEMODE_BLOB;
		err = store_layout_marker(st, level, &top[ntop++].id);
	}
	if (err == 0) {
		qsort(top, ntop, sizeof(*top), cmp_top);
		b.len = 0;
		for (size_t i = 0; i < ntop && err == 0; i++)
			err = store_tb_put_entry(&b, top[i].mode, top[i].name,
						 &top[i].id);
	}
	if (err == 0)
		err = write_tree(st, &b, out);
out:
	store_packw_free(&pw);
	free(b.p);
	free(top);
	free(sub);
	free(scratch);
	free(order);
	free(bk);
	return err;
}
