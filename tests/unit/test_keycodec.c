/*
 * test_keycodec.c - unit tests of index/keycodec.c: golden vectors, round
 * trips, malformed input, and memcmp order checked against an independent
 * reference comparator on hundreds of thousands of seeded random values.
 */
#include "keycodec.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED UINT64_C(0x6368726f6e6f6673) /* "chronofs" */
#define ORDER_PAIRS 200000
#define COMPOSITE_PAIRS 20000
#define MUTATIONS 100000
#define TWO63 9223372036854775808.0

static unsigned long passed, failed;

/* Count one check; describe the first few failures. */
static bool check(bool ok, int line, const char *what)
{
	if (ok) {
		passed++;
		return true;
	}
	if (failed++ < 20)
		fprintf(stderr, "FAIL line %d: %s\n", line, what);
	return false;
}

#define CHECK(cond) check((cond), __LINE__, #cond)

static void dump_value(const char *label, const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

	fprintf(stderr, "  %s: %s\n", label, v ? (s ? s : "?") : "missing");
	free(s);
}

static void dump_bytes(const char *label, const unsigned char *p, size_t n)
{
	fprintf(stderr, "  %s:", label);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", p[i]);
	fprintf(stderr, "\n");
}

static int sign(long long x)
{
	return (x > 0) - (x < 0);
}

/* memcmp order as RocksDB's bytewise comparator sees it. */
static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	return c ? sign(c) : sign((long long)(alen > blen) - (alen < blen));
}

/* ---- reference comparator (shares nothing with the codec) -------------- */

static int rank(const json_t *v)
{
	if (!v)
		return 0;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return 1;
	case JSON_FALSE:
		return 2;
	case JSON_TRUE:
		return 3;
	case JSON_INTEGER:
	case JSON_REAL:
		return 4;
	case JSON_STRING:
		return 5;
	case JSON_ARRAY:
		return 6;
	case JSON_OBJECT:
		return 7;
	}
	return -1;
}

/*
 * int64 against double, exactly: 2^63 is a double, and every double in
 * [-2^63, 2^63) truncates to an int64 without loss, leaving a fraction
 * whose sign settles a tie.
 */
static int cmp_int_real(json_int_t i, double d)
{
	double t;
	json_int_t ti;

	if (d >= TWO63)
		return -1;
	if (d < -TWO63)
		return 1;
	t = trunc(d);
	ti = (json_int_t)t;
	if (i != ti)
		return i < ti ? -1 : 1;
	return d > t ? -1 : d < t ? 1 : 0;
}

static int cmp_num(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a);
		json_int_t y = json_integer_value(b);

		return (x > y) - (x < y);
	}
	if (json_is_integer(a))
		return cmp_int_real(json_integer_value(a), json_real_value(b));
	if (json_is_integer(b))
		return -cmp_int_real(json_integer_value(b), json_real_value(a));
	return (json_real_value(a) > json_real_value(b)) -
	       (json_real_value(a) < json_real_value(b));
}

struct ref_key {
	const char *s;
	size_t len;
};

static int ref_key_cmp(const void *a, const void *b)
{
	const struct ref_key *x = a, *y = b;

	return bytes_cmp(x->s, x->len, y->s, y->len);
}

/* Keys of @o in byte order; caller frees. */
static struct ref_key *ref_keys(json_t *o)
{
	size_t n = json_object_size(o), i = 0;
	struct ref_key *k = calloc(n + 1, sizeof(*k));
	const char *key;
	size_t len;
	json_t *v;

	if (!k)
		abort();
	json_object_keylen_foreach(o, key, len, v)
	{
		(void)v;
		k[i].s = key;
		k[i++].len = len;
	}
	qsort(k, n, sizeof(*k), ref_key_cmp);
	return k;
}

static int ref_cmp(const json_t *a, const json_t *b);

static int cmp_object(const json_t *a, const json_t *b)
{
	json_t *x = (json_t *)a, *y = (json_t *)b;
	size_t nx = json_object_size(x), ny = json_object_size(y);
	struct ref_key *kx = ref_keys(x), *ky = ref_keys(y);
	int c = 0;

	for (size_t i = 0; !c && i < nx && i < ny; i++) {
		c = ref_key_cmp(&kx[i], &ky[i]);
		if (!c)
			c = ref_cmp(json_object_getn(x, kx[i].s, kx[i].len),
				    json_object_getn(y, ky[i].s, ky[i].len));
	}
	free(kx);
	free(ky);
	return c ? c : (nx > ny) - (nx < ny);
}

static int ref_cmp(const json_t *a, const json_t *b)
{
	int ra = rank(a), rb = rank(b), c = 0;
	size_t na, nb;

	if (ra != rb)
		return ra < rb ? -1 : 1;
	switch (ra) {
	case 4:
		return cmp_num(a, b);
	case 5:
		return bytes_cmp(json_string_value(a), json_string_length(a),
				 json_string_value(b), json_string_length(b));
	case 6:
		na = json_array_size(a);
		nb = json_array_size(b);
		for (size_t i = 0; !c && i < na && i < nb; i++)
			c = ref_cmp(json_array_get(a, i), json_array_get(b, i));
		return c ? c : (na > nb) - (na < nb);
	case 7:
		return cmp_object(a, b);
	}
	return 0;
}

/* ---- random values ----------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r) /* splitmix64 */
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static size_t below(struct rng *r, size_t n)
{
	return (size_t)(rnd(r) % n);
}

