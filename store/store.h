/* store.h - Git storage of JSON documents, on libgit2.
 *
 * A store is one open repository. Every function returns 0 or a negative
 * errno code; the message of the last failure on the calling thread is
 * store_errmsg() (shared with index/). A store handle may be shared by threads: every call takes
 * the store lock for its duration (libgit2 objects are not thread-safe).
 * Callbacks run with the store lock held and must not call back into it.
 */
#ifndef CHRONOFS_STORE_H
#define CHRONOFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_OID_RAWSZ 20
/* The deepest document path (components, the document's name included):
 * the one limit of saves, of the path rule and of the mount's mkdir and
 * create, which refuse deeper names at once (ENAMETOOLONG), never at a
 * close. */
#define STORE_MAX_DEPTH 64
#define STORE_OID_HEXSZ 40

struct store;

struct store_oid {
	unsigned char id[STORE_OID_RAWSZ];
};

struct store_opts {
	const char *author; /* "NAME <EMAIL>", or NULL for the default */
	bool fsync; /* make each commit durable before returning */
	/* Where background work (packing) reports failures; may be NULL. */
	void (*log)(const char *msg);
	/* The largest document store_doc_read reads (0: no limit). */
	size_t max_doc_size;
	/* The repository's owner (the daemon): remember the collections
	 * saved into and warm the tree memo with them at the next open
	 * (warm.c), reporting on INFO (may be NULL). */
	bool warm;
	void (*info)(const char *msg);
};

enum store_kind {
	STORE_NONE = 0,
	STORE_DIR,
	STORE_DOC,
	STORE_LINK, /* a symbolic link (mode 120000): its blob is the target */
};

/* What a path is in one commit. */
struct store_entry {
	enum store_kind kind;
	struct store_oid oid; /* blob or tree id */
	uint64_t size; /* blob size; 0 for directories */
	unsigned mode; /* its Git file mode where a tree was read, else 0 */
};

enum store_op {
	STORE_PUT, /* path <- data */
	STORE_DELETE, /* remove path */
	STORE_RENAME, /* path -> to (overwrites to) */
};

struct store_change {
	enum store_op op;
	const char *path;
	const char *to;
	const void *data;
	size_t len;
};

/* The one error record of this thread (never NULL): set by the store and
 * the index where a failure happens, cleared by store_error_clear() at
 * each public entry point of libchronofs. */
const char *store_errmsg(void);
void store_error_clear(void);
/* Set this thread's record; returns ERR. */
int store_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Create a bare repository at PATH with branch main holding one empty
 * commit. -EEXIST if PATH already holds a repository. */
int store_init(const char *path);

/* Open the repository at PATH (bare or not). Caller owns *out and frees it
 * with store_close(). */
int store_open(struct store **out, const char *path,
	       const struct store_opts *opts);
void store_close(struct store *st);
/* Another handle on ST's repository with ST's options (its own libgit2
 * repository and lock): for a thread whose reads must not hold up ST's
 * users, as an index catch-up must not hold up saves. */
int store_open_again(struct store **out, const struct store *st);

/* The Git directory (borrowed, lives as long as the store). */
const char *store_gitdir(const struct store *st);

/* Branch names (refs/heads/ stripped), sorted. Caller frees with
 * store_strv_free(). */
int store_branch_list(struct store *st, char ***out, size_t *n);
/* HEAD's branch (*branch the caller's), whether it has no commit yet
 * (*unborn: `git init` made it), and whether a working tree has it
 * checked out (*checked_out: the repository is not bare). -ENOENT if
 * HEAD is detached. */
int store_head_branch(struct store *st, char **branch, bool *unborn,
		      bool *checked_out);
void store_strv_free(char **v, size_t n);
/* -ENOENT if no such branch. */
int store_branch_head(struct store *st, const char *branch,
		      struct store_oid *out);
/* True if NAME is a valid branch name for Git. */
bool store_branch_name_valid(const char *name);
/* New branch at the head of HEAD's branch. -EINVAL bad name, -EEXIST. */
int store_branch_create(struct store *st, const char *name);
int store_branch_rename(struct store *st, const char *from, const char *to);
int store_branch_delete(struct store *st, const char *name);

/* Look PATH ("" is the root) up in COMMIT's tree. -ENOENT if absent. */
int store_stat(struct store *st, const struct store_oid *commit,
	       const char *path, struct store_entry *out);

/* Call CB for each entry of directory PATH in COMMIT. A nonzero return of
 * CB stops the walk and is returned. -ENOTDIR, -ENOENT. */
typedef int (*store_dir_cb)(void *ctx, const char *name,
			    const struct store_entry *e);
int store_readdir(struct store *st, const struct store_oid *commit,
		  const char *path, store_dir_cb cb, void *ctx);

/* Blob contents. Caller frees *out with free(). */
int store_blob_read(struct store *st, const struct store_oid *blob, char **out,
		    size_t *len);
