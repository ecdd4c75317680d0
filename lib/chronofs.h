/* chronofs.h - libchronofs: a Git-backed time-travel JSON document store.
 *
 * The same store the chronofs FUSE daemon serves, without a mount: every
 * put is one Git commit on a branch (compare-and-swap on the branch ref, so
 * it is safe beside a running mount and outside git commands), every past
 * state can be read back, and collections can be read in the order of
 * document fields through persistent indexes.
 *
 * Conventions
 * - Every function returning int returns 0 on success or a negative errno
 *   value: -ENOENT (no such document, branch or commit), -EINVAL (invalid
 *   JSON, name or argument), -EFBIG (document over 16 MiB), -EEXIST,
 *   -ENOTDIR/-EISDIR (path kind clash), -EIO (storage failure), -ENOMEM.
 *   chronofs_errmsg() then tells what and where.
 * - Paths are "COLLECTION/ID.json" ("users/alice.json"); collections nest.
 *   A document path is relative, its components are not empty, none
 *   begins with '.' or '@' (reserved for the mount's virtual names) and
 *   the last ends in ".json"; anything else is refused with -EINVAL.
 * - Documents go in and out as UTF-8 JSON text with an explicit length;
 *   bytes are stored exactly as given (no reformatting).
 * - What comes back through an out-parameter is the caller's, freed with
 *   the free function named in its comment; strings returned directly are
 *   borrowed.
 * - A handle may be used by many threads at once.
 */
#ifndef CHRONOFS_H
#define CHRONOFS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHRONOFS_COMMIT_HEXSZ 40

typedef struct chronofs chronofs;
typedef struct chronofs_iter chronofs_iter;

/* One version of a document, as chronofs_history returns it. */
typedef struct chronofs_rev {
	char commit[CHRONOFS_COMMIT_HEXSZ + 1];
	int64_t time; /* committer time, seconds since the epoch */
	int deleted; /* 1: this commit deleted the document */
} chronofs_rev;

/* The library's version, "MAJOR.MINOR.PATCH" (borrowed, static). */
const char *chronofs_version(void);

/* Create a bare repository at PATH with branch main and an empty commit.
 * -EEXIST if PATH is a repository already. */
int chronofs_init(const char *path);

/* Open the repository at PATH (bare or not). *out is the caller's, closed
 * with chronofs_close(). AUTHOR is "NAME <EMAIL>" for commits, or NULL for
 * the repository's git config user, else "chronofs <chronofs@HOST>". */
int chronofs_open(chronofs **out, const char *path, const char *author);
void chronofs_close(chronofs *db);

/* The message of this thread's last failed call (borrowed, valid until
 * this thread's next call into the library): it names that call's
 * problem only; every call clears it on entry, so after a successful
 * call it is "". Never NULL. DB may be NULL (chronofs_init, a failed
 * chronofs_open). */
const char *chronofs_errmsg(chronofs *db);

/* Free what the library returned through an out-parameter. */
void chronofs_free(void *p);
void chronofs_strings_free(char **v, size_t n);

/* The document at PATH on BRANCH's head. *json (NUL-terminated too) is the
 * caller's: chronofs_free(). */
int chronofs_get(chronofs *db, const char *branch, const char *path,
		 char **json, size_t *len);

/* Validate JSON and commit it as PATH on BRANCH: one commit whose parent
 * is the branch head. COMMIT (may be NULL) receives the new commit id, or
 * "" if the bytes were already there (no commit made). */
int chronofs_put(chronofs *db, const char *branch, const char *path,
		 const char *json, size_t len,
		 char commit[CHRONOFS_COMMIT_HEXSZ + 1]);
int chronofs_delete(chronofs *db, const char *branch, const char *path,
		    char commit[CHRONOFS_COMMIT_HEXSZ + 1]);
int chronofs_rename(chronofs *db, const char *branch, const char *from,
		    const char *to, char commit[CHRONOFS_COMMIT_HEXSZ + 1]);

/* The entries of COLLECTION ("" is the branch root): document names
 * ("alice.json") and sub-collections ("2026/"), sorted. *names is the
 * caller's: chronofs_strings_free(*names, *n). */
int chronofs_list(chronofs *db, const char *branch, const char *collection,
		  char ***names, size_t *n);

/* PATH as it was at WHEN: an ISO-8601 time ("2026-11-20T10:15:00Z",
 * "2026-11-20", "...+01:00") meaning the newest commit of BRANCH's
 * first-parent chain at or before it, or 7 to 40 hex digits of a commit on
 * that chain. Output as chronofs_get. */
