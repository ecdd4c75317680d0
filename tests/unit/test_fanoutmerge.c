/* test_fanoutmerge.c - merges of fanout collections bucket by bucket
 * (store/treemerge.c, store/mergebuild.c): random edits on two sides of
 * a collection in buckets (changes, additions into empty buckets,
 * deletions, a bucket emptied by theirs, documents both sides changed
 * in different members), merged both ways. Each document is what the
 * rules say, every file sits in its bucket, buckets only ours changed
 * are not read, buckets only theirs changed are taken whole (their tree
 * ids in the result), and `git fsck` is clean. Then trees read as bytes
 * (store/rawtree.c): parsed, found and spliced as git would, malformed
 * ones refused. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jgen.h"
#include "store_int.h"
#include "testrepo.h"
#include "treemerge.h"

#define N 400 /* documents in the base: most of the 256 buckets used */
#define EXTRA 40 /* names for additions */
#define ROUNDS 30

static struct store *st;
static char dir[] = "/tmp/chronofs-fanoutmerge-XXXXXX";
/* One version of the collection: each document's members o and t, or
 * absent (o < 0). */
struct version {
	int o[N + EXTRA], t[N + EXTRA];
};

static void name_of(int i, char *out, size_t sz)
{
	snprintf(out, sz, "%c%d.json", i < N ? 'd' : 'n', i);
}

static void text_of(const struct version *v, int i, char *out, size_t sz)
{
	snprintf(out, sz, "{\"i\": %d, \"o\": %d, \"t\": %d}", i, v->o[i],
		 v->t[i]);
}

/* A commit of version V on PARENT (NULL: a root), files laid out in
 * buckets with the fanout marker, as chronofs lays them out; only the
 * documents that differ from PV (NULL: all) are written. */
static struct store_oid commit_version(const struct store_oid *parent,
				       const struct version *pv,
				       const struct version *v)
{
	struct testrepo_put *puts = calloc(N + EXTRA + 1, sizeof(*puts));
	char(*paths)[64] = calloc(N + EXTRA + 1, sizeof(*paths));
	char(*texts)[128] = calloc(N + EXTRA + 1, sizeof(*texts));
	struct store_oid out;
	size_t n = 0;
	int err;

	if (!parent)
		puts[n++] =
			(struct testrepo_put){ "c/" LAYOUT_MARKER, "fanout\n" };
	for (int i = 0; i < N + EXTRA; i++) {
		char name[32], b[3];

		if (pv && pv->o[i] == v->o[i] && pv->t[i] == v->t[i])
			continue;
		if (!pv && v->o[i] < 0)
			continue;
		name_of(i, name, sizeof(name));
		store_layout_bucket(name, b);
		snprintf(paths[n], sizeof(paths[n]), "c/%s/%s", b, name);
		puts[n].path = paths[n];
		if (v->o[i] >= 0) {
			text_of(v, i, texts[n], sizeof(texts[n]));
			puts[n].data = texts[n];
		}
		n++;
	}
	err = testrepo_commit(st, &out, parent, 100, 0, puts, n);
	CHECK(err == 0, "commit: %d %s", err,
	      git_error_last() ? git_error_last()->message : "");
	free(texts);
	free(paths);
	free(puts);
	return out;
}

/* Merge THEIRS into OURS against BASE; *m and the merged root tree. */
static struct store_oid merge(const struct store_oid *b,
			      const struct store_oid *o,
			      const struct store_oid *t, struct store_merge *m)
{
	struct store_oid tree = { { 0 } };

	CHECK(store_merge_trees(m, st, b, o, t, NULL) == 0, "merge: %s",
	      store_errmsg());
	CHECK(store_merge_build_tree(st, m, &tree) == 0, "build: %s",
	      store_errmsg());
	return tree;
}

/* The bucket trees of collection c in commit or root tree ROOT, by
 * number. */
