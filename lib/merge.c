/* merge.c - the library's faces of the one merge engine (store/
 * treemerge.h, store/mergebranch.c): branch merges (FROM into INTO by
 * compare-and-swap, a fast-forward, --squash; the merge commit's message
 * lists the conflicted paths, and Git keeps both parents, so each
 * conflict can be derived again) and diffs of two commits as JSON lines
 * with RFC 6902 patches. */
#include <stdio.h>
#include <stdlib.h>

#include "diffrec.h"
#include "history.h"
#include "lib_int.h"
#include "mergerec.h"
#include "treemerge.h"
#include "banned.h"

/* A commit named by a branch, BRANCH@WHEN or 7-40 hex digits. */
static int name_commit(chronofs *db, const char *name, struct store_oid *out)
{
	const char *at = strchr(name, '@');
	struct cfs_oid c;
	size_t hex = strspn(name, "0123456789abcdef");
	int err;

	if (store_branch_head(db->st, name, out) == 0)
		return 0;
	if (at && at > name) {
		char *branch = strndup(name, (size_t)(at - name));

		if (!branch)
			return lib_fail(-ENOMEM, name);
		err = cfs_resolve(db, branch, at + 1, strlen(at + 1), &c);
		free(branch);
		if (err == 0)
			*out = lib_soid(&c);
		return err;
	}
	if (hex == strlen(name) && hex >= 7 && hex <= 40 &&
	    store_commit_lookup_prefix(db->st, name, out) == 0)
		return 0;
	return store_fail(-ENOENT, "%s: no such branch, snapshot or commit",
			  name);
}

static bool is_blob(bool has, unsigned mode)
{
	return has && (mode == 0100644 || mode == 0100755);
}

/* Entry E's file in the merge's result against ours': 1 with *ch if it
 * differs (as the index's tree diff of the merge against its first
 * parent would find it), 0 if not, or -errno. */
static int result_change(const struct store_merge_entry *e,
			 struct idx_change *ch)
{
	bool had = is_blob(e->has[STORE_MERGE_OURS_I],
			   e->mode[STORE_MERGE_OURS_I]);
	bool has = false;
	int err = 0;

	memset(ch, 0, sizeof(*ch));
	if (e->action == STORE_MERGE_OURS)
		return 0;
	if (e->action == STORE_MERGE_THEIRS) {
		has = is_blob(e->has[STORE_MERGE_THEIRS_I],
			      e->mode[STORE_MERGE_THEIRS_I]);
		ch->blob = e->blob[STORE_MERGE_THEIRS_I];
	} else if (e->action == STORE_MERGE_BYTES) {
		has = true; /* a regular file (mergebuild.c) */
		err = store_blob_hash(e->bytes, e->len, &ch->blob);
	}
	if (err < 0 || (!had && !has) ||
	    (had && has &&
	     store_oid_equal(&ch->blob, &e->blob[STORE_MERGE_OURS_I])))
		return err;
	ch->path = e->path;
	ch->deleted = !has;
	if ((ch->had = had))
		ch->old = e->blob[STORE_MERGE_OURS_I];
	return 1;
}

/* Whether what E does to ours' file is all in its change (result_change):
 * no mode changed alone, no file that is not a regular blob. Else the
 * merge commit gets no record of its changes (index/changes.h). */
static bool plain_change(const struct store_merge_entry *e)
{
	const int o = STORE_MERGE_OURS_I, t = STORE_MERGE_THEIRS_I;

	if (e->action == STORE_MERGE_OURS)
		return true;
	if (e->has[o] && !is_blob(true, e->mode[o]))
		return false;
	if (e->action == STORE_MERGE_THEIRS)
		return !e->has[t] || (is_blob(true, e->mode[t]) &&
				      (!e->has[o] || e->mode[o] == e->mode[t]));
	return e->action != STORE_MERGE_BYTES || !e->has[o] ||
	       e->mode[o] == 0100644;
}

/* Whether every file E touches is 100644, ours' and the result's (else
 * the merge's record is of version 0: modes unknown, changes.h). */
