/* test_jmerge.c - the three-way JSON merge: the SPEC's cases one by one
 * (golden results), then a property test over random documents edited on
 * two sides: merged both ways the results are equal, valid JSON, hold
 * every change the other side did not also touch, and every change they
 * lack is in the conflicts list with the three values. */
#include <errno.h>

#include "jgen.h"
#include "jmerge.h"

#define CASES 3000

static struct jt_value *P(const char *s)
{
	return s ? parse_text(s, strlen(s)) : NULL;
}

/* Merge the three texts (NULL: absent); the result as compact text in
 * *OUT (NULL if absent). */
static void merge3(const char *b, const char *o, const char *t,
		   enum jmerge_side w, struct jmerge_result *r, char **out)
{
	struct jt_value *vb = P(b), *vo = P(o), *vt = P(t);
	struct jt_buf buf = { 0 };

	CHECK(jmerge_values(r, vb, vo, vt, w) == 0, "merge failed");
	if (r->value)
		jt_write(&buf, r->value, JT_COMPACT);
	*out = buf.p;
	jt_unref(vb), jt_unref(vo), jt_unref(vt);
}

struct want_conflict {
	const char *pointer;
	enum jmerge_kind kind;
	enum jmerge_side winner;
};

static void case_is(const char *name, const char *b, const char *o,
		    const char *t, enum jmerge_side w, const char *want,
		    enum jmerge_whole whole, const struct want_conflict *wc,
		    size_t nwc)
{
	struct jmerge_result r;
	char *got;

	merge3(b, o, t, w, &r, &got);
	CHECK((!want && !got) || (want && got && !strcmp(want, got)),
	      "%s: got %s, want %s", name, got ? got : "(absent)",
	      want ? want : "(absent)");
	CHECK(r.whole == whole, "%s: whole %d, want %d", name, r.whole, whole);
	CHECK(r.n == nwc, "%s: %zu conflicts, want %zu", name, r.n, nwc);
	for (size_t i = 0; i < r.n && i < nwc; i++)
		CHECK(!strcmp(r.conflicts[i].pointer, wc[i].pointer) &&
			      r.conflicts[i].kind == wc[i].kind &&
			      r.conflicts[i].winner == wc[i].winner,
		      "%s: conflict %zu is %s %s %d", name, i,
		      r.conflicts[i].pointer,
		      jmerge_kind_name(r.conflicts[i].kind),
		      r.conflicts[i].winner);
	free(got);
	jmerge_result_release(&r);
}

#define NONE NULL, 0
#define ONE(p, k, w) (const struct want_conflict[]){ { p, k, w } }, 1

