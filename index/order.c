/* order.c - ordered indexes (see order.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "keycodec.h"
#include "order.h"
#include "order_int.h"
#include "banned.h"

int idx_spec_parse(struct idx_spec *out, const char *text)
{
	const char *p = text;
	size_t clen = 0;

	memset(out, 0, sizeof(*out));
	while (*p) {
		size_t len = strcspn(p, ",");
		bool desc = *p == '-';

		if (desc || *p == '+')
			p++, len--;
		/* One direction sign; a field name never starts with one,
		 * so the canonical text parses back to the same spec. */
		if (len == 0 || out->n == IDX_SPEC_MAX_FIELDS || p[0] == '.' ||
		    p[0] == '+' || p[0] == '-' || p[len - 1] == '.' ||
		    memchr(p, '/', len)) {
			idx_spec_release(out);
			return idx_fail(-EINVAL, "bad index spec '%s'", text);
		}
		out->fields[out->n] = strndup(p, len);
		out->desc[out->n] = desc;
		if (!out->fields[out->n++]) {
			idx_spec_release(out);
			return -ENOMEM;
		}
		clen += len + 2;
		p += len;
		if (*p == ',' && !*++p) {
			idx_spec_release(out);
			return idx_fail(-EINVAL, "bad index spec '%s'", text);
		}
	}
	if (out->n == 0)
		return idx_fail(-EINVAL, "empty index spec");
	out->canon = calloc(1, clen + 1);
	if (!out->canon) {
		idx_spec_release(out);
		return -ENOMEM;
	}
	for (size_t i = 0, at = 0; i < out->n; i++)
		at += (size_t)snprintf(out->canon + at, clen + 1 - at, "%s%s%s",
				       i ? "," : "", out->desc[i] ? "-" : "",
				       out->fields[i]);
	return 0;
}

void idx_spec_release(struct idx_spec *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->fields[i]);
	free(s->canon);
	memset(s, 0, sizeof(*s));
}

json_t *idx_doc_parse(const char *buf, size_t len)
{
	json_error_t e;
	json_t *v = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

	/* Integers past int64 are valid JSON; order them as doubles. */
	if (!v)
		v = json_loadb(buf, len,
			       JSON_DECODE_ANY | JSON_ALLOW_NUL |
				       JSON_DECODE_INT_AS_REAL,
			       &e);
	return v;
}

/* The value at dotted PATH in DOC (borrowed), or NULL when missing. */
static json_t *field(json_t *doc, const char *path)
{
	char name[256];

	while (doc && *path) {
		size_t len = strcspn(path, ".");

		if (!json_is_object(doc) || len >= sizeof(name))
			return NULL;
		memcpy(name, path, len);
		name[len] = '\0';
		doc = json_object_get(doc, name);
		path += len + (path[len] == '.');
	}
	return doc;
}

int idx_row_key(struct idx_buf *out, json_t *doc, const struct idx_spec *spec,
		const char *id)
{
	json_t *values[IDX_SPEC_MAX_FIELDS];

	for (size_t i = 0; i < spec->n; i++)
		values[i] = field(doc, spec->fields[i]);
	out->len = 0;
	return idx_key_encode(out, values, spec->desc, spec->n, id, strlen(id));
}

/* 'F' B \0 C \0 S [\0] */
int idx_order_prefix(struct idx_key *k, char family, const char *branch,
		     const char *collection, const char *canon, bool sep)
{
	if (idx_key_start(k, family, branch) < 0 ||
	    idx_key_add(k, collection, strlen(collection) + 1) < 0 ||
	    idx_key_add(k, canon, strlen(canon) + (sep ? 1 : 0)) < 0)
		return -ENOMEM;
	return 0;
}

static int key_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
		   size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	return c ? c : (alen > blen) - (alen < blen);
}

/* Key bounds [lo, hi) for RANGE on the first field (empty: unbounded). */
static int bounds(const struct idx_spec *spec, const struct idx_range *r,
		  struct idx_buf *lo, struct idx_buf *hi)
{
	bool d = spec->desc[0];
	struct {
		const json_t *v;
		bool upper, succ; /* which bound, and past V's keys or not */
	} b[4] = {
		{ r->ge, d, d }, /* asc: lo = P(V)    desc: hi = S(P(V)) */
		{ r->gt, d, !d }, /* asc: lo = S(P(V)) desc: hi = P(V) */
		{ r->lt, !d, d }, /* asc: hi = P(V)    desc: lo = S(P(V)) */
		{ r->le, !d, !d },
	};
	struct idx_buf one;
	int err = 0;

	idx_buf_init(&one);
	for (int i = 0; i < 4 && err == 0; i++) {
		struct idx_buf *out = b[i].upper ? hi : lo;
		json_t *v = (json_t *)b[i].v;
		int c;

		if (!v)
			continue;
		one.len = 0;
		if ((err = idx_key_encode_prefix(&one, &v, &d, 1)) < 0 ||
		    (b[i].succ && (err = idx_key_prefix_successor(&one)) < 0))
			break;
		/* Bounds on the same side intersect: keep the tighter. */
		c = out->len ? key_cmp(one.data, one.len, out->data, out->len) :
			       0;
		if (!out->len || (b[i].upper ? c < 0 : c > 0)) {
			out->len = 0;
			err = idx_buf_append(out, one.data, one.len);
		}
	}
	idx_buf_release(&one);
	return err;
}