static json_t *must(json_t *v)
{
	if (!v) {
		fprintf(stderr, "jansson allocation failed\n");
		abort();
	}
	return v;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const json_int_t special_ints[] = {
	0,
	1,
	-1,
	2,
	3,
	-3,
	7,
	1000,
	(json_int_t)1 << 52,
	((json_int_t)1 << 53) - 1,
	(json_int_t)1 << 53,
	((json_int_t)1 << 53) + 1,
	((json_int_t)1 << 53) + 2,
	-((json_int_t)1 << 53) - 1,
	-((json_int_t)1 << 53),
	(json_int_t)1 << 62,
	-((json_int_t)1 << 62),
	INT64_MAX,
	INT64_MAX - 1,
	INT64_MAX - 1023,
	INT64_MAX - 1024,
	INT64_MIN,
	INT64_MIN + 1,
	INT64_MIN + 1024,
};

static const double special_reals[] = {
	0.0,
	-0.0,
	0.5,
	-0.5,
	1.0,
	-1.0,
	1.5,
	2.5,
	3.0,
	0.1,
	-0.1,
	1e-300,
	1e300,
	-1e300,
	DBL_MAX,
	-DBL_MAX,
	DBL_MIN,
	-DBL_MIN,
	DBL_TRUE_MIN,
	-DBL_TRUE_MIN,
	2.2250738585072009e-308, /* largest denormal */
	9007199254740992.0, /* 2^53 */
	-9007199254740992.0,
	9007199254740994.0,
	9223372036854774784.0, /* largest double below 2^63 */
	TWO63,
	-TWO63,
	18446744073709551616.0, /* 2^64 */
};

static json_int_t gen_int(struct rng *r)
{
	json_int_t i = special_ints[below(r, COUNT(special_ints))];
	json_int_t d = (json_int_t)below(r, 5) - 2;
	uint64_t u;

	switch (below(r, 3)) {
	case 0:
		return i;
	case 1: /* a neighbour, where it does not overflow */
		if ((d > 0 && i > INT64_MAX - d) ||
		    (d < 0 && i < INT64_MIN - d))
			return i;
		return i + d;
	default: /* random magnitude and sign */
		u = rnd(r);
		u >>= below(r, 64);
		return (json_int_t)(below(r, 2) ? u : 0 - u);
	}
}

static double gen_real(struct rng *r)
{
	double d = special_reals[below(r, COUNT(special_reals))];
	uint64_t bits;

	switch (below(r, 5)) {
	case 0:
		return d;
	case 1: /* an adjacent double */
		d = nextafter(d, below(r, 2) ? INFINITY : -INFINITY);
		return isfinite(d) ? d : DBL_MAX;
	case 2: /* any finite bit pattern */
		bits = rnd(r);
		memcpy(&d, &bits, sizeof(d));
		return isfinite(d) ? d : 0.25;
	case 3: /* any exponent, denormals and huge ones included */
		d = (double)(rnd(r) >> 11);
		d = ldexp(d, (int)below(r, 2200) - 1130);
		d = isfinite(d) ? d : DBL_MAX;
		return below(r, 2) ? d : -d;
	default: /* an int rounded to double: equal or adjacent to it */
		return (double)gen_int(r);
	}
}

static json_t *gen_number(struct rng *r)
{
	double d;

	switch (below(r, 4)) {
	case 0:
		return must(json_integer(gen_int(r)));
	case 1: /* a real that is exactly an int64 */
		d = gen_real(r);
		if (d == trunc(d) && d >= -TWO63 && d < TWO63)
			return must(json_integer((json_int_t)d));
		return must(json_real(d));
	case 2:
		return must(json_integer((json_int_t)below(r, 11) - 5));
	default:
		return must(json_real(gen_real(r)));
	}
}

/* Short pieces so that strings are often prefixes of each other. */
static const struct {
	const char *s;
	size_t len;
} pieces[] = {
	{ "a", 1 },
	{ "b", 1 },
	{ "ab", 2 },
	{ "\0", 1 },
	{ "\x01", 1 },
	{ "\x7f", 1 },
	{ "\xc3\xa9", 2 },
	{ "\xe2\x82\xac", 3 },
	{ "\xf0\x9f\x98\x80", 4 },
};

static void gen_bytes(struct rng *r, char *buf, size_t *len, size_t max)
{
	size_t n = below(r, max + 1);

	*len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = below(r, COUNT(pieces));

		memcpy(buf + *len, pieces[k].s, pieces[k].len);
		*len += pieces[k].len;
	}
}

static json_t *gen_string(struct rng *r)
{
	char buf[64];
	size_t len;

	gen_bytes(r, buf, &len, 4);
	return must(json_stringn(buf, len));
}

static json_t *gen_value(struct rng *r, int depth);

static json_t *gen_array(struct rng *r, int depth)
{
	json_t *a = must(json_array());
	size_t n = below(r, 4);

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, gen_value(r, depth + 1));
	return a;
}

static json_t *gen_object(struct rng *r, int depth)
{
	json_t *o = must(json_object());
	size_t n = below(r, 4);
	char key[64];
	size_t len;

	for (size_t i = 0; i < n; i++) {
		gen_bytes(r, key, &len, 2);
		json_object_setn_new(o, key, len, gen_value(r, depth + 1));
	}
	return o;
}

static json_t *gen_value(struct rng *r, int depth)
{
	size_t k = below(r, 100);

	if (k < 4)
		return json_null();
	if (k < 8)
		return json_false();
	if (k < 12)
		return json_true();
	if (k < 50 || (k >= 70 && depth >= 3))
		return gen_number(r);
	if (k < 70)
		return gen_string(r);
	if (k < 85)
		return gen_array(r, depth);
	return gen_object(r, depth);
}

