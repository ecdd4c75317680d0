/* packread.c - objects read from the pack files with libdeflate, a
 * read-only object backend ahead of libgit2's pack backend.
 *
 * A merge or a diff in a big fanout collection reads a few hundred bucket
 * trees of ~15 KB, and zlib's inflate (through libgit2, in small steps
 * with a checksum pass of its own) was most of its cost. Here the object
 * is found in the packs' .idx files (version 2) and its entry unpacked by
 * packentry.c: read with pread(2), inflated by libdeflate in one call,
 * deltas applied. What this backend does not handle it leaves to
 * libgit2's backends (GIT_PASSTHROUGH), which then read it as before:
 * objects in no pack it knows (loose ones, or a pack newer than its last
 * look at the directory), objects over PACKREAD_MAX (libgit2 streams
 * them), a delta whose base is in another pack, and anything odd in a
 * pack (libgit2 says what is wrong). libgit2's object cache sits above
 * all backends, so an object is read once either way.
 *
 * Reads run on any thread: the lock guards the list of packs, what
 * packentry.c keeps, and the spare decompressor and buffer, never a
 * system call. A pack dropped from the directory (git gc) is closed when
 * its last reader is done. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>

#include "packread.h"
#include "banned.h"

/* Below objwrite.c's (10), above libgit2's loose (1) and packed (2). */
#define PACKREAD_PRIORITY 5
#define IDX_HDR 8
#define IDX_FAN (256 * 4)
#define IDX_TRAILER 40
#define IDX_READ_MAX (64u << 10)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void pack_free(struct pack *p)
{
	if (p->idx && p->idx_read)
		free((void *)p->idx);
	else if (p->idx)
		munmap((void *)p->idx, p->idx_len);
	if (p->fd >= 0)
		close(p->fd);
	free(p->name);
	free(p);
}

/* Drop a reference; true if P is then to be freed (pack_free, after
 * the lock is let go). Caller holds pr->lock. */
static bool pack_unref(struct pack *p)
{
	return --p->refs == 0;
}

