/* chronofs.c - libchronofs: the public API (chronofs.h) over store/ and
 * index/, the same functions the daemon and chronofsctl are built on.
 *
 * The index database (RocksDB) admits one writer process: a running mount
 * holds it. So the library opens it per call, read-write when it can (and
 * then keeps the indexes current itself), else read-only, where answers the
 * index may not have yet (the branch head moved) come from Git directly. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chronofs.h"
#include "db.h"
#include "history.h"
#include "json.h"
#include "order.h"
#include "store.h"

#define MAX_DOC_SIZE (16u << 20)

struct chronofs {
	struct store *st;
	char *index_dir;
};

struct row {
	char *id;
	struct store_oid blob;
	char *doc; /* the bytes, NUL-terminated, when the index row held them */
	size_t len;
};

struct chronofs_iter {
	chronofs *db;
	struct row *rows;
	size_t n, cap, next;
	char *json; /* the current row's document */
};

/* The last failure of this thread, and the handle it was on. */
static _Thread_local struct {
	const chronofs *db;
	char msg[1024];
} last;

static int fail(chronofs *db, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(chronofs *db, int err, const char *fmt, ...)
{
	va_list ap;

	last.db = db;
	va_start(ap, fmt);
	vsnprintf(last.msg, sizeof(last.msg), fmt, ap);
	va_end(ap);
	return err;
}

/* A failure whose message is the store's. */
static int fail_lib(chronofs *db, int err, const char *what)
{
	const char *m = store_errmsg();

	return fail(db, err, "%s: %s", what, *m ? m : strerror(-err));
}

/* A failure whose message is the index's. */
static int fail_idx(chronofs *db, int err, const char *what)
{
	const char *m = idx_errmsg();

	return fail(db, err, "%s: %s", what, *m ? m : strerror(-err));
}

const char *chronofs_errmsg(chronofs *db)
{
	return last.db == db ? last.msg : "";
}

const char *chronofs_version(void)
{
	return CHRONOFS_VERSION;
}

void chronofs_free(void *p)
{
	free(p);
}

void chronofs_strings_free(char **v, size_t n)
{
	store_strv_free(v, n);
}

int chronofs_init(const char *path)
{
	int err = store_init(path);

	return err < 0 ? fail_lib(NULL, err, path) : 0;
}

int chronofs_open(chronofs **out, const char *path, const char *author)
{
	struct store_opts so = {.author = author, .fsync = true};
	chronofs *db;
	int err;

	*out = NULL;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	err = store_open(&db->st, path, &so);
	if (err < 0) {
		fail_lib(NULL, err, path);
		free(db);
		return err;
	}
	if (asprintf(&db->index_dir, "%s/chronofs/index",
		     store_gitdir(db->st)) < 0) {
		store_close(db->st);
		free(db);
		return -ENOMEM;
	}
	*out = db;
	return 0;
}

void chronofs_close(chronofs *db)
{
	if (!db)
		return;
	store_close(db->st);
	free(db->index_dir);
	free(db);
}

static int open_index(chronofs *db, struct idx_db **out)
{
	int err = idx_db_open(out, db->index_dir, true);

	return err < 0 ? fail_idx(db, err, "index") : 0;
}

static void commit_hex(char out[CHRONOFS_COMMIT_HEXSZ + 1],
		       const struct store_oid *commit)
{
	if (out)
		store_oid_fmt(out, commit);
}

/* One change, then the indexes, as the daemon's fs_commit does. */
static int apply(chronofs *db, const char *branch,
		 const struct store_change *c,
		 char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct store_commit_info info;
	struct idx_db *idx;
	int rc = store_apply_info(db->st, branch, c, &info);

	if (commit)
		commit[0] = '\0';
	if (rc < 0)
		return fail_lib(db, rc, c->path);
	if (rc > 0)
		return 0;
	commit_hex(commit, &info.commit);
	/* Best effort: a mount holding the index catches up by itself. */
	if (idx_db_open(&idx, db->index_dir, true) == 0) {
		idx_history_add(idx, db->st, branch, &info, NULL);
		idx_db_close(idx);
	}
	return 0;
}

int chronofs_put(chronofs *db, const char *branch, const char *path,
		 const char *json, size_t len,
		 char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct store_change c = {.op = STORE_PUT, .path = path, .data = json,
				 .len = len};
	struct store_json_error e;

	if (len > MAX_DOC_SIZE)
		return fail(db, -EFBIG, "%s: %zu bytes is over %u", path, len,
			    MAX_DOC_SIZE);
	if (store_json_validate(json, len, &e) < 0)
		return fail(db, -EINVAL,
			    "%s: invalid JSON at line %u, column %u: %s", path,
			    e.line, e.column, e.reason);
	return apply(db, branch, &c, commit);
}

int chronofs_delete(chronofs *db, const char *branch, const char *path,
		    char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct store_change c = {.op = STORE_DELETE, .path = path};

	return apply(db, branch, &c, commit);
}

int chronofs_rename(chronofs *db, const char *branch, const char *from,
		    const char *to, char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct store_change c = {.op = STORE_RENAME, .path = from, .to = to};

	return apply(db, branch, &c, commit);
}

/* The blob of PATH at COMMIT, NUL-terminated. */
static int read_at(chronofs *db, const struct store_oid *commit,
		   const char *path, char **json, size_t *len)
{
	struct store_entry e;
	char *buf, *grown;
	int err;

	*json = NULL;
	*len = 0;
	err = store_stat(db->st, commit, path, &e);
	if (err == 0 && e.kind != STORE_DOC)
		err = -EISDIR;
	if (err == 0)
		err = store_blob_read(db->st, &e.oid, &buf, len);
	if (err < 0)
		return fail_lib(db, err, path);
	grown = realloc(buf, *len + 1);
	if (!grown) {
		free(buf);
		return -ENOMEM;
	}
	grown[*len] = '\0';
	*json = grown;
	return 0;
}

int chronofs_get(chronofs *db, const char *branch, const char *path,
		 char **json, size_t *len)
{
	struct store_oid head;
	int err = store_branch_head(db->st, branch, &head);

	if (err < 0)
		return fail_lib(db, err, branch);
	return read_at(db, &head, path, json, len);
}

struct names {
	char **v;
	size_t n, cap;
};

static int name_cb(void *ctx, const char *name, const struct store_entry *e)
{
	struct names *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (asprintf(&l->v[l->n], "%s%s", name,
		     e->kind == STORE_DIR ? "/" : "") < 0)
		return -ENOMEM;
	l->n++;
	return 0;
}

int chronofs_list(chronofs *db, const char *branch, const char *collection,
		  char ***names, size_t *n)
{
	struct names l = {0};
	struct store_oid head;
	int err = store_branch_head(db->st, branch, &head);

	*names = NULL;
	*n = 0;
	if (err == 0)
		err = store_readdir(db->st, &head, collection, name_cb, &l);
	if (err < 0) {
		store_strv_free(l.v, l.n);
		return fail_lib(db, err, *collection ? collection : branch);
	}
	*names = l.v;
	*n = l.n;
	return 0;
}

static int resolve(chronofs *db, const char *branch, const char *when,
		   struct store_oid *out)
{
	struct idx_db *idx = NULL;
	int err;

	if ((err = open_index(db, &idx)) < 0)
		return err;
	err = idx_history_resolve(idx, db->st, branch, when, strlen(when), out);
	idx_db_close(idx);
	if (err == -ENOENT)
		return fail(db, err, "%s@%s: no such commit", branch, when);
	return err < 0 ? fail_idx(db, err, branch) : 0;
}

int chronofs_get_at(chronofs *db, const char *branch, const char *when,
		    const char *path, char **json, size_t *len)
{
	struct store_oid commit;
	int err = resolve(db, branch, when, &commit);

	*json = NULL;
	*len = 0;
	return err < 0 ? err : read_at(db, &commit, path, json, len);
}

struct versions {
	chronofs_rev *v;
	size_t n, cap;
};

static int add_version(struct versions *l, const struct store_oid *commit,
		       int64_t time, bool deleted)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		chronofs_rev *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	store_oid_fmt(l->v[l->n].commit, commit);
	l->v[l->n].time = time;
	l->v[l->n].deleted = deleted;
	l->n++;
	return 0;
}

