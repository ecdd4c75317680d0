/* packentry.c - one entry of a pack made an object: its header read with
 * one pread(2), whole objects inflated by libdeflate in one call, deltas
 * (git's OFS_DELTA and REF_DELTA) applied to their base, found by
 * following the chain down to a whole object or one kept here.
 *
 * A bucket tree changed by a commit is usually a delta of its earlier
 * version, and a diff or merge reads both: so the base of each chain and
 * each object made from a delta are kept for a while by pack and offset
 * (the key deltas name their base by), as libgit2's delta-base cache
 * does. A whole object read for itself is not (the copy cost more than
 * it saved: libgit2 keeps it by id). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "packread.h"
#include "banned.h"

/* Longer chains than git ever makes (its --depth is at most 4095). */
#define PK_DEPTH 4096

struct entry {
	uint64_t off; /* where the entry starts */
	uint64_t data; /* where its zlib stream starts */
	uint64_t size; /* inflated */
	uint64_t base; /* a delta's base entry */
	int type;
};

static bool whole(int type)
{
	return type >= GIT_OBJECT_COMMIT && type <= GIT_OBJECT_TAG;
}

int pk_head(const struct pack *p, uint64_t off, unsigned char *h, size_t *n,
	    int *type, uint64_t *size)
{
	unsigned char c;
	size_t i = 1;
	unsigned shift = 4;

	if (off < 12 || off >= p->size)
		return -1;
	*n = p->size - off < PK_HEAD_MAX ? (size_t)(p->size - off) :
					   PK_HEAD_MAX;
	if (pk_read_full(p->fd, h, *n, off) < 0)
		return -1;
	c = h[0];
	*type = (c >> 4) & 7;
	*size = c & 15;
	while (c & 0x80) {
		if (i == *n || shift > 57)
			return -1;
		c = h[i++];
		*size |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	}
	return (int)i;
}

/* Entry OFF of P: its header read. -1 if it is not one we read. */
static int entry_read(const struct pack *p, uint64_t off, struct entry *e)
{
	unsigned char h[PK_HEAD_MAX], c;
	size_t n, i;
	int r = pk_head(p, off, h, &n, &e->type, &e->size);

	if (r < 0)
		return -1;
	i = (size_t)r;
	e->off = off;
	if (e->size > PACKREAD_MAX)
		return -1;
	if (whole(e->type)) {
		e->data = off + i;
		return 0;
	}
	if (e->type == GIT_OBJECT_OFS_DELTA) {
		uint64_t ofs;

		if (i == n)
			return -1;
		c = h[i++];
		ofs = c & 0x7f;
		while (c & 0x80) {
			if (i == n || ofs >> 56)
				return -1;
			c = h[i++];
			ofs = ((ofs + 1) << 7) | (c & 0x7f);
		}
		if (ofs == 0 || ofs > off)
			return -1;
		e->base = off - ofs;
		e->data = off + i;
		return 0;
	}
	if (e->type == GIT_OBJECT_REF_DELTA && n - i >= GIT_OID_RAWSZ &&
	    (e->base = pk_find(p, h + i))) {
		e->data = off + i + GIT_OID_RAWSZ;
		return 0;
	}
	return -1; /* a base in another pack: libgit2's */
}

static unsigned char *obj_alloc(struct packread *pr, size_t n, bool out)
{
	return out ? git_odb_backend_data_alloc(&pr->parent, n ? n : 1) :
		     malloc(n ? n : 1);
}

static void obj_free(struct packread *pr, unsigned char *p, bool out)
{
	if (out)
		git_odb_backend_data_free(&pr->parent, p);
	else
		free(p);
}

static struct pk_kept *slot(struct packread *pr, uint64_t serial, uint64_t off)
{
	uint64_t h = (off ^ serial << 48) * 0x9e3779b97f4a7c15ull;

	return &pr->kept[h >> 56]; /* PK_KEEP_N is 256 */
}

static void drop(struct packread *pr, struct pk_kept *k)
{
	pr->kept_bytes -= k->len;
	free(k->data);
	k->data = NULL;
	k->len = 0;
}