/* A top-level component: sometimes missing. */
static json_t *gen_component(struct rng *r)
{
	return below(r, 20) ? gen_value(r, 0) : NULL;
}

static bool int_exact_as_real(json_int_t i)
{
	double d = (double)i;

	return d < TWO63 && (json_int_t)d == i;
}

static bool real_is_int64(double d)
{
	return d == trunc(d) && d >= -TWO63 && d < TWO63;
}

/*
 * A value equal to @v built differently: numbers switched between integer
 * and real where exact, object keys inserted in another order.
 */
static json_t *equal_variant(struct rng *r, const json_t *v)
{
	json_t *out;
	size_t n;

	if (!v)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		if (below(r, 2) && int_exact_as_real(json_integer_value(v)))
			return must(json_real((double)json_integer_value(v)));
		return must(json_integer(json_integer_value(v)));
	case JSON_REAL:
		if (below(r, 2) && real_is_int64(json_real_value(v)))
			return must(
				json_integer((json_int_t)json_real_value(v)));
		if (json_real_value(v) == 0)
			return must(json_real(below(r, 2) ? 0.0 : -0.0));
		return must(json_real(json_real_value(v)));
	case JSON_ARRAY:
		out = must(json_array());
		n = json_array_size(v);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
				out, equal_variant(r, json_array_get(v, i)));
		return out;
	case JSON_OBJECT: {
		/* Reverse byte order: not the order the keys were made in. */
		struct ref_key *keys = ref_keys((json_t *)v);

		out = must(json_object());
		for (n = json_object_size(v); n--;)
			json_object_setn_new(
				out, keys[n].s, keys[n].len,
				equal_variant(r,
					      json_object_getn(v, keys[n].s,
							       keys[n].len)));
		free(keys);
		return out;
	}
	default:
		return json_deep_copy(v);
	}
}

static json_t *near_number(struct rng *r, const json_t *v)
{
	json_int_t i;
	double d;

	if (json_is_integer(v)) {
		i = json_integer_value(v);
		switch (below(r, 3)) {
		case 0:
			return must(json_integer(i < INT64_MAX ? i + 1 : i));
		case 1:
			return must(json_integer(i > INT64_MIN ? i - 1 : i));
		default: /* rounds to an equal or adjacent real */
			return must(json_real((double)i));
		}
	}
	d = json_real_value(v);
	switch (below(r, 3)) {
	case 0:
		d = nextafter(d, below(r, 2) ? INFINITY : -INFINITY);
		return must(json_real(isfinite(d) ? d : json_real_value(v)));
	case 1:
		if (d >= -TWO63 && d < TWO63)
			return must(json_integer((json_int_t)d));
		return must(json_real(d));
	default:
		return must(json_real(-d));
	}
}

/* A value likely to differ from @v only a little, deep inside. */
static json_t *near_value(struct rng *r, const json_t *v)
{
	json_t *out;
	size_t n, k;

	if (!v || below(r, 8) == 0)
		return gen_component(r);
	switch (json_typeof(v)) {
	case JSON_INTEGER:
	case JSON_REAL:
		return near_number(r, v);
	case JSON_STRING: {
		char buf[128];
		size_t len = json_string_length(v);

		k = below(r, 3);

		memcpy(buf, json_string_value(v), len < 64 ? len : 64);
		len = len < 64 ? len : 64;
		if (k == 0 && len) /* drop the last byte, keeping UTF-8 */
			while (len &&
			       ((unsigned char)buf[--len] & 0xc0) == 0x80)
				;
		else if (k == 1)
			buf[len++] = below(r, 2) ? '\0' : 'a';
		else
			buf[len++] = 'b';
		return must(json_stringn(buf, len));
	}
	case JSON_ARRAY:
		out = json_deep_copy(v);
		n = json_array_size(out);
		k = below(r, n ? n : 1);
		if (n && below(r, 3))
			json_array_set_new(
				out, k, near_value(r, json_array_get(out, k)));
		else if (n && below(r, 2))
			json_array_remove(out, n - 1);
		else
			json_array_append_new(out, gen_value(r, 2));
		return out;
	case JSON_OBJECT: {
		const char *keys[] = { "", "a", "b", "ab" };
		const char *key = keys[below(r, COUNT(keys))];

		out = json_deep_copy(v);
		if (json_object_get(out, key) && below(r, 2))
			json_object_set_new(
				out, key,
				near_value(r, json_object_get(out, key)));
		else if (json_object_get(out, key))
			json_object_del(out, key);
		else
			json_object_set_new(out, key, gen_value(r, 2));
		return out;
	}
	default:
		return gen_component(r);
	}
}

/* A partner for @a: equal, near, or unrelated, about equally often. */
static json_t *gen_partner(struct rng *r, const json_t *a)
{
	switch (below(r, 4)) {
	case 0:
		return equal_variant(r, a);
	case 1:
		return gen_component(r);
	default:
		return near_value(r, a);
	}
}

/* ---- helpers over the codec -------------------------------------------- */

static void enc(struct idx_buf *b, const json_t *v, bool desc)
{
	b->len = 0;
	if (idx_key_append_value(b, v, desc)) {
		fprintf(stderr, "encode failed\n");
		abort();
	}
}

static size_t parse_hex(unsigned char *out, const char *hex)
{
	size_t n = 0;
	unsigned v;

	for (; *hex; hex++) {
		if (*hex == ' ')
			continue;
		if (sscanf(hex, "%2x", &v) != 1)
			abort();
		out[n++] = (unsigned char)v;
		hex++;
	}
	return n;
}

