/* objwrite.c - the write half of a loose-object backend, ahead of
 * libgit2's own in the object database. (The objects a save group's
 * leader writes go into the group's pack instead: grouppack.c. What
 * other writers make, merges, transactions and imports, is written
 * here.)
 *
 * Objects are ordinary loose objects (zlib of "TYPE SIZE\0DATA" at
 * objects/xx/yyyy, mode 0444), so git reads them as its own. What differs
 * from libgit2's loose backend is where the file comes from: a pre-made
 * empty file of the pool (pool.c), named into place by link(2), so a save
 * allocates no inode; and the zlib level: none (stored blocks) for trees
 * and objects up to STORED_MAX, the fastest for the rest (below). When this
 * backend fails for any reason, libgit2 writes the object with the next
 * backend, so nothing depends on the pool being there. Reads of the
 * objects written last are answered from memory (recent.c); all others go
 * to libgit2's backends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>
#include <libdeflate.h>

#include <git2/sys/odb_backend.h>

#include "store_int.h"
#include "banned.h"

/* Above libgit2's loose (1) and packed (2) backends. */
#define OBJWRITE_PRIORITY 10
#define STORED_MAX 16384 /* objects up to this are stored, not deflated */

struct objwrite {
	git_odb_backend parent;
	struct store *st;
	z_stream z; /* reused: libgit2 calls write under its odb lock */
	bool zready;
	struct store_recent recent;
};

static int fail(const char *what, const char *path, int err)
{
	char msg[4600];

	snprintf(msg, sizeof(msg), "%s %s: %s", what, path, strerror(err));
	git_error_set_str(GIT_ERROR_OS, msg);
	return GIT_ERROR;
}

/* Deflate header and data into a new buffer (caller frees), with the
 * backend's stream (its state is a quarter MiB: made once). */
