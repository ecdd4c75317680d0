/* packwrite.c - many new objects at once as one pack, indexed by libgit2:
 * a reshard's 256 bucket trees (40 MB at a million documents) written
 * loose would be packed again at once by the background packer, whose
 * delta search over them took more CPU than the saves beside it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "store_int.h"
#include "banned.h"

#define HEADER 12 /* "PACK", version, object count */

/* Room for N more bytes in B. */
static int reserve(struct store_tb_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	while (cap - b->len < n)
		cap *= 2;
	if (!(p = realloc(b->p, cap)))
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int store_packw_add(struct store_packw *pw, git_object_t type, const void *data,
		    size_t len)
{
	unsigned char hdr[16], c = (unsigned char)(type << 4 | (len & 15));
	size_t h = 0, sz = len >> 4, bound;
	int err = 0, rc;

	if (!pw->b.len)
		err = store_tb_put(&pw->b, "PACK\0\0\0\2\0\0\0\0", HEADER);
	while (sz) {
		hdr[h++] = c | 0x80;
		c = sz & 0x7f;
		sz >>= 7;
	}
	hdr[h++] = c;
	if (err == 0)
		err = store_tb_put(&pw->b, hdr, h);
	if (err == 0 && !pw->zok) {
		if (deflateInit(&pw->z, Z_BEST_SPEED) != Z_OK)
			return -ENOMEM;
		pw->zok = true;
	}
	if (err < 0 || deflateReset(&pw->z) != Z_OK)
		return err < 0 ? err : -EIO;
	bound = deflateBound(&pw->z, (uLong)len);
	if ((err = reserve(&pw->b, bound)) < 0)
		return err;
	pw->z.next_in = (Bytef *)data;
	pw->z.avail_in = (uInt)len;
	pw->z.next_out = (Bytef *)pw->b.p + pw->b.len;
	pw->z.avail_out = (uInt)(pw->b.cap - pw->b.len);
	rc = deflate(&pw->z, Z_FINISH);
	if (rc != Z_STREAM_END)
		return store_fail(-EIO, "pack: deflate failed");
	pw->b.len += pw->z.total_out;
	pw->n++;
	return 0;
}

void store_packw_free(struct store_packw *pw)
{
	if (pw->zok)
		deflateEnd(&pw->z);
	free(pw->b.p);
	memset(pw, 0, sizeof(*pw));
}

int store_packw_finish(struct store *st, struct store_packw *pw)
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int slen = 0;
	git_indexer *ix = NULL;
	git_indexer_progress stats;
	char dir[4200];
	int err;

	if (!pw->n)
		return 0;
	for (int i = 0; i < 4; i++)
		pw->b.p[8 + i] = (char)(pw->n >> (24 - 8 * i));
	if (!EVP_Digest(pw->b.p, pw->b.len, sum, &slen, EVP_sha1(), NULL) ||
	    slen != GIT_OID_RAWSZ)
		return store_fail(-EIO, "pack: checksum failed");
	if ((err = store_tb_put(&pw->b, sum, GIT_OID_RAWSZ)) < 0)
		return err;
	snprintf(dir, sizeof(dir), "%s/objects/pack", st->gitdir);
	err = git_indexer_new(&ix, dir, 0, NULL, NULL);
	if (err == 0)
		err = git_indexer_append(ix, pw->b.p, pw->b.len, &stats);
	if (err == 0)
		err = git_indexer_commit(ix, &stats);
	git_indexer_free(ix);
	if (err < 0)
		return store_git_fail(err, "pack");
	/* libgit2 looks for new packs only when an object is missing. */
	return git_odb_refresh(st->odb) < 0 ? store_git_fail(-1, "pack") : 0;
}
