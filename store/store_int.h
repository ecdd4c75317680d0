/* store_int.h - private to store/: the store handle and error helpers. */
#ifndef CHRONOFS_STORE_INT_H
#define CHRONOFS_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <zlib.h>

#include "store.h"

/* Lock order: write_lock -> lock -> the pool's, recent's and pack_lock.
 * lock is never held across an fsync, a sleep or a retry loop. */
struct store {
	/* One save at a time (its objects, syncset and ref update); held
	 * across the save's fsyncs and compare-and-swap retries, which only
	 * other saves of this handle wait for. */
	pthread_mutex_t write_lock;
	pthread_mutex_t lock; /* guards repo, odb and every libgit2 object */
	git_repository *repo;
	git_odb *odb;
	char *gitdir;
	char *author_name;
	char *author_email;
	void (*log)(const char *msg);
	size_t max_doc_size; /* store_doc_read's limit (SIZE_MAX: none) */

	pthread_mutex_t pack_lock; /* guards the packing state below */
	unsigned commits_since_pack;
	unsigned looks_skipped; /* pack.c: checks that found too little */
	bool packing, pack_started, closing;
	/* Loose objects this process wrote since the last packing started
	 * (pack.c, counted by objwrite.c), in files and KiB of disk. */
	_Atomic unsigned long loose_new_n, loose_new_kb;
	int gc_auto; /* gc.auto of the repository's config, -1 if unset */
	int gc_pack_limit; /* gc.autoPackLimit, -1 if unset */
	char *group_base; /* pack.c: tips before the first group pack */
	pthread_t pack_tid;
	bool fsync; /* fsync objects, ref and dirs (fsync=on) */
	enum {
		STORE_REFLOG_NONE, /* only refs that have a log already */
		STORE_REFLOG_BRANCHES, /* core.logAllRefUpdates=true */
		STORE_REFLOG_ALWAYS,
	} reflog;
	struct store_pool *pool; /* pool.c; NULL until started */
	git_odb_backend *objwrite; /* objwrite.c, owned by odb */
	git_odb_backend *packread; /* packread.c, owned by odb */
	struct store_treememo *treememo; /* treepatch.c; under lock */
	struct store_refmemo *refmemo; /* refs.c; under lock */
	struct store_warm *warm; /* warm.c; NULL unless opts.warm */
	void (*info)(const char *msg); /* what background work did */
	struct store_syncset *syncset; /* syncset.c; under write_lock */
	/* syncset.c: until then (CLOCK_MONOTONIC ns) a save's set is synced
	 * file by file, because syncfs(2) last found others' dirty data to
	 * write; under write_lock. */
	long long syncfs_slow_until;
	/* chronofs.fsyncMethod: 0 auto, 1 syncfs always, 2 files always */
	int sync_method;
	int syncfs_slow_runs; /* slow syncfs calls in a row */
	struct store_syncers *syncers; /* syncset.c; made at first use */
	bool pool_tried;
	struct store_group *group; /* group.c */
	struct store_gpack *gpack; /* grouppack.c; made at the first group */
	/* journal.c: with fsync=on and chronofs.fsyncMethod auto or
	 * journal, a group's save is made durable by a journal record. */
	bool journal_on;
	struct store_journal *journal; /* journal.c; its file at the 2nd save */
};

/* syncset.c: with fsync=on, the fsyncs of one save's objects and their
 * directories, run together right before the ref moves. begin/end bracket
 * a save (under lock); take_*: true if the set will sync it (an fd is
 * then the set's to close), false: sync it yourself now; flush: run them
 * all, 0 or the first error. */
void store_syncset_begin(struct store *st);
/* Does HEAD name REF ("refs/heads/X") symbolically? */
bool store_head_is(struct store *st, const char *ref);
bool store_syncset_take_fd(struct store *st, int fd);
bool store_syncset_take_dir(struct store *st, const char *dir);
int store_syncset_flush(struct store *st);
/* empty: this thread's set holds nothing; whole: its flush is to sync the
 * whole file system (what was written unsynced for the journal too). */
bool store_syncset_empty(struct store *st);
bool store_syncset_whole(struct store *st); /* false: there is no set */
int store_syncfs(struct store *st); /* the repository's file system */
/* Read chronofs.fsyncMethod (auto, syncfs, files) from CFG. */
void store_syncset_configure(struct store *st, git_config *cfg);
void store_syncset_end(struct store *st);
/* End the sync threads (store_close). */
void store_syncset_stop(struct store *st);

