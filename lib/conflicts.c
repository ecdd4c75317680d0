/* conflicts.c - where the losing side of every merge conflict is found:
 * the merges on a branch's first-parent chain whose message lists
 * conflicted documents (merge.c writes that list), and for each such
 * document and merge the five files of BRANCH@conflicts/PATH/<merge>/,
 * derived again from Git (the merge's two parents and their merge base),
 * so nothing beside the repository is needed and a rebuilt index loses
 * nothing. The list of one branch head is kept until the head moves. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "jmerge.h"
#include "lib_int.h"
#include "treemerge.h"
#include "banned.h"

#define CONFLICTS_TRAILER "\nConflicts:\n"

struct record {
	char *path;
	struct cfs_oid merge;
	int64_t time;
};

struct cfs_conflicts {
	char *branch;
	struct store_oid head;
	struct record *v;
	size_t n, cap;
};

static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static void memo_free(struct cfs_conflicts *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].path);
	free(c->v);
	free(c->branch);
	free(c);
}

void lib_conflicts_free(chronofs *db)
{
	memo_free(db->conflicts);
	db->conflicts = NULL;
}

struct walk {
	chronofs *db;
	struct cfs_conflicts *c;
};

static int add(struct cfs_conflicts *c, const char *path, size_t len,
	       const struct store_oid *merge, int64_t time)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct record *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	if (!(c->v[c->n].path = strndup(path, len)))
		return -ENOMEM;
	c->v[c->n].merge = lib_coid(merge);
	c->v[c->n++].time = time;
	return 0;
}

/* A merge's conflicted paths: the tab-indented lines after the trailer. */
static int walk_cb(void *ctx, const struct store_oid *commit, int64_t time)
{
	struct walk *w = ctx;
	char *msg = NULL;
	const char *p;
	int err = store_commit_message(w->db->st, commit, &msg);

	if (err < 0 || !msg)
		return err == -ENOENT ? 0 : err;
	p = strstr(msg, CONFLICTS_TRAILER);
	for (p = p ? p + strlen(CONFLICTS_TRAILER) : NULL; p && *p == '\t';) {
		size_t len = strcspn(p + 1, "\n");

		if ((err = add(w->c, p + 1, len, commit, time)) < 0)
			break;
		p += 1 + len + (p[1 + len] == '\n');
	}
	free(msg);
	return err;
}

/* The records of BRANCH's head, newest first: the memo's, or walked. */
static int records(chronofs *db, const char *branch, struct cfs_conflicts **out)
{
	struct cfs_conflicts *c = db->conflicts;
	struct store_oid head;
	struct walk w = { db, NULL };
	int err = store_branch_head(db->st, branch, &head);

	*out = NULL;
	if (err < 0)
		return lib_fail(err, branch);
	if (c && !strcmp(c->branch, branch) &&
	    store_oid_equal(&c->head, &head)) {
		*out = c;
		return 0;
	}
	if (!(w.c = calloc(1, sizeof(*w.c))) ||
	    !(w.c->branch = strdup(branch))) {
		free(w.c);
		return lib_fail(-ENOMEM, branch);
	}
	w.c->head = head;
	err = store_walk_merges(db->st, &head, walk_cb, &w);
	if (err < 0) {
		memo_free(w.c);
		return lib_fail(err, branch);
	}
	memo_free(db->conflicts);
	*out = db->conflicts = w.c;
	return 0;
}

int cfs_conflicts(chronofs *db, const char *branch, cfs_conflict_cb cb,
		  void *ctx)
{
	struct cfs_conflicts *c;
	int err;

	lib_enter();
	pthread_mutex_lock(&memo_lock);
	err = records(db, branch, &c);
	for (size_t i = 0; err == 0 && c && i < c->n; i++)
		err = cb(ctx, c->v[i].path, &c->v[i].merge, c->v[i].time);
	pthread_mutex_unlock(&memo_lock);
	return err;
}

/* PATH's bytes at COMMIT, or NULL (absent). */
static int blob_at(chronofs *db, const struct store_oid *commit,
		   const char *path, char **out, size_t *len)
{
	struct store_entry e;
	int err = store_stat(db->st, commit, path, &e);

	*out = NULL;
	*len = 0;
	if (err == -ENOENT || (err == 0 && e.kind != STORE_DOC))
		return 0;
	if (err < 0)
		return err;
	return store_blob_read(db->st, &e.oid, out, len);
}

int cfs_conflict_file(chronofs *db, const struct cfs_oid *merge,
		      const char *path, enum cfs_conflict_part part, char **out,
		      size_t *len)
{
	struct store_oid m = lib_soid(merge), parents[2], base;
	char *b = NULL, *o = NULL, *t = NULL;
	size_t bl, ol, tl;
	struct jmerge_doc d = { 0 };
	struct jt_buf buf = { 0 };
	enum jmerge_side w;
	int err, rc;

	lib_enter();
	*out = NULL;
	*len = 0;
	if (part == CFS_CONFLICT_MERGED)
		return blob_at(db, &m, path, out, len) < 0 ?
			       lib_fail(-EIO, path) :
		       *out ? 0 :
			      store_fail(-ENOENT,
					 "%s: not in "
					 "the merge",
					 path);
	err = store_commit_parents(db->st, &m, parents);
	if (err < 0)
		return lib_fail(err, path);
	rc = store_merge_base(db->st, &parents[0], &parents[1], &base);
	if (rc == -ENOENT)
		rc = 1; /* unrelated histories: no base version */
	if (rc < 0)
		return lib_fail(rc, path);
	if (part == CFS_CONFLICT_BASE)
		err = rc == 0 ? blob_at(db, &base, path, out, len) : 0;
	else if (part == CFS_CONFLICT_OURS)
		err = blob_at(db, &parents[0], path, out, len);
	else if (part == CFS_CONFLICT_THEIRS)
		err = blob_at(db, &parents[1], path, out, len);
	if (part != CFS_CONFLICTS_JSON) {
		if (err < 0)
			return lib_fail(err, path);
		return *out ? 0 :
			      store_fail(-ENOENT, "%s: absent on that side",
					 path);
	}
	/* conflicts.json: the document's merge done again. */
	if ((rc == 0 && (err = blob_at(db, &base, path, &b, &bl)) < 0) ||
	    (err = blob_at(db, &parents[0], path, &o, &ol)) < 0 ||
	    (err = blob_at(db, &parents[1], path, &t, &tl)) < 0 ||
	    (err = store_merge_winner(db->st, &parents[0], &parents[1], path,
				      &w)) < 0 ||
	    (err = jmerge_doc(&d, b, bl, o, ol, t, tl, w, 0)) < 0 ||
	    (err = jmerge_conflicts_render(&buf, path, d.conflicts, d.n)) < 0)
		err = lib_fail(err, path);
	else {
		*out = buf.p;
		*len = buf.len;
		buf.p = NULL;
	}
	jmerge_doc_release(&d);
	free(buf.p);
	free(b);
	free(o);
	free(t);
	return err;
}
