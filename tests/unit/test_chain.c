/* test_chain.c - the catch-up's raw reader (store/chain.c, rawdiff.c)
 * against the store's own answers on real repositories: every commit's
 * tree, first parent and committer time as libgit2 reads them, and every
 * commit's diff exactly as store_diff_parent reports it (paths, old and
 * new blobs, order): nested directories, deletions of whole subtrees, a
 * file becoming a directory, mode-only changes, symbolic links and
 * submodules (no documents), a tree written out of Git's order, a flat
 * collection resharded by a real save and edited in its buckets, its
 * marker removed; 300 random histories of edits at random depths and
 * modes; and objects packed after the reader was opened. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jgen.h"
#include "store_int.h"
#include "testrepo.h"

static struct store *st;
static struct store_chain *ch;
static char dir[] = "/tmp/chronofs-chain-XXXXXX";

static int64_t clock_now = 1000;
/* Random histories ask for impossible trees (a file where a directory
 * is): such a commit is not made, and *ok says so. */
static bool *commit_ok;

/* A commit on PARENT (NULL: a root) with PUTS applied, at the next
 * time, as an outside `git commit` would make it. */
static struct store_oid commit_on(const struct store_oid *parent,
				  const struct testrepo_put *puts, size_t n)
{
	struct store_oid out;
	int err = testrepo_commit(st, &out, parent, clock_now, 60, puts, n);

	if (err == 0)
		clock_now++;
	if (commit_ok)
		*commit_ok = err == 0;
	else
		CHECK(err == 0, "commit: %d %s", err,
		      git_error_last() ? git_error_last()->message : "");
	return out;
}

/* PARENT with root entry NAME replaced by object ID of MODE, in one
 * commit (a file becoming a directory, or back). */
static struct store_oid replace_entry(const struct store_oid *parent,
				      const char *name, const git_oid *id,
				      unsigned mode)
{
	git_commit *pc = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_oid tid, cid;
	struct store_oid out = { { 0 } };

	CHECK(git_commit_lookup(&pc, st->repo, store_goid(parent)) == 0 &&
		      git_commit_tree(&base, pc) == 0 &&
		      git_treebuilder_new(&tb, st->repo, base) == 0 &&
		      git_treebuilder_insert(NULL, tb, name, id, mode) == 0 &&
		      git_treebuilder_write(&tid, tb) == 0 &&
		      git_tree_lookup(&tree, st->repo, &tid) == 0 &&
		      git_signature_new(&sig, "t", "t@x", clock_now++, 0) ==
			      0 &&
		      git_commit_create(&cid, st->repo, NULL, sig, sig, NULL,
					"replace", tree, 1,
					(const git_commit **)&pc) == 0,
	      "replace %s", name);
	memcpy(out.id, cid.id, STORE_OID_RAWSZ);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_treebuilder_free(tb);
	git_commit_free(pc);
	return out;
}

/* A tree holding one file NAME of DATA. */
static git_oid one_file_tree(const char *name, const char *data)
{
	git_treebuilder *tb = NULL;
	git_oid blob, tid = { { 0 } };

	CHECK(git_blob_create_from_buffer(&blob, st->repo, data,
					  strlen(data)) == 0 &&
		      git_treebuilder_new(&tb, st->repo, NULL) == 0 &&
		      git_treebuilder_insert(NULL, tb, name, &blob,
					     GIT_FILEMODE_BLOB) == 0 &&
		      git_treebuilder_write(&tid, tb) == 0,
	      "tree");
	git_treebuilder_free(tb);
	return tid;
}

/* A diff as a text, one line per change. */
struct text {
	char *s;
	size_t len;
};

static int line_cb(void *ctx, const char *path, const struct store_oid *old,
		   const struct store_oid *new)
{
	struct text *t = ctx;
	char o[STORE_OID_HEXSZ + 1] = "-", n[STORE_OID_HEXSZ + 1] = "-";
	char *s;

	if (old)
		store_oid_fmt(o, old);
	if (new)
		store_oid_fmt(n, new);
	if (asprintf(&s, "%s%s %s %s\n", t->s ? t->s : "", path, o, n) < 0)
		abort();
	free(t->s);
	t->s = s;
	t->len++;
	return 0;
}

