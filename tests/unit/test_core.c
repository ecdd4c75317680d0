/* test_core.c - libchronofs's own rules, through its API: the path rule
 * (a reference implementation of the SPEC's rule against the library's
 * verdict on thousands of hostile paths, then git fsck --strict), the
 * error record, time resolution, and the ref compare-and-swap against a
 * racing writer and a stale lock, and the first commit of an unborn
 * branch. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "chronofs.h"
#include "chronofs_int.h"

#include "check.h"

static char tmpdir[256];

static void make_repo(char *out, size_t sz, const char *name)
{
	snprintf(out, sz, "%s/%s.git", tmpdir, name);
	if (chronofs_init(out) < 0) {
		fprintf(stderr, "init %s: %s\n", out, chronofs_errmsg(NULL));
		exit(1);
	}
}

/* The SPEC's rule, written again here from its text: relative, no empty
 * component, none beginning with '.' or '@', none over 255 bytes, the
 * last ending in ".json" with a name before it. */
static int reference_rule(const char *path)
{
	const char *p = path;
	size_t len;

	if (!*p || *p == '/')
		return -EINVAL;
	for (;;) {
		len = strcspn(p, "/");
		if (len == 0 || p[0] == '.' || p[0] == '@')
			return -EINVAL;
		if (len > 255)
			return -ENAMETOOLONG;
		if (!p[len])
			break;
		p += len + 1;
	}
	if (len <= 5 || strncmp(p + len - 5, ".json", 5))
		return -EINVAL;
	return 0;
}

static const char *const parts[] = {
	"",
	".",
	"..",
	".git",
	".hidden.json",
	"@by",
	"@x.json",
	"a",
	"b.json",
	"users",
	"x y.json",
	"\xc3\xbc.json",
	"a\\b.json",
	"con.json",
	" .json",
	"x@y.json",
	".json",
	"json",
	"a.JSON",
	"2026",
	"5c",
	"-",
	"~x.json",
	"a..b.json",
	"HEAD",
	"refs",
	"\t.json",
	"..json",
};

static void random_path(char *out, size_t sz, unsigned *seed)
{
	size_t n = 1 + (size_t)(rand_r(seed) % 4), used = 0;

	out[0] = '\0';
	if (rand_r(seed) % 20 == 0)
		used += (size_t)snprintf(out, sz, "/");
	for (size_t i = 0; i < n && used < sz - 300; i++) {
		const char *part =
			parts[rand_r(seed) % (sizeof(parts) / sizeof(parts[0]))];

		if (rand_r(seed) % 200 == 0) {
			memset(out + used, 'l', 260);
			used += 260;
			out[used] = '\0';
			part = ".json";
		}
		used += (size_t)snprintf(out + used, sz - used, "%s%s",
					 i ? "/" : "", part);
	}
	if (rand_r(seed) % 20 == 0)
		snprintf(out + used, sz - used, "/");
}

static void test_path_rule(void)
{
	char repo[512], path[2048], cmd[1024], body[64];
	char c[CHRONOFS_COMMIT_HEXSZ + 1];
	unsigned seed = 20261205;
	int agree = 0, committed = 0;
	chronofs *db;

	struct cfs_opts o = { .fsync = false };
	bool ro;

	make_repo(repo, sizeof(repo), "paths");
	/* The daemon's kind of handle (index held, no fsync): the same
	 * public calls, fast enough for thousands of commits. */
	if (cfs_open(&db, repo, &o) < 0 || cfs_index_attach(db, 0, &ro) < 0) {
		fprintf(stderr, "open: %s\n", chronofs_errmsg(NULL));
		exit(1);
	}
	for (int i = 0; i < 10000; i++) {
		int want, got;

		random_path(path, sizeof(path), &seed);
		want = reference_rule(path);
		snprintf(body, sizeof(body), "{\"i\":%d}", i);
		got = chronofs_put(db, "main", path, body, strlen(body), c);
		if (got == 0 && c[0])
			committed++;
		/* A valid path may still clash with what earlier puts
		 * made (a document where a collection is, or the reverse). */
		if (want == 0 && (got == -EISDIR || got == -ENOTDIR))
			got = 0;
		CHECK(got == want, "put '%s': %d, the rule says %d (%s)", path,
		      got, want, chronofs_errmsg(db));
		if (got < 0)
			CHECK(strstr(chronofs_errmsg(db), path) || !*path,
			      "message of '%s' does not name it: %s", path,
			      chronofs_errmsg(db));
		agree += got == want;
	}
	printf("path rule: %d of 10000 agree, %d commits\n", agree, committed);
	CHECK(committed > 100, "only %d valid paths were drawn", committed);
	chronofs_close(db);
	snprintf(cmd, sizeof(cmd),
		 "git --git-dir='%s' fsck --strict --no-progress --no-dangling",
		 repo);
	CHECK(system(cmd) == 0, "git fsck --strict failed on %s", repo);
}

