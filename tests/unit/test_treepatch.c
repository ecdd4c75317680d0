/* test_treepatch.c - the trees a save splices (store/treepatch.c) are the
 * trees libgit2's git_tree_create_updated makes from the same parent, and
 * lookups in the kept bytes (store_tb_stat, treebytes.c) answer as
 * libgit2's store_stat_tree_git does, fanout collections included, over
 * thousands of random upserts and removals with names chosen to sit next
 * to each other in git's tree order (a directory "a" sorts as "a/",
 * between "a.b" and "a0"), removals that empty a directory, from the memo
 * of written trees and without it.
 * Every object written is then read back through libgit2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "testrepo.h"

#define OPS 4000

static const char *names[] = { "a",	 "a.b",	     "a-",     "a0",
			       "a.json", "b",	     "b.json", "ab",
			       "a b",	 "\xc3\xa9", "5c",     LAYOUT_MARKER };
#define NNAMES (sizeof(names) / sizeof(names[0]))

#include "check.h"

/* A random path of depth 1 to 3 over NAMES. */
static void random_path(char *buf, size_t sz)
{
	int depth = 1 + rand() % 3;
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; i < depth; i++)
		at += (size_t)snprintf(buf + at, sz - at, "%s%s", i ? "/" : "",
				       names[rand() % NNAMES]);
}

/* Both ways of looking PATH up in TREE agree (when the memo has every
 * tree on the way). */
static void same_stat(struct store *st, git_tree *tree, const char *path,
		      int *fast)
{
	struct store_entry a, b;
	int ea = store_stat_tree_git(st, tree, path, &a);
	int eb = store_tb_stat(st, git_tree_id(tree), path, &b, true);

	char *ga = NULL, *gb = NULL;
	bool fanout = false, mfanout = false;
	size_t files = 0, mfiles = 0;
	git_tree *dir = NULL;

	if (eb == 1)
		return;
	(*fast)++;
	CHECK(ea == eb, "stat %s: libgit2 %d, memo %d", path, ea, eb);
	if (ea == 0 && eb == 0)
		CHECK(a.kind == b.kind && a.size == b.size &&
			      !memcmp(a.oid.id, b.oid.id, STORE_OID_RAWSZ),
		      "stat %s: entries differ", path);
	/* The git path a save writes (a missing directory: as it is). */
	if (store_tb_git_path(st, git_tree_id(tree), path, &gb) == 0) {
		if (store_layout_git_path(st, tree, path, &ga, &fanout, NULL) <
		    0) {
			free(ga);
			ga = strdup(path);
		}
		CHECK(ga && gb && !strcmp(ga, gb), "git path of %s: %s, %s",
		      path, ga, gb);
	}
	free(ga), free(gb);
	/* The files of PATH as a directory, for resharding. */
	if (store_tb_dir_files(st, git_tree_id(tree), path, &mfiles,
			       &mfanout) == 0) {
		CHECK(store_layout_dir(st, tree, path, &dir) == 0, "dir %s",
		      path);
		fanout = store_layout_is_fanout(dir);
		for (size_t i = 0, n = dir ? git_tree_entrycount(dir) : 0;
		     i < n; i++) {
			const git_tree_entry *e =
				git_tree_entry_byindex(dir, i);

			if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
				files++;
			else if (store_layout_bucket_name(
					 git_tree_entry_name(e)))
				files = 0, i = n;
		}
		CHECK(fanout == mfanout && files == mfiles,
		      "files of %s: %zu%s, %zu%s", path, files,
		      fanout ? " fanout" : "", mfiles,
		      mfanout ? " fanout" : "");
		git_tree_free(dir);
	}
}

/* Every blob path in TREE (for picking one to remove). */
struct paths {
	char **v;
	size_t n;
};

static int collect(const char *root, const git_tree_entry *e, void *ctx)
{
	struct paths *p = ctx;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	p->v = realloc(p->v, (p->n + 1) * sizeof(*p->v));
	if (asprintf(&p->v[p->n], "%s%s", root, git_tree_entry_name(e)) < 0)
		return -1;
	p->n++;
	return 0;
}

