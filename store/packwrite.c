/* packwrite.c - many new objects at once as one pack, indexed by libgit2:
 * a reshard's 256 bucket trees (40 MB at a million documents) written
 * loose would be packed again at once by the background packer, whose
 * delta search over them took more CPU than the saves beside it. The
 * pack goes to libgit2's indexer as it is made, a MiB at a time: held
 * whole, it was ~30 MB more at the daemon's peak, beside the flat tree
 * being resharded. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "store_int.h"
#include "banned.h"

#define HEADER 12 /* "PACK", version, object count */
#define FLUSH_AT (1u << 20)

int store_packw_begin(struct store *st, struct store_packw *pw, uint32_t count)
{
	unsigned char hdr[HEADER] = "PACK\0\0\0\2";
	char dir[4200];
	int err;

	pw->count = count;
	if (!count)
		return 0;
	for (int i = 0; i < 4; i++)
		hdr[8 + i] = (unsigned char)(count >> (24 - 8 * i));
	if (!(pw->sum = EVP_MD_CTX_new()) ||
	    !EVP_DigestInit_ex(pw->sum, EVP_sha1(), NULL))
		return store_fail(-ENOMEM, "pack: checksum");
	snprintf(dir, sizeof(dir), "%s/objects/pack", st->gitdir);
	if ((err = git_indexer_new(&pw->ix, dir, 0, NULL, NULL)) < 0)
		return store_git_fail(err, "pack");
	return store_tb_put(&pw->b, hdr, HEADER);
}

/* What is gathered, to the checksum and the indexer. */
static int flush(struct store_packw *pw)
{
	int err;

	if (!pw->b.len)
		return 0;
	if (!EVP_DigestUpdate(pw->sum, pw->b.p, pw->b.len))
		return store_fail(-EIO, "pack: checksum failed");
	err = git_indexer_append(pw->ix, pw->b.p, pw->b.len, &pw->stats);
	if (err < 0)
		return store_git_fail(err, "pack");
	pw->b.len = 0;
	return 0;
}

int store_packw_add(struct store_packw *pw, git_object_t type, const void *data,
		    size_t len)
{
	unsigned char hdr[16], c = (unsigned char)(type << 4 | (len & 15));
	size_t h = 0, sz = len >> 4, bound;
	int err = 0, rc;

	if (pw->n == pw->count)
		return store_fail(-EIO, "pack: more objects than its %u",
				  pw->count);
	while (sz) {
		hdr[h++] = c | 0x80;
		c = sz & 0x7f;
		sz >>= 7;
	}
	hdr[h++] = c;
	err = store_tb_put(&pw->b, hdr, h);
	if (err == 0 && !pw->zok) {
		if (deflateInit(&pw->z, Z_BEST_SPEED) != Z_OK)
			return -ENOMEM;
		pw->zok = true;
	}
	if (err < 0 || deflateReset(&pw->z) != Z_OK)
		return err < 0 ? err : -EIO;
	bound = deflateBound(&pw->z, (uLong)len);
	if ((err = store_tb_reserve(&pw->b, bound)) < 0)
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
	return pw->b.len >= FLUSH_AT ? flush(pw) : 0;
}

void store_packw_free(struct store_packw *pw)
{
	if (pw->zok)
		deflateEnd(&pw->z);
	git_indexer_free(pw->ix); /* a pack not committed is removed */
	EVP_MD_CTX_free(pw->sum);
	free(pw->b.p);
	memset(pw, 0, sizeof(*pw));
}

int store_packw_finish(struct store *st, struct store_packw *pw)
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int slen = 0;
	int err;

	if (!pw->count)
		return 0;
	if (pw->n != pw->count)
		return store_fail(-EIO, "pack: %u objects of %u", pw->n,
				  pw->count);
	if ((err = flush(pw)) < 0)
		return err;
	if (!EVP_DigestFinal_ex(pw->sum, sum, &slen) || slen != GIT_OID_RAWSZ)
		return store_fail(-EIO, "pack: checksum failed");
	err = git_indexer_append(pw->ix, sum, GIT_OID_RAWSZ, &pw->stats);
	if (err == 0)
		err = git_indexer_commit(pw->ix, &pw->stats);
	if (err < 0)
		return store_git_fail(err, "pack");
	/* libgit2 looks for new packs only when an object is missing. */
	return git_odb_refresh(st->odb) < 0 ? store_git_fail(-1, "pack") : 0;
}
