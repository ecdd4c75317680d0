/* test_treemerge.c - diffs and merges of real Git repositories by logical
 * path (store/treemerge.c, store/mergebuild.c): disjoint documents,
 * disjoint members of one document, modify/delete, add/add, the winner by
 * committer time, a 3,000-document collection flat on one side and fanout
 * on the other (resharded by a real save), unchanged subtrees skipped
 * unread, the merged tree built and read back through the store; then
 * 1,000 random histories (two sides of a few commits of random edits of
 * two dozen documents) merged both ways: the same documents, all valid
 * JSON, one-sided changes byte for byte, modifications never lost to a
 * deletion; and `git fsck` clean on it all. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jgen.h"
#include "store_int.h"
#include "testrepo.h"
#include "treemerge.h"

#define HISTORIES 1000

static struct store *st;
static char dir[] = "/tmp/chronofs-treemerge-XXXXXX";

/* A commit on PARENT (NULL: a root commit) with PUTS applied, committed
 * at TIME, as an outside `git commit` would make it. */
static struct store_oid commit_at(const struct store_oid *parent, int64_t time,
				  const struct testrepo_put *puts, size_t n)
{
	struct store_oid out;
	int err = testrepo_commit(st, &out, parent, time, 0, puts, n);

	CHECK(err == 0, "commit: %d %s", err,
	      git_error_last() ? git_error_last()->message : "");
	return out;
}

static void set_branch(const char *name, const struct store_oid *c)
{
	CHECK(testrepo_branch(st, name, c) == 0, "branch %s", name);
}

/* A commit with merged tree TREE and parents OURS and THEIRS. */
static struct store_oid merge_commit(const struct store_oid *tree,
				     const struct store_oid *ours,
				     const struct store_oid *theirs)
{
	git_commit *p[2] = { NULL, NULL };
	git_tree *t = NULL;
	git_signature *sig = NULL;
	struct store_oid out = { { 0 } };
	git_oid id;
	int err;

	err = git_commit_lookup(&p[0], st->repo, store_goid(ours));
	if (err == 0)
		err = git_commit_lookup(&p[1], st->repo, store_goid(theirs));
	if (err == 0)
		err = git_tree_lookup(&t, st->repo, store_goid(tree));
	if (err == 0)
		err = git_signature_new(&sig, "t", "t@example.org", 5000, 0);
	if (err == 0)
		err = git_commit_create(&id, st->repo, NULL, sig, sig, NULL,
					"merge", t, 2, (const git_commit **)p);
	CHECK(err == 0, "merge commit");
	if (err == 0)
		memcpy(out.id, id.id, STORE_OID_RAWSZ);
	git_signature_free(sig);
	git_tree_free(t);
	git_commit_free(p[0]);
	git_commit_free(p[1]);
	return out;
}

/* The content of logical PATH in COMMIT (malloc'd), or NULL. */
static char *doc(const struct store_oid *commit, const char *path)
{
	struct store_entry e;
	char *data = NULL, *out;
	size_t len;

	if (store_stat(st, commit, path, &e) < 0 || e.kind != STORE_DOC)
		return NULL;
	if (store_blob_read(st, &e.oid, &data, &len) < 0)
		return NULL;
	out = realloc(data, len + 1);
	if (!out) {
		free(data);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

static void doc_is(const struct store_oid *commit, const char *path,
		   const char *want)
{
	char *got = doc(commit, path);

	CHECK((!want && !got) || (want && got && !strcmp(got, want)),
	      "%s: %s, want %s", path, got ? got : "(absent)",
	      want ? want : "(absent)");
	free(got);
}

static const struct store_merge_entry *entry(const struct store_merge *m,
					     const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].path, path))
			return &m->v[i];
	return NULL;
}

/* Merge THEIRS into OURS against BASE, build the tree, commit it. */
static struct store_oid merge(const struct store_oid *base,
			      const struct store_oid *ours,
			      const struct store_oid *theirs,
			      struct store_merge *m)
{
	struct store_oid tree = { { 0 } };
	int err = store_merge_trees(m, st, base, ours, theirs, NULL);

	CHECK(err == 0, "merge: %d %s", err, store_errmsg());
	err = store_merge_build_tree(st, m, &tree);
	CHECK(err == 0, "build: %d %s", err, store_errmsg());
	return merge_commit(&tree, ours, theirs);
}

static void fsck_clean(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "git --git-dir=%s fsck --no-progress --strict >/dev/null 2>&1"
		 " || git --git-dir=%s fsck --no-progress --strict",
		 dir, dir);
	CHECK(system(cmd) == 0, "git fsck is not clean");
}

static void disjoint_documents(void)
{
	struct testrepo_put b[] = { { "x.json", "{\"v\":1}" },
				    { "y.json", "{\"v\":1}" } };
	struct testrepo_put o[] = { { "x.json", "{\"v\":2}" } };
	struct testrepo_put t[] = { { "y.json", "{\"v\":3}" },
				    { "z/n.json", "[]" } };
	struct store_oid cb = commit_at(NULL, 100, b, 2);
	struct store_oid co = commit_at(&cb, 200, o, 1);
	struct store_oid ct = commit_at(&cb, 300, t, 2);
	struct store_merge m;
	struct store_oid mc = merge(&cb, &co, &ct, &m);

	struct store_oid mb;

	CHECK(store_merge_base(st, &co, &ct, &mb) == 0 &&
		      store_oid_equal(&mb, &cb),
	      "the merge base is the common parent");
	/* What theirs changed is listed; ours' own change is not (the
	 * result keeps ours' file there). */
	CHECK(m.n == 2 && m.nconflicted == 0, "disjoint: %zu entries", m.n);
	CHECK(!entry(&m, "x.json"), "x.json, changed by ours only: not listed");
	CHECK(entry(&m, "y.json") &&
		      entry(&m, "y.json")->action == STORE_MERGE_THEIRS,
	      "y.json theirs");
	doc_is(&mc, "x.json", "{\"v\":2}");
	doc_is(&mc, "y.json", "{\"v\":3}");
	doc_is(&mc, "z/n.json", "[]");
	store_merge_release(&m);
}