static bool hex_eq(const struct idx_buf *b, const char *hex)
{
	unsigned char want[256];
	size_t n = parse_hex(want, hex);

	if (n == b->len && !memcmp(want, b->data, n))
		return true;
	dump_bytes("got", b->data, b->len);
	dump_bytes("want", want, n);
	return false;
}

static json_t *load(const char *text)
{
	json_error_t e;

	return must(json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e));
}

/* Numbers come back as integers exactly when integral and within int64. */
static bool types_canonical(const json_t *orig, const json_t *got)
{
	size_t n;
	const char *key;
	size_t len;
	json_t *v;

	if (!orig || !got)
		return orig == got;
	if (json_is_integer(orig))
		return json_is_integer(got);
	if (json_is_real(orig))
		return real_is_int64(json_real_value(orig)) ?
			       json_is_integer(got) :
			       json_is_real(got);
	if (json_is_array(orig)) {
		n = json_array_size(orig);
		for (size_t i = 0; i < n; i++)
			if (!types_canonical(json_array_get(orig, i),
					     json_array_get(got, i)))
				return false;
	}
	if (json_is_object(orig)) {
		json_object_keylen_foreach((json_t *)orig, key, len, v)
		{
			if (!types_canonical(v,
					     json_object_getn(got, key, len)))
				return false;
		}
	}
	return true;
}

/* ---- tests ------------------------------------------------------------- */

struct golden {
	const char *json; /* NULL: missing */
	bool desc;
	const char *hex;
};

static const struct golden goldens[] = {
	{ NULL, false, "10" },
	{ "null", false, "20" },
	{ "false", false, "30" },
	{ "true", false, "31" },
	{ "0", false, "43" },
	{ "-0.0", false, "43" },
	{ "1", false, "44 04 33 00" },
	{ "3", false, "44 04 34 80" },
	{ "3.0", false, "44 04 34 80" },
	{ "0.5", false, "44 04 32 00" },
	{ "-1", false, "42 fb cc ff" },
	{ "4.9406564584124654e-324", false, "44 00 01 00" },
	{ "1.7976931348623157e308", false, "44 08 32 ff ff ff ff ff ff ff e0" },
	{ "-9223372036854775808", false, "42 fb 8d ff" },
	{ "9223372036854775807", false, "44 04 71 ff ff ff ff ff ff ff ff fc" },
	{ "\"ab\"", false, "60 61 62 00 01" },
	{ "\"a\\u0000b\"", false, "60 61 00 ff 62 00 01" },
	{ "\"\"", false, "60 00 01" },
	{ "[]", false, "70 00" },
	{ "[1, \"a\"]", false, "70 44 04 33 00 60 61 00 01 00" },
	{ "{}", false, "80 00" },
	{ "{\"b\": true, \"a\": null}", false,
	  "80 60 61 00 01 20 60 62 00 01 31 00" },
	{ "\"ab\"", true, "9f 9e 9d ff fe" },
	{ NULL, true, "ef" },
	{ "-1", true, "bd 04 33 00" },
};

static void test_golden_vectors(void)
{
	struct idx_buf b;

	idx_buf_init(&b);
	for (size_t i = 0; i < COUNT(goldens); i++) {
		json_t *v = goldens[i].json ? load(goldens[i].json) : NULL;

		enc(&b, v, goldens[i].desc);
		if (!CHECK(hex_eq(&b, goldens[i].hex)))
			fprintf(stderr, "  golden %zu: %s\n", i,
				goldens[i].json ? goldens[i].json : "missing");
		json_decref(v);
	}
	idx_buf_release(&b);
}

static void test_golden_composite(void)
{
	json_t *v[2] = { load("3"), load("\"x\"") };
	const bool desc[2] = { false, true };
	struct idx_buf b;

	idx_buf_init(&b);
	CHECK(idx_key_encode(&b, v, desc, 2, "d1", 2) == 0);
	CHECK(hex_eq(&b, "01 44 04 34 80 9f 87 ff fe 64 31 00 01"));
	b.len = 0;
	CHECK(idx_key_encode_prefix(&b, v, desc, 1) == 0);
	CHECK(hex_eq(&b, "01 44 04 34 80"));
	CHECK(idx_key_prefix_successor(&b) == 0);
	CHECK(hex_eq(&b, "01 44 04 34 81"));
	json_decref(v[0]);
	json_decref(v[1]);
	idx_buf_release(&b);
}

static int enc_cmp(const json_t *a, const json_t *b, bool desc)
{
	struct idx_buf x, y;
	int c;

	idx_buf_init(&x);
	idx_buf_init(&y);
	enc(&x, a, desc);
	enc(&y, b, desc);
	c = bytes_cmp(x.data, x.len, y.data, y.len);
	idx_buf_release(&x);
	idx_buf_release(&y);
	return c;
}

static int text_cmp(const char *a, const char *b, bool desc)
{
	json_t *x = load(a), *y = load(b);
	int c = enc_cmp(x, y, desc);

	json_decref(x);
	json_decref(y);
	return c;
}

static void test_descending_reverses_prefixes(void)
{
	CHECK(text_cmp("\"ab\"", "\"abc\"", false) < 0);
	CHECK(text_cmp("\"ab\"", "\"abc\"", true) > 0);
	CHECK(text_cmp("\"abc\"", "\"b\"", true) > 0);
	CHECK(text_cmp("[1]", "[1, 2]", true) > 0);
	CHECK(text_cmp("{}", "{\"a\": 1}", true) > 0);
	CHECK(enc_cmp(NULL, json_null(), false) < 0);
	CHECK(enc_cmp(NULL, json_null(), true) > 0);
}

