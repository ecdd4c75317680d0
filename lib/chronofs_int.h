/* chronofs_int.h - the core's interface for the daemon, beside the public
 * chronofs.h: what a mount needs that other clients do not.
 *
 * The daemon opens an "owner" handle: it holds the index database for the
 * life of the mount (RocksDB admits one writer process), where a "guest"
 * handle of chronofs_open() opens it per call. It also needs commit and
 * tree lookups by id for its caches, and the mtimes it keeps for clients.
 * Everything here is 0 or -errno, with the one error record of
 * chronofs_errmsg() (any handle's; NULL works too). None of it leaves
 * libchronofs.so: the daemon links the core's static library.
 *
 * Lock order (one place for the core; fs/fs.h has the daemon's):
 *   store write lock (saves, one at a time per handle)
 *     -> store lock (libgit2 objects and the memos; never held across an
 *        fsync, a sleep or a retry loop)
 *       -> the pool's, the recent objects' and the packing's own locks.
 * RocksDB is thread-safe and takes none of them.
 */
#ifndef CHRONOFS_INT_H
#define CHRONOFS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chronofs.h"

#define CFS_OID_RAWSZ 20
#define CFS_OID_HEXSZ CHRONOFS_COMMIT_HEXSZ
/* "YYYY-MM-DDTHH:MM:SSZ" and its NUL. */
#define CFS_WHEN_SZ 21
/* The deepest path a document may have, in components (store.h's). */
#define CFS_MAX_DEPTH 64
/* Largest document by default (max_doc_size). */
#define CFS_MAX_DOC_SIZE (16u << 20)

struct cfs_oid {
	unsigned char id[CFS_OID_RAWSZ];
};

enum cfs_kind {
	CFS_NONE = 0,
	CFS_DIR,
	CFS_DOC,
	CFS_LINK, /* a symbolic link made by others: its blob is the target */
};

/* What a path is in one commit. */
struct cfs_entry {
	enum cfs_kind kind;
	struct cfs_oid oid; /* blob or tree id */
	uint64_t size; /* blob size; 0 for directories */
};

/* A document's modification time as a client set it or a save made it. */
struct cfs_mtime {
	int64_t sec;
	uint32_t nsec;
};

struct cfs_opts {
	const char *author; /* "NAME <EMAIL>" or NULL */
	bool fsync; /* each commit durable before it returns */
	size_t max_doc_size; /* 0: CFS_MAX_DOC_SIZE */
	/* Where background work reports failures; may be NULL. */
	void (*log)(const char *msg);
	/* Where the core reports what it did by itself (an index built by
	 * the rule of query.c); may be NULL. */
	void (*info)(const char *msg);
	/* Where it warns (an index database moved aside, opened read-only
	 * on a full disk); may be NULL. */
	void (*warn)(const char *msg);
};

/* Open REPO as the owner's handle, without the index yet (no thread is
 * started: the daemon forks after this). Closed with chronofs_close(). */
int cfs_open(chronofs **out, const char *repo, const struct cfs_opts *o);
/* Take the index database for the life of the handle, waiting up to
 * WAIT_MS for another process to let it go; then it is served read-only
 * (*readonly true: no new indexes, mtimes not kept). */
int cfs_index_attach(chronofs *db, unsigned wait_ms, bool *readonly);
/* Stop catch-ups at their next batch (what they wrote is kept, the next
 * one goes on from there): for an unmount while a long history is being
 * indexed in the background. */
void cfs_index_cancel(chronofs *db);
/* The daemon's background indexer is about to catch up every branch (ON)
 * or is done (off); meanwhile foreground calls leave catch-ups to it and
 * lookups wait for what they need (history.h's idx_db_reserve). */
void cfs_index_reserve(chronofs *db, bool on);
/* Write the index's memory out (at unmount: the next open replays less). */
int cfs_index_flush(chronofs *db);
/* Start making the files saves use (a read-write mount, once mounted). */
void cfs_prepare_writes(chronofs *db);
/* The Git directory (borrowed, lives as long as DB). */
const char *cfs_gitdir(chronofs *db);
/* See store_spread_subdirs: directories made in DIR from now on are
 * spread over ext4's block groups. */
void cfs_spread_subdirs(const char *dir);