static void spec_cases(void)
{
	case_is("disjoint members", "{\"a\":1,\"b\":2}", "{\"a\":10,\"b\":2}",
		"{\"a\":1,\"b\":20}", JMERGE_OURS, "{\"a\":10,\"b\":20}",
		JMERGE_MERGED, NONE);
	case_is("equal changes", "{\"a\":1,\"b\":1}", "{\"a\":5,\"b\":2}",
		"{\"a\":5,\"b\":1}", JMERGE_THEIRS, "{\"a\":5,\"b\":2}",
		JMERGE_MERGED, NONE);
	case_is("different changes, theirs wins", "{\"a\":1,\"b\":1}",
		"{\"a\":2,\"b\":5}", "{\"a\":3,\"b\":1}", JMERGE_THEIRS,
		"{\"a\":3,\"b\":5}", JMERGE_MERGED,
		ONE("/a", JMERGE_BOTH_MODIFIED, JMERGE_THEIRS));
	case_is("different changes, ours wins", "{\"a\":1,\"b\":1}",
		"{\"a\":2,\"b\":5}", "{\"a\":3,\"b\":1}", JMERGE_OURS,
		"{\"a\":2,\"b\":5}", JMERGE_WHOLE_OURS,
		ONE("/a", JMERGE_BOTH_MODIFIED, JMERGE_OURS));
	case_is("modify vs delete member", "{\"a\":1,\"b\":1}",
		"{\"a\":2,\"b\":1}", "{\"b\":1}", JMERGE_THEIRS,
		"{\"a\":2,\"b\":1}", JMERGE_WHOLE_OURS,
		ONE("/a", JMERGE_MODIFY_DELETE, JMERGE_OURS));
	case_is("delete vs modify member", "{\"a\":1,\"b\":1}", "{\"b\":2}",
		"{\"a\":3,\"b\":1}", JMERGE_OURS, "{\"b\":2,\"a\":3}",
		JMERGE_MERGED, ONE("/a", JMERGE_DELETE_MODIFY, JMERGE_THEIRS));
	case_is("modify vs delete document", "{\"a\":1}", "{\"a\":2}", NULL,
		JMERGE_THEIRS, "{\"a\":2}", JMERGE_WHOLE_OURS,
		ONE("", JMERGE_MODIFY_DELETE, JMERGE_OURS));
	case_is("both deleted", "{\"a\":1}", NULL, NULL, JMERGE_THEIRS, NULL,
		JMERGE_WHOLE_OURS, NONE);
	case_is("deleted one side", "{\"a\":1}", "{\"a\":1}", NULL, JMERGE_OURS,
		NULL, JMERGE_WHOLE_THEIRS, NONE);
	case_is("add/add objects merge against {}", NULL, "{\"x\":1,\"z\":1}",
		"{\"y\":2,\"z\":3}", JMERGE_THEIRS, "{\"x\":1,\"z\":3,\"y\":2}",
		JMERGE_MERGED, ONE("/z", JMERGE_BOTH_ADDED, JMERGE_THEIRS));
	case_is("add/add scalars", NULL, "1", "2", JMERGE_OURS, "1",
		JMERGE_WHOLE_OURS, ONE("", JMERGE_BOTH_ADDED, JMERGE_OURS));
	case_is("add/add equal", NULL, "[1]", "[1]", JMERGE_THEIRS, "[1]",
		JMERGE_WHOLE_THEIRS, NONE);
	case_is("three levels deep",
		"{\"a\":{\"b\":{\"c\":1,\"d\":1},\"e\":1}}",
		"{\"a\":{\"b\":{\"c\":2,\"d\":1},\"e\":1}}",
		"{\"a\":{\"b\":{\"c\":1,\"d\":2},\"e\":2}}", JMERGE_OURS,
		"{\"a\":{\"b\":{\"c\":2,\"d\":2},\"e\":2}}", JMERGE_MERGED,
		NONE);
	case_is("arrays are whole values", "{\"l\":[1,2]}", "{\"l\":[1,2,3]}",
		"{\"l\":[0,1,2]}", JMERGE_THEIRS, "{\"l\":[0,1,2]}",
		JMERGE_WHOLE_THEIRS,
		ONE("/l", JMERGE_BOTH_MODIFIED, JMERGE_THEIRS));
	case_is("type change", "{\"t\":{\"a\":1},\"u\":1}",
		"{\"t\":[1],\"u\":1}", "{\"t\":{\"a\":2},\"u\":2}", JMERGE_OURS,
		"{\"t\":[1],\"u\":2}", JMERGE_MERGED,
		ONE("/t", JMERGE_BOTH_MODIFIED, JMERGE_OURS));
	case_is("both changed to objects from a scalar", "{\"t\":1}",
		"{\"t\":{\"a\":1}}", "{\"t\":{\"b\":2}}", JMERGE_OURS,
		"{\"t\":{\"a\":1,\"b\":2}}", JMERGE_MERGED, NONE);
	case_is("exact text kept through a member merge",
		"{\"big\":1,\"s\":\"x\",\"f\":0}",
		"{\"big\":12345678901234567890,\"s\":\"x\",\"f\":0}",
		"{\"big\":1,\"s\":\"\\u00e9\",\"f\":1.0e400}", JMERGE_OURS,
		"{\"big\":12345678901234567890,\"s\":\"\\u00e9\",\"f\":1.0e400}",
		JMERGE_MERGED, NONE);
	case_is("1 and 1.0 differ, -0 and 0 too", "{\"a\":1,\"b\":0}",
		"{\"a\":1.0,\"b\":0}", "{\"a\":1,\"b\":-0}", JMERGE_OURS,
		"{\"a\":1.0,\"b\":-0}", JMERGE_MERGED, NONE);
	case_is("respelt strings are equal changes", "{\"s\":\"a\"}",
		"{\"s\":\"\\u00e9\"}", "{\"s\":\"\xc3\xa9\"}", JMERGE_THEIRS,
		"{\"s\":\"\xc3\xa9\"}", JMERGE_WHOLE_THEIRS, NONE);
	case_is("keys match by decoded name, ours' text kept",
		"{\"\\u00e9\":1,\"k\":1}", "{\"\xc3\xa9\":2,\"k\":1}",
		"{\"\\u00e9\":1,\"k\":3}", JMERGE_OURS,
		"{\"\xc3\xa9\":2,\"k\":3}", JMERGE_MERGED, NONE);
	case_is("pointer escaping", "{\"a/b\":{\"~c\":1},\"z\":0}",
		"{\"a/b\":{\"~c\":2},\"z\":0}", "{\"a/b\":{\"~c\":3},\"z\":1}",
		JMERGE_THEIRS, "{\"a/b\":{\"~c\":3},\"z\":1}",
		JMERGE_WHOLE_THEIRS,
		ONE("/a~1b/~0c", JMERGE_BOTH_MODIFIED, JMERGE_THEIRS));
	case_is("member order: ours, then theirs' new ones",
		"{\"a\":0,\"b\":0}", "{\"b\":1,\"n\":1,\"a\":0}",
		"{\"t\":2,\"a\":2,\"b\":0,\"u\":2}", JMERGE_OURS,
		"{\"b\":1,\"n\":1,\"a\":2,\"t\":2,\"u\":2}", JMERGE_MERGED,
		NONE);
	case_is("ours unchanged: theirs whole", "{\"a\":1}", "{ \"a\" : 1 }",
		"{\"a\":2}", JMERGE_OURS, "{\"a\":2}", JMERGE_WHOLE_THEIRS,
		NONE);
}

