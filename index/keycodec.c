/*
 * keycodec.c - encode JSON values as memcmp-ordered key bytes and back.
 * The byte format, and why it is shaped so, is documented in keycodec.h.
 */
#include "keycodec.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "banned.h"

/* Numbers are taken apart bit by bit: double must be IEEE binary64. */
_Static_assert(sizeof(double) == 8 && DBL_MANT_DIG == 53 &&
		       DBL_MIN_EXP == -1021 && DBL_MAX_EXP == 1024,
	       "double is not IEEE 754 binary64");
_Static_assert(sizeof(json_int_t) == 8, "json_int_t is not 64 bits");

enum tag {
	TAG_END = 0x00,
	TAG_MISSING = IDX_KEY_TAG_MISSING,
	TAG_NULL = 0x20,
	TAG_FALSE = 0x30,
	TAG_TRUE = 0x31,
	TAG_NAN = 0x40,
	TAG_NEG_INF = 0x41,
	TAG_NEG = 0x42,
	TAG_ZERO = 0x43,
	TAG_POS = 0x44,
	TAG_POS_INF = 0x45,
	TAG_STRING = 0x60,
	TAG_ARRAY = 0x70,
	TAG_OBJECT = 0x80,
};

/* The stored exponent: e + EXP_BIAS is 1 for 2^-1074, the least denormal. */
#define EXP_BIAS 1075
/* A double is m * 2^(biased - DBL_ULP_BIAS): IEEE bias 1023 + 52 bits. */
#define DBL_ULP_BIAS 1075
#define EXP_MIN (-1074)
#define EXP_MAX 1023
#define MAX_GROUPS 9 /* 7-bit groups in a fraction of up to 63 bits */

static const unsigned char str_escape[2] = { 0x00, 0xff };
static const unsigned char str_end[2] = { 0x00, 0x01 };

/* ---- buffer ---------------------------------------------------------- */

void idx_buf_init(struct idx_buf *buf)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

void idx_buf_release(struct idx_buf *buf)
{
	if (!buf)
		return;
	free(buf->data);
	idx_buf_init(buf);
}

static int buf_reserve(struct idx_buf *buf, size_t extra)
{
	size_t need, cap;
	unsigned char *p;

	if (extra <= buf->cap - buf->len)
		return 0;
	if (extra > SIZE_MAX - buf->len)
		return -ENOMEM;
	need = buf->len + extra;
	cap = buf->cap ? buf->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(buf->data, cap);
	if (!p)
		return -ENOMEM;
	buf->data = p;
	buf->cap = cap;
	return 0;
}

int idx_buf_append(struct idx_buf *buf, const void *data, size_t len)
{
	int err;

	/* Also keeps NULL + 0 arithmetic away from an empty buffer. */
	if (!len)
		return 0;
	err = buf_reserve(buf, len);
	if (err)
		return err;
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	return 0;
}

static int buf_putc(struct idx_buf *buf, unsigned char c)
{
	return idx_buf_append(buf, &c, 1);
}

/* Hand the bytes, NUL-terminated, to the caller; @buf ends up empty. */
static int buf_take_string(char **out, struct idx_buf *buf)
{
	int err = buf_putc(buf, 0);

	if (err)
		return err;
	*out = (char *)buf->data;
	idx_buf_init(buf);
	return 0;
}

/* The bytes as a string argument: never NULL, which jansson refuses. */
static const char *buf_chars(const struct idx_buf *buf)
{
	return buf->data ? (const char *)buf->data : "";
}

static void invert(unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)~p[i];
}

/* ---- UTF-8 ------------------------------------------------------------ */

/*
 * The rules jansson applies to every string it holds (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). Checked here
 * rather than by json_stringn() so that bad input is told apart from
 * -ENOMEM.
 */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
		else if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		if (n >= len - i)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

/* ---- numbers ---------------------------------------------------------- */

/*
 * A number as the encoding sees it: a tag for its sign class and, for
 * nonzero finite values, |v| = 1.frac * 2^exp with frac's bits left-aligned.
 * Every int64 and every finite double has exactly one such form, which is
 * what makes equal values encode equally whatever their jansson type.
 */
struct num {
	enum tag tag;
	int exp;
	uint64_t frac;
};

static int top_bit(uint64_t m)
{
	int n = 0;

	while (m >>= 1)
		n++;
	return n;
}