static void test_collation_examples(void)
{
	static const char *const ascending[] = {
		"null",
		"false",
		"true",
		"-1e308",
		"-9223372036854775808",
		"-1",
		"-0.5",
		"-5e-324",
		"0",
		"5e-324",
		"0.5",
		"1",
		"9007199254740992",
		"9007199254740993",
		"9223372036854775807",
		"9223372036854775808.0",
		"1e308",
		"\"\"",
		"\"a\"",
		"\"a\\u0000\"",
		"\"ab\"",
		"\"b\"",
		"\"\\u00e9\"",
		"[]",
		"[1]",
		"[1, 2]",
		"[2]",
		"[\"a\"]",
		"{}",
		"{\"a\": 1}",
		"{\"a\": 1, \"b\": 0}",
		"{\"a\": 2}",
		"{\"b\": 0}",
	};

	for (size_t i = 0; i + 1 < COUNT(ascending); i++) {
		if (!CHECK(text_cmp(ascending[i], ascending[i + 1], false) < 0))
			fprintf(stderr, "  %s < %s\n", ascending[i],
				ascending[i + 1]);
		CHECK(text_cmp(ascending[i], ascending[i + 1], true) > 0);
	}
}

static void test_int_and_real_equal_values_share_bytes(void)
{
	CHECK(text_cmp("3", "3.0", false) == 0);
	CHECK(text_cmp("0", "-0.0", false) == 0);
	CHECK(text_cmp("-9223372036854775808", "-9223372036854775808.0",
		       false) == 0);
	CHECK(text_cmp("9007199254740993", "9007199254740992.0", false) > 0);
	CHECK(text_cmp("9223372036854775807", "9223372036854775808.0", false) <
	      0);
}

static void test_decoded_number_types(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "3.0", "3" },
		{ "-0.0", "0" },
		{ "0.5", "0.5" },
		{ "9223372036854775808.0", "9.2233720368547758e18" },
		{ "-9223372036854775808.0", "-9223372036854775808" },
		{ "1e300", "1.0000000000000001e300" },
	};
	struct idx_buf b;
	char *s;

	idx_buf_init(&b);
	for (size_t i = 0; i < COUNT(cases); i++) {
		json_t *v = load(cases[i].in);

		b.len = 0;
		CHECK(idx_key_encode(&b, &v, NULL, 1, "", 0) == 0);
		CHECK(idx_key_format(&s, b.data, b.len, NULL, 1) == 0);
		if (!CHECK(s &&
			   !strncmp(s + 1, cases[i].out, strlen(cases[i].out))))
			fprintf(stderr, "  %s -> %s\n", cases[i].in, s);
		free(s);
		json_decref(v);
	}
	idx_buf_release(&b);
}

static void test_nan_and_infinity(void)
{
	const double order[] = { NAN, -INFINITY,    -DBL_MAX, -1,
				 0,   DBL_TRUE_MIN, DBL_MAX,  INFINITY };
	struct idx_buf x, y;
	json_t *v = NULL;
	char *s = NULL;

	idx_buf_init(&x);
	idx_buf_init(&y);
	for (size_t i = 0; i + 1 < COUNT(order); i++) {
		x.len = y.len = 0;
		CHECK(idx_key_append_double(&x, order[i], false) == 0);
		CHECK(idx_key_append_double(&y, order[i + 1], false) == 0);
		CHECK(bytes_cmp(x.data, x.len, y.data, y.len) < 0);
	}
	x.len = y.len = 0;
	idx_key_append_double(&x, NAN, false);
	idx_key_append_double(&y, -NAN, false);
	CHECK(bytes_cmp(x.data, x.len, y.data, y.len) == 0);

	x.len = 0;
	idx_buf_append(&x, "\x01", 1); /* IDX_KEY_VERSION */
	idx_key_append_double(&x, NAN, false);
	idx_key_append_double(&x, -INFINITY, true);
	idx_key_append_double(&x, INFINITY, false);
	idx_buf_append(&x, "\0\1", 2);
	CHECK(idx_key_format(&s, x.data, x.len, (bool[]){ 0, 1, 0 }, 3) == 0);
	CHECK(s && !strcmp(s, "[NaN,-Infinity,Infinity,\"\"]"));
	free(s);
	CHECK(idx_key_decode(&v, NULL, NULL, x.data, x.len, NULL, 1) ==
	      -ERANGE);
	CHECK(v == NULL);
	idx_buf_release(&x);
	idx_buf_release(&y);
}

