/* chainidx.c - indexing the new commits of a chain oldest first, in
 * memory that does not grow with the chain: a first walk from the head
 * keeps one mark every SEGMENT commits (and the least committer time of
 * the commits after it); then each segment, the oldest first, is read
 * again into a buffer and indexed from its oldest commit on, one tree
 * diff per commit against the commit before it. Commits and trees come
 * from the store's chain reader (no store lock: the live view goes on).
 * A tree missing from the repository reads as empty (logged once): the
 * commits are indexed around it. A branch moved back or onto another
 * line is cut back first to the newest commit both lines share (rewind.c)
 * where that costs less than indexing the new chain from its root.
 * After each batch the least time among the commits not yet written is
 * published (wait.c): a BRANCH@WHEN lookup before it is answered then. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catchup_int.h"
#include "banned.h"

#define SEGMENT 8192
/* From this many new commits on, compactions wait for the end. */
#define BULK_COMMITS 20000

struct mark {
	struct store_oid id; /* the newest commit of its segment */
	int64_t newer_min; /* least time of every commit after it */
};

struct seg_commit {
	struct store_oid id, tree;
	int64_t time;
	int64_t pending_min; /* least time of the commits after this one */
};

struct chainidx {
	struct catchup *c;
	struct store_chain *ch;
	struct mark *marks;
	size_t nmarks;
	struct seg_commit *buf; /* one segment, newest first */
	struct store_oid prev_tree; /* of the commit before the next one */
	bool has_prev;
	bool from_root; /* the indexed commits are no stop: a walk to the root */
	struct store_oid oldest; /* the oldest new commit, if c->n */
	size_t done;
};

static int stopped(struct catchup *c)
{
	return idx_fail(-ECANCELED, "index of %s: stopped", c->branch);
}

/* Is CUR the first indexed commit of the walk back from the head: the
 * indexed head, or (the branch moved back or onto another line) the
 * newest commit the two chains share? Then it is the base. */
static int at_base(struct chainidx *x, const struct store_oid *cur)
{
	struct catchup *c = x->c;
	uint64_t seq = c->stop_seq;
	int rc = 0;

	if (!c->have_stop || x->from_root)
		return 0;
	if (!store_oid_equal(cur, &c->stop) &&
	    (rc = idx_cu_indexed_seq(c, cur, &seq)) <= 0)
		return rc;
	if (seq > c->stop_seq)
		return 0;
	c->found = true;
	c->base = *cur;
	c->base_seq = seq + 1;
	return 1;
}

/* The first walk: head back to the base or the root, marks only. */
static int walk_marks(struct chainidx *x, const struct store_oid *head,
		      int64_t *all_min)
{
	struct catchup *c = x->c;
	struct store_chain_commit cc;
	struct store_oid cur = *head;
	int64_t min = INT64_MAX;
	size_t cap = 0;
	int err;

	x->nmarks = 0;
	c->found = false;
	c->base_seq = 0;
	for (c->n = 0;; c->n++) {
		if ((err = at_base(x, &cur)) < 0)
			return err;
		if (err)
			break;
		x->oldest = cur;
		if (c->n % BATCH_COMMITS == 0 && atomic_load(&c->db->cancel))
			return stopped(c);
		if (c->n % SEGMENT == 0) {
			if (x->nmarks == cap) {
				struct mark *m;

				cap = cap ? 2 * cap : 64;
				if (!(m = realloc(x->marks, cap * sizeof(*m))))
					return -ENOMEM;
				x->marks = m;
			}
			x->marks[x->nmarks++] =
				(struct mark){ .id = cur, .newer_min = min };
		}
		if ((err = store_chain_commit(x->ch, &cur, &cc)) < 0)
			return err;
		if (cc.time < min)
			min = cc.time;
		if (!cc.has_parent) {
			c->n++;
			break;
		}
		cur = cc.parent;
	}
	*all_min = min;
	return 0;
}

/* Segment S read again, newest first; its length. */
static int read_segment(struct chainidx *x, size_t s, size_t *len)
{
	struct store_chain_commit cc;
	struct store_oid cur = x->marks[s].id;
	size_t n = x->c->n - s * SEGMENT;
	int64_t min = x->marks[s].newer_min;
	int err;

	if (n > SEGMENT)
		n = SEGMENT;
	for (size_t i = 0; i < n; i++) {
		if ((err = store_chain_commit(x->ch, &cur, &cc)) < 0)
			return err;
		x->buf[i] = (struct seg_commit){ .id = cur,
						 .tree = cc.tree,
						 .time = cc.time,
						 .pending_min = min };
		if (cc.time < min)
			min = cc.time;
		if (i + 1 < n && !cc.has_parent)
			return idx_fail(-EIO, "index of %s: the chain changed",
					x->c->branch);
		cur = cc.parent;
	}
	*len = n;
	return 0;
}