static int version_cb(void *ctx, int64_t time, const struct store_oid *commit,
		      const struct store_oid *blob)
{
	return add_version(ctx, commit, time, blob == NULL);
}

/* The log walk (newest first), for a read-only index that lags. */
struct logged {
	struct store_oid *commits;
	int64_t *times;
	size_t n, cap;
};

static int log_cb(void *ctx, const struct store_oid *commit, int64_t time,
		  const char *summary)
{
	struct logged *g = ctx;

	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct store_oid *c = realloc(g->commits, cap * sizeof(*c));
		int64_t *t;

		if (!c)
			return -ENOMEM;
		g->commits = c;
		if (!(t = realloc(g->times, cap * sizeof(*t))))
			return -ENOMEM;
		g->times = t;
		g->cap = cap;
	}
	g->commits[g->n] = *commit;
	g->times[g->n++] = time;
	return 0;
}

static int history_by_walk(chronofs *db, const char *branch, const char *path,
			   struct versions *l)
{
	struct logged g = {0};
	struct store_entry e;
	int err = store_log(db->st, branch, path, log_cb, &g);

	for (size_t i = g.n; err == 0 && i-- > 0;)
		err = add_version(l, &g.commits[i], g.times[i],
				  store_stat(db->st, &g.commits[i], path, &e) <
					  0);
	free(g.commits);
	free(g.times);
	return err;
}

int chronofs_history(chronofs *db, const char *branch, const char *path,
		     chronofs_rev **versions, size_t *n)
{
	struct versions l = {0};
	struct idx_db *idx = NULL;
	int err;

	*versions = NULL;
	*n = 0;
	if ((err = open_index(db, &idx)) < 0)
		return err;
	err = idx_history_catchup(idx, db->st, branch, NULL);
	if (err == 0 && idx_history_fresh(idx, db->st, branch))
		err = idx_history_versions(idx, branch, path, version_cb, &l);
	else if (err == 0)
		err = history_by_walk(db, branch, path, &l);
	idx_db_close(idx);
	if (err < 0) {
		free(l.v);
		return fail_lib(db, err, path);
	}
	*versions = l.v;
	*n = l.n;
	return 0;
}

