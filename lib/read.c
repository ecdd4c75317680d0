/* read.c - reading documents and history: heads, tree lookups, blobs,
 * time resolution (a lookup in the time index, never a walk while the
 * index is current) and the versions of a document. */
#include <stdio.h>
#include <stdlib.h>

#include "history.h"
#include "lib_int.h"
#include "banned.h"

int cfs_head(chronofs *db, const char *branch, struct cfs_oid *out)
{
	struct store_oid h;
	int err;

	lib_enter();
	err = store_branch_head(db->st, branch, &h);
	if (err < 0)
		return lib_fail(err, branch);
	*out = lib_coid(&h);
	return 0;
}

int cfs_stat(chronofs *db, const struct cfs_oid *commit, const char *path,
	     struct cfs_entry *out)
{
	struct store_oid c = lib_soid(commit);
	struct store_entry e;
	int err;

	lib_enter();
	err = store_stat(db->st, &c, path, &e);
	if (err < 0)
		return lib_fail(err, path);
	lib_centry(out, &e);
	return 0;
}

struct dir_ctx {
	cfs_dir_cb cb;
	void *ctx;
};

static int dir_cb(void *ctx, const char *name, const struct store_entry *e)
{
	struct dir_ctx *d = ctx;
	struct cfs_entry ce;

	lib_centry(&ce, e);
	return d->cb(d->ctx, name, &ce);
}

int cfs_readdir(chronofs *db, const struct cfs_oid *commit, const char *path,
		cfs_dir_cb cb, void *ctx)
{
	struct store_oid c = lib_soid(commit);
	struct dir_ctx d = { cb, ctx };
	int err;

	lib_enter();
	err = store_readdir(db->st, &c, path, dir_cb, &d);
	return err < 0 ? lib_fail(err, path) : err;
}

int cfs_blob_read(chronofs *db, const struct cfs_oid *blob, char **out,
		  size_t *len)
{
	struct store_oid b = lib_soid(blob);
	int err;

	lib_enter();
	err = store_blob_read(db->st, &b, out, len);
	return err < 0 ? lib_fail(err, "blob") : 0;
}

int cfs_commit_time(chronofs *db, const struct cfs_oid *commit, int64_t *out)
{
	struct store_oid c = lib_soid(commit);
	int err;

	lib_enter();
	err = store_commit_time(db->st, &c, out);
	return err < 0 ? lib_fail(err, "commit") : 0;
}

bool cfs_oid_equal(const struct cfs_oid *a, const struct cfs_oid *b)
{
	return !memcmp(a->id, b->id, sizeof(a->id));
}

void cfs_oid_fmt(char out[CFS_OID_HEXSZ + 1], const struct cfs_oid *o)
{
	struct store_oid s = lib_soid(o);

	store_oid_fmt(out, &s);
}

void cfs_format_when(char out[CFS_WHEN_SZ], int64_t when)
{
	idx_format_when(out, when);
}

int lib_read_at(chronofs *db, const struct store_oid *commit, const char *path,
		char **json, size_t *len)
{
	struct store_entry e;
	char *buf, *grown;
	int err;

	*json = NULL;
	*len = 0;
	err = store_stat(db->st, commit, path, &e);
	if (err == 0 && e.kind != STORE_DOC)
		err = store_fail(-EISDIR, "%s: a collection", path);
	if (err == 0)
		err = store_blob_read(db->st, &e.oid, &buf, len);
	if (err < 0)
		return lib_fail(err, path);
	grown = realloc(buf, *len + 1);
	if (!grown) {
		free(buf);
		return lib_fail(-ENOMEM, path);
	}
	grown[*len] = '\0';
	*json = grown;
	return 0;
}

int chronofs_get(chronofs *db, const char *branch, const char *path,
		 char **json, size_t *len)
{
	struct store_oid head;
	int err;

	lib_enter();
	*json = NULL;
	*len = 0;
	err = store_branch_head(db->st, branch, &head);
	if (err < 0)
		return lib_fail(err, branch);
	return lib_read_at(db, &head, path, json, len);
}

struct names {
	char **v;
	size_t n, cap;
};

