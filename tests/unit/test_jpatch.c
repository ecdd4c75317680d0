/* test_jpatch.c - RFC 6902 patches from jpatch_diff, applied by a small
 * applier written here from the RFC (add, remove, replace; RFC 6901
 * pointers; "-" appends), turn A into B: for random pairs and for random
 * edits (inside arrays too) of random documents. */
#include <errno.h>

#include "jgen.h"
#include "jpatch.h"

#define CASES 4000

/* ---- the applier ---- */

struct seg {
	char *s; /* unescaped name, may hold NUL */
	size_t n;
};

/* Split pointer P (decoded bytes) into segments; -1 if malformed. */
static int split_pointer(const char *p, size_t n, struct seg *out, size_t max)
{
	size_t k = 0;

	if (n && p[0] != '/')
		return -1;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, o = 0;
		char *s = malloc(n + 1);

		if (k == max)
			return free(s), -1;
		while (j < n && p[j] != '/') {
			if (p[j] == '~') {
				if (j + 1 >= n ||
				    (p[j + 1] != '0' && p[j + 1] != '1'))
					return free(s), -1;
				s[o++] = p[j + 1] == '0' ? '~' : '/';
				j += 2;
			} else {
				s[o++] = p[j++];
			}
		}
		out[k].s = s;
		out[k++].n = o;
		i = j;
	}
	return (int)k;
}

/* An array index segment: digits without leading zeros, or "-" (N). */
static long index_of(const struct seg *s, size_t n, bool dash_ok)
{
	long v = 0;

	if (dash_ok && s->n == 1 && s->s[0] == '-')
		return (long)n;
	if (!s->n || s->n > 9 || (s->n > 1 && s->s[0] == '0'))
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		if (s->s[i] < '0' || s->s[i] > '9')
			return -1;
		v = v * 10 + (s->s[i] - '0');
	}
	return v;
}

enum op { OP_ADD, OP_REMOVE, OP_REPLACE };

/* A copy of container C with slot I (member or element) set to V (NULL:
 * removed); for arrays, INSERT puts V before element I. */
static struct jt_value *rebuild(const struct jt_value *c, size_t i,
				struct jt_value *key, struct jt_value *v,
				bool insert)
{
	struct jt_value *r;

	if (c->type == JT_ARRAY) {
		r = jt_new_array();
		for (size_t j = 0; j <= c->n; j++) {
			if (j == i && v)
				jt_array_append(r, jt_ref(v));
			if (j < c->n && (j != i || insert))
				jt_array_append(r, jt_ref(c->u.a.v[j]));
		}
		return r;
	}
	r = jt_new_object();
	for (size_t j = 0; j < c->n; j++) {
		if (j != i)
			jt_object_set(r, jt_ref(c->u.o.m[j].key),
				      jt_ref(c->u.o.m[j].value));
		else if (v)
			jt_object_set(r, jt_ref(c->u.o.m[j].key), jt_ref(v));
	}
	if (i == c->n && v)
		jt_object_set(r, jt_ref(key), jt_ref(v));
	return r;
}

/* ROOT with OP applied at SEG[K..N); *ok cleared on an error the RFC
 * names (missing target, bad index). Returns a new reference. */
static struct jt_value *apply_at(const struct jt_value *root,
				 const struct seg *seg, size_t k, size_t n,
				 enum op op, struct jt_value *val, bool *ok)
{
	const struct seg *s = &seg[k];
	struct jt_value *key = NULL, *r, *child;
	long i;

	if (k == n)
		return jt_ref(op == OP_REMOVE ? NULL : val);
	if (root->type == JT_OBJECT) {
		struct jt_buf b = { 0 };

		jt_buf_string(&b, s->s, s->n);
		key = jt_new_scalar(JT_STRING, b.p, b.len);
		free(b.p);
		i = jt_object_find(root, key->u.s.dec, key->u.s.dlen);
		if (i < 0 && (k + 1 < n || op != OP_ADD)) {
			*ok = false;
			jt_unref(key);
			return jt_ref((struct jt_value *)root);
		}
		if (i < 0)
			i = (long)root->n;
	} else if (root->type == JT_ARRAY) {
		i = index_of(s, root->n, k + 1 == n && op == OP_ADD);
		if (i < 0 || (size_t)i > root->n ||
		    ((size_t)i == root->n && !(k + 1 == n && op == OP_ADD))) {
			*ok = false;
			return jt_ref((struct jt_value *)root);
		}
	} else {
		*ok = false;
		return jt_ref((struct jt_value *)root);
	}
	if (k + 1 == n) {
		r = rebuild(root, (size_t)i, key, op == OP_REMOVE ? NULL : val,
			    root->type == JT_ARRAY && op == OP_ADD);
	} else {
		const struct jt_value *cur = root->type == JT_ARRAY ?
						     root->u.a.v[i] :
						     root->u.o.m[i].value;

		child = apply_at(cur, seg, k + 1, n, op, val, ok);
		r = rebuild(root, (size_t)i, key, child, false);
		jt_unref(child);
	}
	jt_unref(key);
	return r;
}

