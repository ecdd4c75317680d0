/* query.c - ordered queries: the one range grammar (ge/gt/lt/le/first, a
 * bound is JSON text or else a bare string) and the one way to get rows:
 * at a commit computed from its tree, at a branch head from the
 * persistent index (built on first use), or, where the index cannot be
 * current here (another process holds it), from the head's tree. */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "history.h"
#include "lib_int.h"
#include "order.h"
#include "banned.h"

int chronofs_range_step(chronofs_range *r, const char *step)
{
	static const char *const names[4] = { "ge=", "gt=", "lt=", "le=" };
	const char **slots[4] = { &r->ge, &r->gt, &r->lt, &r->le };
	unsigned long long n;
	char *end;

	lib_enter();
	if (!strncmp(step, "first=", 6)) {
		errno = 0;
		n = strtoull(step + 6, &end, 10);
		if (step[6] < '0' || step[6] > '9' || *end || n == 0 ||
		    errno == ERANGE || n > SIZE_MAX || r->first)
			return store_fail(-EINVAL,
					  "%s: first=N takes a "
					  "positive integer, once",
					  step);
		r->first = (size_t)n;
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		if (strncmp(step, names[i], 3))
			continue;
		if (*slots[i])
			return store_fail(-EINVAL, "%s: %.2s given twice", step,
					  step);
		*slots[i] = step + 3;
		return 0;
	}
	return store_fail(-EINVAL,
			  "%s: not a range step (ge=V, gt=V, lt=V, "
			  "le=V, first=N)",
			  step);
}

/* A bound: a JSON value, else the text as a string ("bob"). */
static int bound(const char *text, json_t **out)
{
	json_error_t e;

	*out = NULL;
	if (!text)
		return 0;
	*out = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!*out)
		*out = json_string(text);
	return *out ? 0 :
		      store_fail(-EINVAL,
				 "%s: a bound is JSON or UTF-8 "
				 "text",
				 text);
}

struct query {
	struct idx_spec spec;
	struct idx_range range;
	json_t *vals[4];
};

static void query_release(struct query *q)
{
	idx_spec_release(&q->spec);
	for (int i = 0; i < 4; i++)
		json_decref(q->vals[i]);
}

static int query_init(struct query *q, const char *spec,
		      const chronofs_range *r)
{
	int err;

	memset(q, 0, sizeof(*q));
	if ((err = idx_spec_parse(&q->spec, spec)) < 0)
		return lib_fail(err, spec);
	if (r && ((err = bound(r->ge, &q->vals[0])) < 0 ||
		  (err = bound(r->gt, &q->vals[1])) < 0 ||
		  (err = bound(r->lt, &q->vals[2])) < 0 ||
		  (err = bound(r->le, &q->vals[3])) < 0)) {
		query_release(q);
		return err;
	}
	q->range.ge = q->vals[0];
	q->range.gt = q->vals[1];
	q->range.lt = q->vals[2];
	q->range.le = q->vals[3];
	q->range.limit = r ? r->first : 0;
	return 0;
}

int cfs_spec_check(const char *spec)
{
	struct idx_spec s;
	int err;

	lib_enter();
	err = idx_spec_parse(&s, spec);
	if (err < 0)
		return lib_fail(err, spec);
	idx_spec_release(&s);
	return 0;
}

static int index_for(chronofs *db, struct idx_db *idx, const char *branch,
		     const char *collection, const struct idx_spec *spec,
		     bool create, bool *built);

static int index_writable(chronofs *db, struct idx_db **idx);

static int order_ensure(chronofs *db, const char *branch,
			const char *collection, const char *spec, bool create,
			bool *built)
{
	struct idx_spec s;
	struct idx_db *idx;
	int err;

	lib_enter();
	*built = false;
	if ((err = idx_spec_parse(&s, spec)) < 0)
		return lib_fail(err, spec);
	/* Making one is a change of the index database: refused (EBUSY,
	 * naming the holder) where another process holds it. */
	if (create && (err = index_writable(db, &idx)) < 0) {
		idx_spec_release(&s);
		return err;
	}
	if (!create)
		err = lib_index_get(db, &idx);
	if (err == 0 && idx)
		err = index_for(db, idx, branch, collection, &s, create, built);
	lib_index_put(db, idx);
	idx_spec_release(&s);
	if (err == -ENOENT && !create)
		err = 0; /* none yet: rows come from the tree */
	return err < 0 ? lib_fail(err, collection) : 0;
}