/* Commit C read both ways, and its diff both ways; the changes. */
static size_t same_as_store(const struct store_oid *c)
{
	struct store_chain_commit cc, pc;
	struct text want = { 0 }, got = { 0 };
	git_commit *gc = NULL;
	int err;

	CHECK(store_chain_commit(ch, c, &cc) == 0, "chain commit: %s",
	      store_errmsg());
	CHECK(git_commit_lookup(&gc, st->repo, store_goid(c)) == 0, "lookup");
	CHECK(!memcmp(cc.tree.id, git_commit_tree_id(gc)->id, 20), "tree");
	CHECK(cc.has_parent == (git_commit_parentcount(gc) > 0), "parents");
	CHECK(!cc.has_parent || !memcmp(cc.parent.id,
					git_commit_parent_id(gc, 0)->id, 20),
	      "first parent");
	CHECK(cc.time == (int64_t)git_commit_time(gc), "time %lld != %lld",
	      (long long)cc.time, (long long)git_commit_time(gc));
	git_commit_free(gc);
	CHECK(store_diff_parent(st, c, line_cb, &want, NULL) == 0, "diff: %s",
	      store_errmsg());
	if (cc.has_parent)
		CHECK(store_chain_commit(ch, &cc.parent, &pc) == 0, "parent");
	err = store_chain_diff(ch, cc.has_parent ? &pc.tree : NULL, &cc.tree,
			       line_cb, &got, NULL);
	CHECK(err == 0, "chain diff: %d %s", err, store_errmsg());
	CHECK((!want.s && !got.s) ||
		      (want.s && got.s && !strcmp(want.s, got.s)),
	      "diffs differ:\nstore:\n%schain:\n%s", want.s ? want.s : "",
	      got.s ? got.s : "");
	free(want.s);
	free(got.s);
	return want.len;
}

static void nested_modes_and_kinds(void)
{
	const char *sub = "0123456789012345678901234567890123456789";
	struct testrepo_put p0[] = { { "a.json", "{\"a\": 0}", 0 },
				     { "dir/b.json", "{\"b\": 0}", 0 },
				     { "dir/sub/c.json", "{}", 0 },
				     { "dir/sub/d.json", "[]", 0 },
				     { "README", "hello", 0 },
				     { "link", "a.json", GIT_FILEMODE_LINK },
				     { "tool", "#!",
				       GIT_FILEMODE_BLOB_EXECUTABLE },
				     { "t", "a file first", 0 } };
	struct testrepo_put p1[] = { { "a.json", "{\"a\": 1}", 0 },
				     { "dir/sub/c.json", NULL, 0 },
				     { "dir/sub/d.json", NULL, 0 },
				     { "x/y/z.json", "1", 0 } };
	/* Mode-only changes, and a link becoming a file of the same bytes. */
	struct testrepo_put p2[] = { { "a.json", "{\"a\": 1}",
				       GIT_FILEMODE_BLOB_EXECUTABLE },
				     { "link", "a.json", 0 },
				     { "tool", "#!", 0 } };
	struct testrepo_put p4[] = { { "mod", sub, GIT_FILEMODE_COMMIT },
				     { "x", NULL, 0 } };
	struct testrepo_put p5[] = { { "mod", NULL, 0 } };
	struct store_oid c[7];
	git_oid t_dir = one_file_tree("u.json", "2"), t_file;

	c[0] = commit_on(NULL, p0, 8);
	c[1] = commit_on(&c[0], p1, 4);
	c[2] = commit_on(&c[1], p2, 3);
	c[3] = replace_entry(&c[2], "t", &t_dir, GIT_FILEMODE_TREE);
	c[4] = commit_on(&c[3], p4, 2);
	c[5] = commit_on(&c[4], p5, 1);
	CHECK(git_blob_create_from_buffer(&t_file, st->repo, "again", 5) == 0,
	      "blob");
	c[6] = replace_entry(&c[5], "t", &t_file, GIT_FILEMODE_BLOB);
	CHECK(same_as_store(&c[0]) == 7, "root: every file but the link");
	CHECK(same_as_store(&c[3]) == 2, "file to directory: two");
	for (int i = 1; i < 7; i++)
		same_as_store(&c[i]);
}

