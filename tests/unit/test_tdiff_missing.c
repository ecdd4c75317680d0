/* test_tdiff_missing.c - the diff of a repository missing trees
 * (store/treemerge.c's partial diff, store_diff_parent): with a plain
 * subtree and a fanout collection's bucket deleted from the object store,
 * the strict diff fails with ENOENT, the partial one diffs the rest, reads
 * each missing tree as empty and names it; a diff that needs neither is
 * whole. The index catch-up's chain reader (store_chain_diff) does the
 * same. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jgen.h"
#include "store_int.h"
#include "testrepo.h"
#include "treemerge.h"

static struct store *st;
static char dir[] = "/tmp/chronofs-tdiffmiss-XXXXXX";

/* A commit on PARENT (NULL: a root commit) with PUTS written. */
static struct store_oid commit_on(const struct store_oid *parent,
				  const struct testrepo_put *puts, size_t n)
{
	struct store_oid out;
	int err = testrepo_commit(st, &out, parent, 1000, 0, puts, n);

	CHECK(err == 0, "commit: %d", err);
	return out;
}

/* The id of the tree at git path PATH in COMMIT. */
static git_oid tree_at(const struct store_oid *commit, const char *path)
{
	git_commit *c = NULL;
	git_tree *root = NULL;
	git_tree_entry *e = NULL;
	git_oid out = { { 0 } };

	CHECK(git_commit_lookup(&c, st->repo, store_goid(commit)) == 0 &&
		      git_commit_tree(&root, c) == 0 &&
		      git_tree_entry_bypath(&e, root, path) == 0,
	      "tree %s", path);
	if (e)
		git_oid_cpy(&out, git_tree_entry_id(e));
	git_tree_entry_free(e);
	git_tree_free(root);
	git_commit_free(c);
	return out;
}

/* Delete the loose file of object ID, as a lost or damaged one. */
static void lose(const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1], path[512];

	git_oid_tostr(hex, sizeof(hex), id);
	snprintf(path, sizeof(path), "%s/objects/%.2s/%s", dir, hex, hex + 2);
	CHECK(unlink(path) == 0, "unlink %s", path);
}

/* The diff from A to B as "op path" lines, one string. */
static void diff_is(const struct store_oid *a, const struct store_oid *b,
		    const char *want, const git_oid *missing)
{
	static const char ops[] = { '+', '-', 'M' };
	const struct store_tdiff_entry *e;
	struct store_tdiff *d = NULL;
	struct store_oid m;
	char got[1024] = "";
	size_t len = 0;
	int err = store_tdiff_partial(&d, st, a, b);

	CHECK(err == 0, "partial diff: %d %s", err, store_errmsg());
	while (d && store_tdiff_next(d, &e) == 0 && len < sizeof(got) - 1)
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%c%s ",
					ops[e->op], e->path);
	CHECK(!strcmp(got, want), "diff: got '%s', want '%s'", got, want);
	if (d && missing)
		CHECK(store_tdiff_missing(d, &m) &&
			      !memcmp(m.id, missing->id, STORE_OID_RAWSZ),
		      "the missing tree is named");
	else if (d)
		CHECK(!store_tdiff_missing(d, &m), "nothing missing");
	store_tdiff_free(d);
}

static int line_cb(void *ctx, const char *path, const struct store_oid *old,
		   const struct store_oid *new)
{
	char *got = ctx;
	size_t len = strlen(got);

	snprintf(got + len, 1024 - len, "%c%s ",
		 !old ? '+' :
		 !new ? '-' :
			'M',
		 path);
	return 0;
}

/* The same through the chain reader: from A's tree to B's. */
static void chain_is(const struct store_oid *a, const struct store_oid *b,
		     const char *want, const git_oid *missing)
{
	struct store_chain *ch = NULL;
	struct store_chain_commit ca, cb;
	struct store_missing m = { .any = true };
	char got[1024] = "";

	CHECK(store_chain_open(&ch, st) == 0 &&
		      store_chain_commit(ch, a, &ca) == 0 &&
		      store_chain_commit(ch, b, &cb) == 0,
	      "chain: %s", store_errmsg());
	CHECK(store_chain_diff(ch, &ca.tree, &cb.tree, line_cb, got, NULL) ==
		      (missing ? -ENOENT : 0),
	      "strict chain diff");
	store_error_clear();
	got[0] = '\0';
	CHECK(store_chain_diff(ch, &ca.tree, &cb.tree, line_cb, got, &m) == 0,
	      "partial chain diff: %s", store_errmsg());
	CHECK(!strcmp(got, want), "chain diff: got '%s', want '%s'", got, want);
	CHECK(m.any == !!missing && (!missing || !memcmp(m.id.id, missing->id,
							 STORE_OID_RAWSZ)),
	      "the chain diff names the missing tree");
	store_chain_close(ch);
}

