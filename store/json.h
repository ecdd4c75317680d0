/* json.h - the one JSON validation entry point: RFC 8259 text, exactly.
 *
 * A hand-written checker rather than jansson's parser, because jansson
 * refuses texts RFC 8259 accepts (integers beyond int64, reals beyond
 * double) and recurses on nesting. This one accepts any JSON value at the
 * top level, "\u0000" inside strings, numbers of any size, and nesting of
 * any depth (an explicit stack, one bit per level), and requires UTF-8.
 */
#ifndef CHRONOFS_STORE_JSON_H
#define CHRONOFS_STORE_JSON_H

#include <stddef.h>

struct store_json_error {
	unsigned line; /* 1-based */
	unsigned column; /* 1-based, in bytes */
	const char *reason;
};

/* 0 if BUF holds one JSON text, else -EINVAL with *err filled. */
int store_json_validate(const char *buf, size_t len,
			struct store_json_error *err);

#endif