/* pack.c: count a commit; past a threshold, pack in the background. */
void store_pack_note_commit(struct store *st);
/* Before the first group pack (grouppack.c; caller holds lock): the
 * branch tips now, kept (group_base) for a first packing round (no tips
 * packed yet): it packs what the group packs hold from them. */
void store_pack_seed_tips(struct store *st);
/* Wait for a running pack (store_close). */
void store_pack_wait(struct store *st);

/* pool.c: pre-made empty files, so a save allocates and frees no inode.
 * start: once, by store_prepare_writes or the first save; take: the path of
 * an empty read-only file to write and link(2) into place (-EAGAIN: none
 * ready, make one yourself), with *FD open for writing it if the pool had
 * one ready (else -1: open the path; the caller closes *FD), then release
 * its TICKET, linked or not; trash: link VICTIM (a ref file) into the
 * pool before a rename replaces it (MOVE: rename it there, a packed loose
 * object), to be reused after a quarantine if no one holds it then;
 * -EAGAIN: no room. */
int store_pool_start(struct store *st);
/* FN(DIRFD of objects/xx/, file NAME, object id HEX, CTX) for each loose
 * object file of GITDIR; a nonzero return ends the walk and is returned.
 * pack.c */
int store_loose_each(const char *gitdir,
		     int (*fn)(int dirfd, const char *name, const char *hex,
			       void *ctx),
		     void *ctx);
/* Remove the loose objects whose bytes do not hash to their names (what a
 * crash left half written): their number. torn.c */
int store_drop_torn_objects(struct store *st);
void store_pool_stop(struct store *st);
int store_pool_take(struct store *st, char *path, size_t sz,
		    unsigned long *ticket, int *fd);
void store_pool_release(struct store *st, unsigned long ticket);
/* Files taken whose pool names the thread has not unlinked yet. */
unsigned long store_pool_backlog(struct store *st);
/* open(2) of pool file PATH for writing (it is read-only, and ours). */
int store_pool_open(const char *path);
/* fresh: a new empty file h<*n> in the pool directory (its path in PATH),
 * open for writing, for a ref lock when the pool ran dry: linked as the
 * lock, it is known as ours if this process dies (a file made at the
 * lock's own name would not be); unhold: unlink it once the lock is
 * gone. */
int store_pool_fresh(struct store *st, char *path, size_t sz, unsigned long *n);
void store_pool_unhold(struct store *st, unsigned long n);
int store_pool_trash(struct store *st, const char *victim, bool move);
/* objhash.c: the id of an object chronofs serialized (a tree or a
 * commit), with the CPU's SHA-1 instructions; 0 or -errno. */
int store_object_hash(git_oid *out, const void *data, size_t len,
		      git_object_t type);
/* The SHA-1 of LEN bytes of DATA (a pack's or an index's checksum): 0 or
 * -EIO. objhash.c */
int store_sha1(const void *data, size_t len, unsigned char out[GIT_OID_RAWSZ]);
/* recent.c: the last objects written, answered from memory (objwrite.c
 * reads through it). get: a copy (DATA allocated for libgit2 with BE's
 * allocator; DATA NULL for the header only), or -ENOENT. */
#define RECENT_N 32
#define RECENT_MAX (256 * 1024)
struct store_recent_obj {
	git_oid id;
	git_object_t type;
	size_t len;
	char *data;
};
struct store_recent {
	pthread_mutex_t lock;
	struct store_recent_obj v[RECENT_N];
	size_t next;
};
void store_recent_init(struct store_recent *r);
void store_recent_free(struct store_recent *r);
void store_recent_put(struct store_recent *r, const git_oid *id,
		      git_object_t type, const void *data, size_t len);
int store_recent_get(struct store_recent *r, const git_oid *id,
		     git_odb_backend *be, void **data, size_t *len,
		     git_object_t *type);
/* objwrite.c: register the pool-fed loose-object writer on st->odb. */
int store_objwrite_add(struct store *st);
/* packread.c: register the libdeflate pack reader on st->odb; served:
 * how many objects it has read (for tests). */
