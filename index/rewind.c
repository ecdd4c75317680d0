/* rewind.c - a branch moved back (git update-ref, reset, a force push):
 * the indexed chain is cut back to the newest commit the new head's chain
 * shares with it, instead of being indexed again from the root, so the
 * cost follows the commits cut away and the ones added, not the length of
 * the history. One write batch, with the head record it leads to. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catchup_int.h"
#include "history.h"
#include "banned.h"

/* Delete the 'P' row of PATH at c->seq (a store_diff_cb). */
static int drop_path(void *ctx, const char *path, const struct store_oid *old,
		     const struct store_oid *new)
{
	struct catchup *c = ctx;

	(void)old;
	(void)new;
	if (idx_key_start(&c->k, 'P', c->branch) < 0 ||
	    idx_key_add(&c->k, path, strlen(path) + 1) < 0 ||
	    idx_key_be64(&c->k, c->seq) < 0)
		return -ENOMEM;
	rocksdb_writebatch_delete(c->wb, (char *)c->k.p, c->k.len);
	return 0;
}

/* The rows of the commits after seq M, newest first: each one's 'S'
 * record names it; its 'T' key is the least time from it to the old head
 * (history.h), *least at the end that of them all; the paths it changed
 * name its 'P' rows. Point reads and deletes only: an iterator would
 * step over the deletions of earlier rewinds still in the memtable. */
static int drop_commits(struct catchup *c, uint64_t m, int64_t *least)
{
	char hex[STORE_OID_HEXSZ + 1];
	int err = 0;

	*least = INT64_MAX;
	for (c->seq = c->stop_seq; c->seq > m && err == 0; c->seq--) {
		/* Stopped (an unmount): nothing is written, the next
		 * catch-up starts over from the indexed head. */
		if ((c->stop_seq - c->seq) % 256 == 255 &&
		    atomic_load(&c->db->cancel))
			return idx_fail(-ECANCELED, "index of %s: stopped",
					c->branch);
		if ((err = idx_seq_read(c->db, c->branch, c->seq, &c->commit,
					&c->time)) < 0)
			break;
		*least = c->time < *least ? c->time : *least;
		if (idx_key_start(&c->k, 'T', c->branch) < 0 ||
		    idx_key_be64(&c->k, idx_time_bits(*least)) < 0 ||
		    idx_key_be64(&c->k, c->seq) < 0)
			return -ENOMEM;
		rocksdb_writebatch_delete(c->wb, (char *)c->k.p, c->k.len);
		if (idx_key_start(&c->k, 'S', c->branch) < 0 ||
		    idx_key_be64(&c->k, c->seq) < 0)
			return -ENOMEM;
		rocksdb_writebatch_delete(c->wb, (char *)c->k.p, c->k.len);
		store_oid_fmt(hex, &c->commit);
		if (idx_key_start(&c->k, 'C', c->branch) < 0 ||
		    idx_key_add(&c->k, hex, STORE_OID_HEXSZ) < 0)
			return -ENOMEM;
		rocksdb_writebatch_delete(c->wb, (char *)c->k.p, c->k.len);
		/* A commit gone from Git (pruned) fails here, and the
		 * caller indexes the branch again from its root. */
		err = store_diff_parent(c->st, &c->commit, drop_path, c, NULL);
	}
	return err;
}

/* The 'T' keys of the commits kept: each was the least of its own
 * time-to-M minimum R and LEAST, the cut commits' minimum; where R is
 * greater (a cut commit was dated before it) it becomes R. Going down
 * the chain R only falls, so the first key left alone ends it: in the
 * usual chain (each commit dated after the one before) the first. */
static int cut_times(struct catchup *c, uint64_t m, int64_t least)
{
	int64_t r = INT64_MAX;
	int err = 0;

	for (uint64_t s = m + 1; s-- > 0 && err == 0;) {
		if ((err = idx_seq_read(c->db, c->branch, s, &c->commit,
					&c->time)) < 0)
			break;
		r = c->time < r ? c->time : r;
		if (r <= least)
			break;
		if (idx_key_start(&c->k, 'T', c->branch) < 0 ||
		    idx_key_be64(&c->k, idx_time_bits(least)) < 0 ||
		    idx_key_be64(&c->k, s) < 0)
			return -ENOMEM;
		rocksdb_writebatch_delete(c->wb, (char *)c->k.p, c->k.len);
		if (idx_key_start(&c->k, 'T', c->branch) < 0 ||
		    idx_key_be64(&c->k, idx_time_bits(r)) < 0 ||
		    idx_key_be64(&c->k, s) < 0)
			return -ENOMEM;
		rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len,
				       (char *)c->commit.id, STORE_OID_RAWSZ);
	}
	return err;
}

/* Remember each document that differs from the old head to the base, at
 * the base (a store_diff_cb). */
static int to_base(void *ctx, const char *path, const struct store_oid *old,
		   const struct store_oid *new)
{
	(void)old;
	return idx_cu_remember(ctx, path, new);
}

int idx_rewind(struct catchup *c)
{
	uint64_t m = c->base_seq - 1;
	unsigned char val[28];
	int64_t least;
	int err;

	if ((err = drop_commits(c, m, &least)) < 0 ||
	    (err = cut_times(c, m, least)) < 0)
		return err;
	/* The ordered indexes hold the head's documents, not history: the
	 * ones that differ between the two heads are set to the base's. */
	if (c->defs->n && ((err = store_diff_commits(c->st, &c->stop, &c->base,
						     to_base, c)) < 0 ||
			   (err = idx_cu_apply_orders(c)) < 0))
		return err;
	memcpy(val, c->base.id, STORE_OID_RAWSZ);
	idx_put_be64(val + 20, m);
	if (idx_key_start(&c->k, 'H', c->branch) < 0)
		return -ENOMEM;
	rocksdb_writebatch_put(c->wb, (char *)c->k.p, c->k.len - 1, (char *)val,
			       sizeof(val));
	return 0;
}