/* A with PATCH (JSON text) applied, or NULL with *ok cleared. */
static struct jt_value *apply_patch(const struct jt_value *a, const char *patch,
				    size_t len, bool *ok)
{
	struct jt_value *ops = parse_text(patch, len);
	struct jt_value *doc = jt_ref((struct jt_value *)a);

	*ok = ops && ops->type == JT_ARRAY;
	for (size_t i = 0; *ok && i < ops->n; i++) {
		const struct jt_value *o = ops->u.a.v[i];
		const struct jt_value *opv = jt_object_get(o, "op", 2);
		const struct jt_value *path = jt_object_get(o, "path", 4);
		struct jt_value *val = jt_object_get(o, "value", 5), *nd = NULL;
		struct seg seg[1024];
		enum op op;
		int n;

		if (!opv || !path || opv->type != JT_STRING ||
		    path->type != JT_STRING) {
			*ok = false;
			break;
		}
		if (opv->u.s.dlen == 3 && !memcmp(opv->u.s.dec, "add", 3))
			op = OP_ADD;
		else if (opv->u.s.dlen == 6 &&
			 !memcmp(opv->u.s.dec, "remove", 6))
			op = OP_REMOVE;
		else if (opv->u.s.dlen == 7 &&
			 !memcmp(opv->u.s.dec, "replace", 7))
			op = OP_REPLACE;
		else
			op = (enum op) - 1;
		if ((int)op < 0 || (op != OP_REMOVE && !val) ||
		    (op == OP_REMOVE && val)) {
			*ok = false;
			break;
		}
		n = split_pointer(path->u.s.dec, path->u.s.dlen, seg, 1024);
		if (n < 0) {
			*ok = false;
			break;
		}
		if (!doc && n > 0)
			*ok = false;
		else if (!doc)
			nd = jt_ref(op == OP_REMOVE ? NULL : val);
		else
			nd = apply_at(doc, seg, 0, (size_t)n, op, val, ok);
		for (int j = 0; j < n; j++)
			free(seg[j].s);
		if (!*ok)
			break;
		jt_unref(doc);
		doc = nd;
	}
	jt_unref(ops);
	if (!*ok) {
		jt_unref(doc);
		return NULL;
	}
	return doc;
}

/* ---- random edits, arrays included ---- */

/* DOC with one random change somewhere inside (a new reference). */
static struct jt_value *mutate(const struct jt_value *doc, int depth)
{
	uint32_t pick = rnd(4);

	if (depth > 4 || (doc->type != JT_OBJECT && doc->type != JT_ARRAY) ||
	    (!doc->n && pick == 0) || pick == 3) {
		if (doc->type == JT_ARRAY && rnd(2)) {
			/* Insert or remove an element. */
			size_t i = rnd((uint32_t)doc->n + 1);
			bool remove = i < doc->n && rnd(2);
			struct jt_value *v = remove ? NULL : gen_value(1, 0);
			struct jt_value *r = rebuild(doc, i, NULL, v, !remove);

			jt_unref(v);
			return r;
		}
		if (doc->type == JT_OBJECT && rnd(2)) {
			const char *k = gen_keys[rnd(NKEYS)];
			struct jt_value *key = key_value(k);
			struct jt_value *v = rnd(4) ? gen_value(2, 1) : NULL;
			long i = jt_object_find(doc, key->u.s.dec,
						key->u.s.dlen);
			struct jt_value *r = rebuild(
				doc, i < 0 ? doc->n : (size_t)i, key, v, false);

			jt_unref(key);
			jt_unref(v);
			return r;
		}
		return gen_value(2, (int)rnd(3));
	}
	if (!doc->n)
		return gen_value(2, 1);
	{
		size_t i = rnd((uint32_t)doc->n);
		const struct jt_value *child = doc->type == JT_ARRAY ?
						       doc->u.a.v[i] :
						       doc->u.o.m[i].value;
		struct jt_value *nc = mutate(child, depth + 1);
		struct jt_value *r = rebuild(doc, i, NULL, nc, false);

		jt_unref(nc);
		return r;
	}
}

