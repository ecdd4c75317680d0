/* blobread.c - blobs read in parts, and documents read only up to the
 * size a caller can hold.
 *
 * A document committed from outside may be any size (hundreds of MB); a
 * read of it must not hold it several times over. libgit2 1.5 reads an
 * object whole (its loose read stream maps the whole file, and it has
 * none for packs), so a loose object, or a blob kept whole in a pack
 * (found by packread.c, which knows the packs' indexes), is inflated here
 * from its own file, a window at a time, as the reader goes: memory is the
 * window, whatever the blob's size. Any other (a delta, in an
 * alternate) is read once by libgit2 and held: one copy, served without
 * another. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "store_int.h"
#include "banned.h"

/* The bytes kept behind the read position: a reader's requests may come
 * a little out of order (the kernel's read-ahead, served by several
 * threads) without inflating from the start again. */
#define WIN (2u << 20)
#define IN_SZ (64u << 10)
/* "blob " and the size's digits and NUL fit in this. */
#define HDR_MAX 32

struct store_blob {
	pthread_mutex_t lock; /* one reader at a time: the stream moves */
	struct store *st;
	uint64_t size; /* the content's */
	git_odb_object *whole; /* held whole, or NULL: inflated as read */
	int fd; /* the loose object's file, or the pack's */
	uint64_t base; /* where the deflated stream starts in it */
	z_stream z;
	bool z_live; /* z is initialized */
	bool z_end; /* the inflater reached the end of the stream */
	uint64_t in_off; /* file offset of the next compressed bytes */
	unsigned char in[IN_SZ];
	size_t hdr; /* "blob N\0": stream bytes before the content */
	uint64_t pos; /* stream offset just past win[win_len - 1] */
	char *win;
	size_t win_len;
};

/* Inflate the next bytes into the window (sliding it when full); the
 * count, 0 at the end of the stream. */
static int produce(struct store_blob *b)
{
	size_t room;
	ssize_t r;
	int rc = Z_OK;

	if (b->win_len == WIN) {
		memmove(b->win, b->win + WIN / 2, WIN / 2);
		b->win_len = WIN / 2;
	}
	if (b->z_end)
		return 0;
	room = WIN - b->win_len;
	b->z.next_out = (unsigned char *)b->win + b->win_len;
	b->z.avail_out = (uInt)room;
	while (b->z.avail_out == room && rc == Z_OK) {
		if (b->z.avail_in == 0) {
			r = pread(b->fd, b->in, IN_SZ, (off_t)b->in_off);
			if (r < 0)
				return -errno;
			if (r == 0)
				return -EIO; /* cut short */
			b->in_off += (uint64_t)r;
			b->z.next_in = b->in;
			b->z.avail_in = (uInt)r;
		}
		rc = inflate(&b->z, Z_NO_FLUSH);
	}
	if (rc == Z_STREAM_END)
		b->z_end = true;
	else if (rc != Z_OK)
		return -EIO;
	b->win_len += room - b->z.avail_out;
	b->pos += room - b->z.avail_out;
	return (int)(room - b->z.avail_out);
}

/* Inflate from the start of the file again. */
static int restart(struct store_blob *b)
{
	if (inflateReset(&b->z) != Z_OK)
		return -EIO;
	b->z.avail_in = 0;
	b->z_end = false;
	b->in_off = b->base;
	b->pos = 0;
	b->win_len = 0;
	return 0;
}

/* Start inflating B->fd at B->base; LOOSE: the stream begins with the
 * loose object's header, read here. 0, or -EINVAL if the file is not a
 * blob as expected (another object, an old format: libgit2 decides). */
static int stream_start(struct store_blob *b, bool loose)
{
	unsigned long long size;
	char *nul;
	int n;

	if (inflateInit(&b->z) != Z_OK)
		return -ENOMEM;
	b->z_live = true;
	if (!(b->win = malloc(WIN)))
		return -ENOMEM;
	b->in_off = b->base;
	if (!loose)
		return 0;
	while (b->win_len < HDR_MAX && !b->z_end)
		if ((n = produce(b)) < 0)
			return -EINVAL;
	nul = memchr(b->win, '\0', b->win_len < HDR_MAX ? b->win_len : HDR_MAX);
	if (!nul || strncmp(b->win, "blob ", 5) || b->win[5] < '0' ||
	    b->win[5] > '9' || sscanf(b->win + 5, "%llu", &size) != 1)
		return -EINVAL;
	b->hdr = (size_t)(nul - b->win) + 1;
	b->size = size;
	return 0;
}