static void members_of_one_document(void)
{
	struct testrepo_put b[] = {
		{ "c/d.json", "{\"a\": 1, \"b\": 1, \"n\": 1.0e400}" }
	};
	struct testrepo_put o[] = {
		{ "c/d.json", "{\"a\": 2, \"b\": 1, \"n\": 1.0e400}" }
	};
	struct testrepo_put t[] = { { "c/d.json",
				      "{\"a\": 1, \"b\": 12345678901234567890, "
				      "\"n\": 1.0e400}" } };
	struct store_oid cb = commit_at(NULL, 100, b, 1);
	struct store_oid co = commit_at(&cb, 200, o, 1);
	struct store_oid ct = commit_at(&cb, 300, t, 1);
	struct store_merge m;
	struct store_oid mc = merge(&cb, &co, &ct, &m);
	const struct store_merge_entry *e = entry(&m, "c/d.json");

	CHECK(m.n == 1 && e && e->action == STORE_MERGE_BYTES && e->n == 0,
	      "one document, members merged");
	doc_is(&mc, "c/d.json",
	       "{\n  \"a\": 2,\n  \"b\": 12345678901234567890,\n"
	       "  \"n\": 1.0e400\n}\n");
	store_merge_release(&m);
}

/* The same member changed differently: the later change wins; the
 * conflict names it, both ways round. */
static void winner_by_time(void)
{
	struct testrepo_put b[] = { { "w.json", "{\"k\": 0, \"z\": 0}" } };
	struct testrepo_put o[] = { { "w.json", "{\"k\": 1, \"z\": 0}" } };
	struct testrepo_put t[] = { { "w.json", "{\"k\": 2, \"z\": 5}" } };
	struct testrepo_put other[] = { { "other.json", "{}" } };
	struct store_oid cb = commit_at(NULL, 100, b, 1);
	struct store_oid co = commit_at(&cb, 200, o, 1);
	struct store_oid ct = commit_at(&cb, 300, t, 1);
	/* Later commits that do not touch w.json do not count. */
	struct store_oid co2 = commit_at(&co, 900, other, 1);
	struct store_merge m;
	struct store_oid mc = merge(&cb, &co2, &ct, &m);
	const struct store_merge_entry *e = entry(&m, "w.json");
	int64_t time;
	struct store_oid c;

	CHECK(e && e->n == 1 && e->winner == JMERGE_THEIRS &&
		      e->action == STORE_MERGE_THEIRS &&
		      !strcmp(e->conflicts[0].pointer, "/k"),
	      "theirs (t=300) beats ours (t=200, then 900 elsewhere)");
	/* All of theirs won: theirs' exact bytes. */
	doc_is(&mc, "w.json", "{\"k\": 2, \"z\": 5}");
	store_merge_release(&m);
	mc = merge(&cb, &ct, &co2, &m);
	e = entry(&m, "w.json");
	CHECK(e && e->n == 1 && e->winner == JMERGE_OURS,
	      "the same winner the other way round");
	doc_is(&mc, "w.json", "{\"k\": 2, \"z\": 5}");
	store_merge_release(&m);
	CHECK(store_merge_latest_change(st, &co2, "w.json", &time, &c) == 0 &&
		      time == 200 && store_oid_equal(&c, &co),
	      "latest change of w.json on ours");
	CHECK(store_merge_latest_change(st, &co2, "gone.json", &time, &c) ==
			      0 &&
		      time == 100 && store_oid_equal(&c, &cb),
	      "latest change of an absent path: the oldest commit without it");
}

static void modify_delete_and_add_add(void)
{
	struct testrepo_put b[] = { { "m.json", "{\"a\":1}" },
				    { "keep.json", "1" } };
	struct testrepo_put o[] = { { "m.json", "{\"a\":2}" },
				    { "n.json", "{\"x\":1,\"s\":\"o\"}" },
				    { "q.json", "[1]" },
				    { "README.md", "ours\n" } };
	struct testrepo_put t[] = { { "m.json", NULL },
				    { "n.json", "{\"y\":2,\"s\":\"t\"}" },
				    { "q.json", "[1]" },
				    { "README.md", "theirs\n" } };
	struct store_oid cb = commit_at(NULL, 100, b, 2);
	struct store_oid co = commit_at(&cb, 300, o, 4);
	struct store_oid ct = commit_at(&cb, 200, t, 4);
	struct store_merge m;
	struct store_oid mc = merge(&cb, &co, &ct, &m);
	const struct store_merge_entry *e;
	struct jt_buf b2 = { 0 };

	e = entry(&m, "m.json");
	CHECK(e && e->action == STORE_MERGE_OURS && e->n == 1 &&
		      e->conflicts[0].kind == JMERGE_MODIFY_DELETE,
	      "modify/delete keeps the modification");
	doc_is(&mc, "m.json", "{\"a\":2}");
	e = entry(&m, "n.json");
	CHECK(e && e->action == STORE_MERGE_BYTES && e->n == 1 &&
		      e->conflicts[0].kind == JMERGE_BOTH_ADDED &&
		      e->winner == JMERGE_OURS,
	      "add/add merges members");
	doc_is(&mc, "n.json",
	       "{\n  \"x\": 1,\n  \"s\": \"o\",\n  \"y\": 2\n}\n");
	if (e && e->n) {
		jmerge_conflicts_render(&b2, e->path, e->conflicts, e->n);
		CHECK(strstr(b2.p, "\"pointer\": \"/s\"") &&
			      strstr(b2.p, "\"kind\": \"both-added\"") &&
			      !strstr(b2.p, "\"base\""),
		      "conflicts.json: %s", b2.p);
		free(b2.p);
	}
	CHECK(!entry(&m, "q.json"), "add/add of the same bytes: not listed");
	doc_is(&mc, "q.json", "[1]");
	e = entry(&m, "README.md");
	CHECK(e && e->n == 1 && e->conflicts[0].raw &&
		      e->action == STORE_MERGE_OURS,
	      "a non-document is a whole value");
	doc_is(&mc, "keep.json", "1");
	CHECK(!entry(&m, "keep.json"), "unchanged documents are not listed");
	store_merge_release(&m);
	/* Deleted on ours, modified on theirs: theirs' bytes come back. */
	{
		struct testrepo_put o2[] = { { "m.json", NULL } };
		struct testrepo_put t2[] = { { "m.json", "{\"a\":3}" } };
		struct store_oid co3 = commit_at(&cb, 300, o2, 1);
		struct store_oid ct3 = commit_at(&cb, 200, t2, 1);

		mc = merge(&cb, &co3, &ct3, &m);
		e = entry(&m, "m.json");
		CHECK(e && e->action == STORE_MERGE_THEIRS && e->n == 1 &&
			      e->conflicts[0].kind == JMERGE_DELETE_MODIFY,
		      "delete/modify");
		doc_is(&mc, "m.json", "{\"a\":3}");
		store_merge_release(&m);
	}
}

