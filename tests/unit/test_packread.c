/* test_packread.c - the libdeflate pack reader (store/packread.c,
 * packentry.c) against libgit2's own backends: blobs of every size class
 * (empty, tiny, JSON, incompressible, large and repetitive, one that grows
 * by a version, over the reader's limit), trees of a 3,000-document
 * collection in several versions, and commits, packed by `git repack`
 * whole (no deltas), then again with deltas by offset while the store is
 * open (its old pack deleted under it, a new one to find), then with
 * deltas by id in longer chains. Every object is read through the store's
 * object database and through a plain libgit2 one and must match in type
 * and bytes; the reader must have served every object it could (all but
 * the one over its limit and the empty blob libgit2 answers itself), once
 * it has looked at the directory again; and four threads reading every
 * object at once while a fifth has it look at the directory again and
 * again. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_int.h"
#include "testrepo.h"

static struct store *st;
static char dir[] = "/tmp/chronofs-packread-XXXXXX";
static unsigned long rng = 12345;

static unsigned rnd(void)
{
	rng = rng * 6364136223846793005ul + 1442695040888963407ul;
	return (unsigned)(rng >> 33);
}

static git_oid blob(const char *data, size_t len)
{
	git_oid id;
	int err = git_blob_create_from_buffer(&id, st->repo, data, len);

	CHECK(err == 0, "blob: %d", err);
	return id;
}

/* A commit of a tree of N documents (version V of some of them) and a
 * few odd blobs, on branch B. */