static void blob_free(struct store_blob *b)
{
	if (b->z_live)
		inflateEnd(&b->z);
	if (b->fd >= 0)
		close(b->fd);
	free(b->win);
	if (b->whole) {
		pthread_mutex_lock(&b->st->lock);
		git_odb_object_free(b->whole);
		pthread_mutex_unlock(&b->st->lock);
	}
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Back to nothing opened: libgit2 reads it whole instead. */
static void stream_drop(struct store_blob *b)
{
	if (b->z_live)
		inflateEnd(&b->z);
	memset(&b->z, 0, sizeof(b->z));
	b->z_live = b->z_end = false;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	free(b->win);
	b->win = NULL;
	b->win_len = 0;
	b->pos = b->base = 0;
	b->hdr = 0;
}

/* A loose object's file, else a pack's entry (as packread.c finds it),
 * else nothing (-1 in B->fd); -ENOMEM is the one failure. */
static int stream_open(struct store_blob *b, const struct store_oid *id)
{
	char hex[STORE_OID_HEXSZ + 1], *path = NULL;
	bool loose;
	int err;

	store_oid_fmt(hex, id);
	pthread_mutex_lock(&b->st->lock);
	if (asprintf(&path, "%sobjects/%.2s/%s",
		     git_repository_commondir(b->st->repo), hex, hex + 2) < 0)
		path = NULL;
	pthread_mutex_unlock(&b->st->lock);
	if (!path)
		return -ENOMEM;
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	loose = b->fd >= 0;
	if (!loose &&
	    store_packread_blob(b->st, id, &b->fd, &b->base, &b->size) != 0)
		b->fd = -1;
	if (b->fd >= 0 && (err = stream_start(b, loose)) < 0) {
		stream_drop(b);
		if (err == -ENOMEM)
			return err;
	}
	return 0;
}

int store_blob_open(struct store *st, const struct store_oid *blob,
		    struct store_blob **out)
{
	struct store_blob *b = calloc(1, sizeof(*b));
	int err;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	b->st = st;
	b->fd = -1;
	if ((err = stream_open(b, blob)) < 0) {
		blob_free(b);
		return err;
	}
	if (b->fd < 0) {
		pthread_mutex_lock(&st->lock);
		err = git_odb_read(&b->whole, st->odb, store_goid(blob));
		if (err < 0)
			err = store_git_fail(err, "blob");
		else if (git_odb_object_type(b->whole) != GIT_OBJECT_BLOB)
			err = store_fail(-EINVAL, "not a blob");
		else
			b->size = git_odb_object_size(b->whole);
		pthread_mutex_unlock(&st->lock);
	}
	if (err < 0) {
		blob_free(b);
		return err;
	}
	*out = b;
	return 0;
}

uint64_t store_blob_size_of(const struct store_blob *b)
{
	return b->size;
}

/* Copy content [off, off + size) out of the stream; caller holds the
 * blob's lock and has cut the range to the content. */
static int stream_read(struct store_blob *b, char *buf, size_t size,
		       uint64_t off)
{
	uint64_t s = off + b->hdr, cur;
	size_t done = 0, n;
	int err;

	if (s < b->pos - b->win_len && (err = restart(b)) < 0)
		return err;
	while (done < size) {
		cur = s + done;
		if (cur >= b->pos - b->win_len && cur < b->pos) {
			n = b->pos - cur < size - done ?
				    (size_t)(b->pos - cur) :
				    size - done;
			memcpy(buf + done,
			       b->win + (b->win_len - (size_t)(b->pos - cur)),
			       n);
			done += n;
			continue;
		}
		if ((err = produce(b)) < 0)
			return err;
		if (err == 0)
			return -EIO; /* shorter than its header said */
	}
	return 0;
}

int store_blob_pread(struct store_blob *b, char *buf, size_t size, uint64_t off,
		     size_t *got)
{
	int err = 0;

	*got = 0;
	if (off >= b->size)
		return 0;
	if (size > b->size - off)
		size = (size_t)(b->size - off);
	if (b->whole) {
		memcpy(buf, (const char *)git_odb_object_data(b->whole) + off,
		       size);
		*got = size;
		return 0;
	}
	pthread_mutex_lock(&b->lock);
	err = stream_read(b, buf, size, off);
	pthread_mutex_unlock(&b->lock);
	if (err < 0)
		return store_fail(
			err, "blob: %s at offset %" PRIu64,
			err == -EIO ? "a damaged object" : strerror(-err), off);
	*got = size;
	return 0;
}

void store_blob_close(struct store_blob *b)
{
	if (b)
		blob_free(b);
}

int store_blob_size(struct store *st, const struct store_oid *blob,
		    uint64_t *size)
{
	git_object_t type;
	size_t len;
	int err;

	pthread_mutex_lock(&st->lock);
	err = git_odb_read_header(&len, &type, st->odb, store_goid(blob));
	pthread_mutex_unlock(&st->lock);
	if (err < 0)
		return store_git_fail(err, "blob");
	*size = len;
	return 0;
}

int store_doc_read(struct store *st, const struct store_oid *blob, char **out,
		   size_t *len)
{
	uint64_t size;
	int err;

	*out = NULL;
	*len = 0;
	if ((err = store_blob_size(st, blob, &size)) < 0)
		return err;
	if (size > st->max_doc_size) {
		*len = size > SIZE_MAX ? SIZE_MAX : (size_t)size;
		return -EFBIG;
	}
	return store_blob_read(st, blob, out, len);
}

size_t store_max_doc_size(const struct store *st)
{
	return st->max_doc_size;
}