static bool mode_644(const struct store_merge_entry *e)
{
	const int o = STORE_MERGE_OURS_I, t = STORE_MERGE_THEIRS_I;

	if (e->action == STORE_MERGE_OURS)
		return true;
	if (e->has[o] && e->mode[o] != 0100644)
		return false;
	return e->action != STORE_MERGE_THEIRS || !e->has[t] ||
	       e->mode[t] == 0100644;
}

static void index_log(chronofs *db, const char *into)
{
	char msg[1200];

	if (!db->log)
		return;
	snprintf(msg, sizeof(msg), "index of branch %s: %s", into,
		 store_errmsg());
	db->log(msg);
}

/* A merge commit in the indexes of INTO (IDX, or NULL: not open) from
 * the merge's own list of what it changed: no tree diff of the merge
 * against its first parent (which reads again every bucket theirs
 * changed). A failure loses nothing: the next catch-up indexes the
 * commit from Git. */
static void index_merge(chronofs *db, struct idx_db *idx, const char *into,
			const struct store_merge_outcome *o)
{
	struct idx_change *ch = calloc(o->merge.n + 1, sizeof(*ch));
	size_t n = 0;
	int64_t time = 0;
	bool complete = true, plain = true;
	int err = ch ? store_commit_time(db->st, &o->commit, &time) : -ENOMEM;

	for (size_t i = 0; i < o->merge.n && err == 0; i++) {
		complete &= plain_change(&o->merge.v[i]);
		plain &= mode_644(&o->merge.v[i]);
		if ((err = result_change(&o->merge.v[i], &ch[n])) == 1) {
			n++;
			err = 0;
		}
	}
	if (err == 0 && idx) {
		err = idx_history_add_changes(idx, db->st, into, &o->commit,
					      &o->old_head, time, ch, n,
					      complete, plain, NULL);
		/* Behind: the owner's catch-up thread brings INTO up; a
		 * guest's next read that needs the indexes does. */
		if (err > 0)
			err = db->owner ? idx_history_catchup_later(idx, db->st,
								    into) :
					  0;
	}
	if (err < 0)
		index_log(db, into);
	store_error_clear();
	free(ch);
}

int lib_merge_commit(chronofs *db, const char *from,
		     const struct store_oid *commit, const char *into,
		     const char *message, unsigned flags,
		     chronofs_merge_result *res)
{
	const char *way = getenv("CHRONOFS_MERGE");
	struct store_merge_outcome o;
	struct lib_mrec rec = { NULL, db->st, way && !strcmp(way, "records") };
	struct store_merge_opts opts = { 0 };
	int err;

	memset(res, 0, sizeof(*res));
	/* The index, open once for the merge's records of changes and its
	 * own indexing after (a guest's open is milliseconds), compactions
	 * held back till then: not run beside the merge and cut at the
	 * close (bench-merge, 100,000 documents: +50% of the merge's CPU). */
	if (lib_index_get_paused(db, &rec.idx) < 0) {
		index_log(db, into);
		store_error_clear();
	}
	/* From the records where they answer, else from the trees;
	 * CHRONOFS_MERGE=trees takes the trees only, =records the records
	 * only (a check of one against the other). */
	if (!way || strcmp(way, "trees")) {
		opts.changes = lib_merge_records;
		opts.changes_ctx = &rec;
	}
	/* A write session: saves of this handle wait, the merge's objects
	 * are synced together before INTO moves. */
	store_write_begin(db->st);
	err = store_merge_commit(
		&o, db->st, from, commit, into, message,
		flags & CHRONOFS_MERGE_SQUASH ? STORE_MERGE_SQUASH : 0, &opts);
	store_write_end(db->st);
	if (err < 0 || o.kind != STORE_MERGED_COMMIT) {
		lib_index_put(db, rec.idx);
		rec.idx = NULL;
	}
	if (err == -ENOENT && !commit &&
	    store_branch_head(db->st, from, &o.commit) < 0)
		return store_fail(err, "%s: no such branch", from);
	if (err == -ENOENT)
		return store_fail(err, "%s: no such branch", into);
	if (err < 0)
		return lib_fail(err, into);
	if (o.kind == STORE_MERGED_COMMIT) {
		if (lib_index_resume(db, rec.idx) < 0) {
			index_log(db, into);
			store_error_clear();
		}
		index_merge(db, rec.idx, into, &o);
		lib_index_put(db, rec.idx);
	}
	if (o.kind != STORE_MERGED_NOTHING) {
		store_oid_fmt(res->commit, &o.commit);
		res->fast_forward = o.kind == STORE_MERGED_FAST_FORWARD;
		res->unrelated = !o.has_base;
		res->conflicts = o.merge.nconflicted;
	}
	store_merge_outcome_release(&o);
	return 0;
}