static void test_format(void)
{
	json_t *v[3] = { NULL, load("\"x\\u0000\""), load("[3.5,{\"k\":[]}]") };
	const bool desc[3] = { false, true, false };
	struct idx_buf b;
	char *s = NULL;

	idx_buf_init(&b);
	CHECK(idx_key_encode(&b, v, desc, 3, "d\"1", 3) == 0);
	CHECK(idx_key_format(&s, b.data, b.len, desc, 3) == 0);
	CHECK(s && !strcmp(s, "[undefined,\"x\\u0000\",[3.5,{\"k\":[]}],"
			      "\"d\\\"1\"]"));
	free(s);

	b.len = 0;
	CHECK(idx_key_encode(&b, v + 2, NULL, 1, "\xff\n", 2) == 0);
	CHECK(idx_key_format(&s, b.data, b.len, NULL, 1) == 0);
	CHECK(s && !strcmp(s, "[[3.5,{\"k\":[]}],\"\\u00ff\\u000a\"]"));
	free(s);

	b.len = 0;
	CHECK(idx_key_encode(&b, v + 1, NULL, 1, "\xc3\xa9", 2) == 0);
	CHECK(idx_key_format(&s, b.data, b.len, NULL, 1) == 0);
	CHECK(s && !strcmp(s, "[\"x\\u0000\",\"\xc3\xa9\"]"));
	free(s);

	b.len = 0;
	CHECK(idx_key_encode_prefix(&b, v, desc, 2) == 0);
	CHECK(idx_key_format(&s, b.data, b.len, desc, 2) == 0);
	CHECK(s && !strcmp(s, "[undefined,\"x\\u0000\"]"));
	free(s);

	for (size_t i = 0; i < 3; i++)
		json_decref(v[i]);
	idx_buf_release(&b);
}

static void test_malformed_rejected(void)
{
	static const struct {
		size_t n; /* components */
		const char *hex, *why;
	} bad[] = {
		{ 0, "", "empty" },
		{ 0, "02 00 01", "another version" },
		{ 0, "01 61 00", "id unterminated" },
		{ 0, "01 00 01 00", "trailing byte" },
		{ 0, "01 00 02", "bad escape" },
		{ 1, "01 00 02 00 01", "0x00 as a tag" },
		{ 1, "01 32 00 01", "unknown tag" },
		{ 1, "01 44 04 33", "number truncated" },
		{ 1, "01 44 04 33 01", "fraction group truncated" },
		{ 1, "01 44 04 33 01 00 00 01", "trailing zero group" },
		{ 1, "01 44 00 00 00 00 01", "exponent below 2^-1074" },
		{ 1, "01 44 08 33 00 00 01", "exponent above 2^1023" },
		{ 1, "01 44 04 32 01 01 01 01 01 01 01 01 02 00 01",
		  "0.5 + 2^-64: neither an int64 nor a double" },
		{ 1, "01 44 04 32 ff ff ff ff ff ff ff ff fe 00 01",
		  "0.5 + 63 fraction bits: too many for a double" },
		{ 1, "01 44 04 33 ff ff ff ff ff ff ff ff ff 00 00 01",
		  "10 groups" },
		{ 1, "01 60 ff 00 01 00 01", "invalid UTF-8" },
		{ 1, "01 60 c0 80 00 01 00 01", "overlong NUL" },
		{ 1, "01 60 ed a0 80 00 01 00 01", "surrogate" },
		{ 1, "01 70 10 00 00 01", "missing inside an array" },
		{ 1, "01 70 44 04 33 00", "array unterminated" },
		{ 1, "01 80 60 62 00 01 20 60 61 00 01 20 00 00 01",
		  "object keys unsorted" },
		{ 1, "01 80 60 61 00 01 20 60 61 00 01 20 00 00 01",
		  "object key repeated" },
		{ 1, "01 80 20 00 00 01", "object key not a string" },
		{ 1, "01 70 40 00 00 01", "NaN inside an array" },
		{ 1, "01 80 60 00 01 45 00 00 01",
		  "Infinity inside an object" },
		{ 2, "01 20 00 01", "a component short" },
	};
	unsigned char key[64];
	json_t *v[2];
	char *id;

	for (size_t i = 0; i < COUNT(bad); i++) {
		size_t len = parse_hex(key, bad[i].hex);
		int err;

		id = (char *)key; /* must come back NULL */
		err = idx_key_decode(v, &id, NULL, key, len, NULL, bad[i].n);
		if (!CHECK(err == -EINVAL && id == NULL))
			fprintf(stderr, "  accepted: %s (%d)\n", bad[i].why,
				err);
		if (!err) {
			for (size_t k = 0; k < bad[i].n; k++)
				json_decref(v[k]);
			free(id);
		}
		id = (char *)key;
		CHECK(idx_key_format(&id, key, len, NULL, bad[i].n) ==
			      -EINVAL &&
		      id == NULL);
	}
	CHECK(idx_key_decode(v, NULL, NULL, NULL, 0, NULL, 1) == -EINVAL);
}

static json_t *nested_arrays(size_t depth)
{
	json_t *v = must(json_array());

	for (size_t i = 1; i < depth; i++) {
		json_t *outer = must(json_array());

		json_array_append_new(outer, v);
		v = outer;
	}
	return v;
}

static void test_depth_limit(void)
{
	json_t *ok = nested_arrays(IDX_KEY_MAX_DEPTH);
	json_t *deep = nested_arrays(IDX_KEY_MAX_DEPTH + 1);
	json_t *back = NULL;
	struct idx_buf b;
	unsigned char *raw;

	idx_buf_init(&b);
	CHECK(idx_key_encode(&b, &ok, NULL, 1, "", 0) == 0);
	CHECK(idx_key_decode(&back, NULL, NULL, b.data, b.len, NULL, 1) == 0);
	CHECK(json_equal(ok, back));
	json_decref(back);

	b.len = 0;
	idx_buf_append(&b, "z", 1);
	CHECK(idx_key_encode(&b, &deep, NULL, 1, "", 0) == -E2BIG);
	CHECK(b.len == 1); /* the buffer is left as it was */
	CHECK(idx_key_append_value(&b, deep, true) == -E2BIG);
	CHECK(b.len == 1);

	/* The same nesting, hand-made, is refused by the decoder. */
	raw = calloc(IDX_KEY_MAX_DEPTH * 2 + 8, 1);
	if (!raw)
		abort();
	raw[0] = IDX_KEY_VERSION;
	memset(raw + 1, 0x70, IDX_KEY_MAX_DEPTH + 1);
	/* ends, then the id terminator (calloc zeroed the ends) */
	raw[1 + 2 * (IDX_KEY_MAX_DEPTH + 1) + 1] = 0x01;
	CHECK(idx_key_decode(&back, NULL, NULL, raw,
			     2 * (IDX_KEY_MAX_DEPTH + 1) + 3, NULL,
			     1) == -EINVAL);
	free(raw);

	json_decref(ok);
	json_decref(deep);
	idx_buf_release(&b);
}