int chronofs_get_at(chronofs *db, const char *branch, const char *when,
		    const char *path, char **json, size_t *len);

/* The versions of PATH on BRANCH, oldest first, deletions included.
 * *versions is the caller's: chronofs_free(). */
int chronofs_history(chronofs *db, const char *branch, const char *path,
		     chronofs_rev **versions, size_t *n);

/* Branches. chronofs_branches: sorted, chronofs_strings_free(). A new
 * branch starts at the head of HEAD's branch. */
int chronofs_branches(chronofs *db, char ***names, size_t *n);
int chronofs_branch_create(chronofs *db, const char *name);
int chronofs_branch_delete(chronofs *db, const char *name);
/* Rename branch FROM to TO (-EEXIST if TO exists); its indexes follow. */
int chronofs_branch_rename(chronofs *db, const char *from, const char *to);

/* BRANCH's head commit (one read of its ref, no index). */
int chronofs_head(chronofs *db, const char *branch,
		  char commit[CHRONOFS_COMMIT_HEXSZ + 1]);

/* The commit BRANCH's indexes reflect ("" if it has none yet): equal to
 * its head once caught up. Reads the index as it is (no catch-up). */
int chronofs_index_head(chronofs *db, const char *branch,
			char commit[CHRONOFS_COMMIT_HEXSZ + 1]);

/* BRANCH@WHEN (as chronofs_get_at) as a commit id and its committer
 * time (TIME may be NULL). -ENOENT if it names no commit. */
int chronofs_resolve(chronofs *db, const char *branch, const char *when,
		     char commit[CHRONOFS_COMMIT_HEXSZ + 1], int64_t *time);

/* COMMIT's (40 hex digits) committer time and the first line of its
 * message (*summary is the caller's: chronofs_free(); either may be
 * NULL). */
int chronofs_commit(chronofs *db, const char *commit, int64_t *time,
		    char **summary);

/* The commits of BRANCH's first-parent chain, newest first, that changed
 * PATH (every commit if PATH is NULL): CB gets each commit's id,
 * committer time and the first line of its message (borrowed for the
 * call); a nonzero return stops the walk and is returned. */
typedef int (*chronofs_log_cb)(void *ctx, const char *commit, int64_t time,
			       const char *summary);
int chronofs_log(chronofs *db, const char *branch, const char *path,
		 chronofs_log_cb cb, void *ctx);

/* A range of an ordered query, the one grammar of the mount's path steps
 * (ge=V/gt=V/lt=V/le=V/first=N), chronofsctl query and this API: each
 * bound applies to the first field of the SPEC and is JSON text ("30",
 * "\"x\"", "null", "[1,2]") or, where that text is not JSON, a bare
 * string ("bob"); NULL is no bound. FIRST keeps the first rows (0: all).
 * The strings are borrowed. */
typedef struct chronofs_range {
	const char *ge, *gt, *lt, *le;
	size_t first;
} chronofs_range;

/* Parse one step of the grammar ("ge=30", "first=10") into R; the bound
 * points into STEP, which must outlive R. -EINVAL for anything else, a
 * bound given twice or a FIRST that is not a positive integer. */
int chronofs_range_step(chronofs_range *r, const char *step);

/* The documents of COLLECTION in the order of SPEC ("age", "-score,name",
 * "address.city") within RANGE (NULL: all). *out is the caller's:
 * chronofs_iter_free(). The first query of a SPEC builds a persistent
 * index; later puts keep it current. */
int chronofs_query_range(chronofs *db, const char *branch,
			 const char *collection, const char *spec,
			 const chronofs_range *range, chronofs_iter **out);
/* The same with FROM as ge, TO as lt and LIMIT as first. */
int chronofs_query(chronofs *db, const char *branch, const char *collection,
		   const char *spec, const char *from, const char *to,
		   size_t limit, chronofs_iter **out);
/* The next row: 1 with *id and *json (borrowed, valid until the next call
 * on IT), 0 at the end, or a negative error. */
int chronofs_iter_next(chronofs_iter *it, const char **id, const char **json,
		       size_t *len);
void chronofs_iter_free(chronofs_iter *it);

