/* test_splitbucket.c - split buckets (store/layout.c): a bucket of a
 * fanout collection holding LAYOUT_FANOUT_AT files is split by the next
 * save into it, into 256 sub-buckets by the hash's second byte, and
 * every reader takes a bucket as it finds it. Versions of a collection
 * with random sets of split buckets, committed as an outside Git user
 * would: each lists and stats its documents, the diffs of both engines
 * (treediff.c, rawdiff.c) between two versions are the documents that
 * differ, and merges both ways (treemerge.c, mergebuild.c) keep every
 * write, each file where the result's layout puts it. Then real saves:
 * the one that splits a bucket, one into the split bucket, a deletion. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jgen.h"
#include "store_int.h"
#include "testrepo.h"
#include "treemerge.h"

#define N 600
#define ROUNDS 12

static struct store *st;
static char dir[] = "/tmp/chronofs-splitbucket-XXXXXX";

/* A version of collection c: each document's members o and t (o < 0:
 * absent), and which of its buckets are split. */
struct version {
	int o[N], t[N];
	bool split[256];
};

static void name_of(int i, char *out, size_t sz)
{
	snprintf(out, sz, "d%d.json", i);
}

static void text_of(const struct version *v, int i, char *out, size_t sz)
{
	snprintf(out, sz, "{\"i\": %d, \"o\": %d, \"t\": %d}", i, v->o[i],
		 v->t[i]);
}

/* Document I's git path in a collection whose buckets SPLIT are split. */
static void git_path_of(const bool split[256], int i, char *out, size_t sz)
{
	char name[32], b[3], s[3];

	name_of(i, name, sizeof(name));
	store_layout_bucket(name, b);
	store_layout_bucket_at(name, 1, s);
	if (split[store_layout_bucket_no(name)])
		snprintf(out, sz, "c/%s/%s/%s", b, s, name);
	else
		snprintf(out, sz, "c/%s/%s", b, name);
}

/* V as a root commit, laid out as V says. */
static struct store_oid commit_version(const struct version *v)
{
	struct testrepo_put *puts = calloc(N + 257, sizeof(*puts));
	char(*paths)[64] = calloc(N + 257, sizeof(*paths));
	char(*texts)[96] = calloc(N, sizeof(*texts));
	bool used[256] = { false };
	struct store_oid out = { { 0 } };
	size_t n = 0;

	puts[n++] = (struct testrepo_put){ "c/" LAYOUT_MARKER, "fanout\n", 0 };
	for (int i = 0; i < N; i++) {
		char name[32];

		if (v->o[i] < 0)
			continue;
		name_of(i, name, sizeof(name));
		used[store_layout_bucket_no(name)] = true;
		git_path_of(v->split, i, paths[n], sizeof(paths[n]));
		text_of(v, i, texts[i], sizeof(texts[i]));
		puts[n].path = paths[n];
		puts[n++].data = texts[i];
	}
	for (int k = 0; k < 256; k++)
		if (used[k] && v->split[k]) {
			snprintf(paths[n], sizeof(paths[n]), "c/%02x/%s", k,
				 LAYOUT_MARKER);
			puts[n].path = paths[n];
			puts[n++].data = "split\n";
		}
	CHECK(testrepo_commit(st, &out, NULL, 100, 0, puts, n) == 0,
	      "commit: %s", git_error_last() ? git_error_last()->message : "");
	free(texts);
	free(paths);
	free(puts);
	return out;
}

static int count_cb(void *ctx, const char *name, const struct store_entry *e)
{
	int *seen = ctx, i;

	if (e->kind == STORE_DOC && sscanf(name, "d%d.json", &i) == 1 &&
	    i >= 0 && i < N)
		seen[i]++;
	else
		seen[N]++;
	return 0;
}

/* C (of version V) lists each document once, nothing else, and each
 * stats with its blob. */