static void doc_is_flags(const char *name, const char *b, const char *o,
			 const char *t, enum jmerge_side w,
			 enum jmerge_doc_action action, const char *bytes,
			 size_t nconflicts, bool raw, unsigned flags)
{
	struct jmerge_doc d;
	int err = jmerge_doc(&d, b, b ? strlen(b) : 0, o, o ? strlen(o) : 0, t,
			     t ? strlen(t) : 0, w, flags);

	CHECK(err == 0, "%s: %d", name, err);
	CHECK(d.action == action, "%s: action %d, want %d", name, d.action,
	      action);
	CHECK(!bytes || (d.bytes && !strcmp(d.bytes, bytes)),
	      "%s: bytes\n%s\nwant\n%s", name, d.bytes, bytes);
	CHECK(d.n == nconflicts && (!d.n || d.conflicts[0].raw == raw),
	      "%s: %zu conflicts", name, d.n);
	jmerge_doc_release(&d);
}

static void doc_is(const char *name, const char *b, const char *o,
		   const char *t, enum jmerge_side w,
		   enum jmerge_doc_action action, const char *bytes,
		   size_t nconflicts, bool raw)
{
	doc_is_flags(name, b, o, t, w, action, bytes, nconflicts, raw, 0);
}

static void doc_cases(void)
{
	doc_is("same bytes", "{}", "{\"a\":1}", "{\"a\":1}", JMERGE_THEIRS,
	       JMERGE_DOC_OURS, NULL, 0, false);
	doc_is("theirs only", "{}", "{}", "{\"a\": 1}", JMERGE_OURS,
	       JMERGE_DOC_THEIRS, NULL, 0, false);
	doc_is("ours reformatted only: theirs' bytes", "{\"a\":1}",
	       "{\n  \"a\": 1\n}\n", "{\"a\":2}", JMERGE_OURS,
	       JMERGE_DOC_THEIRS, NULL, 0, false);
	doc_is("deleted by theirs", "{}", "{}", NULL, JMERGE_OURS,
	       JMERGE_DOC_DELETE, NULL, 0, false);
	doc_is("added by theirs", NULL, NULL, "{}", JMERGE_OURS,
	       JMERGE_DOC_THEIRS, NULL, 0, false);
	doc_is("members merged, written in the README's layout",
	       "{\"a\":1,\"b\":[1]}", "{\"a\":2,\"b\":[1]}",
	       "{\"a\":1,\"b\":[1,2.50]}", JMERGE_OURS, JMERGE_DOC_MERGED,
	       "{\n  \"a\": 2,\n  \"b\": [\n    1,\n    2.50\n  ]\n}\n", 0,
	       false);
	doc_is("not JSON: whole values", "x", "y", "z", JMERGE_THEIRS,
	       JMERGE_DOC_THEIRS, NULL, 1, true);
	doc_is_flags("opaque: JSON merged as whole values", "{\"a\":1}",
		     "{\"a\":1,\"b\":2}", "{\"a\":1,\"c\":3}", JMERGE_OURS,
		     JMERGE_DOC_OURS, NULL, 1, true, JMERGE_DOC_OPAQUE);
	doc_is("not JSON, modify/delete keeps the modification", "x", "y", NULL,
	       JMERGE_THEIRS, JMERGE_DOC_OURS, NULL, 1, true);
	doc_is("a JSON conflict won by ours is ours' bytes", "{\"a\":1}",
	       "{\"a\":2}", "{\"a\":3}", JMERGE_OURS, JMERGE_DOC_OURS, NULL, 1,
	       false);
}

