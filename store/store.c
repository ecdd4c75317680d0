/* store.c - opening a repository, branches, and reading trees and blobs.
 * Every public function takes the store lock for its whole duration. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define HEADS "refs/heads/"

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

#define MWINDOW_SIZE (8u << 20)
#define MWINDOW_MAPPED (24u << 20)

static void git_init_once(void)
{
	git_libgit2_init();
	/* libgit2 caches no tree over 4 KiB by default, so a collection of
	 * 100,000 documents would be parsed again on every lookup. Trees are
	 * what every stat walks: cache them whatever their size. */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE,
			 (size_t)64 << 20);
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)96 << 20);
	/* Pack files are read through mapped windows, which count in the
	 * daemon's resident memory: by default windows of 1 GiB up to
	 * 8 GiB, so a catch-up that reads a whole 300 MB pack kept it all
	 * resident. Small windows, and few of them; the pages stay in the
	 * page cache for the next. */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)MWINDOW_SIZE);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT,
			 (size_t)MWINDOW_MAPPED);
	/* Every tree and commit we create names objects we have just
	 * written or read: checking that they exist costs a lookup each. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
	/* Nor hash every object again as it is read (git does not either;
	 * `git fsck` does): a save reads back the collection tree it wrote. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
}

/* The repository's config this store follows: git's
 * core.logAllRefUpdates (default true in a work tree's repository and
 * false in a bare one), gc.auto (pack.c) and chronofs.fsyncMethod. */
static void read_config(struct store *st)
{
	git_config *cfg = NULL;
	git_buf v = GIT_BUF_INIT;
	int b;

	st->reflog = git_repository_is_bare(st->repo) ? STORE_REFLOG_NONE :
							STORE_REFLOG_BRANCHES;
	st->gc_auto = -1;
	st->gc_pack_limit = -1;
	if (git_repository_config_snapshot(&cfg, st->repo) < 0)
		return;
	if (git_config_get_string_buf(&v, cfg, "core.logAllRefUpdates") == 0) {
		if (!strcasecmp(v.ptr, "always"))
			st->reflog = STORE_REFLOG_ALWAYS;
		else if (git_config_parse_bool(&b, v.ptr) == 0)
			st->reflog = b ? STORE_REFLOG_BRANCHES :
					 STORE_REFLOG_NONE;
	}
	git_buf_dispose(&v);
	if (git_config_get_int32(&st->gc_auto, cfg, "gc.auto") < 0)
		st->gc_auto = -1;
	if (git_config_get_int32(&st->gc_pack_limit, cfg, "gc.autoPackLimit") <
	    0)
		st->gc_pack_limit = -1;
	store_syncset_configure(st, cfg);
	git_config_free(cfg);
}

/* Split "NAME <EMAIL>" into its parts; -EINVAL if malformed. */
static int parse_author(const char *s, char **name, char **email)
{
	const char *lt = strchr(s, '<');
	const char *gt = lt ? strchr(lt, '>') : NULL;
	const char *end = lt;

	if (!lt || !gt || gt[1] != '\0')
		return store_fail(-EINVAL, "author '%s': want 'NAME <EMAIL>'",
				  s);
	while (end > s && end[-1] == ' ')
		end--;
	if (end == s)
		return store_fail(-EINVAL, "author '%s': empty name", s);
	*name = strndup(s, (size_t)(end - s));
	*email = strndup(lt + 1, (size_t)(gt - lt - 1));
	if (!*name || !*email)
		return -ENOMEM;
	return 0;
}

/* Author from the option, else the repository's config, else
 * chronofs <chronofs@HOST>. */
static int set_author(struct store *st, const char *opt)
{
	git_signature *sig = NULL;
	char host[256] = "localhost";

	if (opt)
		return parse_author(opt, &st->author_name, &st->author_email);
	if (git_signature_default(&sig, st->repo) == 0) {
		st->author_name = strdup(sig->name);
		st->author_email = strdup(sig->email);
		git_signature_free(sig);
	} else {
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		st->author_name = strdup("chronofs");
		if (asprintf(&st->author_email, "chronofs@%s", host) < 0)
			st->author_email = NULL;
	}
	return st->author_name && st->author_email ? 0 : -ENOMEM;
}

/* GITDIR/chronofs holds scratch files with the modes clients gave
 * them, the index and the log: the owner's alone (made so, or made so
 * again if an older version left it readable by all). A read-only
 * repository of someone else is still opened: nothing is written. */