static void no_merge_base(void)
{
	struct testrepo_put o[] = { { "a.json", "{\"x\":1}" },
				    { "s.json", "{}" } };
	struct testrepo_put t[] = { { "a.json", "{\"y\":1}" },
				    { "s.json", "{}" } };
	struct store_oid co = commit_at(NULL, 100, o, 2);
	struct store_oid ct = commit_at(NULL, 200, t, 2);
	struct store_merge m;
	struct store_oid mc = merge(NULL, &co, &ct, &m);

	CHECK(m.nconflicted == 0, "unrelated histories: %zu conflicts",
	      m.nconflicted);
	{
		struct store_oid mb;

		CHECK(store_merge_base(st, &co, &ct, &mb) == -ENOENT,
		      "unrelated histories have no merge base");
		CHECK(store_merge_base(st, &mc, &co, &mb) == 0 &&
			      store_oid_equal(&mb, &co),
		      "merge base of a merge and its parent");
	}
	doc_is(&mc, "a.json", "{\n  \"x\": 1,\n  \"y\": 1\n}\n");
	doc_is(&mc, "s.json", "{}");
	store_merge_release(&m);
}

/* A collection of N documents as an outside commit writes it: flat. */
static struct store_oid big_flat(size_t n, int64_t time)
{
	struct testrepo_put *p = calloc(n + 1, sizeof(*p));
	char **names = calloc(n, sizeof(*names)),
	     **data = calloc(n, sizeof(*data));
	struct store_oid c;

	for (size_t i = 0; i < n; i++) {
		if (asprintf(&names[i], "users/u%04zu.json", i) < 0 ||
		    asprintf(&data[i], "{\"id\": %zu, \"v\": 0}", i) < 0)
			abort();
		p[i] = (struct testrepo_put){ names[i], data[i] };
	}
	/* A subcollection, which stays where it is in a fanout one. */
	p[n] = (struct testrepo_put){ "users/sub/x.json", "{\"s\": 0}" };
	c = commit_at(NULL, time, p, n + 1);
	for (size_t i = 0; i < n; i++)
		free(names[i]), free(data[i]);
	free(names), free(data), free(p);
	return c;
}

/* Does collection COLL of COMMIT hold the fanout marker? (It is no
 * document: looked up by its git path.) */
static bool is_fanout(const struct store_oid *commit, const char *coll)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_tree_entry *te = NULL;
	char path[256];
	bool yes = false;

	snprintf(path, sizeof(path), "%s/%s", coll, LAYOUT_MARKER);
	if (git_commit_lookup(&c, st->repo, store_goid(commit)) == 0 &&
	    git_commit_tree(&t, c) == 0 &&
	    git_tree_entry_bypath(&te, t, path) == 0)
		yes = true;
	git_tree_entry_free(te);
	git_tree_free(t);
	git_commit_free(c);
	return yes;
}

static int count_cb(void *ctx, const char *name, const struct store_entry *e)
{
	(void)name;
	if (e->kind == STORE_DOC)
		(*(size_t *)ctx)++;
	return 0;
}

static size_t docs_in(const struct store_oid *commit, const char *coll)
{
	size_t n = 0;

	CHECK(store_readdir(st, commit, coll, count_cb, &n) == 0, "readdir");
	return n;
}