/* Merge branch FROM into branch INTO: a fast-forward when INTO has
 * nothing of its own, else a merge commit (parents INTO's head, FROM's
 * head) by the merge rules (chronofs(1), "Merging"): every document
 * changed on one side only takes that side, changed on both merges member
 * by member, conflicts go to the newer change and are listed in the
 * commit's message. CHRONOFS_MERGE_SQUASH: one ordinary commit on INTO
 * instead. Compare-and-swap on INTO (safe beside a mount and other
 * writers). MESSAGE may be NULL. -EINVAL merging a branch into itself,
 * -ENOENT an unknown branch. Histories with no common commit merge
 * against an empty base (*res says so). */
#define CHRONOFS_MERGE_SQUASH 1u
typedef struct chronofs_merge_result {
	char commit[CHRONOFS_COMMIT_HEXSZ + 1]; /* INTO's new head; "" if
						 * nothing was to merge */
	int fast_forward; /* 1: INTO moved to FROM */
	int unrelated; /* 1: no merge base */
	size_t conflicts; /* conflicted documents */
} chronofs_merge_result;
int chronofs_merge(chronofs *db, const char *from, const char *into,
		   const char *message, unsigned flags,
		   chronofs_merge_result *res);

/* The documents that differ from A to B (each a branch, BRANCH@WHEN or
 * a commit id), under PATH (NULL: all): one JSON line each,
 * {"path","op":"add"|"delete"|"modify","patch":[RFC 6902 operations]}
 * ("patch" null for a file that is not JSON). Its cost follows the
 * changed documents (unchanged subtrees are skipped by id). *out is the
 * caller's: chronofs_diff_free(). next: 1 with *line (NUL-terminated, no
 * newline, borrowed until the next call), 0 at the end, or -errno. */
typedef struct chronofs_diff chronofs_diff;
int chronofs_diff_open(chronofs_diff **out, chronofs *db, const char *a,
		       const char *b, const char *path);
int chronofs_diff_next(chronofs_diff *d, const char **line, size_t *len);
void chronofs_diff_free(chronofs_diff *d);

/* Transactions: puts, deletes and renames held by the transaction and
 * committed as ONE commit on BRANCH. tx_get sees the transaction's own
 * writes (else the branch as it was at begin). tx_commit validates every
 * document first (one bad document: -EINVAL or -EFBIG naming it, nothing
 * written); if the branch moved since begin, the changes are merged onto
 * the new head by the merge rules (the transaction's changes are the
 * newest: they win conflicts), or with CHRONOFS_TX_STRICT the commit
 * fails with -EBUSY if another commit touched one of its documents.
 * COMMIT (may be NULL) gets the new commit, "" if nothing changed. After
 * commit or abort the transaction takes no more calls (-EINVAL); free it
 * with chronofs_tx_free(). One thread at a time (-EBUSY otherwise). */
#define CHRONOFS_TX_STRICT 1u
typedef struct chronofs_tx chronofs_tx;
int chronofs_tx_begin(chronofs_tx **out, chronofs *db, const char *branch);
int chronofs_tx_begin_flags(chronofs_tx **out, chronofs *db, const char *branch,
			    unsigned flags);
int chronofs_tx_put(chronofs_tx *tx, const char *path, const char *json,
		    size_t len);
int chronofs_tx_delete(chronofs_tx *tx, const char *path);
int chronofs_tx_rename(chronofs_tx *tx, const char *from, const char *to);
/* *json (NUL-terminated) is the caller's: chronofs_free(). */
int chronofs_tx_get(chronofs_tx *tx, const char *path, char **json,
		    size_t *len);
int chronofs_tx_commit(chronofs_tx *tx, const char *message,
		       char commit[CHRONOFS_COMMIT_HEXSZ + 1]);
void chronofs_tx_abort(chronofs_tx *tx);
void chronofs_tx_free(chronofs_tx *tx);

/* The persistent ordered indexes: CB gets each one's branch, collection
 * ("" the branch root), canonical spec and row count. */
typedef int (*chronofs_index_cb)(void *ctx, const char *branch,
				 const char *collection, const char *spec,
				 uint64_t rows);
int chronofs_index_list(chronofs *db, chronofs_index_cb cb, void *ctx);
/* The rows of one persistent index and how many of them have the first
 * field of SPEC (0: no document ever had it; such an index orders
 * nothing). -ENOENT if there is no such index. */
int chronofs_index_stats(chronofs *db, const char *branch,
			 const char *collection, const char *spec,
			 uint64_t *rows, uint64_t *with_field);
/* Make the persistent index of SPEC on COLLECTION now. Without it a
 * query computes its rows from the branch head's tree; a SPEC queried 3
 * times through one handle gets its index by itself, at most 16 per
 * collection (a reader must not leave a cost on every later save). */