int store_packread_add(struct store *st);
uint64_t store_packread_served(struct store *st);
/* Blob ID kept whole in a pack (blobread.c streams it): 0, with *FD (a
 * descriptor of the pack, the caller's to close), *DATA (where its zlib
 * stream starts) and *SIZE (inflated); 1 if no pack holds it so (not
 * packed, a delta, a pack the reader does not read). */
int store_packread_blob(struct store *st, const struct store_oid *id, int *fd,
			uint64_t *data, uint64_t *size);
/* packread.c: tell the reader of new pack NAME ("pack-<hex>", its index
 * IDX, LEN bytes) at once, or that it is about to go (it lets go of its
 * files). */
void store_packread_add_pack(struct store *st, const char *name,
			     const void *idx, size_t len);
void store_packread_forget(struct store *st, const char *name);
/* Is ID in a pack other than SKIP[0..N) ("pack-<hex>") of those the
 * reader knows (rescan: look at the directory again first)? */
void store_packread_rescan(struct store *st);
bool store_packread_has_besides(struct store *st, const git_oid *id,
				char (*skip)[GIT_OID_HEXSZ + 6], size_t n);
/* One pack opened on its own by its base NAME in DIR, read through its
 * .idx: entry I's id, CRC and bytes [*off, *end); has: does it hold ID;
 * verify: both files' checksums right. */
struct store_pk;
struct store_pk *store_pk_open(const char *dir, const char *name);
uint32_t store_pk_count(const struct store_pk *pk);
void store_pk_entry(const struct store_pk *pk, uint32_t i,
		    const unsigned char **id, uint32_t *crc, uint64_t *off,
		    uint64_t *end);
int store_pk_read(const struct store_pk *pk, void *buf, size_t n, uint64_t off);
bool store_pk_has(const struct store_pk *pk, const git_oid *id);
bool store_pk_verify(const struct store_pk *pk);
void store_pk_close(struct store_pk *pk);
/* grouppack.c: a save group's objects as one pack. begin (a group starts
 * on this thread), end (PUBLISHED: its ref moved), under write_lock;
 * mine: is this thread's group collecting; add/get: an object into it,
 * read back (-ENOENT: not there); write: what it holds to objects/pack/,
 * with the group's set, right before the ref moves. */
int store_gpack_new(struct store *st); /* at open; _free at close */
void store_gpack_begin(struct store *st, bool gc);
bool store_gpack_mine(struct store *st);
int store_gpack_add(struct store *st, const git_oid *id, git_object_t type,
		    const void *data, size_t len);
int store_gpack_get(struct store *st, const git_oid *id, git_odb_backend *be,
		    void **data, size_t *len, git_object_t *type);
int store_gpack_write(struct store *st);
/* With the journal, the group's own pack is written unsynced: its bytes,
 * until the group ends (false if there is none). */
struct store_gpack_view {
	unsigned char sum[GIT_OID_RAWSZ]; /* its name's id */
	const void *pack, *idx;
	size_t packlen, idxlen;
};
bool store_gpack_unsynced(struct store *st, struct store_gpack_view *out);
void store_gpack_end(struct store *st, bool published);
/* A git gc holds GITDIR/gc.pid: no pack of ours is removed meanwhile. */
bool store_gc_running(const struct store *st);
void store_gpack_free(struct store *st);
/* For pack.c: the past groups' packs not taken yet, taken (*names the
 * caller's); give_back: one of them, unlinked (GONE) or to take again;
 * bytes: what is there to take; count: the past groups' packs there are;
 * gone: is pack NAME's index gone (an outside git gc repacked it);
 * unlink: a pack's two files. */
size_t store_gpack_take(struct store *st, char (**names)[GIT_OID_HEXSZ + 6]);
bool store_gpack_gone(struct store *st, const char *name);
void store_gpack_give_back(struct store *st, const char *name, bool gone);
uint64_t store_gpack_bytes(struct store *st);
size_t store_gpack_count(struct store *st);
void store_gpack_unlink(struct store *st, const char *name);
/* After a crash: the packs left in flight checked, torn ones removed;
 * their number. */
int store_drop_torn_packs(struct store *st);
/* Write object DATA (of id ID) as a loose object, or -errno. */
int store_object_write(struct store *st, const git_oid *id, const void *data,
		       size_t len, git_object_t type);