static void test_successor(void)
{
	struct idx_buf b;

	idx_buf_init(&b);
	idx_buf_append(&b, "\x01\x7f\xff\xff", 4);
	CHECK(idx_key_prefix_successor(&b) == 0);
	CHECK(hex_eq(&b, "01 80"));
	b.len = 0;
	idx_buf_append(&b, "\xff", 1);
	CHECK(idx_key_prefix_successor(&b) == -ERANGE);
	b.len = 0;
	CHECK(idx_key_prefix_successor(&b) == -ERANGE);
	idx_buf_release(&b);
}

/* Encode @v as a one-component key, decode it, and compare everything. */
static void round_trip(struct rng *r, const json_t *v, struct idx_buf *b,
		       struct idx_buf *again)
{
	char id[32];
	size_t id_len;
	bool desc = below(r, 2);
	json_t *got = NULL;
	char *got_id = NULL;
	size_t got_len = 0;
	int err;

	gen_bytes(r, id, &id_len, 3);
	b->len = 0;
	again->len = 0;
	CHECK(idx_key_encode(b, (json_t **)&v, &desc, 1, id, id_len) == 0);
	err = idx_key_decode(&got, &got_id, &got_len, b->data, b->len, &desc,
			     1);
	if (!CHECK(err == 0)) {
		dump_value("value", v);
		dump_bytes("key", b->data, b->len);
		return;
	}
	if (!CHECK(ref_cmp(v, got) == 0 && types_canonical(v, got))) {
		dump_value("value", v);
		dump_value("decoded", got);
	}
	CHECK(got_len == id_len && !memcmp(got_id, id, id_len) &&
	      got_id[id_len] == '\0');
	CHECK(idx_key_encode(again, &got, &desc, 1, got_id, got_len) == 0);
	CHECK(bytes_cmp(b->data, b->len, again->data, again->len) == 0);
	json_decref(got);
	free(got_id);
}

/* Every proper prefix of a key is rejected: nothing reads past the end. */
static void truncations(const struct idx_buf *key, bool desc)
{
	json_t *v = NULL;

	for (size_t len = 0; len < key->len; len++) {
		/* A copy of exactly @len bytes lets ASan catch an over-read. */
		unsigned char *p = malloc(len ? len : 1);

		if (!p)
			abort();
		memcpy(p, key->data, len);
		CHECK(idx_key_decode(&v, NULL, NULL, p, len, &desc, 1) ==
		      -EINVAL);
		free(p);
	}
}

static void test_random_order_and_round_trip(void)
{
	struct rng r = { SEED };
	struct idx_buf x, y;

	idx_buf_init(&x);
	idx_buf_init(&y);
	for (long i = 0; i < ORDER_PAIRS; i++) {
		json_t *a = gen_component(&r);
		json_t *b = gen_partner(&r, a);
		int want = sign(ref_cmp(a, b));

		for (int desc = 0; desc < 2; desc++) {
			int got;

			enc(&x, a, desc);
			enc(&y, b, desc);
			got = bytes_cmp(x.data, x.len, y.data, y.len);
			if (!CHECK(got == (desc ? -want : want))) {
				fprintf(stderr, "  pair %ld desc %d: want %d\n",
					i, desc, want);
				dump_value("a", a);
				dump_value("b", b);
				dump_bytes("enc a", x.data, x.len);
				dump_bytes("enc b", y.data, y.len);
			}
		}
		round_trip(&r, a, &x, &y);
		if (i % 100 == 0) {
			bool desc = below(&r, 2);

			x.len = 0;
			idx_key_encode(&x, &a, &desc, 1, "id", 2);
			truncations(&x, desc);
		}
		json_decref(a);
		json_decref(b);
	}
	idx_buf_release(&x);
	idx_buf_release(&y);
}

static const char *const doc_ids[] = { "",  "a",     "a\0",    "ab",
				       "b", "doc-1", "doc-10", "doc-2" };
static const size_t doc_id_len[] = { 0, 1, 2, 2, 1, 5, 6, 5 };

