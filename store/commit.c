/* commit.c - one change, one commit: build the new tree from the head's,
 * commit, and move the branch ref by compare-and-swap, retrying on a head
 * that moved under us. Also repository creation and the log walk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

int store_init_commit(git_repository *repo, const char *path)
{
	git_signature *sig = NULL;
	git_treebuilder *tb = NULL;
	git_tree *tree = NULL;
	git_oid tree_id, commit_id;
	int err = 0;

	if (git_signature_default(&sig, repo) < 0)
		err = git_signature_now(&sig, "chronofs", "chronofs@localhost");
	if (err < 0 || (err = git_treebuilder_new(&tb, repo, NULL)) < 0 ||
	    (err = git_treebuilder_write(&tree_id, tb)) < 0 ||
	    (err = git_tree_lookup(&tree, repo, &tree_id)) < 0 ||
	    (err = git_commit_create(&commit_id, repo, "refs/heads/main", sig,
				     sig, NULL, "init: empty repository", tree,
				     0, NULL)) < 0)
		err = store_git_fail(err, path);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	git_signature_free(sig);
	return err;
}

int store_init(const char *path)
{
	git_repository *repo = NULL;
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	int err;

	git_libgit2_init();
	if (git_repository_open_ext(NULL, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) == 0) {
		err = store_fail(-EEXIST, "%s: already a repository", path);
		goto out;
	}
	o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	o.initial_head = "main";
	err = git_repository_init_ext(&repo, path, &o);
	if (err < 0) {
		err = store_git_fail(err, path);
		goto out;
	}
	err = store_init_commit(repo, path);
out:
	git_repository_free(repo);
	git_libgit2_shutdown();
	return err;
}

/* Is every proper prefix of PATH a directory (or absent)? A blob on the
 * way means the path cannot exist: -ENOTDIR. */
static int check_parents(struct store *st, git_tree *tree, const char *path)
{
	struct store_entry e;
	char buf[4096];
	char *slash;
	int err;

	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return store_fail(-ENAMETOOLONG, "%s: path too long", path);
	memcpy(buf, path, len + 1);
	for (slash = strchr(buf, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		err = store_stat_tree_locked(st, tree, buf, &e, false);
		*slash = '/';
		if (err == -ENOENT)
			return 0;
		if (err < 0)
			return err;
		if (e.kind != STORE_DIR)
			return store_fail(-ENOTDIR, "%s: not a directory", buf);
	}
	return 0;
}

/* The tree updates of one change, with the paths they point into (git
 * paths: a fanout collection's files are in buckets). */
struct plan {
	git_tree_update *up;
	size_t n;
	char **paths;
	size_t npaths;
};

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->npaths; i++)
		free(p->paths[i]);
	free(p->paths);
	free(p->up);
	memset(p, 0, sizeof(*p));
}

/* Append update ACTION of git path GPATH (taken: freed with P). */
static int plan_push(struct plan *p, git_tree_update_t action,
		     const git_oid *id, char *gpath)
{
	git_tree_update *u = realloc(p->up, (p->n + 1) * sizeof(*u));
	char **v = u ? realloc(p->paths, (p->npaths + 1) * sizeof(*v)) : NULL;

	if (u)
		p->up = u;
	if (v)
		p->paths = v;
	if (!u || !v) {
		free(gpath);
		return -ENOMEM;
	}
	p->paths[p->npaths++] = gpath;
	u[p->n++] = (git_tree_update){ action, id ? *id : (git_oid){ { 0 } },
				       id ? GIT_FILEMODE_BLOB : 0, gpath };
	return 0;
}

/* PATH is a file Git put beside the buckets of a fanout collection (it
 * shadows its bucket's copy, store_layout_bucketed): the change goes to
 * the bucket and both copies of the old go, so the layout is the
 * collection's own again. */