static void private_dir(const char *gitdir)
{
	char dir[4096];
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s/chronofs", gitdir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return;
	if (lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    sb.st_uid == geteuid() && (sb.st_mode & 077))
		(void)chmod(dir, 0700);
}

int store_open(struct store **out, const char *path,
	       const struct store_opts *opts)
{
	struct store *st;
	int err;

	*out = NULL;
	pthread_once(&git_once, git_init_once);
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, opts->fsync ? 1 : 0);
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->write_lock, NULL);
	if (store_group_new(st) < 0 || store_gpack_new(st) < 0 ||
	    store_journal_new(st) < 0) {
		store_group_free(st);
		store_gpack_free(st);
		pthread_mutex_destroy(&st->write_lock);
		free(st);
		return store_fail(-ENOMEM, "%s: out of memory", path);
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->pack_lock, NULL);
	st->log = opts->log;
	st->max_doc_size = opts->max_doc_size ? opts->max_doc_size : SIZE_MAX;
	err = git_repository_open_ext(&st->repo, path,
				      GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (err < 0) {
		err = store_git_fail(err, path);
		goto fail;
	}
	err = git_repository_odb(&st->odb, st->repo);
	if (err < 0) {
		err = store_git_fail(err, "odb");
		goto fail;
	}
	st->gitdir = strdup(git_repository_path(st->repo));
	if (!st->gitdir) {
		err = -ENOMEM;
		goto fail;
	}
	/* git_repository_path() ends in '/'; keep the plain directory. */
	if (strlen(st->gitdir) > 1 && st->gitdir[strlen(st->gitdir) - 1] == '/')
		st->gitdir[strlen(st->gitdir) - 1] = '\0';
	err = set_author(st, opts->author);
	if (err < 0)
		goto fail;
	st->fsync = opts->fsync;
	read_config(st);
	private_dir(st->gitdir);
	err = store_objwrite_add(st);
	if (err == 0)
		err = store_packread_add(st);
	st->info = opts->warm ? opts->info : NULL;
	if (err == 0)
		store_crash_recover(st);
	if (err == 0 && opts->warm)
		err = store_warm_new(st);
	if (err < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return err;
}

int store_open_again(struct store **out, const struct store *st)
{
	struct store_opts o = { .fsync = st->fsync, .log = st->log };

	return store_open(out, st->gitdir, &o);
}

void store_close(struct store *st)
{
	if (!st)
		return;
	store_warm_stop(st);
	store_pack_wait(st);
	store_journal_free(st); /* before the pool's directory is left */
	store_pool_stop(st);
	store_syncset_stop(st);
	store_treememo_free(st);
	store_refmemo_free(st);
	pthread_mutex_destroy(&st->pack_lock);
	git_odb_free(st->odb);
	git_repository_free(st->repo);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->write_lock);
	store_group_free(st);
	store_gpack_free(st);
	free(st->group_base);
	free(st->gitdir);
	free(st->author_name);
	free(st->author_email);
	free(st);
}

const char *store_gitdir(const struct store *st)
{
	return st->gitdir;
}

void store_oid_fmt(char out[STORE_OID_HEXSZ + 1], const struct store_oid *o)
{
	git_oid_tostr(out, STORE_OID_HEXSZ + 1, store_goid(o));
}

int store_blob_hash(const void *data, size_t len, struct store_oid *out)
{
	int err = git_odb_hash((git_oid *)out->id, data, len, GIT_OBJECT_BLOB);

	return err < 0 ? store_git_fail(err, "hash") : 0;
}

bool store_oid_equal(const struct store_oid *a, const struct store_oid *b)
{
	return memcmp(a->id, b->id, STORE_OID_RAWSZ) == 0;
}

void store_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_branch_list(struct store *st, char ***out, size_t *n)
{
	git_strarray refs = { 0 };
	char **v = NULL;
	size_t cnt = 0;
	int err;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->lock);
	err = git_reference_list(&refs, st->repo);
	if (err < 0) {
		err = store_git_fail(err, "list refs");
		goto out;
	}
	v = calloc(refs.count + 1, sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < refs.count; i++) {
		if (strncmp(refs.strings[i], HEADS, strlen(HEADS)) != 0)
			continue;
		v[cnt] = strdup(refs.strings[i] + strlen(HEADS));
		if (!v[cnt]) {
			err = -ENOMEM;
			goto out;
		}
		cnt++;
	}
	qsort(v, cnt, sizeof(*v), cmp_str);
	*out = v;
	*n = cnt;
	v = NULL;
	err = 0;
