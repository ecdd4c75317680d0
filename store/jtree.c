/* jtree.c - JSON value trees that keep token text (see jtree.h). Nothing
 * here recurses: documents may nest as deep as the validator allows. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jtree.h"
#include "banned.h"

/* Values being freed are chained through this, so freeing needs no
 * memory (the field is otherwise unused). */
struct jt_node {
	struct jt_value v;
	struct jt_node *next_free;
};

#define SLOT_EMPTY SIZE_MAX
#define INDEX_FROM 8 /* objects with more members get a hash index */

/* ---- buffers ---- */

int jt_buf_put(struct jt_buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int jt_buf_puts(struct jt_buf *b, const char *s)
{
	return jt_buf_put(b, s, strlen(s));
}

int jt_buf_string(struct jt_buf *b, const char *dec, size_t dlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)dec;
	size_t i = 0, from = 0;
	char esc[8];
	int err = jt_buf_put(b, "\"", 1);

	while (err == 0 && i < dlen) {
		size_t n = 0, skip = 1;

		if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\', esc[1] = (char)p[i], n = 2;
		} else if (p[i] < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[p[i] >> 4], esc[5] = hex[p[i] & 15];
			n = 6;
		} else if (p[i] == 0xED && i + 2 < dlen && p[i + 1] >= 0xA0) {
			/* A lone surrogate kept from a \u escape. */
			unsigned cp = 0xD000 | ((p[i + 1] & 0x3Fu) << 6) |
				      (p[i + 2] & 0x3Fu);

			esc[0] = '\\', esc[1] = 'u';
			for (int k = 0; k < 4; k++)
				esc[2 + k] = hex[(cp >> (12 - 4 * k)) & 15];
			n = 6, skip = 3;
		}
		if (n) {
			err = jt_buf_put(b, dec + from, i - from);
			if (err == 0)
				err = jt_buf_put(b, esc, n);
			from = i + skip;
		}
		i += skip;
	}
	if (err == 0)
		err = jt_buf_put(b, dec + from, dlen - from);
	return err ? err : jt_buf_put(b, "\"", 1);
}

/* ---- construction ---- */

static struct jt_value *alloc_value(enum jt_type type, size_t extra)
{
	struct jt_node *nd = calloc(1, sizeof(*nd) + extra);

	if (!nd)
		return NULL;
	nd->v.type = type;
	nd->v.refs = 1;
	return &nd->v;
}

struct jt_value *jt_new_literal(enum jt_type type)
{
	return alloc_value(type, 0);
}

static unsigned hexval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') :
			  (unsigned)((c | 0x20) - 'a' + 10);
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decode the valid string literal RAW[0..LEN) (quotes included) into OUT;
 * returns the decoded length (never more than LEN). */
static size_t decode(const char *raw, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 1; i + 1 < len;) {
		uint32_t cp, lo;

		if (raw[i] != '\\') {
			out[o++] = raw[i++];
			continue;
		}
		switch (raw[i + 1]) {
		case 'b':
			out[o++] = '\b';
			i += 2;
			continue;
		case 'f':
			out[o++] = '\f';
			i += 2;
			continue;
		case 'n':
			out[o++] = '\n';
			i += 2;
			continue;
		case 'r':
			out[o++] = '\r';
			i += 2;
			continue;
		case 't':
			out[o++] = '\t';
			i += 2;
			continue;
		case 'u':
			break;
		default:
			out[o++] = raw[i + 1];
			i += 2;
			continue;
		}
		cp = 0;
		for (int k = 0; k < 4; k++)
			cp = cp << 4 | hexval(raw[i + 2 + k]);
		i += 6;
		if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < len &&
		    raw[i] == '\\' && raw[i + 1] == 'u') {
			lo = 0;
			for (int k = 0; k < 4; k++)
				lo = lo << 4 | hexval(raw[i + 2 + k]);
			if (lo >= 0xDC00 && lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
				i += 6;
			}
		}
		o += put_utf8(out + o, cp);
	}
	return o;
}

struct jt_value *jt_new_scalar(enum jt_type type, const char *raw, size_t len)
{
	bool esc = type == JT_STRING && memchr(raw, '\\', len);
	struct jt_value *v = alloc_value(type, esc ? 2 * len + 2 : len + 1);
	char *text;

