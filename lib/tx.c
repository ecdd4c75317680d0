/* tx.c - transactions: puts, deletes and renames held in memory and
 * committed as one commit. Validated as a whole first (one bad document
 * and nothing is written). On a head that moved since begin, the
 * transaction is merged onto it by the merge engine (its changes are the
 * newest, so they win their conflicts), or with CHRONOFS_TX_STRICT fails
 * with -EBUSY when another commit touched one of its documents. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "lib_int.h"
#include "treemerge.h"
#include "banned.h"

struct change {
	char *path;
	char *bytes; /* NULL: deleted */
	size_t len;
	size_t seq; /* order of the call, for "last one wins" */
};

struct chronofs_tx {
	chronofs *db;
	char *branch;
	unsigned flags;
	struct store_oid base;
	struct change *v;
	size_t n, cap;
	enum { TX_OPEN, TX_COMMITTED, TX_ABORTED } state;
	atomic_flag busy; /* one call at a time: a second thread is refused */
};

/* Every call: the transaction is neither done nor in another call. */
static int tx_enter(chronofs_tx *tx)
{
	lib_enter();
	if (atomic_flag_test_and_set(&tx->busy))
		return lib_failf(-EBUSY, "transaction on %s: used from two "
				 "threads at once", tx->branch);
	if (tx->state != TX_OPEN) {
		atomic_flag_clear(&tx->busy);
		return lib_failf(-EINVAL, "transaction on %s: already %s",
				 tx->branch, tx->state == TX_COMMITTED
						     ? "committed"
						     : "aborted");
	}
	return 0;
}

static int tx_leave(chronofs_tx *tx, int rc)
{
	atomic_flag_clear(&tx->busy);
	return rc;
}

int chronofs_tx_begin_flags(chronofs_tx **out, chronofs *db,
			    const char *branch, unsigned flags)
{
	chronofs_tx *tx;
	int err;

	lib_enter();
	*out = NULL;
	if (flags & ~(unsigned)CHRONOFS_TX_STRICT)
		return lib_failf(-EINVAL, "unknown transaction flags %#x",
				 flags);
	tx = calloc(1, sizeof(*tx));
	if (!tx || !(tx->branch = strdup(branch))) {
		free(tx);
		return lib_fail(-ENOMEM, branch);
	}
	atomic_flag_clear(&tx->busy);
	tx->db = db;
	tx->flags = flags;
	err = store_branch_head(db->st, branch, &tx->base);
	if (err < 0) {
		free(tx->branch);
		free(tx);
		return lib_fail(err, branch);
	}
	*out = tx;
	return 0;
}

int chronofs_tx_begin(chronofs_tx **out, chronofs *db, const char *branch)
{
	return chronofs_tx_begin_flags(out, db, branch, 0);
}

static void changes_release(chronofs_tx *tx)
{
	for (size_t i = 0; i < tx->n; i++) {
		free(tx->v[i].path);
		free(tx->v[i].bytes);
	}
	free(tx->v);
	tx->v = NULL;
	tx->n = tx->cap = 0;
}

void chronofs_tx_free(chronofs_tx *tx)
{
	if (!tx)
		return;
	changes_release(tx);
	free(tx->branch);
	free(tx);
}

void chronofs_tx_abort(chronofs_tx *tx)
{
	if (!tx || tx_enter(tx) < 0)
		return;
	changes_release(tx);
	tx->state = TX_ABORTED;
	tx_leave(tx, 0);
}

/* Record PATH <- BYTES (taken; NULL: deleted). */
static int record(chronofs_tx *tx, const char *path, char *bytes, size_t len)
{
	struct change *c;

	if (tx->n == tx->cap) {
		size_t cap = tx->cap ? tx->cap * 2 : 64;
		struct change *v = realloc(tx->v, cap * sizeof(*v));

		if (!v) {
			free(bytes);
			return lib_fail(-ENOMEM, path);
		}
		tx->v = v;
		tx->cap = cap;
	}
	c = &tx->v[tx->n];
	if (!(c->path = strdup(path))) {
		free(bytes);
		return lib_fail(-ENOMEM, path);
	}
	c->bytes = bytes;
	c->len = len;
	c->seq = tx->n++;
	return 0;
}

/* The latest change of PATH in the transaction, or NULL. */
static const struct change *latest(const chronofs_tx *tx, const char *path)
{
	for (size_t i = tx->n; i-- > 0;)
		if (!strcmp(tx->v[i].path, path))
			return &tx->v[i];
	return NULL;
}

