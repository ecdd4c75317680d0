/* bench_treemerge.c - merge and diff cost against collection size: two
 * branches with 100 changed documents each (10 of them changed on both,
 * merged member by member) over a collection of 1,000 and of 100,000
 * documents. Prints the times and the trees read; the big case should cost
 * about what the small one does. Run with `meson test --benchmark`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "testrepo.h"
#include "treemerge.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, store_errmsg());
	exit(1);
}

/* Branch main: collection "c" of N documents in one commit, then a save
 * (which reshards it when it is big, as chronofs does). */
static void make_base(struct store *st, size_t n, struct store_oid *out)
{
	git_tree_update *up = calloc(n, sizeof(*up));
	char **paths = calloc(n, sizeof(*paths));
	git_oid blob, tree, commit, head;
	git_commit *parent = NULL;
	git_tree *base = NULL, *t = NULL;
	git_signature *sig = NULL;
	struct store_change ch = { STORE_PUT, "c/d0.json", NULL,
				   "{\"v\": 0, \"w\": 0}", 15 };

	git_blob_create_from_buffer(&blob, st->repo, "{\"v\": 0, \"w\": 0}",
				    15);
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&paths[i], "c/d%zu.json", i) < 0)
			exit(1);
		up[i] = (git_tree_update){ GIT_TREE_UPDATE_UPSERT, blob,
					   GIT_FILEMODE_BLOB, paths[i] };
	}
	if (store_head_locked(st, "main", &head) < 0 ||
	    git_commit_lookup(&parent, st->repo, &head) < 0 ||
	    git_commit_tree(&base, parent) < 0 ||
	    git_tree_create_updated(&tree, st->repo, base, n, up) < 0 ||
	    git_tree_lookup(&t, st->repo, &tree) < 0 ||
	    git_signature_now(&sig, "b", "b@example.org") < 0 ||
	    git_commit_create(&commit, st->repo, "refs/heads/main", sig, sig,
			      NULL, "base", t, 1,
			      (const git_commit **)&parent) < 0)
		die("base");
	ch.data = "{\"v\": 0, \"w\": 1}";
	if (store_apply(st, "main", &ch, out) < 0)
		die("reshard");
	git_signature_free(sig);
	git_tree_free(t);
	git_tree_free(base);
	git_commit_free(parent);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	free(up);
}

/* 100 saves on BRANCH (from BASE): documents FROM.. (step 7), member
 * MEMBER set to a new value. */
static void edits(struct store *st, const char *branch,
		  const struct store_oid *base, size_t from, const char *member,
		  struct store_oid *head)
{
	git_reference *ref = NULL;
	char full[64], path[64], data[64];

	snprintf(full, sizeof(full), "refs/heads/%s", branch);
	if (git_reference_create(&ref, st->repo, full, store_goid(base), 1,
				 NULL) < 0)
		die("branch");
	git_reference_free(ref);
	for (size_t i = 0; i < 100; i++) {
		struct store_change ch = { STORE_PUT, path, NULL, data, 0 };

		snprintf(path, sizeof(path), "c/d%zu.json", from + 7 * i);
		ch.len = (size_t)snprintf(data, sizeof(data),
					  "{\"v\": %s, \"w\": %s}",
					  member[0] == 'v' ? "1" : "0",
					  member[0] == 'w' ? "2" : "0");
		if (store_apply(st, branch, &ch, head) < 0)
			die("save");
	}
}

static void one_size(size_t n)
{
	char dir[] = "/tmp/chronofs-bench-merge-XXXXXX";
	struct store_oid base, ours, theirs, tree;
	struct store_merge m;
	struct store_tdiff *d = NULL;
	struct store *st = NULL;
	double t0, t1, t2, tm, best_merge = 1e9, best_diff = 1e9;
	double best_plan = 1e9;

	if (testrepo_open(&st, dir, NULL) < 0)
		exit(1);
	make_base(st, n, &base);
	/* Ours edits d10, d17, ..., d703; theirs d640, ..., d1333: 10 in common
	 * (different members, so they merge). */
	edits(st, "ours", &base, 10, "v", &ours);
	edits(st, "theirs", &base, 640, "w", &theirs);
	for (int run = 0; run < 5; run++) {
		t0 = now_ms();
		if (store_merge_trees(&m, st, &base, &ours, &theirs, NULL) < 0)
			die("merge");
		tm = now_ms();
		if (store_merge_build_tree(st, &m, &tree) < 0)
			die("merge");
		t1 = now_ms();
		if (store_tdiff_new(&d, st, &base, &ours, NULL) < 0)
			die("diff");
		t2 = now_ms();
		if (t1 - t0 < best_merge)
			best_merge = t1 - t0;
		if (t2 - t1 < best_diff)
			best_diff = t2 - t1;
		if (tm - t0 < best_plan)
			best_plan = tm - t0;
		if (run == 4)
			printf("%7zu documents: merge of %zu paths (10 by "
			       "member) %.1f ms (%.1f ms without writing the "
			       "tree), %zu trees read; diff of 100 saves %.1f "
			       "ms, %zu trees read\n",
			       n, m.n, best_merge, best_plan, m.trees_read,
			       best_diff, store_tdiff_trees_read(d));
		store_tdiff_free(d);
		store_merge_release(&m);
	}
	{
		/* A transaction of 1,000 new documents, one commit. */
		struct store_change *c = calloc(1000, sizeof(*c));
		char **names = calloc(1000, sizeof(*names));
		struct store_oid head, out;

		for (size_t i = 0; i < 1000; i++) {
			if (asprintf(&names[i], "c/tx%zu.json", i) < 0)
				exit(1);
			c[i] = (struct store_change){ STORE_PUT, names[i], NULL,
						      "{\"tx\": 1}", 9 };
		}
		if (store_branch_head(st, "main", &head) < 0)
			die("head");
		t0 = now_ms();
		if (store_commit_changes(st, "main", &head, c, 1000, "tx", 0,
					 &out) != 0)
			die("transaction");
		printf("%7zu documents: a transaction of 1,000 new documents "
		       "%.1f ms\n",
		       n, now_ms() - t0);
		for (size_t i = 0; i < 1000; i++)
			free(names[i]);
		free(names);
		free(c);
	}
	testrepo_close(st, dir);
}

int main(int argc, char **argv)
{
	one_size(1000);
	one_size(argc > 1 ? (size_t)atol(argv[1]) : 100000);
	return 0;
}
