/* jmerge.c - three-way merge of JSON values and documents (see jmerge.h).
 * The merged value shares the untouched subtrees of its inputs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jmerge.h"
#include "banned.h"

struct mctx {
	enum jmerge_side winner;
	struct jmerge_conflict *c;
	size_t n, cap;
	struct jt_buf ptr; /* the pointer of the value being merged */
};

const char *jmerge_kind_name(enum jmerge_kind k)
{
	switch (k) {
	case JMERGE_BOTH_MODIFIED:
		return "both-modified";
	case JMERGE_BOTH_ADDED:
		return "both-added";
	case JMERGE_MODIFY_DELETE:
		return "modified-deleted";
	case JMERGE_DELETE_MODIFY:
		return "deleted-modified";
	}
	return "unknown";
}

static int add_conflict(struct mctx *m, enum jmerge_kind kind,
			const struct jt_value *b, const struct jt_value *o,
			const struct jt_value *t, enum jmerge_side winner)
{
	struct jmerge_conflict *c;

	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;

		c = realloc(m->c, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		m->c = c;
		m->cap = cap;
	}
	c = &m->c[m->n];
	memset(c, 0, sizeof(*c));
	c->pointer = malloc(m->ptr.len + 1);
	if (!c->pointer)
		return -ENOMEM;
	if (m->ptr.len)
		memcpy(c->pointer, m->ptr.p, m->ptr.len);
	c->pointer[m->ptr.len] = '\0';
	c->plen = m->ptr.len;
	c->kind = kind;
	c->base = jt_ref((struct jt_value *)b);
	c->ours = jt_ref((struct jt_value *)o);
	c->theirs = jt_ref((struct jt_value *)t);
	c->winner = winner;
	m->n++;
	return 0;
}

static int merge(struct mctx *m, const struct jt_value *b,
		 const struct jt_value *o, const struct jt_value *t,
		 struct jt_value **out, unsigned depth);

/* Merge member KEY (with its three values) into RES. */
static int merge_member(struct mctx *m, struct jt_value *res,
			struct jt_value *key, const struct jt_value *b,
			const struct jt_value *o, const struct jt_value *t,
			unsigned depth)
{
	size_t mark = m->ptr.len;
	struct jt_value *r = NULL;
	int err = jt_pointer_push(&m->ptr, key);

	if (err == 0)
		err = merge(m, b, o, t, &r, depth + 1);
	m->ptr.len = mark;
	if (err == 0 && r)
		err = jt_object_set(res, jt_ref(key), r);
	return err;
}

static bool same_members(const struct jt_value *a, const struct jt_value *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct jt_value *ka = a->u.o.m[i].key,
				      *kb = b->u.o.m[i].key;

		if (a->u.o.m[i].value != b->u.o.m[i].value ||
		    ka->u.s.len != kb->u.s.len ||
		    memcmp(ka->u.s.raw, kb->u.s.raw, ka->u.s.len))
			return false;
	}
	return true;
}

static int merge_objects(struct mctx *m, const struct jt_value *b,
			 const struct jt_value *o, const struct jt_value *t,
			 struct jt_value **out, unsigned depth)
{
	struct jt_value *res = jt_new_object();
	int err = res ? 0 : -ENOMEM;

	for (size_t i = 0; i < o->n && err == 0; i++) {
		struct jt_value *k = o->u.o.m[i].key;
		const char *d = k->u.s.dec;
		size_t dl = k->u.s.dlen;

		err = merge_member(m, res, k,
				   b ? jt_object_get(b, d, dl) : NULL,
				   o->u.o.m[i].value, jt_object_get(t, d, dl),
				   depth);
	}
	for (size_t i = 0; i < t->n && err == 0; i++) {
		struct jt_value *k = t->u.o.m[i].key;
		const char *d = k->u.s.dec;
		size_t dl = k->u.s.dlen;

		if (jt_object_find(o, d, dl) >= 0)
			continue;
		err = merge_member(m, res, k,
				   b ? jt_object_get(b, d, dl) : NULL, NULL,
				   t->u.o.m[i].value, depth);
	}
	if (err < 0) {
		jt_unref(res);
		return err;
	}
	/* Identical to one side (its very member values, keys spelt alike,
	 * in its order): that side, so its exact bytes can be kept. */
	if (same_members(res, o) || same_members(res, t)) {
		*out = jt_ref(
			(struct jt_value *)(same_members(res, o) ? o : t));
		jt_unref(res);
		return 0;
	}
	*out = res;
	return 0;
}

static int merge(struct mctx *m, const struct jt_value *b,
		 const struct jt_value *o, const struct jt_value *t,
		 struct jt_value **out, unsigned depth)
{
	const struct jt_value *w = m->winner == JMERGE_OURS ? o : t;
	bool eq_ot, eq_ob, eq_tb;
	int err;

