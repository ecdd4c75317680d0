/* test_rewind.c - a branch moved back, onto another line and forward again
 * from outside (git update-ref): after each move the catch-up's indexes
 * (time, path, an ordered index) equal, key for key and byte for byte,
 * those a fresh database builds from the new head alone; and the
 * catch-up did what it should to get there (cut back to the commit the
 * lines share, or indexed again from the root where that costs less or
 * the commits cut away are gone from Git). Dates out of order (the root
 * newer than its children, a commit older than the fork it follows) are
 * part of the history. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_int.h"
#include "history.h"
#include "order.h"
#include "store.h"

#include "check.h"
#include "idxrows.h"

#define MAIN 300 /* commits on main */
#define FORK 200 /* the side line forks after main's commit FORK */
#define SIDE 30
#define T0 1700000000

static char tmp[256], repo[300];

/* main: MAIN commits on an empty root (dated now, so newer than all);
 * commit 150 dated before commit 100. refs/side: SIDE commits after
 * main's commit FORK, one dated before main's commit 50, one deleting a
 * document. refs/other: an unrelated history of 5 commits. */
static void make_history(void)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/stream", tmp);
	f = fopen(path, "w");
	if (!f)
		exit(1);
	for (int i = 1; i <= MAIN; i++) {
		char p[64];

		idxt_commit_head(f, "refs/heads/main", i,
				 i == 150 ? T0 + 10 * 100 - 5 : T0 + 10L * i);
		if (i == 1)
			fprintf(f, "from refs/heads/main^0\n");
		snprintf(p, sizeof(p), "c/d%d.json", i % 20);
		idxt_doc(f, p, i);
		if (i % 3 == 0) {
			snprintf(p, sizeof(p), "e/x%d.json", i % 4);
			idxt_doc(f, p, i + 1);
		}
		if (i % 37 == 0)
			fprintf(f, "D c/d%d.json\n", (i + 5) % 20);
	}
	for (int k = 0; k < SIDE; k++) {
		char p[64];

		idxt_commit_head(f, "refs/side", 1000 + k,
				 k == 10 ? T0 + 10 * 50 - 3 :
					   T0 + 10L * (MAIN + k));
		if (k == 0)
			fprintf(f, "from :%d\n", FORK);
		snprintf(p, sizeof(p), "c/side%d.json", k % 4);
		idxt_doc(f, p, k);
		snprintf(p, sizeof(p), "c/d%d.json", k % 20);
		idxt_doc(f, p, k + 3);
		if (k == 20)
			fprintf(f, "D c/d7.json\n");
	}
	for (int k = 0; k < 5; k++) {
		char p[64];

		idxt_commit_head(f, "refs/other", 2000 + k, T0 + 5L * k);
		snprintf(p, sizeof(p), "c/o%d.json", k);
		idxt_doc(f, p, k);
	}
	fprintf(f, "done\n");
	fclose(f);
	idxt_sh("git --git-dir='%s' fast-import --quiet --done < '%s'", repo,
		path);
}

/* Every row of the two databases equal (idxrows.c)? */
static bool same_rows(struct idx_db *a, struct idx_db *b, const char *what)
{
	char msg[200];
	bool same = idxrows_same(a, b, msg, sizeof(msg));

	CHECK(same, "%s: %s", what, msg);
	return same;
}

/* The catch-up of DB after main moved to TARGET adds WANT commits and
 * leaves what a rebuild from nothing has. */
