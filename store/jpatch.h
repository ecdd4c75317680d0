/* jpatch.h - an RFC 6902 JSON Patch from one JSON value to another.
 *
 * Objects are compared member by member (recursively): a member only in
 * A is removed, one only in B added, one in both with different values
 * diffed further if both are objects or both arrays, else replaced.
 * Arrays are compared element-wise after setting aside their common
 * prefix and suffix of equal elements: the middle elements at the same
 * index are diffed as above, then A's surplus middle elements are removed
 * (each at the same index, as each removal shifts the rest) or B's
 * surplus ones added at their index, before the common suffix. So an
 * insertion or a removal at the front of an array is one operation, a
 * change of element 3 is an operation at /3. Values that jt_equal calls
 * equal give no operation (a string respelt with other escapes is the
 * same string). Values nested deeper than JPATCH_MAX_DEPTH are replaced
 * whole. Operations are "add", "remove" and "replace" only; paths are
 * RFC 6901 pointers; values keep their exact text.
 *
 * Applying the operations in order to A gives a value jt_equal to B.
 */
#ifndef CHRONOFS_STORE_JPATCH_H
#define CHRONOFS_STORE_JPATCH_H

#include "jtree.h"

#define JPATCH_MAX_DEPTH 256

/* Append to OUT the patch from A to B as one JSON array text, compact,
 * no newline ("[]" when they are equal). A or B NULL (absent: a document
 * added or deleted) gives one operation on the whole document: "add" of
 * B at "" or "remove" of "". 0 or -ENOMEM. *NOPS (if not NULL): the
 * number of operations. */
int jpatch_diff(struct jt_buf *out, const struct jt_value *a,
		const struct jt_value *b, size_t *nops);

#endif
