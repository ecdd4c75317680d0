/* jgen.h - for the JSON unit tests: a seeded generator of random JSON
 * texts whose numbers and strings are spelt in tricky ways, copy-on-write
 * edits of jtree values at a path, and pointer lookups written here
 * independently of store/jmerge.c and store/jpatch.c. */
#ifndef CHRONOFS_TESTS_JGEN_H
#define CHRONOFS_TESTS_JGEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jtree.h"

#include "check.h"

static uint64_t rng_state = 88172645463325252u;

static inline uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* Keys: two spellings of "é" and of "x" name the same member. */
static const char *const gen_keys[] = {
	"\"a\"", "\"b\"",	"\"c\"",	"\"d\"",	"\"~\"",
	"\"/\"", "\"a/b\"",	"\"m~0\"",	"\"\xc3\xa9\"", "\"\\u00e9\"",
	"\"x\"", "\"\\u0078\"", "\"\\u0000k\"", "\"\"",
};
static const char *const gen_scalars[] = {
	"12345678901234567890",
	"1.0e400",
	"-0.0",
	"0",
	"1",
	"1.0",
	"-1E+2",
	"3",
	"\"\\u00e9\"",
	"\"\xc3\xa9\"",
	"\"x\"",
	"\"\\u0078\"",
	"\"\\ud83d\\ude00\"",
	"\"\xf0\x9f\x98\x80\"",
	"\"\\ud800\"",
	"\"a\\\"b\\\\\"",
	"true",
	"false",
	"null",
	"\"\"",
};
/* Which of gen_keys name the same member. */
static const int gen_key_class[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 11
};
#define NKEYS (sizeof(gen_keys) / sizeof(gen_keys[0]))
/* Objects get no two keys of one class (no duplicate names). */
static int gen_unique_keys;
#define NSCALARS (sizeof(gen_scalars) / sizeof(gen_scalars[0]))

static inline void gen_ws(struct jt_buf *b)
{
	static const char *const ws[] = {
		"", "", "", " ", "\n  ", "\t", "\r\n"
	};

	jt_buf_puts(b, ws[rnd(7)]);
}

/* A random JSON text; objects and arrays nest up to DEPTH. */
static inline void gen_text(struct jt_buf *b, int depth, int obj_bias)
{
	int kind = depth <= 0 ? 0 : (int)rnd(10);
	uint32_t n;

	gen_ws(b);
	if (kind < 5 - obj_bias) {
		jt_buf_puts(b, gen_scalars[rnd(NSCALARS)]);
	} else if (kind < 7 - obj_bias) {
		jt_buf_puts(b, "[");
		n = rnd(4);
		for (uint32_t i = 0; i < n; i++) {
			if (i)
				jt_buf_puts(b, ",");
			gen_text(b, depth - 1, 0);
		}
		gen_ws(b);
		jt_buf_puts(b, "]");
	} else {
		jt_buf_puts(b, "{");
		unsigned used = 0;

		n = rnd(6);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t k = rnd(NKEYS);

			if (gen_unique_keys) {
				while (used & (1u << gen_key_class[k]))
					k = rnd(NKEYS);
				used |= 1u << gen_key_class[k];
			}
			if (i)
				jt_buf_puts(b, ",");
			gen_ws(b);
			jt_buf_puts(b, gen_keys[k]);
			gen_ws(b);
			jt_buf_puts(b, ":");
			gen_text(b, depth - 1, obj_bias);
		}
		gen_ws(b);
		jt_buf_puts(b, "}");
	}
	gen_ws(b);
}

static inline struct jt_value *parse_text(const char *s, size_t n)
{
	struct jt_value *v = NULL;
	struct store_json_error e;
	int err = jt_parse(&v, s, n, &e);

	CHECK(err == 0, "parse %.*s: %d", (int)n, s, err);
	return v;
}

static inline struct jt_value *gen_value(int depth, int obj_bias)
{
	struct jt_buf b = { 0 };
	struct jt_value *v;

	gen_text(&b, depth, obj_bias);
	v = parse_text(b.p, b.len);
	free(b.p);
	return v;
}

static inline struct jt_value *gen_object(int depth)
{
	struct jt_value *v;

	do
		v = gen_value(depth, 3);
	while (v && v->type != JT_OBJECT && (jt_unref(v), 1));
	return v;
}

static inline struct jt_value *key_value(const char *raw)
{
	return jt_new_scalar(JT_STRING, raw, strlen(raw));
}

/* A path: decoded member names (objects only). */
struct jpath {
	const struct jt_value *seg[16]; /* key values, borrowed */
	size_t n;
};

/* A shallow copy of container V (members and elements shared). */
static inline struct jt_value *copy1(const struct jt_value *v)
{
	struct jt_value *c;

	if (v->type == JT_ARRAY) {
		c = jt_new_array();
		for (size_t i = 0; i < v->n; i++)
			jt_array_append(c, jt_ref(v->u.a.v[i]));
		return c;
	}
	c = jt_new_object();
	for (size_t i = 0; i < v->n; i++)
		jt_object_set(c, jt_ref(v->u.o.m[i].key),
			      jt_ref(v->u.o.m[i].value));
	return c;
}

/* ROOT with member P set to V (a reference taken; NULL: removed), every
 * object on the way copied. The objects on the way must exist. */
static inline struct jt_value *set_path(const struct jt_value *root,
					const struct jpath *p, size_t i,
					struct jt_value *v)
{
	struct jt_value *c, *child;
	const struct jt_value *k = p->seg[i];

	if (i == p->n)
		return v;
	c = jt_new_object();
	for (size_t j = 0; j < root->n; j++) {
		const struct jt_value *mk = root->u.o.m[j].key;

		if (mk->u.s.dlen == k->u.s.dlen &&
		    !memcmp(mk->u.s.dec, k->u.s.dec, k->u.s.dlen)) {
			if (i + 1 < p->n)
				child = set_path(root->u.o.m[j].value, p, i + 1,
						 v);
			else
				child = v;
			if (child)
				jt_object_set(c, jt_ref(root->u.o.m[j].key),
					      child);
			continue;
		}
		jt_object_set(c, jt_ref(root->u.o.m[j].key),
			      jt_ref(root->u.o.m[j].value));
	}
	if (jt_object_find(root, k->u.s.dec, k->u.s.dlen) < 0 && v &&
	    i + 1 == p->n)
		jt_object_set(c, jt_ref((struct jt_value *)k), v);
	return c;
}

/* The value at P in ROOT (borrowed), NULL if absent. */
static inline const struct jt_value *
get_path(const struct jt_value *root, const struct jpath *p, size_t from)
{
	for (size_t i = from; i < p->n && root; i++) {
		if (root->type != JT_OBJECT)
			return NULL;
		root = jt_object_get(root, p->seg[i]->u.s.dec,
				     p->seg[i]->u.s.dlen);
	}
	return root;
}

/* P as an RFC 6901 pointer, escaped here without store/ code. */
static inline void path_pointer(const struct jpath *p, size_t n,
				struct jt_buf *b)
{
	b->len = 0;
	jt_buf_put(b, "", 0);
	for (size_t i = 0; i < n; i++) {
		const struct jt_value *k = p->seg[i];

		jt_buf_put(b, "/", 1);
		for (size_t j = 0; j < k->u.s.dlen; j++) {
			char ch = k->u.s.dec[j];

			if (ch == '~')
				jt_buf_put(b, "~0", 2);
			else if (ch == '/')
				jt_buf_put(b, "~1", 2);
			else
				jt_buf_put(b, &ch, 1);
		}
	}
}

#endif