static void commit_version(const char *b, int n, int v)
{
	git_treebuilder *root = NULL, *coll = NULL;
	git_oid id, tid, cid;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	char name[64], doc[128], ref[64];
	size_t big = 300000 + (size_t)v;
	char *buf = malloc(big);
	int err;

	err = git_treebuilder_new(&root, st->repo, NULL);
	if (err == 0)
		err = git_treebuilder_new(&coll, st->repo, NULL);
	for (int i = 0; i < n && err == 0; i++) {
		int len =
			snprintf(doc, sizeof(doc),
				 "{\"i\": %d, \"v\": %d, \"name\": \"d%d\"}\n",
				 i, i % 7 == 0 ? v : 0, i);

		snprintf(name, sizeof(name), "d%d.json", i);
		id = blob(doc, (size_t)len);
		err = git_treebuilder_insert(NULL, coll, name, &id,
					     GIT_FILEMODE_BLOB);
	}
	if (err == 0)
		err = git_treebuilder_write(&tid, coll);
	if (err == 0)
		err = git_treebuilder_insert(NULL, root, "c", &tid,
					     GIT_FILEMODE_TREE);
	/* Empty, incompressible, and large repetitive (deflates to little:
	 * the reader's bound on the compressed size is no issue). */
	id = blob("", 0);
	if (err == 0)
		err = git_treebuilder_insert(NULL, root, "empty", &id,
					     GIT_FILEMODE_BLOB);
	for (size_t i = 0; buf && i < 20000; i++)
		buf[i] = (char)rnd();
	id = blob(buf, buf ? 20000 : 0);
	if (err == 0)
		err = git_treebuilder_insert(NULL, root, "random", &id,
					     GIT_FILEMODE_BLOB);
	for (size_t i = 0; buf && i < big; i++)
		buf[i] = (char)('a' + (i * 7 + (size_t)v) % 26);
	id = blob(buf, buf ? big : 0);
	if (err == 0)
		err = git_treebuilder_insert(NULL, root, "big", &id,
					     GIT_FILEMODE_BLOB);
	/* A log that grows by a version: its versions are deltas. */
	if (buf && (size_t)v * 4000 + 4000 < big) {
		size_t len = 0;

		for (int i = 0; i < (v + 1) * 100; i++)
			len += (size_t)snprintf(buf + len, big - len,
						"line %d of the log %d\n", i,
						i * 7919 % 1000);
		id = blob(buf, len);
		if (err == 0)
			err = git_treebuilder_insert(NULL, root, "log", &id,
						     GIT_FILEMODE_BLOB);
	}
	/* Over the reader's limit: left to libgit2. */
	if (v == 0 && buf && (buf = realloc(buf, 17u << 20))) {
		for (size_t i = 0; i < (17u << 20); i++)
			buf[i] = (char)(i % 251);
		id = blob(buf, 17u << 20);
		if (err == 0)
			err = git_treebuilder_insert(NULL, root, "huge", &id,
						     GIT_FILEMODE_BLOB);
	}
	if (err == 0)
		err = git_treebuilder_write(&tid, root);
	if (err == 0)
		err = git_tree_lookup(&tree, st->repo, &tid);
	if (err == 0)
		err = git_signature_new(&sig, "t", "t@example.org",
					1700000000 + v, 0);
	snprintf(ref, sizeof(ref), "refs/heads/%s%d", b, v);
	if (err == 0)
		err = git_commit_create(&cid, st->repo, ref, sig, sig, NULL,
					"v", tree, 0, NULL);
	CHECK(err == 0, "commit %s %d: %d", b, v, err);
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(coll);
	git_treebuilder_free(root);
	free(buf);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

struct cmp {
	git_odb *plain;
	size_t objects, whole, bad;
};

/* Object ID read both ways. */
static int compare_one(const git_oid *id, void *ctx)
{
	struct cmp *c = ctx;
	git_odb_object *a = NULL, *b = NULL;
	int ea = git_odb_read(&a, st->odb, id);
	int eb = git_odb_read(&b, c->plain, id);

	c->objects++;
	if (ea != 0 || eb != 0 ||
	    git_odb_object_type(a) != git_odb_object_type(b) ||
	    git_odb_object_size(a) != git_odb_object_size(b) ||
	    memcmp(git_odb_object_data(a), git_odb_object_data(b),
		   git_odb_object_size(a))) {
		c->bad++;
		CHECK(0, "object %s differs (%d %d)", git_oid_tostr_s(id), ea,
		      eb);
	} else if (git_odb_object_size(a) <= (16u << 20)) {
		c->whole++;
	}
	git_odb_object_free(a);
	git_odb_object_free(b);
	return 0;
}

/* Every object, both ways; the number of them the reader could serve
 * (all but the huge one) in *whole. */
static size_t compare_all(size_t *whole)
{
	char path[512];
	struct cmp c = { 0 };
	int err;

	snprintf(path, sizeof(path), "%s/objects", dir);
	err = git_odb_open(&c.plain, path);
	CHECK(err == 0, "plain odb: %d", err);
	if (err == 0)
		err = git_odb_foreach(c.plain, compare_one, &c);
	CHECK(err == 0, "foreach: %d", err);
	git_odb_free(c.plain);
	*whole = c.whole;
	CHECK(c.bad == 0, "%zu of %zu objects differ", c.bad, c.objects);
	return c.objects;
}

/* Readers on several threads at once, one asking for rescans. */
struct ids {
	git_oid *v;
	size_t n;
	size_t bad;
	pthread_mutex_t lock;
};

static int collect(const git_oid *id, void *ctx)
{
	struct ids *ids = ctx;
	git_oid *nv = realloc(ids->v, (ids->n + 1) * sizeof(*nv));

	if (!nv)
		return -1;
	ids->v = nv;
	ids->v[ids->n++] = *id;
	return 0;
}

static void *reader(void *arg)
{
	struct ids *ids = arg;
	size_t bad = 0;

	for (size_t i = 0; i < ids->n; i++) {
		git_odb_object *o = NULL;

		/* Blobs are not cached by libgit2: each read is ours. */
		if (git_odb_read(&o, st->odb, &ids->v[i]) != 0 ||
		    git_odb_object_size(o) > (64u << 20))
			bad++;
		git_odb_object_free(o);
	}
	pthread_mutex_lock(&ids->lock);
	ids->bad += bad;
	pthread_mutex_unlock(&ids->lock);
	return NULL;
}

static void *refresher(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++)
		git_odb_refresh(st->odb);
	return NULL;
}