static void render(void)
{
	struct jmerge_result r;
	struct jt_buf b = { 0 };
	char *got;

	merge3("{\"a\":{\"x\":1},\"d\":1,\"e\":\"\\u00e9\"}",
	       "{\"a\":{\"x\":12345678901234567890},\"e\":\"f\"}",
	       "{\"a\":{\"x\":[1.0e400]},\"d\":2,\"e\":\"g\",\"n/\":1}",
	       JMERGE_THEIRS, &r, &got);
	CHECK(jmerge_conflicts_render(&b, "users/al\"ice.json", r.conflicts,
				      r.n) == 0,
	      "render");
	CHECK(b.p && !strcmp(b.p, "{\n"
				  "  \"path\": \"users/al\\\"ice.json\",\n"
				  "  \"conflicts\": [\n"
				  "    {\n"
				  "      \"pointer\": \"/a/x\",\n"
				  "      \"kind\": \"both-modified\",\n"
				  "      \"base\": 1,\n"
				  "      \"ours\": 12345678901234567890,\n"
				  "      \"theirs\": [\n"
				  "        1.0e400\n"
				  "      ],\n"
				  "      \"winner\": \"theirs\"\n"
				  "    },\n"
				  "    {\n"
				  "      \"pointer\": \"/e\",\n"
				  "      \"kind\": \"both-modified\",\n"
				  "      \"base\": \"\\u00e9\",\n"
				  "      \"ours\": \"f\",\n"
				  "      \"theirs\": \"g\",\n"
				  "      \"winner\": \"theirs\"\n"
				  "    },\n"
				  "    {\n"
				  "      \"pointer\": \"/d\",\n"
				  "      \"kind\": \"deleted-modified\",\n"
				  "      \"base\": 1,\n"
				  "      \"theirs\": 2,\n"
				  "      \"winner\": \"theirs\"\n"
				  "    }\n"
				  "  ]\n"
				  "}\n"),
	      "conflicts.json:\n%s", b.p);
	free(b.p);
	free(got);
	jmerge_result_release(&r);
}

/* ---- the property test ---- */

/* A random object path in DOC (objects all the way), and the object it
 * ends at (borrowed). */
static const struct jt_value *random_object_path(const struct jt_value *doc,
						 struct jpath *p)
{
	const struct jt_value *at = doc;

	p->n = 0;
	while (at->n && rnd(3)) {
		const struct jt_member *m = &at->u.o.m[rnd((uint32_t)at->n)];

		if (m->value->type != JT_OBJECT || p->n == 15)
			break;
		p->seg[p->n++] = m->key;
		at = m->value;
	}
	return at;
}