/* Refused puts commit nothing: the head stays where it was. */
static void test_refused_commits_nothing(void)
{
	static const char *const bad[] = {
		"../z.json",
		"users/../z.json",
		"users/@by/x.json",
		"notes.txt",
		"users/.hidden.json",
		"/abs.json",
		"a//b.json",
		"",
		"./a.json",
		"users/",
		"@x.json",
	};
	char repo[512], before[41], after[41];
	chronofs *db;

	make_repo(repo, sizeof(repo), "refused");
	chronofs_open(&db, repo, NULL);
	CHECK(chronofs_resolve(db, "main", "2100-01-01", before, NULL) == 0,
	      "resolve: %s", chronofs_errmsg(db));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = chronofs_put(db, "main", bad[i], "{}", 2, NULL);

		CHECK(err == -EINVAL, "put '%s' gave %d, not -EINVAL", bad[i],
		      err);
		err = chronofs_rename(db, "main", "x.json", bad[i], NULL);
		CHECK(err == -EINVAL, "rename to '%s' gave %d", bad[i], err);
	}
	CHECK(chronofs_resolve(db, "main", "2100-01-01", after, NULL) == 0,
	      "resolve: %s", chronofs_errmsg(db));
	CHECK(!strcmp(before, after), "a refused put moved main");
	chronofs_close(db);
}

static void test_error_record(void)
{
	char repo[512], *out = NULL;
	size_t len;
	chronofs *db;
	int err;

	make_repo(repo, sizeof(repo), "errors");
	chronofs_open(&db, repo, NULL);
	err = chronofs_get(db, "main", "first-missing.json", &out, &len);
	CHECK(err == -ENOENT, "get of a missing document: %d", err);
	CHECK(strstr(chronofs_errmsg(db), "first-missing.json"), "message: %s",
	      chronofs_errmsg(db));
	err = chronofs_get(db, "nosuchbranch", "second.json", &out, &len);
	CHECK(err == -ENOENT, "get on a missing branch: %d", err);
	CHECK(strstr(chronofs_errmsg(db), "nosuchbranch"), "message: %s",
	      chronofs_errmsg(db));
	CHECK(!strstr(chronofs_errmsg(db), "first-missing"),
	      "the second failure reports the first's message: %s",
	      chronofs_errmsg(db));
	err = chronofs_put(db, "main", "bad.json", "{\"a\":", 5, NULL);
	CHECK(err == -EINVAL, "invalid JSON: %d", err);
	CHECK(strstr(chronofs_errmsg(db), "bad.json") &&
		      strstr(chronofs_errmsg(db), "line 1"),
	      "invalid JSON message: %s", chronofs_errmsg(db));
	CHECK(!strstr(chronofs_errmsg(db), "nosuchbranch"), "stale message: %s",
	      chronofs_errmsg(db));
	/* Its path once, not repeated by each layer. */
	{
		const char *m = chronofs_errmsg(db), *p = strstr(m, "bad.json");

		CHECK(p && !strstr(p + 1, "bad.json"), "path twice: %s", m);
	}
	err = chronofs_put(db, "main", "good.json", "{}", 2, NULL);
	CHECK(err == 0, "put: %s", chronofs_errmsg(db));
	CHECK(!*chronofs_errmsg(db), "a successful call leaves '%s'",
	      chronofs_errmsg(db));
	err = chronofs_get(db, "main", "good.json", &out, &len);
	CHECK(err == 0 && len == 2, "get: %d", err);
	CHECK(!*chronofs_errmsg(db), "a successful get leaves '%s'",
	      chronofs_errmsg(db));
	chronofs_free(out);
	/* A failed rename and a put to a missing branch say why, by name,
	 * and give no commit. */
	{
		char commit[CHRONOFS_COMMIT_HEXSZ + 1] = "x";

		err = chronofs_rename(db, "main", "gone.json", "b.json",
				      commit);
		CHECK(err == -ENOENT && !commit[0],
		      "rename of a missing "
		      "document: %d",
		      err);
		CHECK(strstr(chronofs_errmsg(db), "gone.json"),
		      "rename message: '%s'", chronofs_errmsg(db));
		err = chronofs_put(db, "nobranch", "c.json", "{}", 2, commit);
		CHECK(err == -ENOENT && !commit[0],
		      "put to a missing branch: %d '%s'", err, commit);
		CHECK(strstr(chronofs_errmsg(db), "nobranch"),
		      "put message: '%s'", chronofs_errmsg(db));
	}
	chronofs_close(db);
}

