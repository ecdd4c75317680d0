/* journal.c - a durable save for one device flush.
 *
 * With fsync=on a save used to cost two flushes in a row: its objects (a
 * group pack) and the ref lock's new value synced together, then the
 * rename that moves the ref (its directory). On this project's machines
 * the first is a syncfs(2) of the file system, since on ext4 without a
 * journal fsync(2) leaves a new file's allocation unwritten (syncset.c),
 * and the two took 0.46-0.55 ms of a 0.75 ms save.
 *
 * Here a group's save is made durable by one fdatasync(2) of a record in
 * a file of the process's pool directory, allocated and synced once: the
 * group's pack and .idx as they are, and the ref's move (old and new id).
 * Overwriting blocks a file already has changes no metadata, so the
 * flush writes the record's blocks and nothing else. The Git files (the
 * pack, the ref) are then written as before but not synced; the kernel
 * writes them back within seconds.
 *
 * After a power cut the next process to start the pool (pool.c, the
 * daemon's mount or a library's first write) replays the journal of each
 * process that died: every record's pack written again unless its file
 * holds those bytes, then each ref moved to the record's new id if it
 * holds the old one, or is missing or unreadable (a branch's first
 * commit, or a ref file the power cut left empty). A ref that holds
 * anything else moved on another way since, and is left. Until then
 * plain git may find a branch naming objects that are not on disk yet.
 *
 * A checkpoint (syncfs, then the first record's header zeroed and
 * synced) empties the journal: when the next record would not fit, every
 * CHECKPOINT_NS, before a ref moves any other way (a merge, a rewind, a
 * deletion: a replay must not undo it), and at a clean stop, which also
 * removes the file. Records are 4 KiB-aligned, so appending one never
 * rewrites a block holding an earlier one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "store_int.h"
#include "banned.h"

#define JOURNAL_NAME "journal"
#define JOURNAL_SIZE (2u << 20)
#define BLOCK 4096u
#define HDR 32u
#define CHECKPOINT_NS 2000000000LL

static const unsigned char MAGIC[4] = { 'C', 'F', 'J', '1' };

struct store_journal {
	pthread_mutex_t mu;
	int fd; /* -1: not made yet */
	bool broken; /* could not be made: saves use the set */
	bool wanted; /* a save came: the next makes the file */
	char path[4400];
	uint64_t epoch, seq;
	size_t at; /* where the next record goes; 0: empty */
	size_t last; /* where the last record went (store_journal_undo) */
	long long since; /* the last checkpoint, CLOCK_MONOTONIC ns */
};

static long long mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t crc_of(const unsigned char *rec, size_t len)
{
	return (uint32_t)crc32(0L, rec + 8, (uInt)(HDR - 8 + len));
}

static uint64_t new_epoch(void)
{
	static _Atomic uint64_t n;

	return (uint64_t)mono_ns() ^ ((uint64_t)getpid() << 40) ^
	       (uint64_t)time(NULL) << 20 ^ ++n;
}