static int name_cb(void *ctx, const char *name, const struct store_entry *e)
{
	struct names *l = ctx;

	if (e->kind == STORE_LINK)
		return 0; /* a link made by others is no document */
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
	struct names l = { 0 };
	struct store_oid head;
	int err;

	lib_enter();
	*names = NULL;
	*n = 0;
	err = store_branch_head(db->st, branch, &head);
	if (err == 0)
		err = store_readdir(db->st, &head, collection, name_cb, &l);
	if (err < 0) {
		store_strv_free(l.v, l.n);
		return lib_fail(err, *collection ? collection : branch);
	}
	*names = l.v;
	*n = l.n;
	return 0;
}

static int catchup(chronofs *db, const char *branch, uint64_t *added,
		   bool background)
{
	struct idx_db *idx;
	int err;

	lib_enter();
	if (added)
		*added = 0;
	if ((err = lib_index_get(db, &idx)) < 0 || !idx)
		return err;
	err = background ? idx_history_catchup_background(idx, db->st, branch,
							  added) :
			   idx_history_catchup(idx, db->st, branch, added);
	lib_index_put(db, idx);
	return err < 0 ? lib_fail(err, branch) : 0;
}

int cfs_catchup(chronofs *db, const char *branch, uint64_t *added)
{
	return catchup(db, branch, added, false);
}

int cfs_catchup_background(chronofs *db, const char *branch, uint64_t *added)
{
	return catchup(db, branch, added, true);
}

int cfs_resolve(chronofs *db, const char *branch, const char *spec, size_t len,
		struct cfs_oid *out)
{
	struct store_oid c;
	struct idx_db *idx;
	int err;

	lib_enter();
	if ((err = lib_index_get(db, &idx)) < 0)
		return err;
	err = idx_history_resolve(idx, db->st, branch, spec, len, &c);
	lib_index_put(db, idx);
	if (err == -ENOENT)
		return store_fail(err, "%s@%.*s: no such commit", branch,
				  (int)len, spec);
	if (err < 0)
		return lib_fail(err, branch);
	*out = lib_coid(&c);
	return 0;
}

int chronofs_head(chronofs *db, const char *branch,
		  char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct cfs_oid h;
	int err = cfs_head(db, branch, &h);

	if (err == 0)
		cfs_oid_fmt(commit, &h);
	return err;
}

int chronofs_index_head(chronofs *db, const char *branch,
			char commit[CHRONOFS_COMMIT_HEXSZ + 1])
{
	struct store_oid h;
	struct idx_db *idx;
	uint64_t seq;
	int err;

	lib_enter();
	commit[0] = '\0';
	if ((err = lib_index_get(db, &idx)) < 0)
		return err;
	err = idx_head_read(idx, branch, &h, &seq);
	lib_index_put(db, idx);
	if (err == -ENOENT) {
		store_error_clear();
		return 0;
	}
	if (err < 0)
		return lib_fail(err, branch);
	store_oid_fmt(commit, &h);
	return 0;
}

int chronofs_resolve(chronofs *db, const char *branch, const char *when,
		     char commit[CHRONOFS_COMMIT_HEXSZ + 1], int64_t *time)
{
	struct cfs_oid c;
	int err = cfs_resolve(db, branch, when, strlen(when), &c);

	if (err == 0 && time)
		err = cfs_commit_time(db, &c, time);
	if (err == 0)
		cfs_oid_fmt(commit, &c);
	return err;
}

int chronofs_get_at(chronofs *db, const char *branch, const char *when,
		    const char *path, char **json, size_t *len)
{
	struct cfs_oid c;
	struct store_oid s;
	int err = cfs_resolve(db, branch, when, strlen(when), &c);

	*json = NULL;
	*len = 0;
	if (err < 0)
		return err;
	s = lib_soid(&c);
	return lib_read_at(db, &s, path, json, len);
}

struct versions_ctx {
	cfs_version_cb cb;
	void *ctx;
};

static int versions_cb(void *ctx, int64_t time, const struct store_oid *commit,
		       const struct store_oid *blob)
{
	struct versions_ctx *v = ctx;
	struct cfs_oid c = lib_coid(commit), b;

	if (blob)
		b = lib_coid(blob);
	return v->cb(v->ctx, time, &c, blob ? &b : NULL);
}

