/* blob.c - documents too big to hold, read in parts: a document over
 * max_doc_size committed from outside is served through the mount a
 * window at a time (store/blobread.c), never held whole and copied. */
#include <stdlib.h>

#include "lib_int.h"
#include "banned.h"

struct cfs_blob {
	struct store_blob *b;
};

int cfs_blob_size(chronofs *db, const struct cfs_oid *blob, uint64_t *size)
{
	struct store_oid b = lib_soid(blob);
	int err;

	lib_enter();
	err = store_blob_size(db->st, &b, size);
	return err < 0 ? lib_fail(err, "blob") : 0;
}

int cfs_blob_open(chronofs *db, const struct cfs_oid *blob,
		  struct cfs_blob **out, uint64_t *size)
{
	struct store_oid id = lib_soid(blob);
	struct cfs_blob *b;
	int err;

	lib_enter();
	*out = NULL;
	if (!(b = calloc(1, sizeof(*b))))
		return lib_fail(-ENOMEM, "blob");
	if ((err = store_blob_open(db->st, &id, &b->b)) < 0) {
		free(b);
		return lib_fail(err, "blob");
	}
	*size = store_blob_size_of(b->b);
	*out = b;
	return 0;
}

int cfs_blob_pread(struct cfs_blob *b, char *buf, size_t size, uint64_t off,
		   size_t *got)
{
	int err;

	lib_enter();
	err = store_blob_pread(b->b, buf, size, off, got);
	return err < 0 ? lib_fail(err, "blob") : 0;
}

void cfs_blob_close(struct cfs_blob *b)
{
	if (!b)
		return;
	store_blob_close(b->b);
	free(b);
}