static void test_time_resolution(void)
{
	char repo[512], c1[41], c2[41], at[41], when[64];
	int64_t t1, t2;
	chronofs *db;
	int err;

	make_repo(repo, sizeof(repo), "times");
	chronofs_open(&db, repo, NULL);
	CHECK(chronofs_put(db, "main", "a.json", "1", 1, c1) == 0, "put 1");
	sleep(1);
	CHECK(chronofs_put(db, "main", "a.json", "2", 1, c2) == 0, "put 2");
	chronofs_commit(db, c1, &t1, NULL);
	chronofs_commit(db, c2, &t2, NULL);
	err = chronofs_resolve(db, "main", "1999-01-01", at, NULL);
	CHECK(err == -ENOENT, "before the first commit: %d", err);
	err = chronofs_resolve(db, "main", "yesterday", at, NULL);
	CHECK(err == -EINVAL || err == -ENOENT, "not a time: %d", err);
	err = chronofs_resolve(db, "main", "2100-01-01T00:00:00Z", at, NULL);
	CHECK(err == 0 && !strcmp(at, c2), "far future: %d %s", err, at);
	{
		time_t tt = (time_t)t1;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if (t1 != t2) {
		err = chronofs_resolve(db, "main", when, at, NULL);
		CHECK(err == 0 && !strcmp(at, c1), "at %s: %d %s, want %s",
		      when, err, at, c1);
	}
	snprintf(when, sizeof(when), "%.9s", c1);
	err = chronofs_resolve(db, "main", when, at, NULL);
	CHECK(err == 0 && !strcmp(at, c1), "by id %s: %d", when, err);
	err = chronofs_resolve(db, "main", "0000000", at, NULL);
	CHECK(err == -ENOENT, "no such id: %d", err);
	chronofs_close(db);
}

struct writer {
	const char *repo;
	int id, n, failed;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	char path[64];
	chronofs *db;

	if (chronofs_open(&db, w->repo, NULL) < 0) {
		w->failed = w->n;
		return NULL;
	}
	for (int i = 0; i < w->n; i++) {
		snprintf(path, sizeof(path), "w%d/%d.json", w->id, i);
		if (chronofs_put(db, "main", path, "{}", 2, NULL) < 0)
			w->failed++;
	}
	chronofs_close(db);
	return NULL;
}

static void *release_lock(void *arg)
{
	usleep(300000);
	unlink(arg);
	return NULL;
}

/* Two handles racing on one branch lose nothing; a lock held by another
 * writer is waited for; a lock left by a dead one is cleared. */
static void test_ref_cas(void)
{
	struct writer w[2];
	pthread_t t[2], rel;
	char repo[512], lock[600], **names = NULL;
	size_t n = 0;
	struct timeval old[2] = { { time(NULL) - 60, 0 },
				  { time(NULL) - 60, 0 } };
	chronofs *db;
	int fd, err;

	make_repo(repo, sizeof(repo), "race");
	for (int i = 0; i < 2; i++) {
		w[i] = (struct writer){ .repo = repo, .id = i, .n = 150 };
		pthread_create(&t[i], NULL, write_loop, &w[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	chronofs_open(&db, repo, NULL);
	for (int i = 0; i < 2; i++) {
		char dir[16];

		CHECK(w[i].failed == 0, "writer %d: %d puts failed", i,
		      w[i].failed);
		snprintf(dir, sizeof(dir), "w%d", i);
		CHECK(chronofs_list(db, "main", dir, &names, &n) == 0 &&
			      n == 150,
		      "writer %d: %zu of 150 documents", i, n);
		chronofs_strings_free(names, n);
	}
	/* A held lock: the put waits until it is gone. */
	snprintf(lock, sizeof(lock), "%s/refs/heads/main.lock", repo);
	fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(fd >= 0, "make %s", lock);
	close(fd);
	pthread_create(&rel, NULL, release_lock, lock);
	err = chronofs_put(db, "main", "after-held.json", "{}", 2, NULL);
	pthread_join(rel, NULL);
	CHECK(err == 0, "put behind a held lock: %s", chronofs_errmsg(db));
	/* A stale lock (a dead writer's, a minute old) is removed. */
	fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644);
	close(fd);
	utimes(lock, old);
	err = chronofs_put(db, "main", "after-stale.json", "{}", 2, NULL);
	CHECK(err == 0, "put behind a stale lock: %s", chronofs_errmsg(db));
	CHECK(access(lock, F_OK) < 0, "the stale lock is still there");
	chronofs_close(db);
}

struct racer {
	chronofs_tx *tx;
	int busy, ok;
};

static void *tx_racer(void *arg)
{
	struct racer *r = arg;
	char path[64];

	for (int i = 0; i < 2000; i++) {
		int err;

		snprintf(path, sizeof(path), "race/%d.json", i);
		err = chronofs_tx_put(r->tx, path, "{}", 2);
		if (err == -EBUSY)
			r->busy++;
		else if (err == 0)
			r->ok++;
	}
	return NULL;
}

/* Misuse of a transaction gets a clear error and loses nothing. */
static void test_tx_misuse(void)
{
	char repo[512], c[CHRONOFS_COMMIT_HEXSZ + 1];
	struct racer r[2];
	pthread_t t[2];
	chronofs_tx *tx;
	chronofs *db;
	int err;

	make_repo(repo, sizeof(repo), "txmisuse");
	chronofs_open(&db, repo, NULL);
	/* Used from two threads at once: each call is whole or refused. */
	CHECK(chronofs_tx_begin(&tx, db, "main") == 0, "begin");
	for (int i = 0; i < 2; i++) {
		r[i] = (struct racer){ .tx = tx };
		pthread_create(&t[i], NULL, tx_racer, &r[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(r[0].ok + r[1].ok + r[0].busy + r[1].busy == 4000,
	      "every call either done or refused with EBUSY");
	CHECK(chronofs_tx_commit(tx, "race", c) == 0 && c[0], "commit: %s",
	      chronofs_errmsg(db));
	chronofs_tx_free(tx);
	/* A commit after abort, and after commit. */
	CHECK(chronofs_tx_begin(&tx, db, "main") == 0, "begin");
	chronofs_tx_put(tx, "a.json", "{}", 2);
	chronofs_tx_abort(tx);
	err = chronofs_tx_commit(tx, NULL, c);
	CHECK(err == -EINVAL && strstr(chronofs_errmsg(db), "aborted"),
	      "commit after abort: %d %s", err, chronofs_errmsg(db));
	chronofs_tx_free(tx);
	/* The branch deleted under the transaction. */
	CHECK(chronofs_branch_create(db, "gone") == 0, "branch");
	CHECK(chronofs_tx_begin(&tx, db, "gone") == 0, "begin");
	chronofs_tx_put(tx, "a.json", "{}", 2);
	CHECK(chronofs_branch_delete(db, "gone") == 0, "delete");
	err = chronofs_tx_commit(tx, NULL, c);
	CHECK(err == -ENOENT && strstr(chronofs_errmsg(db), "gone"),
	      "commit on a deleted branch: %d %s", err, chronofs_errmsg(db));
	err = chronofs_tx_put(tx, "b.json", "{}", 2);
	CHECK(err == 0, "a failed commit leaves the transaction open: %d", err);
	chronofs_tx_free(tx);
	CHECK(chronofs_tx_begin(&tx, db, "nosuch") == -ENOENT,
	      "begin on no branch");
	chronofs_close(db);
}

/* An empty `git init --bare`: HEAD's branch is unborn; the first put makes
 * its root commit (no parent) and the ref, and the second builds on it. A
 * branch that is neither there nor HEAD's stays unknown. */
static void test_unborn_branch(void)
{
	char repo[512], cmd[1200], out[256] = "";
	char *branch = NULL;
	bool unborn = false, checked_out = true;
	chronofs *db;
	FILE *p;
	int err;

	snprintf(repo, sizeof(repo), "%s/empty.git", tmpdir);
	snprintf(cmd, sizeof(cmd), "git init -q --bare -b master '%s'", repo);
	if (system(cmd) != 0) {
		CHECK(0, "git init --bare failed");
		return;
	}
	err = chronofs_open(&db, repo, NULL);
	CHECK(err == 0, "open %s: %s", repo, chronofs_errmsg(NULL));
	if (err < 0)
		return;
	err = cfs_head_branch(db, &branch, &unborn, &checked_out);
	CHECK(err == 0 && branch && !strcmp(branch, "master") && unborn &&
		      !checked_out,
	      "HEAD branch: %d %s unborn=%d checked_out=%d", err,
	      branch ? branch : "(null)", unborn, checked_out);
	free(branch);
	err = chronofs_put(db, "master", "a.json", "{}", 2, NULL);
	CHECK(err == 0, "first put: %s", chronofs_errmsg(db));
	err = chronofs_put(db, "master", "b.json", "[]", 2, NULL);
	CHECK(err == 0, "second put: %s", chronofs_errmsg(db));
	err = chronofs_put(db, "other", "a.json", "{}", 2, NULL);
	CHECK(err == -ENOENT, "put on a branch that is not there: %d", err);
	chronofs_close(db);
	snprintf(cmd, sizeof(cmd),
		 "git --git-dir='%s' rev-list --parents master | "
		 "awk '{print NF}' | tr '\\n' ' '",
		 repo);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(out, sizeof(out), p))
			out[0] = '\0';
		pclose(p);
	}
	/* Newest first: the second commit has one parent, the root none. */
	CHECK(!strcmp(out, "2 1 "), "commits' parent counts: '%s'", out);
	snprintf(cmd, sizeof(cmd),
		 "git --git-dir='%s' fsck --strict --no-progress", repo);
	CHECK(system(cmd) == 0, "git fsck --strict");
}

static int count_def(void *ctx, const char *branch, const char *collection,
		     const char *spec, uint64_t rows)
{
	int *seen = ctx;

	if (!strcmp(collection, "users") && !strcmp(spec, "age") && rows == 3)
		seen[!strcmp(branch, "renamed") ? 1 : 0]++;
	return 0;
}

/* A renamed branch's persistent indexes follow it (chronofs.h). */
static void test_branch_rename_indexes(void)
{
	char repo[512], path[32];
	chronofs *db;
	int seen[2] = { 0, 0 }, err;

	make_repo(repo, sizeof(repo), "rename-indexes");
	chronofs_open(&db, repo, NULL);
	CHECK(chronofs_branch_create(db, "old") == 0, "branch: %s",
	      chronofs_errmsg(db));
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "users/u%d.json", i);
		chronofs_put(db, "old", path, "{\"age\": 1}", 10, NULL);
	}
	err = chronofs_index_create(db, "old", "users", "age");
	CHECK(err == 0, "index create: %s", chronofs_errmsg(db));
	err = chronofs_branch_rename(db, "old", "renamed");
	CHECK(err == 0, "rename: %s", chronofs_errmsg(db));
	chronofs_index_list(db, count_def, seen);
	CHECK(seen[0] == 0 && seen[1] == 1,
	      "indexes after a rename: %d under the old name, %d under the "
	      "new",
	      seen[0], seen[1]);
	chronofs_close(db);
}

struct turn_arg {
	chronofs *db;
	int k, errors;
	char msg[256];
};

static int nothing(void *ctx, const char *branch, const char *collection,
		   const char *spec, uint64_t rows)
{
	return 0;
}

static void *index_user(void *p)
{
	struct turn_arg *a = p;
	char path[32];

	snprintf(path, sizeof(path), "users/t%d.json", a->k);
	for (int i = 0; i < 25; i++) {
		if (chronofs_index_list(a->db, nothing, NULL) < 0 ||
		    chronofs_put(a->db, "main", path, "{\"age\": 2}", 10,
				 NULL) < 0) {
			if (!a->errors++)
				snprintf(a->msg, sizeof(a->msg), "%s",
					 chronofs_errmsg(a->db));
		}
	}
	return NULL;
}

/* Threads of one process, on one handle or two, use the index in turn
 * (RocksDB opens a database once per process). */
static void test_index_threads(void)
{
	char repo[512];
	chronofs *db[2];
	struct turn_arg a[4];
	pthread_t t[4];

	make_repo(repo, sizeof(repo), "index-threads");
	chronofs_open(&db[0], repo, NULL);
	chronofs_open(&db[1], repo, NULL);
	chronofs_put(db[0], "main", "users/a.json", "{\"age\": 1}", 10, NULL);
	CHECK(chronofs_index_create(db[0], "main", "users", "age") == 0,
	      "index create: %s", chronofs_errmsg(db[0]));
	for (int k = 0; k < 4; k++) {
		a[k] = (struct turn_arg){ .db = db[k % 2], .k = k };
		pthread_create(&t[k], NULL, index_user, &a[k]);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(t[k], NULL);
		CHECK(a[k].errors == 0, "thread %d: %d failures (%s)", k,
		      a[k].errors, a[k].msg);
	}
	chronofs_close(db[0]);
	chronofs_close(db[1]);
}

int main(void)
{
	char cmd[300];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/chronofs-core-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	test_refused_commits_nothing();
	test_error_record();
	test_time_resolution();
	test_ref_cas();
	test_tx_misuse();
	test_path_rule();
	test_unborn_branch();
	test_branch_rename_indexes();
	test_index_threads();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	printf("core: %d failures\n", failures);
	return failures ? 1 : 0;
}