int chronofs_merge(chronofs *db, const char *from, const char *into,
		   const char *message, unsigned flags,
		   chronofs_merge_result *res)
{
	int err;

	lib_enter();
	memset(res, 0, sizeof(*res));
	if (flags & ~(unsigned)CHRONOFS_MERGE_SQUASH)
		return store_fail(-EINVAL, "unknown merge flags %#x", flags);
	if (!strcmp(from, into))
		return store_fail(-EINVAL,
				  "%s: a branch cannot be merged into "
				  "itself",
				  from);
	if ((err = lib_merge_commit(db, from, NULL, into, message, flags,
				    res)) < 0)
		return err;
	/* A merge commit is indexed already (index_merge). */
	if (res->fast_forward)
		lib_index_catchup(db, into);
	store_error_clear();
	return 0;
}

/* Diffs: the changed files, from the commits' change records where they
 * answer (diffrec.c), else from the engine's tree diff; one JSON line
 * each. CHRONOFS_DIFF=trees or =records takes one way only (a check of
 * one against the other: records fails with EAGAIN where they cannot
 * answer). */
struct chronofs_diff {
	chronofs *db;
	struct store_tdiff *d;
	struct lib_drec rec;
	size_t next;
	bool from_rec;
	struct jt_buf line;
};

int chronofs_diff_open(chronofs_diff **out, chronofs *db, const char *a,
		       const char *b, const char *path)
{
	const char *way = getenv("CHRONOFS_DIFF");
	struct store_oid ca, cb;
	chronofs_diff *d;
	int err = 1;

	lib_enter();
	*out = NULL;
	if ((err = name_commit(db, a, &ca)) < 0 ||
	    (err = name_commit(db, b, &cb)) < 0)
		return err;
	if (!(d = calloc(1, sizeof(*d))))
		return lib_fail(-ENOMEM, a);
	d->db = db;
	err = way && !strcmp(way, "trees") ?
		      1 :
		      lib_diff_records(db, &ca, &cb, path, &d->rec);
	if (err == 1 && way && !strcmp(way, "records"))
		err = store_fail(-EAGAIN, "the change records cannot answer");
	d->from_rec = err == 0;
	if (err == 1) {
		store_error_clear();
		err = store_tdiff_new(&d->d, db->st, &ca, &cb, path);
	}
	if (err < 0) {
		free(d);
		return lib_fail(err, path && *path ? path : b);
	}
	*out = d;
	return 0;
}

int chronofs_diff_next(chronofs_diff *d, const char **line, size_t *len)
{
	const struct store_tdiff_entry *e = NULL;
	int err = 1;

	lib_enter();
	if (!d->from_rec) {
		err = store_tdiff_next(d->d, &e);
	} else if (d->next < d->rec.n) {
		e = &d->rec.v[d->next++];
		err = 0;
	}
	if (err == 1)
		return 0;
	if (err < 0)
		return lib_fail(err, "diff");
	d->line.len = 0;
	err = store_tdiff_line(d->db->st, e, &d->line);
	if (err < 0)
		return lib_fail(err, e->path);
	/* One line, without its newline. */
	while (d->line.len && d->line.p[d->line.len - 1] == '\n')
		d->line.len--;
	*len = d->line.len;
	if (jt_buf_put(&d->line, "", 1) < 0)
		return lib_fail(-ENOMEM, e->path);
	*line = d->line.p;
	return 1;
}

void chronofs_diff_free(chronofs_diff *d)
{
	if (!d)
		return;
	store_tdiff_free(d->d);
	lib_drec_release(&d->rec);
	free(d->line.p);
	free(d);
}