	*out = NULL;
	if ((err = jt_compare(&eq_ot, o, t)) < 0 ||
	    (err = jt_compare(&eq_ob, o, b)) < 0)
		return err;
	if (eq_ot) {
		*out = jt_ref((struct jt_value *)(eq_ob ? o : w));
		return 0;
	}
	if (eq_ob) {
		*out = jt_ref((struct jt_value *)t);
		return 0;
	}
	if ((err = jt_compare(&eq_tb, t, b)) < 0)
		return err;
	if (eq_tb) {
		*out = jt_ref((struct jt_value *)o);
		return 0;
	}
	/* Changed on both sides, differently. */
	if (o && t && o->type == JT_OBJECT && t->type == JT_OBJECT &&
	    depth < JMERGE_MAX_DEPTH)
		return merge_objects(m, b && b->type == JT_OBJECT ? b : NULL, o,
				     t, out, depth);
	if (!o) {
		err = add_conflict(m, JMERGE_DELETE_MODIFY, b, o, t,
				   JMERGE_THEIRS);
		w = t;
	} else if (!t) {
		err = add_conflict(m, JMERGE_MODIFY_DELETE, b, o, t,
				   JMERGE_OURS);
		w = o;
	} else {
		err = add_conflict(m,
				   b ? JMERGE_BOTH_MODIFIED : JMERGE_BOTH_ADDED,
				   b, o, t, m->winner);
	}
	if (err == 0)
		*out = jt_ref((struct jt_value *)w);
	return err;
}

static void free_conflicts(struct jmerge_conflict *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].pointer);
		jt_unref(c[i].base);
		jt_unref(c[i].ours);
		jt_unref(c[i].theirs);
	}
	free(c);
}

int jmerge_values(struct jmerge_result *out, const struct jt_value *base,
		  const struct jt_value *ours, const struct jt_value *theirs,
		  enum jmerge_side winner)
{
	struct mctx m = { .winner = winner };
	struct jt_value *v = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = jt_buf_put(&m.ptr, "", 0);
	if (err == 0)
		err = merge(&m, base, ours, theirs, &v, 0);
	free(m.ptr.p);
	if (err < 0) {
		free_conflicts(m.c, m.n);
		return err;
	}
	out->value = v;
	if (v)
		out->whole = v == ours	 ? JMERGE_WHOLE_OURS :
			     v == theirs ? JMERGE_WHOLE_THEIRS :
					   JMERGE_MERGED;
	else
		out->whole = ours ? JMERGE_WHOLE_THEIRS : JMERGE_WHOLE_OURS;
	out->conflicts = m.c;
	out->n = m.n;
	return 0;
}

void jmerge_result_release(struct jmerge_result *r)
{
	if (!r)
		return;
	jt_unref(r->value);
	free_conflicts(r->conflicts, r->n);
	memset(r, 0, sizeof(*r));
}

/* ---- documents as bytes ---- */

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	if (!a || !b)
		return !a && !b;
	return alen == blen && (!alen || !memcmp(a, b, alen));
}

static void take(struct jmerge_doc *d, const char *side, bool theirs)
{
	d->action = !side  ? JMERGE_DOC_DELETE :
		    theirs ? JMERGE_DOC_THEIRS :
			     JMERGE_DOC_OURS;
}

/* Whole-document merge of texts that are not all JSON. */
static int merge_raw(struct jmerge_doc *d, const char *b, const char *o,
		     const char *t, enum jmerge_side winner)
{
	struct mctx m = { .winner = winner };
	enum jmerge_kind kind = !o ? JMERGE_DELETE_MODIFY :
				!t ? JMERGE_MODIFY_DELETE :
				b  ? JMERGE_BOTH_MODIFIED :
				     JMERGE_BOTH_ADDED;
	enum jmerge_side w = !o ? JMERGE_THEIRS : !t ? JMERGE_OURS : winner;
	int err = add_conflict(&m, kind, NULL, NULL, NULL, w);

	if (err < 0) {
		free_conflicts(m.c, m.n);
		return err;
	}
	m.c[0].raw = true;
	d->conflicts = m.c;
	d->n = m.n;
	take(d, w == JMERGE_OURS ? o : t, w == JMERGE_THEIRS);
	return 0;
}

int jmerge_doc(struct jmerge_doc *d, const char *base, size_t blen,
	       const char *ours, size_t olen, const char *theirs, size_t tlen,
	       enum jmerge_side winner, unsigned flags)
{
	struct jt_value *b = NULL, *o = NULL, *t = NULL;
	struct jmerge_result r = { 0 };
	struct jt_buf out = { 0 };
	int err = 0;