/* One random edit of object document *DOC (replaced by the new one). */
static void edit(struct jt_value **doc, struct jt_value **keys)
{
	struct jpath p;
	const struct jt_value *at = random_object_path(*doc, &p);
	struct jt_value *nd, *v = NULL;
	uint32_t op = rnd(10);

	if (op < 4 || !at->n) {
		/* Set a (maybe new) member to a new value. */
		p.seg[p.n++] = keys[rnd(NKEYS)];
		v = gen_value(2, 1);
	} else if (op < 6) {
		/* Delete a member. */
		p.seg[p.n++] = at->u.o.m[rnd((uint32_t)at->n)].key;
	} else if (op < 8) {
		/* Change a member, an array one often (whole values). */
		const struct jt_member *m = &at->u.o.m[rnd((uint32_t)at->n)];

		p.seg[p.n++] = m->key;
		if (m->value->type == JT_ARRAY) {
			v = copy1(m->value);
			jt_array_append(v, gen_value(1, 0));
		} else {
			v = gen_value(1, 0);
		}
	} else {
		/* Set a member to one of a few small scalars (so both
		 * sides often make equal changes). */
		static const char *const small[] = { "1", "2", "\"s\"" };
		const char *s = small[rnd(3)];

		p.seg[p.n++] = keys[rnd(4)];
		v = jt_new_scalar(s[0] == '"' ? JT_STRING : JT_NUMBER, s,
				  strlen(s));
	}
	nd = set_path(*doc, &p, 0, v);
	jt_unref(*doc);
	*doc = nd;
}

struct change {
	struct jpath p;
	const struct jt_value *v; /* borrowed from the side; NULL: absent */
	bool obj; /* made an object: members merge, so any object will do */
};

struct changes {
	struct change v[512];
	size_t n;
};

/* The changes of S against B at the merge's granularity: members of
 * objects on both, anything else whole; where S made an object of
 * something else, that change and every member of it as an addition (if
 * the other side made an object there too, they merge by member). */
static void changes_of(const struct jt_value *b, const struct jt_value *s,
		       struct jpath *p, struct changes *out)
{
	if (s && s->type == JT_OBJECT && (!b || b->type != JT_OBJECT) &&
	    out->n < 512) {
		out->v[out->n].p = *p;
		out->v[out->n].obj = true;
		out->v[out->n++].v = s;
		b = NULL;
	}
	if (s && s->type == JT_OBJECT && (!b || b->type == JT_OBJECT) &&
	    p->n < 15) {
		for (int pass = 0; pass < 2; pass++) {
			const struct jt_value *o = pass ? b : s;

			for (size_t i = 0; o && i < o->n; i++) {
				const struct jt_value *k = o->u.o.m[i].key;

				if (pass &&
				    (!b || jt_object_find(s, k->u.s.dec,
							  k->u.s.dlen) >= 0))
					continue;
				p->seg[p->n++] = k;
				changes_of(b ? jt_object_get(b, k->u.s.dec,
							     k->u.s.dlen) :
					       NULL,
					   jt_object_get(s, k->u.s.dec,
							 k->u.s.dlen),
					   p, out);
				p->n--;
			}
		}
		return;
	}
	if (jt_equal(b, s) || out->n == 512)
		return;
	out->v[out->n].p = *p;
	out->v[out->n++].v = s;
}

static bool is_prefix(const struct jpath *a, const struct jpath *b)
{
	if (a->n > b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!jt_equal(a->seg[i], b->seg[i]))
			return false;
	return true;
}

/* Check one side's changes (MINE) against the result, the other side's
 * changes and the conflicts. */