static int plan_shadowed(git_tree *tree, struct plan *p,
			 git_tree_update_t action, const git_oid *id,
			 const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	size_t dl = slash ? (size_t)(slash - path) : 0;
	git_tree_entry *e = NULL;
	char *bpath = NULL, *flat = strdup(path);
	int err = flat ? plan_push(p, GIT_TREE_UPDATE_REMOVE, NULL, flat) :
			 -ENOMEM;

	if (err == 0 &&
	    store_layout_bucket_path(path, dl, name,
				     store_layout_split(tree, path, dl, name),
				     &bpath) < 0)
		return -ENOMEM;
	if (err < 0)
		return err;
	if (action == GIT_TREE_UPDATE_UPSERT)
		return plan_push(p, action, id, bpath);
	if (git_tree_entry_bypath(&e, tree, bpath) < 0) {
		free(bpath); /* no copy in the bucket */
		return 0;
	}
	git_tree_entry_free(e);
	return plan_push(p, action, NULL, bpath);
}

/* Add one update for logical PATH; the git path is looked up in TREE. */
static int plan_add(struct store *st, git_tree *tree, struct plan *p,
		    git_tree_update_t action, const git_oid *id,
		    const char *path)
{
	bool fanout, shadow = false;
	char *gpath = NULL;
	int err;

	err = store_tb_git_path(st, git_tree_id(tree), path, &gpath);
	if (err == 1)
		err = store_layout_git_path(st, tree, path, &gpath, &fanout,
					    &shadow);
	if (err == -ENOENT || err == -ENOTDIR)
		err = (gpath = strdup(path)) ? 0 : -ENOMEM;
	if (err < 0)
		return err;
	if (shadow) {
		free(gpath);
		return plan_shadowed(tree, p, action, id, path);
	}
	return plan_push(p, action, id, gpath);
}

/* The files of tree T as a flat collection counts them: 0 if it must
 * stay flat (store_layout_count). */
static size_t flat_files(git_tree *t)
{
	size_t files = 0;

	for (size_t i = 0, n = git_tree_entrycount(t); i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);

		if (!store_layout_count(
			    git_tree_entry_name(e),
			    git_tree_entry_type(e) == GIT_OBJECT_BLOB, &files))
			return 0;
	}
	return files;
}

/* A PUT into a flat collection that has grown past the threshold (made so
 * by someone else, or by us) reshards it in the same commit. Returns 1 if
 * it did (the PUT is then planned too). */
static int reshard(struct store *st, git_tree *tree, const char *path,
		   const git_oid *blob, struct plan *p)
{
	const char *slash = strrchr(path, '/'), *name;
	char *dir = strndup(path, slash ? (size_t)(slash - path) : 0);
	git_tree *t = NULL;
	size_t files = 0;
	bool fanout = false;
	int err = dir ? 0 : -ENOMEM, fast = 1;

	name = slash ? slash + 1 : path;
	if (err == 0)
		fast = store_tb_dir_files(st, git_tree_id(tree), dir, &files,
					  &fanout);
	if (fast == 0 && (fanout || !store_layout_too_big(files + 1)))
		files = 0; /* decided from the memo: no reshard */
	else if (err == 0 && store_layout_dir(st, tree, dir, &t) == 0 &&
		 !store_layout_is_fanout(t))
		files = flat_files(t);
	if (store_layout_too_big(files + 1) && t && *dir) {
		/* The collection's new tree, the PUT in it: one update. */
		git_oid id;

		err = store_layout_fanout_tree(st, t, name, blob, 0, &id);
		/* The flat tree is history now, and the biggest thing libgit2
		 * keeps (parsed, ~60 MB at a million documents): not for
		 * long. */
		if (err == 0)
			store_cache_drop_all(st, &id);
		if (err == 0)
			err = plan_add(st, tree, p, GIT_TREE_UPDATE_UPSERT, &id,
				       dir);
		if (err == 0)
			p->up[p->n - 1].filemode = GIT_FILEMODE_TREE;
		err = err < 0 ? err : 1;
	} else if (store_layout_too_big(files + 1)) {
		/* At the root (the tree is the commit's): tree updates. */
		err = store_layout_reshard(st, dir, t, name, &p->up, &p->n,
					   &p->paths, &p->npaths);
		if (err == 0)
			err = plan_add(st, tree, p, GIT_TREE_UPDATE_UPSERT,
				       blob, path);
		/* plan_add saw the flat tree: point it into its bucket. */
		if (err == 0) {
			char *g;

			if (store_layout_bucket_path(dir, strlen(dir), name,
						     false, &g) < 0) {
				err = -ENOMEM;
			} else {
				free(p->paths[p->npaths - 1]);
				p->paths[p->npaths - 1] = g;
				p->up[p->n - 1].path = g;
			}
		}
		err = err < 0 ? err : 1;
	}
	git_tree_free(t);
	free(dir);
	return err;
}