static void flat_against_fanout(void)
{
	struct store_oid base = big_flat(3000, 1000), a, b, mc;
	struct store_change ch = { STORE_PUT, "users/u0001.json", NULL,
				   "{\"id\": 1, \"v\": \"a\"}", 0 };
	struct testrepo_put pb[] = { { "users/u0002.json",
				       "{\"id\": 2, \"v\": \"b\"}" },
				     { "users/new.json", "{\"new\": true}" },
				     { "users/u0003.json", NULL },
				     { "users/sub/x.json", "{\"s\": 1}" } };
	struct store_merge m;
	struct store_tdiff *d = NULL;
	const struct store_tdiff_entry *te;

	ch.len = strlen(ch.data);
	set_branch("fa", &base);
	/* A real save into the big flat collection reshards it. */
	CHECK(store_apply(st, "fa", &ch, &a) == 0, "save: %s", store_errmsg());
	CHECK(is_fanout(&a, "users") && !is_fanout(&base, "users"),
	      "the save resharded users/");
	b = commit_at(&base, 2000, pb, 4);
	CHECK(!is_fanout(&b, "users"), "b stays flat");

	/* The diff base -> a is one document, though every file moved. */
	CHECK(store_tdiff_new(&d, st, &base, &a, NULL) == 0, "tdiff");
	CHECK(d && store_tdiff_count(d) == 1 && store_tdiff_next(d, &te) == 0 &&
		      !strcmp(te->path, "users/u0001.json") &&
		      te->op == STORE_TDIFF_MODIFY,
	      "flat -> fanout diff is the one changed document");
	store_tdiff_free(d);

	/* Ours fanout, theirs flat. */
	mc = merge(&base, &a, &b, &m);
	CHECK(m.n == 4 && m.nconflicted == 0, "fanout+flat: %zu entries", m.n);
	doc_is(&mc, "users/sub/x.json", "{\"s\": 1}");
	CHECK(is_fanout(&mc, "users"), "result fanout");
	CHECK(docs_in(&mc, "users") == 3000, "3000 documents: %zu",
	      docs_in(&mc, "users"));
	doc_is(&mc, "users/u0001.json", "{\"id\": 1, \"v\": \"a\"}");
	doc_is(&mc, "users/u0002.json", "{\"id\": 2, \"v\": \"b\"}");
	doc_is(&mc, "users/u0003.json", NULL);
	doc_is(&mc, "users/new.json", "{\"new\": true}");
	doc_is(&mc, "users/u2999.json", "{\"id\": 2999, \"v\": 0}");
	store_merge_release(&m);

	/* Ours flat, theirs fanout: the result is resharded. */
	mc = merge(&base, &b, &a, &m);
	CHECK(m.n == 1 && m.nconflicted == 0, "flat+fanout: %zu", m.n);
	doc_is(&mc, "users/sub/x.json", "{\"s\": 1}");
	CHECK(is_fanout(&mc, "users"), "result resharded");
	CHECK(docs_in(&mc, "users") == 3000, "3000 documents: %zu",
	      docs_in(&mc, "users"));
	doc_is(&mc, "users/u0001.json", "{\"id\": 1, \"v\": \"a\"}");
	doc_is(&mc, "users/u0002.json", "{\"id\": 2, \"v\": \"b\"}");
	doc_is(&mc, "users/u0003.json", NULL);
	doc_is(&mc, "users/new.json", "{\"new\": true}");
	doc_is(&mc, "users/u0000.json", "{\"id\": 0, \"v\": 0}");
	store_merge_release(&m);

	/* Both fanout, one document each: the cost follows the changes. */
	{
		struct store_change c2 = ch, c3 = ch, c4 = ch;
		struct store_oid a2, a3, a4;

		c2.path = "users/u0100.json";
		c2.data = "{\"id\": 100, \"members\": 1}";
		c2.len = strlen(c2.data);
		CHECK(store_apply(st, "fa", &c2, &a2) == 0, "save 2");
		set_branch("fb", &a);
		c3.path = "users/u0200.json";
		c3.data = "{\"id\": 200, \"members\": 2}";
		c3.len = strlen(c3.data);
		CHECK(store_apply(st, "fb", &c3, &a3) == 0, "save 3");
		c4.path = "users/sub/x.json";
		c4.data = "{\"s\": 2}";
		c4.len = strlen(c4.data);
		CHECK(store_apply(st, "fb", &c4, &a4) == 0, "save 4");
		mc = merge(&a, &a2, &a4, &m);
		/* Roots and users/ on three sides, users/sub/ on two (ours
		 * did not change it), and the one bucket theirs changed on
		 * two: it is taken whole. Ours' bucket is not read. */
		CHECK(m.n == 2 && m.trees_read == 10 && m.ntakes == 1 &&
			      entry(&m, "users/u0200.json") &&
			      entry(&m, "users/u0200.json")->taken,
		      "fanout both: %zu entries, %zu trees read, %zu taken",
		      m.n, m.trees_read, m.ntakes);
		doc_is(&mc, "users/u0100.json", c2.data);
		doc_is(&mc, "users/u0200.json", c3.data);
		doc_is(&mc, "users/sub/x.json", c4.data);
		CHECK(docs_in(&mc, "users") == 3000, "3000 documents");
		store_merge_release(&m);
		CHECK(store_tdiff_new(&d, st, &a, &a3, NULL) == 0 && d &&
			      store_tdiff_count(d) == 1 &&
			      store_tdiff_trees_read(d) <= 6,
		      "diff of one save: %zu trees read",
		      d ? store_tdiff_trees_read(d) : 0);
		store_tdiff_free(d);

		/* Ours flat, theirs fanout with a deletion of a document
		 * ours has: resharded without it. */
		{
			struct store_change del = { STORE_DELETE,
						    "users/u0004.json" };
			struct store_oid a5;

			CHECK(store_apply(st, "fa", &del, &a5) == 0, "delete");
			mc = merge(&base, &b, &a5, &m);
			CHECK(is_fanout(&mc, "users"), "resharded");
			CHECK(docs_in(&mc, "users") == 2999, "%zu documents",
			      docs_in(&mc, "users"));
			doc_is(&mc, "users/u0004.json", NULL);
			doc_is(&mc, "users/u0003.json", NULL);
			doc_is(&mc, "users/u0100.json", c2.data);
			doc_is(&mc, "users/u0002.json",
			       "{\"id\": 2, \"v\": \"b\"}");
			store_merge_release(&m);
		}
	}
}

/* A collection crossing the threshold in the merge alone reshards. */
static void merge_crosses_threshold(void)
{
	size_t half = LAYOUT_FANOUT_AT / 2 + 10;
	struct testrepo_put *po = calloc(half, sizeof(*po)),
			    *pt = calloc(half, sizeof(*pt));
	char **names = calloc(2 * half, sizeof(*names));
	struct testrepo_put b[] = { { "g/seed.json", "{}" } };
	struct store_oid cb, co, ct, mc;
	struct store_merge m;

	for (size_t i = 0; i < 2 * half; i++) {
		if (asprintf(&names[i], "g/%c%05zu.json", i < half ? 'o' : 't',
			     i) < 0)
			abort();
		if (i < half)
			po[i] = (struct testrepo_put){ names[i], "{\"o\":1}" };
		else
			pt[i - half] =
				(struct testrepo_put){ names[i], "{\"t\":1}" };
	}
	cb = commit_at(NULL, 100, b, 1);
	co = commit_at(&cb, 200, po, half);
	ct = commit_at(&cb, 300, pt, half);
	mc = merge(&cb, &co, &ct, &m);
	CHECK(!is_fanout(&co, "g") && is_fanout(&mc, "g"),
	      "2 x %zu new documents: fanout", half);
	CHECK(docs_in(&mc, "g") == 2 * half + 1, "all documents: %zu",
	      docs_in(&mc, "g"));
	doc_is(&mc, "g/t02047.json", "{\"t\":1}");
	store_merge_release(&m);
	for (size_t i = 0; i < 2 * half; i++)
		free(names[i]);
	free(names), free(po), free(pt);
}