static void check_pair(int seed, const struct jt_value *a,
		       const struct jt_value *b)
{
	struct jt_buf patch = { 0 };
	struct store_json_error e;
	struct jt_value *got;
	size_t nops;
	bool ok;

	CHECK(jpatch_diff(&patch, a, b, &nops) == 0, "seed %d: diff", seed);
	CHECK(store_json_validate(patch.p, patch.len, &e) == 0,
	      "seed %d: patch not JSON: %s", seed, patch.p);
	CHECK(jt_equal(a, b) == (nops == 0), "seed %d: %zu ops", seed, nops);
	got = apply_patch(a, patch.p, patch.len, &ok);
	CHECK(ok, "seed %d: patch %.300s does not apply", seed, patch.p);
	if (ok && !jt_equal(got, b)) {
		struct jt_buf x = { 0 }, y = { 0 }, z = { 0 };

		if (a)
			jt_write(&x, a, JT_COMPACT);
		if (b)
			jt_write(&y, b, JT_COMPACT);
		if (got)
			jt_write(&z, got, JT_COMPACT);
		CHECK(0, "seed %d: %.300s\n + %.300s\n = %.300s\n not %.300s",
		      seed, x.p, patch.p, z.p, y.p);
		free(x.p), free(y.p), free(z.p);
	}
	jt_unref(got);
	free(patch.p);
}

static struct jt_value *P(const char *s)
{
	return parse_text(s, strlen(s));
}

static void patch_is(const char *a, const char *b, const char *want)
{
	struct jt_value *x = a ? P(a) : NULL, *y = b ? P(b) : NULL;
	struct jt_buf patch = { 0 };

	jpatch_diff(&patch, x, y, NULL);
	CHECK(!strcmp(patch.p, want), "%s -> %s: %s, want %s", a, b, patch.p,
	      want);
	free(patch.p);
	jt_unref(x), jt_unref(y);
}

static void golden(void)
{
	patch_is("{\"a\":1}", "{\"a\":1}", "[]");
	patch_is("{\"a\":1,\"b\":2}", "{\"a\":1,\"c\":3}",
		 "[{\"op\":\"remove\",\"path\":\"/b\"},"
		 "{\"op\":\"add\",\"path\":\"/c\",\"value\":3}]");
	patch_is("{\"a/b\":{\"~\":1}}", "{\"a/b\":{\"~\":1.0e400}}",
		 "[{\"op\":\"replace\",\"path\":\"/a~1b/~0\","
		 "\"value\":1.0e400}]");
	patch_is("[1,2,3]", "[0,1,2,3]",
		 "[{\"op\":\"add\",\"path\":\"/0\",\"value\":0}]");
	patch_is("[1,2,3]", "[1,3]", "[{\"op\":\"remove\",\"path\":\"/1\"}]");
	patch_is("[1,{\"a\":1},3]", "[1,{\"a\":2},3]",
		 "[{\"op\":\"replace\",\"path\":\"/1/a\",\"value\":2}]");
	patch_is(NULL, "{\"x\":12345678901234567890}",
		 "[{\"op\":\"add\",\"path\":\"\","
		 "\"value\":{\"x\":12345678901234567890}}]");
	patch_is("[]", NULL, "[{\"op\":\"remove\",\"path\":\"\"}]");
	patch_is("{\"s\":\"\\u00e9\"}", "{\"s\":\"\xc3\xa9\"}", "[]");
	patch_is("{\"\\u0000\":1}", "{\"\\u0000\":2}",
		 "[{\"op\":\"replace\",\"path\":\"/\\u0000\",\"value\":2}]");
}

/* [[[...{"v":V}...]]] nested LEVELS deep. */
static struct jt_value *deep(size_t levels, const char *v)
{
	struct jt_buf b = { 0 };
	struct jt_value *r;

	for (size_t i = 0; i < levels; i++)
		jt_buf_puts(&b, i % 2 ? "[0," : "{\"k\":");
	jt_buf_puts(&b, v);
	for (size_t i = levels; i-- > 0;)
		jt_buf_puts(&b, i % 2 ? "]" : "}");
	r = parse_text(b.p, b.len);
	free(b.p);
	return r;
}

int main(void)
{
	struct jt_value *da = deep(3000, "1"), *db = deep(3000, "2");

	/* Deeper than JPATCH_MAX_DEPTH (replaced whole there): still A to B. */
	check_pair(0, da, db);
	jt_unref(da);
	jt_unref(db);
	golden();
	gen_unique_keys = 1;
	for (int seed = 1; seed <= CASES; seed++) {
		struct jt_value *a, *b;

		rng_state = 0xD1B54A32D192ED03u * (uint64_t)seed;
		a = gen_value(4, (int)rnd(3));
		if (seed % 4 == 0) {
			b = gen_value(4, (int)rnd(3));
		} else {
			b = jt_ref(a);
			for (uint32_t i = 1 + rnd(4); i > 0; i--) {
				struct jt_value *nb = mutate(b, 0);

				jt_unref(b);
				b = nb;
			}
		}
		check_pair(seed, a, b);
		check_pair(seed, b, a);
		jt_unref(a);
		jt_unref(b);
	}
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("jpatch: ok (%d random pairs, both ways)\n", CASES);
	return 0;
}
