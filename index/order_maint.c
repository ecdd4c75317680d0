/* order_maint.c - keeping ordered indexes current: definitions, builds
 * from a tree, one path's change, drop and list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "order_int.h"
#include "banned.h"

void idx_defs_release(struct idx_defs *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].collection);
		idx_spec_release(&d->v[i].spec);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* Iterate the keys starting with PREFIX; CB gets the rest of each key. */
typedef int (*tail_cb)(void *ctx, const char *tail, size_t len, const char *val,
		       size_t vlen);
static int scan_prefix(struct idx_db *db, const struct idx_key *prefix,
		       tail_cb cb, void *ctx)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
	char *e = NULL;
	int err = 0;

	for (rocksdb_iter_seek(it, (char *)prefix->p, prefix->len);
	     rocksdb_iter_valid(it) && err == 0; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);

		if (klen < prefix->len || memcmp(k, prefix->p, prefix->len))
			break;
		err = cb(ctx, k + prefix->len, klen - prefix->len, v, vlen);
	}
	rocksdb_iter_get_error(it, &e);
	rocksdb_iter_destroy(it);
	if (e && err == 0)
		err = idx_rocks_fail(e, "scan");
	return err;
}

static int def_cb(void *ctx, const char *tail, size_t len, const char *val,
		  size_t vlen)
{
	struct idx_defs *d = ctx;
	const char *canon = memchr(tail, '\0', len);
	struct idx_def *v;
	char *text;
	int err;

	if (!canon)
		return 0;
	v = realloc(d->v, (d->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->v = v;
	text = strndup(canon + 1, len - (size_t)(canon + 1 - tail));
	v[d->n].collection = strndup(tail, (size_t)(canon - tail));
	if (!text || !v[d->n].collection) {
		free(text);
		free(v[d->n].collection);
		return -ENOMEM;
	}
	err = idx_spec_parse(&v[d->n].spec, text);
	free(text);
	if (err < 0) {
		free(v[d->n].collection);
		return 0; /* not ours to read: skip it */
	}
	d->n++;
	return 0;
}

struct idx_defs_memo {
	char *branch; /* NULL: nothing kept */
	struct idx_defs defs;
};

void idx_defs_forget(struct idx_db *db)
{
	if (!db->defs_memo)
		return;
	free(db->defs_memo->branch);
	db->defs_memo->branch = NULL;
	idx_defs_release(&db->defs_memo->defs);
}

void idx_defs_memo_free(struct idx_db *db)
{
	idx_defs_forget(db);
	free(db->defs_memo);
	db->defs_memo = NULL;
}

int idx_defs_get(struct idx_db *db, const char *branch,
		 const struct idx_defs **out)
{
	struct idx_defs_memo *m = db->defs_memo;
	int err;

	if (!m && !(m = db->defs_memo = calloc(1, sizeof(*m))))
		return -ENOMEM;
	if (m->branch && !strcmp(m->branch, branch)) {
		*out = &m->defs;
		return 0;
	}
	idx_defs_forget(db);
	if ((err = idx_defs_load(db, branch, &m->defs)) < 0)
		return err;
	if (!(m->branch = strdup(branch))) {
		idx_defs_release(&m->defs);
		return -ENOMEM;
	}
	*out = &m->defs;
	return 0;
}

int idx_defs_load(struct idx_db *db, const char *branch, struct idx_defs *out)
{
	struct idx_key k = { 0 };
	int err;

	memset(out, 0, sizeof(*out));
	err = idx_key_start(&k, 'D', branch);
	if (err == 0)
		err = scan_prefix(db, &k, def_cb, out);
	free(k.p);
	if (err < 0)
		idx_defs_release(out);
	return err;
}

struct build {
	rocksdb_writebatch_t *wb;
	struct idx_key ok, rk;
	size_t oplen, rplen;
};

static int put_row(struct build *b, const struct idx_buf *key, const char *id,
		   const struct store_oid *blob, const char *doc, size_t len)
{
	const char *key_part = NULL, *val[2] = { (const char *)blob->id, doc };
	size_t key_len, val_len[2] = { 20, len <= IDX_INLINE_MAX ? len : 0 };

	b->ok.len = b->oplen;
	b->rk.len = b->rplen;
	if (idx_key_add(&b->ok, key->data, key->len) < 0 ||
	    idx_key_add(&b->rk, id, strlen(id)) < 0)
		return -ENOMEM;
	key_part = (const char *)b->ok.p;
	key_len = b->ok.len;
	rocksdb_writebatch_putv(b->wb, 1, &key_part, &key_len, 2, val, val_len);
	rocksdb_writebatch_put(b->wb, (char *)b->rk.p, b->rk.len,
			       (char *)key->data, key->len);
	return 0;
}

static int build_row_cb(void *ctx, const struct idx_buf *key, const char *id,
			const struct store_oid *blob, const char *doc,
			size_t len)
{
	return put_row(ctx, key, id, blob, doc, len);
}

static int build_start(struct build *b, rocksdb_writebatch_t *wb,
		       const char *branch, const char *collection,
		       const char *canon)
{
	memset(b, 0, sizeof(*b));
	b->wb = wb;
	if (idx_order_prefix(&b->ok, 'O', branch, collection, canon, true) <
		    0 ||
	    idx_order_prefix(&b->rk, 'R', branch, collection, canon, true) < 0)
		return -ENOMEM;
	b->oplen = b->ok.len;
	b->rplen = b->rk.len;
	return 0;
}

static void build_end(struct build *b)
{
	free(b->ok.p);
	free(b->rk.p);
}

int idx_order_build(struct idx_db *db, struct store *st,
		    rocksdb_writebatch_t *wb, const char *branch,
		    const struct store_oid *commit, const char *collection,
		    const struct idx_spec *spec)
{
	struct idx_key dk = { 0 };
	struct build b;
	int err = build_start(&b, wb, branch, collection, spec->canon);

	if (err == 0)
		err = idx_rows_of_tree(st, branch, commit, collection, spec,
				       build_row_cb, &b);
	if (err == 0 && (err = idx_order_prefix(&dk, 'D', branch, collection,
						spec->canon, false)) == 0)
		rocksdb_writebatch_put(wb, (char *)dk.p, dk.len, "", 0);
	free(dk.p);
	build_end(&b);
	return err;
}

/* Split PATH into collection and document id; 0 if not a document. */
static int split(const char *path, char **collection, char **id)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	size_t len = strlen(name);

	*collection = *id = NULL;
	if (!store_is_document_path(path))
		return 0;
	*collection = strndup(path, slash ? (size_t)(slash - path) : 0);
	*id = strndup(name, len - 5);
	if (!*collection || !*id) {
		free(*collection);
		free(*id);
		return -ENOMEM;
	}
	return 1;
}

static int apply_one(struct idx_db *db, struct store *st, struct build *b,
		     const struct idx_def *def, const char *branch,
		     const char *path, const char *id,
		     const struct store_oid *blob)
{
	struct idx_buf key;
	char *old, *e = NULL, *buf = NULL;
	size_t olen, len;
	json_t *doc = NULL;
	int err = 0;

	b->rk.len = b->rplen;
	if (idx_key_add(&b->rk, id, strlen(id)) < 0)
		return -ENOMEM;
	old = rocksdb_get(db->db, db->ropts, (char *)b->rk.p, b->rk.len, &olen,
			  &e);
	if (e)
		return idx_rocks_fail(e, "get row");
	if (old) {
		b->ok.len = b->oplen;
		if (idx_key_add(&b->ok, old, olen) == 0)
			rocksdb_writebatch_delete(b->wb, (char *)b->ok.p,
						  b->ok.len);
		rocksdb_free(old);
	}
	if (!blob) {
		rocksdb_writebatch_delete(b->wb, (char *)b->rk.p, b->rk.len);
		return 0;
	}
	idx_buf_init(&key);
	err = store_doc_read(st, blob, &buf, &len);
	if (err == -EFBIG) {
		/* Over max_doc_size (committed from outside): no row. */
		idx_skip_say(branch, path, blob, len, store_max_doc_size(st));
		rocksdb_writebatch_delete(b->wb, (char *)b->rk.p, b->rk.len);
		return 0;
	}
	if (err == 0) {
		doc = idx_doc_parse(buf, len);
		err = idx_row_key(&key, doc, &def->spec, id);
	}
	if (err == 0)
		err = put_row(b, &key, id, blob, buf, len);
	json_decref(doc);
	free(buf);
	idx_buf_release(&key);
	return err;
}

int idx_order_apply(struct idx_db *db, struct store *st,
		    rocksdb_writebatch_t *wb, const struct idx_defs *defs,
		    const char *branch, const char *path,
		    const struct store_oid *new_blob)
{
	char *collection, *id;
	int err = defs->n ? split(path, &collection, &id) : 0;

	if (err <= 0)
		return err;
	err = 0;
	for (size_t i = 0; err == 0 && i < defs->n; i++) {
		struct build b;

		if (strcmp(defs->v[i].collection, collection))
			continue;
		err = build_start(&b, wb, branch, collection,
				  defs->v[i].spec.canon);
		if (err == 0)
			err = apply_one(db, st, &b, &defs->v[i], branch, path,
					id, new_blob);
		build_end(&b);
	}
	free(collection);
	free(id);
	return err;
}

int idx_order_defined(struct idx_db *db, const char *branch,
		      const char *collection, const char *canon, bool *exists,
		      size_t *count)
{
	struct idx_defs d = { 0 };
	int err = idx_defs_load(db, branch, &d);

	*exists = false;
	*count = 0;
	for (size_t i = 0; err == 0 && i < d.n; i++) {
		if (strcmp(d.v[i].collection, collection))
			continue;
		(*count)++;
		if (!strcmp(d.v[i].spec.canon, canon))
			*exists = true;
	}
	idx_defs_release(&d);
	return err;
}

int idx_order_drop_locked(struct idx_db *db, const char *branch,
			  const char *collection, const char *canon)
{
	struct idx_key k = { 0 }, hi = { 0 };
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	char *e = NULL;
	const char fam[2] = { 'O', 'R' };
	int err = 0;

	for (int i = 0; i < 2 && err == 0; i++) {
		if (idx_order_prefix(&k, fam[i], branch, collection, canon,
				     true) < 0 ||
		    idx_order_prefix(&hi, fam[i], branch, collection, canon,
				     true) < 0) {
			err = -ENOMEM;
			break;
		}
		hi.p[hi.len - 1] = 1;
		rocksdb_writebatch_delete_range(wb, (char *)k.p, k.len,
						(char *)hi.p, hi.len);
	}
	if (err == 0 && (err = idx_order_prefix(&k, 'D', branch, collection,
						canon, false)) == 0) {
		rocksdb_writebatch_delete(wb, (char *)k.p, k.len);
		rocksdb_write(db->db, db->wopts, wb, &e);
		if (e)
			err = idx_rocks_fail(e, "drop index");
		idx_defs_forget(db);
	}
	rocksdb_writebatch_destroy(wb);
	free(k.p);
	free(hi.p);
	return err;
}

int idx_order_drop(struct idx_db *db, const char *branch,
		   const char *collection, const char *canon)
{
	int err;

	pthread_mutex_lock(&db->catchup_lock);
	err = idx_order_drop_locked(db, branch, collection, canon);
	idx_catchup_unlock(db);
	return err;
}

struct list_ctx {
	struct idx_db *db;
	idx_def_cb cb;
	void *ctx;
};

static int count_cb(void *ctx, const char *tail, size_t len, const char *val,
		    size_t vlen)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

/* Rows, and rows whose document has the first field. */
struct counts {
	uint64_t rows, with_field;
};

static int field_cb(void *ctx, const char *tail, size_t len, const char *val,
		    size_t vlen)
{
	struct counts *c = ctx;
	/* The codec's version byte, then the first component's tag. */
	unsigned char t = len > 1 ? (unsigned char)tail[1] :
				    IDX_KEY_TAG_MISSING;

	c->rows++;
	c->with_field += t != IDX_KEY_TAG_MISSING &&
			 t != (unsigned char)~IDX_KEY_TAG_MISSING;
	return 0;
}

int idx_order_count(struct idx_db *db, const char *branch,
		    const char *collection, const char *canon, uint64_t *rows,
		    uint64_t *with_field)
{
	struct idx_key k = { 0 };
	struct counts c = { 0 };
	int err = idx_order_prefix(&k, 'O', branch, collection, canon, true);

	if (err == 0)
		err = scan_prefix(db, &k, field_cb, &c);
	free(k.p);
	*rows = c.rows;
	*with_field = c.with_field;
	return err;
}

static int list_def_cb(void *ctx, const char *tail, size_t len, const char *val,
		       size_t vlen)
{
	struct list_ctx *l = ctx;
	const char *branch = tail, *coll, *canon;
	struct idx_key k = { 0 };
	uint64_t rows = 0;
	int err;

	coll = memchr(branch, '\0', len);
	canon = coll ? memchr(coll + 1, '\0', len - (size_t)(coll + 1 - tail)) :
		       NULL;
	if (!canon)
		return 0;
	coll++;
	canon++;
	char *c = strndup(canon, len - (size_t)(canon - tail));

	if (!c)
		return -ENOMEM;
	err = idx_order_prefix(&k, 'O', branch, coll, c, true);
	if (err == 0)
		err = scan_prefix(l->db, &k, count_cb, &rows);
	if (err == 0)
		err = l->cb(l->ctx, branch, coll, c, rows);
	free(k.p);
	free(c);
	return err;
}

int idx_order_list(struct idx_db *db, idx_def_cb cb, void *ctx)
{
	struct idx_key k = { .p = (unsigned char *)"D", .len = 1 };
	struct list_ctx l = { db, cb, ctx };

	return scan_prefix(db, &k, list_def_cb, &l);
}
