/* fsck.c - the indexes checked against Git, the one source of truth: for
 * every branch, its time index holds each commit of the first-parent chain
 * at its place, its path index gives each document at the head its
 * head's content, and every ordered index holds exactly the rows the
 * head's tree gives. What differs is reported and, when asked, built
 * again from Git (the indexes are derived data). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "history.h"
#include "lib_int.h"
#include "order.h"
#include "banned.h"

struct fsck {
	chronofs *db;
	struct idx_db *idx;
	const char *branch;
	struct store_oid head;
	chronofs_fsck_cb cb;
	void *ctx;
	size_t problems;
	bool history_bad;
	/* the chain, root first */
	struct store_oid *chain;
	size_t n, cap;
};

static void problem(struct fsck *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct fsck *f, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->problems++;
	if (f->cb)
		f->cb(f->ctx, msg);
}

static int chain_cb(void *ctx, const struct store_oid *commit, int64_t time)
{
	struct fsck *f = ctx;

	(void)time;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		struct store_oid *v = realloc(f->chain, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->chain = v;
		f->cap = cap;
	}
	f->chain[f->n++] = *commit;
	return 0;
}

/* The time index: the head it reflects, then every commit at its place
 * (seq counts the chain from its root, 0). */
static int check_time(struct fsck *f)
{
	struct store_oid ihead, c;
	char hex[STORE_OID_HEXSZ + 1];
	uint64_t seq;
	int err = idx_head_read(f->idx, f->branch, &ihead, &seq);

	if (err == -ENOENT) {
		problem(f, "%s: not indexed", f->branch);
		f->history_bad = true;
		return 0;
	}
	if (err < 0)
		return err;
	if ((err = store_walk(f->db->st, &f->head, chain_cb, f)) < 0)
		return err;
	if (!store_oid_equal(&ihead, &f->head) || seq + 1 != f->n) {
		store_oid_fmt(hex, &ihead);
		problem(f,
			"%s: the index reflects %.12s (%llu commits), the "
			"branch has %zu commits",
			f->branch, hex, (unsigned long long)seq + 1, f->n);
		f->history_bad = true;
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct store_oid *want = &f->chain[f->n - 1 - i];

		store_oid_fmt(hex, want);
		err = idx_history_commit(f->idx, f->branch, hex, &c);
		if (err == -ENOENT ||
		    (err == 0 && !store_oid_equal(&c, want))) {
			problem(f,
				"%s: commit %.12s is missing from the time "
				"index",
				f->branch, hex);
			f->history_bad = true;
			break;
		}
		if (err < 0)
			return err;
	}
	store_error_clear();
	return 0;
}

struct last_version {
	bool have;
	bool deleted;
	struct store_oid blob;
};

static int last_cb(void *ctx, int64_t time, const struct store_oid *commit,
		   const struct store_oid *blob)
{
	struct last_version *l = ctx;

	(void)time;
	(void)commit;
	l->have = true;
	l->deleted = !blob;
	if (blob)
		l->blob = *blob;
	return 0;
}

/* The path index: each document of DIR at the head, recursively. */
struct walk_dir {
	struct fsck *f;
	const char *dir;
	int err;
};

static int check_dir(struct fsck *f, const char *dir);

static int dir_cb(void *ctx, const char *name, const struct store_entry *e)
{
	struct walk_dir *w = ctx;
	struct last_version l = { 0 };
	char *path;
	int err;

	if (asprintf(&path, "%s%s%s", w->dir, *w->dir ? "/" : "", name) < 0)
		return -ENOMEM;
	if (e->kind == STORE_DIR) {
		/* Listed now, walked after: the store lock is held here. */
		free(path);
		return 0;
	}
	err = store_is_document_path(path) ?
		      idx_history_versions(w->f->idx, w->f->branch, path,
					   last_cb, &l) :
		      0;
	if (err == 0 && store_is_document_path(path) &&
	    (!l.have || l.deleted || !store_oid_equal(&l.blob, &e->oid))) {
		problem(w->f,
			"%s: %s: the path index does not give its "
			"content at the head",
			w->f->branch, path);
		w->f->history_bad = true;
	}
	free(path);
	return err;
}

struct subdirs {
	char **v;
	size_t n;
};

static int subdir_cb(void *ctx, const char *name, const struct store_entry *e)
{
	struct subdirs *s = ctx;
	char **v;

	if (e->kind != STORE_DIR)
		return 0;
	if (!(v = realloc(s->v, (s->n + 1) * sizeof(*v))))
		return -ENOMEM;
	s->v = v;
	return (s->v[s->n++] = strdup(name)) ? 0 : -ENOMEM;
}

static int check_dir(struct fsck *f, const char *dir)
{
	struct walk_dir w = { f, dir, 0 };
	struct subdirs s = { 0 };
	int err = store_readdir(f->db->st, &f->head, dir, dir_cb, &w);

	if (err == 0)
		err = store_readdir(f->db->st, &f->head, dir, subdir_cb, &s);
	for (size_t i = 0; i < s.n; i++) {
		char *sub = NULL;

		if (err == 0 &&
		    asprintf(&sub, "%s%s%s", dir, *dir ? "/" : "", s.v[i]) < 0)
			err = -ENOMEM;
		if (err == 0)
			err = check_dir(f, sub);
		free(sub);
		free(s.v[i]);
	}
	free(s.v);
	return err;
}