static void buckets_of(const struct store_oid *root, git_oid out[256],
		       bool has[256])
{
	git_object *o = NULL;
	git_tree *r = NULL, *c = NULL;
	git_tree_entry *ce = NULL;

	memset(has, 0, 256 * sizeof(*has));
	CHECK(git_object_lookup(&o, st->repo, store_goid(root),
				GIT_OBJECT_ANY) == 0 &&
		      git_object_peel((git_object **)&r, o, GIT_OBJECT_TREE) ==
			      0 &&
		      git_tree_entry_bypath(&ce, r, "c") == 0 &&
		      git_tree_lookup(&c, st->repo, git_tree_entry_id(ce)) == 0,
	      "collection c");
	for (size_t i = 0; c && i < git_tree_entrycount(c); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(c, i);
		const char *name = git_tree_entry_name(e);
		unsigned k;

		if (git_tree_entry_type(e) != GIT_OBJECT_TREE)
			continue;
		CHECK(store_layout_bucket_name(name) &&
			      sscanf(name, "%02x", &k) == 1,
		      "only buckets in c: %s", name);
		has[k] = true;
		git_oid_cpy(&out[k], git_tree_entry_id(e));
	}
	git_tree_free(c);
	git_tree_entry_free(ce);
	git_tree_free(r);
	git_object_free(o);
}

/* Every document of ROOT is in its bucket with the expected text. */
static void check_result(const struct store_oid *root, const struct version *b,
			 const struct version *o, const struct version *t,
			 int round)
{
	git_tree *r = NULL;

	CHECK(git_tree_lookup(&r, st->repo, store_goid(root)) == 0, "root");
	for (int i = 0; r && i < N + EXTRA; i++) {
		bool oc = o->o[i] != b->o[i] || o->t[i] != b->t[i];
		bool tc = t->o[i] != b->o[i] || t->t[i] != b->t[i];
		/* Ours changes member o, theirs member t (or delete). */
		int wo = o->o[i], wt = t->t[i];
		bool present = oc && tc ? (o->o[i] >= 0 || t->o[i] >= 0) :
			       oc	? o->o[i] >= 0 :
			       tc	? t->o[i] >= 0 :
					  b->o[i] >= 0;
		char name[32], path[64], want[64], bk[3];
		git_tree_entry *e = NULL;
		git_blob *blob = NULL;
		char buf[256];
		const char *text = NULL;

		name_of(i, name, sizeof(name));
		store_layout_bucket(name, bk);
		snprintf(path, sizeof(path), "c/%s/%s", bk, name);
		if (git_tree_entry_bypath(&e, r, path) == 0)
			CHECK(git_blob_lookup(&blob, st->repo,
					      git_tree_entry_id(e)) == 0,
			      "blob");
		if (blob && git_blob_rawsize(blob) < sizeof(buf)) {
			memcpy(buf, git_blob_rawcontent(blob),
			       git_blob_rawsize(blob));
			buf[git_blob_rawsize(blob)] = '\0';
			text = buf;
		}
		CHECK(present == (text != NULL), "round %d: %s %s, want %s",
		      round, path, text ? "present" : "absent",
		      present ? "present" : "absent");
		if (present && oc && tc && o->o[i] >= 0 && t->o[i] >= 0) {
			snprintf(want, sizeof(want), "\"o\": %d", wo);
			CHECK(text && strstr(text, want), "round %d: %s: %s",
			      round, name, text ? text : "(absent)");
			snprintf(want, sizeof(want), "\"t\": %d", wt);
			CHECK(text && strstr(text, want), "round %d: %s: %s",
			      round, name, text ? text : "(absent)");
		} else if (present && !(oc && tc)) {
			char exact[128];

			text_of(oc ? o : tc ? t : b, i, exact, sizeof(exact));
			CHECK(text && !strcmp(text, exact),
			      "round %d: %s: one side's bytes", round, name);
		}
		git_blob_free(blob);
		git_tree_entry_free(e);
	}
	git_tree_free(r);
}

/* One side's edits: member SIDE of some documents changed, some deleted,
 * some added; theirs also empties one bucket. */
static void edit(struct version *v, bool theirs, int round)
{
	for (int k = 0; k < 30; k++) {
		int i = (int)rnd(N);

		if (v->o[i] < 0)
			continue;
		if (theirs)
			v->t[i] = 1000 * round + k;
		else
			v->o[i] = 1000 * round + k;
	}
	for (int k = 0; k < 3; k++) {
		int i = (int)rnd(N);

		if (v->o[i] >= 0)
			v->o[i] = v->t[i] = -1;
	}
	for (int k = 0; k < 4; k++) {
		int i = N + (int)rnd(EXTRA);

		if (v->o[i] < 0) {
			v->o[i] = theirs ? 0 : 1;
			v->t[i] = theirs ? 1 : 0;
		}
	}
	if (theirs) {
		char name[32], bk[3], first[3];

		name_of((int)rnd(N), name, sizeof(name));
		store_layout_bucket(name, first);
		for (int i = 0; i < N + EXTRA; i++) {
			name_of(i, name, sizeof(name));
			store_layout_bucket(name, bk);
			if (!strcmp(bk, first))
				v->o[i] = v->t[i] = -1;
		}
	}
}