/* Set @out to the value (-1)^neg * m * 2^e2. */
static void num_set(struct num *out, bool neg, uint64_t m, int e2)
{
	int top;

	out->exp = 0;
	out->frac = 0;
	if (!m) {
		out->tag = TAG_ZERO;
		return;
	}
	top = top_bit(m);
	out->tag = neg ? TAG_NEG : TAG_POS;
	out->exp = top + e2;
	/* Shift the leading 1 out; for top == 0 that would be a shift by 64. */
	out->frac = top ? m << (64 - top) : 0;
}

static void num_from_int(struct num *out, json_int_t i)
{
	/* Unsigned negation: |INT64_MIN| = 2^63 does not fit json_int_t. */
	uint64_t m = i < 0 ? -(uint64_t)i : (uint64_t)i;

	num_set(out, i < 0, m, 0);
}

static void num_from_double(struct num *out, double d)
{
	uint64_t bits, m;
	int biased;

	out->exp = 0;
	out->frac = 0;
	if (isnan(d)) {
		out->tag = TAG_NAN;
		return;
	}
	if (isinf(d)) {
		out->tag = d < 0 ? TAG_NEG_INF : TAG_POS_INF;
		return;
	}
	memcpy(&bits, &d, sizeof(bits));
	biased = (int)(bits >> 52 & 0x7ff);
	m = bits & ((UINT64_C(1) << 52) - 1);
	if (biased)
		m |= UINT64_C(1) << 52;
	/* Denormals share the least normal exponent, without the hidden 1. */
	num_set(out, bits >> 63, m, (biased ? biased : 1) - DBL_ULP_BIAS);
}

static int put_num(struct idx_buf *out, const struct num *n)
{
	unsigned char b[1 + 2 + MAX_GROUPS];
	size_t len = 0;
	uint64_t f = n->frac;
	unsigned e;

	b[len++] = (unsigned char)n->tag;
	if (n->tag != TAG_NEG && n->tag != TAG_POS)
		return idx_buf_append(out, b, len);
	e = (unsigned)(n->exp + EXP_BIAS);
	b[len++] = (unsigned char)(e >> 8);
	b[len++] = (unsigned char)e;
	/* frac's bit 0 is always clear, so 9 groups always empty it. */
	do {
		unsigned char g = (unsigned char)(f >> 57);

		f <<= 7;
		b[len++] = (unsigned char)(g << 1 | (f != 0));
	} while (f);
	if (n->tag == TAG_NEG)
		invert(b + 1, len - 1);
	return idx_buf_append(out, b, len);
}

/* ---- encoder ---------------------------------------------------------- */

static int put_value(struct idx_buf *out, const json_t *v, int depth);

/* Bytes with each NUL escaped, then the terminator: never a prefix. */
static int put_escaped(struct idx_buf *out, const char *s, size_t len)
{
	const char *nul;
	int err;

	while (len && (nul = memchr(s, 0, len))) {
		size_t k = (size_t)(nul - s);

		err = idx_buf_append(out, s, k);
		if (!err)
			err = idx_buf_append(out, str_escape, 2);
		if (err)
			return err;
		s += k + 1;
		len -= k + 1;
	}
	err = idx_buf_append(out, s, len);
	if (err)
		return err;
	return idx_buf_append(out, str_end, 2);
}

static int put_string(struct idx_buf *out, const char *s, size_t len)
{
	int err = buf_putc(out, TAG_STRING);

	return err ? err : put_escaped(out, s, len);
}

static int put_array(struct idx_buf *out, const json_t *a, int depth)
{
	size_t n = json_array_size(a);
	int err = buf_putc(out, TAG_ARRAY);

	for (size_t i = 0; !err && i < n; i++)
		err = put_value(out, json_array_get(a, i), depth);
	return err ? err : buf_putc(out, TAG_END);
}

