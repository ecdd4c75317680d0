/* jtree.h - JSON values that keep the exact text of every number and
 * string, for merging documents member by member (jmerge.h, jpatch.h).
 *
 * Parsing accepts exactly what store_json_validate accepts (it runs the
 * validator first, then builds the tree without recursion), so any saved
 * document parses, whatever its nesting or number sizes.
 *
 * Kept as written: a number's text ("12345678901234567890", "1.0e400",
 * "-0.0" stay so, no conversion to double); a string's raw text between
 * and including its quotes ("\u00e9" and "é" stay as spelt); a member's
 * key text; member order. Not kept: insignificant whitespace.
 *
 * Duplicate keys (RFC 8259: names SHOULD be unique): members are keyed by
 * their decoded name; a repeated name keeps the position and key text of
 * its first occurrence and the value of its last, as JavaScript's
 * JSON.parse does. {"a":1,"b":2,"a":3} is {"a":3,"b":2}.
 *
 * Equality (jt_equal, what "changed" and "equal changes" mean when
 * merging): literals by kind; numbers when their texts are identical
 * (chronofs keeps number text, so 1 and 1.0 are different values, as are
 * 0 and -0); strings when their decoded code points are identical (escapes
 * are only spelling: "\u00e9" equals "é", "\/" equals "/"); arrays element
 * by element; objects when they have the same member names with equal
 * values, in any order.
 *
 * Output (jt_write): JT_PRETTY is the layout of a document chronofs
 * writes again after merging members: two spaces of indentation per
 * level, one member or element per line, "key": value with one space
 * after the colon, empty containers as {} and [], a newline at the end;
 * scalars and keys as their kept text. JT_COMPACT has no whitespace at all
 * (patches, conflicts lists inside one line).
 *
 * Values are immutable once built and reference counted, so a merged
 * document shares the unchanged subtrees of its inputs: jt_ref takes a
 * reference, jt_unref drops one (freeing without recursion). Counts are
 * not atomic: a tree belongs to one thread at a time.
 */
#ifndef CHRONOFS_STORE_JTREE_H
#define CHRONOFS_STORE_JTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

enum jt_type {
	JT_NULL,
	JT_FALSE,
	JT_TRUE,
	JT_NUMBER,
	JT_STRING,
	JT_ARRAY,
	JT_OBJECT,
};

struct jt_value;

struct jt_member {
	struct jt_value *key; /* a JT_STRING */
	struct jt_value *value;
};

/* Read-only for users; built through the functions below. */
struct jt_value {
	enum jt_type type;
	unsigned refs;
	size_t n; /* elements or members */
	union {
		struct {
			char *raw; /* the text as written (with quotes) */
			size_t len; /* of raw */
			/* JT_STRING: the decoded bytes (UTF-8; a lone
			 * surrogate escape as its 3-byte generalized UTF-8
			 * form; may hold NUL bytes). */
			const char *dec;
			size_t dlen;
		} s;
		struct {
			struct jt_value **v;
			size_t cap;
		} a; /* JT_ARRAY */
		struct {
			struct jt_member *m;
			size_t cap;
			size_t *slots; /* hash index (SIZE_MAX empty) */
			size_t nslots;
		} o;
	} u;
};

/* A growing output buffer; free p when done. */
struct jt_buf {
	char *p;
	size_t len, cap;
};

enum jt_style {
	JT_COMPACT,
	JT_PRETTY,
};

/* Parse one JSON text. -EINVAL (with *err) if store_json_validate refuses
 * it, -ENOMEM. *out is the caller's (jt_unref). */
int jt_parse(struct jt_value **out, const char *buf, size_t len,
	     struct store_json_error *err);

/* New values; NULL when out of memory. The caller owns the reference. */
struct jt_value *jt_new_literal(enum jt_type type);
/* A number or string from its exact text (not checked: callers pass
 * text that came from a parsed value or from jt_buf_string). */
struct jt_value *jt_new_scalar(enum jt_type type, const char *raw, size_t len);
struct jt_value *jt_new_array(void);
struct jt_value *jt_new_object(void);
/* Append VALUE to ARRAY (takes the caller's reference); -ENOMEM. */
int jt_array_append(struct jt_value *array, struct jt_value *value);
/* Set member KEY of OBJECT to VALUE (takes both references): a new key
 * goes at the end; an existing one (by decoded name) keeps its place and
 * key text and gets VALUE. -ENOMEM. */
int jt_object_set(struct jt_value *object, struct jt_value *key,
		  struct jt_value *value);

struct jt_value *jt_ref(struct jt_value *v); /* NULL-safe; returns v */
void jt_unref(struct jt_value *v); /* NULL-safe */

/* Index of the member named DEC (DLEN decoded bytes), or -1. Builds the
 * object's hash index on first use (so: not concurrently). */
long jt_object_find(const struct jt_value *object, const char *dec,
		    size_t dlen);
/* The member's value, borrowed, or NULL. */
struct jt_value *jt_object_get(const struct jt_value *object, const char *dec,
			       size_t dlen);

/* *OUT: are A and B equal (by the rules above; NULL is absent and equals
 * only NULL)? 0 or -ENOMEM. jt_equal says "different" when out of memory
 * (a merge then keeps both sides' values as changes: nothing is lost). */
int jt_compare(bool *out, const struct jt_value *a, const struct jt_value *b);
bool jt_equal(const struct jt_value *a, const struct jt_value *b);

/* Append V's text to OUT in STYLE (JT_PRETTY ends with a newline). */
int jt_write(struct jt_buf *out, const struct jt_value *v, enum jt_style style);

int jt_buf_put(struct jt_buf *b, const void *data, size_t n);
/* Append "/" and object key KEY's decoded name escaped by RFC 6901 ("~"
 * as "~0", "/" as "~1"): one step of a JSON Pointer. */
int jt_pointer_push(struct jt_buf *p, const struct jt_value *key);
int jt_buf_puts(struct jt_buf *b, const char *s);
/* Append DEC (decoded bytes, as in jt_value.u.s.dec) as a JSON string
 * literal: quotes, \" \\ and control characters escaped, a lone
 * surrogate as \uXXXX, everything else as is. */
int jt_buf_string(struct jt_buf *b, const char *dec, size_t dlen);

#endif
