/* json.c - RFC 8259 validation without building values (see json.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "banned.h"

struct scan {
	const unsigned char *p, *end, *line_start;
	unsigned line;
	const char *reason;
	uint8_t *stack; /* one bit per open container: 1 = object */
	size_t depth, cap;
};

static bool fail(struct scan *s, const char *reason)
{
	if (!s->reason)
		s->reason = reason;
	return false;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end) {
		if (*s->p == '\n') {
			s->line++;
			s->line_start = s->p + 1;
		} else if (*s->p != ' ' && *s->p != '\t' && *s->p != '\r') {
			return;
		}
		s->p++;
	}
}

static bool literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, "invalid literal");
	s->p += n;
	return true;
}

static bool digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? true : fail(s, "expected a digit");
}

static bool number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return false;
	}
	return true;
}

/* Length of the UTF-8 sequence at P (1-4), or 0 if it is not valid
 * (overlong forms, surrogates and code points past U+10FFFF refused). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n, avail = (size_t)(end - p);
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xE0) == 0xC0)
		n = 2, cp = p[0] & 0x1F;
	else if ((p[0] & 0xF0) == 0xE0)
		n = 3, cp = p[0] & 0x0F;
	else if ((p[0] & 0xF8) == 0xF0)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static bool hex4(struct scan *s)
{
	for (int i = 0; i < 4; i++, s->p++) {
		if (s->p >= s->end ||
		    !strchr("0123456789abcdefABCDEF", *s->p) || !*s->p)
			return fail(s, "invalid \\u escape");
	}
	return true;
}

static bool string(struct scan *s)
{
	size_t n;

	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return fail(s, "control character in string");
		if (c == '\\') {
			s->p++;
			if (s->p >= s->end)
				break;
			if (*s->p == 'u') {
				s->p++;
				if (!hex4(s))
					return false;
				continue;
			}
			if (!*s->p || !strchr("\"\\/bfnrt", *s->p))
				return fail(s, "invalid escape");
			s->p++;
			continue;
		}
		n = utf8_len(s->p, s->end);
		if (!n)
			return fail(s, "invalid UTF-8");
		s->p += n;
	}
	return fail(s, "unterminated string");
}

static bool push(struct scan *s, bool object)
{
	if (s->depth / 8 >= s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint8_t *st = realloc(s->stack, cap);

		if (!st)
			return fail(s, "out of memory");
		memset(st + s->cap, 0, cap - s->cap);
		s->stack = st;
		s->cap = cap;
	}
	if (object)
		s->stack[s->depth / 8] |= (uint8_t)(1u << (s->depth % 8));
	else
		s->stack[s->depth / 8] &= (uint8_t) ~(1u << (s->depth % 8));
	s->depth++;
	return true;
}

static bool top_is_object(const struct scan *s)
{
	size_t d = s->depth - 1;

	return s->stack[d / 8] & (1u << (d % 8));
}

/* A scalar, or the opening of a container (pushed on the stack). */
static bool value_start(struct scan *s, bool *opened)
{
	*opened = false;
	if (s->p >= s->end)
		return fail(s, "expected a value");
	switch (*s->p) {
	case '{':
	case '[':
		*opened = true;
		return push(s, *s->p++ == '{');
	case '"':
		return string(s);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return number(s);
		/* Editors that write one call it a byte-order mark; say so. */
		if (s->end - s->p >= 3 && !memcmp(s->p, "\xef\xbb\xbf", 3))
			return fail(s, "a byte-order mark (U+FEFF): JSON text "
				       "must not begin with one");
		return fail(s, "expected a value");
	}
}

/* Parse "KEY :" inside an object. */
static bool member_key(struct scan *s)
{
	skip_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return fail(s, "expected a string key");
	if (!string(s))
		return false;
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return fail(s, "expected ':'");
	s->p++;
	return true;
}

/* After a value inside a container: ',' then the next item, or the close.
 * Returns false on error; sets *closed when the container ended. */
static bool after_value(struct scan *s, bool *need_value)
{
	bool obj = top_is_object(s);

	skip_ws(s);
	if (s->p >= s->end)
		return fail(s,
			    obj ? "unterminated object" : "unterminated array");
	if (*s->p == ',') {
		s->p++;
		if (obj && !member_key(s))
			return false;
		*need_value = true;
		return true;
	}
	if (*s->p == (obj ? '}' : ']')) {
		s->p++;
		s->depth--;
		*need_value = false;
		return true;
	}
	return fail(s, obj ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* Right after an opening bracket: an immediate close, or the first item. */
static bool first_item(struct scan *s, bool *need_value)
{
	bool obj = top_is_object(s);

	skip_ws(s);
	if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
		s->p++;
		s->depth--;
		*need_value = false;
		return true;
	}
	if (obj && !member_key(s))
		return false;
	*need_value = true;
	return true;
}

static bool scan_text(struct scan *s)
{
	bool need_value = true, opened;

	skip_ws(s);
	for (;;) {
		if (need_value) {
			skip_ws(s);
			if (!value_start(s, &opened))
				return false;
			if (opened) {
				if (!first_item(s, &need_value))
					return false;
				continue;
			}
		}
		if (s->depth == 0)
			break;
		if (!after_value(s, &need_value))
			return false;
	}
	skip_ws(s);
	return s->p == s->end ? true : fail(s, "trailing characters");
}

int store_json_validate(const char *buf, size_t len,
			struct store_json_error *err)
{
	struct scan s = {
		.p = (const unsigned char *)buf,
		.end = (const unsigned char *)buf + len,
		.line_start = (const unsigned char *)buf,
		.line = 1,
	};
	bool ok = scan_text(&s);

	free(s.stack);
	if (ok)
		return 0;
	if (err) {
		err->line = s.line;
		err->column = (unsigned)(s.p - s.line_start) + 1;
		err->reason = s.reason ? s.reason : "invalid JSON";
	}
	return -EINVAL;
}
