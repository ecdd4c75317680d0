/* test_treememo.c - the tree memo's sets (treebytes.c): trees whose ids
 * fall in one set of TREE_MEMO_WAYS slots push out the least recently
 * kept or found of them, never another set's, a find makes a tree recent
 * again, a drop frees its slot, and the warming's offer stops at its
 * limit. The trees are small real trees written to the repository, their
 * ids chosen among many so that five share a set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "testrepo.h"
#include "check.h"

#define WANT (TREE_MEMO_WAYS + 1)

static size_t set_no(const git_oid *id)
{
	return ((size_t)id->id[0] << 8 | id->id[1]) %
	       (TREE_MEMO / TREE_MEMO_WAYS);
}

/* The bytes of a one-entry tree naming blob B as "dK.json". */
static void tree_of(unsigned k, const git_oid *b, struct store_tb_buf *out)
{
	char name[32];

	snprintf(name, sizeof(name), "d%u.json", k);
	out->len = 0;
	CHECK(store_tb_put_entry(out, GIT_FILEMODE_BLOB, name, b) == 0,
	      "entry");
}

/* A memo copy of tree bytes B with id ID (kept trees are owned by the
 * memo). */
static struct tree_bytes bytes_of(const struct store_tb_buf *b,
				  const git_oid *id)
{
	struct tree_bytes t = { .id = *id, .len = b->len, .n = 1 };

	t.p = malloc(b->len);
	t.off = malloc(2 * sizeof(*t.off));
	if (t.p)
		memcpy(t.p, b->p, b->len);
	if (t.off) {
		t.off[0] = 0;
		t.off[1] = b->len;
	}
	return t;
}

static bool in_memo(struct store *st, const git_oid *id)
{
	return store_tb_find_memo(st, id) != NULL;
}

/* Are the trees IDS[WHICH[0..N)] all in the memo? */
static bool all_in_memo(struct store *st, const git_oid *ids,
			const size_t *which, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!in_memo(st, &ids[which[i]]))
			return false;
	return true;
}

int main(void)
{
	char dir[] = "/tmp/test_treememo.XXXXXX";
	struct store *st = NULL;
	struct store_tb_buf b = { 0 }, kept[WANT], ob = { 0 };
	git_oid blob, ids[WANT], other;
	size_t n = 0, target = 0;
	bool have_other = false;

	if (testrepo_open(&st, dir, NULL) < 0)
		return 1;
	CHECK(git_blob_create_from_buffer(&blob, st->repo, "{}", 2) == 0,
	      "blob");
	memset(kept, 0, sizeof(kept));
	/* Trees until WANT share the set of the first, and one is in
	 * another set. */
	for (unsigned k = 0; k < 400000 && n < WANT; k++) {
		git_oid id;

		tree_of(k, &blob, &b);
		CHECK(store_object_hash(&id, b.p, b.len, GIT_OBJECT_TREE) == 0,
		      "hash");
		if (k == 0)
			target = set_no(&id);
		if (set_no(&id) == target) {
			ids[n] = id;
			kept[n].len = 0;
			CHECK(store_tb_put(&kept[n], b.p, b.len) == 0, "copy");
			n++;
		} else if (!have_other) {
			other = id;
			have_other = true;
			CHECK(store_tb_put(&ob, b.p, b.len) == 0, "copy");
		}
	}
	CHECK(n == WANT && have_other, "found %zu trees of one set", n);
	if (n == WANT && have_other) {
		/* The set's trees after the drop of the third below. */
		const size_t live[] = { 0, 1, 3, WANT - 1 };
		struct tree_bytes t;

		pthread_mutex_lock(&st->lock);
		/* The warming's offer: a new tree adds its bytes, one there
		 * already nothing, and past its limit none is added. */
		t = bytes_of(&ob, &other);
		CHECK(store_tb_offer(st, &t, (size_t)-2) > 0, "offer");
		t = bytes_of(&ob, &other);
		CHECK(store_tb_offer(st, &t, (size_t)-2) == 0, "offer twice");
		t = bytes_of(&kept[0], &ids[0]);
		CHECK(store_tb_offer(st, &t, 1) == (size_t)-1, "over limit");
		CHECK(!in_memo(st, &ids[0]), "not added over the limit");
		for (size_t i = 0; i + 1 < WANT; i++) {
			t = bytes_of(&kept[i], &ids[i]);
			store_tb_keep(st, &t);
		}
		for (size_t i = 0; i + 1 < WANT; i++)
			CHECK(in_memo(st, &ids[i]), "tree %zu kept", i);
		/* Found again: the first is now the most recent; the
		 * fifth tree of the set pushes out the second. */
		CHECK(in_memo(st, &ids[0]), "find");
		t = bytes_of(&kept[WANT - 1], &ids[WANT - 1]);
		store_tb_keep(st, &t);
		CHECK(in_memo(st, &ids[WANT - 1]), "the fifth kept");
		CHECK(in_memo(st, &ids[0]), "the one found last stays");
		CHECK(!in_memo(st, &ids[1]), "the least recent goes");
		for (size_t i = 2; i + 1 < WANT; i++)
			CHECK(in_memo(st, &ids[i]), "tree %zu stays", i);
		/* A drop frees a slot: the next keep pushes nobody out. */
		store_tb_drop(st, &ids[2]);
		CHECK(!in_memo(st, &ids[2]), "dropped");
		t = bytes_of(&kept[1], &ids[1]);
		store_tb_keep(st, &t);
		CHECK(all_in_memo(st, ids, live, 4),
		      "kept into the freed slot");
		/* The same id again replaces its own slot. */
		t = bytes_of(&kept[3], &ids[3]);
		store_tb_keep(st, &t);
		CHECK(all_in_memo(st, ids, live, 4), "kept again in place");
		CHECK(in_memo(st, &other), "another set's tree stays");
		pthread_mutex_unlock(&st->lock);
	}
	for (size_t i = 0; i < WANT; i++)
		free(kept[i].p);
	free(ob.p);
	free(b.p);
	testrepo_close(st, dir);
	return failures != 0;
}