/* treepatch.c: root tree ROOT with PATH set to blob ID (mode MODE), or
 * removed if ID is NULL, every tree on the way written; *out the new root
 * tree. */
int store_tree_patch(struct store *st, const git_oid *root, const char *path,
		     const git_oid *id, git_filemode_t mode, git_oid *out);
/* treebytes.c: trees as their bytes, entry i at p[off[i] .. off[i + 1]);
 * the memo keeps the ones written or looked up last, in sets of
 * TREE_MEMO_WAYS slots chosen by the id (under st->lock). */
struct tree_bytes {
	git_oid id;
	char *p;
	size_t len, n;
	size_t *off;
};
#define TREE_MEMO 4096
#define TREE_MEMO_WAYS 4
#define TREE_MEMO_MAX (4u << 20) /* bigger trees are not kept */
/* All kept trees together: a collection of half a million documents has
 * 256 buckets of ~95 KB each (bytes and offsets) before they are split;
 * more are dropped in turn. */
#define TREE_MEMO_BYTES (64u << 20)
/* Trees the memo refused (too big, or not trees): their ids, a ring. */
#define TREE_REFUSED 16
struct store_treememo {
	struct tree_bytes v[TREE_MEMO];
	uint64_t used[TREE_MEMO]; /* when v[i] was last kept or found */
	uint64_t now; /* counts keeps and finds */
	size_t bytes; /* held by v */
	size_t hand; /* the next slot to drop when over TREE_MEMO_BYTES */
	git_oid refused[TREE_REFUSED];
	size_t nrefused;
};
struct store_tb_buf {
	char *p;
	size_t len, cap;
};
void store_treememo_free(struct store *st);
/* Tree ID read from the packs into OUT without st->lock (packread.c's
 * reads run on any thread): 0, or 1 if it is not there or no tree to
 * keep. */
int store_tb_read_unlocked(struct store *st, const git_oid *id,
			   struct tree_bytes *out);
/* T into the memo (under st->lock; T is emptied) unless it is there or
 * the memo holds LIMIT bytes: the bytes added, or (size_t)-1 at LIMIT. */
size_t store_tb_offer(struct store *st, struct tree_bytes *t, size_t limit);
/* warm.c: the memo warmed with the buckets of the collections saved into
 * before the last close (see there). New: at open, no thread yet (the
 * daemon forks after it); start: the thread, once (store_prepare_writes,
 * under st->lock); stop: at close, the list written. */
int store_warm_new(struct store *st);
void store_warm_start(struct store *st);
void store_warm_stop(struct store *st);
/* A save of C on BRANCH: remember its collection. */
void store_warm_note(struct store *st, const char *branch,
		     const struct store_change *c);
/* Drop tree ID from the memo, if it is there (replaced by a save). */
void store_tb_drop(struct store *st, const git_oid *id);
int store_tb_put(struct store_tb_buf *b, const void *data, size_t n);
/* Room for N more bytes in B (its len unchanged). */
int store_tb_reserve(struct store_tb_buf *b, size_t n);
int store_tb_put_entry(struct store_tb_buf *b, git_filemode_t mode,
		       const char *name, const git_oid *id);
/* Tree ID (NULL: an empty new one) as bytes: *borrowed from the memo
 * (valid until the next store_tb_keep), else the caller's to keep (it
 * then belongs to the memo) or free. */
int store_tb_get(struct store *st, const git_oid *id, struct tree_bytes *out,
		 bool *borrowed);
/* The store's author, now, in the local zone (commitbuf.c). */
int store_signature_now(const struct store *st, git_signature **out);
/* B (emptied first): the commit object of TREE, PARENTS[0..N), SIG as
 * author and committer, and MSG, byte for byte as libgit2 makes it. */
int store_commit_buffer(struct store_tb_buf *b, const git_oid *tree,
			const git_oid *parents, size_t nparents,
			const git_signature *sig, const char *msg);
const struct tree_bytes *store_tb_find_memo(struct store *st,
					    const git_oid *id);
/* Tree ID from the memo, put there first if it is a tree small enough
 * to keep (read past libgit2's cache); NULL otherwise. Valid until the
 * next store_tb_keep. */