static void reopen(void)
{
	struct store_opts opts = { 0 };

	store_close(st);
	st = NULL;
	CHECK(store_open(&st, dir, &opts) == 0, "reopen: %s", store_errmsg());
	if (!st)
		exit(1);
}

static int count_cb(void *ctx, const char *path, const struct store_oid *old,
		    const struct store_oid *new)
{
	(*(int *)ctx)++;
	return 0;
}

static void missing_trees(void)
{
	char b1[3], b2[3], p1[64], p2[64];
	struct store_tdiff *d = NULL;
	struct store_missing miss;
	git_oid lost_dir, lost_bucket;
	int n = 0;

	/* Two documents of a fanout collection in two buckets. */
	store_layout_bucket("p.json", b1);
	store_layout_bucket("q.json", b2);
	CHECK(strcmp(b1, b2) != 0, "two buckets");
	snprintf(p1, sizeof(p1), "c/%s/p.json", b1);
	snprintf(p2, sizeof(p2), "c/%s/q.json", b2);
	struct testrepo_put a[] = { { "c/" LAYOUT_MARKER, "" },
				    { p1, "1" },
				    { p2, "1" },
				    { "d/x.json", "1" },
				    { "d/y.json", "1" },
				    { "e/z.json", "1" } };
	struct testrepo_put b[] = { { p1, "2" },
				    { p2, "2" },
				    { "d/x.json", "2" },
				    { "e/z.json", "2" } };
	struct testrepo_put c[] = { { p2, "3" },
				    { "d/y.json", "3" },
				    { "e/z.json", "3" } };
	struct testrepo_put e[] = { { "e/z.json", "4" } };
	struct store_oid ca = commit_on(NULL, a, 6);
	struct store_oid cb = commit_on(&ca, b, 4);
	struct store_oid cc = commit_on(&cb, c, 3);
	struct store_oid ce = commit_on(&cc, e, 1);

	snprintf(p1, sizeof(p1), "c/%s", b1);
	lost_dir = tree_at(&cb, "d");
	lost_bucket = tree_at(&cb, p1);
	lose(&lost_dir);
	lose(&lost_bucket);
	reopen(); /* libgit2's object cache still holds them */
	CHECK(store_tdiff_new(&d, st, &ca, &cb, NULL) == -ENOENT && !d,
	      "the strict diff fails");
	/* A to B: the missing trees read as empty (c sorts before d, so the
	 * bucket is the first found missing). */
	diff_is(&ca, &cb, "-c/p.json Mc/q.json -d/x.json -d/y.json Me/z.json ",
		&lost_bucket);
	/* B to C: the bucket is the same on both sides, skipped unread; the
	 * directory is read on B's side only. */
	diff_is(&cb, &cc, "Mc/q.json +d/x.json +d/y.json Me/z.json ",
		&lost_dir);
	/* C to E reads neither: whole. */
	diff_is(&cc, &ce, "Me/z.json ", NULL);
	chain_is(&ca, &cb, "-c/p.json Mc/q.json -d/x.json -d/y.json Me/z.json ",
		 &lost_bucket);
	chain_is(&cb, &cc, "Mc/q.json +d/x.json +d/y.json Me/z.json ",
		 &lost_dir);
	chain_is(&cc, &ce, "Me/z.json ", NULL);
	/* store_diff_parent: strict without MISSING, partial with it. */
	CHECK(store_diff_parent(st, &cc, count_cb, &n, NULL) == -ENOENT,
	      "strict diff of a commit");
	n = 0;
	CHECK(store_diff_parent(st, &cc, count_cb, &n, &miss) == 0 && n == 4 &&
		      miss.any,
	      "partial diff of a commit: %d paths", n);
	CHECK(store_diff_parent(st, &ce, count_cb, &n, &miss) == 0 && !miss.any,
	      "a whole diff says nothing missing");
}

int main(void)
{
	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	missing_trees();
	testrepo_close(st, dir);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("tdiff-missing: ok\n");
	return 0;
}
