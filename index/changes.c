/* changes.c - the 'K' records of changes.h: gathered from the files a
 * commit's indexing reports (catchup.c), written with its other rows,
 * read back by a diff. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catchup_int.h"
#include "changes.h"
#include "banned.h"

void idx_rec_reset(struct idx_rec *r)
{
	r->len = 0;
	r->n = 0;
	r->odd = false;
}

void idx_rec_release(struct idx_rec *r)
{
	free(r->p);
	memset(r, 0, sizeof(*r));
}

static int rec_add(struct idx_rec *r, const void *data, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		unsigned char *p;

		while (cap < r->len + n)
			cap *= 2;
		if (!(p = realloc(r->p, cap)))
			return -ENOMEM;
		r->p = p;
		r->cap = cap;
	}
	memcpy(r->p + r->len, data, n);
	r->len += n;
	return 0;
}

int idx_rec_add(struct idx_rec *r, const char *path,
		const struct store_oid *old, const struct store_oid *new)
{
	size_t plen = strlen(path);
	unsigned char h[3] = { (unsigned char)(plen >> 8), (unsigned char)plen,
			       (unsigned char)((old ? 1 : 0) | (new ? 2 : 0)) };
	static const unsigned char version = 0;

	if (r->odd || (!old && !new) ||
	    (old && new &&store_oid_equal(old, new)))
		return 0; /* no change */
	if (r->n == IDX_CHANGES_MAX || plen > 0xffff) {
		r->odd = true; /* too big to be worth it: Git answers */
		return 0;
	}
	if ((r->len == 0 && rec_add(r, &version, 1) < 0) ||
	    rec_add(r, h, 3) < 0 || rec_add(r, path, plen) < 0 ||
	    (old && rec_add(r, old->id, STORE_OID_RAWSZ) < 0) ||
	    (new &&rec_add(r, new->id, STORE_OID_RAWSZ) < 0))
		return -ENOMEM;
	r->n++;
	return 0;
}

int idx_rec_key(struct idx_key *k, const struct store_oid *commit)
{
	if (idx_key_start(k, 'K', "") < 0 ||
	    idx_key_add(k, commit->id, STORE_OID_RAWSZ) < 0)
		return -ENOMEM;
	return 0;
}

int idx_changes_get(struct idx_db *db, const struct store_oid *commit,
		    struct idx_changes *out)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	struct idx_key k = { 0 };
	char *e = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = idx_rec_key(&k, commit)) == 0) {
		out->buf = rocksdb_get(db->db, ro, (char *)k.p, k.len,
				       &out->len, &e);
		if (e)
			err = idx_rocks_fail(e, "read changes");
		else if (!out->buf || out->len < 1 || out->buf[0] != 0)
			err = 1; /* none, or a form this code does not know */
	}
	rocksdb_readoptions_destroy(ro);
	free(k.p);
	if (err != 0)
		idx_changes_release(out);
	out->pos = 1;
	return err;
}

int idx_changes_next(struct idx_changes *c, struct idx_changed *out)
{
	const unsigned char *p = (const unsigned char *)c->buf + c->pos;
	size_t left = c->len - c->pos, need;

	if (left == 0)
		return 1;
	if (left < 3)
		return -EIO;
	out->plen = (size_t)p[0] << 8 | p[1];
	out->has_old = p[2] & 1;
	out->has_new = p[2] & 2;
	need = 3 + out->plen + (out->has_old ? 20 : 0) +
	       (out->has_new ? 20 : 0);
	if (need > left || out->plen == 0 || (!out->has_old && !out->has_new))
		return -EIO;
	out->path = (const char *)p + 3;
	p += 3 + out->plen;
	if (out->has_old) {
		memcpy(out->old.id, p, STORE_OID_RAWSZ);
		p += STORE_OID_RAWSZ;
	}
	if (out->has_new)
		memcpy(out->new.id, p, STORE_OID_RAWSZ);
	c->pos += need;
	return 0;
}

void idx_changes_release(struct idx_changes *c)
{
	rocksdb_free(c->buf);
	memset(c, 0, sizeof(*c));
}
