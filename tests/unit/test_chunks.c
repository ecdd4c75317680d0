/* test_chunks.c - a commit's rows written in parts (CHRONOFS_INDEX_CHUNK
 * rows each) and a catch-up stopped between two parts of one big commit:
 * its rows are left unfinished, the commit not indexed. Whatever the next
 * catch-up finds (the same head, a sibling line, the branch moved back,
 * an unrelated history, the unfinished commit pruned from Git, no indexed
 * head at all), the index it leaves equals, key for key and byte for
 * byte, the one a fresh database builds from the head alone (time, path
 * and an ordered index). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catchup_int.h"
#include "history.h"
#include "order.h"
#include "store.h"

#include "check.h"
#include "idxrows.h"

#define CHUNK "64"
#define BIG 3000 /* documents the big commits add */
#define SMALL \
	1100 /* commits after them: past BATCH_COMMITS, for the
		    * progress call that stops the catch-up */
#define SIB \
	200 /* on the sibling line: a cut back of fewer than 256
		 * commits is not stopped on its way */
#define T0 1700000000

static char tmp[256], repo[300];
static struct idx_spec spec;

/* N commits on REF, one document changed in each. */
static void small_commits(FILE *f, const char *ref, int n, int mark, long when)
{
	for (int i = 0; i < n; i++) {
		char p[64];

		idxt_commit_head(f, ref, mark + i, when + i);
		snprintf(p, sizeof(p), "c/s%d.json", i % 20);
		idxt_doc(f, p, i);
	}
}

/* main: a root of 3 documents, then a commit adding BIG (and changing
 * one, deleting one), then SMALL commits. refs/sib: on the same root, a
 * commit adding BIG others (some paths shared), then SIB commits.
 * refs/bigroot: an unrelated root of BIG documents, then SMALL commits. */
static void make_history(void)
{
	char path[300], p[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/stream", tmp);
	if (!(f = fopen(path, "w")))
		exit(1);
	idxt_commit_head(f, "refs/heads/main", 1, T0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "c/a%d.json", i);
		idxt_doc(f, p, i);
	}
	idxt_commit_head(f, "refs/heads/main", 2, T0 + 10);
	for (int i = 0; i < BIG; i++) {
		snprintf(p, sizeof(p), i % 3 ? "c/b%d.json" : "e/b%d.json", i);
		idxt_doc(f, p, i);
	}
	idxt_doc(f, "c/a0.json", 100);
	fprintf(f, "D c/a1.json\n");
	small_commits(f, "refs/heads/main", SMALL, 10, T0 + 100);
	idxt_commit_head(f, "refs/sib", 20000, T0 + 20);
	fprintf(f, "from :1\n");
	for (int i = BIG / 2; i < BIG + BIG / 2; i++) {
		snprintf(p, sizeof(p), "c/b%d.json", i);
		idxt_doc(f, p, i + 1);
	}
	small_commits(f, "refs/sib", SIB, 20010, T0 + 50000);
	idxt_commit_head(f, "refs/bigroot", 40000, T0 + 5);
	for (int i = 0; i < BIG; i++) {
		snprintf(p, sizeof(p), "c/r%d.json", i);
		idxt_doc(f, p, i);
	}
	small_commits(f, "refs/bigroot", SMALL, 40010, T0 + 90000);
	fprintf(f, "done\n");
	fclose(f);
	idxt_sh("git --git-dir='%s' fast-import --quiet --force --done < '%s'",
		repo, path);
}

/* Every row of the two databases equal (idxrows.c)? */
static bool same_rows(struct idx_db *a, struct idx_db *b, const char *what)
{
	char msg[200];
	bool same = idxrows_same(a, b, msg, sizeof(msg));

	CHECK(same, "%s: %s", what, msg);
	return same;
}

static struct idx_db *open_db(void)
{
	static int n;
	char dir[400];
	struct idx_db *db;

	snprintf(dir, sizeof(dir), "%s/index%d", tmp, n++);
	if (idx_db_open(&db, dir, false) < 0) {
		fprintf(stderr, "open %s: %s\n", dir, store_errmsg());
		exit(1);
	}
	return db;
}

static void move(const char *target)
{
	char hex[STORE_OID_HEXSZ + 1];

	idxt_rev(repo, hex, target);
	idxt_sh("git --git-dir='%s' update-ref refs/heads/main %s", repo, hex);
}

/* The progress hook's first call (the chain walked): stop. */
static void stop_now(void *ctx, const char *branch, uint64_t done,
		     uint64_t total)
{
	(void)branch;
	(void)done;
	(void)total;
	idx_db_cancel(ctx);
}

/* Catch main up to TARGET, stopped in the big commit at SEQ: its rows
 * partly written, its 'W' record names it, the indexed head is below. */
static void stop_in(struct store *st, struct idx_db *db, const char *target,
		    const char *big, uint64_t seq, const char *what)
{
	char hex[STORE_OID_HEXSZ + 1], whex[STORE_OID_HEXSZ + 1];
	struct store_oid w, h;
	uint64_t wseq = 99, hseq;
	int err;

	move(target);
	idx_db_set_progress(db, stop_now, db);
	err = idx_history_catchup(db, st, "main", NULL);
	idx_db_set_progress(db, NULL, NULL);
	atomic_store(&db->cancel, false);
	store_error_clear();
	CHECK(err == -ECANCELED, "%s: catch-up not stopped: %d", what, err);
	idxt_rev(repo, hex, big);
	err = idx_wip_read(db, "main", &w, &wseq);
	if (err == 0)
		store_oid_fmt(whex, &w);
	CHECK(err == 0 && wseq == seq && !strcmp(whex, hex),
	      "%s: no unfinished record of %s at %llu (%d, %llu)", what, big,
	      (unsigned long long)seq, err, (unsigned long long)wseq);
	err = idx_head_read(db, "main", &h, &hseq);
	CHECK(seq == 0 ? err == -ENOENT : err == 0 && hseq == seq - 1,
	      "%s: indexed head %d at %llu", what, err,
	      (unsigned long long)hseq);
	store_error_clear();
}