static bool below(const unsigned char *key, size_t len,
		  const struct idx_buf *hi)
{
	return !hi->len || key_cmp(key, len, hi->data, hi->len) < 0;
}

/* The document id at the end of codec key K: decoding the fields skips
 * them exactly. Caller frees. */
static int key_id(const unsigned char *k, size_t len,
		  const struct idx_spec *spec, char **id)
{
	json_t *values[IDX_SPEC_MAX_FIELDS];
	size_t idlen;
	int err =
		idx_key_decode(values, id, &idlen, k, len, spec->desc, spec->n);

	if (err < 0)
		return err;
	for (size_t i = 0; i < spec->n; i++)
		json_decref(values[i]);
	return 0;
}

int idx_row_read(struct store *st, const struct store_oid *blob,
		 const char *doc, size_t len, char **out, size_t *outlen)
{
	if (!doc)
		return store_blob_read(st, blob, out, outlen);
	*out = malloc(len ? len : 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, doc, len);
	*outlen = len;
	return 0;
}

int idx_order_scan(struct idx_db *db, const char *branch,
		   const char *collection, const struct idx_spec *spec,
		   const struct idx_range *range, idx_row_cb cb, void *ctx)
{
	struct idx_key k = { 0 };
	struct idx_buf lo, hi, upper;
	rocksdb_readoptions_t *ro = NULL;
	rocksdb_iterator_t *it = NULL;
	char *val, *e = NULL, *id = NULL;
	size_t plen, vlen, rows = 0;
	int err;

	idx_buf_init(&lo);
	idx_buf_init(&hi);
	idx_buf_init(&upper);
	if ((err = idx_order_prefix(&k, 'D', branch, collection, spec->canon,
				    false)) < 0)
		goto out;
	val = rocksdb_get(db->db, db->ropts, (char *)k.p, k.len, &vlen, &e);
	if (e) {
		err = idx_rocks_fail(e, "get index");
		goto out;
	}
	rocksdb_free(val);
	if (!val) {
		err = -ENOENT;
		goto out;
	}
	if ((err = idx_order_prefix(&k, 'O', branch, collection, spec->canon,
				    true)) < 0 ||
	    (err = bounds(spec, range, &lo, &hi)) < 0)
		goto out;
	plen = k.len;
	/* Stop at the end of this index, or at the range's upper bound. */
	if ((err = idx_buf_append(&upper, k.p, plen)) < 0)
		goto out;
	if (hi.len) {
		if ((err = idx_buf_append(&upper, hi.data, hi.len)) < 0)
			goto out;
	} else {
		upper.data[plen - 1] = 1;
	}
	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_upper_bound(ro, (char *)upper.data,
						    upper.len);
	it = rocksdb_create_iterator(db->db, ro);
	if ((err = idx_key_add(&k, lo.data, lo.len)) < 0)
		goto out;
	for (rocksdb_iter_seek(it, (char *)k.p, k.len);
	     rocksdb_iter_valid(it) && err == 0 &&
	     (!range->limit || rows < range->limit);
	     rocksdb_iter_next(it)) {
		size_t klen;
		const unsigned char *key =
			(const unsigned char *)rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		struct store_oid blob;

		if (klen < plen || vlen < 20 ||
		    !below(key + plen, klen - plen, &hi))
			break;
		if ((err = key_id(key + plen, klen - plen, spec, &id)) < 0)
			break;
		memcpy(blob.id, v, 20);
		err = cb(ctx, id, &blob, vlen > 20 ? v + 20 : NULL, vlen - 20);
		free(id);
		id = NULL;
		rows++;
	}
	if (it)
		rocksdb_iter_get_error(it, &e);
	if (e && err == 0)
		err = idx_rocks_fail(e, "scan index");
out:
	if (it)
		rocksdb_iter_destroy(it);
	if (ro)
		rocksdb_readoptions_destroy(ro);
	idx_buf_release(&upper);
	idx_buf_release(&lo);
	idx_buf_release(&hi);
	free(k.p);
	return err;
}

/* In-memory rows of one collection at one commit. */
struct mem_row {
	struct idx_buf key;
	char *id;
	struct store_oid blob;
};

struct mem_rows {
	struct mem_row *v;
	size_t n, cap;
	struct store_oid *blobs;
	char **names;
	size_t nnames, capnames;
};

static int doc_id(const char *name, char **out)
{
	size_t len = strlen(name);

	*out = NULL;
	if (!store_is_document_path(name))
		return 0;
	*out = strndup(name, len - 5);
	return *out ? 1 : -ENOMEM;
}