int cfs_order_ensure(chronofs *db, const char *branch, const char *collection,
		     const char *spec, bool *built)
{
	return order_ensure(db, branch, collection, spec, true, built);
}

int chronofs_index_create(chronofs *db, const char *branch,
			  const char *collection, const char *spec)
{
	bool built;

	return order_ensure(db, branch, collection, spec, true, &built);
}

struct rows_ctx {
	cfs_row_cb cb;
	void *ctx;
};

static int rows_cb(void *ctx, const char *id, const struct store_oid *blob,
		   const char *doc, size_t len)
{
	struct rows_ctx *r = ctx;
	struct cfs_oid b = lib_coid(blob);

	return r->cb(r->ctx, id, &b, doc, len);
}

/* When a persistent index is made: a SPEC read this many times through
 * one handle (a mount's, a program's), or made by chronofs_index_create,
 * and at most LIB_INDEX_MAX of them per collection. Until then its rows
 * are computed from the head's tree: a lookup of any spec must not leave
 * a cost on every later save (a reader could make thousands). */
#define LIB_INDEX_AFTER_USES 3
#define LIB_INDEX_MAX 16
#define LIB_USES_SLOTS 64

struct lib_uses {
	pthread_mutex_t lock;
	struct {
		char *key; /* branch \0 collection \0 canon */
		size_t len;
		unsigned n;
	} v[LIB_USES_SLOTS];
	unsigned next;
};

void lib_uses_free(chronofs *db)
{
	if (!db->uses)
		return;
	for (size_t i = 0; i < LIB_USES_SLOTS; i++)
		free(db->uses->v[i].key);
	pthread_mutex_destroy(&db->uses->lock);
	free(db->uses);
	db->uses = NULL;
}

int lib_uses_new(chronofs *db)
{
	if (!(db->uses = calloc(1, sizeof(*db->uses))))
		return -ENOMEM;
	pthread_mutex_init(&db->uses->lock, NULL);
	return 0;
}

/* Count one use of SPEC on BRANCH's COLLECTION; the uses so far. */
static unsigned use(chronofs *db, const char *branch, const char *collection,
		    const char *canon)
{
	size_t bl = strlen(branch) + 1, cl = strlen(collection) + 1,
	       sl = strlen(canon), len = bl + cl + sl;
	struct lib_uses *u = db->uses;
	unsigned n = 0;
	char *key;

	if (!(key = malloc(len)))
		return 0;
	memcpy(key, branch, bl);
	memcpy(key + bl, collection, cl);
	memcpy(key + bl + cl, canon, sl);
	pthread_mutex_lock(&u->lock);
	for (size_t i = 0; i < LIB_USES_SLOTS && !n; i++)
		if (u->v[i].key && u->v[i].len == len &&
		    !memcmp(u->v[i].key, key, len))
			n = ++u->v[i].n;
	if (!n) {
		size_t i = u->next++ % LIB_USES_SLOTS;

		free(u->v[i].key);
		u->v[i].key = key;
		u->v[i].len = len;
		n = u->v[i].n = 1;
		key = NULL;
	}
	pthread_mutex_unlock(&u->lock);
	free(key);
	return n;
}

/* Make the index of SPEC current, building it if the rule above (or
 * CREATE) allows: -ENOENT if there is none to be. */
static int index_for(chronofs *db, struct idx_db *idx, const char *branch,
		     const char *collection, const struct idx_spec *spec,
		     bool create, bool *built)
{
	size_t count;
	bool exists;
	int err;

	*built = false;
	if (idx_db_readonly(idx))
		return -ENOENT;
	err = idx_order_defined(idx, branch, collection, spec->canon, &exists,
				&count);
	if (err < 0)
		return err;
	if (!exists && !create &&
	    (use(db, branch, collection, spec->canon) < LIB_INDEX_AFTER_USES ||
	     count >= LIB_INDEX_MAX))
		return -ENOENT;
	return idx_order_ensure(idx, db->st, branch, collection, spec, built);
}