static void paths_free(struct paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

int main(void)
{
	char dir[] = "/tmp/test_treepatch.XXXXXX", cmd[256];
	struct store *st = NULL;
	git_tree *cur = NULL;
	git_oid empty, blobs[8];
	int err, done = 0, removes = 0, dropped = 0, fast = 0, fanned = 0;

	srand(12345);
	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	for (size_t i = 0; i < 8; i++) {
		char body[32];

		snprintf(body, sizeof(body), "{\"v\": %zu}\n", i);
		CHECK(git_blob_create_from_buffer(&blobs[i], st->repo, body,
						  strlen(body)) == 0,
		      "blob");
	}
	CHECK(git_odb_write(&empty, st->odb, "", 0, GIT_OBJECT_TREE) == 0,
	      "empty tree");
	CHECK(git_tree_lookup(&cur, st->repo, &empty) == 0, "lookup");
	for (int op = 0; op < OPS && failures == 0; op++) {
		git_tree_update up = { 0 };
		git_oid mine, ref;
		git_tree *next = NULL;
		struct paths p = { 0 };
		char path[256];
		bool remove = false;

		git_tree_walk(cur, GIT_TREEWALK_PRE, collect, &p);
		/* Remove a third of the time once there is something. */
		if (p.n > 0 && rand() % 3 == 0) {
			snprintf(path, sizeof(path), "%s", p.v[rand() % p.n]);
			remove = true;
			removes++;
		} else if (rand() % 6 == 0) {
			/* A document in its bucket of a fanout collection. */
			const char *n = names[rand() % NNAMES];
			char b[3];

			store_layout_bucket(n, b);
			snprintf(path, sizeof(path), "%s/%s/%s",
				 rand() % 2 ? "c" : "a", b, n);
			fanned++;
		} else {
			random_path(path, sizeof(path));
		}
		paths_free(&p);
		/* A path through an existing blob cannot be made (plan()
		 * refuses it before a patch): skip those. */
		if (!remove) {
			git_tree_entry *e = NULL;
			char prefix[256];
			bool blocked = false;

			for (char *s = strchr(path, '/'); s && !blocked;
			     s = strchr(s + 1, '/')) {
				snprintf(prefix, sizeof(prefix), "%.*s",
					 (int)(s - path), path);
				if (git_tree_entry_bypath(&e, cur, prefix) ==
				    0) {
					blocked = git_tree_entry_type(e) ==
						  GIT_OBJECT_BLOB;
					git_tree_entry_free(e);
				}
			}
			if (blocked)
				continue;
			/* Nor a file where a directory is (EISDIR). */
			if (git_tree_entry_bypath(&e, cur, path) == 0) {
				blocked = git_tree_entry_type(e) ==
					  GIT_OBJECT_TREE;
				git_tree_entry_free(e);
			}
			if (blocked)
				continue;
		}
		up.action = remove ? GIT_TREE_UPDATE_REMOVE :
				     GIT_TREE_UPDATE_UPSERT;
		up.id = blobs[rand() % 8];
		up.filemode = GIT_FILEMODE_BLOB;
		up.path = path;
		/* Now and then without the memo: serialized from parsed. */
		if (rand() % 7 == 0)
			store_treememo_free(st);
		err = store_tree_patch(st, git_tree_id(cur), path,
				       remove ? NULL : &up.id,
				       GIT_FILEMODE_BLOB, &mine);
		CHECK(err == 0, "patch %s: %d %s", path, err, store_errmsg());
		CHECK(git_tree_create_updated(&ref, st->repo, cur, 1, &up) == 0,
		      "libgit2 update %s: %s", path, git_error_last()->message);
		CHECK(git_oid_equal(&mine, &ref), "op %d %s %s: trees differ",
		      op, remove ? "remove" : "upsert", path);
		CHECK(git_tree_lookup(&next, st->repo, &mine) == 0,
		      "read back op %d", op);
		if (remove && strchr(path, '/') && next) {
			git_tree_entry *e = NULL;

			*strrchr(path, '/') = '\0';
			if (git_tree_entry_bypath(&e, next, path) < 0)
				dropped++; /* its directory went with it */
			git_tree_entry_free(e);
		}
		git_tree_free(cur);
		cur = next;
		done++;
		/* Look up what was just written, and some other paths. */
		for (int k = 0; k < 6 && cur; k++) {
			char other[256], logical[256];
			const char *last;

			random_path(other, sizeof(other));
			same_stat(st, cur, k ? other : path, &fast);
			if (k == 1 && strchr(path, '/')) {
				snprintf(other, sizeof(other), "%.*s",
					 (int)(strchr(path, '/') - path), path);
				same_stat(st, cur, other, &fast);
			}
			/* The logical path of a file in a bucket. */
			last = strrchr(path, '/');
			if (k == 0 && last && last - path > 3) {
				snprintf(logical, sizeof(logical), "%.*s%s",
					 (int)(last - path - 3), path, last);
				same_stat(st, cur, logical, &fast);
			}
		}
	}
	git_tree_free(cur);
	store_close(st);
	/* git itself agrees the objects are well formed. */
	snprintf(cmd, sizeof(cmd),
		 "git --git-dir=%s fsck --strict --no-dangling"
		 " --no-progress >&2",
		 dir);
	CHECK(system(cmd) == 0, "git fsck");
	testrepo_close(NULL, dir);
	printf("treepatch: %d operations (%d removals, %d of them emptied a "
	       "directory; %d into buckets), %d lookups from the memo, %d "
	       "failures\n",
	       done, removes, dropped, fanned, fast, failures);
	CHECK(done > OPS / 2 && removes > 100 && dropped > 10 && fanned > 100 &&
		      fast > OPS,
	      "too few operations exercised");
	return failures ? 1 : 0;
}
