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
	r->v.len = 0;
	r->n = 0;
	r->odd = false;
	r->plain = false;
}

void idx_rec_release(struct idx_rec *r)
{
	free(r->v.p);
	memset(r, 0, sizeof(*r));
}

int idx_rec_add(struct idx_rec *r, const char *path,
		const struct store_oid *before, const struct store_oid *after)
{
	size_t plen = strlen(path);
	unsigned char h[3] = { (unsigned char)(plen >> 8), (unsigned char)plen,
			       (unsigned char)((before ? 1 : 0) |
					       (after ? 2 : 0)) };
	static const unsigned char version = 0;
	struct idx_key *v = &r->v;

	if (r->odd || (!before && !after) ||
	    (before && after && store_oid_equal(before, after)))
		return 0; /* no change */
	if (r->n == IDX_CHANGES_MAX || plen > 0xffff) {
		r->odd = true; /* too big to be worth it: Git answers */
		return 0;
	}
	if ((v->len == 0 && idx_key_add(v, &version, 1) < 0) ||
	    idx_key_add(v, h, 3) < 0 || idx_key_add(v, path, plen) < 0 ||
	    (before && idx_key_add(v, before->id, STORE_OID_RAWSZ) < 0) ||
	    (after && idx_key_add(v, after->id, STORE_OID_RAWSZ) < 0))
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
	struct idx_key k = { 0 };
	char *e = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = idx_rec_key(&k, commit)) == 0) {
		out->buf = rocksdb_get(db->db, db->ropts, (char *)k.p, k.len,
				       &out->len, &e);
		if (e)
			err = idx_rocks_fail(e, "read changes");
		else if (!out->buf || out->len < 1 ||
			 (out->buf[0] != 0 && out->buf[0] != 1))
			err = 1; /* none, or a form this code does not know */
		else
			out->plain = out->buf[0] == 1;
	}
	free(k.p);
	if (err != 0)
		idx_changes_release(out);
	else
		out->pos = 1; /* past the version */
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