struct pair {
	const char *key;
	size_t len;
	const json_t *value;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = n ? memcmp(x->key, y->key, n) : 0;

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* Object pairs in key-byte order: the order collation is defined by. */
static int sorted_pairs(struct pair **out, const json_t *o, size_t n)
{
	/* jansson's iterators take a mutable object though they only read. */
	json_t *obj = (json_t *)o;
	struct pair *p = NULL;
	size_t i = 0;

	*out = NULL;
	if (!n)
		return 0;
	p = calloc(n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (void *it = json_object_iter(obj); it && i < n;
	     it = json_object_iter_next(obj, it), i++) {
		p[i].key = json_object_iter_key(it);
		p[i].len = json_object_iter_key_len(it);
		p[i].value = json_object_iter_value(it);
	}
	qsort(p, i, sizeof(*p), pair_cmp);
	*out = p;
	return 0;
}

static int put_object(struct idx_buf *out, const json_t *o, int depth)
{
	size_t n = json_object_size(o);
	struct pair *p;
	int err;

	err = sorted_pairs(&p, o, n);
	if (!err)
		err = buf_putc(out, TAG_OBJECT);
	for (size_t i = 0; !err && i < n; i++) {
		err = put_string(out, p[i].key, p[i].len);
		if (!err)
			err = put_value(out, p[i].value, depth);
	}
	if (!err)
		err = buf_putc(out, TAG_END);
	free(p);
	return err;
}

/* @depth counts the arrays and objects around @v. */
static int put_value(struct idx_buf *out, const json_t *v, int depth)
{
	struct num n;

	switch (json_typeof(v)) {
	case JSON_NULL:
		return buf_putc(out, TAG_NULL);
	case JSON_FALSE:
		return buf_putc(out, TAG_FALSE);
	case JSON_TRUE:
		return buf_putc(out, TAG_TRUE);
	case JSON_INTEGER:
		num_from_int(&n, json_integer_value(v));
		return put_num(out, &n);
	case JSON_REAL:
		num_from_double(&n, json_real_value(v));
		return put_num(out, &n);
	case JSON_STRING:
		return put_string(out, json_string_value(v),
				  json_string_length(v));
	case JSON_ARRAY:
		if (depth >= IDX_KEY_MAX_DEPTH)
			return -E2BIG;
		return put_array(out, v, depth + 1);
	case JSON_OBJECT:
		if (depth >= IDX_KEY_MAX_DEPTH)
			return -E2BIG;
		return put_object(out, v, depth + 1);
	}
	return -EINVAL;
}

/* Make bytes @start..len of @out a component: inverted if descending. */
static int finish_component(struct idx_buf *out, size_t start, bool desc,
			    int err)
{
	if (err) {
		out->len = start;
		return err;
	}
	if (desc)
		invert(out->data + start, out->len - start);
	return 0;
}

int idx_key_append_value(struct idx_buf *out, const json_t *v, bool desc)
{
	size_t start = out->len;
	int err = v ? put_value(out, v, 0) : buf_putc(out, TAG_MISSING);

	return finish_component(out, start, desc, err);
}

int idx_key_append_double(struct idx_buf *out, double d, bool desc)
{
	size_t start = out->len;
	struct num n;

	num_from_double(&n, d);
	return finish_component(out, start, desc, put_num(out, &n));
}

static int put_components(struct idx_buf *out, json_t *const *values,
			  const bool *desc, size_t n)
{
	int err = buf_putc(out, IDX_KEY_VERSION);

	for (size_t i = 0; !err && i < n; i++)
		err = idx_key_append_value(out, values[i], desc && desc[i]);
	return err;
}

int idx_key_encode(struct idx_buf *out, json_t *const *values, const bool *desc,
		   size_t n, const char *doc_id, size_t doc_id_len)
{
	size_t start = out->len;
	int err = put_components(out, values, desc, n);

	if (!err)
		err = put_escaped(out, doc_id, doc_id_len);
	if (err)
		out->len = start;
	return err;
}

int idx_key_encode_prefix(struct idx_buf *out, json_t *const *values,
			  const bool *desc, size_t k)
{
	size_t start = out->len;
	int err = put_components(out, values, desc, k);

	if (err)
		out->len = start;
	return err;
}

int idx_key_prefix_successor(struct idx_buf *buf)
{
	size_t len = buf->len;

	while (len && buf->data[len - 1] == 0xff)
		len--;
	if (!len)
		return -ERANGE;
	buf->data[len - 1]++;
	buf->len = len;
	return 0;
}

/* ---- decoder ---------------------------------------------------------- */

/*
 * A bounds-checked cursor. Every byte read is XORed with @mask: 0xff
 * inside a descending component, so the grammar is parsed once, ascending.
 */
struct reader {
	const unsigned char *p;
	size_t len, pos;
	unsigned char mask;
};

static int rd_byte(unsigned char *out, struct reader *r)
{
	if (r->pos >= r->len)
		return -EINVAL;
	*out = r->p[r->pos++] ^ r->mask;
	return 0;
}

static int rd_peek(unsigned char *out, const struct reader *r)
{
	if (r->pos >= r->len)
		return -EINVAL;
	*out = r->p[r->pos] ^ r->mask;
	return 0;
}

/* Append the unescaped bytes up to and past the 0x00 0x01 terminator. */
static int get_escaped(struct idx_buf *out, struct reader *r)
{
	unsigned char c, next;
	int err;

	for (;;) {
		err = rd_byte(&c, r);
		if (err)
			return err;
		if (!c) {
			err = rd_byte(&next, r);
			if (err)
				return err;
			if (next == str_end[1])
				return 0;
			if (next != str_escape[1])
				return -EINVAL;
		}
		err = buf_putc(out, c);
		if (err)
			return err;
	}
}

/* Read the magnitude after TAG_NEG/TAG_POS, only as the encoder writes it. */
static int get_magnitude(struct num *out, struct reader *r)
{
	unsigned char inv = out->tag == TAG_NEG ? 0xff : 0;
	unsigned char hi, lo, b = 0;
	int err, i, shift = 57;

	err = rd_byte(&hi, r);
	if (!err)
		err = rd_byte(&lo, r);
	if (err)
		return err;
	out->exp = ((hi ^ inv) << 8 | (lo ^ inv)) - EXP_BIAS;
	if (out->exp < EXP_MIN || out->exp > EXP_MAX)
		return -EINVAL;
	out->frac = 0;
	for (i = 0;; i++, shift -= 7) {
		if (i == MAX_GROUPS)
			return -EINVAL;
		err = rd_byte(&b, r);
		if (err)
			return err;
		b ^= inv;
		out->frac |= (uint64_t)(b >> 1) << shift;
		if (!(b & 1))
			break;
	}
	/* The encoder drops trailing zero groups: keep keys canonical. */
	if (i > 0 && !(b >> 1))
		return -EINVAL;
	return 0;
}

/* The integer value of @n if it is integral and fits json_int_t. */
static bool num_to_int(json_int_t *out, const struct num *n)
{
	uint64_t m;
	bool neg = n->tag == TAG_NEG;

	if (n->exp < 0 || n->exp > 63 || n->frac << n->exp)
		return false;
	m = UINT64_C(1) << n->exp;
	if (n->exp)
		m |= n->frac >> (64 - n->exp);
	if (m > (uint64_t)INT64_MAX + neg)
		return false;
	/* Written so that m = 2^63 gives INT64_MIN without overflow. */
	*out = neg ? -(json_int_t)(m - 1) - 1 : (json_int_t)m;
	return true;
}

/* The double value of @n if it has one; the encoder made nothing else. */
static bool num_to_double(double *out, const struct num *n)
{
	/* Fraction bits a double keeps at this exponent (fewer if denormal). */
	int keep = n->exp >= -1022 ? 52 : n->exp + 1074;
	uint64_t mant;

	if (n->frac << keep)
		return false;
	/* ldexp() is exact: the result is representable by construction. */
	mant = UINT64_C(1) << 52 | n->frac >> 12;
	*out = ldexp((double)mant, n->exp - 52);
	if (n->tag == TAG_NEG)
		*out = -*out;
	return true;
}

static int num_to_json(json_t **out, const struct num *n)
{
	json_int_t i;
	double d;

	*out = NULL;
	switch (n->tag) {
	case TAG_ZERO:
		*out = json_integer(0);
		break;
	case TAG_NEG:
	case TAG_POS:
		if (num_to_int(&i, n))
			*out = json_integer(i);
		else if (num_to_double(&d, n))
			*out = json_real(d);
		else
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	return *out ? 0 : -ENOMEM;
}

static int get_value(json_t **out, struct reader *r, int depth);

static int get_string(json_t **out, struct reader *r)
{
	struct idx_buf s;
	int err;

	idx_buf_init(&s);
	err = get_escaped(&s, r);
	if (!err && !utf8_valid(s.data, s.len))
		err = -EINVAL;
	if (!err) {
		*out = json_stringn_nocheck(buf_chars(&s), s.len);
		if (!*out)
			err = -ENOMEM;
	}
	idx_buf_release(&s);
	return err;
}

/* True, consuming it, if the next byte ends an array or object. */
static int at_end(bool *out, struct reader *r)
{
	unsigned char c;
	int err = rd_peek(&c, r);

	if (err)
		return err;
	*out = c == TAG_END;
	if (*out)
		r->pos++;
	return 0;
}

static int get_array(json_t **out, struct reader *r, int depth)
{
	json_t *a = json_array(), *v;
	bool end = false;
	int err = a ? 0 : -ENOMEM;

	while (!err) {
		err = at_end(&end, r);
		if (err || end)
			break;
		err = get_value(&v, r, depth);
		if (!err && json_array_append_new(a, v))
			err = -ENOMEM;
	}
	if (err)
		json_decref(a);
	*out = err ? NULL : a;
	return err;
}

/*
 * Read one object key into @key. Keys must come in strictly increasing byte
 * order, as the encoder sorts them: that keeps decoding canonical and
 * rules out duplicates. @have_prev says whether @prev holds a key yet.
 */
static int get_key(struct idx_buf *key, const struct idx_buf *prev,
		   bool have_prev, struct reader *r)
{
	unsigned char tag;
	size_t n;
	int c, err;

	err = rd_byte(&tag, r);
	if (err)
		return err;
	if (tag != TAG_STRING)
		return -EINVAL;
	key->len = 0;
	err = get_escaped(key, r);
	if (err)
		return err;
	if (!utf8_valid(key->data, key->len))
		return -EINVAL;
	if (!have_prev)
		return 0;
	n = key->len < prev->len ? key->len : prev->len;
	c = n ? memcmp(key->data, prev->data, n) : 0;
	if (c < 0 || (!c && key->len <= prev->len))
		return -EINVAL;
	return 0;
}

static int get_object(json_t **out, struct reader *r, int depth)
{
	json_t *o = json_object(), *v;
	struct idx_buf key, prev, tmp;
	bool end = false, have_prev = false;
	int err = o ? 0 : -ENOMEM;

	idx_buf_init(&key);
	idx_buf_init(&prev);
	while (!err) {
		err = at_end(&end, r);
		if (err || end)
			break;
		err = get_key(&key, &prev, have_prev, r);
		if (!err)
			err = get_value(&v, r, depth);
		if (!err && json_object_setn_new_nocheck(o, buf_chars(&key),
							 key.len, v))
			err = -ENOMEM;
		/* This key bounds the next one; the old buffer is reused. */
		tmp = prev;
		prev = key;
		key = tmp;
		have_prev = true;
	}
	idx_buf_release(&key);
	idx_buf_release(&prev);
	if (err)
		json_decref(o);
	*out = err ? NULL : o;
	return err;
}

/* @depth counts the arrays and objects around the value being read. */
static int get_value(json_t **out, struct reader *r, int depth)
{
	struct num n;
	unsigned char tag;
	int err;

	*out = NULL;
	err = rd_byte(&tag, r);
	if (err)
		return err;
	switch (tag) {
	case TAG_NULL:
		*out = json_null();
		return 0;
	case TAG_FALSE:
		*out = json_false();
		return 0;
	case TAG_TRUE:
		*out = json_true();
		return 0;
	case TAG_NEG:
	case TAG_POS:
		n.tag = (enum tag)tag;
		err = get_magnitude(&n, r);
		return err ? err : num_to_json(out, &n);
	case TAG_ZERO:
		n.tag = TAG_ZERO;
		return num_to_json(out, &n);
	case TAG_STRING:
		return get_string(out, r);
	case TAG_ARRAY:
		if (depth >= IDX_KEY_MAX_DEPTH)
			return -EINVAL;
		return get_array(out, r, depth + 1);
	case TAG_OBJECT:
		if (depth >= IDX_KEY_MAX_DEPTH)
			return -EINVAL;
		return get_object(out, r, depth + 1);
	}
	return -EINVAL;
}

static void reader_init(struct reader *r, const unsigned char *key, size_t len)
{
	r->p = key;
	r->len = key ? len : 0;
	r->pos = 0;
	r->mask = 0;
}

static int get_version(struct reader *r)
{
	unsigned char v;
	int err = rd_byte(&v, r);

	return err ? err : v == IDX_KEY_VERSION ? 0 : -EINVAL;
}

static bool is_special(unsigned char tag)
{
	return tag == TAG_NAN || tag == TAG_NEG_INF || tag == TAG_POS_INF;
}

/*
 * One top-level component: the only place for "missing", and for NaN and
 * the infinities, which only idx_key_append_double() writes and jansson
 * cannot hold.
 */
static int get_component(json_t **out, struct reader *r, bool desc)
{
	unsigned char tag;
	int err;

	*out = NULL;
	r->mask = desc ? 0xff : 0;
	err = rd_peek(&tag, r);
	if (!err && tag == TAG_MISSING)
		r->pos++;
	else if (!err && is_special(tag))
		err = -ERANGE;
	else if (!err)
		err = get_value(out, r, 0);
	r->mask = 0;
	return err;
}

static int get_doc_id(struct idx_buf *out, struct reader *r)
{
	int err = get_escaped(out, r);

	if (!err && r->pos != r->len)
		err = -EINVAL;
	return err;
}

int idx_key_decode(json_t **values, char **doc_id, size_t *doc_id_len,
		   const unsigned char *key, size_t len, const bool *desc,
		   size_t n)
{
	struct reader r;
	struct idx_buf id;
	size_t i, id_len = 0;
	int err;

	for (i = 0; i < n; i++)
		values[i] = NULL;
	if (doc_id)
		*doc_id = NULL;
	if (doc_id_len)
		*doc_id_len = 0;
	idx_buf_init(&id);
	reader_init(&r, key, len);

	err = get_version(&r);
	for (i = 0; !err && i < n; i++)
		err = get_component(&values[i], &r, desc && desc[i]);
	if (!err)
		err = get_doc_id(&id, &r);
	id_len = id.len;
	if (!err && doc_id)
		err = buf_take_string(doc_id, &id);
	if (!err && doc_id_len)
		*doc_id_len = id_len;

	idx_buf_release(&id);
	if (err) {
		for (i = 0; i < n; i++) {
			json_decref(values[i]);
			values[i] = NULL;
		}
	}
	return err;
}

/* ---- printable form --------------------------------------------------- */

static int put_text(struct idx_buf *out, const char *s)
{
	return idx_buf_append(out, s, strlen(s));
}

/*
 * The doc id as a JSON string. Ids are file names, so they need not be
 * UTF-8; then every byte above 0x7f prints as \u00XX to keep the line
 * printable and valid JSON.
 */
static int put_json_bytes(struct idx_buf *out, const unsigned char *s,
			  size_t len)
{
	static const char hex[] = "0123456789abcdef";
	bool raw_high = utf8_valid(s, len);
	int err = buf_putc(out, '"');

	for (size_t i = 0; !err && i < len; i++) {
		unsigned char c = s[i];
		char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c == '"' || c == '\\')
			err = idx_buf_append(out, (char[]){ '\\', (char)c }, 2);
		else if (c >= 0x20 && c != 0x7f && (c < 0x80 || raw_high))
			err = buf_putc(out, c);
		else
			err = idx_buf_append(out, esc, 6);
	}
	return err ? err : buf_putc(out, '"');
}

static int format_json(struct idx_buf *out, const json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	int err;

	if (!s)
		return -ENOMEM;
	err = put_text(out, s);
	free(s);
	return err;
}

/* Print one component, words for the values JSON cannot spell. */
static int format_component(struct idx_buf *out, struct reader *r, bool desc)
{
	static const char *const words[] = {
		[TAG_MISSING] = "undefined",
		[TAG_NAN] = "NaN",
		[TAG_NEG_INF] = "-Infinity",
		[TAG_POS_INF] = "Infinity",
	};
	unsigned char tag;
	json_t *v = NULL;
	int err;

	err = rd_peek(&tag, r);
	if (err)
		return err;
	tag ^= desc ? 0xff : 0;
	if (tag < sizeof(words) / sizeof(words[0]) && words[tag]) {
		r->pos++;
		return put_text(out, words[tag]);
	}
	err = get_component(&v, r, desc);
	if (!err)
		err = format_json(out, v);
	json_decref(v);
	return err;
}

int idx_key_format(char **out, const unsigned char *key, size_t len,
		   const bool *desc, size_t n)
{
	struct reader r;
	struct idx_buf text, id;
	int err;

	*out = NULL;
	idx_buf_init(&text);
	idx_buf_init(&id);
	reader_init(&r, key, len);

	err = get_version(&r);
	if (!err)
		err = buf_putc(&text, '[');
	for (size_t i = 0; !err && i < n; i++) {
		if (i)
			err = buf_putc(&text, ',');
		if (!err)
			err = format_component(&text, &r, desc && desc[i]);
	}
	if (!err && r.pos < r.len) {
		err = get_doc_id(&id, &r);
		if (!err && n)
			err = buf_putc(&text, ',');
		if (!err)
			err = put_json_bytes(&text, id.data, id.len);
	}
	if (!err)
		err = buf_putc(&text, ']');
	if (!err)
		err = buf_take_string(out, &text);

	idx_buf_release(&id);
	idx_buf_release(&text);
	return err;
}