static int index_one(struct chainidx *x, const struct seg_commit *sc)
{
	struct catchup *c = x->c;
	struct store_missing miss;
	int err;

	c->commit = sc->id;
	c->time = sc->time;
	c->seq = c->base_seq + x->done;
	err = store_chain_diff(x->ch, x->has_prev ? &x->prev_tree : NULL,
			       &sc->tree, idx_cu_put_path, c, &miss);
	if (err == 0 && miss.any)
		idx_cu_missing_tree(c, &miss.id);
	/* The diff left something out: no record of what it changed. */
	c->rec.odd |= miss.any || miss.skipped;
	c->rec.plain = !miss.exec;
	if (err == 0)
		err = idx_cu_apply_orders(c);
	if (err == 0)
		err = idx_cu_put_commit(c);
	x->prev_tree = sc->tree;
	x->has_prev = true;
	x->done++;
	/* With ordered indexes, one batch per commit: a row changed twice
	 * must see its first change (see order_int.h). */
	if (err == 0 && (c->defs->n || x->done % BATCH_COMMITS == 0)) {
		err = idx_cu_flush(c);
		if (err == 0)
			idx_prog_pending(c->db, sc->pending_min);
		idx_cu_progress(c, x->done);
	}
	/* Stopped (an unmount): what is flushed, head record included, is
	 * where the next catch-up goes on. */
	if (err == 0 && x->done % BATCH_COMMITS == 0 &&
	    atomic_load(&c->db->cancel))
		err = stopped(c);
	return err;
}

static int index_segments(struct chainidx *x)
{
	int err = 0;

	if (!(x->buf = malloc(SEGMENT * sizeof(*x->buf))))
		return -ENOMEM;
	for (size_t s = x->nmarks; s-- > 0 && err == 0;) {
		size_t len = 0;

		err = read_segment(x, s, &len);
		for (size_t i = len; i-- > 0 && err == 0;)
			err = index_one(x, &x->buf[i]);
	}
	return err;
}

/* Cut back to the base (rewind.c) where that costs less than indexing
 * the new chain from its root; else, or if it fails (a commit cut away
 * is gone from Git), a walk from the root again. */
static int cut_back(struct chainidx *x, const struct store_oid *head, bool *cut,
		    int64_t *all_min)
{
	struct catchup *c = x->c;
	uint64_t cuts = c->stop_seq - (c->base_seq - 1);
	int err = -ERANGE;

	if (cuts <= c->base_seq + c->n) {
		err = idx_rewind(c);
		if (err == 0)
			err = idx_cu_flush(c);
	}
	if (err == 0 || err == -ECANCELED) {
		*cut = err == 0;
		return err;
	}
	rocksdb_writebatch_clear(c->wb);
	store_error_clear();
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	c->npaths = 0;
	x->from_root = true;
	return walk_marks(x, head, all_min);
}

/* Will the catch-up index the unfinished commit again where it was, the
 * oldest new commit, at the same seq after the indexed head (or at the
 * root of a branch with none)? Then its rows are written over. */
static bool wip_again(struct chainidx *x)
{
	struct catchup *c = x->c;

	if (!c->n || !store_oid_equal(&x->oldest, &c->wip))
		return false;
	if (c->found)
		return store_oid_equal(&c->base, &c->stop) &&
		       c->base_seq == c->wip_seq;
	return !c->have_stop && c->wip_seq == 0;
}

/* Drop the 'P' row of PATH at the unfinished commit's seq; with ordered
 * indexes, set them back to PATH's version before it (a store_diff_cb).
 * In parts, as the commit was written. */
static int wip_undo(void *ctx, const char *path, const struct store_oid *old,
		    const struct store_oid *new)
{
	struct catchup *c = ctx;
	int err;

	(void)new;
	if (idx_key_start(&c->k, 'P', c->branch) < 0 ||
	    idx_key_add(&c->k, path, strlen(path) + 1) < 0 ||
	    idx_key_be64(&c->k, c->wip_seq) < 0)
		return -ENOMEM;
	rocksdb_writebatch_delete(c->wb, (char *)c->k.p, c->k.len);
	if (c->defs->n && (err = idx_cu_remember(c, path, old)) < 0)
		return err;
	if (++c->rows < idx_chunk_rows())
		return 0;
	if (c->defs->n && (err = idx_cu_apply_orders(c)) < 0)
		return err;
	return idx_cu_flush(c);
}

/* The unfinished commit's rows dropped (the branch moved on another way,
 * or back): what its diff from its parent names, with the chain reader;
 * its 'W' record with the last part. */