/* A root tree written by hand with its entries out of Git's order. */
static void unsorted_tree(void)
{
	struct testrepo_put p0[] = { { "b.json", "{}", 0 },
				     { "a.json", "[]", 0 } };
	struct store_oid base = commit_on(NULL, p0, 2), c;
	git_oid blob_a, blob_b, tid, cid;
	git_tree *tree = NULL;
	git_commit *parent = NULL;
	git_signature *sig = NULL;
	char raw[256];
	size_t len = 0;
	git_odb *odb = NULL;

	CHECK(git_blob_create_from_buffer(&blob_a, st->repo, "1", 1) == 0 &&
		      git_blob_create_from_buffer(&blob_b, st->repo, "2", 1) ==
			      0,
	      "blobs");
	len += (size_t)snprintf(raw + len, sizeof(raw) - len, "100644 c.json");
	raw[len++] = '\0';
	memcpy(raw + len, blob_b.id, 20), len += 20;
	len += (size_t)snprintf(raw + len, sizeof(raw) - len, "100644 a.json");
	raw[len++] = '\0';
	memcpy(raw + len, blob_a.id, 20), len += 20;
	CHECK(git_repository_odb(&odb, st->repo) == 0 &&
		      git_odb_write(&tid, odb, raw, len, GIT_OBJECT_TREE) == 0,
	      "raw tree");
	CHECK(git_tree_lookup(&tree, st->repo, &tid) == 0 &&
		      git_commit_lookup(&parent, st->repo, store_goid(&base)) ==
			      0 &&
		      git_signature_new(&sig, "t", "t@x", clock_now++, 0) ==
			      0 &&
		      git_commit_create(&cid, st->repo, NULL, sig, sig, NULL,
					"unsorted", tree, 1,
					(const git_commit **)&parent) == 0,
	      "commit");
	memcpy(c.id, cid.id, 20);
	same_as_store(&c);
	git_signature_free(sig);
	git_commit_free(parent);
	git_tree_free(tree);
	git_odb_free(odb);
}

static void set_branch(const char *name, const struct store_oid *c)
{
	CHECK(testrepo_branch(st, name, c) == 0, "branch %s", name);
}

/* A flat collection past the fanout threshold, resharded by a real save,
 * then edited in and around its buckets, then its marker removed. */
static void fanout_collection(void)
{
	size_t n = LAYOUT_FANOUT_AT + 100;
	struct testrepo_put *p = calloc(n + 1, sizeof(*p));
	char **names = calloc(n, sizeof(*names));
	struct store_change sv = { STORE_PUT, "users/u0001.json", NULL,
				   "{\"v\": 1}", 8 };
	struct store_oid c[6];
	char marker[64];

	for (size_t i = 0; i < n; i++) {
		if (asprintf(&names[i], "users/u%04zu.json", i) < 0)
			abort();
		p[i] = (struct testrepo_put){ names[i], "{\"v\": 0}", 0 };
	}
	p[n] = (struct testrepo_put){ "users/sub/x.json", "{}", 0 };
	c[0] = commit_on(NULL, p, n + 1);
	set_branch("fan", &c[0]);
	CHECK(store_apply(st, "fan", &sv, &c[1]) == 0, "save: %s",
	      store_errmsg());
	sv.path = "users/u0002.json";
	CHECK(store_apply(st, "fan", &sv, &c[2]) == 0, "save: %s",
	      store_errmsg());
	{
		/* Outside edits in a bucket, beside it and in a bucket's
		 * stray sub-tree (no part of the layout). */
		char bucket[3], path[64], stray[64];
		struct testrepo_put q[3];

		store_layout_bucket("u0003.json", bucket);
		snprintf(path, sizeof(path), "users/%s/u0003.json", bucket);
		snprintf(stray, sizeof(stray), "users/%s/deep/y.json", bucket);
		q[0] = (struct testrepo_put){ path, "{\"v\": 3}", 0 };
		q[1] = (struct testrepo_put){ "users/direct.json", "{}", 0 };
		q[2] = (struct testrepo_put){ stray, "{}", 0 };
		c[3] = commit_on(&c[2], q, 3);
	}
	snprintf(marker, sizeof(marker), "users/%s", LAYOUT_MARKER);
	{
		struct testrepo_put q[] = { { marker, NULL, 0 } };

		c[4] = commit_on(&c[3], q, 1);
		q[0] = (struct testrepo_put){ marker, "", 0 };
		c[5] = commit_on(&c[4], q, 1);
	}
	CHECK(same_as_store(&c[0]) == n + 1, "root");
	for (int i = 1; i < 6; i++)
		same_as_store(&c[i]);
	CHECK(same_as_store(&c[1]) == 1, "a save into the reshard: one");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(p);
}