static void check_side(int seed, const char *side, const struct changes *mine,
		       const struct changes *other,
		       const struct jmerge_result *r, bool we_are_ours)
{
	struct jt_buf ptr = { 0 };

	for (size_t i = 0; i < mine->n; i++) {
		const struct change *c = &mine->v[i];
		const struct jt_value *got = get_path(r->value, &c->p, 0);
		bool touched = false, found = false;

		for (size_t j = 0; j < other->n && !touched; j++)
			touched = is_prefix(&c->p, &other->v[j].p) ||
				  is_prefix(&other->v[j].p, &c->p);
		if (jt_equal(got, c->v) ||
		    (c->obj && got && got->type == JT_OBJECT))
			continue;
		CHECK(touched,
		      "seed %d: %s's change lost though the other side did "
		      "not touch it",
		      seed, side);
		/* Lost: the conflicts list must have it. */
		for (size_t k = 0; k < r->n && !found; k++) {
			const struct jmerge_conflict *cf = &r->conflicts[k];
			size_t depth = 0;

			for (size_t j = 0; j < cf->plen; j++)
				depth += cf->pointer[j] == '/';
			if (depth > c->p.n)
				continue;
			path_pointer(&c->p, depth, &ptr);
			if (ptr.len != cf->plen ||
			    memcmp(ptr.p, cf->pointer, ptr.len))
				continue;
			found = jt_equal(get_path(we_are_ours ? cf->ours :
								cf->theirs,
						  &c->p, depth),
					 c->v);
		}
		CHECK(found,
		      "seed %d: %s's change at %s not in the "
		      "conflicts list",
		      seed, side, (path_pointer(&c->p, c->p.n, &ptr), ptr.p));
	}
	free(ptr.p);
}

/* Each conflict holds the three values at its pointer, and the result
 * there is the winner's. */
static void check_conflicts(int seed, const struct jt_value *b,
			    const struct jt_value *o, const struct jt_value *t,
			    const struct jmerge_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct jmerge_conflict *c = &r->conflicts[i];
		const struct jt_value *won =
			c->winner == JMERGE_OURS ? c->ours : c->theirs;

		CHECK(!jt_equal(c->ours, c->theirs) && won,
		      "seed %d: conflict %s of equal values", seed, c->pointer);
		CHECK(c->kind != JMERGE_MODIFY_DELETE ||
			      (c->ours && !c->theirs &&
			       c->winner == JMERGE_OURS),
		      "seed %d: modify/delete", seed);
		CHECK(c->kind != JMERGE_DELETE_MODIFY ||
			      (!c->ours && c->theirs &&
			       c->winner == JMERGE_THEIRS),
		      "seed %d: delete/modify", seed);
		(void)b, (void)o, (void)t;
	}
}

/* Every scalar or array in RESULT is ours' or theirs' at its place. */
static void check_origin(int seed, const struct jt_value *res,
			 const struct jt_value *o, const struct jt_value *t)
{
	if (!res || !o || !t || res->type != JT_OBJECT)
		return;
	for (size_t i = 0; i < res->n; i++) {
		const struct jt_value *k = res->u.o.m[i].key;
		const struct jt_value *rv = res->u.o.m[i].value;
		const struct jt_value *ov =
			o->type == JT_OBJECT ?
				jt_object_get(o, k->u.s.dec, k->u.s.dlen) :
				NULL;
		const struct jt_value *tv =
			t->type == JT_OBJECT ?
				jt_object_get(t, k->u.s.dec, k->u.s.dlen) :
				NULL;

		if (rv->type == JT_OBJECT && ov && tv &&
		    ov->type == JT_OBJECT && tv->type == JT_OBJECT) {
			check_origin(seed, rv, ov, tv);
			continue;
		}
		CHECK(jt_equal(rv, ov) || jt_equal(rv, tv) ||
			      rv->type == JT_OBJECT,
		      "seed %d: member %.*s from nowhere", seed,
		      (int)k->u.s.len, k->u.s.raw);
	}
}

/* Through text and back, spelt compactly or in the merged layout. */
static struct jt_value *reparse(struct jt_value *v)
{
	struct jt_buf b = { 0 };
	struct jt_value *w;

	if (!v)
		return NULL;
	jt_write(&b, v, rnd(2) ? JT_PRETTY : JT_COMPACT);
	w = parse_text(b.p, b.len);
	CHECK(jt_equal(v, w), "reparse changed a value");
	free(b.p);
	jt_unref(v);
	return w;
}

/* jmerge_doc on the three as texts agrees with jmerge_values: the side
 * taken whole is that side's text exactly, merged bytes parse equal. */
static void check_doc(int seed, const struct jt_value *b,
		      const struct jt_value *o, const struct jt_value *t,
		      enum jmerge_side w, const struct jmerge_result *r)
{
	struct jt_buf tb = { 0 }, to = { 0 }, tt = { 0 };
	struct jmerge_doc d;
	struct jt_value *got = NULL;