int chronofs_index_create(chronofs *db, const char *branch,
			  const char *collection, const char *spec);
/* Check every index against Git (each branch's time index holds its
 * first-parent chain, its path index gives each document at the head its
 * content, each ordered index holds exactly the head's rows); CB gets a
 * line per problem, *problems their count. REPAIR: build what is wrong
 * again from Git (needs the index database alone: -EBUSY beside a
 * mount). */
typedef void (*chronofs_fsck_cb)(void *ctx, const char *problem);
int chronofs_fsck(chronofs *db, int repair, chronofs_fsck_cb cb, void *ctx,
		  size_t *problems);
/* Drop one index, or drop and build it again from the branch head. Both
 * need the index database to themselves (-EBUSY while a mount holds it). */
int chronofs_index_drop(chronofs *db, const char *branch,
			const char *collection, const char *spec);
int chronofs_index_rebuild(chronofs *db, const char *branch,
			   const char *collection, const char *spec);

/* Sync between machines (chronofs(1), "Sync"): every machine has its own
 * clone; clones meet through an ordinary Git remote reached by any URL
 * git takes (a path, ssh://, git://, https://), with the user's own
 * credentials: the network is the git command's, run as a child process
 * (no store lock is held meanwhile, so saves never wait for it).
 *
 * chronofs_clone: a bare clone of URL at PATH, ready to mount and sync
 * (every branch, remote "origin"; a remote with no branch gets main).
 * -EIO with git's own words if git fails (unreachable, no such
 * repository, PATH not empty). */
int chronofs_clone(const char *url, const char *path);

/* What one round did to one branch: a set of these bits (0: nothing). */
#define CHRONOFS_SYNC_FAST_FORWARD 0x01u /* here moved up to the remote */
#define CHRONOFS_SYNC_MERGED 0x02u /* diverged: merged here */
#define CHRONOFS_SYNC_PUSHED 0x04u /* the remote moved up to here */
#define CHRONOFS_SYNC_CREATED 0x08u /* new there, made here */
#define CHRONOFS_SYNC_DELETED 0x10u /* deleted there, deleted here */
#define CHRONOFS_SYNC_DELETED_REMOTE 0x20u /* deleted here, and there */
#define CHRONOFS_SYNC_KEPT \
	0x40u /* deleted on one side but holding what
				  * that side never had: kept (warning) */
#define CHRONOFS_SYNC_FAILED 0x80u /* see message */
typedef struct chronofs_sync_branch {
	char *name;
	unsigned done; /* CHRONOFS_SYNC_* */
	size_t conflicts; /* conflicted documents of the merge */
	/* After the round: commits here not on the remote, and there not
	 * here (as far as the last fetch saw). */
	size_t ahead, behind;
	/* The local head before and after the round ("" if none). */
	char before[CHRONOFS_COMMIT_HEXSZ + 1],
		after[CHRONOFS_COMMIT_HEXSZ + 1];
	char *message; /* the failure or the warning, else NULL */
} chronofs_sync_branch;
typedef struct chronofs_sync_result {
	chronofs_sync_branch *v; /* every branch on either side, sorted */
	size_t n;
	size_t failed; /* branches with CHRONOFS_SYNC_FAILED */
	size_t changed; /* branches whose local head moved or went */
	int64_t time; /* when the round started */
} chronofs_sync_result;

/* One round against REMOTE (a remote's name, "origin"), for every branch
 * on either side: fetch (into refs/remotes/REMOTE/); equal: nothing;
 * the remote ahead: fast-forward here (compare-and-swap: a save landing
 * meanwhile makes it a merge); here ahead: push; diverged: merge (ours =
 * here, first parent = the local head, conflicts to the newer change and
 * listed in the message, as chronofs_merge), then push. A rejected push
 * is followed by another fetch and merge (a few times). A branch new on
 * one side is made on the other; deleted on one side, it is deleted on
 * the other only if it holds nothing the deleting side had not seen, else
 * kept (CHRONOFS_SYNC_KEPT). Never a forced push, never a reset, never a
 * dropped local commit. 0: the round ran (*out says per branch what it
 * did, failures included; chronofs_sync_result_free()); -ENOENT: no such
 * remote; -EIO: the fetch failed (message: git's words), nothing changed
 * here. */
int chronofs_sync(chronofs *db, const char *remote, chronofs_sync_result **out);
void chronofs_sync_result_free(chronofs_sync_result *r);

#ifdef __cplusplus
}
#endif

#endif