/* A PUT into a plain bucket of a fanout collection that holds
 * LAYOUT_FANOUT_AT files splits that bucket in the same commit, as
 * reshard() does a flat collection, a level down: at a million documents
 * every save into a bucket of 3,900 files hashed and wrote its 160 KB
 * again. Returns 1 if it did (the PUT is then planned too). */
static int split_bucket(struct store *st, git_tree *tree, const char *path,
			const git_oid *blob, struct plan *p)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char *gpath = NULL, *plain = NULL, *bdir = NULL;
	git_tree *bt = NULL;
	size_t files = 0;
	bool fanout = false, split = false;
	git_oid id;
	int err;

	err = store_tb_git_path(st, git_tree_id(tree), path, &gpath);
	if (err == 1)
		err = store_layout_git_path(st, tree, path, &gpath, &fanout,
					    NULL);
	if (err == 0 &&
	    store_layout_bucket_path(path, slash ? (size_t)(slash - path) : 0,
				     name, false, &plain) < 0)
		err = -ENOMEM;
	/* Only where the PUT goes into a plain bucket. */
	if (err < 0 || strcmp(gpath, plain))
		goto out;
	if (!(bdir = strndup(gpath, strlen(gpath) - strlen(name) - 1))) {
		err = -ENOMEM;
		goto out;
	}
	err = store_tb_dir_files(st, git_tree_id(tree), bdir, &files, &split);
	if (err == 1 && (err = store_layout_dir(st, tree, bdir, &bt)) == 0) {
		split = store_layout_is_fanout(bt);
		files = flat_files(bt); /* as the memo's count */
	}
	if (err < 0 || split || !store_layout_too_big(files + 1))
		goto out;
	if (!bt && (err = store_layout_dir(st, tree, bdir, &bt)) < 0)
		goto out;
	err = store_layout_fanout_tree(st, bt, name, blob, 1, &id);
	if (err == 0) {
		err = plan_push(p, GIT_TREE_UPDATE_UPSERT, &id, bdir);
		bdir = NULL; /* the plan's, or freed */
	}
	if (err == 0) {
		p->up[p->n - 1].filemode = GIT_FILEMODE_TREE;
		err = 1;
	}
out:
	git_tree_free(bt);
	free(bdir);
	free(plain);
	free(gpath);
	/* No bucket yet, or no collection: nothing to split. */
	return err == -ENOENT || err == -ENOTDIR ? 0 : err;
}

/* The tree updates for C against TREE; 1 if C changes nothing. *FROM:
 * what C->path was in TREE, *TOP what C->to was (a rename). */
static int plan(struct store *st, git_tree *tree, const struct store_change *c,
		const git_oid *blob, struct plan *p, struct store_entry *fromp,
		struct store_entry *top)
{
	struct store_entry from = { 0 }, to = { 0 };
	int err;