static void diff_prefix_and_ops(void)
{
	struct testrepo_put b[] = { { "p/a.json", "1" },
				    { "p/b.json",
				      "{\"k\": [1, 2], \"s\": \"\\u00e9\"}" },
				    { "q/c.json", "3" },
				    { "p/sub/d.json", "4" } };
	struct testrepo_put n[] = {
		{ "p/a.json", NULL },
		{ "p/b.json", "{\"k\": [1, 3], \"n\": 1e400}" },
		{ "p/bad.json", "{" },
		{ "p/new.json", "6" },
		{ "q/c.json", "7" },
		{ "p/sub/d.json", NULL }
	};
	struct store_oid ca = commit_at(NULL, 100, b, 4);
	struct store_oid cn = commit_at(&ca, 200, n, 6);
	struct store_tdiff *d = NULL;
	const struct store_tdiff_entry *e;
	struct jt_buf lines = { 0 };
	static const char *const want[] = { "p/a.json", "p/b.json",
					    "p/bad.json", "p/new.json",
					    "p/sub/d.json" };
	static const enum store_tdiff_op ops[] = {
		STORE_TDIFF_DELETE, STORE_TDIFF_MODIFY, STORE_TDIFF_ADD,
		STORE_TDIFF_ADD, STORE_TDIFF_DELETE
	};
	size_t k = 0;

	CHECK(store_tdiff_new(&d, st, &ca, &cn, "p") == 0, "tdiff p");
	while (d && store_tdiff_next(d, &e) == 0) {
		CHECK(k < 5 && !strcmp(e->path, want[k]) && e->op == ops[k],
		      "diff entry %zu: %s %d", k, e->path, e->op);
		CHECK(store_tdiff_line(st, e, &lines) == 0, "line %zu", k);
		k++;
	}
	CHECK(k == 5, "%zu entries under p", k);
	CHECK(lines.p &&
		      !strcmp(lines.p,
			      "{\"path\":\"p/a.json\",\"op\":\"delete\","
			      "\"patch\":[{\"op\":\"remove\",\"path\":\"\"}]}\n"
			      "{\"path\":\"p/b.json\",\"op\":\"modify\","
			      "\"patch\":[{\"op\":\"remove\",\"path\":\"/s\"},"
			      "{\"op\":\"replace\",\"path\":\"/k/1\",\"value\":3},"
			      "{\"op\":\"add\",\"path\":\"/n\",\"value\":1e400}]}\n"
			      "{\"path\":\"p/bad.json\",\"op\":\"add\","
			      "\"patch\":null}\n"
			      "{\"path\":\"p/new.json\",\"op\":\"add\","
			      "\"patch\":[{\"op\":\"add\",\"path\":\"\","
			      "\"value\":6}]}\n"
			      "{\"path\":\"p/sub/d.json\",\"op\":\"delete\","
			      "\"patch\":[{\"op\":\"remove\",\"path\":\"\"}]}\n"),
	      "diff lines:\n%s", lines.p);
	free(lines.p);
	store_tdiff_free(d);
	CHECK(store_tdiff_new(&d, st, &ca, &cn, "q/c.json") == 0 && d &&
		      store_tdiff_count(d) == 1,
	      "diff of one document path");
	store_tdiff_free(d);
	CHECK(store_tdiff_new(&d, st, &cn, &cn, NULL) == 0 && d &&
		      store_tdiff_count(d) == 0 &&
		      store_tdiff_trees_read(d) == 0,
	      "a commit against itself reads nothing");
	store_tdiff_free(d);
	CHECK(store_tdiff_new(&d, st, NULL, &ca, NULL) == 0 && d &&
		      store_tdiff_count(d) == 4,
	      "against the empty tree: every file added");
	store_tdiff_free(d);
}

/* The merged tree committed on a branch by compare-and-swap; a stale
 * head is -EAGAIN; a squash has one parent; a fast-forward moves the
 * branch only from where it was. */
static void branch_commits(void)
{
	struct testrepo_put b[] = { { "k/a.json", "{\"a\":0,\"b\":0}" } };
	struct testrepo_put o[] = { { "k/a.json", "{\"a\":1,\"b\":0}" } };
	struct testrepo_put t[] = { { "k/a.json", "{\"a\":0,\"b\":2}" } };
	struct store_oid cb = commit_at(NULL, 100, b, 1);
	struct store_oid co = commit_at(&cb, 200, o, 1);
	struct store_oid ct = commit_at(&cb, 300, t, 1);
	struct store_oid parents[2] = { co, ct }, tree, mc, sq, head;
	struct store_merge m;
	git_commit *c = NULL;

	set_branch("into", &co);
	CHECK(store_merge_trees(&m, st, &cb, &co, &ct, NULL) == 0 &&
		      store_merge_build_tree(st, &m, &tree) == 0,
	      "merge");
	store_merge_release(&m);
	CHECK(store_commit_tree(st, "into", &tree, parents, 2,
				"merge theirs into into", &mc) == 0,
	      "merge commit: %s", store_errmsg());
	CHECK(store_branch_head(st, "into", &head) == 0 &&
		      store_oid_equal(&head, &mc),
	      "the branch is at the merge");
	doc_is(&head, "k/a.json", "{\n  \"a\": 1,\n  \"b\": 2\n}\n");
	CHECK(git_commit_lookup(&c, st->repo, store_goid(&mc)) == 0 &&
		      git_commit_parentcount(c) == 2 &&
		      !memcmp(git_commit_parent_id(c, 0)->id, co.id, 20) &&
		      !memcmp(git_commit_parent_id(c, 1)->id, ct.id, 20),
	      "parents ours, theirs");
	git_commit_free(c);
	CHECK(store_commit_tree(st, "into", &tree, parents, 2, "again", &sq) ==
		      -EAGAIN,
	      "a stale head is -EAGAIN");
	CHECK(store_commit_tree(st, "into", &tree, &mc, 1, "squash", &sq) ==
			      0 &&
		      store_branch_head(st, "into", &head) == 0 &&
		      store_oid_equal(&head, &sq),
	      "a one-parent commit");
	set_branch("ff", &cb);
	CHECK(store_branch_cas(st, "ff", &cb, &ct, "fast-forward") == 0 &&
		      store_branch_head(st, "ff", &head) == 0 &&
		      store_oid_equal(&head, &ct),
	      "fast-forward");
	CHECK(store_branch_cas(st, "ff", &cb, &co, "stale") == -EAGAIN,
	      "a stale fast-forward is -EAGAIN");
	CHECK(store_commit_tree(st, "ff", &tree, NULL, 0, "x", &sq) == -EINVAL,
	      "no parent");
}

/* A branch into another: a merge commit listing its conflicts, nothing
 * the second time, a fast-forward, a squash, unrelated histories, and the
 * refusals. */