static int pwrite_all(int fd, const void *p, size_t len, off_t off)
{
	const char *c = p;

	while (len) {
		ssize_t w = pwrite(fd, c, len, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		c += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

/* The file, its blocks written and allocated for good: syncfs, since on
 * ext4 without a journal fsync would not write the allocation. */
static int make(struct store *st, struct store_journal *j)
{
	const char *dir = store_pool_dir(st);
	char *zero;
	int err = 0;

	if (!dir)
		return -ENOENT;
	snprintf(j->path, sizeof(j->path), "%s/" JOURNAL_NAME, dir);
	j->fd = open(j->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (j->fd < 0)
		return -errno;
	if (!(zero = calloc(1, 1u << 20)))
		err = -ENOMEM;
	for (size_t off = 0; err == 0 && off < JOURNAL_SIZE; off += 1u << 20)
		err = pwrite_all(j->fd, zero, 1u << 20, (off_t)off);
	free(zero);
	if (err == 0 && fsync(j->fd) < 0)
		err = -errno;
	if (err == 0)
		err = store_syncfs(st);
	if (err < 0) {
		close(j->fd);
		j->fd = -1;
		unlink(j->path);
		return err;
	}
	j->epoch = new_epoch();
	j->since = mono_ns();
	return 0;
}

int store_journal_new(struct store *st)
{
	struct store_journal *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->mu, NULL);
	j->fd = -1;
	st->journal = j;
	return 0;
}

/* Caller holds j->mu. The record at OFF invalid for good: its header
 * zeroed and synced. */
static int invalidate(struct store_journal *j, size_t off)
{
	unsigned char zero[HDR] = { 0 };
	int err = pwrite_all(j->fd, zero, HDR, (off_t)off);

	return err < 0 ? err : fdatasync(j->fd) < 0 ? -errno : 0;
}

/* Caller holds j->mu. Everything written so far durable, then the
 * records invalid. */
static int checkpoint(struct store *st, struct store_journal *j)
{
	int err;

	if (j->fd < 0 || j->at == 0)
		return 0;
	if ((err = store_syncfs(st)) < 0 || (err = invalidate(j, 0)) < 0)
		return err;
	j->at = 0;
	j->seq = 0;
	j->epoch = new_epoch();
	j->since = mono_ns();
	return 0;
}

int store_journal_checkpoint(struct store *st)
{
	struct store_journal *j = st->journal;
	int err;

	pthread_mutex_lock(&j->mu);
	err = checkpoint(st, j);
	pthread_mutex_unlock(&j->mu);
	return err < 0 ? store_fail(err, "%s: checkpoint: %s", j->path,
				    strerror(-err)) :
			 0;
}

/* The unsynced pack to be synced by the caller's set, all of the file
 * system: 1; or here if the caller has no set. */
static int sync_set_whole(struct store *st)
{
	int err;

	if (store_syncset_whole(st))
		return 1;
	err = store_syncfs(st);
	return err < 0 ? store_fail(err, "syncfs of %s: %s", st->gitdir,
				    strerror(-err)) :
			 1;
}

/* The record of R's move from OLD to NEW with the pack V, in *OUT (its
 * length a multiple of BLOCK). */
static int build(struct store_journal *j, const char *ref, const git_oid *old,
		 const git_oid *new, const struct store_gpack_view *v,
		 unsigned char **out, size_t *outlen)
{
	size_t rl = strlen(ref);
	size_t len = 4 + rl + 3 * GIT_OID_RAWSZ + 8 + v->packlen + v->idxlen;
	size_t total = (HDR + len + BLOCK - 1) / BLOCK * BLOCK;
	unsigned char *r, *p;

	if (total > JOURNAL_SIZE || v->packlen > UINT32_MAX ||
	    v->idxlen > UINT32_MAX)
		return -E2BIG;
	if (!(r = calloc(1, total)))
		return -ENOMEM;
	p = r + HDR;
	put32(p, (uint32_t)rl);
	memcpy(p + 4, ref, rl);
	p += 4 + rl;
	memcpy(p, old->id, GIT_OID_RAWSZ);
	memcpy(p + GIT_OID_RAWSZ, new->id, GIT_OID_RAWSZ);
	memcpy(p + 2 * GIT_OID_RAWSZ, v->sum, GIT_OID_RAWSZ);
	p += 3 * GIT_OID_RAWSZ;
	put32(p, (uint32_t)v->packlen);
	put32(p + 4, (uint32_t)v->idxlen);
	memcpy(p + 8, v->pack, v->packlen);
	memcpy(p + 8 + v->packlen, v->idx, v->idxlen);
	memcpy(r, MAGIC, 4);
	put64(r + 8, j->epoch);
	put64(r + 16, j->seq);
	put32(r + 24, (uint32_t)len);
	put32(r + 4, crc_of(r, len));
	*out = r;
	*outlen = total;
	return 0;
}

int store_journal_commit(struct store *st, const char *ref, const git_oid *old,
			 const git_oid *new)
{
	struct store_gpack_view v;
	/* Only a group's pack and nothing else to sync (no loose object,
	 * no merge of packs) goes by the journal; else the set syncs all
	 * of the file system, and the records with it. */
	bool pending = st->journal_on && store_gpack_unsynced(st, &v);
	bool alone = pending && store_syncset_empty(st);
	struct store_journal *j = st->journal;
	unsigned char *rec = NULL;
	size_t len = 0;
	bool first;
	int err = 0;

	if (!alone) {
		/* Before a ref moves another way: no replay may undo it. */
		if ((err = store_journal_checkpoint(st)) < 0)
			return err;
		if (pending)
			j->wanted = true;
		return pending ? sync_set_whole(st) : 1;
	}
	pthread_mutex_lock(&j->mu);
	/* A process that saves once (chronofsctl) gains nothing from a
	 * journal it would make, check-point and remove: its first save is
	 * synced the other way. */
	first = j->fd < 0 && !j->wanted;
	j->wanted = true;
	if (first) {
		pthread_mutex_unlock(&j->mu);
		return sync_set_whole(st);
	}
	if (j->fd < 0 && !j->broken && (err = make(st, j)) < 0) {
		j->broken = true;
		if (st->log) {
			char msg[4600];

			snprintf(msg, sizeof(msg),
				 "%s: cannot make the journal (%s): saves "
				 "sync the file system instead",
				 j->path, strerror(-err));
			st->log(msg);
		}
	}
	err = j->broken ? -ENOENT : build(j, ref, old, new, &v, &rec, &len);
	if (err == 0 && (j->at + len > JOURNAL_SIZE ||
			 mono_ns() - j->since > CHECKPOINT_NS))
		err = checkpoint(st, j);
	if (err == 0 &&
	    (err = pwrite_all(j->fd, rec, len, (off_t)j->at)) == 0 &&
	    fdatasync(j->fd) < 0) {
		/* The save fails: its record must not reach the disk later,
		 * whole, and be replayed. */
		err = -errno;
		invalidate(j, j->at);
	}
	if (err == 0) {
		j->last = j->at;
		j->at += len;
		j->seq++;
	}
	pthread_mutex_unlock(&j->mu);
	free(rec);
	if (err == 0)
		return 0;
	/* Too big for the journal, or no journal: the set syncs it all. A
	 * failed write leaves its record unfinished: invalid, unread. */
	if (err == -E2BIG || err == -ENOENT)
		return sync_set_whole(st);
	return store_fail(err, "%s: %s", j->path, strerror(-err));
}

void store_journal_undo(struct store *st)
{
	struct store_journal *j = st->journal;

	pthread_mutex_lock(&j->mu);
	if (j->fd >= 0 && j->at > j->last && j->seq > 0 &&
	    invalidate(j, j->last) == 0) {
		j->at = j->last;
		j->seq--;
	}
	pthread_mutex_unlock(&j->mu);
}

void store_journal_free(struct store *st)
{
	struct store_journal *j = st->journal;

	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	if (j->fd >= 0) {
		/* Durable first: a power cut right after the unlink must
		 * find everything the records held in the Git files. */
		if (checkpoint(st, j) == 0 || j->at == 0)
			unlink(j->path);
		close(j->fd);
		j->fd = -1;
	}
	pthread_mutex_unlock(&j->mu);
	pthread_mutex_destroy(&j->mu);
	free(j);
	st->journal = NULL;
}

/* --- replay, after a crash --- */

struct rec {
	const char *ref; /* in the file's copy, NUL put in place */
	git_oid old, new;
	unsigned char sum[GIT_OID_RAWSZ];
	const unsigned char *pack, *idx;
	size_t packlen, idxlen;
};

/* The valid records of journal BUF (LEN bytes), in order. */
static size_t parse(unsigned char *buf, size_t len, struct rec *v, size_t cap)
{
	uint64_t epoch = 0;
	size_t n = 0;

	for (size_t at = 0; at + HDR <= len && n < cap;) {
		unsigned char *r = buf + at, *p;
		uint32_t plen = get32(r + 24), rl;
		size_t total = (HDR + (size_t)plen + BLOCK - 1) / BLOCK * BLOCK;

		if (memcmp(r, MAGIC, 4) || at + total > len ||
		    get32(r + 4) != crc_of(r, plen) ||
		    (n && get64(r + 8) != epoch) || get64(r + 16) != n)
			break;
		epoch = get64(r + 8);
		p = r + HDR;
		rl = get32(p);
		if ((size_t)rl + 4 + 3 * GIT_OID_RAWSZ + 8 > plen || rl == 0)
			break;
		memmove(p, p + 4, rl); /* the name, NUL-terminated in place */
		p[rl] = '\0';
		v[n].ref = (const char *)p;
		p += 4 + rl;
		memcpy(v[n].old.id, p, GIT_OID_RAWSZ);
		memcpy(v[n].new.id, p + GIT_OID_RAWSZ, GIT_OID_RAWSZ);
		memcpy(v[n].sum, p + 2 * GIT_OID_RAWSZ, GIT_OID_RAWSZ);
		p += 3 * GIT_OID_RAWSZ;
		v[n].packlen = get32(p);
		v[n].idxlen = get32(p + 4);
		if (4 + rl + 3 * GIT_OID_RAWSZ + 8 + v[n].packlen +
			    v[n].idxlen !=
		    plen)
			break;
		v[n].pack = p + 8;
		v[n].idx = p + 8 + v[n].packlen;
		n++;
		at += total;
	}
	return n;
}

/* Whether file PATH holds exactly LEN bytes P. */
static bool holds(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *buf = NULL;
	bool same = false;

	if (fd < 0)
		return false;
	if (fstat(fd, &sb) == 0 && (size_t)sb.st_size == len &&
	    (buf = malloc(len ? len : 1)) &&
	    pread(fd, buf, len, 0) == (ssize_t)len)
		same = !memcmp(buf, p, len);
	free(buf);
	close(fd);
	return same;
}

/* LEN bytes P as file PATH, synced (a new file renamed over it). */
static int rewrite(const char *path, const void *p, size_t len)
{
	char tmp[4500];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.replay", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	err = pwrite_all(fd, p, len, 0);
	if (err == 0 && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, path) < 0)
		err = -errno;
	if (err < 0)
		unlink(tmp);
	return err;
}

/* Record R's pack in objects/pack/ unless there already; 1 if written. */
static int replay_pack(struct store *st, const struct rec *r)
{
	char hex[GIT_OID_HEXSZ + 1], path[4400];
	int err;

	git_oid_tostr(hex, sizeof(hex), (const git_oid *)r->sum);
	snprintf(path, sizeof(path), "%s/objects/pack/pack-%s.pack", st->gitdir,
		 hex);
	if (holds(path, r->pack, r->packlen)) {
		snprintf(path, sizeof(path), "%s/objects/pack/pack-%s.idx",
			 st->gitdir, hex);
		if (holds(path, r->idx, r->idxlen))
			return 0;
	}
	/* The .pack first: what finds a pack is its index. */
	snprintf(path, sizeof(path), "%s/objects/pack/pack-%s.pack", st->gitdir,
		 hex);
	if ((err = rewrite(path, r->pack, r->packlen)) < 0)
		return err;
	snprintf(path, sizeof(path), "%s/objects/pack/pack-%s.idx", st->gitdir,
		 hex);
	return (err = rewrite(path, r->idx, r->idxlen)) < 0 ? err : 1;
}

/* Record R's move of its ref, if the ref is where R found it, or gone, or
 * unreadable; 1 if moved. Caller holds st->lock. */
static int replay_ref(struct store *st, const struct rec *r)
{
	git_reference *moved = NULL;
	git_oid cur;
	int rc = git_reference_name_to_id(&cur, st->repo, r->ref);

	if (rc == 0 && !git_oid_equal(&cur, &r->old))
		return 0;
	/* Unreadable (the power cut left it empty): libgit2 would not
	 * replace it. */
	if (rc < 0 && rc != GIT_ENOTFOUND) {
		char path[4400];

		snprintf(path, sizeof(path), "%s/%s", st->gitdir, r->ref);
		unlink(path);
	}
	store_clear_stale_lock(st, r->ref);
	rc = git_reference_create(&moved, st->repo, r->ref, &r->new, 1,
				  "chronofs: saved again from the journal "
				  "after a crash");
	git_reference_free(moved);
	return rc < 0 ? store_git_fail(rc, r->ref) : 1;
}

int store_journal_replay(struct store *st, const char *dir)
{
	char path[4400], msg[4800];
	unsigned char *buf = NULL;
	struct rec *v = NULL;
	struct stat sb;
	size_t n = 0, cap;
	int packs = 0, refs = 0, err = 0, fd;

	snprintf(path, sizeof(path), "%s/" JOURNAL_NAME, dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &sb) < 0)
		err = -errno;
	cap = err == 0 ? (size_t)sb.st_size / BLOCK + 1 : 0;
	if (err == 0 && (!(buf = malloc((size_t)sb.st_size + 1)) ||
			 !(v = calloc(cap, sizeof(*v)))))
		err = -ENOMEM;
	if (err == 0 &&
	    pread(fd, buf, (size_t)sb.st_size, 0) != (ssize_t)sb.st_size)
		err = -EIO;
	close(fd);
	if (err == 0)
		n = parse(buf, (size_t)sb.st_size, v, cap);
	for (size_t i = 0; err == 0 && i < n; i++) {
		int rc = replay_pack(st, &v[i]);

		err = rc < 0 ? rc : 0;
		packs += rc > 0;
	}
	if (err == 0 && packs) {
		git_odb_refresh(st->odb);
		store_packread_rescan(st);
	}
	for (size_t i = 0; err == 0 && i < n; i++) {
		int rc = replay_ref(st, &v[i]);

		err = rc < 0 ? rc : 0;
		refs += rc > 0;
	}
	if (err == 0 && (err = store_syncfs(st)) == 0)
		unlink(path);
	/* A replay is news, not a failure: where the owner reports its
	 * background work, if it does. */
	if (err < 0 && st->log) {
		snprintf(msg, sizeof(msg),
			 "%s: journal of a process that crashed: not "
			 "replayed: %s",
			 path, strerror(-err));
		st->log(msg);
	} else if (n && (st->info || st->log)) {
		snprintf(msg, sizeof(msg),
			 "%s: journal of a process that crashed: %zu saves, "
			 "%d packs written again, %d refs moved to their "
			 "saves",
			 path, n, packs, refs);
		(st->info ? st->info : st->log)(msg);
	}
	free(v);
	free(buf);
	return err;
}