out:
	store_strv_free(v, cnt);
	git_strarray_dispose(&refs);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_head_branch(struct store *st, char **branch, bool *unborn,
		      bool *checked_out)
{
	git_reference *head = NULL;
	const char *target;
	int err;

	*branch = NULL;
	pthread_mutex_lock(&st->lock);
	err = git_reference_lookup(&head, st->repo, "HEAD");
	if (err < 0) {
		err = store_git_fail(err, "HEAD");
		goto out;
	}
	target = git_reference_symbolic_target(head);
	if (!target || strncmp(target, HEADS, strlen(HEADS))) {
		err = store_fail(-ENOENT, "HEAD is not on a branch");
		goto out;
	}
	*branch = strdup(target + strlen(HEADS));
	if (!*branch) {
		err = -ENOMEM;
		goto out;
	}
	*unborn = git_repository_head_unborn(st->repo) == 1;
	*checked_out = !git_repository_is_bare(st->repo);
out:
	git_reference_free(head);
	pthread_mutex_unlock(&st->lock);
	return err;
}

/* Caller holds the lock. */
int store_head_locked(struct store *st, const char *branch, git_oid *out)
{
	char ref[1024];

	if (snprintf(ref, sizeof(ref), HEADS "%s", branch) >= (int)sizeof(ref))
		return store_fail(-ENAMETOOLONG, "branch name too long");
	return store_ref_read(st, ref, out);
}

int store_branch_head(struct store *st, const char *branch,
		      struct store_oid *out)
{
	int err;

	pthread_mutex_lock(&st->lock);
	err = store_head_locked(st, branch, (git_oid *)out->id);
	pthread_mutex_unlock(&st->lock);
	return err;
}

bool store_branch_name_valid(const char *name)
{
	int valid = 0;

	pthread_once(&git_once, git_init_once);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false; /* git's ref rules refuse them too */
	if (git_branch_name_is_valid(&valid, name) < 0)
		return false;
	/* "HEAD" passes git's check but would shadow the symbolic ref. */
	return valid && strcmp(name, "HEAD") != 0 && !strchr(name, '@');
}

/* Each component, with ".lock" for its ref lock, must fit a file name. */
static bool name_fits(const char *name)
{
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");

		if (n + 5 > 255)
			return false;
		p += n + (p[n] == '/');
	}
	return true;
}