static void branch_merges(void)
{
	struct testrepo_put b[] = { { "bm/a.json", "{\"a\":0,\"b\":0}" } };
	struct testrepo_put o[] = { { "bm/a.json", "{\"a\":1,\"b\":0}" } };
	struct testrepo_put t[] = { { "bm/a.json", "{\"a\":2,\"b\":2}" } };
	struct testrepo_put f[] = { { "bm/f.json", "[1]" } };
	struct testrepo_put u[] = { { "bm/u.json", "{}" } };
	struct store_oid cb = commit_at(NULL, 100, b, 1);
	struct store_oid co = commit_at(&cb, 200, o, 1);
	struct store_oid ct = commit_at(&cb, 300, t, 1);
	struct store_oid head, cf, cu;
	struct store_merge_outcome r;
	git_commit *c = NULL;

	set_branch("mi", &co);
	set_branch("mf", &ct);
	CHECK(store_merge_branch(&r, st, "mf", "mi", NULL, 0, NULL) == 0 &&
		      r.kind == STORE_MERGED_COMMIT && r.has_base &&
		      store_oid_equal(&r.base, &cb) && r.merge.nconflicted == 1,
	      "merge: %s", store_errmsg());
	CHECK(r.message && !strcmp(r.message, "merge mf into mi\n\n"
					      "Conflicts:\n\tbm/a.json\n"),
	      "message: %s", r.message);
	CHECK(store_branch_head(st, "mi", &head) == 0 &&
		      store_oid_equal(&head, &r.commit),
	      "mi is at the merge");
	doc_is(&head, "bm/a.json", "{\"a\":2,\"b\":2}");
	store_merge_outcome_release(&r);
	CHECK(store_merge_branch(&r, st, "mf", "mi", NULL, 0, NULL) == 0 &&
		      r.kind == STORE_MERGED_NOTHING &&
		      store_oid_equal(&r.commit, &head),
	      "merged twice: nothing to do");
	store_merge_outcome_release(&r);

	/* mi has nothing of its own against ff: a fast-forward. */
	cf = commit_at(&head, 400, f, 1);
	set_branch("ff2", &cf);
	CHECK(store_merge_branch(&r, st, "ff2", "mi", NULL, 0, NULL) == 0 &&
		      r.kind == STORE_MERGED_FAST_FORWARD &&
		      store_oid_equal(&r.commit, &cf),
	      "fast-forward");
	store_merge_outcome_release(&r);

	/* A squash: one commit, mi its only parent. */
	set_branch("sq", &cf);
	cf = commit_at(&cf, 500, u, 1);
	set_branch("sq", &cf);
	CHECK(store_merge_branch(&r, st, "sq", "mi", "one change", 1, NULL) ==
			      0 &&
		      r.kind == STORE_MERGED_COMMIT &&
		      !strcmp(r.message, "one change"),
	      "squash");
	CHECK(git_commit_lookup(&c, st->repo, store_goid(&r.commit)) == 0 &&
		      git_commit_parentcount(c) == 1,
	      "a squash has one parent");
	git_commit_free(c);
	doc_is(&r.commit, "bm/u.json", "{}");
	store_merge_outcome_release(&r);

	/* Unrelated histories: merged against an empty base. */
	cu = commit_at(NULL, 600, u, 1);
	set_branch("unrelated", &cu);
	CHECK(store_merge_branch(&r, st, "unrelated", "mi", NULL, 0, NULL) ==
			      0 &&
		      r.kind == STORE_MERGED_COMMIT && !r.has_base &&
		      strstr(r.message, "No common history"),
	      "unrelated histories");
	doc_is(&r.commit, "bm/a.json", "{\"a\":2,\"b\":2}");
	store_merge_outcome_release(&r);

	CHECK(store_merge_branch(&r, st, "mi", "mi", NULL, 0, NULL) == -EINVAL,
	      "into itself");
	CHECK(store_merge_branch(&r, st, "nope", "mi", NULL, 0, NULL) ==
		      -ENOENT,
	      "unknown branch");
}

/* Saves on INTO while branches are merged into it: every save and every
 * merge ends up in INTO's history (the merge retries on a moved head). */
static void *saver(void *arg)
{
	char data[32];

	for (int i = 0; i < 200; i++) {
		struct store_change ch = { STORE_PUT, "cc/n.json", NULL, data,
					   0 };

		ch.len = (size_t)snprintf(data, sizeof(data), "{\"n\":%d}", i);
		CHECK(store_apply(st, "cc", &ch, NULL) == 0, "save %d", i);
	}
	(void)arg;
	return NULL;
}

static void merges_beside_saves(void)
{
	struct testrepo_put b[] = { { "cc/n.json", "{\"n\":-1}" } };
	struct store_oid cb = commit_at(NULL, 100, b, 1), heads[20], head;
	struct store_merge_outcome r;
	pthread_t th;
	char path[64], want[64];

	heads[0] = cb;
	for (int i = 1; i < 20; i++) {
		struct testrepo_put p = { path, want };

		snprintf(path, sizeof(path), "cc/m%d.json", i);
		snprintf(want, sizeof(want), "{\"m\":%d}", i);
		heads[i] = commit_at(&heads[i - 1], 100 + i, &p, 1);
	}
	set_branch("cc", &cb);
	pthread_create(&th, NULL, saver, NULL);
	for (int i = 1; i < 20; i++) {
		snprintf(path, sizeof(path), "cm%d", i);
		pthread_mutex_lock(&st->lock);
		set_branch(path, &heads[i]);
		pthread_mutex_unlock(&st->lock);
		CHECK(store_merge_branch(&r, st, path, "cc", NULL, 0, NULL) ==
			      0,
		      "merge %d: %s", i, store_errmsg());
		store_merge_outcome_release(&r);
	}
	pthread_join(th, NULL);
	CHECK(store_branch_head(st, "cc", &head) == 0, "head");
	doc_is(&head, "cc/n.json", "{\"n\":199}");
	for (int i = 1; i < 20; i++) {
		snprintf(path, sizeof(path), "cc/m%d.json", i);
		snprintf(want, sizeof(want), "{\"m\":%d}", i);
		doc_is(&head, path, want);
	}
}

static struct store_change put(const char *path, const char *data)
{
	return (struct store_change){ STORE_PUT, path, NULL, data,
				      strlen(data) };
}