/* A copy of the object kept for entry OFF of P, or NULL. */
static unsigned char *kept_get(struct packread *pr, const struct pack *p,
			       uint64_t off, size_t *len, int *type, bool out)
{
	unsigned char *copy = NULL;
	struct pk_kept *k;

	pthread_mutex_lock(&pr->lock);
	k = slot(pr, p->serial, off);
	if (k->data && k->serial == p->serial && k->off == off &&
	    (copy = obj_alloc(pr, k->len, out))) {
		memcpy(copy, k->data, k->len);
		*len = k->len;
		*type = k->type;
	}
	pthread_mutex_unlock(&pr->lock);
	return copy;
}

static void kept_put(struct packread *pr, const struct pack *p, uint64_t off,
		     const unsigned char *data, size_t len, int type)
{
	unsigned char *copy;
	struct pk_kept *k;

	if (len > PK_KEEP_OBJ || !(copy = malloc(len ? len : 1)))
		return;
	memcpy(copy, data, len);
	pthread_mutex_lock(&pr->lock);
	k = slot(pr, p->serial, off);
	if (k->data)
		drop(pr, k);
	/* Past the budget, older slots go round by round. */
	for (size_t i = 0; pr->kept_bytes + len > PK_KEEP_MAX && i < PK_KEEP_N;
	     i++, pr->hand = (pr->hand + 1) % PK_KEEP_N)
		if (pr->kept[pr->hand].data)
			drop(pr, &pr->kept[pr->hand]);
	*k = (struct pk_kept){ p->serial, off, copy, len, type };
	pr->kept_bytes += len;
	pthread_mutex_unlock(&pr->lock);
}

void pk_kept_free(struct packread *pr)
{
	for (size_t i = 0; i < PK_KEEP_N; i++)
		if (pr->kept[i].data)
			drop(pr, &pr->kept[i]);
}

/* E's zlib stream inflated into OUT (E->size bytes): 0 or -1. */
static int inflate_to(struct packread *pr, const struct pack *p,
		      const struct entry *e, unsigned char *out)
{
	struct libdeflate_decompressor *dec;
	unsigned char *in;
	size_t cap, want;
	int err = -1;

	/* zlib's 6 bytes of frame, 5 per stored block at worst: this much
	 * holds any stream of SIZE bytes git or libgit2 writes. */
	want = (size_t)e->size + (size_t)e->size / 1024 + 64;
	if (want > p->size - e->data)
		want = (size_t)(p->size - e->data);
	pthread_mutex_lock(&pr->lock);
	dec = pr->spare_dec;
	in = pr->spare_buf;
	cap = pr->spare_cap;
	pr->spare_dec = NULL;
	pr->spare_buf = NULL;
	pr->spare_cap = 0;
	pthread_mutex_unlock(&pr->lock);
	if (!dec)
		dec = libdeflate_alloc_decompressor();
	if (cap < want) {
		free(in);
		cap = want;
		in = malloc(cap);
	}
	if (dec && in && pk_read_full(p->fd, in, want, e->data) == 0 &&
	    libdeflate_zlib_decompress(dec, in, want, out, (size_t)e->size,
				       NULL) == LIBDEFLATE_SUCCESS)
		err = 0;
	pthread_mutex_lock(&pr->lock);
	if (!pr->spare_dec) {
		pr->spare_dec = dec;
		dec = NULL;
	}
	if (!pr->spare_buf) {
		pr->spare_buf = in;
		pr->spare_cap = in ? cap : 0;
		in = NULL;
	}
	pthread_mutex_unlock(&pr->lock);
	libdeflate_free_decompressor(dec);
	free(in);
	return err;
}

