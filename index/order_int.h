/* order_int.h - private to index/: what the catch-up (catchup.c) needs
 * of the ordered indexes' row upkeep (order_maint.c, order.c). */
#ifndef CHRONOFS_INDEX_ORDER_INT_H
#define CHRONOFS_INDEX_ORDER_INT_H

#include "db_int.h"
#include "keycodec.h"
#include "order.h"

/* The indexes defined on one branch. */
struct idx_def {
	char *collection;
	struct idx_spec spec;
};

struct idx_defs {
	struct idx_def *v;
	size_t n;
};

int idx_defs_load(struct idx_db *db, const char *branch, struct idx_defs *out);
void idx_defs_release(struct idx_defs *d);
/* The definitions of BRANCH, kept between calls (a save reads them every
 * time; they change only by this process, which holds the database
 * read-write). Caller holds db->catchup_lock; *out is borrowed until it
 * releases it. idx_defs_forget: a definition changed (under the lock). */
int idx_defs_get(struct idx_db *db, const char *branch,
		 const struct idx_defs **out);
void idx_defs_forget(struct idx_db *db);

/* Bring every index on PATH's collection in line with PATH now holding
 * NEW_BLOB (NULL: deleted), adding the changes to WB. Rows already in WB
 * are not seen: the caller writes WB before the same path changes again. */
int idx_order_apply(struct idx_db *db, struct store *st,
		    rocksdb_writebatch_t *wb, const struct idx_defs *defs,
		    const char *branch, const char *path,
		    const struct store_oid *new_blob);

/* idx_order_drop for a caller that holds db->catchup_lock. */
int idx_order_drop_locked(struct idx_db *db, const char *branch,
			  const char *collection, const char *canon);

/* Build the index from COMMIT's tree into WB (with its 'D' record). */
int idx_order_build(struct idx_db *db, struct store *st,
		    rocksdb_writebatch_t *wb, const char *branch,
		    const struct store_oid *commit, const char *collection,
		    const struct idx_spec *spec);

/* The codec key of a document's row: fields of DOC (NULL: all missing)
 * then ID. */
int idx_row_key(struct idx_buf *out, json_t *doc, const struct idx_spec *spec,
		const char *id);
int idx_order_prefix(struct idx_key *k, char family, const char *branch,
		     const char *collection, const char *canon, bool sep);

typedef int (*idx_tree_row_cb)(void *ctx, const struct idx_buf *key,
			       const char *id, const struct store_oid *blob,
			       const char *doc, size_t len);
/* Every document of COLLECTION at COMMIT with its row key and bytes,
 * but those over the store's max_doc_size (left out unread, said once
 * each, as in BRANCH). */
int idx_rows_of_tree(struct store *st, const char *branch,
		     const struct store_oid *commit, const char *collection,
		     const struct idx_spec *spec, idx_tree_row_cb cb,
		     void *ctx);

#endif
