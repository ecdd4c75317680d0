/* jpatch.c - RFC 6902 patches between two JSON values (see jpatch.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpatch.h"
#include "banned.h"

struct pctx {
	struct jt_buf *out;
	struct jt_buf ptr; /* decoded pointer of the current value */
	size_t nops;
};

static int seg_index(struct jt_buf *p, size_t i)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "/%zu", i);

	return jt_buf_put(p, num, (size_t)n);
}

/* {"op":OP,"path":<ptr>[,"value":V]} */
static int emit(struct pctx *c, const char *op, const struct jt_value *v)
{
	struct jt_buf *o = c->out;
	int err = jt_buf_puts(o, c->nops ? ",{\"op\":\"" : "{\"op\":\"");

	if (err == 0)
		err = jt_buf_puts(o, op);
	if (err == 0)
		err = jt_buf_puts(o, "\",\"path\":");
	if (err == 0)
		err = jt_buf_string(o, c->ptr.p, c->ptr.len);
	if (err == 0 && v) {
		err = jt_buf_puts(o, ",\"value\":");
		if (err == 0)
			err = jt_write(o, v, JT_COMPACT);
	}
	if (err == 0)
		err = jt_buf_put(o, "}", 1);
	c->nops++;
	return err;
}

static int diff(struct pctx *c, const struct jt_value *a,
		const struct jt_value *b, unsigned depth);

static int diff_objects(struct pctx *c, const struct jt_value *a,
			const struct jt_value *b, unsigned depth)
{
	size_t mark = c->ptr.len;
	int err = 0;

	for (size_t i = 0; i < a->n && err == 0; i++) {
		const struct jt_value *k = a->u.o.m[i].key;

		if (jt_object_find(b, k->u.s.dec, k->u.s.dlen) >= 0)
			continue;
		err = jt_pointer_push(&c->ptr, k);
		if (err == 0)
			err = emit(c, "remove", NULL);
		c->ptr.len = mark;
	}
	for (size_t i = 0; i < b->n && err == 0; i++) {
		const struct jt_value *k = b->u.o.m[i].key;
		const struct jt_value *av =
			jt_object_get(a, k->u.s.dec, k->u.s.dlen);

		err = jt_pointer_push(&c->ptr, k);
		if (err == 0)
			err = av ? diff(c, av, b->u.o.m[i].value, depth + 1) :
				   emit(c, "add", b->u.o.m[i].value);
		c->ptr.len = mark;
	}
	return err;
}

static int diff_arrays(struct pctx *c, const struct jt_value *a,
		       const struct jt_value *b, unsigned depth)
{
	size_t na = a->n, nb = b->n, pre = 0, suf = 0, k, mark = c->ptr.len;
	struct jt_value *const *av = a->u.a.v, *const *bv = b->u.a.v;
	int err = 0;

	while (pre < na && pre < nb && jt_equal(av[pre], bv[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre &&
	       jt_equal(av[na - 1 - suf], bv[nb - 1 - suf]))
		suf++;
	na -= pre + suf;
	nb -= pre + suf;
	k = na < nb ? na : nb;
	for (size_t i = 0; i < k && err == 0; i++) {
		err = seg_index(&c->ptr, pre + i);
		if (err == 0)
			err = diff(c, av[pre + i], bv[pre + i], depth + 1);
		c->ptr.len = mark;
	}
	for (size_t i = k; i < na && err == 0; i++) {
		err = seg_index(&c->ptr, pre + k);
		if (err == 0)
			err = emit(c, "remove", NULL);
		c->ptr.len = mark;
	}
	for (size_t i = k; i < nb && err == 0; i++) {
		err = seg_index(&c->ptr, pre + i);
		if (err == 0)
			err = emit(c, "add", bv[pre + i]);
		c->ptr.len = mark;
	}
	return err;
}

static int diff(struct pctx *c, const struct jt_value *a,
		const struct jt_value *b, unsigned depth)
{
	bool eq;
	int err = jt_compare(&eq, a, b);

	if (err < 0 || eq)
		return err;
	if (a->type == b->type && depth < JPATCH_MAX_DEPTH) {
		if (a->type == JT_OBJECT)
			return diff_objects(c, a, b, depth);
		if (a->type == JT_ARRAY)
			return diff_arrays(c, a, b, depth);
	}
	return emit(c, "replace", b);
}

int jpatch_diff(struct jt_buf *out, const struct jt_value *a,
		const struct jt_value *b, size_t *nops)
{
	struct pctx c = { .out = out };
	int err = jt_buf_put(out, "[", 1);

	if (err == 0)
		err = jt_buf_put(&c.ptr, "", 0);
	if (err == 0) {
		if (!a && b)
			err = emit(&c, "add", b);
		else if (a && !b)
			err = emit(&c, "remove", NULL);
		else if (a && b)
			err = diff(&c, a, b, 0);
	}
	if (err == 0)
		err = jt_buf_put(out, "]", 1);
	free(c.ptr.p);
	if (nops)
		*nops = c.nops;
	return err;
}