static void check_reads(const struct store_oid *c, const struct version *v,
			int round)
{
	int seen[N + 1] = { 0 };

	CHECK(store_readdir(st, c, "c", count_cb, seen) == 0, "readdir: %s",
	      store_errmsg());
	CHECK(seen[N] == 0, "round %d: %d entries not documents", round,
	      seen[N]);
	for (int i = 0; i < N; i++) {
		char path[64], text[96];
		struct store_entry e;
		git_oid want;
		int err;

		CHECK(seen[i] == (v->o[i] >= 0),
		      "round %d: d%d listed %d times", round, i, seen[i]);
		snprintf(path, sizeof(path), "c/d%d.json", i);
		err = store_stat(st, c, path, &e);
		if (v->o[i] < 0) {
			CHECK(err == -ENOENT, "round %d: %s: %d", round, path,
			      err);
			continue;
		}
		text_of(v, i, text, sizeof(text));
		git_odb_hash(&want, text, strlen(text), GIT_OBJECT_BLOB);
		CHECK(err == 0 && e.kind == STORE_DOC &&
			      !memcmp(e.oid.id, want.id, STORE_OID_RAWSZ),
		      "round %d: stat %s: %d", round, path, err);
	}
}

static int line_cb(void *ctx, const char *path, const struct store_oid *old,
		   const struct store_oid *new)
{
	char **s = ctx, *t;

	if (asprintf(&t, "%s%s %c%c\n", *s ? *s : "", path, old ? 'o' : '-',
		     new ? 'n' : '-') < 0)
		abort();
	free(*s);
	*s = t;
	return 0;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lines of S sorted, as one text (S freed). */
static char *sorted(char *s)
{
	char *v[N + 1], *out = calloc(1, s ? strlen(s) + 1 : 1);
	size_t n = 0;

	for (char *tok = s ? strtok(s, "\n") : NULL; tok && n < N + 1;
	     tok = strtok(NULL, "\n"))
		v[n++] = tok;
	qsort(v, n, sizeof(*v), cmp_line);
	for (size_t i = 0; i < n; i++) {
		strcat(out, v[i]);
		strcat(out, "\n");
	}
	free(s);
	return out;
}

/* Both engines' diff from CA (version A) to CB (version B) are the
 * documents that differ. */
static void check_diff(const struct store_oid *ca, const struct version *a,
		       const struct store_oid *cb, const struct version *b,
		       int round)
{
	char *want = NULL, *raw = NULL, *walk = NULL;
	struct store_chain_commit xa, xb;
	struct store_chain *ch = NULL;
	const struct store_tdiff_entry *e;
	struct store_tdiff *d = NULL;

	for (int i = 0; i < N; i++) {
		char path[32];
		struct store_oid o;

		if ((a->o[i] == b->o[i] && a->t[i] == b->t[i]) ||
		    (a->o[i] < 0 && b->o[i] < 0))
			continue;
		snprintf(path, sizeof(path), "c/d%d.json", i);
		line_cb(&want, path, a->o[i] >= 0 ? &o : NULL,
			b->o[i] >= 0 ? &o : NULL);
	}
	want = sorted(want);
	CHECK(store_chain_open(&ch, st) == 0 &&
		      store_chain_commit(ch, ca, &xa) == 0 &&
		      store_chain_commit(ch, cb, &xb) == 0 &&
		      store_chain_diff(ch, &xa.tree, &xb.tree, line_cb, &raw,
				       NULL) == 0,
	      "chain diff: %s", store_errmsg());
	store_chain_close(ch);
	raw = sorted(raw);
	CHECK(!strcmp(raw, want), "round %d: rawdiff:\n%s\nwant:\n%s", round,
	      raw, want);
	CHECK(store_tdiff_new(&d, st, ca, cb, NULL) == 0, "tdiff: %s",
	      store_errmsg());
	while (d && store_tdiff_next(d, &e) == 0 && e)
		line_cb(&walk, e->path, e->old_mode ? &e->old_blob : NULL,
			e->new_mode ? &e->new_blob : NULL);
	store_tdiff_free(d);
	walk = sorted(walk);
	CHECK(!strcmp(walk, want), "round %d: treediff:\n%s\nwant:\n%s", round,
	      walk, want);
	free(want);
	free(raw);
	free(walk);
}

/* Document I's text in root tree R, found where R's layout puts it (a
 * copy anywhere else is an error); NULL if absent. */
static char *result_text(git_tree *r, int i, int round)
{
	char name[32], b[3], s[3], plain[64], split[64], marker[64];
	git_tree_entry *e = NULL, *m = NULL, *other = NULL;
	git_blob *blob = NULL;
	char *text = NULL;
	bool is_split;

	name_of(i, name, sizeof(name));
	store_layout_bucket(name, b);
	store_layout_bucket_at(name, 1, s);
	snprintf(plain, sizeof(plain), "c/%s/%s", b, name);
	snprintf(split, sizeof(split), "c/%s/%s/%s", b, s, name);
	snprintf(marker, sizeof(marker), "c/%s/%s", b, LAYOUT_MARKER);
	is_split = git_tree_entry_bypath(&m, r, marker) == 0;
	git_tree_entry_bypath(&e, r, is_split ? split : plain);
	CHECK(git_tree_entry_bypath(&other, r, is_split ? plain : split) != 0,
	      "round %d: %s outside its bucket's layout", round, name);
	if (e && git_blob_lookup(&blob, st->repo, git_tree_entry_id(e)) == 0)
		text = strndup(git_blob_rawcontent(blob),
			       (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	git_tree_entry_free(other);
	git_tree_entry_free(m);
	git_tree_entry_free(e);
	return text;
}

/* The merge of THEIRS into OURS against BASE keeps every write. */
static void check_merge(const struct store_oid *cb, const struct version *b,
			const struct store_oid *co, const struct version *o,
			const struct store_oid *ct, const struct version *t,
			int round)
{
	struct store_merge m;
	struct store_oid tree = { { 0 } };
	git_tree *r = NULL;

	CHECK(store_merge_trees(&m, st, cb, co, ct, NULL) == 0, "merge: %s",
	      store_errmsg());
	CHECK(store_merge_build_tree(st, &m, &tree) == 0, "build: %s",
	      store_errmsg());
	CHECK(m.nconflicted == 0, "round %d: conflicts", round);
	CHECK(git_tree_lookup(&r, st->repo, store_goid(&tree)) == 0, "root");
	for (int i = 0; r && i < N; i++) {
		bool oc = o->o[i] != b->o[i] || o->t[i] != b->t[i];
		bool tc = t->o[i] != b->o[i] || t->t[i] != b->t[i];
		const struct version *one = oc ? o : tc ? t : b;
		bool present = oc && tc ? o->o[i] >= 0 && t->o[i] >= 0 :
					  one->o[i] >= 0;
		char *text = result_text(r, i, round), want[96];

		CHECK(present == (text != NULL), "round %d: d%d %s", round, i,
		      text ? "present" : "absent");
		if (present && text && oc && tc) {
			/* Each member as the side that changed it. */
			snprintf(want, sizeof(want), "\"o\": %d",
				 o->o[i] != b->o[i] ? o->o[i] : t->o[i]);
			CHECK(strstr(text, want), "round %d: d%d: %s (%s)",
			      round, i, text, want);
			snprintf(want, sizeof(want), "\"t\": %d",
				 o->t[i] != b->t[i] ? o->t[i] : t->t[i]);
			CHECK(strstr(text, want), "round %d: d%d: %s", round, i,
			      text);
		} else if (present && text) {
			text_of(one, i, want, sizeof(want));
			CHECK(!strcmp(text, want), "round %d: d%d: %s", round,
			      i, text);
		}
		free(text);
	}
	git_tree_free(r);
	store_merge_release(&m);
}

/* One side's edits: member o (ours) or t (theirs) of some documents,
 * some deleted, some added back; a new set of split buckets. */
static void edit(struct version *v, bool theirs, int round)
{
	for (int k = 0; k < 60; k++) {
		int i = (int)rnd(N);

		if (v->o[i] < 0)
			continue;
		if (theirs)
			v->t[i] = 1000 * round + k;
		else
			v->o[i] = 1000 * round + k;
	}
	for (int k = 0; k < 8; k++)
		v->o[rnd(N)] = -1;
	for (int k = 0; k < 256; k++)
		if (rnd(3) == 0)
			v->split[k] = !v->split[k];
}

static void versions(void)
{
	for (int round = 0; round < ROUNDS; round++) {
		struct version b, o, t;
		struct store_oid cb, co, ct;

		for (int i = 0; i < N; i++) {
			b.o[i] = i % 17 == 5 ? -1 : 0;
			b.t[i] = 0;
		}
		for (int k = 0; k < 256; k++)
			b.split[k] = round > 0 && rnd(2);
		o = b;
		t = b;
		edit(&o, false, round);
		edit(&t, true, round);
		/* Deleted on one side and changed on the other: neither
		 * (modify/delete is test_treemerge's). */
		for (int i = 0; i < N; i++)
			if ((o.o[i] < 0) != (t.o[i] < 0))
				o.o[i] = t.o[i] = -1;
		cb = commit_version(&b);
		co = commit_version(&o);
		ct = commit_version(&t);
		check_reads(&cb, &b, round);
		check_reads(&co, &o, round);
		check_reads(&ct, &t, round);
		check_diff(&cb, &b, &co, &o, round);
		check_diff(&co, &o, &ct, &t, round);
		check_merge(&cb, &b, &co, &o, &ct, &t, round);
		check_merge(&cb, &b, &ct, &t, &co, &o, round);
	}
}

static void set_branch(const char *name, const struct store_oid *c)
{
	CHECK(testrepo_branch(st, name, c) == 0, "branch %s", name);
}

/* The files directly in tree PATH of commit C, and whether it holds the
 * marker. */
static size_t files_in(const struct store_oid *c, const char *path,
		       bool *marker)
{
	git_commit *gc = NULL;
	git_tree *root = NULL, *t = NULL;
	git_tree_entry *e = NULL;
	size_t n = 0;

	*marker = false;
	if (git_commit_lookup(&gc, st->repo, store_goid(c)) == 0 &&
	    git_commit_tree(&root, gc) == 0 &&
	    git_tree_entry_bypath(&e, root, path) == 0 &&
	    git_tree_lookup(&t, st->repo, git_tree_entry_id(e)) == 0)
		for (size_t i = 0; i < git_tree_entrycount(t); i++) {
			const git_tree_entry *x = git_tree_entry_byindex(t, i);

			if (!strcmp(git_tree_entry_name(x), LAYOUT_MARKER))
				*marker = true;
			else if (git_tree_entry_type(x) == GIT_OBJECT_BLOB)
				n++;
		}
	git_tree_free(t);
	git_tree_entry_free(e);
	git_tree_free(root);
	git_commit_free(gc);
	return n;
}

/* The files in the 256 sub-buckets of split bucket PATH of commit C. */
static size_t files_in_subs(const struct store_oid *c, const char *path)
{
	size_t total = 0;

	for (int k = 0; k < 256; k++) {
		char sub[64];
		bool m;

		snprintf(sub, sizeof(sub), "%s/%02x", path, k);
		total += files_in(c, sub, &m);
	}
	return total;
}

/* A bucket of LAYOUT_FANOUT_AT - 1 files: the save that adds one more
 * splits it, the next goes into its sub-bucket, a deletion leaves it. */
static void saves(void)
{
	size_t want = LAYOUT_FANOUT_AT + 1, n = 0;
	struct testrepo_put *p = calloc(want + 2, sizeof(*p));
	char(*paths)[48] = calloc(want + 2, sizeof(*paths));
	char(*names)[24] = calloc(want + 2, sizeof(*names));
	struct store_oid c[4];
	struct store_change sv = { STORE_PUT, NULL, NULL, "{\"new\": 1}", 10 };
	struct store_entry e;
	char path[64];
	bool marker;
	size_t total;

	/* Names in bucket 00. */
	for (unsigned i = 0; n < want; i++) {
		snprintf(names[n], sizeof(names[n]), "s%u.json", i);
		if (store_layout_bucket_no(names[n]) == 0)
			n++;
	}
	p[0] = (struct testrepo_put){ "s/" LAYOUT_MARKER, "fanout\n", 0 };
	for (size_t i = 0; i < want - 2; i++) {
		snprintf(paths[i], sizeof(paths[i]), "s/00/%s", names[i]);
		p[i + 1] = (struct testrepo_put){ paths[i], "{}", 0 };
	}
	p[want - 1] = (struct testrepo_put){ "s/other.json", "{}", 0 };
	CHECK(testrepo_commit(st, &c[0], NULL, 200, 0, p, want) == 0, "commit");
	CHECK(files_in(&c[0], "s/00", &marker) == want - 2 && !marker,
	      "a plain bucket of %zu", want - 2);
	set_branch("split", &c[0]);
	snprintf(path, sizeof(path), "s/%s", names[want - 2]);
	sv.path = path;
	CHECK(store_apply(st, "split", &sv, &c[1]) == 0, "save: %s",
	      store_errmsg());
	CHECK(files_in(&c[1], "s/00", &marker) == 0 && marker,
	      "the save split the bucket");
	total = files_in_subs(&c[1], "s/00");
	CHECK(total == want - 1, "%zu files in the sub-buckets", total);
	for (size_t i = 0; i < want - 1; i++) {
		snprintf(path, sizeof(path), "s/%s", names[i]);
		CHECK(store_stat(st, &c[1], path, &e) == 0 &&
			      e.kind == STORE_DOC,
		      "%s after the split", path);
	}
	snprintf(path, sizeof(path), "s/%s", names[want - 1]);
	CHECK(store_apply(st, "split", &sv, &c[2]) == 0, "save: %s",
	      store_errmsg());
	{
		char sub[3], gp[64];
		git_commit *gc = NULL;
		git_tree *root = NULL;
		git_tree_entry *x = NULL;

		store_layout_bucket_at(names[want - 1], 1, sub);
		snprintf(gp, sizeof(gp), "s/00/%s/%s", sub, names[want - 1]);
		CHECK(git_commit_lookup(&gc, st->repo, store_goid(&c[2])) ==
				      0 &&
			      git_commit_tree(&root, gc) == 0 &&
			      git_tree_entry_bypath(&x, root, gp) == 0,
		      "the next save went to %s", gp);
		git_tree_entry_free(x);
		git_tree_free(root);
		git_commit_free(gc);
	}
	sv.op = STORE_DELETE;
	snprintf(path, sizeof(path), "s/%s", names[0]);
	CHECK(store_apply(st, "split", &sv, &c[3]) == 0, "delete: %s",
	      store_errmsg());
	CHECK(store_stat(st, &c[3], path, &e) == -ENOENT, "deleted");
	CHECK(files_in(&c[3], "s/00", &marker) == 0 && marker, "still split");

	/* A flat collection resharded by a save: a bucket that would hold
	 * LAYOUT_FANOUT_AT files is split at once. */
	for (size_t i = 0; i < want - 2; i++) {
		snprintf(paths[i], sizeof(paths[i]), "f/%s", names[i]);
		p[i] = (struct testrepo_put){ paths[i], "{}", 0 };
	}
	CHECK(testrepo_commit(st, &c[0], NULL, 300, 0, p, want - 2) == 0,
	      "commit");
	set_branch("flat", &c[0]);
	sv.op = STORE_PUT;
	snprintf(path, sizeof(path), "f/%s", names[want - 2]);
	CHECK(store_apply(st, "flat", &sv, &c[1]) == 0, "save: %s",
	      store_errmsg());
	CHECK(files_in(&c[1], "f", &marker) == 0 && marker, "resharded");
	CHECK(files_in(&c[1], "f/00", &marker) == 0 && marker, "split");
	total = files_in_subs(&c[1], "f/00");
	CHECK(total == want - 1, "%zu files in the sub-buckets", total);
	for (size_t i = 0; i < want - 1; i++) {
		snprintf(path, sizeof(path), "f/%s", names[i]);
		CHECK(store_stat(st, &c[1], path, &e) == 0 &&
			      e.kind == STORE_DOC,
		      "%s after the reshard", path);
	}
	{
		int seen[N + 1] = { 0 };
		size_t listed = 0;

		CHECK(store_readdir(st, &c[1], "f", count_cb, seen) == 0,
		      "readdir");
		for (int i = 0; i <= N; i++)
			listed += (size_t)seen[i];
		CHECK(listed == want - 1, "%zu listed", listed);
	}
	free(names);
	free(paths);
	free(p);
}

int main(void)
{
	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	versions();
	saves();
	testrepo_close(st, dir);
	return failures != 0;
}