static bool parent_is(const struct store_oid *c, const struct store_oid *p)
{
	git_commit *gc = NULL;
	bool yes = git_commit_lookup(&gc, st->repo, store_goid(c)) == 0 &&
		   git_commit_parentcount(gc) == 1 &&
		   !memcmp(git_commit_parent_id(gc, 0)->id, p->id, 20);

	git_commit_free(gc);
	return yes;
}

/* Many changes as one commit: on the head they began on, merged onto a
 * moved head (the transaction winning its conflicts), refused in strict
 * mode when the moved head touched one of its paths, nothing written on
 * a bad change; 2,100 new documents resharded in the one commit. */
static void transactions(void)
{
	struct testrepo_put b[] = { { "tx/a.json", "{\"a\":0,\"b\":0}" },
				    { "tx/b.json", "1" },
				    { "tx/c.json", "2" } };
	struct store_oid cb = commit_at(NULL, 100, b, 3), head, c1, c2;
	struct store_change ch[] = {
		put("tx/a.json", "{\"a\":1,\"b\":0}"),
		put("tx/n.json", "[]"),
		{ STORE_DELETE, "tx/b.json" },
		{ STORE_RENAME, "tx/c.json", "tx/d.json" },
	};
	struct store_change other = put("tx/a.json", "{\"a\":5,\"b\":7}");
	struct store_change elsewhere = put("tx/z.json", "{}");
	struct store_change bad = { STORE_DELETE, "tx/none.json" };
	struct store_change *many;
	char **names;
	size_t nmany = LAYOUT_FANOUT_AT + 52;

	set_branch("tx1", &cb);
	CHECK(store_commit_changes(st, "tx1", &cb, ch, 4, "tx", 0, &c1) == 0,
	      "commit: %s", store_errmsg());
	CHECK(parent_is(&c1, &cb), "one commit on the head it began on");
	doc_is(&c1, "tx/a.json", "{\"a\":1,\"b\":0}");
	doc_is(&c1, "tx/n.json", "[]");
	doc_is(&c1, "tx/b.json", NULL);
	doc_is(&c1, "tx/c.json", NULL);
	doc_is(&c1, "tx/d.json", "2");
	CHECK(store_commit_changes(st, "tx1", &c1, ch, 2, "again", 0, &c2) == 1,
	      "changing nothing commits nothing");

	/* The branch moved: merged onto it. */
	set_branch("tx2", &cb);
	CHECK(store_apply(st, "tx2", &other, &head) == 0, "other save");
	CHECK(store_apply(st, "tx2", &elsewhere, &head) == 0, "other save");
	CHECK(store_commit_changes(st, "tx2", &cb, ch, 4, "tx", 0, &c2) == 0,
	      "merged commit: %s", store_errmsg());
	CHECK(parent_is(&c2, &head), "on the moved head");
	doc_is(&c2, "tx/a.json", "{\n  \"a\": 1,\n  \"b\": 7\n}\n");
	doc_is(&c2, "tx/z.json", "{}");
	doc_is(&c2, "tx/d.json", "2");

	/* Strict: the moved head touched tx/a.json. */
	set_branch("tx3", &cb);
	CHECK(store_apply(st, "tx3", &other, &head) == 0, "other save");
	CHECK(store_commit_changes(st, "tx3", &cb, ch, 4, "tx", STORE_TX_STRICT,
				   &c2) == -EBUSY,
	      "strict: -EBUSY");
	CHECK(store_branch_head(st, "tx3", &c2) == 0 &&
		      store_oid_equal(&c2, &head),
	      "strict: nothing written");
	CHECK(store_commit_changes(st, "tx3", &cb, ch + 1, 1, "tx",
				   STORE_TX_STRICT, &c2) == 0,
	      "strict, other paths: committed");
	CHECK(store_commit_changes(st, "tx3", &c2, &bad, 1, "tx", 0, &c1) ==
		      -ENOENT,
	      "deleting a missing document: -ENOENT");
	CHECK(store_branch_head(st, "tx3", &c1) == 0 &&
		      store_oid_equal(&c1, &c2),
	      "a bad change writes nothing");

	/* 2,100 documents, one commit, resharded. */
	many = calloc(nmany, sizeof(*many));
	names = calloc(nmany, sizeof(*names));
	for (size_t i = 0; i < nmany; i++) {
		if (asprintf(&names[i], "txbig/d%05zu.json", i) < 0)
			abort();
		many[i] = put(names[i], "{\"big\":true}");
	}
	CHECK(store_branch_head(st, "tx1", &head) == 0, "tx1 head");
	CHECK(store_commit_changes(st, "tx1", &head, many, nmany, "many", 0,
				   &c2) == 0 &&
		      parent_is(&c2, &head),
	      "many: %s", store_errmsg());
	CHECK(store_branch_head(st, "tx1", &head) == 0 &&
		      docs_in(&head, "txbig") == nmany &&
		      is_fanout(&head, "txbig"),
	      "%zu documents in one commit, fanout", nmany);
	doc_is(&head, "txbig/d02099.json", "{\"big\":true}");
	for (size_t i = 0; i < nmany; i++)
		free(names[i]);
	free(names);
	free(many);
}

/* ---- random histories ---- */

#define NPATHS 24
static const char *const rpaths[NPATHS] = {
	"a/d0.json",   "a/d1.json",   "a/d2.json",   "a/d3.json", "a/d4.json",
	"a/d5.json",   "a/d6.json",   "a/d7.json",   "b/e0.json", "b/e1.json",
	"b/e2.json",   "b/e3.json",   "b/e4.json",   "b/e5.json", "a/s/f0.json",
	"a/s/f1.json", "a/s/f2.json", "a/s/f3.json", "top0.json", "top1.json",
	"top2.json",   "c/g0.json",   "c/g1.json",   "c/g2.json",
};

/* The documents of one version: text per path (NULL: absent). */
struct version {
	char *text[NPATHS];
};

static void version_free(struct version *v)
{
	for (int i = 0; i < NPATHS; i++)
		free(v->text[i]);
}

static char *text_of(const struct jt_value *v, bool pretty)
{
	struct jt_buf b = { 0 };

	jt_write(&b, v, pretty ? JT_PRETTY : JT_COMPACT);
	return b.p;
}

/* A random edit of the document at I in V: a member set or removed (a
 * copy-on-write edit), a new document, or a deletion. */