int store_branch_create(struct store *st, const char *name)
{
	git_reference *head = NULL, *ref = NULL;
	git_commit *commit = NULL;
	int err;

	if (!store_branch_name_valid(name))
		return store_fail(-EINVAL, "invalid branch name '%s'", name);
	if (!name_fits(name))
		return store_fail(-ENAMETOOLONG, "branch name too long");
	pthread_mutex_lock(&st->lock);
	err = git_repository_head(&head, st->repo);
	if (err == GIT_EUNBORNBRANCH) {
		err = store_fail(-ENOENT,
				 "HEAD's branch has no commit yet "
				 "to start '%s' from: save a document in it "
				 "first",
				 name);
		goto out;
	}
	if (err < 0) {
		err = store_git_fail(err, "HEAD");
		goto out;
	}
	err = git_commit_lookup(&commit, st->repo, git_reference_target(head));
	if (err < 0) {
		err = store_git_fail(err, "HEAD commit");
		goto out;
	}
	err = git_branch_create(&ref, st->repo, name, commit, 0);
	if (err < 0)
		err = store_git_fail(err, name);
out:
	git_reference_free(ref);
	git_commit_free(commit);
	git_reference_free(head);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_branch_rename(struct store *st, const char *from, const char *to)
{
	git_reference *ref = NULL, *moved = NULL;
	int err;

	if (!store_branch_name_valid(to))
		return store_fail(-EINVAL, "invalid branch name '%s'", to);
	if (!name_fits(to))
		return store_fail(-ENAMETOOLONG, "branch name too long");
	pthread_mutex_lock(&st->lock);
	err = git_branch_lookup(&ref, st->repo, from, GIT_BRANCH_LOCAL);
	if (err < 0) {
		err = store_git_fail(err, from);
		goto out;
	}
	err = git_branch_move(&moved, ref, to, 0);
	if (err < 0)
		err = store_git_fail(err, to);
out:
	git_reference_free(moved);
	git_reference_free(ref);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_branch_delete(struct store *st, const char *name)
{
	git_reference *ref = NULL;
	/* No replay of the journal may bring it back (journal.c). */
	int err = store_journal_checkpoint(st);

	if (err < 0)
		return err;
	pthread_mutex_lock(&st->lock);
	err = git_branch_lookup(&ref, st->repo, name, GIT_BRANCH_LOCAL);
	if (err < 0) {
		err = store_git_fail(err, name);
		goto out;
	}
	/* git_branch_delete refuses the branch HEAD points at; so do we. */
	if (git_branch_is_head(ref) == 1) {
		err = store_fail(-EBUSY, "'%s' is the default branch", name);
		goto out;
	}
	err = git_branch_delete(ref);
	if (err < 0)
		err = store_git_fail(err, name);
out:
	git_reference_free(ref);
	pthread_mutex_unlock(&st->lock);
	return err;
}

/* A tree entry is shown only if it can be a file: a blob with a plain name,
 * a symbolic link, or a tree. Submodules are skipped. */
static enum store_kind kind_of(const char *name, unsigned mode)
{
	if (!strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		return STORE_NONE;
	switch (mode) {
	case GIT_FILEMODE_TREE:
		return STORE_DIR;
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		return STORE_DOC;
	case GIT_FILEMODE_LINK:
		return STORE_LINK;
	default:
		return STORE_NONE;
	}
}

static enum store_kind entry_kind(const git_tree_entry *e)
{
	return kind_of(git_tree_entry_name(e),
		       (unsigned)git_tree_entry_filemode(e));
}

/* Caller holds the lock; *out is the caller's. */
int store_tree_locked(struct store *st, const git_oid *commit, git_tree **out)
{
	git_commit *c = NULL;
	int err;

	err = git_commit_lookup(&c, st->repo, commit);
	if (err < 0)
		return store_git_fail(err, "commit");
	err = git_commit_tree(out, c);
	git_commit_free(c);
	if (err < 0)
		return store_git_fail(err, "commit tree");
	return 0;
}

/* Stat PATH in TREE; caller holds the lock. */
/* Is PATH a two-hex-digit subtree of a fanout collection? */
static bool is_bucket(struct store *st, git_tree *root, const char *path)
{
	const char *slash = strrchr(path, '/');
	git_tree *dir = NULL;
	char *parent;
	bool yes;

	if (!store_layout_bucket_name(slash ? slash + 1 : path))
		return false;
	parent = strndup(path, slash ? (size_t)(slash - path) : 0);
	yes = parent && store_layout_dir(st, root, parent, &dir) == 0 &&
	      store_layout_is_fanout(dir);
	git_tree_free(dir);
	free(parent);
	return yes;
}

int store_stat_tree_locked(struct store *st, git_tree *tree, const char *path,
			   struct store_entry *out, bool size)
{
	/* The trees a save just wrote are kept as bytes (treebytes.c): no
	 * parse of them. */
	int err = store_tb_stat(st, git_tree_id(tree), path, out, size);

	return err == 1 ? store_stat_tree_git(st, tree, path, out) : err;
}

int store_stat_tree_git(struct store *st, git_tree *tree, const char *path,
			struct store_entry *out)
{
	git_tree_entry *e = NULL;
	char *gpath = NULL;
	bool fanout;
	size_t len;
	git_object_t type;
	int err;

	memset(out, 0, sizeof(*out));
	if (!*path) {
		out->kind = STORE_DIR;
		memcpy(out->oid.id, git_tree_id(tree)->id, STORE_OID_RAWSZ);
		return 0;
	}
	err = store_layout_git_path(st, tree, path, &gpath, &fanout, NULL);
	if (err == -ENOENT || err == -ENOTDIR)
		return store_fail(-ENOENT, "%s: not found", path);
	if (err < 0)
		return err;
	err = git_tree_entry_bypath(&e, tree, gpath);
	free(gpath);
	if (err < 0) {
		if (err == GIT_ENOTFOUND)
			return store_fail(-ENOENT, "%s: not found", path);
		return store_git_fail(err, path);
	}
	out->kind = entry_kind(e);
	out->mode = (unsigned)git_tree_entry_filemode(e);
	/* A bucket of a fanout collection is not a collection. */
	if (out->kind == STORE_DIR && is_bucket(st, tree, path))
		out->kind = STORE_NONE;
	memcpy(out->oid.id, git_tree_entry_id(e)->id, STORE_OID_RAWSZ);
	git_tree_entry_free(e);
	if (out->kind == STORE_NONE)
		return store_fail(-ENOENT, "%s: not a file or directory", path);
	if (out->kind == STORE_DOC || out->kind == STORE_LINK) {
		err = git_odb_read_header(&len, &type, st->odb,
					  store_goid(&out->oid));
		if (err < 0)
			return store_git_fail(err, path);
		out->size = len;
	}
	return 0;
}

int store_stat(struct store *st, const struct store_oid *commit,
	       const char *path, struct store_entry *out)
{
	git_tree *tree = NULL;
	int err;

	pthread_mutex_lock(&st->lock);
	err = store_tree_locked(st, store_goid(commit), &tree);
	if (err == 0)
		err = store_stat_tree_locked(st, tree, path, out, true);
	git_tree_free(tree);
	pthread_mutex_unlock(&st->lock);
	return err;
}

/* T's entries; SKIP_BUCKETS: T is a fanout collection (its buckets and
 * marker are no entries); DIRECT: T is a bucket of that collection,
 * whose entries of names DIRECT holds itself are shadowed
 * (store_layout_bucketed). */
static int list_entries(git_tree *t, bool skip_buckets, git_tree *direct,
			store_dir_cb cb, void *ctx)
{
	struct store_entry e;
	int err;

	for (size_t i = 0, n = git_tree_entrycount(t); i < n; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);
		const char *name = git_tree_entry_name(te);

		memset(&e, 0, sizeof(e));
		e.kind = entry_kind(te);
		if (e.kind == STORE_NONE ||
		    (direct && git_tree_entry_byname(direct, name)) ||
		    (skip_buckets &&
		     (!strcmp(name, LAYOUT_MARKER) ||
		      (e.kind == STORE_DIR && store_layout_bucket_name(name)))))
			continue;
		memcpy(e.oid.id, git_tree_entry_id(te)->id, STORE_OID_RAWSZ);
		if ((err = cb(ctx, name, &e)))
			return err;
	}
	return 0;
}

/* The entries of bucket T but those DIRECT has an entry of the same name
 * for, to CB. */
static int list_bytes(const struct tree_bytes *t, git_tree *direct,
		      store_dir_cb cb, void *ctx)
{
	struct store_entry e;
	int err = 0;

	for (size_t i = 0; i < t->n && !err; i++) {
		bool dir;
		const char *name = store_tb_name(t, i, &dir);
		git_oid oid;
		unsigned mode;

		store_tb_entry(t, i, &oid, &mode);
		memset(&e, 0, sizeof(e));
		e.kind = kind_of(name, mode);
		if (e.kind == STORE_NONE ||
		    (direct && git_tree_entry_byname(direct, name)))
			continue;
		memcpy(e.oid.id, oid.id, STORE_OID_RAWSZ);
		err = cb(ctx, name, &e);
	}
	return err;
}

/* The files of bucket ID (of LEVEL; a split one's sub-buckets opened),
 * but those DIRECT has an entry of the same name for. From the tree
 * memo: listing a million documents put 40 MB of parsed buckets into
 * libgit2's cache beside the memo's copy of the same buckets, and the
 * saves after a listing find their buckets there. */
static int list_bucket(struct store *st, const git_oid *id, git_tree *direct,
		       unsigned level, store_dir_cb cb, void *ctx)
{
	const struct tree_bytes *t;
	struct tree_bytes own;
	git_tree *bucket = NULL;
	bool borrowed;
	int err = 0;

	if (level > 0) {
		/* A sub-bucket is read, not kept: the 65,536 of a million
		 * documents would push every bucket out of the memo. */
		if ((err = store_tb_get(st, id, &own, &borrowed)) < 0)
			return err;
		err = list_bytes(&own, direct, cb, ctx);
		if (!borrowed)
			store_tb_free(&own);
		return err;
	}
	t = store_tb_memo(st, id);
	if (t && store_tb_find(t, LAYOUT_MARKER) < t->n) {
		/* Split: its sub-buckets, nothing else. */
		git_oid sub[256];
		size_t n = 0;

		for (size_t i = 0; i < t->n && n < 256; i++) {
			bool dir;
			const char *name = store_tb_name(t, i, &dir);
			unsigned mode;

			if (dir && store_layout_bucket_name(name))
				store_tb_entry(t, i, &sub[n++], &mode);
		}
		for (size_t i = 0; i < n && !err; i++)
			err = list_bucket(st, &sub[i], direct, 1, cb, ctx);
		return err;
	}
	if (t)
		return list_bytes(t, direct, cb, ctx);
	/* Too big for the memo. */
	err = git_tree_lookup(&bucket, st->repo, id);
	if (err < 0)
		return store_git_fail(err, "bucket");
	err = list_entries(bucket, false, direct, cb, ctx);
	git_tree_free(bucket);
	return err;
}

/* The entries of directory tree T, a fanout collection's buckets opened
 * so it lists flat. */
static int list_tree(struct store *st, git_tree *t, store_dir_cb cb, void *ctx)
{
	bool fanout = store_layout_is_fanout(t), direct = false;
	int err = list_entries(t, fanout, NULL, cb, ctx);

	/* Names beside the buckets are looked up only if there are any. */
	for (size_t i = 0, n = git_tree_entrycount(t); fanout && i < n; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);
		const char *name = git_tree_entry_name(te);

		direct |= strcmp(name, LAYOUT_MARKER) &&
			  !(git_tree_entry_type(te) == GIT_OBJECT_TREE &&
			    store_layout_bucket_name(name));
	}
	for (size_t i = 0, n = git_tree_entrycount(t); fanout && !err && i < n;
	     i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);

		if (git_tree_entry_type(te) == GIT_OBJECT_TREE &&
		    store_layout_bucket_name(git_tree_entry_name(te)))
			err = list_bucket(st, git_tree_entry_id(te),
					  direct ? t : NULL, 0, cb, ctx);
	}
	return err;
}