	if (!v)
		return NULL;
	text = (char *)((struct jt_node *)v + 1);
	memcpy(text, raw, len);
	v->u.s.raw = text;
	v->u.s.len = len;
	if (type != JT_STRING)
		return v;
	if (!esc) {
		v->u.s.dec = text + 1;
		v->u.s.dlen = len - 2;
	} else {
		v->u.s.dec = text + len + 1;
		v->u.s.dlen = decode(raw, len, text + len + 1);
	}
	return v;
}

struct jt_value *jt_new_array(void)
{
	return alloc_value(JT_ARRAY, 0);
}

struct jt_value *jt_new_object(void)
{
	return alloc_value(JT_OBJECT, 0);
}

int jt_array_append(struct jt_value *a, struct jt_value *v)
{
	if (a->n == a->u.a.cap) {
		size_t cap = a->n ? 2 * a->n : 4;
		struct jt_value **e = realloc(a->u.a.v, cap * sizeof(*e));

		if (!e) {
			jt_unref(v);
			return -ENOMEM;
		}
		a->u.a.v = e;
		a->u.a.cap = cap;
	}
	a->u.a.v[a->n++] = v;
	return 0;
}

static uint64_t hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211u;
	return h;
}

static void index_insert(struct jt_value *o, size_t idx)
{
	const struct jt_value *k = o->u.o.m[idx].key;
	size_t mask = o->u.o.nslots - 1;
	size_t s = (size_t)hash(k->u.s.dec, k->u.s.dlen) & mask;

	while (o->u.o.slots[s] != SLOT_EMPTY)
		s = (s + 1) & mask;
	o->u.o.slots[s] = idx;
}