int chronofs_tx_put(chronofs_tx *tx, const char *path, const char *json,
		    size_t len)
{
	char *copy;
	int err = tx_enter(tx);

	if (err < 0)
		return err;
	if ((err = cfs_path_check(path)) < 0)
		return tx_leave(tx, err);
	copy = malloc(len ? len : 1);
	if (!copy)
		return tx_leave(tx, lib_fail(-ENOMEM, path));
	memcpy(copy, json, len);
	return tx_leave(tx, record(tx, path, copy, len));
}

/* PATH as the transaction sees it: its own change, else the base. */
static int view(chronofs_tx *tx, const char *path, char **json, size_t *len)
{
	const struct change *c = latest(tx, path);

	*json = NULL;
	*len = 0;
	if (!c)
		return lib_read_at(tx->db, &tx->base, path, json, len);
	if (!c->bytes)
		return lib_failf(-ENOENT, "%s: deleted in this transaction",
				 path);
	if (!(*json = malloc(c->len + 1)))
		return lib_fail(-ENOMEM, path);
	memcpy(*json, c->bytes, c->len);
	(*json)[c->len] = '\0';
	*len = c->len;
	return 0;
}

int chronofs_tx_get(chronofs_tx *tx, const char *path, char **json,
		    size_t *len)
{
	int err = tx_enter(tx);

	return err < 0 ? err : tx_leave(tx, view(tx, path, json, len));
}

int chronofs_tx_delete(chronofs_tx *tx, const char *path)
{
	char *old;
	size_t len;
	int err = tx_enter(tx);

	if (err < 0)
		return err;
	/* Deleting what is not there is the caller's mistake, as for
	 * chronofs_delete. */
	if ((err = view(tx, path, &old, &len)) == 0) {
		free(old);
		err = record(tx, path, NULL, 0);
	}
	return tx_leave(tx, err);
}

int chronofs_tx_rename(chronofs_tx *tx, const char *from, const char *to)
{
	char *bytes;
	size_t len;
	int err = tx_enter(tx);

	if (err < 0)
		return err;
	if ((err = cfs_path_check(to)) == 0 &&
	    (err = view(tx, from, &bytes, &len)) == 0 &&
	    (err = record(tx, to, bytes, len)) == 0)
		err = record(tx, from, NULL, 0);
	return tx_leave(tx, err);
}

static int by_path_then_seq(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Keep each path's last change, in path order; validate what is put. */
static int settle(chronofs_tx *tx)
{
	struct store_json_error e;
	size_t w = 0;

	qsort(tx->v, tx->n, sizeof(*tx->v), by_path_then_seq);
	for (size_t r = 0; r < tx->n; r++) {
		if (r + 1 < tx->n && !strcmp(tx->v[r].path, tx->v[r + 1].path)) {
			free(tx->v[r].path);
			free(tx->v[r].bytes);
			continue;
		}
		tx->v[w++] = tx->v[r];
	}
	tx->n = w;
	for (size_t i = 0; i < tx->n; i++) {
		const struct change *c = &tx->v[i];

		if (!c->bytes)
			continue;
		if (c->len > tx->db->max_doc_size)
			return lib_failf(-EFBIG, "%s: %zu bytes is over "
					 "max_doc_size %zu; nothing committed",
					 c->path, c->len,
					 tx->db->max_doc_size);
		if (store_json_validate(c->bytes, c->len, &e) < 0)
			return lib_failf(-EINVAL, "%s: invalid JSON at line "
					 "%u, column %u: %s; nothing committed",
					 c->path, e.line, e.column, e.reason);
	}
	return 0;
}

/* The transaction's changes as merge entries against TREE (the base's):
 * a document put is written out, a deletion removes what TREE has. */
static int entries(chronofs_tx *tx, struct store_merge *m)
{
	struct store_entry e;

	m->v = calloc(tx->n + 1, sizeof(*m->v));
	if (!m->v)
		return lib_fail(-ENOMEM, tx->branch);
	for (size_t i = 0; i < tx->n; i++) {
		struct store_merge_entry *x = &m->v[m->n];
		const struct change *c = &tx->v[i];

		x->has[STORE_MERGE_OURS_I] =
			store_stat(tx->db->st, &tx->base, c->path, &e) == 0 &&
			e.kind == STORE_DOC;
		if (!c->bytes && !x->has[STORE_MERGE_OURS_I])
			continue; /* made and deleted in the transaction */
		if (!(x->path = strdup(c->path)))
			return lib_fail(-ENOMEM, c->path);
		x->action = c->bytes ? STORE_MERGE_BYTES : STORE_MERGE_DELETE;
		if (c->bytes) {
			x->bytes = malloc(c->len ? c->len : 1);
			if (!x->bytes)
				return lib_fail(-ENOMEM, c->path);
			memcpy(x->bytes, c->bytes, c->len);
			x->len = c->len;
		}
		m->n++;
	}
	store_error_clear();
	return 0;
}

/* The tree of the base with the transaction's changes. */
static int tx_tree(chronofs_tx *tx, struct store_oid *tree)
{
	struct store_merge m = {0};
	int err = store_commit_tree_of(tx->db->st, &tx->base, &m.ours_tree);

	m.theirs_tree = m.ours_tree;
	if (err == 0)
		err = entries(tx, &m);
	if (err == 0)
		err = store_merge_build_tree(tx->db->st, &m, tree);
	store_merge_release(&m);
	return err < 0 ? lib_fail(err, tx->branch) : 0;
}

static int by_path_only(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->path,
		      ((const struct change *)b)->path);
}