static void random_edit(struct version *v, int i)
{
	struct jt_value *d = NULL, *nd;
	struct jpath p = { .n = 0 };
	uint32_t op = rnd(10);

	if (v->text[i])
		d = parse_text(v->text[i], strlen(v->text[i]));
	if (!d || op < 2 || d->type != JT_OBJECT) {
		free(v->text[i]);
		v->text[i] = NULL;
		jt_unref(d);
		if (op < 1 && d)
			return; /* deleted */
		d = gen_object(2);
		v->text[i] = text_of(d, rnd(2));
		jt_unref(d);
		return;
	}
	{
		struct jt_value *key = key_value(gen_keys[rnd(6)]);
		struct jt_value *val = op < 4 ? NULL : gen_value(1, 0);

		p.seg[p.n++] = key;
		nd = set_path(d, &p, 0, val);
		jt_unref(key);
	}
	free(v->text[i]);
	v->text[i] = text_of(nd, rnd(2));
	jt_unref(nd);
	jt_unref(d);
}

/* Commit the differences from OLD to NEW on PARENT at TIME. */
static struct store_oid commit_version(const struct store_oid *parent,
				       int64_t time, const struct version *old,
				       const struct version *new)
{
	struct testrepo_put p[NPATHS];
	size_t n = 0;

	for (int i = 0; i < NPATHS; i++) {
		const char *a = old ? old->text[i] : NULL, *b = new->text[i];

		if ((!a && !b) || (a && b && !strcmp(a, b)))
			continue;
		p[n++] = (struct testrepo_put){ rpaths[i], b };
	}
	return commit_at(parent, time, p, n);
}

static void version_copy(struct version *to, const struct version *from)
{
	for (int i = 0; i < NPATHS; i++)
		to->text[i] = from->text[i] ? strdup(from->text[i]) : NULL;
}

/* One side: 1-3 commits of random edits from BASE. */
static struct store_oid random_side(const struct store_oid *base,
				    const struct version *bv,
				    struct version *out)
{
	struct store_oid head = *base;

	version_copy(out, bv);
	for (uint32_t c = 1 + rnd(3); c > 0; c--) {
		struct version prev;

		version_copy(&prev, out);
		for (uint32_t k = 1 + rnd(4); k > 0; k--)
			random_edit(out, (int)rnd(NPATHS));
		head = commit_version(&head, 200 + rnd(20), &prev, out);
		version_free(&prev);
	}
	return head;
}

static struct jt_value *doc_value(const struct store_oid *c, const char *p)
{
	char *t = doc(c, p);
	struct jt_value *v = NULL;

	if (t) {
		CHECK(store_json_validate(t, strlen(t), NULL) == 0,
		      "%s: invalid JSON", p);
		v = parse_text(t, strlen(t));
	}
	free(t);
	return v;
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void one_history(int seed)
{
	struct version bv = { { 0 } }, ov, tv;
	struct store_oid cb, co, ct, m1, m2;
	struct store_merge a, b;

	for (int i = 0; i < NPATHS; i++)
		if (rnd(3)) {
			struct jt_value *d = gen_object(2);

			bv.text[i] = text_of(d, rnd(2));
			jt_unref(d);
		}
	cb = commit_version(NULL, 100, NULL, &bv);
	co = random_side(&cb, &bv, &ov);
	ct = random_side(&cb, &bv, &tv);
	m1 = merge(&cb, &co, &ct, &a);
	m2 = merge(&cb, &ct, &co, &b);
	CHECK(a.nconflicted == b.nconflicted, "seed %d: %zu/%zu conflicted",
	      seed, a.nconflicted, b.nconflicted);
	for (int i = 0; i < NPATHS; i++) {
		const char *p = rpaths[i];
		struct jt_value *x = doc_value(&m1, p), *y = doc_value(&m2, p);
		char *got = doc(&m1, p);
		bool oc = !!ov.text[i] != !!bv.text[i] ||
			  (ov.text[i] && strcmp(ov.text[i], bv.text[i]));
		bool tc = !!tv.text[i] != !!bv.text[i] ||
			  (tv.text[i] && strcmp(tv.text[i], bv.text[i]));
		const char *want = oc && !tc ? ov.text[i] :
				   tc && !oc ? tv.text[i] :
					       bv.text[i];

		CHECK(jt_equal(x, y), "seed %d: %s differs by direction", seed,
		      p);
		/* Listed: what the merged side changed to something the
		 * other does not have. */
		CHECK(!entry(&a, p) == !(tc &&
					 !same_text(tv.text[i], ov.text[i])) &&
			      !entry(&b, p) == !(oc && !same_text(ov.text[i],
								  tv.text[i])),
		      "seed %d: %s listed %d/%d", seed, p, !!entry(&a, p),
		      !!entry(&b, p));
		/* Changed on one side only: that side's exact bytes. */
		if (oc != tc || (!oc && !tc))
			CHECK((!want && !got) ||
				      (want && got && !strcmp(want, got)),
			      "seed %d: %s: %s, want %s", seed, p, got, want);
		/* Modified on one side, deleted on the other: kept. */
		if (oc && tc && (ov.text[i] || tv.text[i]))
			CHECK(got != NULL,
			      "seed %d: %s lost: base %s ours %s "
			      "theirs %s",
			      seed, p, bv.text[i], ov.text[i], tv.text[i]);
		free(got);
		jt_unref(x);
		jt_unref(y);
	}
	store_merge_release(&a);
	store_merge_release(&b);
	version_free(&bv);
	version_free(&ov);
	version_free(&tv);
}

static void random_histories(void)
{
	const char *env = getenv("TREEMERGE_HISTORIES");
	int n = env ? atoi(env) : HISTORIES;

	gen_unique_keys = 1;
	for (int seed = 1; seed <= n; seed++) {
		rng_state = 0x2545F4914F6CDD1Du * (uint64_t)seed;
		one_history(seed);
	}
}

int main(void)
{
	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	disjoint_documents();
	members_of_one_document();
	winner_by_time();
	modify_delete_and_add_add();
	no_merge_base();
	branch_commits();
	branch_merges();
	merges_beside_saves();
	transactions();
	diff_prefix_and_ops();
	flat_against_fanout();
	merge_crosses_threshold();
	random_histories();
	fsck_clean();
	testrepo_close(st, dir);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("treemerge: ok\n");
	return 0;
}