static void one_round(int round)
{
	struct version b, o, t;
	struct store_oid cb, co, ct, r1, r2;
	struct store_merge m1, m2;
	git_oid bb[256], bo[256], bt[256], br[256];
	bool hb[256], ho[256], ht[256], hr[256];
	size_t theirs_changed = 0, both = 0;

	for (int i = 0; i < N + EXTRA; i++) {
		b.o[i] = i < N ? 0 : -1;
		b.t[i] = i < N ? 0 : -1;
	}
	o = b;
	t = b;
	edit(&o, false, round);
	edit(&t, true, round);
	/* Added on both sides: the same bytes, no conflict. */
	for (int i = N; i < N + EXTRA; i++)
		if (o.o[i] >= 0 && t.o[i] >= 0)
			o.o[i] = t.o[i] = o.t[i] = t.t[i] = 7;
	/* Deleted on one side and changed on the other: neither, here
	 * (modify/delete is test_treemerge's). */
	for (int i = 0; i < N; i++)
		if ((o.o[i] < 0) != (t.o[i] < 0) &&
		    (o.o[i] >= 0 ? o.o[i] != 0 : t.t[i] != 0))
			o.o[i] = t.o[i] = o.t[i] = t.t[i] = -1;
	cb = commit_version(NULL, NULL, &b);
	co = commit_version(&cb, &b, &o);
	ct = commit_version(&cb, &b, &t);
	r1 = merge(&cb, &co, &ct, &m1);
	r2 = merge(&cb, &ct, &co, &m2);
	CHECK(m1.nconflicted == 0 && m2.nconflicted == 0, "no conflicts");
	check_result(&r1, &b, &o, &t, round);
	check_result(&r2, &b, &o, &t, round);
	buckets_of(&cb, bb, hb);
	buckets_of(&co, bo, ho);
	buckets_of(&ct, bt, ht);
	buckets_of(&r1, br, hr);
	for (int k = 0; k < 256; k++) {
		bool tsame = hb[k] == ht[k] &&
			     (!hb[k] || git_oid_equal(&bb[k], &bt[k]));
		bool osame = hb[k] == ho[k] &&
			     (!hb[k] || git_oid_equal(&bb[k], &bo[k]));

		theirs_changed += !tsame;
		both += !tsame && !osame;
		/* Only theirs changed it: the result has theirs' tree. */
		if (!tsame && osame)
			CHECK(hr[k] == ht[k] &&
				      (!hr[k] || git_oid_equal(&br[k], &bt[k])),
			      "round %d: bucket %02x taken from theirs", round,
			      k);
		/* Only ours changed it: ours' tree, unread. */
		if (tsame && !osame)
			CHECK(hr[k] == ho[k] &&
				      (!hr[k] || git_oid_equal(&br[k], &bo[k])),
			      "round %d: bucket %02x kept from ours", round, k);
	}
	/* Roots and c on three sides; then two trees per bucket taken,
	 * three per bucket both changed. */
	CHECK(m1.ntakes == theirs_changed - both &&
		      m1.trees_read <= 6 + 2 * m1.ntakes + 3 * both,
	      "round %d: %zu trees read, %zu taken, %zu both", round,
	      m1.trees_read, m1.ntakes, both);
	store_merge_release(&m1);
	store_merge_release(&m2);
}

/* Trees read as bytes (store/rawtree.c): entries parsed in place, found
 * in Git's order (a file "a.b" sorts before a directory "a"), spliced;
 * malformed trees refused with -EIO, never read past their end. */