/* Did a commit between the base and HEAD touch a path of the transaction?
 * (CHRONOFS_TX_STRICT) */
static int touched(chronofs_tx *tx, const struct store_oid *head)
{
	const struct store_tdiff_entry *e;
	struct store_tdiff *d;
	int err = store_tdiff_new(&d, tx->db->st, &tx->base, head, NULL);

	while (err == 0 && (err = store_tdiff_next(d, &e)) == 0) {
		struct change key = {.path = (char *)e->path};

		if (bsearch(&key, tx->v, tx->n, sizeof(*tx->v), by_path_only))
			err = lib_failf(-EBUSY, "%s: changed on %s since the "
					"transaction began", e->path,
					tx->branch);
	}
	store_tdiff_free(d);
	return err == 1 ? 0 : err;
}

/* The transaction's changes are the newest of all: they win. */
static int tx_wins(void *ctx, const char *path, enum jmerge_side *out)
{
	*out = JMERGE_THEIRS;
	return 0;
}

/* The tree to commit on HEAD: the transaction's own on its base, else
 * merged onto the moved head (theirs: the transaction). */
static int tree_on(chronofs_tx *tx, const struct store_oid *head,
		   struct store_oid *tree, size_t *conflicts)
{
	struct store_merge_opts o = {.winner = tx_wins};
	struct store_merge m = {0};
	struct store_oid mine;
	int err = tx_tree(tx, &mine);

	*conflicts = 0;
	if (err < 0 || store_oid_equal(head, &tx->base)) {
		*tree = mine;
		return err;
	}
	if ((tx->flags & CHRONOFS_TX_STRICT) && (err = touched(tx, head)) < 0)
		return err;
	err = store_merge_trees(&m, tx->db->st, &tx->base, head, &mine, &o);
	if (err == 0)
		err = store_merge_build_tree(tx->db->st, &m, tree);
	*conflicts = m.nconflicted;
	store_merge_release(&m);
	return err < 0 ? lib_fail(err, tx->branch) : 0;
}

int chronofs_tx_commit(chronofs_tx *tx, const char *message,
		       char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct store_oid head, tree, htree, out;
	char msg[1024];
	size_t conflicts = 0;
	int err = tx_enter(tx), tries = 0;

	if (err < 0)
		return err;
	if (commit)
		commit[0] = '\0';
	if ((err = settle(tx)) < 0)
		return tx_leave(tx, err);
	snprintf(msg, sizeof(msg), "%s", message && *message ? message
					: "transaction");
	store_write_begin(tx->db->st);
	do {
		err = store_branch_head(tx->db->st, tx->branch, &head);
		if (err < 0) {
			err = lib_failf(err, "transaction on %s: the branch "
					"is gone; nothing committed",
					tx->branch);
			break;
		}
		if ((err = tree_on(tx, &head, &tree, &conflicts)) < 0 ||
		    (err = store_commit_tree_of(tx->db->st, &head, &htree)) < 0)
			break;
		if (store_oid_equal(&tree, &htree)) {
			err = 1; /* changes nothing: no commit */
			break;
		}
		err = store_commit_tree(tx->db->st, tx->branch, &tree, &head,
					1, msg, &out);
	} while (err == -EAGAIN && ++tries < 100);
	store_write_end(tx->db->st);
	if (err < 0)
		return tx_leave(tx, lib_fail(err, tx->branch));
	if (err == 0) {
		lib_index_catchup(tx->db, tx->branch);
		if (commit)
			store_oid_fmt(commit, &out);
	}
	(void)conflicts;
	changes_release(tx);
	tx->state = TX_COMMITTED;
	store_error_clear();
	return tx_leave(tx, 0);
}