static void random_histories(void)
{
	static const char *const paths[] = {
		"a.json",     "b.json",	     "c/a.json", "c/b.json",
		"c/d/e.json", "c/d/f.json",  "c/d",	 "g/h/i/j.json",
		"g/h.json",   "g/h/k.json",  "x.json",	 "c/ab/z.json",
		"c/ab.json",  "c/ab/y.json", "q/r.json", "q",
	};
	static const unsigned modes[] = { 0, 0, 0, GIT_FILEMODE_LINK,
					  GIT_FILEMODE_BLOB_EXECUTABLE };
	size_t np = sizeof(paths) / sizeof(paths[0]);

	for (int h = 0; h < 300; h++) {
		struct store_oid c = { { 0 } };
		unsigned seed = (unsigned)h * 2654435761u + 1;

		for (int k = 0; k < 6; k++) {
			struct testrepo_put q[4];
			char data[4][16];
			int nq = 1 + (int)((seed >> 3) % 4);

			for (int i = 0; i < nq; i++) {
				seed = seed * 1103515245u + 12345u;
				q[i].path = paths[(seed >> 8) % np];
				snprintf(data[i], sizeof(data[i]), "%u",
					 (seed >> 12) % 5);
				q[i].data = (seed >> 20) % 4 == 0 ? NULL :
								    data[i];
				q[i].mode = modes[(seed >> 24) % 5];
			}
			/* A path may not be a file and a directory in
			 * one update: keep the first of such pairs. */
			for (int i = 1; i < nq; i++)
				for (int j = 0; j < i; j++) {
					size_t li = strlen(q[i].path);
					size_t lj = strlen(q[j].path);

					if ((li < lj &&
					     !strncmp(q[i].path, q[j].path,
						      li) &&
					     q[j].path[li] == '/') ||
					    (lj < li &&
					     !strncmp(q[i].path, q[j].path,
						      lj) &&
					     q[i].path[lj] == '/') ||
					    !strcmp(q[i].path, q[j].path)) {
						q[i] = q[nq - 1];
						nq--;
						i--;
						break;
					}
				}
			bool ok;
			struct store_oid next;

			commit_ok = &ok;
			next = commit_on(k ? &c : NULL, q, (size_t)nq);
			commit_ok = NULL;
			if (!ok)
				continue;
			c = next;
			same_as_store(&c);
		}
	}
}

/* A pack made after the reader opened: found all the same. */
static void packed_meanwhile(void)
{
	struct testrepo_put p[] = { { "late.json", "{\"late\": true}", 0 } };
	struct store_oid c = commit_on(NULL, p, 1);
	char cmd[512];

	set_branch("late", &c);
	snprintf(cmd, sizeof(cmd),
		 "git --git-dir=%s repack -a -d -q && "
		 "git --git-dir=%s prune-packed",
		 dir, dir);
	CHECK(system(cmd) == 0, "repack");
	same_as_store(&c);
}

int main(void)
{
	int err;

	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	if ((err = store_chain_open(&ch, st)) < 0) {
		fprintf(stderr, "chain: %d %s\n", err, store_errmsg());
		return 1;
	}
	nested_modes_and_kinds();
	unsorted_tree();
	fanout_collection();
	random_histories();
	packed_meanwhile();
	store_chain_close(ch);
	testrepo_close(st, dir);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("chain: ok\n");
	return 0;
}