static void raw_trees(void)
{
	static const unsigned char id[20] = { 1, 2, 3 };
#define BAD(s)                   \
	{                        \
		s, sizeof(s) - 1 \
	}
	static const struct {
		const char *p;
		size_t len;
	} bad[] = {
		BAD("100644 x"), /* no NUL, no id */
		BAD("100644 x\0short"), /* a short id */
		BAD("10x644 y\0aaaaaaaaaaaaaaaaaaaa"), /* a bad mode */
		BAD("100644 \0aaaaaaaaaaaaaaaaaaaa"), /* an empty name */
		BAD(" x\0aaaaaaaaaaaaaaaaaaaa"), /* no mode */
	};
#undef BAD
	struct store_tb_buf b = { 0 };
	struct rtree t;
	struct rt_update up[2];
	git_oid tid, sid, gid;
	bool empty;

	CHECK(store_tb_put_entry(&b, GIT_FILEMODE_TREE, "a",
				 (const git_oid *)id) == 0 &&
		      store_tb_put_entry(&b, GIT_FILEMODE_BLOB, "a.b",
					 (const git_oid *)id) == 0 &&
		      store_tb_put_entry(&b, GIT_FILEMODE_BLOB_EXECUTABLE, "z",
					 (const git_oid *)id) == 0,
	      "entries");
	/* Git's order: "a.b" < "a/" (the tree) < "z". */
	{
		struct store_tb_buf o = { 0 };

		store_tb_put_entry(&o, GIT_FILEMODE_BLOB, "a.b",
				   (const git_oid *)id);
		store_tb_put_entry(&o, GIT_FILEMODE_TREE, "a",
				   (const git_oid *)id);
		store_tb_put_entry(&o, GIT_FILEMODE_BLOB_EXECUTABLE, "z",
				   (const git_oid *)id);
		CHECK(git_odb_write(&tid, st->odb, o.p, o.len,
				    GIT_OBJECT_TREE) == 0,
		      "write tree");
		free(o.p);
	}
	free(b.p);
	pthread_mutex_lock(&st->lock);
	CHECK(store_rt_read(st, &tid, &t) == 0 && t.n == 3 &&
		      !strcmp(t.v[0].name, "a.b") &&
		      t.v[0].mode == GIT_FILEMODE_BLOB &&
		      store_rt_is_tree(&t.v[1]) && t.v[2].mode == 0100755 &&
		      !memcmp(t.v[2].id, id, 20),
	      "parsed in place");
	CHECK(store_rt_find(&t, "a", true) == &t.v[1] &&
		      store_rt_find(&t, "a", false) == NULL &&
		      store_rt_find(&t, "a.b", false) == &t.v[0] &&
		      store_rt_find(&t, "z", false) == &t.v[2] &&
		      !store_rt_is_fanout(&t),
	      "found in git's order");
	/* Splice: z removed, "a.a" added before "a.b". */
	up[0] = (struct rt_update){ "z", NULL, 0 };
	up[1] = (struct rt_update){ "a.a", (const git_oid *)id,
				    GIT_FILEMODE_BLOB };
	CHECK(store_rt_splice(st, &t, up, 2, &sid, &empty) == 0 && !empty,
	      "splice");
	store_rt_release(&t);
	{
		git_treebuilder *tb = NULL;

		CHECK(git_treebuilder_new(&tb, st->repo, NULL) == 0 &&
			      git_treebuilder_insert(NULL, tb, "a.b",
						     (const git_oid *)id,
						     GIT_FILEMODE_BLOB) == 0 &&
			      git_treebuilder_insert(NULL, tb, "a",
						     (const git_oid *)id,
						     GIT_FILEMODE_TREE) == 0 &&
			      git_treebuilder_insert(NULL, tb, "a.a",
						     (const git_oid *)id,
						     GIT_FILEMODE_BLOB) == 0 &&
			      git_treebuilder_write(&gid, tb) == 0 &&
			      git_oid_equal(&gid, &sid),
		      "the splice is the tree git builds");
		git_treebuilder_free(tb);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		git_oid bid;

		CHECK(git_odb_write(&bid, st->odb, bad[i].p, bad[i].len,
				    GIT_OBJECT_TREE) == 0,
		      "write bad tree %zu", i);
		CHECK(store_rt_read(st, &bid, &t) == -EIO && !t.v && !t.obj,
		      "bad tree %zu refused", i);
	}
	CHECK(store_rt_read(st, NULL, &t) == 0 && t.n == 0, "the empty tree");
	CHECK(store_rt_read(st, (const git_oid *)id, &t) < 0, "no such tree");
	pthread_mutex_unlock(&st->lock);
	store_error_clear();
}

int main(void)
{
	char cmd[512];

	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	for (int round = 1; round <= ROUNDS; round++)
		one_round(round);
	snprintf(cmd, sizeof(cmd),
		 "git --git-dir=%s fsck --no-progress --strict >/dev/null 2>&1"
		 " || git --git-dir=%s fsck --no-progress --strict",
		 dir, dir);
	CHECK(system(cmd) == 0, "git fsck is not clean");
	raw_trees(); /* after fsck: it writes malformed trees */
	testrepo_close(st, dir);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("fanoutmerge: ok\n");
	return 0;
}