const struct tree_bytes *store_tb_memo(struct store *st, const git_oid *id);
void store_tb_keep(struct store *st, struct tree_bytes *t);
void store_tb_free(struct tree_bytes *t);
const char *store_tb_name(const struct tree_bytes *t, size_t i, bool *dir);
/* The first entry not before NAME (as a tree if DIR); the entry named
 * NAME, tree or not, or t->n. */
size_t store_tb_lower_bound(const struct tree_bytes *t, const char *name,
			    bool dir);
size_t store_tb_find(const struct tree_bytes *t, const char *name);
/* Entry I's id and mode. */
void store_tb_entry(const struct tree_bytes *t, size_t i, git_oid *id,
		    unsigned *mode);
/* store_stat_tree_git of logical PATH under root tree ROOT from the
 * memo alone (SIZE: a document's size too); 1 if a tree on the way is
 * not in the memo (ask libgit2). */
int store_tb_stat(struct store *st, const git_oid *root, const char *path,
		  struct store_entry *out, bool size);
/* From the memo (1: not all in it): the number of files directly in
 * directory DIR (0 if it holds bucket-named subtrees) and whether it is a
 * fanout collection; and the git path of logical PATH
 * (store_layout_git_path). */
int store_tb_dir_files(struct store *st, const git_oid *root, const char *dir,
		       size_t *files, bool *fanout);
int store_tb_git_path(struct store *st, const git_oid *root, const char *path,
		      char **out);
/* rawtree.c: a tree as the object database's bytes, its entries parsed
 * in place (names NUL-terminated there), for the walks of treemerge.h;
 * under st->lock. read: NULL is the empty tree; -EIO if ID is no tree or
 * a malformed one. */
struct rt_entry {
	const unsigned char *start; /* the entry's first byte (its mode) */
	const char *name;
	size_t nlen;
	const unsigned char *id; /* GIT_OID_RAWSZ bytes */
	unsigned mode;
};
struct rtree {
	git_odb_object *obj; /* owns the bytes */
	struct rt_entry *v; /* in git's order */
	size_t n;
};
int store_rt_read(struct store *st, const git_oid *id, struct rtree *out);
void store_rt_release(struct rtree *t);
static inline bool store_rt_is_tree(const struct rt_entry *e)
{
	return e && e->mode == GIT_FILEMODE_TREE;
}
/* The same mode, name and id: the same bytes. */
static inline bool store_rt_same(const struct rt_entry *a,
				 const struct rt_entry *b)
{
	return a->id - a->start == b->id - b->start &&
	       !memcmp(a->start, b->start,
		       (size_t)(a->id - a->start) + GIT_OID_RAWSZ);
}
/* Git's tree order: bytewise, a tree's name as if it ended in '/'. */
int store_rt_order(const char *a, size_t la, bool adir, const char *b,
		   size_t lb, bool bdir);
/* The entry NAME (a tree if DIR, else a file), or NULL. */
const struct rt_entry *store_rt_find(const struct rtree *t, const char *name,
				     bool dir);
/* Does T hold the fanout marker (layout.c)? */
bool store_rt_is_fanout(const struct rtree *t);
/* Tree T with U[0..N) applied (each name set to ID/MODE, or removed if
 * ID is NULL; U is sorted here), written; *out its id, or *empty (then
 * nothing is written). */
struct rt_update {
	const char *name;
	const git_oid *id;
	git_filemode_t mode;
};
int store_rt_splice(struct store *st, const struct rtree *t,
		    struct rt_update *u, size_t n, git_oid *out, bool *empty);
/* All of BUF to FD (retrying short writes), or -errno. */
int store_write_all(int fd, const void *buf, size_t n);
/* fsync(2) of directory PATH, or -errno. */
int store_fsync_dir(const char *path);
/* commit.c: the pieces of a save group.c puts together. */
#define STORE_CAS_RETRIES 1000
#define STORE_IO_RETRIES 5
int store_build_commit(struct store *st, const char *ref,
		       const struct store_change *c, const git_oid *blob,
		       const char *msg, const git_oid *parent_in, git_oid *head,
		       git_oid *out, struct store_commit_info *info);
void store_change_message(char *buf, size_t sz, const struct store_change *c);
bool store_clear_stale_lock(struct store *st, const char *ref);
void store_pool_once(struct store *st); /* caller holds st->lock */
/* pool.c: at open, what a process that crashed left put right (its
 * journal replayed: saves whose close returned are on their branches
 * before anything reads them), if the repository is writable to us. */