int pk_read_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done,
				  (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

/* Pack NAME (an .idx file) of DIR, or NULL if it is not one we read. */
static struct pack *pack_open(const char *dir, const char *name)
{
	char path[PATH_MAX];
	unsigned char hdr[12];
	struct pack *p = calloc(1, sizeof(*p));
	struct stat sb;
	size_t len = strlen(name), need;
	int fd;

	if (!p || !(p->name = strdup(name)))
		goto fail;
	p->fd = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	if (fstat(fd, &sb) == 0 &&
	    (size_t)sb.st_size >= IDX_HDR + IDX_FAN + IDX_TRAILER) {
		p->idx_len = (size_t)sb.st_size;
		/* A small index (a group pack's) is read: mapped, its unmap
		 * would stop the other core to flush its TLB. */
		if (p->idx_len <= IDX_READ_MAX) {
			void *buf = malloc(p->idx_len);

			p->idx_read = true;
			if (buf && pk_read_full(fd, buf, p->idx_len, 0) == 0)
				p->idx = buf;
			else
				free(buf);
		} else {
			p->idx = mmap(NULL, p->idx_len, PROT_READ, MAP_PRIVATE,
				      fd, 0);
			if (p->idx == MAP_FAILED)
				p->idx = NULL;
		}
	}
	close(fd);
	if (!p->idx || memcmp(p->idx, "\377tOc", 4) || be32(p->idx + 4) != 2)
		goto fail;
	p->n = be32(p->idx + IDX_HDR + IDX_FAN - 4);
	/* ids, CRCs and offsets; the large offsets fill what is left. */
	need = IDX_HDR + IDX_FAN + (size_t)p->n * 28 + IDX_TRAILER;
	if (p->idx_len < need || (p->idx_len - need) % 8)
		goto fail;
	snprintf(path, sizeof(path), "%s/%.*s.pack", dir, (int)(len - 4), name);
	if ((p->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(p->fd, &sb) < 0 || pk_read_full(p->fd, hdr, 12, 0) < 0 ||
	    memcmp(hdr, "PACK", 4) ||
	    (be32(hdr + 4) != 2 && be32(hdr + 4) != 3) || be32(hdr + 8) != p->n)
		goto fail;
	p->size = (uint64_t)sb.st_size;
	p->refs = 1;
	return p;
fail:
	if (p)
		pack_free(p);
	return NULL;
}

/* Entry I's offset in P (0 if its large offset is out of the index). */
static uint64_t entry_off(const struct pack *p, uint32_t i)
{
	const unsigned char *off32 =
		p->idx + IDX_HDR + IDX_FAN + (size_t)p->n * 24;
	const unsigned char *off64 = off32 + (size_t)p->n * 4;
	uint32_t v = be32(off32 + (size_t)i * 4);

	if (!(v & 0x80000000u))
		return v;
	off64 += (size_t)(v & 0x7fffffffu) * 8;
	if (off64 + 8 > p->idx + p->idx_len - IDX_TRAILER)
		return 0;
	return (uint64_t)be32(off64) << 32 | be32(off64 + 4);
}

uint64_t pk_find(const struct pack *p, const unsigned char *id)
{
	const unsigned char *fan = p->idx + IDX_HDR, *ids = fan + IDX_FAN;
	uint32_t lo = id[0] ? be32(fan + 4 * (id[0] - 1)) : 0;
	uint32_t hi = be32(fan + 4 * id[0]);

	if (hi > p->n || lo > hi)
		return 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ids + (size_t)mid * GIT_OID_RAWSZ, id,
			       GIT_OID_RAWSZ);

		if (c == 0)
			return entry_off(p, mid);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The listed pack of NAME, or NULL. Caller holds pr->lock. */
static struct pack *listed(struct packread *pr, const char *name)
{
	for (size_t i = 0; i < pr->n; i++)
		if (!strcmp(pr->v[i]->name, name))
			return pr->v[i];
	return NULL;
}

static bool named(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* Bring the list in line with the directory: read and open the new
 * packs without the lock, then put them in and drop the packs gone. */
static void scan(struct packread *pr)
{
	DIR *d = opendir(pr->dir);
	struct dirent *de;
	struct stat sb;
	struct pack **fresh = NULL, *gone = NULL, **nv;
	char **names = NULL, **nn;
	size_t n = 0, nf = 0, k = 0;
	struct timespec mtime = { 0 };
	bool known;

	if (!d)
		return;
	if (fstat(dirfd(d), &sb) == 0)
		mtime = sb.st_mtim;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".idx"))
			continue;
		if (!(nn = realloc(names, (n + 1) * sizeof(*nn))))
			break;
		names = nn;
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	for (size_t j = 0; j < n; j++) {
		struct pack *p;

		pthread_mutex_lock(&pr->lock);
		known = listed(pr, names[j]) != NULL;
		pthread_mutex_unlock(&pr->lock);
		if (known || !(p = pack_open(pr->dir, names[j])))
			continue;
		if (!(nv = realloc(fresh, (nf + 1) * sizeof(*nv)))) {
			pack_free(p);
			continue;
		}
		fresh = nv;
		fresh[nf++] = p;
	}
	pthread_mutex_lock(&pr->lock);
	for (size_t i = 0; i < pr->n; i++) {
		struct pack *p = pr->v[i];

		if (named(names, n, p->name)) {
			pr->v[k++] = p;
		} else if (pack_unref(p)) {
			p->next_gone = gone;
			gone = p;
		}
	}
	pr->n = k;
	nv = nf ? realloc(pr->v, (pr->n + nf) * sizeof(*nv)) : pr->v;
	if (nv)
		pr->v = nv;
	for (size_t j = 0; j < nf; j++) {
		/* Another scan may have put it in meanwhile. */
		if (!nv || listed(pr, fresh[j]->name)) {
			fresh[j]->next_gone = gone;
			gone = fresh[j];
			continue;
		}
		fresh[j]->serial = ++pr->serials;
		pr->v[pr->n++] = fresh[j];
	}
	pr->mtime = mtime;
	pthread_mutex_unlock(&pr->lock);
	while (gone) {
		struct pack *p = gone;

		gone = p->next_gone;
		pack_free(p);
	}
	for (size_t j = 0; j < n; j++)
		free(names[j]);
	free(names);
	free(fresh);
}

/* The pack holding ID (a reference the caller puts back) and where, or
 * NULL. A miss looks at the directory again if it changed. */
static struct pack *find(struct packread *pr, const git_oid *id, uint64_t *off)
{
	struct timespec seen;
	struct stat sb;

	for (int round = 0;; round++) {
		pthread_mutex_lock(&pr->lock);
		for (size_t i = 0; i < pr->n; i++) {
			if ((*off = pk_find(pr->v[i], id->id))) {
				struct pack *p = pr->v[i];

				p->refs++;
				pthread_mutex_unlock(&pr->lock);
				return p;
			}
		}
		seen = pr->mtime;
		pthread_mutex_unlock(&pr->lock);
		if (round || stat(pr->dir, &sb) < 0 ||
		    (sb.st_mtim.tv_sec == seen.tv_sec &&
		     sb.st_mtim.tv_nsec == seen.tv_nsec))
			return NULL;
		scan(pr);
	}
}

/* Drop a reference find() took; the last one frees a pack scan() let go. */
static void pack_release(struct packread *pr, struct pack *p)
{
	bool last;

	pthread_mutex_lock(&pr->lock);
	last = pack_unref(p);
	pthread_mutex_unlock(&pr->lock);
	if (last)
		pack_free(p);
}

static int pr_read(void **data, size_t *len, git_object_t *type,
		   git_odb_backend *be, const git_oid *id)
{
	struct packread *pr = (struct packread *)be;
	uint64_t off;
	struct pack *p = find(pr, id, &off);
	int err;

	if (!p)
		return GIT_PASSTHROUGH;
	err = pk_unpack(pr, p, off, data, len, type);
	pack_release(pr, p);
	return err;
}

int store_packread_blob(struct store *st, const struct store_oid *id, int *fd,
			uint64_t *data, uint64_t *size)
{
	struct packread *pr = (struct packread *)st->packread;
	unsigned char h[PK_HEAD_MAX];
	struct pack *p;
	uint64_t off;
	size_t n;
	int type, len, rc = 1;

	if (!pr || !(p = find(pr, store_goid(id), &off)))
		return 1;
	len = pk_head(p, off, h, &n, &type, size);
	/* Its own descriptor: the pack may be dropped while the blob is
	 * read (git gc). */
	if (len > 0 && type == GIT_OBJECT_BLOB &&
	    (*fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
		*data = off + (uint64_t)len;
		rc = 0;
	}
	pack_release(pr, p);
	return rc;
}

/* An object a save just wrote into a group pack is found here, not by
 * libgit2's pack backend, which would rescan the directory first. */
static int pr_exists(git_odb_backend *be, const git_oid *id)
{
	struct packread *pr = (struct packread *)be;
	uint64_t off;
	struct pack *p = find(pr, id, &off);

	if (p)
		pack_release(pr, p);
	return p != NULL;
}

static int pr_refresh(git_odb_backend *be)
{
	struct packread *pr = (struct packread *)be;

	scan(pr);
	return 0;
}

/* Lists nothing: its objects are libgit2's pack backend's too. */
static int pr_foreach(git_odb_backend *be, git_odb_foreach_cb cb, void *ctx)
{
	(void)be, (void)cb, (void)ctx;
	return 0;
}

static void pr_free(git_odb_backend *be)
{
	struct packread *pr = (struct packread *)be;

	for (size_t i = 0; i < pr->n; i++)
		pack_free(pr->v[i]); /* no reader is left */
	free(pr->v);
	pk_kept_free(pr);
	libdeflate_free_decompressor(pr->spare_dec);
	free(pr->spare_buf);
	free(pr->dir);
	pthread_mutex_destroy(&pr->lock);
	free(pr);
}

int store_packread_add(struct store *st)
{
	struct packread *pr = calloc(1, sizeof(*pr));
	int err;

	if (!pr)
		return -ENOMEM;
	if (asprintf(&pr->dir, "%sobjects/pack",
		     git_repository_commondir(st->repo)) < 0) {
		free(pr);
		return -ENOMEM;
	}
	pthread_mutex_init(&pr->lock, NULL);
	git_odb_init_backend(&pr->parent, GIT_ODB_BACKEND_VERSION);
	pr->parent.read = pr_read;
	pr->parent.exists = pr_exists;
	pr->parent.refresh = pr_refresh;
	pr->parent.foreach = pr_foreach;
	pr->parent.free = pr_free;
	scan(pr);
	err = git_odb_add_backend(st->odb, &pr->parent, PACKREAD_PRIORITY);
	if (err < 0) {
		pr_free(&pr->parent);
		return store_git_fail(err, "pack reader");
	}
	st->packread = &pr->parent; /* owned by the odb from here */
	return 0;
}

uint64_t store_packread_served(struct store *st)
{
	struct packread *pr = (struct packread *)st->packread;
	uint64_t n;

	if (!pr)
		return 0;
	pthread_mutex_lock(&pr->lock);
	n = pr->served;
	pthread_mutex_unlock(&pr->lock);
	return n;
}

/* Pack NAME of DIR whose index's bytes are IDX (LEN), copied: its .pack
 * opened. NULL if that fails. */
static struct pack *pack_known(const char *dir, const char *name,
			       const void *idx, size_t len)
{
	char path[PATH_MAX];
	struct pack *p = calloc(1, sizeof(*p));
	size_t nlen = strlen(name) + 5;
	struct stat sb;

	if (!p)
		return NULL;
	p->fd = -1;
	p->idx_read = true;
	if (!(p->name = malloc(nlen)) || !(p->idx = malloc(len)))
		goto fail;
	snprintf(p->name, nlen, "%s.idx", name);
	memcpy((void *)p->idx, idx, len);
	p->idx_len = len;
	p->n = be32(p->idx + IDX_HDR + IDX_FAN - 4);
	snprintf(path, sizeof(path), "%s/%s.pack", dir, name);
	if ((p->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(p->fd, &sb) < 0)
		goto fail;
	p->size = (uint64_t)sb.st_size;
	p->refs = 1;
	return p;
fail:
	pack_free(p);
	return NULL;
}

void store_packread_add_pack(struct store *st, const char *name,
			     const void *idxbytes, size_t idxlen)
{
	struct packread *pr = (struct packread *)st->packread;
	char idx[300];
	struct pack *p, **nv;
	bool known;

	if (!pr)
		return;
	snprintf(idx, sizeof(idx), "%s.idx", name);
	pthread_mutex_lock(&pr->lock);
	known = listed(pr, idx) != NULL;
	pthread_mutex_unlock(&pr->lock);
	if (known || !(p = pack_known(pr->dir, name, idxbytes, idxlen)))
		return;
	pthread_mutex_lock(&pr->lock);
	/* Newest first: a save reads back what it wrote last. */
	if (!listed(pr, idx) &&
	    (nv = realloc(pr->v, (pr->n + 1) * sizeof(*nv)))) {
		pr->v = nv;
		memmove(pr->v + 1, pr->v, pr->n * sizeof(*nv));
		p->serial = ++pr->serials;
		pr->v[0] = p;
		pr->n++;
		p = NULL;
	}
	pthread_mutex_unlock(&pr->lock);
	if (p)
		pack_free(p);
}

/* store_pk: one pack opened on its own (grouppack.c, pack.c). */
struct store_pk {
	struct pack *p;
	uint64_t *offs; /* every entry's offset, in order */
};

static int by_off(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct store_pk *store_pk_open(const char *dir, const char *name)
{
	char idx[300];
	struct store_pk *pk = calloc(1, sizeof(*pk));

	snprintf(idx, sizeof(idx), "%s.idx", name);
	if (!pk || !(pk->p = pack_open(dir, idx)) ||
	    !(pk->offs = malloc(((size_t)pk->p->n + 1) * sizeof(uint64_t)))) {
		store_pk_close(pk);
		return NULL;
	}
	for (uint32_t i = 0; i < pk->p->n; i++)
		pk->offs[i] = entry_off(pk->p, i);
	qsort(pk->offs, pk->p->n, sizeof(uint64_t), by_off);
	return pk;
}

uint32_t store_pk_count(const struct store_pk *pk)
{
	return pk->p->n;
}

void store_pk_entry(const struct store_pk *pk, uint32_t i,
		    const unsigned char **id, uint32_t *crc, uint64_t *off,
		    uint64_t *end)
{
	const struct pack *p = pk->p;
	const unsigned char *ids = p->idx + IDX_HDR + IDX_FAN;
	size_t lo = 0, hi = p->n;

	*id = ids + (size_t)i * GIT_OID_RAWSZ;
	*crc = be32(ids + (size_t)p->n * GIT_OID_RAWSZ + (size_t)i * 4);
	*off = entry_off(p, i);
	/* The next entry's start, or the trailer's. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pk->offs[mid] <= *off)
			lo = mid + 1;
		else
			hi = mid;
	}
	*end = lo < p->n ? pk->offs[lo] : p->size - GIT_OID_RAWSZ;
}

int store_pk_read(const struct store_pk *pk, void *buf, size_t n, uint64_t off)
{
	if (off + n > pk->p->size)
		return -EIO;
	return pk_read_full(pk->p->fd, buf, n, off);
}

bool store_pk_has(const struct store_pk *pk, const git_oid *id)
{
	return pk_find(pk->p, id->id) != 0;
}

bool store_pk_verify(const struct store_pk *pk)
{
	const struct pack *p = pk->p;
	unsigned char sum[GIT_OID_RAWSZ];
	const unsigned char *trail = p->idx + p->idx_len - IDX_TRAILER;
	void *map;
	bool ok;

	if (p->size < 12 + GIT_OID_RAWSZ ||
	    store_sha1(p->idx, p->idx_len - GIT_OID_RAWSZ, sum) < 0 ||
	    memcmp(sum, trail + GIT_OID_RAWSZ, GIT_OID_RAWSZ))
		return false;
	map = mmap(NULL, p->size, PROT_READ, MAP_PRIVATE, p->fd, 0);
	if (map == MAP_FAILED)
		return false;
	ok = store_sha1(map, p->size - GIT_OID_RAWSZ, sum) == 0 &&
	     !memcmp(sum, (char *)map + p->size - GIT_OID_RAWSZ,
		     GIT_OID_RAWSZ) &&
	     !memcmp(sum, trail, GIT_OID_RAWSZ);
	munmap(map, p->size);
	return ok;
}

void store_pk_close(struct store_pk *pk)
{
	if (!pk)
		return;
	if (pk->p)
		pack_free(pk->p);
	free(pk->offs);
	free(pk);
}

void store_packread_rescan(struct store *st)
{
	if (st->packread)
		scan((struct packread *)st->packread);
}

bool store_packread_has_besides(struct store *st, const git_oid *id,
				char (*skip)[GIT_OID_HEXSZ + 6], size_t n)
{
	struct packread *pr = (struct packread *)st->packread;
	bool found = false;

	if (!pr)
		return false;
	pthread_mutex_lock(&pr->lock);
	for (size_t i = 0; i < pr->n && !found; i++) {
		const char *name = pr->v[i]->name;
		size_t len = strlen(name) - 4; /* without ".idx" */
		bool skipped = false;

		for (size_t k = 0; k < n && !skipped; k++)
			skipped = strlen(skip[k]) == len &&
				  !strncmp(skip[k], name, len);
		found = !skipped && pk_find(pr->v[i], id->id) != 0;
	}
	pthread_mutex_unlock(&pr->lock);
	return found;
}

void store_packread_forget(struct store *st, const char *name)
{
	struct packread *pr = (struct packread *)st->packread;
	struct pack *gone = NULL;
	char idx[300];

	if (!pr)
		return;
	snprintf(idx, sizeof(idx), "%s.idx", name);
	pthread_mutex_lock(&pr->lock);
	for (size_t i = 0; i < pr->n; i++) {
		if (strcmp(pr->v[i]->name, idx))
			continue;
		if (pack_unref(pr->v[i]))
			gone = pr->v[i];
		memmove(pr->v + i, pr->v + i + 1,
			(pr->n - i - 1) * sizeof(*pr->v));
		pr->n--;
		break;
	}
	pthread_mutex_unlock(&pr->lock);
	if (gone)
		pack_free(gone);
}