static int deflate_object(struct objwrite *ow, const char *hdr, size_t hlen,
			  const void *data, size_t len, unsigned char **out,
			  size_t *outlen)
{
	z_stream *z = &ow->z;
	size_t cap;
	unsigned char *buf;
	int rc;

	if (!ow->zready) {
		if (deflateInit(z, Z_BEST_SPEED) != Z_OK)
			return -ENOMEM;
		ow->zready = true;
	}
	if (deflateReset(z) != Z_OK)
		return -EIO;
	cap = deflateBound(z, (uLong)(hlen + len));
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	z->next_out = buf;
	z->avail_out = (uInt)cap;
	z->next_in = (Bytef *)hdr;
	z->avail_in = (uInt)hlen;
	rc = deflate(z, Z_NO_FLUSH);
	if (rc == Z_OK) {
		z->next_in = (Bytef *)data;
		z->avail_in = (uInt)len;
		rc = deflate(z, Z_FINISH);
	}
	*outlen = z->total_out;
	if (rc != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

/* A big tree as zlib's stored blocks, built by hand: deflate at level 0
 * would copy it and clear its tables for nothing. Returns the number of
 * IOV entries: zlib's framing (in FRAME, 6 + 5 * blocks bytes) around
 * slices of the header and data (IOV has room for 2 + 3 * blocks). */
#define STORED_BLOCK 65535u
static size_t stored_iov(struct iovec *iov, unsigned char *frame,
			 const char *hdr, size_t hlen, const void *data,
			 size_t len)
{
	size_t total = hlen + len, done = 0, n = 0, f = 0;
	/* libdeflate's checksums are many times zlib's speed (2.6 against
	 * 45 us for a 160 KB bucket here). */
	uint32_t adler =
		libdeflate_adler32(libdeflate_adler32(1, hdr, hlen), data, len);

	frame[f++] = 0x78; /* deflate, 32 KiB window, no dictionary */
	frame[f++] = 0x01;
	iov[n++] = (struct iovec){ frame, 2 };
	do {
		size_t blk = total - done < STORED_BLOCK ? total - done :
							   STORED_BLOCK;
		unsigned char *b = frame + f;

		b[0] = done + blk == total; /* BFINAL, BTYPE 00 */
		b[1] = (unsigned char)(blk & 0xff);
		b[2] = (unsigned char)(blk >> 8);
		b[3] = (unsigned char)(~blk & 0xff);
		b[4] = (unsigned char)((~blk >> 8) & 0xff);
		f += 5;
		iov[n++] = (struct iovec){ b, 5 };
		/* The block's bytes: a slice of header, then data. */
		for (size_t at = done, end = done + blk; at < end;) {
			size_t take;

			if (at < hlen) {
				take = (end < hlen ? end : hlen) - at;
				iov[n++] = (struct iovec){ (char *)hdr + at,
							   take };
			} else {
				take = end - at;
				iov[n++] = (struct iovec){
					(char *)data + (at - hlen), take
				};
			}
			at += take;
		}
		done += blk;
	} while (done < total);
	frame[f] = (unsigned char)(adler >> 24);
	frame[f + 1] = (unsigned char)(adler >> 16);
	frame[f + 2] = (unsigned char)(adler >> 8);
	frame[f + 3] = (unsigned char)adler;
	iov[n++] = (struct iovec){ frame + f, 4 };
	return n;
}

static int writev_all(int fd, struct iovec *iov, size_t n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, (int)(n < IOV_MAX ? n : IOV_MAX));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++, n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int store_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int store_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* Link TMP as the object at DST (objects/xx/yyyy), making objects/xx/ if
 * a gc removed it or it never existed. An object that is there already
 * (written by another process meanwhile) is as good as ours. */
static int place(struct store *st, const char *tmp, const char *dst,
		 bool durable)
{
	char dir[4400];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", dst) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	*slash = '\0';
	for (int i = 0; i < 5; i++) {
		if (link(tmp, dst) == 0)
			return durable && !store_syncset_take_dir(st, dir) ?
				       store_fsync_dir(dir) :
				       0;
		if (errno == EEXIST)
			return 0;
		if (errno != ENOENT)
			return -errno;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (durable) {
			char objects[4400];

			snprintf(objects, sizeof(objects), "%s", dir);
			*strrchr(objects, '/') = '\0';
			/* The new directory's name: with the save's set. */
			if (!store_syncset_take_dir(st, objects))
				store_fsync_dir(objects);
		}
	}
	return -ENOENT;
}

static int ow_write(git_odb_backend *be, const git_oid *oid, const void *data,
		    size_t len, git_object_t type)
{
	struct objwrite *ow = (struct objwrite *)be;
	struct store *st = ow->st;
	char hdr[64], hex[GIT_OID_HEXSZ + 1], tmp[4400], dst[4400];
	unsigned char *z = NULL, *frame = NULL;
	struct iovec *iov = NULL;
	size_t zlen = 0, niov = 0;
	unsigned long ticket = 0;
	bool pooled, ready;
	int hlen, fd, err;

	/* A group's leader: into the group's pack (grouppack.c). */
	if (store_gpack_mine(st) &&
	    store_gpack_add(st, oid, type, data, len) == 0) {
		store_recent_put(&ow->recent, oid, type, data, len);
		return 0;
	}
	hlen = snprintf(hdr, sizeof(hdr), "%s %zu",
			git_object_type2string(type), len) +
	       1; /* the NUL is part of the header */
	git_oid_tostr(hex, sizeof(hex), oid);
	snprintf(dst, sizeof(dst), "%s/objects/%.2s/%s", st->gitdir, hex,
		 hex + 2);
	/* Loose objects are packed (compressed) by the background packing
	 * soon. Till then a small one takes a 4 KiB block whether compressed
	 * or not, and zlib's setup alone cost ~13 us of an object's ~45; a
	 * big tree is rewritten by every save into its collection. Both are
	 * stored; bigger objects (documents) at git's fastest level. */
	if (type == GIT_OBJECT_TREE || (size_t)hlen + len <= STORED_MAX) {
		size_t blocks = ((size_t)hlen + len) / STORED_BLOCK + 1;

		frame = malloc(6 + 5 * blocks);
		iov = malloc((2 + 3 * blocks) * sizeof(*iov));
		if (!frame || !iov) {
			free(frame), free(iov);
			return fail("compress", dst, ENOMEM);
		}
		niov = stored_iov(iov, frame, hdr, (size_t)hlen, data, len);
	} else if ((err = deflate_object(ow, hdr, (size_t)hlen, data, len, &z,
					 &zlen)) < 0) {
		return fail("compress", dst, -err);
	}
	pooled = store_pool_take(st, tmp, sizeof(tmp), &ticket, &fd) == 0;
	ready = fd >= 0; /* open, and read-only already */
	if (pooled && !ready) {
		fd = store_pool_open(tmp); /* empty: pool.c */
	} else if (!pooled) {
		snprintf(tmp, sizeof(tmp), "%s/objects/tmp_obj_chronofs_XXXXXX",
			 st->gitdir);
		fd = mkostemp(tmp, O_CLOEXEC);
	}
	if (fd < 0) {
		err = errno;
		free(z), free(frame), free(iov);
		if (pooled)
			store_pool_release(st, ticket);
		return fail("open", tmp, err);
	}
	err = iov ? writev_all(fd, iov, niov) : store_write_all(fd, z, zlen);
	free(z), free(frame), free(iov);
	if (err == 0 && !ready && fchmod(fd, 0444) < 0)
		err = -errno;
	if (err == 0 && st->fsync && store_syncset_take_fd(st, fd))
		fd = -1; /* synced and closed with the save's others */
	if (err == 0 && fd >= 0 && st->fsync && fsync(fd) < 0)
		err = -errno;
	if (fd >= 0 && close(fd) < 0 && err == 0)
		err = -errno;
	if (err == 0)
		err = place(st, tmp, dst, st->fsync);
	if (err == 0) { /* what the packing waits for (pack.c) */
		size_t bytes = zlen ? zlen : (size_t)hlen + len;

		atomic_fetch_add(&st->loose_new_n, 1);
		atomic_fetch_add(&st->loose_new_kb, (bytes + 4095) / 4096 * 4);
	}
	if (pooled)
		store_pool_release(st, ticket); /* its thread unlinks tmp */
	else
		unlink(tmp);
	if (err < 0)
		return fail("write object", dst, -err);
	store_recent_put(&ow->recent, oid, type, data, len);
	return 0;
}

static int ow_read(void **data, size_t *len, git_object_t *type,
		   git_odb_backend *be, const git_oid *oid)
{
	struct objwrite *ow = (struct objwrite *)be;
	int err = store_recent_get(&ow->recent, oid, be, data, len, type);

	if (err == -ENOENT)
		err = store_gpack_get(ow->st, oid, be, data, len, type);
	if (err == -ENOMEM) {
		git_error_set_oom();
		return GIT_ERROR;
	}
	return err < 0 ? GIT_ENOTFOUND : 0;
}

static int ow_read_header(size_t *len, git_object_t *type, git_odb_backend *be,
			  const git_oid *oid)
{
	struct objwrite *ow = (struct objwrite *)be;

	return store_recent_get(&ow->recent, oid, be, NULL, len, type) < 0 &&
			       store_gpack_get(ow->st, oid, be, NULL, len,
					       type) < 0 ?
		       GIT_ENOTFOUND :
		       0;
}

static int ow_exists(git_odb_backend *be, const git_oid *oid)
{
	struct objwrite *ow = (struct objwrite *)be;
	size_t len;
	git_object_t type;

	return store_recent_get(&ow->recent, oid, be, NULL, &len, &type) == 0 ||
	       store_gpack_get(ow->st, oid, be, NULL, &len, &type) == 0;
}

/* Lists no objects of its own: what it holds in memory is also in loose
 * files, found by libgit2's loose backend. */
static int ow_foreach(git_odb_backend *be, git_odb_foreach_cb cb, void *ctx)
{
	(void)be, (void)cb, (void)ctx;
	return 0;
}

static void ow_free(git_odb_backend *be)
{
	struct objwrite *ow = (struct objwrite *)be;

	if (ow->zready)
		deflateEnd(&ow->z);
	store_recent_free(&ow->recent);
	free(ow);
}

int store_objwrite_add(struct store *st)
{
	struct objwrite *ow = calloc(1, sizeof(*ow));
	int err;

	if (!ow)
		return -ENOMEM;
	git_odb_init_backend(&ow->parent, GIT_ODB_BACKEND_VERSION);
	ow->parent.write = ow_write;
	ow->parent.read = ow_read;
	ow->parent.read_header = ow_read_header;
	ow->parent.exists = ow_exists;
	ow->parent.foreach = ow_foreach;
	ow->parent.free = ow_free;
	ow->st = st;
	store_recent_init(&ow->recent);
	err = git_odb_add_backend(st->odb, &ow->parent, OBJWRITE_PRIORITY);
	if (err < 0) {
		store_recent_free(&ow->recent);
		free(ow);
		return store_git_fail(err, "object writer");
	}
	st->objwrite = &ow->parent; /* owned by the odb from here */
	return 0;
}

int store_object_write(struct store *st, const git_oid *id, const void *data,
		       size_t len, git_object_t type)
{
	git_oid again;
	int err;

	/* Straight to the writer: git_odb_write would first look for the
	 * object among the loose ones and then rescan the pack directory.
	 * An object we write twice (a document saved back to an earlier
	 * content) is only a duplicate the next gc drops. */
	if (st->objwrite && ow_write(st->objwrite, id, data, len, type) == 0)
		return 0;
	err = git_odb_write(&again, st->odb, data, len, type);
	return err < 0 ? store_git_fail(err, "write object") : 0;
}