/* (Re)build the index to hold at least N members at load <= 1/2. */
static int index_build(struct jt_value *o, size_t n)
{
	size_t ns = 16;
	size_t *slots;

	while (ns < 2 * n)
		ns *= 2;
	slots = malloc(ns * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	free(o->u.o.slots);
	o->u.o.slots = slots;
	o->u.o.nslots = ns;
	for (size_t i = 0; i < ns; i++)
		slots[i] = SLOT_EMPTY;
	for (size_t i = 0; i < o->n; i++)
		index_insert(o, i);
	return 0;
}

static bool key_is(const struct jt_value *k, const char *dec, size_t dlen)
{
	return k->u.s.dlen == dlen && !memcmp(k->u.s.dec, dec, dlen);
}

long jt_object_find(const struct jt_value *obj, const char *dec, size_t dlen)
{
	struct jt_value *o = (struct jt_value *)obj; /* the index is a cache */
	size_t mask, s;

	if (o->n > INDEX_FROM && !o->u.o.slots && index_build(o, o->n) < 0)
		o->u.o.nslots = 0; /* out of memory: scan instead */
	if (!o->u.o.slots) {
		for (size_t i = 0; i < o->n; i++)
			if (key_is(o->u.o.m[i].key, dec, dlen))
				return (long)i;
		return -1;
	}
	mask = o->u.o.nslots - 1;
	for (s = (size_t)hash(dec, dlen) & mask; o->u.o.slots[s] != SLOT_EMPTY;
	     s = (s + 1) & mask)
		if (key_is(o->u.o.m[o->u.o.slots[s]].key, dec, dlen))
			return (long)o->u.o.slots[s];
	return -1;
}

struct jt_value *jt_object_get(const struct jt_value *o, const char *dec,
			       size_t dlen)
{
	long i = jt_object_find(o, dec, dlen);

	return i < 0 ? NULL : o->u.o.m[i].value;
}

int jt_object_set(struct jt_value *o, struct jt_value *key,
		  struct jt_value *value)
{
	long i = jt_object_find(o, key->u.s.dec, key->u.s.dlen);

	if (i >= 0) {
		jt_unref(o->u.o.m[i].value);
		o->u.o.m[i].value = value;
		jt_unref(key);
		return 0;
	}
	if (o->n == o->u.o.cap) {
		size_t cap = o->u.o.cap ? 2 * o->u.o.cap : 4;
		struct jt_member *m = realloc(o->u.o.m, cap * sizeof(*m));

		if (!m)
			goto nomem;
		o->u.o.m = m;
		o->u.o.cap = cap;
	}
	o->u.o.m[o->n++] = (struct jt_member){ key, value };
	if (o->u.o.slots && 2 * o->n > o->u.o.nslots) {
		if (index_build(o, o->n) < 0) {
			free(o->u.o.slots);
			o->u.o.slots = NULL; /* scans until rebuilt */
		}
	} else if (o->u.o.slots) {
		index_insert(o, o->n - 1);
	}
	return 0;
nomem:
	jt_unref(key);
	jt_unref(value);
	return -ENOMEM;
}

struct jt_value *jt_ref(struct jt_value *v)
{
	if (v)
		v->refs++;
	return v;
}

/* Drop one reference of V; if it was the last, chain V on *LIST. */
static void drop(struct jt_value *v, struct jt_node **list)
{
	struct jt_node *nd = (struct jt_node *)v;

	if (!v || --v->refs)
		return;
	nd->next_free = *list;
	*list = nd;
}

void jt_unref(struct jt_value *v)
{
	struct jt_node *list = NULL;

	drop(v, &list);
	while (list) {
		struct jt_node *nd = list;
		struct jt_value *x = &nd->v;

		list = nd->next_free;
		if (x->type == JT_ARRAY) {
			for (size_t i = 0; i < x->n; i++)
				drop(x->u.a.v[i], &list);
			free(x->u.a.v);
		} else if (x->type == JT_OBJECT) {
			for (size_t i = 0; i < x->n; i++) {
				drop(x->u.o.m[i].key, &list);
				drop(x->u.o.m[i].value, &list);
			}
			free(x->u.o.m);
			free(x->u.o.slots);
		}
		free(nd);
	}
}

/* ---- parsing (the text is known valid: store_json_validate) ---- */

struct frame {
	struct jt_value *c;
	struct jt_value *key; /* an object's pending member name */
};

struct parse {
	const char *p, *end;
	struct frame *st;
	size_t depth, cap;
	struct jt_value *root;
};

static void ws(struct parse *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static size_t string_len(const char *p)
{
	size_t i = 1;

	while (p[i] != '"')
		i += p[i] == '\\' ? 2 : 1;
	return i + 1;
}

static struct jt_value *scalar(struct parse *ps)
{
	const char *s = ps->p;
	size_t n;

	switch (*s) {
	case '"':
		n = string_len(s);
		ps->p += n;
		return jt_new_scalar(JT_STRING, s, n);
	case 't':
		ps->p += 4;
		return jt_new_literal(JT_TRUE);
	case 'f':
		ps->p += 5;
		return jt_new_literal(JT_FALSE);
	case 'n':
		ps->p += 4;
		return jt_new_literal(JT_NULL);
	}
	while (ps->p < ps->end && strchr("+-.eE0123456789", *ps->p) && *ps->p)
		ps->p++;
	return jt_new_scalar(JT_NUMBER, s, (size_t)(ps->p - s));
}

/* Give V (a finished value) to the open container, or make it the root. */
static int attach(struct parse *ps, struct jt_value *v)
{
	struct frame *f;
	int err;

	if (!ps->depth) {
		ps->root = v;
		return 0;
	}
	f = &ps->st[ps->depth - 1];
	if (f->c->type == JT_ARRAY)
		return jt_array_append(f->c, v);
	err = jt_object_set(f->c, f->key, v);
	f->key = NULL;
	return err;
}

static int push(struct parse *ps, struct jt_value *c)
{
	if (ps->depth == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 32;
		struct frame *st = realloc(ps->st, cap * sizeof(*st));

		if (!st) {
			jt_unref(c);
			return -ENOMEM;
		}
		ps->st = st;
		ps->cap = cap;
	}
	ps->st[ps->depth++] = (struct frame){ c, NULL };
	return 0;
}

/* Read "KEY :" into the top frame. */
static int key(struct parse *ps)
{
	struct frame *f = &ps->st[ps->depth - 1];

	ws(ps);
	f->key = scalar(ps);
	ws(ps);
	ps->p++; /* ':' */
	return f->key ? 0 : -ENOMEM;
}

/* Right after a value, or an opening bracket (FRESH): the next member or
 * element, or close containers. Returns 1 when the text is done. */
static int next(struct parse *ps, bool fresh)
{
	int err;

	for (;;) {
		struct frame *f;

		if (!ps->depth)
			return 1;
		f = &ps->st[ps->depth - 1];
		ws(ps);
		if (*ps->p == '}' || *ps->p == ']') {
			ps->p++;
			ps->depth--;
			if ((err = attach(ps, f->c)) < 0)
				return err;
			fresh = false;
			continue;
		}
		if (!fresh)
			ps->p++; /* ',' */
		return f->c->type == JT_OBJECT ? key(ps) : 0;
	}
}

static int parse_loop(struct parse *ps)
{
	int err;

	for (;;) {
		struct jt_value *v;

		ws(ps);
		if (*ps->p == '{' || *ps->p == '[') {
			v = *ps->p++ == '{' ? jt_new_object() : jt_new_array();
			if (!v || (err = push(ps, v)) < 0)
				return -ENOMEM;
			err = next(ps, true);
		} else {
			v = scalar(ps);
			if (!v || (err = attach(ps, v)) < 0)
				return -ENOMEM;
			err = next(ps, false);
		}
		if (err)
			return err < 0 ? err : 0;
	}
}

int jt_parse(struct jt_value **out, const char *buf, size_t len,
	     struct store_json_error *jerr)
{
	struct parse ps = { .p = buf, .end = buf + len };
	struct store_json_error e;
	int err;

	*out = NULL;
	err = store_json_validate(buf, len, &e);
	if (err < 0 && !strcmp(e.reason, "out of memory"))
		return -ENOMEM; /* the validator's stack, not the text */
	if (err < 0) {
		if (jerr)
			*jerr = e;
		return err;
	}
	err = parse_loop(&ps);
	for (size_t i = 0; i < ps.depth; i++) {
		jt_unref(ps.st[i].c);
		jt_unref(ps.st[i].key);
	}
	free(ps.st);
	if (err < 0) {
		jt_unref(ps.root);
		return err;
	}
	*out = ps.root;
	return 0;
}

/* ---- equality ---- */

static bool scalar_equal(const struct jt_value *a, const struct jt_value *b)
{
	if (a->type == JT_STRING)
		return a->u.s.dlen == b->u.s.dlen &&
		       !memcmp(a->u.s.dec, b->u.s.dec, a->u.s.dlen);
	if (a->type == JT_NUMBER)
		return a->u.s.len == b->u.s.len &&
		       !memcmp(a->u.s.raw, b->u.s.raw, a->u.s.len);
	return true;
}

struct pair {
	const struct jt_value *a, *b;
};

static int push_pair(struct pair **st, size_t *n, size_t *cap,
		     const struct jt_value *a, const struct jt_value *b)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct pair *p = realloc(*st, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*st = p;
		*cap = c;
	}
	(*st)[(*n)++] = (struct pair){ a, b };
	return 0;
}

int jt_compare(bool *out, const struct jt_value *a, const struct jt_value *b)
{
	struct pair *st = NULL;
	size_t n = 0, cap = 0;
	int err = push_pair(&st, &n, &cap, a, b);

	*out = true;
	while (err == 0 && n && *out) {
		struct pair p = st[--n];

		if (p.a == p.b)
			continue;
		if (!p.a || !p.b || p.a->type != p.b->type ||
		    p.a->n != p.b->n) {
			*out = false;
		} else if (p.a->type == JT_ARRAY) {
			for (size_t i = 0; i < p.a->n && err == 0; i++)
				err = push_pair(&st, &n, &cap, p.a->u.a.v[i],
						p.b->u.a.v[i]);
		} else if (p.a->type == JT_OBJECT) {
			for (size_t i = 0; i < p.a->n && err == 0 && *out;
			     i++) {
				const struct jt_value *k = p.a->u.o.m[i].key;
				const struct jt_value *bv = jt_object_get(
					p.b, k->u.s.dec, k->u.s.dlen);

				if (!bv)
					*out = false;
				else
					err = push_pair(&st, &n, &cap,
							p.a->u.o.m[i].value,
							bv);
			}
		} else {
			*out = scalar_equal(p.a, p.b);
		}
	}
	free(st);
	return err;
}

bool jt_equal(const struct jt_value *a, const struct jt_value *b)
{
	bool eq;

	/* Out of memory: "different", which merges keep as a change. */
	return jt_compare(&eq, a, b) == 0 && eq;
}

/* ---- output ---- */

struct wframe {
	const struct jt_value *c;
	size_t i;
};

static int indent(struct jt_buf *out, size_t depth)
{
	static const char spaces[] = "                                ";
	size_t n = 2 * depth;
	int err = jt_buf_put(out, "\n", 1);

	while (err == 0 && n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		err = jt_buf_put(out, spaces, k);
		n -= k;
	}
	return err;
}

static int write_scalar(struct jt_buf *out, const struct jt_value *v)
{
	switch (v->type) {
	case JT_NULL:
		return jt_buf_puts(out, "null");
	case JT_TRUE:
		return jt_buf_puts(out, "true");
	case JT_FALSE:
		return jt_buf_puts(out, "false");
	default:
		return jt_buf_put(out, v->u.s.raw, v->u.s.len);
	}
}

/* Write the next item of the top frame (key and value) or close it. */
static int write_step(struct jt_buf *out, struct wframe **st, size_t *depth,
		      size_t *cap, bool pretty)
{
	struct wframe *f = &(*st)[*depth - 1];
	bool obj = f->c->type == JT_OBJECT;
	const struct jt_value *v;
	int err = 0;

	if (f->i == f->c->n) {
		(*depth)--;
		if (pretty && f->c->n)
			err = indent(out, *depth);
		return err ? err : jt_buf_put(out, obj ? "}" : "]", 1);
	}
	if (f->i)
		err = jt_buf_put(out, ",", 1);
	if (err == 0 && pretty)
		err = indent(out, *depth);
	if (err == 0 && obj) {
		err = write_scalar(out, f->c->u.o.m[f->i].key);
		if (err == 0)
			err = jt_buf_put(out, ": ", pretty ? 2 : 1);
	}
	v = obj ? f->c->u.o.m[f->i].value : f->c->u.a.v[f->i];
	f->i++;
	if (err || (v->type != JT_ARRAY && v->type != JT_OBJECT))
		return err ? err : write_scalar(out, v);
	err = jt_buf_put(out, v->type == JT_OBJECT ? "{" : "[", 1);
	if (err == 0 && *depth == *cap) {
		size_t c = 2 * *cap;
		struct wframe *s = realloc(*st, c * sizeof(*s));

		if (!s)
			return -ENOMEM;
		*st = s;
		*cap = c;
	}
	if (err == 0)
		(*st)[(*depth)++] = (struct wframe){ v, 0 };
	return err;
}

int jt_write(struct jt_buf *out, const struct jt_value *v, enum jt_style style)
{
	bool pretty = style == JT_PRETTY;
	struct wframe *st = NULL;
	size_t depth = 0, cap = 16;
	int err;

	if (v->type != JT_ARRAY && v->type != JT_OBJECT) {
		err = write_scalar(out, v);
	} else if (!(st = malloc(cap * sizeof(*st)))) {
		err = -ENOMEM;
	} else {
		err = jt_buf_put(out, v->type == JT_OBJECT ? "{" : "[", 1);
		st[depth++] = (struct wframe){ v, 0 };
		while (err == 0 && depth)
			err = write_step(out, &st, &depth, &cap, pretty);
	}
	free(st);
	if (err == 0 && pretty)
		err = jt_buf_put(out, "\n", 1);
	return err;
}

int jt_pointer_push(struct jt_buf *p, const struct jt_value *key)
{
	const char *s = key->u.s.dec;
	size_t n = key->u.s.dlen, from = 0;
	int err = jt_buf_put(p, "/", 1);

	for (size_t i = 0; i < n && err == 0; i++) {
		if (s[i] != '~' && s[i] != '/')
			continue;
		err = jt_buf_put(p, s + from, i - from);
		if (err == 0)
			err = jt_buf_put(p, s[i] == '~' ? "~0" : "~1", 2);
		from = i + 1;
	}
	return err ? err : jt_buf_put(p, s + from, n - from);
}
