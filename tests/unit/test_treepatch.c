/* test_treepatch.c - the trees a save splices (store/treepatch.c) are the
 * trees libgit2's git_tree_create_updated makes from the same parent, over
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

#define OPS 4000

static const char *names[] = {"a",   "a.b", "a-",  "a0",  "a.json",
			      "b",   "b.json", "ab", "a b", "\xc3\xa9"};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static int failures;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			failures++;                                         \
		}                                                           \
	} while (0)

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
	struct store_opts opts = {0};
	struct store *st = NULL;
	git_tree *cur = NULL;
	git_oid empty, blobs[8];
	int err, done = 0, removes = 0, dropped = 0;

	srand(12345);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if ((err = store_init(dir)) < 0 || (err = store_open(&st, dir, &opts))) {
		fprintf(stderr, "store: %s\n", store_errmsg());
		return 1;
	}
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
		git_tree_update up = {0};
		git_oid mine, ref;
		git_tree *next = NULL;
		struct paths p = {0};
		char path[256];
		bool remove = false;

		git_tree_walk(cur, GIT_TREEWALK_PRE, collect, &p);
		/* Remove a third of the time once there is something. */
		if (p.n > 0 && rand() % 3 == 0) {
			snprintf(path, sizeof(path), "%s", p.v[rand() % p.n]);
			remove = true;
			removes++;
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
				if (git_tree_entry_bypath(&e, cur, prefix) == 0) {
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
		up.action = remove ? GIT_TREE_UPDATE_REMOVE
				   : GIT_TREE_UPDATE_UPSERT;
		up.id = blobs[rand() % 8];
		up.filemode = GIT_FILEMODE_BLOB;
		up.path = path;
		/* Now and then without the memo: serialized from parsed. */
		if (rand() % 7 == 0)
			store_treememo_free(st);
		err = store_tree_patch(st, cur, path, remove ? NULL : &up.id,
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
	}
	git_tree_free(cur);
	store_close(st);
	/* git itself agrees the objects are well formed. */
	snprintf(cmd, sizeof(cmd), "git --git-dir=%s fsck --strict --no-dangling"
		 " --no-progress >&2", dir);
	CHECK(system(cmd) == 0, "git fsck");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("treepatch: %d operations (%d removals, %d of them emptied a "
	       "directory), %d failures\n", done, removes, dropped, failures);
	CHECK(done > OPS / 2 && removes > 100 && dropped > 10,
	      "too few operations exercised");
	return failures ? 1 : 0;
}