/* The head's rows from its index; -ENOENT where there is none (yet), or
 * where this process cannot have a current one. */
static int rows_indexed(chronofs *db, const char *branch,
			const char *collection, const struct query *q,
			struct rows_ctx *r)
{
	struct idx_db *idx;
	bool built;
	int err = lib_index_get(db, &idx);

	if (err < 0 || !idx)
		return -ENOENT;
	err = index_for(db, idx, branch, collection, &q->spec, false, &built);
	if (built && db->info) {
		char msg[512];

		snprintf(msg, sizeof(msg),
			 "built index %s of %s/%s after %d "
			 "uses",
			 q->spec.canon, branch, collection,
			 LIB_INDEX_AFTER_USES);
		db->info(msg);
	}
	if (err == 0 && !idx_history_fresh(idx, db->st, branch))
		err = -ENOENT;
	if (err == 0)
		err = idx_order_scan(idx, branch, collection, &q->spec,
				     &q->range, rows_cb, r);
	lib_index_put(db, idx);
	return err;
}

int cfs_order_rows(chronofs *db, const char *branch,
		   const struct cfs_oid *commit, const char *collection,
		   const char *spec, const chronofs_range *range, cfs_row_cb cb,
		   void *ctx)
{
	struct rows_ctx r = { cb, ctx };
	struct store_oid at;
	struct query q;
	int err;

	lib_enter();
	if ((err = query_init(&q, spec, range)) < 0)
		return err;
	if (commit) {
		at = lib_soid(commit);
	} else {
		err = rows_indexed(db, branch, collection, &q, &r);
		if (err == -ENOENT) {
			store_error_clear();
			err = store_branch_head(db->st, branch, &at);
		} else {
			goto out;
		}
	}
	if (err == 0)
		err = idx_order_scan_commit(db->st, branch, &at, collection,
					    &q.spec, &q.range, rows_cb, &r);
out:
	query_release(&q);
	return err < 0 ? lib_fail(err, collection) : err;
}

/* The public iterator: rows collected, documents read as they go. */
struct row {
	char *id;
	struct cfs_oid blob;
	char *doc; /* NUL-terminated, when the index row held it */
	size_t len;
};

struct chronofs_iter {
	chronofs *db;
	struct row *rows;
	size_t n, cap, next;
	char *json; /* the current row's document */
};