static void test_random_composite(void)
{
	struct rng r = { SEED ^ 1 };
	struct idx_buf x, y;

	idx_buf_init(&x);
	idx_buf_init(&y);
	for (long i = 0; i < COMPOSITE_PAIRS; i++) {
		size_t n = 2 + below(&r, 2);
		size_t ia = below(&r, COUNT(doc_ids));
		size_t ib = below(&r, COUNT(doc_ids));
		json_t *a[3], *b[3];
		bool desc[3];
		int want = 0, got;

		for (size_t k = 0; k < n; k++) {
			desc[k] = below(&r, 2);
			a[k] = gen_component(&r);
			/* Mostly equal, so later components get compared. */
			b[k] = below(&r, 3) ? equal_variant(&r, a[k]) :
					      near_value(&r, a[k]);
		}
		for (size_t k = 0; !want && k < n; k++)
			want = sign(ref_cmp(a[k], b[k])) * (desc[k] ? -1 : 1);
		if (!want)
			want = bytes_cmp(doc_ids[ia], doc_id_len[ia],
					 doc_ids[ib], doc_id_len[ib]);
		x.len = y.len = 0;
		CHECK(idx_key_encode(&x, a, desc, n, doc_ids[ia],
				     doc_id_len[ia]) == 0);
		CHECK(idx_key_encode(&y, b, desc, n, doc_ids[ib],
				     doc_id_len[ib]) == 0);
		got = bytes_cmp(x.data, x.len, y.data, y.len);
		if (!CHECK(got == want))
			fprintf(stderr, "  composite %ld: want %d got %d\n", i,
				want, got);
		for (size_t k = 0; k < n; k++) {
			json_decref(a[k]);
			json_decref(b[k]);
		}
	}
	idx_buf_release(&x);
	idx_buf_release(&y);
}

/*
 * Range scans: with keys sorted bytewise, ">= V" on the first field is
 * "key >= prefix(V)" and "> V" is "key >= successor(prefix(V))".
 */
static void test_range_bounds(void)
{
	enum { DOCS = 200, BOUNDS = 500 };
	struct rng r = { SEED ^ 2 };
	struct idx_buf keys[DOCS], lo, hi;
	json_t *first[DOCS];

	idx_buf_init(&lo);
	idx_buf_init(&hi);
	for (int desc = 0; desc < 2; desc++) {
		bool d[2] = { desc, false };

		for (size_t i = 0; i < DOCS; i++) {
			json_t *v[2];

			/* One call a statement: the order stays fixed. */
			v[0] = gen_component(&r);
			v[1] = gen_component(&r);
			first[i] = v[0];
			idx_buf_init(&keys[i]);
			CHECK(idx_key_encode(&keys[i], v, d, 2, "id", 2) == 0);
			json_decref(v[1]);
		}
		for (size_t j = 0; j < BOUNDS; j++) {
			json_t *bound = near_value(&r, first[below(&r, DOCS)]);

			lo.len = 0;
			CHECK(idx_key_encode_prefix(&lo, &bound, d, 1) == 0);
			hi.len = 0;
			idx_buf_append(&hi, lo.data, lo.len);
			CHECK(idx_key_prefix_successor(&hi) == 0);
			for (size_t i = 0; i < DOCS; i++) {
				int c = ref_cmp(first[i], bound);

				c = desc ? -c : c;
				CHECK((bytes_cmp(keys[i].data, keys[i].len,
						 lo.data, lo.len) >= 0) ==
				      (c >= 0));
				CHECK((bytes_cmp(keys[i].data, keys[i].len,
						 hi.data, hi.len) >= 0) ==
				      (c > 0));
			}
			json_decref(bound);
		}
		for (size_t i = 0; i < DOCS; i++) {
			json_decref(first[i]);
			idx_buf_release(&keys[i]);
		}
	}
	idx_buf_release(&lo);
	idx_buf_release(&hi);
}

/*
 * Random damage to valid keys: the decoder must refuse or accept, never
 * crash, and whatever it accepts must re-encode to the very same bytes
 * (one encoding per key, so no two keys decode alike).
 */
static void test_mutated_keys(void)
{
	struct rng r = { SEED ^ 3 };
	struct idx_buf key, again;

	idx_buf_init(&key);
	idx_buf_init(&again);
	for (long i = 0; i < MUTATIONS; i++) {
		json_t *v[2], *got[2];
		bool desc[2];
		char *id = NULL;
		size_t id_len, edits = 1 + below(&r, 3);
		unsigned char *p;
		int err;

		for (size_t k = 0; k < 2; k++) {
			v[k] = gen_component(&r);
			desc[k] = below(&r, 2);
		}
		key.len = again.len = 0;
		CHECK(idx_key_encode(&key, v, desc, 2, "x", 1) == 0);
		for (size_t e = 0; e < edits; e++) {
			size_t at = below(&r, key.len);

			if (below(&r, 2))
				key.data[at] ^=
					(unsigned char)(1 << below(&r, 8));
			else
				key.len = at + 1;
		}
		p = malloc(key.len);
		if (!p)
			abort();
		memcpy(p, key.data, key.len);
		err = idx_key_decode(got, &id, &id_len, p, key.len, desc, 2);
		CHECK(err == 0 || err == -EINVAL || err == -ERANGE);
		if (!err) {
			CHECK(idx_key_encode(&again, got, desc, 2, id,
					     id_len) == 0);
			if (!CHECK(bytes_cmp(p, key.len, again.data,
					     again.len) == 0))
				dump_bytes("accepted", p, key.len);
			json_decref(got[0]);
			json_decref(got[1]);
			free(id);
		}
		free(p);
		json_decref(v[0]);
		json_decref(v[1]);
	}
	idx_buf_release(&key);
	idx_buf_release(&again);
}

int main(void)
{
	test_golden_vectors();
	test_golden_composite();
	test_descending_reverses_prefixes();
	test_collation_examples();
	test_int_and_real_equal_values_share_bytes();
	test_decoded_number_types();
	test_nan_and_infinity();
	test_format();
	test_malformed_rejected();
	test_depth_limit();
	test_successor();
	test_random_order_and_round_trip();
	test_random_composite();
	test_range_bounds();
	test_mutated_keys();
	printf("keycodec: %lu passed, %lu failed\n", passed, failed);
	return failed ? 1 : 0;
}
