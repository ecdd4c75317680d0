/* tdiffline.c - one line of `chronofsctl diff` for one changed document:
 * its path, the operation and the RFC 6902 patch (treemerge.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jpatch.h"
#include "treemerge.h"
#include "banned.h"

/* The parsed version of BLOB (NULL if absent); *json false if it is not
 * JSON. */
static int version(struct store *st, bool has, const struct store_oid *blob,
		   struct jt_value **out, bool *json)
{
	char *data = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	if (!has)
		return 0;
	err = store_blob_read(st, blob, &data, &len);
	if (err == 0) {
		err = jt_parse(out, data, len, NULL);
		if (err == -EINVAL) {
			*json = false;
			err = 0;
		}
	}
	free(data);
	return err;
}

int store_tdiff_line(struct store *st, const struct store_tdiff_entry *e,
		     struct jt_buf *out)
{
	static const char *const ops[] = {
		[STORE_TDIFF_ADD] = "add",
		[STORE_TDIFF_DELETE] = "delete",
		[STORE_TDIFF_MODIFY] = "modify",
	};
	struct jt_value *a = NULL, *b = NULL;
	bool json = true;
	int err;

	err = version(st, e->op != STORE_TDIFF_ADD, &e->old_blob, &a, &json);
	if (err == 0)
		err = version(st, e->op != STORE_TDIFF_DELETE, &e->new_blob, &b,
			      &json);
	if (err == 0)
		err = jt_buf_puts(out, "{\"path\":");
	if (err == 0)
		err = jt_buf_string(out, e->path, strlen(e->path));
	if (err == 0)
		err = jt_buf_puts(out, ",\"op\":\"");
	if (err == 0)
		err = jt_buf_puts(out, ops[e->op]);
	if (err == 0)
		err = jt_buf_puts(out, "\",\"patch\":");
	if (err == 0)
		err = json ? jpatch_diff(out, a, b, NULL) :
			     jt_buf_puts(out, "null");
	if (err == 0)
		err = jt_buf_puts(out, "}\n");
	jt_unref(a);
	jt_unref(b);
	return err;
}