/* Catch main up to TARGET: WANT commits added, and what a fresh database
 * builds from the head alone (with the ordered index if ORDERED). */
static void catch_up_and_check(struct store *st, struct idx_db *db,
			       const char *target, uint64_t want, bool ordered,
			       const char *what)
{
	struct idx_db *fresh;
	struct store_oid w;
	uint64_t added = 99999, wseq;
	bool built;
	int err;

	move(target);
	err = idx_history_catchup(db, st, "main", &added);
	CHECK(err == 0, "%s: catch-up: %s", what, store_errmsg());
	CHECK(added == want, "%s: %llu commits indexed, want %llu", what,
	      (unsigned long long)added, (unsigned long long)want);
	CHECK(idx_wip_read(db, "main", &w, &wseq) == -ENOENT,
	      "%s: an unfinished record is left", what);
	fresh = open_db();
	built = true;
	err = ordered ?
		      idx_order_ensure(fresh, st, "main", "c", &spec, &built) :
		      idx_history_catchup(fresh, st, "main", NULL);
	CHECK(err == 0 && built, "%s: rebuild: %s", what, store_errmsg());
	if (same_rows(db, fresh, what))
		printf("%s: %llu commits indexed, the index equals a "
		       "rebuild\n",
		       what, (unsigned long long)added);
	idx_db_close(fresh);
}

int main(void)
{
	struct store_opts so = { .fsync = false };
	struct idx_db *db;
	struct store *st;
	char root[STORE_OID_HEXSZ + 1];
	uint64_t added;
	bool built;

	/* Before the first catch-up: the size is read once. */
	setenv("CHRONOFS_INDEX_CHUNK", CHUNK, 1);
	snprintf(tmp, sizeof(tmp), "/tmp/chronofs-chunks-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	snprintf(repo, sizeof(repo), "%s/repo.git", tmp);
	if (store_init(repo) < 0)
		return 1;
	make_history();
	if (store_open(&st, repo, &so) < 0 ||
	    idx_spec_parse(&spec, "v,-n") < 0) {
		fprintf(stderr, "open: %s\n", store_errmsg());
		return 1;
	}
	idxt_rev(repo, root, "refs/heads/main~1101");
	idxt_sh("git --git-dir='%s' tag big refs/heads/main~1100", repo);
	idxt_sh("git --git-dir='%s' tag tip refs/heads/main", repo);

	/* The root indexed, an ordered index of c built on it. */
	db = open_db();
	move(root);
	CHECK(idx_history_catchup(db, st, "main", &added) == 0 && added == 1,
	      "root: %s", store_errmsg());
	CHECK(idx_order_ensure(db, st, "main", "c", &spec, &built) == 0 &&
		      built,
	      "ordered index: %s", store_errmsg());

	stop_in(st, db, "tip", "big", 1, "stopped in the big commit");
	catch_up_and_check(st, db, "tip", SMALL + 1, true,
			   "the same head again");

	move(root);
	CHECK(idx_history_catchup(db, st, "main", &added) == 0,
	      "back to the root: %s", store_errmsg());
	stop_in(st, db, "tip", "big", 1, "stopped again");
	catch_up_and_check(st, db, "refs/sib", SIB + 1, true,
			   "a sibling line instead");

	/* Cut back to the root first, then stopped in the big commit. */
	stop_in(st, db, "tip", "big", 1, "from the sibling, stopped");
	catch_up_and_check(st, db, root, 0, true, "moved back to the root");

	stop_in(st, db, "tip", "big", 1, "from the root, stopped");
	catch_up_and_check(st, db, "refs/bigroot", SMALL + 1, true,
			   "an unrelated history");
	idx_db_close(db);

	/* No indexed head at all: the big root commit unfinished. */
	db = open_db();
	stop_in(st, db, "refs/bigroot", "refs/bigroot~1100", 0,
		"stopped in a root commit");
	catch_up_and_check(st, db, "refs/bigroot", SMALL + 1, false,
			   "the same root again");
	idx_db_close(db);
	db = open_db();
	stop_in(st, db, "refs/bigroot", "refs/bigroot~1100", 0,
		"stopped in a root commit again");
	catch_up_and_check(st, db, "tip", SMALL + 2, false,
			   "another history, no head indexed");

	/* The unfinished commit pruned from Git: indexed from the root. */
	move(root);
	CHECK(idx_history_catchup(db, st, "main", &added) == 0,
	      "back to the root: %s", store_errmsg());
	stop_in(st, db, "tip", "big", 1, "stopped before a prune");
	idxt_sh("git --git-dir='%s' tag -d big tip >/dev/null", repo);
	idxt_sh("git --git-dir='%s' update-ref refs/heads/main refs/sib", repo);
	idxt_sh("git --git-dir='%s' -c gc.reflogExpire=now "
		"-c gc.reflogExpireUnreachable=now gc --quiet --prune=now",
		repo);
	store_close(st);
	if (store_open(&st, repo, &so) < 0)
		return 1;
	catch_up_and_check(st, db, "refs/sib", SIB + 2, false,
			   "the unfinished commit pruned");

	idx_spec_release(&spec);
	idx_db_close(db);
	store_close(st);
	idxt_sh("rm -rf '%s'", tmp);
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