static void move_and_check(struct store *st, struct idx_db *db,
			   const struct idx_spec *spec, const char *target,
			   uint64_t want, const char *what)
{
	static int fresh_n;
	char hex[STORE_OID_HEXSZ + 1], dir[400];
	struct idx_db *fresh;
	uint64_t added = 99999;
	bool built;
	int err;

	idxt_rev(repo, hex, target);
	idxt_sh("git --git-dir='%s' update-ref refs/heads/main %s", repo, hex);
	err = idx_history_catchup(db, st, "main", &added);
	CHECK(err == 0, "%s: catch-up: %s", what, store_errmsg());
	CHECK(added == want, "%s: %llu commits indexed, want %llu", what,
	      (unsigned long long)added, (unsigned long long)want);
	snprintf(dir, sizeof(dir), "%s/fresh%d", tmp, fresh_n++);
	if (idx_db_open(&fresh, dir, false) < 0) {
		fprintf(stderr, "open %s: %s\n", dir, store_errmsg());
		exit(1);
	}
	err = idx_order_ensure(fresh, st, "main", "c", spec, &built);
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
	struct idx_spec spec;
	struct idx_db *db;
	struct store *st;
	char dir[400], tip[STORE_OID_HEXSZ + 1], fork[64], back[64];
	uint64_t added;
	bool built;

	snprintf(tmp, sizeof(tmp), "/tmp/chronofs-rewind-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	snprintf(repo, sizeof(repo), "%s/repo.git", tmp);
	if (store_init(repo) < 0)
		return 1;
	make_history();
	snprintf(dir, sizeof(dir), "%s/index", tmp);
	if (store_open(&st, repo, &so) < 0 ||
	    idx_db_open(&db, dir, false) < 0 ||
	    idx_spec_parse(&spec, "v,-n") < 0) {
		fprintf(stderr, "open: %s\n", store_errmsg());
		return 1;
	}
	/* The whole chain (the root and MAIN commits), an ordered index of
	 * collection c built at the tip. */
	CHECK(idx_history_catchup(db, st, "main", &added) == 0 &&
		      added == MAIN + 1,
	      "first catch-up: %s", store_errmsg());
	CHECK(idx_order_ensure(db, st, "main", "c", &spec, &built) == 0 &&
		      built,
	      "ordered index: %s", store_errmsg());
	idxt_rev(repo, tip, "refs/heads/main");
	snprintf(fork, sizeof(fork), "%s~%d", tip, MAIN - FORK);
	snprintf(back, sizeof(back), "%s~40", tip);
	move_and_check(st, db, &spec, back, 0, "back 40 commits");
	move_and_check(st, db, &spec, "refs/side", SIDE,
		       "onto a line forked 60 commits below");
	/* The side line's commit dated before main's commit 50 lowered the
	 * time keys of the 150 commits before the fork: raised again. */
	move_and_check(st, db, &spec, fork, 0, "back to the fork");
	move_and_check(st, db, &spec, "refs/side", SIDE, "forward again");
	move_and_check(st, db, &spec, "refs/side~25", 0, "back 25");
	/* Back to main's commit 5: cutting 200 commits costs more than
	 * indexing 6, so the branch is indexed again from its root. */
	move_and_check(st, db, &spec, "refs/side~225", 6, "back 200");
	move_and_check(st, db, &spec, "refs/side", 225, "forward 225");
	move_and_check(st, db, &spec, "refs/other", 5, "an unrelated history");
	move_and_check(st, db, &spec, "refs/side", 1 + FORK + SIDE,
		       "the first line again");
	/* The commits cut away are gone from Git: indexed from the root. A
	 * store opened anew, as libgit2 may still hold a removed pack. */
	idxt_sh("git --git-dir='%s' update-ref refs/side refs/side~20", repo);
	idxt_sh("git --git-dir='%s' update-ref -d refs/other", repo);
	idxt_sh("git --git-dir='%s' update-ref refs/heads/main refs/side",
		repo);
	idxt_sh("git --git-dir='%s' -c gc.reflogExpire=now "
		"-c gc.reflogExpireUnreachable=now gc --quiet --prune=now",
		repo);
	store_close(st);
	if (store_open(&st, repo, &so) < 0)
		return 1;
	move_and_check(st, db, &spec, "refs/side", 1 + FORK + SIDE - 20,
		       "back 20, pruned");
	idx_spec_release(&spec);
	idx_db_close(db);
	store_close(st);
	idxt_sh("rm -rf '%s'", tmp);
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