	err = store_stat_tree_locked(st, tree, c->path, &from, false);
	*fromp = from;
	if (err < 0 && err != -ENOENT)
		return err;
	if (err == 0 && from.kind == STORE_DIR)
		return store_fail(-EISDIR, "%s: is a directory", c->path);
	switch (c->op) {
	case STORE_PUT:
		if (err == 0 && git_oid_equal(store_goid(&from.oid), blob))
			return 1;
		err = check_parents(st, tree, c->path);
		if (err == 0)
			err = reshard(st, tree, c->path, blob, p);
		if (err == 0)
			err = split_bucket(st, tree, c->path, blob, p);
		if (err == 0)
			err = plan_add(st, tree, p, GIT_TREE_UPDATE_UPSERT,
				       blob, c->path);
		return err < 0 ? err : 0;
	case STORE_DELETE:
		if (err < 0)
			return err;
		return plan_add(st, tree, p, GIT_TREE_UPDATE_REMOVE, NULL,
				c->path);
	case STORE_RENAME:
		if (err < 0)
			return err;
		if (!strcmp(c->path, c->to))
			return 1;
		err = store_stat_tree_locked(st, tree, c->to, &to, false);
		if (err == -ENOENT)
			memset(&to, 0, sizeof(to));
		*top = to;
		if (err < 0 && err != -ENOENT)
			return err;
		if (err == 0 && to.kind == STORE_DIR)
			return store_fail(-EISDIR, "%s: is a directory", c->to);
		err = check_parents(st, tree, c->to);
		if (err == 0)
			err = plan_add(st, tree, p, GIT_TREE_UPDATE_REMOVE,
				       NULL, c->path);
		if (err == 0)
			err = plan_add(st, tree, p, GIT_TREE_UPDATE_UPSERT,
				       store_goid(&from.oid), c->to);
		return err;
	}
	return store_fail(-EINVAL, "unknown operation");
}

void store_change_message(char *buf, size_t sz, const struct store_change *c)
{
	switch (c->op) {
	case STORE_PUT:
		snprintf(buf, sz, "put %s", c->path);
		break;
	case STORE_DELETE:
		snprintf(buf, sz, "delete %s", c->path);
		break;
	case STORE_RENAME:
		snprintf(buf, sz, "rename %s -> %s", c->path, c->to);
		break;
	}
}

/* What PATH held before, for the indexes: false where that was more than
 * a regular file's blob (then *odd). */
static bool held(const struct store_entry *e, struct store_oid *old, bool *odd)
{
	if (e->kind == STORE_NONE)
		return false;
	if (e->kind != STORE_DOC || e->mode != GIT_FILEMODE_BLOB) {
		*odd = true; /* a mode changes too, or is not known */
		return false;
	}
	*old = e->oid;
	return true;
}

/* What C did, for the indexes: FROM and TO were its paths' old entries. */
static void describe(const struct store_change *c, const git_oid *blob,
		     const struct store_entry *from,
		     const struct store_entry *to,
		     struct store_commit_info *info)
{
	info->n = 1;
	info->odd = false;
	info->paths[0].path = c->path;
	info->paths[0].deleted = c->op != STORE_PUT;
	info->paths[0].had = held(from, &info->paths[0].old, &info->odd);
	if (c->op == STORE_PUT)
		memcpy(info->paths[0].blob.id, blob->id, STORE_OID_RAWSZ);
	if (c->op == STORE_RENAME) {
		info->n = 2;
		info->paths[1].path = c->to;
		info->paths[1].deleted = false;
		info->paths[1].blob = from->oid;
		info->paths[1].had = held(to, &info->paths[1].old, &info->odd);
	}
}

/* The empty tree, the base of an unborn branch's first commit. */
static int empty_tree(struct store *st, git_tree **out)
{
	git_oid id;
	int err = store_object_hash(&id, "", 0, GIT_OBJECT_TREE);

	/* Git and libgit2 know this one object without its file: writing
	 * it would leave a dangling object once the first save's tree is
	 * made. */
	if (err == 0 && (err = git_tree_lookup(out, st->repo, &id)) < 0)
		err = store_git_fail(err, "empty tree");
	return err;
}