int store_readdir(struct store *st, const struct store_oid *commit,
		  const char *path, store_dir_cb cb, void *ctx)
{
	git_tree *root = NULL, *dir = NULL;
	struct store_entry e;
	int err;

	pthread_mutex_lock(&st->lock);
	err = store_tree_locked(st, store_goid(commit), &root);
	if (err < 0)
		goto out;
	if (*path) {
		err = store_stat_tree_locked(st, root, path, &e, false);
		if (err < 0)
			goto out;
		if (e.kind != STORE_DIR) {
			err = store_fail(-ENOTDIR, "%s: not a directory", path);
			goto out;
		}
		err = git_tree_lookup(&dir, st->repo, store_goid(&e.oid));
		if (err < 0) {
			err = store_git_fail(err, path);
			goto out;
		}
	}
	err = list_tree(st, dir ? dir : root, cb, ctx);
out:
	git_tree_free(dir);
	git_tree_free(root);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_blob_read(struct store *st, const struct store_oid *blob, char **out,
		    size_t *len)
{
	git_blob *b = NULL;
	int err;

	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&st->lock);
	err = git_blob_lookup(&b, st->repo, store_goid(blob));
	if (err < 0) {
		err = store_git_fail(err, "blob");
		goto out;
	}
	*len = (size_t)git_blob_rawsize(b);
	*out = malloc(*len ? *len : 1);
	if (!*out) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(*out, git_blob_rawcontent(b), *len);
out:
	git_blob_free(b);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_commit_time(struct store *st, const struct store_oid *commit,
		      int64_t *out)
{
	git_commit *c = NULL;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(commit));
	if (err < 0)
		err = store_git_fail(err, "commit");
	else
		*out = (int64_t)git_commit_time(c);
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err;
}

int store_commit_summary(struct store *st, const struct store_oid *commit,
			 char **out)
{
	git_commit *c = NULL;
	const char *sum;
	int err;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	err = git_commit_lookup(&c, st->repo, store_goid(commit));
	if (err < 0) {
		err = store_git_fail(err, "commit");
	} else {
		sum = git_commit_summary(c);
		*out = strdup(sum ? sum : "");
		err = *out ? 0 : -ENOMEM;
	}
	git_commit_free(c);
	pthread_mutex_unlock(&st->lock);
	return err;
}