void store_crash_recover(struct store *st);
/* The pool's directory of this process, NULL if it has none. */
const char *store_pool_dir(struct store *st);
/* journal.c (see there). new: at open, no file yet; free: at close (a
 * clean stop: everything durable, the file removed). commit: 0 if the
 * group's save (its unsynced pack, REF's move from OLD to NEW) is durable
 * by a journal record, 1 if the caller is to sync its set (made whole
 * where an unsynced pack needs it; the journal emptied first), or an
 * error. checkpoint: everything durable and the journal emptied, before a
 * ref moves another way. undo: the last record taken back (its save
 * failed after it was written: a replay must not make it). replay: the
 * journal a dead process left in its pool directory DIR (caller holds
 * st->lock). */
int store_journal_new(struct store *st);
void store_journal_free(struct store *st);
int store_journal_commit(struct store *st, const char *ref, const git_oid *old,
			 const git_oid *new);
int store_journal_checkpoint(struct store *st);
void store_journal_undo(struct store *st);
int store_journal_replay(struct store *st, const char *dir);

/* group.c: with fsync=on, the saves waiting for a save in progress are
 * made together by the next one: each its own commit (a chain on the
 * head), their objects synced in one set, the ref moved once to the
 * last, so one flush serves them all. */
struct store_group;
int store_group_new(struct store *st);
void store_group_free(struct store *st);
int store_group_apply(struct store *st, const char *branch,
		      const struct store_change *c,
		      struct store_commit_info *info);

/* refs.c: move REF from OLD to NEW as git does (lock, check, write, reflog,
 * rename); -EAGAIN if REF is not at OLD or another writer holds it. */
int store_ref_cas(struct store *st, const char *ref, const git_oid *old,
		  const git_oid *new, const char *msg);
/* The same, but with fsync=on the last step, the fsync of the ref's
 * directory that makes the rename durable, is left to the caller: DIR
 * gets the directory's path ("" if there is nothing to sync). */
int store_ref_cas_but_dir(struct store *st, const char *ref, const git_oid *old,
			  const git_oid *new, const char *msg, char *dir,
			  size_t dirsz);
/* REF's value (a loose ref costs one stat(2) while its file is the one
 * read or written last), or -errno. */
int store_ref_read(struct store *st, const char *ref, git_oid *out);
#define REFMEMO_N 8
void store_refmemo_free(struct store *st);
/* Translate a libgit2 code (with git_error_last()) to -errno. */
/* The empty root commit of a new repository, on refs/heads/main (the
 * author from git config, else chronofs). */
int store_init_commit(git_repository *repo, const char *path);
int store_git_fail(int gerr, const char *what);

/* layout.c: flat or fanout collections (see there). */
#define LAYOUT_MARKER ".chronofs-fanout"
#define LAYOUT_FANOUT_AT 2048
bool store_layout_bucket_name(const char *name);
/* The rules of the layout, each decided once for both readers of trees
 * (libgit2's and tree bytes): in a fanout collection a name goes to its
 * bucket unless an entry of that name stands at the flat level: a
 * subcollection, or a file Git put there beside the buckets (it shadows
 * the bucket's copy: it is what that commit's writer meant). */
bool store_layout_bucketed(bool fanout, bool name_is_direct);
/* "DIR[0..DIRLEN)/BUCKET/NAME", or ".../BUCKET/SUB/NAME" in a SPLIT
 * bucket (no leading '/' for the root); *out is the caller's. */
int store_layout_bucket_path(const char *dir, size_t dirlen, const char *name,
			     bool split, char **out);
/* Is the bucket NAME goes to in fanout collection DIR[0..DIRLEN) of
 * ROOT split? A bucket that cannot be read is not (its reader says
 * why). */
bool store_layout_split(git_tree *root, const char *dir, size_t dirlen,
			const char *name);
/* Count one entry of a flat collection into *FILES; false if the
 * collection must stay flat whatever its size (it holds a subdirectory
 * named like a bucket, which would be ambiguous). */