/* A blob's size, from its header (the blob is not read). */
int store_blob_size(struct store *st, const struct store_oid *blob,
		    uint64_t *size);
/* A document's bytes to parse, as store_blob_read, unless it is over the
 * store's max_doc_size: then -EFBIG, *len its size, nothing read and no
 * message set (the caller leaves it out and says so). */
int store_doc_read(struct store *st, const struct store_oid *blob, char **out,
		   size_t *len);
size_t store_max_doc_size(const struct store *st);

/* A blob read in parts (blobread.c): a loose object is inflated from its
 * file as the reads go, keeping a window of WIN bytes, so a blob of any
 * size costs that much memory; any other is held whole, once. Reads may
 * come from several threads and at any offset (one behind the window
 * inflates from the start again). */
struct store_blob;
int store_blob_open(struct store *st, const struct store_oid *blob,
		    struct store_blob **out);
uint64_t store_blob_size_of(const struct store_blob *b);
/* Up to SIZE bytes at OFF into BUF; *got short only at the end. */
int store_blob_pread(struct store_blob *b, char *buf, size_t size, uint64_t off,
		     size_t *got);
void store_blob_close(struct store_blob *b);

/* Committer time (seconds since the epoch) of COMMIT. */
int store_commit_time(struct store *st, const struct store_oid *commit,
		      int64_t *out);
/* The first line of COMMIT's message; caller frees *out. */
int store_commit_summary(struct store *st, const struct store_oid *commit,
			 char **out);

/* Start making the files saves use ahead of time (store/pool.c), in the
 * background; a read-write daemon calls this once mounted, else the first
 * save does. With opts.warm, start warming the tree memo too (warm.c). */
void store_prepare_writes(struct store *st);

/* On ext4, directories made in DIR from now on are spread over the
 * disk's block groups as top-level directories are (the TOPDIR flag):
 * ext4 looks for a new file's inode in its directory's group first, and
 * where files were just deleted (a removed tree, a pack's old loose
 * objects) it skips every inode freed in the last minutes when it runs
 * without a journal: a creation there was measured at ~1 ms, 26 us in a
 * fresh group. Elsewhere there is no such flag; nothing changes. */
void store_spread_subdirs(const char *dir);

/* Apply one change to BRANCH as one commit whose parent is the branch head,
 * the ref moved by compare-and-swap and retried on a new head. Returns 0
 * with the new commit in *out (if not NULL), 1 if the change changes
 * nothing (no commit made), or -errno: -ENOENT (no such path or branch),
 * -EISDIR/-ENOTDIR (kind clash). */
int store_apply(struct store *st, const char *branch,
		const struct store_change *c, struct store_oid *out);

/* What a store_apply_info commit was, so the indexes can take it without
 * reading it back: the commit, its parent and committer time, and the
 * paths it changed (a rename is a deletion and an addition). The paths
 * are borrowed from the change. */
struct store_commit_info {
	struct store_oid commit, parent;
	int64_t time;
	size_t n;
	struct {
		const char *path;
		bool deleted;
		struct store_oid blob; /* the new content unless deleted */
		bool had; /* a regular file (100644) before: its blob in old */
		struct store_oid old;
	} paths[2];
	/* Some path held something else before (an executable, a link):
	 * what the commit changed is more than paths[] says. */
	bool odd;
	/* The parent was made by a group of this handle too: its saver
	 * takes its turn first (store_turn_wait). */
	bool chained;
	/* Set by the caller, or NULL: called in the caller's thread once
	 * the commit is on the branch, before it is durable (what follows
	 * a commit overlaps its last flush); store_apply_info then returns
	 * its outcome, durable or not, as without it. */
	void (*moved)(void *ctx, const struct store_commit_info *info);
	void *moved_ctx;
};
/* store_apply, telling what it committed (*info is set when it returns
 * 0). */
int store_apply_info(struct store *st, const char *branch,
		     const struct store_change *c,
		     struct store_commit_info *info);

/* Group commit makes a group's moved calls in commit order, but the next
 * group's may start before the last group's are done; what must follow
 * the commits' order (the indexes take a commit only on its parent)
 * waits for the parent's turn: store_turn_wait returns once
 * store_turn_done named INFO's parent, at once if INFO is not chained, or after a limit (the parent's saver
 * gone: the caller then finds its parent missing, as after an outside
 * commit). Every saver of a commit made by store_apply_info calls
 * store_turn_done once, whatever it did meanwhile. */
void store_turn_wait(struct store *st, const struct store_commit_info *info);
void store_turn_done(struct store *st, const struct store_commit_info *info);

/* One line per commit on BRANCH's first-parent chain, newest first,
 * touching PATH if PATH is not NULL. */
typedef int (*store_log_cb)(void *ctx, const struct store_oid *commit,
			    int64_t time, const char *summary);
int store_log(struct store *st, const char *branch, const char *path,
	      store_log_cb cb, void *ctx);

/* Is PATH a document: a name ending in ".json" with no component that
 * begins with '.'? (The SPEC's rule; everything else is scratch.) */