/* The objects of one attempt (caller holds st->lock) on PARENT, or on
 * the current head if PARENT is NULL: the new commit in *OUT, its parent
 * in *HEAD, and *INFO but for the commit itself. 1 if the change changes
 * nothing. */
int store_build_commit(struct store *st, const char *ref,
		       const struct store_change *c, const git_oid *blob,
		       const char *msg, const git_oid *parent_in, git_oid *head,
		       git_oid *out, struct store_commit_info *info)
{
	struct store_entry from, to = { 0 };
	git_oid tree_id;
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	struct plan p = { 0 };
	struct store_tb_buf cbuf = { 0 };
	int err;

	/* Through the ref memo (one stat): the compare-and-swap below
	 * checks the value again under the lock. */
	if (parent_in) {
		*head = *parent_in;
		err = 0;
	} else {
		err = store_ref_read(st, ref, head);
	}
	if (err == -ENOENT && store_head_is(st, ref)) {
		/* HEAD's unborn branch (`git init`): this is its root
		 * commit, made on the empty tree; the compare-and-swap
		 * creates the ref from the zero id. */
		memset(head, 0, sizeof(*head));
		if ((err = empty_tree(st, &tree)) < 0)
			goto out;
	} else if (err < 0) {
		return err;
	} else if ((err = git_commit_lookup(&parent, st->repo, head)) < 0) {
		err = store_git_fail(err, "head commit");
		goto out;
	} else if ((err = git_commit_tree(&tree, parent)) < 0) {
		err = store_git_fail(err, "head tree");
		goto out;
	}
	err = plan(st, tree, c, blob, &p, &from, &to);
	if (err != 0)
		goto out;
	if (p.n == 1) {
		err = store_tree_patch(
			st, git_tree_id(tree), p.up[0].path,
			p.up[0].action == GIT_TREE_UPDATE_UPSERT ? &p.up[0].id :
								   NULL,
			p.up[0].filemode, &tree_id);
		if (err < 0)
			goto out;
	} else if ((err = git_tree_create_updated(&tree_id, st->repo, tree, p.n,
						  p.up)) < 0) {
		err = store_git_fail(err, "tree update");
		goto out;
	}
	if (git_oid_equal(&tree_id, git_tree_id(tree))) {
		err = 1;
		goto out;
	}
	/* The tree and the parent are ours, just written or read: their
	 * ids are all the commit needs (commitbuf.c). */
	if ((err = store_signature_now(st, &sig)) < 0) {
		err = store_git_fail(err, "commit");
		goto out;
	}
	if ((err = store_commit_buffer(&cbuf, &tree_id, head, parent ? 1 : 0,
				       sig, msg)) < 0)
		goto out;
	err = store_object_hash(out, cbuf.p, cbuf.len, GIT_OBJECT_COMMIT);
	if (err == 0)
		err = store_object_write(st, out, cbuf.p, cbuf.len,
					 GIT_OBJECT_COMMIT);
	if (err == 0) {
		memcpy(info->parent.id, head->id, STORE_OID_RAWSZ);
		info->time = (int64_t)sig->when.time;
		describe(c, blob, &from, &to, info);
	}
out:
	free(cbuf.p);
	plan_release(&p);
	git_signature_free(sig);
	git_tree_free(tree);
	git_commit_free(parent);
	return err;
}

/* A ref lock left by a process that died (kill -9 in the middle of a ref
 * update) would block the branch forever. Git has no owner to ask; a lock
 * older than STALE_LOCK_S is taken as dead and removed. Returns true if it
 * removed one. */
#define STALE_LOCK_S 5
bool store_clear_stale_lock(struct store *st, const char *ref)
{
	char path[4200];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s.lock", st->gitdir, ref);
	if (stat(path, &sb) < 0 || time(NULL) - sb.st_mtime < STALE_LOCK_S)
		return false;
	if (unlink(path) < 0)
		return false;
	if (st->log)
		st->log("removed a stale ref lock left by a dead process");
	return true;
}