	if (b)
		jt_write(&tb, b, JT_PRETTY);
	if (o)
		jt_write(&to, o, rnd(2) ? JT_PRETTY : JT_COMPACT);
	if (t)
		jt_write(&tt, t, JT_COMPACT);
	CHECK(jmerge_doc(&d, tb.p, tb.len, to.p, to.len, tt.p, tt.len, w, 0) ==
		      0,
	      "seed %d: jmerge_doc", seed);
	switch (d.action) {
	case JMERGE_DOC_OURS:
		CHECK(o && (jt_equal(o, r->value) || (!t && jt_equal(o, b))),
		      "seed %d: doc ours", seed);
		break;
	case JMERGE_DOC_THEIRS:
		CHECK(t && (jt_equal(t, r->value) || (!o && jt_equal(t, b))),
		      "seed %d: doc theirs", seed);
		break;
	case JMERGE_DOC_DELETE:
		CHECK(!r->value, "seed %d: doc deleted", seed);
		break;
	case JMERGE_DOC_MERGED:
		got = parse_text(d.bytes, d.len);
		CHECK(jt_equal(got, r->value) && d.len &&
			      d.bytes[d.len - 1] == '\n',
		      "seed %d: merged bytes", seed);
		break;
	}
	if (b && (!o || !t) && !r->value && (o || t) &&
	    (o ? to.len != tb.len || memcmp(to.p, tb.p, tb.len) :
		 tt.len != tb.len || memcmp(tt.p, tb.p, tb.len))) {
		/* Only the layout changed against a deletion: kept. */
		CHECK(d.n == 1 && d.action == (o ? JMERGE_DOC_OURS :
						   JMERGE_DOC_THEIRS),
		      "seed %d: relaid document deleted", seed);
	} else {
		CHECK(d.n == r->n,
		      "seed %d: doc has %zu conflicts, values "
		      "%zu",
		      seed, d.n, r->n);
	}
	jt_unref(got);
	jmerge_doc_release(&d);
	free(tb.p), free(to.p), free(tt.p);
}

static void one_case(int seed, struct jt_value **keys)
{
	struct jt_value *b = gen_object(3), *o, *t;
	struct jmerge_result r1, r2;
	enum jmerge_side w = rnd(2) ? JMERGE_OURS : JMERGE_THEIRS;
	struct changes *co = calloc(1, sizeof(*co));
	struct changes *ct = calloc(1, sizeof(*ct));
	struct jpath root = { .n = 0 };
	struct jt_buf out = { 0 };
	uint32_t kind = rnd(40);

	o = jt_ref(b), t = jt_ref(b);
	for (uint32_t i = 1 + rnd(5); i > 0; i--)
		edit(&o, keys);
	for (uint32_t i = 1 + rnd(5); i > 0; i--)
		edit(&t, keys);
	if (kind == 0) { /* add/add */
		jt_unref(b);
		b = NULL;
	} else if (kind == 1) { /* deleted by ours */
		jt_unref(o);
		o = NULL;
	} else if (kind == 2) { /* deleted by theirs */
		jt_unref(t);
		t = NULL;
	} else if (kind == 3) { /* ours made a scalar */
		jt_unref(o);
		o = gen_value(0, 0);
	}
	b = reparse(b), o = reparse(o), t = reparse(t);
	CHECK(jmerge_values(&r1, b, o, t, w) == 0, "seed %d: merge", seed);
	CHECK(jmerge_values(&r2, b, t, o, !w) == 0, "seed %d: merge", seed);
	CHECK(jt_equal(r1.value, r2.value), "seed %d: both ways differ", seed);
	CHECK(r1.n == r2.n, "seed %d: %zu and %zu conflicts", seed, r1.n, r2.n);
	if (r1.value) {
		struct store_json_error e;

		jt_write(&out, r1.value, JT_PRETTY);
		CHECK(store_json_validate(out.p, out.len, &e) == 0,
		      "seed %d: invalid output %s", seed, out.p);
	}
	if (getenv("JMERGE_DEBUG") && atoi(getenv("JMERGE_DEBUG")) == seed) {
		struct jt_buf d = { 0 };

		jt_buf_puts(&d, "base: ");
		if (b)
			jt_write(&d, b, JT_COMPACT);
		jt_buf_puts(&d, "\nours: ");
		if (o)
			jt_write(&d, o, JT_COMPACT);
		jt_buf_puts(&d, "\ntheirs: ");
		if (t)
			jt_write(&d, t, JT_COMPACT);
		jt_buf_puts(&d, "\nresult: ");
		if (r1.value)
			jt_write(&d, r1.value, JT_COMPACT);
		jt_buf_puts(&d, "\n");
		jmerge_conflicts_render(&d, NULL, r1.conflicts, r1.n);
		fprintf(stderr, "%s winner %d\n", d.p, w);
		free(d.p);
	}
	changes_of(b, o, &root, co);
	changes_of(b, t, &root, ct);
	check_side(seed, "ours", co, ct, &r1, true);
	check_side(seed, "theirs", ct, co, &r1, false);
	check_conflicts(seed, b, o, t, &r1);
	check_origin(seed, r1.value, o, t);
	check_doc(seed, b, o, t, w, &r1);
	/* Modify/delete of the document keeps the modification. */
	CHECK((o && t) || !b || r1.value || (!o && !t) ||
		      jt_equal(o ? o : t, b),
	      "seed %d: a modified document was deleted", seed);
	free(out.p);
	free(co);
	free(ct);
	jmerge_result_release(&r1);
	jmerge_result_release(&r2);
	jt_unref(b), jt_unref(o), jt_unref(t);
}