static int wip_drop(struct chainidx *x)
{
	struct catchup *c = x->c;
	struct store_chain_commit cc, pc;
	struct store_missing miss;
	int err;

	if ((err = store_chain_commit(x->ch, &c->wip, &cc)) < 0 ||
	    (cc.has_parent &&
	     (err = store_chain_commit(x->ch, &cc.parent, &pc)) < 0))
		return err;
	err = store_chain_diff(x->ch, cc.has_parent ? &pc.tree : NULL, &cc.tree,
			       wip_undo, c, &miss);
	if (err == 0 && c->defs->n)
		err = idx_cu_apply_orders(c);
	if (err < 0)
		return err;
	if (idx_key_start(&c->k, 'W', c->branch) < 0)
		return -ENOMEM;
	rocksdb_writebatch_delete(c->wb, (char *)c->k.p, c->k.len - 1);
	return idx_cu_flush(c);
}

/* A commit left unfinished by the last catch-up: written over if this one
 * indexes it again where it was, else dropped first (before a cut back,
 * which goes by what the indexed head says). If that fails (the commit
 * is gone from Git), the branch is indexed again from the root. */
static int wip_settle(struct chainidx *x, const struct store_oid *head,
		      int64_t *all_min)
{
	struct catchup *c = x->c;
	int err;

	if (!c->have_wip)
		return 0;
	c->have_wip = false;
	if (wip_again(x)) {
		c->partial = true; /* its 'W' goes with its last part */
		return 0;
	}
	if (!c->found && c->have_stop)
		return 0; /* indexed again from the root: all dropped */
	if ((err = wip_drop(x)) == 0)
		return 0;
	rocksdb_writebatch_clear(c->wb);
	c->rows = 0;
	store_error_clear();
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	c->npaths = 0;
	idx_drop_all(c->wb, c->branch, false);
	if ((err = idx_cu_flush(c)) < 0)
		return err;
	c->have_stop = false;
	x->from_root = true;
	return walk_marks(x, head, all_min);
}

/* Where the new commits start: after the base (its tree, seq and time),
 * cut back to it first if it is not the indexed head; or from the root,
 * everything derived from the old history dropped. */
static int start(struct chainidx *x, const struct store_oid *head, bool *cut,
		 int64_t *all_min)
{
	struct catchup *c = x->c;
	struct store_chain_commit cc;
	int err;

	if ((err = wip_settle(x, head, all_min)) < 0)
		return err;
	if (c->found && !store_oid_equal(&c->base, &c->stop) &&
	    (err = cut_back(x, head, cut, all_min)) < 0)
		return err;
	if (c->found) {
		c->have_last = idx_seq_read(c->db, c->branch, c->base_seq - 1,
					    NULL, &c->last_time) == 0;
		if ((err = store_chain_commit(x->ch, &c->base, &cc)) < 0)
			return err;
		x->prev_tree = cc.tree;
		x->has_prev = true;
		return 0;
	}
	if (c->have_stop) {
		/* No commit in common (an unrelated history), or cheaper
		 * so: index it again from the root (the ordered indexes
		 * too, from the root commit's diff on). */
		idx_drop_all(c->wb, c->branch, false);
		return idx_cu_flush(c);
	}
	return 0;
}

int idx_chain_index(struct catchup *c, const struct store_oid *head, bool *cut)
{
	struct chainidx x = { .c = c };
	int64_t all_min = INT64_MAX;
	int err;

	if ((err = store_chain_open(&x.ch, c->st)) < 0)
		return err;
	c->wb = rocksdb_writebatch_create();
	err = walk_marks(&x, head, &all_min);
	/* The first line as soon as the length is known (the walk of a
	 * million commits takes seconds). */
	if (err == 0 && c->db->progress && c->n >= BATCH_COMMITS) {
		c->db->progress(c->db->progress_ctx, c->branch, 0, c->n);
		c->reported = time(NULL);
	}
	/* The ordered indexes first: a cut sets them to the base's. */
	if (err == 0)
		err = idx_defs_get(c->db, c->branch, &c->defs);
	if (err == 0)
		err = start(&x, head, cut, &all_min);
	if (err == 0 && c->n >= BULK_COMMITS && idx_db_bulk(c->db, true) == 0)
		c->bulk = true;
	/* Without ordered indexes (whose upkeep reads the batches before),
	 * a batch's records go to RocksDB in key order. */
	c->sorted = err == 0 && c->defs->n == 0;
	c->stoppable = true;
	if (err == 0) {
		/* What is indexed already answers every time before the
		 * new commits. */
		idx_prog_pending(c->db, all_min);
		err = index_segments(&x);
	}
	if (err == 0)
		err = idx_cu_flush(c);
	if (c->bulk) {
		int e = idx_db_bulk(c->db, false);

		c->bulk = false;
		if (err == 0)
			err = e;
	}
	free(x.buf);
	free(x.marks);
	store_chain_close(x.ch);
	return err;
}