/* Path rules, the SPEC's, decided here only. */
/* A document: ends in ".json", no component begins with '.'. Every other
 * name in a branch is a scratch file. */
bool cfs_is_document_path(const char *path);
/* Reserved inside a branch: names beginning with '@'. */
bool cfs_name_reserved(const char *name);
/* 0 if PATH may be committed as a document, else -EINVAL (or
 * -ENAMETOOLONG) with a message naming PATH and the rule. */
int cfs_path_check(const char *path);

/* HEAD's branch (*branch the caller's, free()), whether it has no commit
 * yet (*unborn: an empty `git init`), and whether the repository has a
 * working tree with it checked out (*checked_out: not bare). -ENOENT if
 * HEAD is detached. */
int cfs_head_branch(chronofs *db, char **branch, bool *unborn,
		    bool *checked_out);

/* Reads. HEAD of a branch, then lookups in a commit's tree. */
int cfs_head(chronofs *db, const char *branch, struct cfs_oid *out);
int cfs_stat(chronofs *db, const struct cfs_oid *commit, const char *path,
	     struct cfs_entry *out);
typedef int (*cfs_dir_cb)(void *ctx, const char *name,
			  const struct cfs_entry *e);
int cfs_readdir(chronofs *db, const struct cfs_oid *commit, const char *path,
		cfs_dir_cb cb, void *ctx);
/* A blob's bytes; *out is the caller's (free()). */
int cfs_blob_read(chronofs *db, const struct cfs_oid *blob, char **out,
		  size_t *len);
/* A blob's size, without reading it. */
int cfs_blob_size(chronofs *db, const struct cfs_oid *blob, uint64_t *size);
/* A blob read in parts, at any offset, from any thread: for a document
 * over max_doc_size, which is never held whole (a loose object costs a
 * window of 2 MiB however large; a packed one is held once). */
struct cfs_blob;
int cfs_blob_open(chronofs *db, const struct cfs_oid *blob,
		  struct cfs_blob **out, uint64_t *size);
/* Up to SIZE bytes at OFF; *got is short only at the end. */
int cfs_blob_pread(struct cfs_blob *b, char *buf, size_t size, uint64_t off,
		   size_t *got);
void cfs_blob_close(struct cfs_blob *b);
int cfs_commit_time(chronofs *db, const struct cfs_oid *commit, int64_t *out);
bool cfs_oid_equal(const struct cfs_oid *a, const struct cfs_oid *b);
void cfs_oid_fmt(char out[CFS_OID_HEXSZ + 1], const struct cfs_oid *o);
void cfs_format_when(char out[CFS_WHEN_SZ], int64_t when);

/* The mtime of PATH on BRANCH while its content is BLOB (-ENOENT: none
 * recorded for this content). */
int cfs_mtime_get(chronofs *db, const char *branch, const char *path,
		  const struct cfs_oid *blob, struct cfs_mtime *out);
int cfs_mtime_set(chronofs *db, const char *branch, const char *path,
		  const struct cfs_oid *blob, const struct cfs_mtime *t);

/* Writes: each one commit (and its indexes in one step), or none.
 * cfs_save: the whole save of a document: path rule, size, validation,
 * blob, trees, commit, ref compare-and-swap, indexes and MTIME (NULL:
 * now). 0 committed (*commit set if not NULL), 1 identical bytes (no
 * commit; MTIME, if given, is still kept). */
int cfs_save(chronofs *db, const char *branch, const char *path,
	     const char *buf, size_t len, const struct cfs_mtime *mtime,
	     struct cfs_oid *commit);
int cfs_delete(chronofs *db, const char *branch, const char *path,
	       struct cfs_oid *commit);
/* The document's mtime moves with it. */
int cfs_rename(chronofs *db, const char *branch, const char *from,
	       const char *to, struct cfs_oid *commit);
/* The largest document this handle saves. */
size_t cfs_max_doc_size(chronofs *db);

/* Time travel. Bring BRANCH's indexes up to its head (*added: commits
 * indexed now, may be NULL). */
int cfs_catchup(chronofs *db, const char *branch, uint64_t *added);
/* The same from the background indexer, under the reservation. */
int cfs_catchup_background(chronofs *db, const char *branch, uint64_t *added);
/* BRANCH@SPEC for SPEC[0..LEN) (a time or 7-40 hex digits). -ENOENT if
 * it names nothing, -EINVAL if it is neither. */