/* An ordered index: its rows against the head's tree's. */
struct rows {
	char **ids;
	struct store_oid *blobs;
	size_t n, cap;
};

static int row_cb(void *ctx, const char *id, const struct store_oid *blob,
		  const char *doc, size_t len)
{
	struct rows *r = ctx;

	(void)doc;
	(void)len;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		char **ids = realloc(r->ids, cap * sizeof(*ids));
		struct store_oid *b =
			ids ? realloc(r->blobs, cap * sizeof(*b)) : NULL;

		if (ids)
			r->ids = ids;
		if (!b)
			return -ENOMEM;
		r->blobs = b;
		r->cap = cap;
	}
	r->blobs[r->n] = *blob;
	return (r->ids[r->n++] = strdup(id)) ? 0 : -ENOMEM;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ids[i]);
	free(r->ids);
	free(r->blobs);
}

struct def_check {
	struct fsck *f;
	int err;
	char **bad; /* collection, canon pairs to build again */
	size_t nbad;
};

static int remember(struct def_check *d, const char *collection,
		    const char *canon)
{
	char **v = realloc(d->bad, (d->nbad + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	d->bad = v;
	v[d->nbad] = strdup(collection);
	v[d->nbad + 1] = strdup(canon);
	d->nbad += 2;
	return v[d->nbad - 2] && v[d->nbad - 1] ? 0 : -ENOMEM;
}

static int def_cb(void *ctx, const char *branch, const char *collection,
		  const char *canon, uint64_t nrows)
{
	struct def_check *d = ctx;
	struct fsck *f = d->f;
	struct range0 {
		struct idx_range r;
	} q = { { 0 } };
	struct rows have = { 0 }, want = { 0 };
	struct idx_spec spec;
	bool same;
	int err;

	(void)nrows;
	if (strcmp(branch, f->branch))
		return 0;
	if ((err = idx_spec_parse(&spec, canon)) < 0)
		return d->err = err;
	err = idx_order_scan(f->idx, branch, collection, &spec, &q.r, row_cb,
			     &have);
	if (err == 0)
		err = idx_order_scan_commit(f->db->st, branch, &f->head,
					    collection, &spec, &q.r, row_cb,
					    &want);
	same = err == 0 && have.n == want.n;
	for (size_t i = 0; same && i < have.n; i++)
		same = !strcmp(have.ids[i], want.ids[i]) &&
		       store_oid_equal(&have.blobs[i], &want.blobs[i]);
	if (err == 0 && !same) {
		problem(f,
			"%s: ordered index %s of %s: %zu rows, the head's "
			"tree gives %zu%s",
			branch, canon, *collection ? collection : ".", have.n,
			want.n,
			have.n == want.n ? " (in another order or content)" :
					   "");
		err = remember(d, collection, canon);
	}
	rows_free(&have);
	rows_free(&want);
	idx_spec_release(&spec);
	if (err < 0)
		return d->err = err;
	return 0;
}

/* Rebuild what was found wrong: the history from the root (which drops
 * the branch's ordered rows too, and they follow from the root), the
 * ordered indexes found wrong from the head. */
static int repair(struct fsck *f, const struct def_check *d)
{
	struct idx_spec spec;
	bool built;
	int err = 0;

	if (f->history_bad && (err = idx_history_drop(f->idx, f->branch)) == 0)
		err = idx_history_catchup(f->idx, f->db->st, f->branch, NULL);
	for (size_t i = 0; err == 0 && i < d->nbad; i += 2) {
		if ((err = idx_spec_parse(&spec, d->bad[i + 1])) < 0)
			break;
		if ((err = idx_order_drop(f->idx, f->branch, d->bad[i],
					  d->bad[i + 1])) == 0)
			err = idx_order_ensure(f->idx, f->db->st, f->branch,
					       d->bad[i], &spec, &built);
		idx_spec_release(&spec);
	}
	return err;
}

int chronofs_fsck(chronofs *db, int repair_it, chronofs_fsck_cb cb, void *ctx,
		  size_t *problems)
{
	char **names = NULL;
	size_t nb = 0;
	struct idx_db *idx;
	int err;

	lib_enter();
	*problems = 0;
	if ((err = lib_index_get(db, &idx)) < 0)
		return err;
	if (repair_it && idx_db_readonly(idx)) {
		lib_index_put(db, idx);
		return store_fail(-EBUSY,
				  "%s: held by another process (a "
				  "mount?): fsck --repair needs it alone",
				  db->index_dir);
	}
	err = store_branch_list(db->st, &names, &nb);
	for (size_t i = 0; err == 0 && i < nb; i++) {
		struct fsck f = { db, idx, names[i], .cb = cb, .ctx = ctx };
		struct def_check d = { &f, 0, NULL, 0 };

		if ((err = store_branch_head(db->st, names[i], &f.head)) < 0)
			break;
		if ((err = check_time(&f)) == 0 && !f.history_bad)
			err = check_dir(&f, "");
		if (err == 0)
			err = idx_order_list(idx, def_cb, &d);
		if (err == 0)
			err = d.err;
		if (err == 0 && repair_it && f.problems)
			err = repair(&f, &d);
		*problems += f.problems;
		for (size_t k = 0; k < d.nbad; k++)
			free(d.bad[k]);
		free(d.bad);
		free(f.chain);
	}
	store_strv_free(names, nb);
	lib_index_put(db, idx);
	if (err < 0)
		return lib_fail(err, "fsck");
	store_error_clear();
	return 0;
}