/* A size at the start of a delta (7 bits a byte, least first). */
static int delta_size(const unsigned char **d, const unsigned char *end,
		      uint64_t *out)
{
	unsigned shift = 0;
	unsigned char c;

	*out = 0;
	do {
		if (*d == end || shift > 57)
			return -1;
		c = *(*d)++;
		*out |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	return 0;
}

/* Delta D[0..DLEN) applied to BASE[0..BLEN): the result in *OUT (*OLEN
 * bytes, obj_alloc'd with OUTF); 0 or -1. */
static int delta_apply(struct packread *pr, const unsigned char *base,
		       size_t blen, const unsigned char *d, size_t dlen,
		       unsigned char **out, size_t *olen, bool outf)
{
	const unsigned char *end = d + dlen;
	uint64_t src, dst;
	unsigned char *o;
	size_t pos = 0;

	if (delta_size(&d, end, &src) < 0 || delta_size(&d, end, &dst) < 0 ||
	    src != blen || dst > PACKREAD_MAX ||
	    !(o = obj_alloc(pr, (size_t)dst, outf)))
		return -1;
	while (d < end) {
		unsigned char c = *d++;
		size_t off = 0, n = 0;

		if (c & 0x80) { /* copy from the base */
			for (unsigned i = 0; i < 7; i++) {
				if (!(c & (1u << i)))
					continue;
				if (d == end)
					goto bad;
				if (i < 4)
					off |= (size_t)*d++ << (8 * i);
				else
					n |= (size_t)*d++ << (8 * (i - 4));
			}
			if (n == 0)
				n = 0x10000;
			if (off > blen || n > blen - off || n > dst - pos)
				goto bad;
			memcpy(o + pos, base + off, n);
		} else if (c) { /* insert the next C bytes */
			n = c;
			if (n > (size_t)(end - d) || n > dst - pos)
				goto bad;
			memcpy(o + pos, d, n);
			d += n;
		} else {
			goto bad;
		}
		pos += n;
	}
	if (pos != dst)
		goto bad;
	*out = o;
	*olen = (size_t)dst;
	return 0;
bad:
	obj_free(pr, o, outf);
	return -1;
}

int pk_unpack(struct packread *pr, struct pack *p, uint64_t off, void **data,
	      size_t *len, git_object_t *type)
{
	struct entry *chain = NULL, e;
	size_t n = 0, cap = 0, blen = 0;
	unsigned char *base = NULL, *d = NULL;
	bool base_out = false; /* base is obj_alloc'd for libgit2 */
	int btype = 0;

	/* Down the chain to what is kept or whole; the object asked for
	 * (n == 0) is allocated for libgit2. */
	for (uint64_t at = off;; at = e.base) {
		base_out = n == 0;
		if ((base = kept_get(pr, p, at, &blen, &btype, base_out)))
			break;
		if (entry_read(p, at, &e) < 0 || n == PK_DEPTH)
			goto pass;
		if (whole(e.type)) {
			if (!(base = obj_alloc(pr, (size_t)e.size, base_out)) ||
			    inflate_to(pr, p, &e, base) < 0)
				goto pass;
			blen = (size_t)e.size;
			btype = e.type;
			if (n > 0)
				kept_put(pr, p, at, base, blen, btype);
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct entry *nc = realloc(chain, ncap * sizeof(*nc));

			if (!nc)
				goto pass;
			chain = nc;
			cap = ncap;
		}
		chain[n++] = e;
	}
	/* Then up again, each delta applied to what is below it. */
	while (n > 0) {
		const struct entry *de = &chain[--n];
		unsigned char *next;
		size_t nlen;

		if (!(d = malloc(de->size ? (size_t)de->size : 1)) ||
		    inflate_to(pr, p, de, d) < 0 ||
		    delta_apply(pr, base, blen, d, (size_t)de->size, &next,
				&nlen, n == 0) < 0)
			goto pass;
		free(d);
		d = NULL;
		obj_free(pr, base, base_out);
		base = next;
		base_out = n == 0;
		blen = nlen;
		if (n == 0)
			kept_put(pr, p, de->off, base, blen, btype);
	}
	free(chain);
	*data = base;
	*len = blen;
	*type = (git_object_t)btype;
	pthread_mutex_lock(&pr->lock);
	pr->served++;
	pthread_mutex_unlock(&pr->lock);
	return 0;
pass:
	if (base)
		obj_free(pr, base, base_out);
	free(d);
	free(chain);
	return GIT_PASSTHROUGH;
}