int cfs_resolve(chronofs *db, const char *branch, const char *spec, size_t len,
		struct cfs_oid *out);
/* The versions of PATH, oldest first (BLOB NULL: a deletion). */
typedef int (*cfs_version_cb)(void *ctx, int64_t time,
			      const struct cfs_oid *commit,
			      const struct cfs_oid *blob);
int cfs_versions(chronofs *db, const char *branch, const char *path,
		 cfs_version_cb cb, void *ctx);
/* Every name that ever existed directly in DIR, once, in byte order. */
typedef int (*cfs_name_cb)(void *ctx, const char *name, int is_dir);
int cfs_names(chronofs *db, const char *branch, const char *dir, cfs_name_cb cb,
	      void *ctx);

/* Ordered views. cfs_order_ensure: the index of SPEC exists and is
 * current with BRANCH's head (*built: made now). cfs_order_rows: the rows
 * in RANGE, at COMMIT's tree (computed in memory) or, with COMMIT NULL,
 * at the branch head from its index (built on first use); DOC is the
 * document's bytes when the index row carries them (else NULL: read
 * BLOB), borrowed for the call. */
/* -EINVAL (with the reason) if SPEC is not a valid ordering. */
int cfs_spec_check(const char *spec);
/* Make the persistent index of SPEC (now, whatever the rule of
 * query.c says) and bring it up to BRANCH's head. */
int cfs_order_ensure(chronofs *db, const char *branch, const char *collection,
		     const char *spec, bool *built);
typedef int (*cfs_row_cb)(void *ctx, const char *id, const struct cfs_oid *blob,
			  const char *doc, size_t len);
int cfs_order_rows(chronofs *db, const char *branch,
		   const struct cfs_oid *commit, const char *collection,
		   const char *spec, const chronofs_range *range, cfs_row_cb cb,
		   void *ctx);

/* BRANCH@conflicts: every document conflicted in a merge on BRANCH's
 * first-parent chain, newest merge first (a document in several merges
 * once per merge). CB's PATH and MERGE are borrowed for the call. */
typedef int (*cfs_conflict_cb)(void *ctx, const char *path,
			       const struct cfs_oid *merge, int64_t time);
int cfs_conflicts(chronofs *db, const char *branch, cfs_conflict_cb cb,
		  void *ctx);
/* The files of one conflicted document of one merge, derived from Git:
 * base (the merge base's version), ours and theirs (the parents'), merged
 * (the merge's), conflicts (conflicts.json: each conflicting member's
 * JSON Pointer, both values and the winner). -ENOENT where a side has no
 * such document. *out is the caller's (free()). */
enum cfs_conflict_part {
	CFS_CONFLICT_BASE,
	CFS_CONFLICT_OURS,
	CFS_CONFLICT_THEIRS,
	CFS_CONFLICT_MERGED,
	CFS_CONFLICTS_JSON,
};
int cfs_conflict_file(chronofs *db, const struct cfs_oid *merge,
		      const char *path, enum cfs_conflict_part part, char **out,
		      size_t *len);

/* Sync (lib/sync.c). cfs_sync: chronofs_sync, stopping early (the git
 * child killed, -ECANCELED) once *STOP is true. */
int cfs_sync(chronofs *db, const char *remote, const _Atomic bool *stop,
	     chronofs_sync_result **out);
/* 0 if REMOTE names a remote of DB's repository (no network), else
 * -EINVAL or -ENOENT with the reason. */
int cfs_sync_check(chronofs *db, const char *remote);
/* Without the network: every local branch with its commits ahead of and
 * behind REMOTE's as last fetched (done 0, before = after). */
int cfs_sync_state(chronofs *db, const char *remote,
		   chronofs_sync_result **out);
/* The logical paths that differ between commits A and B (hex ids), in
 * byte order (DELETED: not in B); CB's nonzero return stops the walk and
 * is returned. */
typedef int (*cfs_path_cb)(void *ctx, const char *path, int deleted);
int cfs_changed_paths(chronofs *db, const char *a, const char *b,
		      cfs_path_cb cb, void *ctx);

#endif
