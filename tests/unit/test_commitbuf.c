/* test_commitbuf.c - a save's commit object made by hand
 * (store/commitbuf.c) against libgit2's git_commit_create_buffer: the same
 * bytes for root commits and commits of one and two parents, zones east
 * and west of UTC (whole hours and not), messages with and without a
 * final newline or with several lines; and store_signature_now is the
 * store's author, now, in the local zone, as git_signature_now says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "store_int.h"
#include "testrepo.h"

static struct store *st;
static char dir[] = "/tmp/chronofs-commitbuf-XXXXXX";

static void same(const git_oid *tree, const git_oid *parents, size_t n,
		 const git_signature *sig, const char *msg)
{
	const git_commit *pv[2] = { NULL, NULL };
	git_commit *owned[2] = { NULL, NULL };
	git_tree *t = NULL;
	git_buf want = GIT_BUF_INIT;
	struct store_tb_buf got = { .len = 99 };
	int err = git_tree_lookup(&t, st->repo, tree);

	for (size_t i = 0; i < n && err == 0; i++) {
		err = git_commit_lookup(&owned[i], st->repo, &parents[i]);
		pv[i] = owned[i];
	}
	if (err == 0)
		err = git_commit_create_buffer(&want, st->repo, sig, sig, NULL,
					       msg, t, n, pv);
	CHECK(err == 0, "libgit2's buffer: %d", err);
	err = store_commit_buffer(&got, tree, parents, n, sig, msg);
	CHECK(err == 0, "store_commit_buffer: %d", err);
	CHECK(err == 0 && got.len == want.size &&
		      !memcmp(got.p, want.ptr, want.size),
	      "%zu parents, offset %d, msg \"%s\":\n%.*s\n-- against --\n%s", n,
	      sig->when.offset, msg, (int)got.len, got.p ? got.p : "",
	      want.ptr ? want.ptr : "");
	free(got.p);
	git_buf_dispose(&want);
	git_tree_free(t);
	for (size_t i = 0; i < n; i++)
		git_commit_free(owned[i]);
}

int main(void)
{
	static const struct testrepo_put puts[] = { { "c/a.json", "{}", 0 } };
	static const int offsets[] = { 0, 60, -60, 330, -570, 845, -1 };
	static const char *const msgs[] = { "put c/a.json", "put c/a.json\n",
					    "merge\n\nbody line\n", "" };
	struct store_oid c1, c2;
	git_oid parents[2], tree;
	git_commit *head = NULL;
	git_signature *sig = NULL, *now = NULL;

	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	CHECK(testrepo_commit(st, &c1, NULL, 1700000000, 60, puts, 1) == 0,
	      "commit 1");
	CHECK(testrepo_commit(st, &c2, &c1, 1700000100, -300, puts, 0) == 0,
	      "commit 2");
	memcpy(parents[0].id, c1.id, GIT_OID_RAWSZ);
	memcpy(parents[1].id, c2.id, GIT_OID_RAWSZ);
	CHECK(git_commit_lookup(&head, st->repo, &parents[0]) == 0, "lookup");
	git_oid_cpy(&tree, git_commit_tree_id(head));
	for (size_t o = 0; o < sizeof(offsets) / sizeof(*offsets); o++) {
		int off = offsets[o] == -1 ? 0 : offsets[o];

		CHECK(git_signature_new(&sig, "  A. Writer ", "a@example.org",
					1765000000 + (git_time_t)o, off) == 0,
		      "signature");
		/* "-0000": west of UTC by nothing, as git can say. */
		if (offsets[o] == -1)
			sig->when.sign = '-';
		for (size_t m = 0; m < sizeof(msgs) / sizeof(*msgs); m++)
			for (size_t n = 0; n <= 2; n++)
				same(&tree, parents, n, sig, msgs[m]);
		git_signature_free(sig);
	}
	/* Now, in the local zone: as libgit2's own. */
	CHECK(store_signature_now(st, &sig) == 0, "store_signature_now");
	CHECK(git_signature_now(&now, st->author_name, st->author_email) == 0,
	      "git_signature_now");
	if (sig && now) {
		CHECK(!strcmp(sig->name, now->name) &&
			      !strcmp(sig->email, now->email),
		      "author %s <%s>, libgit2 %s <%s>", sig->name, sig->email,
		      now->name, now->email);
		CHECK(sig->when.offset == now->when.offset,
		      "offset %d, libgit2 %d", sig->when.offset,
		      now->when.offset);
		CHECK(llabs((long long)(sig->when.time - now->when.time)) <= 1,
		      "time %lld, libgit2 %lld", (long long)sig->when.time,
		      (long long)now->when.time);
	}
	git_signature_free(sig);
	git_signature_free(now);
	git_commit_free(head);
	testrepo_close(st, dir);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("commitbuf: ok\n");
	return 0;
}
