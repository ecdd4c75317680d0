/* packread.h - private to packread.c (the backend and its packs) and
 * packentry.c (an entry of a pack unpacked: inflated, deltas applied). */
#ifndef CHRONOFS_STORE_PACKREAD_H
#define CHRONOFS_STORE_PACKREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "store_int.h"

/* Objects over this are left to libgit2 (it streams them). */
#define PACKREAD_MAX (16u << 20)
/* The recent objects kept by pack and offset, for the deltas that name
 * them as their base (as libgit2's delta-base cache does): this many
 * slots, objects up to PK_KEEP_OBJ, PK_KEEP_MAX bytes in all. */
#define PK_KEEP_N 256
#define PK_KEEP_OBJ (1u << 20)
#define PK_KEEP_MAX (16u << 20)

struct pack {
	char *name; /* the .idx file's name in the directory */
	uint64_t serial; /* never reused: the kept objects' key */
	const unsigned char *idx; /* mapped, or read (idx_read) */
	bool idx_read;
	size_t idx_len;
	uint32_t n;
	int fd; /* the .pack */
	uint64_t size;
	unsigned refs; /* the list's (while listed) and each reader's */
	struct pack *next_gone; /* scan's list of packs to free */
};

struct pk_kept {
	uint64_t serial, off;
	unsigned char *data; /* NULL: a free slot */
	size_t len;
	int type;
};

struct packread {
	git_odb_backend parent;
	pthread_mutex_t lock; /* all below; never held across a syscall */
	char *dir; /* objects/pack */
	struct timespec mtime; /* of dir at the last scan */
	struct pack **v;
	size_t n;
	uint64_t serials;
	struct libdeflate_decompressor *spare_dec;
	unsigned char *spare_buf;
	size_t spare_cap;
	struct pk_kept kept[PK_KEEP_N];
	size_t kept_bytes, hand;
	uint64_t served; /* objects read here (store_packread_served) */
};

/* An entry's header and what follows it (a delta's base) fit in this. */
#define PK_HEAD_MAX 32

/* Where object ID's entry starts in P, or 0 if P does not hold it. */
uint64_t pk_find(const struct pack *p, const unsigned char *id);
/* The object whose entry starts at OFF in P (a reference the caller
 * holds): 0 and *data (libgit2's to free), *len, *type; or
 * GIT_PASSTHROUGH (left to libgit2). */
int pk_unpack(struct packread *pr, struct pack *p, uint64_t off, void **data,
	      size_t *len, git_object_t *type);
/* Entry OFF of P: its first *N bytes (up to PK_HEAD_MAX) read into H,
 * its *TYPE and inflated *SIZE; the header's length, or -1 if it is cut
 * short or out of P. */
int pk_head(const struct pack *p, uint64_t off, unsigned char *h, size_t *n,
	    int *type, uint64_t *size);
/* Forget what is kept (the backend's end: no reader is left). */
void pk_kept_free(struct packread *pr);
/* All of N bytes at OFF of FD, or -EIO. */
int pk_read_full(int fd, void *buf, size_t n, uint64_t off);

#endif