	memset(d, 0, sizeof(*d));
	if (same_bytes(ours, olen, theirs, tlen) ||
	    same_bytes(theirs, tlen, base, blen)) {
		take(d, ours, false);
		return 0;
	}
	if (same_bytes(ours, olen, base, blen)) {
		take(d, theirs, true);
		return 0;
	}
	if ((flags & JMERGE_DOC_OPAQUE) ||
	    (base && (err = jt_parse(&b, base, blen, NULL)) < 0) ||
	    (ours && (err = jt_parse(&o, ours, olen, NULL)) < 0) ||
	    (theirs && (err = jt_parse(&t, theirs, tlen, NULL)) < 0)) {
		if (err == -EINVAL || err == 0)
			err = merge_raw(d, base, ours, theirs, winner);
		goto out;
	}
	if (b && (!o || !t)) {
		/* Deleted on one side, its bytes changed on the other: even
		 * a change of layout only is kept (nothing is lost). */
		struct mctx m = { .winner = winner };

		err = add_conflict(
			&m, o ? JMERGE_MODIFY_DELETE : JMERGE_DELETE_MODIFY, b,
			o, t, o ? JMERGE_OURS : JMERGE_THEIRS);
		if (err < 0) {
			free_conflicts(m.c, m.n);
			goto out;
		}
		d->conflicts = m.c;
		d->n = m.n;
		take(d, o ? ours : theirs, !o);
		goto out;
	}
	if ((err = jmerge_values(&r, b, o, t, winner)) < 0)
		goto out;
	if (r.whole == JMERGE_MERGED) {
		err = jt_write(&out, r.value, JT_PRETTY);
		if (err < 0)
			goto out;
		d->action = JMERGE_DOC_MERGED;
		d->bytes = out.p;
		d->len = out.len;
		out.p = NULL;
	} else {
		take(d, r.value ? "" : NULL, r.whole == JMERGE_WHOLE_THEIRS);
	}
	d->conflicts = r.conflicts;
	d->n = r.n;
	r.conflicts = NULL;
	r.n = 0;
out:
	free(out.p);
	jmerge_result_release(&r);
	jt_unref(b);
	jt_unref(o);
	jt_unref(t);
	return err;
}

void jmerge_doc_release(struct jmerge_doc *d)
{
	if (!d)
		return;
	free(d->bytes);
	free_conflicts(d->conflicts, d->n);
	memset(d, 0, sizeof(*d));
}

/* ---- conflicts.json ---- */

/* A string value from decoded bytes. */
static struct jt_value *string_value(const char *dec, size_t dlen)
{
	struct jt_buf b = { 0 };
	struct jt_value *v = NULL;

	if (jt_buf_string(&b, dec, dlen) == 0)
		v = jt_new_scalar(JT_STRING, b.p, b.len);
	free(b.p);
	return v;
}

/* OBJ[NAME] = V (V's reference taken; NULL V: nothing, unless OOM). */
static int put(struct jt_value *obj, const char *name, struct jt_value *v,
	       bool oom)
{
	struct jt_value *k;

	if (!v)
		return oom ? -ENOMEM : 0;
	k = string_value(name, strlen(name));
	if (!k) {
		jt_unref(v);
		return -ENOMEM;
	}
	return jt_object_set(obj, k, v);
}

static int render_one(struct jt_value *list, const struct jmerge_conflict *c)
{
	static const char *const side[] = { "ours", "theirs" };
	struct jt_value *e = jt_new_object();
	const char *kind = jmerge_kind_name(c->kind);
	int err = e ? 0 : -ENOMEM;

	if (err == 0)
		err = put(e, "pointer", string_value(c->pointer, c->plen),
			  true);
	if (err == 0)
		err = put(e, "kind", string_value(kind, strlen(kind)), true);
	if (err == 0 && c->raw)
		err = put(e, "raw", jt_new_literal(JT_TRUE), true);
	if (err == 0)
		err = put(e, "base", jt_ref(c->base), false);
	if (err == 0)
		err = put(e, "ours", jt_ref(c->ours), false);
	if (err == 0)
		err = put(e, "theirs", jt_ref(c->theirs), false);
	if (err == 0)
		err = put(e, "winner",
			  string_value(side[c->winner],
				       strlen(side[c->winner])),
			  true);
	if (err < 0) {
		jt_unref(e);
		return err;
	}
	return jt_array_append(list, e);
}

int jmerge_conflicts_render(struct jt_buf *out, const char *path,
			    const struct jmerge_conflict *c, size_t n)
{
	struct jt_value *doc = jt_new_object(), *list = jt_new_array();
	int err = doc && list ? 0 : -ENOMEM;

	if (err == 0 && path)
		err = put(doc, "path", string_value(path, strlen(path)), true);
	for (size_t i = 0; i < n && err == 0; i++)
		err = render_one(list, &c[i]);
	if (err == 0) {
		err = put(doc, "conflicts", list, true);
		list = NULL;
	}
	if (err == 0)
		err = jt_write(out, doc, JT_PRETTY);
	jt_unref(list);
	jt_unref(doc);
	return err;
}