static void property(void)
{
	struct jt_value *keys[NKEYS];

	gen_unique_keys = 1;
	for (size_t i = 0; i < NKEYS; i++)
		keys[i] = key_value(gen_keys[i]);
	for (int seed = 1; seed <= CASES; seed++) {
		rng_state = 0x9E3779B97F4A7C15u * (uint64_t)seed;
		one_case(seed, keys);
	}
	for (size_t i = 0; i < NKEYS; i++)
		jt_unref(keys[i]);
}

/* {"k":{"k":...{"v":V,"w":W}...}} nested LEVELS deep, with "t":T at the
 * top. */
static struct jt_value *chain(size_t levels, const char *v, const char *w,
			      const char *t)
{
	struct jt_buf b = { 0 };
	struct jt_value *r;

	jt_buf_puts(&b, "{\"t\":");
	jt_buf_puts(&b, t);
	for (size_t i = 0; i < levels; i++)
		jt_buf_puts(&b, ",\"k\":{\"x\":0");
	jt_buf_puts(&b, ",\"v\":");
	jt_buf_puts(&b, v);
	jt_buf_puts(&b, ",\"w\":");
	jt_buf_puts(&b, w);
	for (size_t i = 0; i <= levels; i++)
		jt_buf_puts(&b, "}");
	r = parse_text(b.p, b.len);
	free(b.p);
	return r;
}

/* Both sides change the bottom of a very deep document: the merge
 * recurses JMERGE_MAX_DEPTH levels, then takes the rest whole. */
static void deep_documents(void)
{
	struct jt_value *b = chain(3000, "0", "0", "0");
	struct jt_value *o = chain(3000, "1", "0", "0");
	struct jt_value *t = chain(3000, "0", "2", "3");
	struct jmerge_result r;
	struct jt_buf out = { 0 };

	CHECK(jmerge_values(&r, b, o, t, JMERGE_THEIRS) == 0, "deep merge");
	CHECK(r.n == 1 && r.conflicts[0].plen == 2 * JMERGE_MAX_DEPTH &&
		      r.value && jt_object_get(r.value, "t", 1) &&
		      !strcmp(jt_object_get(r.value, "t", 1)->u.s.raw, "3"),
	      "deep: %zu conflicts", r.n);
	if (r.value) {
		jt_write(&out, r.value, JT_PRETTY);
		CHECK(store_json_validate(out.p, out.len, NULL) == 0,
		      "deep output");
	}
	free(out.p);
	jmerge_result_release(&r);
	jt_unref(b), jt_unref(o), jt_unref(t);
}

int main(void)
{
	deep_documents();
	spec_cases();
	doc_cases();
	render();
	property();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("jmerge: ok (%d random cases)\n", CASES);
	return 0;
}