bool store_layout_count(const char *name, bool is_file, size_t *files);
/* Does a flat collection that will hold FILES files get resharded? */
bool store_layout_too_big(size_t files);
/* A bucket of a fanout collection is split in its turn once it holds
 * LAYOUT_FANOUT_AT files: its marker and 256 sub-buckets by the hash's
 * second byte (LEVEL 1; the collection's buckets are LEVEL 0). */
void store_layout_bucket(const char *name, char out[3]);
void store_layout_bucket_at(const char *name, unsigned level, char out[3]);
unsigned store_layout_bucket_no(const char *name); /* 0..255 */
unsigned store_layout_bucket_no_at(const char *name, unsigned level);
/* The marker blob of a fanout collection (LEVEL 0) or of a split bucket
 * (LEVEL 1), written; *out its id. */
int store_layout_marker(struct store *st, unsigned level, git_oid *out);
/* packwrite.c: a pack of COUNT objects (begin), each added in turn and
 * handed on to libgit2's indexer a MiB at a time, then indexed into
 * objects/pack (finish; nothing if COUNT is 0). */
struct store_packw {
	struct store_tb_buf b; /* bytes not yet given to the indexer */
	uint32_t n, count;
	z_stream z;
	bool zok;
	git_indexer *ix;
	git_indexer_progress stats; /* the indexer's, across appends */
	struct evp_md_ctx_st *sum; /* of the bytes so far: the trailer */
};
int store_packw_begin(struct store *st, struct store_packw *pw, uint32_t count);
int store_packw_add(struct store_packw *pw, git_object_t type, const void *data,
		    size_t len);
int store_packw_finish(struct store *st, struct store_packw *pw);
void store_packw_free(struct store_packw *pw);
/* odbread.c: type and size of ID from the backends that can say without
 * reading it (GIT_ENOTFOUND if none can): git_odb_read_header reads the
 * whole object when none can, into libgit2's cache. */
int store_odb_read_header_raw(git_odb *odb, const git_oid *id, size_t *len,
			      git_object_t *type);
/* odbread.c: object ID's bytes from ODB's backends in their order,
 * past libgit2's object cache: 0 (*DATA is *BE's, for
 * git_odb_backend_data_free), GIT_ENOTFOUND, or a libgit2 error. */
int store_odb_read_raw(git_odb *odb, const git_oid *id, void **data,
		       size_t *len, git_object_t *type, git_odb_backend **be);
/* odbread.c: empty libgit2's object caches (caller holds lock); ID: an
 * object to look up meanwhile, not parsed yet (the lookup is what clears
 * them). */
void store_cache_drop_all(struct store *st, const git_oid *id);
/* reshard.c: the tree of flat collection T made a fanout one (LEVEL 0),
 * or of bucket T made a split one (LEVEL 1), with file NAME set to BLOB
 * (NULL: NAME is not special), written; *out its id. */
int store_layout_fanout_tree(struct store *st, git_tree *t, const char *name,
			     const git_oid *blob, unsigned level, git_oid *out);
bool store_layout_is_fanout(const git_tree *t);
int store_layout_dir(struct store *st, git_tree *root, const char *dir,
		     git_tree **out);
/* The git path of logical PATH (a bucket path in a fanout collection);
 * *SHADOW (may be NULL): PATH is a file beside a fanout collection's
 * buckets (store_layout_bucketed). */
int store_layout_git_path(struct store *st, git_tree *root, const char *path,
			  char **out, bool *fanout, bool *shadow);
int store_layout_reshard(struct store *st, const char *dir, git_tree *t,
			 const char *skip, git_tree_update **up, size_t *nup,
			 char ***paths, size_t *npaths);

/* Helpers for callers that hold st->lock. */
int store_head_locked(struct store *st, const char *branch, git_oid *out);
int store_tree_locked(struct store *st, const git_oid *commit, git_tree **out);
/* Stat logical PATH in TREE (SIZE: a document's size too; else it may be
 * left 0): from the kept tree bytes when every tree on the way is there,
 * else through libgit2 alone (store_stat_tree_git). */
int store_stat_tree_locked(struct store *st, git_tree *tree, const char *path,
			   struct store_entry *out, bool size);
int store_stat_tree_git(struct store *st, git_tree *tree, const char *path,
			struct store_entry *out);

static inline const git_oid *store_goid(const struct store_oid *o)
{
	return (const git_oid *)o->id;
}

#endif