int cfs_versions(chronofs *db, const char *branch, const char *path,
		 cfs_version_cb cb, void *ctx)
{
	struct versions_ctx v = { cb, ctx };
	struct idx_db *idx;
	int err;

	lib_enter();
	if ((err = lib_index_get(db, &idx)) < 0)
		return err;
	err = idx_history_versions(idx, branch, path, versions_cb, &v);
	lib_index_put(db, idx);
	return err < 0 ? lib_fail(err, path) : err;
}

int cfs_names(chronofs *db, const char *branch, const char *dir, cfs_name_cb cb,
	      void *ctx)
{
	struct idx_db *idx;
	int err;

	lib_enter();
	if ((err = lib_index_get(db, &idx)) < 0)
		return err;
	err = idx_history_names(idx, branch, dir, cb, ctx);
	lib_index_put(db, idx);
	return err < 0 ? lib_fail(err, dir) : err;
}

int chronofs_commit(chronofs *db, const char *commit, int64_t *time,
		    char **summary)
{
	struct store_oid c;
	int err;

	lib_enter();
	if (summary)
		*summary = NULL;
	err = store_oid_parse(&c, commit);
	if (err == 0 && time)
		err = store_commit_time(db->st, &c, time);
	if (err == 0 && summary)
		err = store_commit_summary(db->st, &c, summary);
	return err < 0 ? lib_fail(err, commit) : 0;
}

struct log_ctx {
	chronofs_log_cb cb;
	void *ctx;
};

static int log_cb(void *ctx, const struct store_oid *commit, int64_t time,
		  const char *summary)
{
	struct log_ctx *l = ctx;
	char hex[STORE_OID_HEXSZ + 1];

	store_oid_fmt(hex, commit);
	return l->cb(l->ctx, hex, time, summary ? summary : "");
}

int chronofs_log(chronofs *db, const char *branch, const char *path,
		 chronofs_log_cb cb, void *ctx)
{
	struct log_ctx l = { cb, ctx };
	int err;

	lib_enter();
	err = store_log(db->st, branch, path, log_cb, &l);
	return err < 0 ? lib_fail(err, branch) : err;
}

/* The history of a document as chronofs_history returns it. */
struct revs {
	chronofs_rev *v;
	size_t n, cap;
};

static int add_rev(struct revs *l, const char *commit, int64_t time,
		   bool deleted)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		chronofs_rev *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n].commit, commit, CHRONOFS_COMMIT_HEXSZ + 1);
	l->v[l->n].time = time;
	l->v[l->n].deleted = deleted;
	l->n++;
	return 0;
}

static int rev_cb(void *ctx, int64_t time, const struct store_oid *commit,
		  const struct store_oid *blob)
{
	char hex[STORE_OID_HEXSZ + 1];

	store_oid_fmt(hex, commit);
	return add_rev(ctx, hex, time, blob == NULL);
}

/* The log walk (newest first), for a read-only index that lags. */
struct logged {
	struct store_oid *commits;
	int64_t *times;
	size_t n, cap;
};

static int logged_cb(void *ctx, const struct store_oid *commit, int64_t time,
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
			   struct revs *l)
{
	struct logged g = { 0 };
	struct store_entry e;
	int err = store_log(db->st, branch, path, logged_cb, &g);

	for (size_t i = g.n; err == 0 && i-- > 0;) {
		char hex[STORE_OID_HEXSZ + 1];

		store_oid_fmt(hex, &g.commits[i]);
		err = add_rev(l, hex, g.times[i],
			      store_stat(db->st, &g.commits[i], path, &e) < 0);
	}
	free(g.commits);
	free(g.times);
	return err;
}

int chronofs_history(chronofs *db, const char *branch, const char *path,
		     chronofs_rev **versions, size_t *n)
{
	struct revs l = { 0 };
	struct idx_db *idx;
	int err;

	lib_enter();
	*versions = NULL;
	*n = 0;
	if ((err = lib_index_get(db, &idx)) < 0)
		return err;
	err = idx_history_catchup(idx, db->st, branch, NULL);
	if (err == 0 && idx_history_fresh(idx, db->st, branch))
		err = idx_history_versions(idx, branch, path, rev_cb, &l);
	else if (err == 0)
		err = history_by_walk(db, branch, path, &l);
	lib_index_put(db, idx);
	if (err < 0) {
		free(l.v);
		return lib_fail(err, path);
	}
	store_error_clear();
	*versions = l.v;
	*n = l.n;
	return 0;
}