/* Start the file pool once (caller holds st->lock). */
void store_pool_once(struct store *st)
{
	if (st->pool_tried)
		return;
	st->pool_tried = true;
	if (store_pool_start(st) < 0 && st->log)
		st->log("no file pool: saves make their own files");
}

void store_prepare_writes(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	store_pool_once(st);
	store_warm_start(st);
	pthread_mutex_unlock(&st->lock);
}

int store_apply(struct store *st, const char *branch,
		const struct store_change *c, struct store_oid *out)
{
	struct store_commit_info info = { 0 };
	int err = store_apply_info(st, branch, c, &info);

	if (err == 0)
		store_turn_done(st, &info); /* nothing follows it here */
	if (err == 0 && out)
		*out = info.commit;
	return err;
}

int store_apply_info(struct store *st, const char *branch,
		     const struct store_change *c,
		     struct store_commit_info *info)
{
	char ref[1024];
	int err;

	if (snprintf(ref, sizeof(ref), "refs/heads/%s", branch) >=
	    (int)sizeof(ref))
		return store_fail(-ENAMETOOLONG, "branch name too long");
	/* Every save goes through group.c: alone it is made at once; with
	 * saves waiting, they share one set of syncs and one ref update. */
	err = store_group_apply(st, branch, c, info);
	if (err == 0)
		store_warm_note(st, branch, c);
	return err;
}

/* Does PATH differ between commit C and its first parent? */
static int touches(struct store *st, git_commit *c, const char *path)
{
	git_commit *p = NULL;
	git_tree *t = NULL, *pt = NULL;
	struct store_entry a = { 0 }, b = { 0 };
	int changed = 1;

	if (git_commit_tree(&t, c) < 0)
		return 0;
	if (store_stat_tree_locked(st, t, path, &a, false) < 0)
		a.kind = STORE_NONE;
	if (git_commit_parentcount(c) > 0 && git_commit_parent(&p, c, 0) == 0 &&
	    git_commit_tree(&pt, p) == 0) {
		if (store_stat_tree_locked(st, pt, path, &b, false) < 0)
			b.kind = STORE_NONE;
		changed = a.kind != b.kind || !store_oid_equal(&a.oid, &b.oid);
	} else {
		changed = a.kind != STORE_NONE;
	}
	git_tree_free(pt);
	git_commit_free(p);
	git_tree_free(t);
	return changed;
}

int store_log(struct store *st, const char *branch, const char *path,
	      store_log_cb cb, void *ctx)
{
	git_revwalk *walk = NULL;
	git_oid head, id;
	int err;

	pthread_mutex_lock(&st->lock);
	err = store_head_locked(st, branch, &head);
	if (err < 0)
		goto out;
	if ((err = git_revwalk_new(&walk, st->repo)) < 0 ||
	    (err = git_revwalk_push(walk, &head)) < 0 ||
	    (err = git_revwalk_simplify_first_parent(walk)) < 0) {
		err = store_git_fail(err, "revwalk");
		goto out;
	}
	while ((err = git_revwalk_next(&id, walk)) == 0) {
		git_commit *c = NULL;
		struct store_oid o;

		err = git_commit_lookup(&c, st->repo, &id);
		if (err < 0) {
			err = store_git_fail(err, "commit");
			goto out;
		}
		memcpy(o.id, id.id, STORE_OID_RAWSZ);
		if (!path || touches(st, c, path))
			err = cb(ctx, &o, (int64_t)git_commit_time(c),
				 git_commit_summary(c));
		git_commit_free(c);
		if (err)
			goto out;
	}
	err = err == GIT_ITEROVER ? 0 : store_git_fail(err, "revwalk");
out:
	git_revwalk_free(walk);
	pthread_mutex_unlock(&st->lock);
	return err;
}