bool store_is_document_path(const char *path);

/* The blob id Git gives DATA (no repository needed). */
int store_blob_hash(const void *data, size_t len, struct store_oid *out);

/* Walk the first-parent chain from commit FROM back to the root, newest
 * first. CB gets each commit and its committer time; a nonzero return
 * stops the walk and is returned. */
typedef int (*store_walk_cb)(void *ctx, const struct store_oid *commit,
			     int64_t time);
int store_walk(struct store *st, const struct store_oid *from, store_walk_cb cb,
	       void *ctx);

/* The files COMMIT changed against its first parent (every file, for a
 * root commit). OLD or NEW is NULL for an added or deleted path. MISSING
 * NULL: a tree Git cannot find fails the diff (-ENOENT); else such a tree
 * reads as an empty directory, the rest is diffed, and *MISSING says
 * whether (and which) one was missing. */
struct store_missing {
	bool any;
	struct store_oid id; /* the first tree missing */
	/* A change the callback was not told of: a mode alone, or a file
	 * that is no regular blob (a symbolic link, a submodule). Set by
	 * store_chain_diff only. */
	bool skipped;
	/* A file reported was executable (100755) on a side: the callback
	 * is not told modes. Set by store_chain_diff only. */
	bool exec;
};
typedef int (*store_diff_cb)(void *ctx, const char *path,
			     const struct store_oid *old_blob,
			     const struct store_oid *new_blob);
int store_diff_parent(struct store *st, const struct store_oid *commit,
		      store_diff_cb cb, void *ctx,
		      struct store_missing *missing);
/* The documents that differ from commit FROM to commit TO, as above
 * (MISSING NULL). */
int store_diff_commits(struct store *st, const struct store_oid *from,
		       const struct store_oid *to, store_diff_cb cb, void *ctx);

/* The index catch-up's reader of a long chain (chain.c): commits and
 * trees read as raw bytes through a private object database, without the
 * store lock and outside libgit2's object cache, so a catch-up of a
 * million commits neither keeps the live view waiting nor grows the
 * process. A chain handle is for one thread; close accepts NULL. */
struct store_chain;
struct store_chain_commit {
	struct store_oid id, tree, parent; /* parent: the first one */
	bool has_parent;
	int64_t time; /* committer time */
};
int store_chain_open(struct store_chain **out, struct store *st);
void store_chain_close(struct store_chain *ch);
int store_chain_commit(struct store_chain *ch, const struct store_oid *id,
		       struct store_chain_commit *out);
/* What store_diff_parent reports, from root tree OLD_TREE (NULL: none)
 * to NEW_TREE, each change as it is found (Git's tree order, not path
 * order; nothing is held for the whole diff); with MISSING, a tree
 * missing from the repository reads as empty and is noted there, as
 * store_diff_parent's. No lock is held while CB runs. */
int store_chain_diff(struct store_chain *ch, const struct store_oid *old_tree,
		     const struct store_oid *new_tree, store_diff_cb cb,
		     void *ctx, struct store_missing *missing);

/* Write sessions: whole-tree commits (transactions, merges). While a
 * session is open the handle's saves wait, and every object the calling
 * thread writes is synced together with the others right before a ref
 * moves (fsync=on). */
void store_write_begin(struct store *st);
void store_write_end(struct store *st);
/* Write DATA as a blob (in a session: synced before the next commit). */
int store_blob_write(struct store *st, const void *data, size_t len,
		     struct store_oid *out);
#define STORE_MAX_PARENTS 2
/* store_commit_tree and store_branch_cas (treemerge.h) are committree.c's:
 * in a write session their objects are synced together before the ref
 * moves; the compare-and-swap holds no store lock across its syncs. */
/* The commit whose id begins with HEX (7-40 digits): -ENOENT if none,
 * -EINVAL if several do. */
int store_commit_lookup_prefix(struct store *st, const char *hex,
			       struct store_oid *out);
/* COMMIT's whole message; *out is the caller's (free()). */
int store_commit_message(struct store *st, const struct store_oid *commit,
			 char **out);
/* The two parents of merge COMMIT (-EINVAL if it is not one). */
int store_commit_parents(struct store *st, const struct store_oid *commit,
			 struct store_oid out[2]);
/* The merge commits (two parents) of FROM's first-parent chain, newest
 * first; CB is called without the store lock (it may call the store). */
int store_walk_merges(struct store *st, const struct store_oid *from,
		      store_walk_cb cb, void *ctx);
/* The root tree of COMMIT. */
int store_commit_tree_of(struct store *st, const struct store_oid *commit,
			 struct store_oid *tree);

/* Parse 40 hex digits. */
int store_oid_parse(struct store_oid *out, const char *hex);

void store_oid_fmt(char out[STORE_OID_HEXSZ + 1], const struct store_oid *o);
bool store_oid_equal(const struct store_oid *a, const struct store_oid *b);

#endif
