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
		return store_fail(-EBUSY,
				  "transaction on %s: used from two "
				  "threads at once",
				  tx->branch);
	if (tx->state != TX_OPEN) {
		atomic_flag_clear(&tx->busy);
		return store_fail(
			-EINVAL, "transaction on %s: already %s", tx->branch,
			tx->state == TX_COMMITTED ? "committed" : "aborted");
	}
	return 0;
}

static int tx_leave(chronofs_tx *tx, int rc)
{
	atomic_flag_clear(&tx->busy);
	return rc;
}

int chronofs_tx_begin_flags(chronofs_tx **out, chronofs *db, const char *branch,
			    unsigned flags)
{
	chronofs_tx *tx;
	int err;

	lib_enter();
	*out = NULL;
	if (flags & ~(unsigned)CHRONOFS_TX_STRICT)
		return store_fail(-EINVAL, "unknown transaction flags %#x",
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
	tx->n++;
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
		return store_fail(-ENOENT, "%s: deleted in this transaction",
				  path);
	if (!(*json = malloc(c->len + 1)))
		return lib_fail(-ENOMEM, path);
	memcpy(*json, c->bytes, c->len);
	(*json)[c->len] = '\0';
	*len = c->len;
	return 0;
}

int chronofs_tx_get(chronofs_tx *tx, const char *path, char **json, size_t *len)
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

/* Validate what is put: one bad document and nothing is written. */
static int validate(chronofs_tx *tx)
{
	struct store_json_error e;

	for (size_t i = 0; i < tx->n; i++) {
		const struct change *c = &tx->v[i];

		if (!c->bytes)
			continue;
		if (c->len > tx->db->max_doc_size)
			return store_fail(-EFBIG,
					  "%s: %zu bytes is over "
					  "max_doc_size %zu; nothing committed",
					  c->path, c->len,
					  tx->db->max_doc_size);
		if (store_json_validate(c->bytes, c->len, &e) < 0)
			return store_fail(
				-EINVAL,
				"%s: invalid JSON at line "
				"%u, column %u: %s; nothing committed",
				c->path, e.line, e.column, e.reason);
	}
	return 0;
}

int chronofs_tx_commit(chronofs_tx *tx, const char *message,
		       char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct store_change *v = NULL;
	struct store_oid out;
	int err = tx_enter(tx);

	if (err < 0)
		return err;
	if (commit)
		commit[0] = '\0';
	if ((err = validate(tx)) < 0)
		return tx_leave(tx, err);
	if (!(v = calloc(tx->n + 1, sizeof(*v))))
		return tx_leave(tx, lib_fail(-ENOMEM, tx->branch));
	/* In the order of the calls: a later change of a path wins. */
	for (size_t i = 0; i < tx->n; i++)
		v[i] = (struct store_change){
			.op = tx->v[i].bytes ? STORE_PUT : STORE_DELETE,
			.path = tx->v[i].path,
			.data = tx->v[i].bytes,
			.len = tx->v[i].len,
		};
	/* The engine commits on the base, or merges onto a moved head (the
	 * transaction's changes are the newest: they win), or with STRICT
	 * refuses when a commit since touched one of its paths. */
	store_write_begin(tx->db->st);
	err = store_commit_changes(
		tx->db->st, tx->branch, &tx->base, v, tx->n,
		message && *message ? message : "transaction",
		tx->flags & CHRONOFS_TX_STRICT ? STORE_TX_STRICT : 0, &out);
	store_write_end(tx->db->st);
	free(v);
	if (err == -ENOENT &&
	    store_branch_head(tx->db->st, tx->branch, &out) < 0)
		return tx_leave(tx, store_fail(err,
					       "transaction on %s: the "
					       "branch is gone; nothing "
					       "committed",
					       tx->branch));
	if (err < 0)
		return tx_leave(tx, lib_fail(err, tx->branch));
	if (err == 0) {
		lib_index_catchup(tx->db, tx->branch);
		if (commit)
			store_oid_fmt(commit, &out);
	}
	changes_release(tx);
	tx->state = TX_COMMITTED;
	store_error_clear();
	return tx_leave(tx, 0);
}
