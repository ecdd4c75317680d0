/* test_listbucket.c - a fanout collection lists flat (store.c list_tree):
 * every file of every bucket once, a file beside the buckets in place of
 * its bucket's copy, links and subcollections, never the marker, the
 * buckets or a submodule; and the listing leaves the buckets in the tree
 * memo, where the saves after it find them. The collection is committed
 * as an outside Git user would write it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "testrepo.h"
#include "check.h"

#define DOCS 40

struct listed {
	char names[DOCS + 8][32];
	struct store_entry e[DOCS + 8];
	size_t n;
};

static int collect(void *ctx, const char *name, const struct store_entry *e)
{
	struct listed *l = ctx;

	if (l->n == DOCS + 8)
		return -E2BIG;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->e[l->n++] = *e;
	return 0;
}

static const struct store_entry *find(const struct listed *l, const char *name,
				      size_t *times)
{
	const struct store_entry *e = NULL;

	*times = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name)) {
			e = &l->e[i];
			(*times)++;
		}
	return e;
}

/* The git path of NAME in collection c's bucket, into OUT. */
static void bucket_path(const char *name, char *out, size_t len)
{
	char b[3];

	store_layout_bucket(name, b);
	snprintf(out, len, "c/%s/%s", b, name);
}

int main(void)
{
	char dir[] = "/tmp/test_listbucket.XXXXXX";
	char paths[DOCS + 4][64], names[DOCS][16];
	struct testrepo_put puts[DOCS + 6];
	struct store *st = NULL;
	struct store_oid commit;
	struct listed l = { .n = 0 };
	git_commit *c = NULL;
	git_tree *root = NULL;
	git_oid direct;
	size_t n = 0, times, buckets = 0;
	const struct store_entry *e;

	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	for (size_t i = 0; i < DOCS; i++) {
		snprintf(names[i], sizeof(names[i]), "a%zu.json", i);
		bucket_path(names[i], paths[n], sizeof(paths[n]));
		puts[n] = (struct testrepo_put){ paths[n],
						 "{\"in\": \"bucket\"}", 0 };
		n++;
	}
	puts[n++] = (struct testrepo_put){ "c/" LAYOUT_MARKER, "marker\n", 0 };
	/* a0.json beside the buckets: the document (store_layout_bucketed). */
	puts[n++] =
		(struct testrepo_put){ "c/a0.json", "{\"in\": \"direct\"}", 0 };
	puts[n++] = (struct testrepo_put){ "c/sub/x.json", "{}", 0 };
	bucket_path("ln", paths[DOCS], sizeof(paths[DOCS]));
	puts[n++] = (struct testrepo_put){ paths[DOCS], "a1.json",
					   GIT_FILEMODE_LINK };
	bucket_path("mod", paths[DOCS + 1], sizeof(paths[DOCS + 1]));
	puts[n++] = (struct testrepo_put){
		paths[DOCS + 1], "0123456789012345678901234567890123456789",
		GIT_FILEMODE_COMMIT
	};
	CHECK(testrepo_commit(st, &commit, NULL, 1700000000, 0, puts, n) == 0,
	      "commit");
	CHECK(store_readdir(st, &commit, "c", collect, &l) == 0, "readdir");

	CHECK(l.n == DOCS + 2, "%zu entries listed, not %d", l.n, DOCS + 2);
	for (size_t i = 0; i < DOCS; i++) {
		e = find(&l, names[i], &times);
		CHECK(times == 1 && e && e->kind == STORE_DOC,
		      "%s listed %zu times", names[i], times);
	}
	CHECK(git_odb_hash(&direct, "{\"in\": \"direct\"}", 16,
			   GIT_OBJECT_BLOB) == 0,
	      "hash");
	e = find(&l, "a0.json", &times);
	CHECK(e && !memcmp(e->oid.id, direct.id, STORE_OID_RAWSZ),
	      "a0.json is not the file beside the buckets");
	e = find(&l, "ln", &times);
	CHECK(times == 1 && e && e->kind == STORE_LINK, "the link");
	e = find(&l, "sub", &times);
	CHECK(times == 1 && e && e->kind == STORE_DIR, "the subcollection");
	find(&l, "mod", &times);
	CHECK(times == 0, "the submodule is listed");
	find(&l, LAYOUT_MARKER, &times);
	CHECK(times == 0, "the marker is listed");

	/* Every bucket is in the memo now. */
	CHECK(git_commit_lookup(&c, st->repo, store_goid(&commit)) == 0 &&
		      git_commit_tree(&root, c) == 0,
	      "tree");
	for (size_t i = 0; root && i < DOCS; i++) {
		git_tree_entry *te = NULL;
		char b[3], p[8];

		store_layout_bucket(names[i], b);
		snprintf(p, sizeof(p), "c/%s", b);
		CHECK(git_tree_entry_bypath(&te, root, p) == 0, "%s", p);
		if (!te)
			continue;
		pthread_mutex_lock(&st->lock);
		buckets += store_tb_find_memo(st, git_tree_entry_id(te)) !=
			   NULL;
		pthread_mutex_unlock(&st->lock);
		git_tree_entry_free(te);
	}
	CHECK(buckets == DOCS, "%zu of %d buckets in the memo", buckets, DOCS);
	git_tree_free(root);
	git_commit_free(c);
	testrepo_close(st, dir);
	return failures != 0;
}