/* NAME of COLLECTION is over max_doc_size: left out, and said. */
static void skipped(struct store *st, const char *branch,
		    const char *collection, const char *name,
		    const struct store_oid *blob, size_t size)
{
	char *path;

	if (asprintf(&path, "%s%s%s", collection, *collection ? "/" : "",
		     name) < 0)
		return;
	idx_skip_say(branch, path, blob, size, store_max_doc_size(st));
	free(path);
}

/* Collect the names first: reading blobs inside the store's readdir
 * callback would re-enter the store. */
static int mem_name_cb(void *ctx, const char *name, const struct store_entry *e)
{
	struct mem_rows *m = ctx;

	if (e->kind != STORE_DOC)
		return 0;
	if (m->nnames == m->capnames) {
		size_t cap = m->capnames ? m->capnames * 2 : 64;
		char **nv = realloc(m->names, cap * sizeof(*nv));
		struct store_oid *bv;

		if (!nv)
			return -ENOMEM;
		m->names = nv;
		bv = realloc(m->blobs, cap * sizeof(*bv));
		if (!bv)
			return -ENOMEM;
		m->blobs = bv;
		m->capnames = cap;
	}
	m->names[m->nnames] = strdup(name);
	if (!m->names[m->nnames])
		return -ENOMEM;
	m->blobs[m->nnames++] = e->oid;
	return 0;
}

int idx_rows_of_tree(struct store *st, const char *branch,
		     const struct store_oid *commit, const char *collection,
		     const struct idx_spec *spec, idx_tree_row_cb cb, void *ctx)
{
	struct mem_rows m = { 0 };
	struct idx_buf key;
	int err;

	idx_buf_init(&key);
	err = store_readdir(st, commit, collection, mem_name_cb, &m);
	if (err == -ENOENT)
		err = 0; /* no such collection: no rows */
	for (size_t i = 0; err == 0 && i < m.nnames; i++) {
		char *id, *buf = NULL;
		size_t len;
		json_t *doc;

		err = doc_id(m.names[i], &id);
		if (err <= 0)
			continue;
		err = store_doc_read(st, &m.blobs[i], &buf, &len);
		if (err == -EFBIG) {
			skipped(st, branch, collection, m.names[i], &m.blobs[i],
				len);
			free(id);
			err = 0;
			continue;
		}
		doc = err == 0 ? idx_doc_parse(buf, len) : NULL;
		if (err == 0)
			err = idx_row_key(&key, doc, spec, id);
		if (err == 0)
			err = cb(ctx, &key, id, &m.blobs[i], buf, len);
		json_decref(doc);
		free(buf);
		free(id);
	}
	for (size_t i = 0; i < m.nnames; i++)
		free(m.names[i]);
	free(m.names);
	free(m.blobs);
	idx_buf_release(&key);
	return err;
}

/* Rows of a snapshot are kept without their bytes: a whole collection
 * would be held twice. */
static int mem_row_cb(void *ctx, const struct idx_buf *key, const char *id,
		      const struct store_oid *blob, const char *doc, size_t len)
{
	struct mem_rows *m = ctx;
	struct mem_row *r;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct mem_row *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	r = &m->v[m->n];
	idx_buf_init(&r->key);
	r->blob = *blob;
	r->id = strdup(id);
	if (!r->id || idx_buf_append(&r->key, key->data, key->len) < 0) {
		free(r->id);
		idx_buf_release(&r->key);
		return -ENOMEM;
	}
	m->n++;
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const struct idx_buf *x = &((const struct mem_row *)a)->key;
	const struct idx_buf *y = &((const struct mem_row *)b)->key;

	return key_cmp(x->data, x->len, y->data, y->len);
}

static bool at_least(const struct idx_buf *key, const struct idx_buf *lo)
{
	return !lo->len || key_cmp(key->data, key->len, lo->data, lo->len) >= 0;
}

int idx_order_scan_commit(struct store *st, const char *branch,
			  const struct store_oid *commit,
			  const char *collection, const struct idx_spec *spec,
			  const struct idx_range *range, idx_row_cb cb,
			  void *ctx)
{
	struct mem_rows m = { 0 };
	struct idx_buf lo, hi;
	size_t rows = 0;
	int err;

	idx_buf_init(&lo);
	idx_buf_init(&hi);
	err = bounds(spec, range, &lo, &hi);
	if (err == 0)
		err = idx_rows_of_tree(st, branch, commit, collection, spec,
				       mem_row_cb, &m);
	if (err == 0)
		qsort(m.v, m.n, sizeof(*m.v), cmp_row);
	for (size_t i = 0; err == 0 && i < m.n; i++) {
		if (range->limit && rows == range->limit)
			break;
		if (!at_least(&m.v[i].key, &lo))
			continue;
		if (!below(m.v[i].key.data, m.v[i].key.len, &hi))
			break;
		err = cb(ctx, m.v[i].id, &m.v[i].blob, NULL, 0);
		rows++;
	}
	for (size_t i = 0; i < m.n; i++) {
		free(m.v[i].id);
		idx_buf_release(&m.v[i].key);
	}
	free(m.v);
	idx_buf_release(&lo);
	idx_buf_release(&hi);
	return err;
}