static void threads(void)
{
	struct ids ids = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t t[5];
	git_odb *plain = NULL;
	char path[512];
	uint64_t before = store_packread_served(st);

	snprintf(path, sizeof(path), "%s/objects", dir);
	CHECK(git_odb_open(&plain, path) == 0 &&
		      git_odb_foreach(plain, collect, &ids) == 0,
	      "list objects");
	git_odb_free(plain);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, reader, &ids);
	pthread_create(&t[4], NULL, refresher, NULL);
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	CHECK(ids.bad == 0 && store_packread_served(st) > before,
	      "threads: %zu bad reads", ids.bad);
	free(ids.v);
}

/* The entries of the packs that are deltas (DELTAS) or not. */
static int count_entries(bool deltas)
{
	char cmd[512];
	FILE *f;
	int n = 0, ch;

	snprintf(cmd, sizeof(cmd),
		 "for p in %s/objects/pack/*.idx; do git verify-pack -v $p; "
		 "done | awk '$2 ~ /^(commit|tree|blob|tag)$/ && NF %s 7' | "
		 "wc -l",
		 dir, deltas ? ">=" : "<");
	if (!(f = popen(cmd, "r")))
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	while ((ch = fgetc(f)) != EOF)
		;
	pclose(f);
	return n;
}

int main(void)
{
	struct store_opts opts = { 0 };
	size_t n, whole;
	uint64_t served;
	int deltas;

	if (testrepo_open(&st, dir, &opts) < 0)
		return 1;
	for (int v = 0; v < 3; v++)
		commit_version("a", 3000, v);
	store_close(st);
	/* Whole objects only (no delta window). */
	CHECK(run("git --git-dir=%s repack -q -a -d -f --window=0", dir) == 0,
	      "repack");
	CHECK(count_entries(true) == 0, "no deltas in the first pack");
	CHECK(store_open(&st, dir, &opts) == 0, "open: %s", store_errmsg());
	n = compare_all(&whole);
	served = store_packread_served(st);
	/* libgit2 answers the empty blob itself. */
	CHECK(n > 3500 && served == whole - 1,
	      "whole pack: %zu objects, %zu readable, %llu served", n, whole,
	      (unsigned long long)served);

	/* More versions, then everything packed again with deltas, the old
	 * pack deleted under the open store: what it had read is cached by
	 * libgit2 or found in the old pack (still open); the new objects
	 * are found once it looks at the directory again. */
	for (int v = 3; v < 6; v++)
		commit_version("b", 3000, v);
	CHECK(run("git --git-dir=%s repack -q -a -d -f --depth=20 "
		  "--window=50",
		  dir) == 0,
	      "repack with deltas");
	deltas = count_entries(true);
	/* The versions of the two trees (the small documents are left
	 * whole). */
	CHECK(deltas >= 8, "deltas in the second pack: %d", deltas);
	served = store_packread_served(st);
	n = compare_all(&whole);
	CHECK(store_packread_served(st) > served + 100,
	      "new pack: %llu served of %zu",
	      (unsigned long long)(store_packread_served(st) - served), n);
	store_close(st);

	/* Afresh: every entry is served here (deltas too) but the huge
	 * and the empty blob. */
	CHECK(store_open(&st, dir, &opts) == 0, "open: %s", store_errmsg());
	n = compare_all(&whole);
	served = store_packread_served(st);
	CHECK((int64_t)served == (int64_t)n - 2 &&
		      (int)n == count_entries(false) + deltas,
	      "deltas by offset: %llu served of %zu, %d deltas",
	      (unsigned long long)served, n, deltas);
	store_close(st);

	/* Deltas naming their base by id, chains up to 50. */
	CHECK(run("git --git-dir=%s -c repack.useDeltaBaseOffset=false "
		  "repack -q -a -d -f --depth=50 --window=250",
		  dir) == 0,
	      "repack with deltas by id");
	deltas = count_entries(true);
	CHECK(deltas >= 8, "deltas in the third pack: %d", deltas);
	CHECK(store_open(&st, dir, &opts) == 0, "open: %s", store_errmsg());
	n = compare_all(&whole);
	served = store_packread_served(st);
	CHECK((int64_t)served == (int64_t)n - 2,
	      "deltas by id: %llu served of %zu, %d deltas",
	      (unsigned long long)served, n, deltas);
	threads();
	testrepo_close(st, dir);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("packread: ok\n");
	return 0;
}