int chronofs_branches(chronofs *db, char ***names, size_t *n)
{
	int err = store_branch_list(db->st, names, n);

	return err < 0 ? fail_lib(db, err, "branches") : 0;
}

int chronofs_branch_create(chronofs *db, const char *name)
{
	int err = store_branch_create(db->st, name);

	return err < 0 ? fail_lib(db, err, name) : 0;
}

int chronofs_branch_delete(chronofs *db, const char *name)
{
	struct idx_db *idx;
	int err = store_branch_delete(db->st, name);

	if (err < 0)
		return fail_lib(db, err, name);
	if (idx_db_open(&idx, db->index_dir, true) == 0) {
		idx_history_drop(idx, name);
		idx_db_close(idx);
	}
	return 0;
}

static int row_cb(void *ctx, const char *id, const struct store_oid *blob,
		  const char *doc, size_t len)
{
	chronofs_iter *it = ctx;
	struct row *r;

	if (it->n == it->cap) {
		size_t cap = it->cap ? it->cap * 2 : 64;
		struct row *v = realloc(it->rows, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		it->rows = v;
		it->cap = cap;
	}
	r = &it->rows[it->n];
	memset(r, 0, sizeof(*r));
	r->blob = *blob;
	if (!(r->id = strdup(id)))
		return -ENOMEM;
	it->n++;
	if (doc) {
		if (!(r->doc = malloc(len + 1)))
			return -ENOMEM;
		memcpy(r->doc, doc, len);
		r->doc[len] = '\0';
		r->len = len;
	}
	return 0;
}

static json_t *bound(const char *text)
{
	json_error_t e;

	return text ? json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e)
		    : NULL;
}

int chronofs_query(chronofs *db, const char *branch, const char *collection,
		   const char *spec_text, const char *from, const char *to,
		   size_t limit, chronofs_iter **out)
{
	struct idx_range range = {.limit = limit};
	struct idx_spec spec;
	struct idx_db *idx = NULL;
	struct store_oid head;
	chronofs_iter *it;
	json_t *lo = bound(from), *hi = bound(to);
	bool built;
	int err;

	*out = NULL;
	if ((from && !lo) || (to && !hi)) {
		err = fail(db, -EINVAL, "query bounds must be JSON values");
		goto out_bounds;
	}
	range.ge = lo;
	range.lt = hi;
	if ((err = idx_spec_parse(&spec, spec_text)) < 0) {
		fail_lib(db, err, spec_text);
		goto out_bounds;
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		err = -ENOMEM;
		goto out_spec;
	}
	it->db = db;
	if ((err = open_index(db, &idx)) < 0)
		goto out_iter;
	err = idx_order_ensure(idx, db->st, branch, collection, &spec, &built);
	if (err == 0 && idx_history_fresh(idx, db->st, branch))
		err = idx_order_scan(idx, branch, collection, &spec, &range,
				     row_cb, it);
	else if (err == 0)
		err = -ENOENT;
	/* No current index here (a mount holds it): compute from Git. */
	if (err == -ENOENT && (err = store_branch_head(db->st, branch,
						       &head)) == 0)
		err = idx_order_scan_commit(db->st, &head, collection, &spec,
					    &range, row_cb, it);
	idx_db_close(idx);
out_iter:
	if (err < 0) {
		fail_lib(db, err, collection);
		chronofs_iter_free(it);
	} else {
		*out = it;
	}
out_spec:
	idx_spec_release(&spec);
out_bounds:
	json_decref(lo);
	json_decref(hi);
	return err;
}

int chronofs_iter_next(chronofs_iter *it, const char **id, const char **json,
		       size_t *len)
{
	struct row *r;
	char *buf;
	int err;

	if (it->next >= it->n)
		return 0;
	r = &it->rows[it->next++];
	free(it->json);
	it->json = NULL;
	if (r->doc) {
		/* Carried by the index row: hand it over. */
		it->json = r->doc;
		r->doc = NULL;
		*len = r->len;
		*id = r->id;
		*json = it->json;
		return 1;
	}
	err = store_blob_read(it->db->st, &r->blob, &buf, len);
	if (err < 0)
		return fail_lib(it->db, err, r->id);
	it->json = realloc(buf, *len + 1);
	if (!it->json) {
		free(buf);
		return -ENOMEM;
	}
	it->json[*len] = '\0';
	*id = r->id;
	*json = it->json;
	return 1;
}

void chronofs_iter_free(chronofs_iter *it)
{
	if (!it)
		return;
	for (size_t i = 0; i < it->n; i++) {
		free(it->rows[i].id);
		free(it->rows[i].doc);
	}
	free(it->rows);
	free(it->json);
	free(it);
}