static int iter_row(void *ctx, const char *id, const struct cfs_oid *blob,
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

int chronofs_query_range(chronofs *db, const char *branch,
			 const char *collection, const char *spec,
			 const chronofs_range *range, chronofs_iter **out)
{
	chronofs_iter *it;
	int err;

	lib_enter();
	*out = NULL;
	it = calloc(1, sizeof(*it));
	if (!it)
		return lib_fail(-ENOMEM, collection);
	it->db = db;
	err = cfs_order_rows(db, branch, NULL, collection, spec, range,
			     iter_row, it);
	if (err < 0) {
		chronofs_iter_free(it);
		return err;
	}
	*out = it;
	return 0;
}

int chronofs_query(chronofs *db, const char *branch, const char *collection,
		   const char *spec, const char *from, const char *to,
		   size_t limit, chronofs_iter **out)
{
	chronofs_range r = { .ge = from, .lt = to, .first = limit };

	return chronofs_query_range(db, branch, collection, spec, &r, out);
}

int chronofs_iter_next(chronofs_iter *it, const char **id, const char **json,
		       size_t *len)
{
	struct row *r;
	char *buf;
	int err;

	lib_enter();
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
	} else {
		err = cfs_blob_read(it->db, &r->blob, &buf, len);
		if (err < 0)
			return lib_fail(err, r->id);
		it->json = realloc(buf, *len + 1);
		if (!it->json) {
			free(buf);
			return lib_fail(-ENOMEM, r->id);
		}
		it->json[*len] = '\0';
	}
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

int chronofs_index_stats(chronofs *db, const char *branch,
			 const char *collection, const char *spec,
			 uint64_t *rows, uint64_t *with_field)
{
	struct idx_spec s;
	struct idx_db *idx;
	size_t count;
	bool exists = false;
	int err;

	lib_enter();
	*rows = *with_field = 0;
	if ((err = idx_spec_parse(&s, spec)) < 0)
		return lib_fail(err, spec);
	if ((err = lib_index_get(db, &idx)) == 0) {
		err = idx_order_defined(idx, branch, collection, s.canon,
					&exists, &count);
		if (err == 0 && !exists)
			err = store_fail(-ENOENT, "%s/%s: no index %s", branch,
					 collection, s.canon);
		if (err == 0)
			err = idx_order_count(idx, branch, collection, s.canon,
					      rows, with_field);
		lib_index_put(db, idx);
	}
	idx_spec_release(&s);
	return err < 0 ? lib_fail(err, spec) : 0;
}

int chronofs_index_list(chronofs *db, chronofs_index_cb cb, void *ctx)
{
	struct idx_db *idx;
	int err;

	lib_enter();
	if ((err = lib_index_get(db, &idx)) < 0)
		return err;
	err = idx_order_list(idx, cb, ctx);
	lib_index_put(db, idx);
	return err < 0 ? lib_fail(err, "index list") : err;
}

/* Which process holds DIR's RocksDB LOCK file open: the first one found
 * in /proc (only those whose descriptors this user may read), its pid and
 * command name into OUT; false if none is found. */
static bool index_holder(const char *dir, char *out, size_t size)
{
	char lock[PATH_MAX], link[PATH_MAX], path[64 + NAME_MAX];
	DIR *proc = opendir("/proc"), *fds;
	struct dirent *p, *f;
	bool found = false;

	if (!proc ||
	    snprintf(lock, sizeof(lock), "%s/LOCK", dir) >= (int)sizeof(lock)) {
		if (proc)
			closedir(proc);
		return false;
	}
	while (!found && (p = readdir(proc))) {
		long pid = atol(p->d_name);

		if (pid <= 0 || pid == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		if (!(fds = opendir(path)))
			continue;
		while (!found && (f = readdir(fds))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid,
				 f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			found = n > 0 && (link[n] = '\0', !strcmp(link, lock));
		}
		closedir(fds);
		if (found) {
			char comm[64] = "?";
			FILE *c;

			snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
			if ((c = fopen(path, "re"))) {
				if (fgets(comm, sizeof(comm), c))
					comm[strcspn(comm, "\n")] = '\0';
				fclose(c);
			}
			snprintf(out, size, "pid %ld, %s", pid, comm);
		}
	}
	closedir(proc);
	return found;
}

/* The database for a change of the indexes themselves: ours alone. */
static int index_writable(chronofs *db, struct idx_db **idx)
{
	char who[128];
	int err = lib_index_get(db, idx);

	if (err < 0)
		return err;
	if (idx_db_readonly(*idx)) {
		lib_index_put(db, *idx);
		*idx = NULL;
		if (index_holder(db->index_dir, who, sizeof(who)))
			return store_fail(-EBUSY,
					  "%s: held by another process "
					  "(%s: a mount of this repository?)",
					  db->index_dir, who);
		return store_fail(-EBUSY,
				  "%s: held by another process (a "
				  "mount of this repository?)",
				  db->index_dir);
	}
	return 0;
}

int chronofs_index_drop(chronofs *db, const char *branch,
			const char *collection, const char *spec)
{
	struct idx_db *idx;
	int err;

	lib_enter();
	if ((err = index_writable(db, &idx)) < 0)
		return err;
	err = idx_order_drop(idx, branch, collection, spec);
	lib_index_put(db, idx);
	return err < 0 ? lib_fail(err, spec) : 0;
}

int chronofs_index_rebuild(chronofs *db, const char *branch,
			   const char *collection, const char *spec)
{
	struct idx_spec s;
	struct idx_db *idx;
	bool built;
	int err;

	lib_enter();
	if ((err = idx_spec_parse(&s, spec)) < 0)
		return lib_fail(err, spec);
	if ((err = index_writable(db, &idx)) == 0) {
		err = idx_order_drop(idx, branch, collection, s.canon);
		if (err == 0)
			err = idx_order_ensure(idx, db->st, branch, collection,
					       &s, &built);
		lib_index_put(db, idx);
	}
	idx_spec_release(&s);
	return err < 0 ? lib_fail(err, spec) : 0;
}
