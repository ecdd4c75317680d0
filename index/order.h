/* order.h - ordered indexes: a collection's documents in the order of one
 * SPEC (fields, each ascending or descending), kept in RocksDB and updated
 * in the same write batch as the history indexes by every catch-up.
 *
 * Keys (B branch, C collection, S canonical spec, K the codec key of
 * keycodec.h, which ends with the document id):
 *   'D' B \0 C \0 S            -> ""            the index exists
 *   'O' B \0 C \0 S \0 K       -> blob id (20)  one row, followed by
 *                                 the document's bytes when it has at
 *                                 most IDX_INLINE_MAX (a covering row:
 *                                 a range scan reads no Git object)
 *   'R' B \0 C \0 S \0 id      -> K             the row of a document
 * A collection is one directory; its documents are the *.json files
 * directly in it; a document's id is its name without ".json".
 */
#ifndef CHRONOFS_INDEX_ORDER_H
#define CHRONOFS_INDEX_ORDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "store.h"

#define IDX_SPEC_MAX_FIELDS 16

struct idx_spec {
	size_t n;
	char *fields[IDX_SPEC_MAX_FIELDS]; /* dotted paths */
	bool desc[IDX_SPEC_MAX_FIELDS];
	char *canon; /* "-score,name" */
};

/* Parse "f1,-f2,a.b": -EINVAL for an empty field or too many fields.
 * Caller releases with idx_spec_release(). */
int idx_spec_parse(struct idx_spec *out, const char *text);
void idx_spec_release(struct idx_spec *s);

/* A range on the first field, and a limit. Values are borrowed. */
struct idx_range {
	const json_t *ge, *gt, *lt, *le; /* NULL: no such bound */
	size_t limit; /* 0: none */
};

/* Documents up to this size are carried in their index rows. */
#define IDX_INLINE_MAX 4096

/* One row: the document's id and blob, and its bytes DOC (LEN) when the
 * row carries them (else DOC is NULL: read BLOB). DOC is borrowed for
 * the call. */
typedef int (*idx_row_cb)(void *ctx, const char *id,
			  const struct store_oid *blob, const char *doc,
			  size_t len);

/* A row's document: a copy of DOC if the row carried it, else read from
 * Git. Caller frees *out. */
int idx_row_read(struct store *st, const struct store_oid *blob,
		 const char *doc, size_t len, char **out, size_t *outlen);

/* Make the index exist and be current with BRANCH's head; built from the
 * head's tree the first time. *built tells whether it was built now. */
int idx_order_ensure(struct idx_db *db, struct store *st, const char *branch,
		     const char *collection, const struct idx_spec *spec,
		     bool *built);
/* Rows of an existing index in order, within RANGE. -ENOENT if no such
 * index. */
int idx_order_scan(struct idx_db *db, const char *branch,
		   const char *collection, const struct idx_spec *spec,
		   const struct idx_range *range, idx_row_cb cb, void *ctx);
/* The same rows computed in memory from COMMIT's tree (snapshots) of
 * BRANCH (named in log lines). Documents over the store's max_doc_size
 * have no row, here as in an index (said once each on the log). */
int idx_order_scan_commit(struct store *st, const char *branch,
			  const struct store_oid *commit,
			  const char *collection, const struct idx_spec *spec,
			  const struct idx_range *range, idx_row_cb cb,
			  void *ctx);
/* The rows of an index, and how many of them have the first field. */
int idx_order_count(struct idx_db *db, const char *branch,
		    const char *collection, const char *canon, uint64_t *rows,
		    uint64_t *with_field);
/* Is CANON an index of COLLECTION on BRANCH, and how many has it? */
int idx_order_defined(struct idx_db *db, const char *branch,
		      const char *collection, const char *canon, bool *exists,
		      size_t *count);
int idx_order_drop(struct idx_db *db, const char *branch,
		   const char *collection, const char *canon);
typedef int (*idx_def_cb)(void *ctx, const char *branch, const char *collection,
			  const char *canon, uint64_t rows);
int idx_order_list(struct idx_db *db, idx_def_cb cb, void *ctx);

/* Parse a document for indexing; NULL if it is not JSON jansson can hold
 * (then every field is missing). Caller frees with json_decref(). */
json_t *idx_doc_parse(const char *buf, size_t len);

#endif
