/* sortbatch.c - a long catch-up's records, handed to RocksDB in key
 * order: a commit's keys fall all over the key space (its time, its seq,
 * its id, its paths), and a memtable insert that follows the one before
 * it in key order is a short step of the skip list, where a random one
 * searches it from the top (a third of a catch-up's instructions). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catchup_int.h"
#include "banned.h"

struct kvref {
	size_t off; /* key, then value, in buf */
	size_t klen, vlen;
	size_t order; /* a key put twice: the later one wins */
};

int idx_sortbatch_put(struct idx_sortbatch *b, const void *k, size_t klen,
		      const void *v, size_t vlen)
{
	if (b->len + klen + vlen > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 1u << 16;
		unsigned char *p;

		while (cap < b->len + klen + vlen)
			cap *= 2;
		if (!(p = realloc(b->buf, cap)))
			return -ENOMEM;
		b->buf = p;
		b->cap = cap;
	}
	if (b->n == b->vcap) {
		size_t cap = b->vcap ? 2 * b->vcap : 1024;
		struct kvref *r = realloc(b->v, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		b->v = r;
		b->vcap = cap;
	}
	b->v[b->n] = (struct kvref){ b->len, klen, vlen, b->n };
	b->n++;
	memcpy(b->buf + b->len, k, klen);
	memcpy(b->buf + b->len + klen, v, vlen);
	b->len += klen + vlen;
	return 0;
}

static int cmp_kv(const void *x, const void *y, void *arg)
{
	const struct kvref *a = x, *b = y;
	const unsigned char *buf = arg;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(buf + a->off, buf + b->off, n);

	if (c == 0)
		c = a->klen < b->klen ? -1 : a->klen > b->klen ? 1 : 0;
	if (c == 0)
		c = a->order < b->order ? -1 : 1;
	return c;
}

void idx_sortbatch_apply(struct idx_sortbatch *b, rocksdb_writebatch_t *wb)
{
	qsort_r(b->v, b->n, sizeof(*b->v), cmp_kv, b->buf);
	for (size_t i = 0; i < b->n; i++) {
		const struct kvref *r = &b->v[i];

		rocksdb_writebatch_put(wb, (char *)b->buf + r->off, r->klen,
				       (char *)b->buf + r->off + r->klen,
				       r->vlen);
	}
	b->n = 0;
	b->len = 0;
}

void idx_sortbatch_release(struct idx_sortbatch *b)
{
	free(b->buf);
	free(b->v);
	memset(b, 0, sizeof(*b));
}
