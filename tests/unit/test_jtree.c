/* test_jtree.c - JSON trees keep every token's exact text: each corpus
 * file the validator accepts comes back token for token, numbers and
 * strings as written; duplicate keys, equality, the written layout, and
 * nesting far deeper than any stack. Argument: the corpus directory. */
#include <dirent.h>
#include <errno.h>

#include <jansson.h>

#include "jgen.h"

/* TEXT without the whitespace between tokens (strings kept whole). */
static void strip(const char *s, size_t n, struct jt_buf *out)
{
	bool in = false;

	out->len = 0;
	jt_buf_put(out, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (in) {
			jt_buf_put(out, s + i, 1);
			if (s[i] == '\\')
				jt_buf_put(out, s + ++i, 1);
			else if (s[i] == '"')
				in = false;
			continue;
		}
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
			continue;
		if (s[i] == '"')
			in = true;
		jt_buf_put(out, s + i, 1);
	}
}

static bool has_duplicate_keys(const char *s, size_t n)
{
	json_error_t e;
	json_t *j = json_loadb(
		s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
		&e);

	json_decref(j);
	return !j && strstr(e.text, "duplicate");
}

/* TEXT comes back token for token (compact), and its pretty form is
 * valid, parses equal, and compacts the same. */
static void round_trip(const char *name, const char *s, size_t n, bool dups)
{
	struct jt_buf want = { 0 }, compact = { 0 }, pretty = { 0 },
		      again = { 0 };
	struct jt_value *v = NULL, *w = NULL;
	struct store_json_error e;

	if (store_json_validate(s, n, &e) < 0) {
		CHECK(jt_parse(&v, s, n, &e) == -EINVAL,
		      "%s: refused by the validator, not by jt_parse", name);
		return;
	}
	CHECK(jt_parse(&v, s, n, &e) == 0, "%s: does not parse", name);
	if (!v)
		return;
	strip(s, n, &want);
	jt_write(&compact, v, JT_COMPACT);
	CHECK((compact.len == want.len &&
	       !memcmp(compact.p, want.p, want.len)) ||
		      (dups && has_duplicate_keys(s, n)),
	      "%s: %s came back as %s", name, want.p, compact.p);
	jt_write(&pretty, v, JT_PRETTY);
	CHECK(store_json_validate(pretty.p, pretty.len, &e) == 0,
	      "%s: pretty form invalid: %s", name, pretty.p);
	CHECK(pretty.len && pretty.p[pretty.len - 1] == '\n',
	      "%s: no final newline", name);
	CHECK(jt_parse(&w, pretty.p, pretty.len, &e) == 0 && jt_equal(v, w),
	      "%s: pretty form parses differently", name);
	if (w)
		jt_write(&again, w, JT_COMPACT);
	CHECK(again.len == compact.len &&
		      !memcmp(again.p, compact.p, compact.len),
	      "%s: compact form changed through the pretty one", name);
	jt_unref(v);
	jt_unref(w);
	free(want.p), free(compact.p), free(pretty.p), free(again.p);
}

static int corpus(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int files = 0;

	CHECK(d != NULL, "%s: %s", dir, strerror(errno));
	while (d && (de = readdir(d))) {
		char path[4096], *buf;
		FILE *f;
		long n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		buf = malloc((size_t)n + 1);
		if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
			round_trip(de->d_name, buf, (size_t)n, true);
			files++;
		}
		free(buf);
		fclose(f);
	}
	if (d)
		closedir(d);
	return files;
}

static struct jt_value *P(const char *s)
{
	return parse_text(s, strlen(s));
}

static void write_is(const char *in, enum jt_style style, const char *want)
{
	struct jt_value *v = P(in);
	struct jt_buf b = { 0 };

	if (!v)
		return;
	jt_write(&b, v, style);
	CHECK(b.p && !strcmp(b.p, want), "%s written as\n%s\nnot\n%s", in, b.p,
	      want);
	free(b.p);
	jt_unref(v);
}

static void equal_is(const char *a, const char *b, bool want)
{
	struct jt_value *x = P(a), *y = P(b);

	CHECK(x && y && jt_equal(x, y) == want && jt_equal(y, x) == want,
	      "%s == %s should be %d", a, b, want);
	jt_unref(x);
	jt_unref(y);
}

static void exact_text(void)
{
	/* Numbers and strings exactly as written. */
	write_is(
		"[12345678901234567890,1.0e400,-0.0,1E-7,\"\\u00e9\",\"\xc3\xa9\","
		"\"\\ud83d\\ude00\",\"\\/\",\"\\u0000\"]",
		JT_COMPACT,
		"[12345678901234567890,1.0e400,-0.0,1E-7,\"\\u00e9\",\"\xc3\xa9\","
		"\"\\ud83d\\ude00\",\"\\/\",\"\\u0000\"]");
	/* Duplicates: first position and key text, last value. */
	write_is("{\"a\":1,\"b\":2,\"\\u0061\":3}", JT_COMPACT,
		 "{\"a\":3,\"b\":2}");
	/* The layout of merged documents. */
	write_is("{\"a\":[1,{},[]],\"b\":{\"c\":null}}", JT_PRETTY,
		 "{\n  \"a\": [\n    1,\n    {},\n    []\n  ],\n"
		 "  \"b\": {\n    \"c\": null\n  }\n}\n");
	write_is("  7 ", JT_PRETTY, "7\n");
	write_is("{}", JT_PRETTY, "{}\n");
}

static void equality(void)
{
	equal_is("\"\\u00e9\"", "\"\xc3\xa9\"", true);
	equal_is("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"", true);
	equal_is("\"\\/\\n\"", "\"/\\u000a\"", true);
	equal_is("\"\\ud800\"", "\"\\uD800\"", true);
	equal_is("\"\\ud800\"", "\"\\ud801\"", false);
	equal_is("\"\\u0000\"", "\"\"", false);
	equal_is("1", "1.0", false);
	equal_is("0", "-0", false);
	equal_is("1e400", "1e400", true);
	equal_is("{\"a\":1,\"b\":[true,null]}", "{\"b\":[true,null],\"a\":1}",
		 true);
	equal_is("{\"\\u00e9\":1}", "{\"\xc3\xa9\":1}", true);
	equal_is("{\"a\":1}", "{\"a\":1,\"b\":1}", false);
	equal_is("[1,2]", "[2,1]", false);
	equal_is("[]", "{}", false);
	equal_is("null", "false", false);
}

/* A lone surrogate and a NUL written back as escapes by jt_buf_string. */
static void string_literals(void)
{
	struct jt_value *v = P("\"a\\ud800\\u0000\\\"\\\\\\n\\ude00z\"");
	struct jt_buf b = { 0 };

	if (!v)
		return;
	jt_buf_string(&b, v->u.s.dec, v->u.s.dlen);
	CHECK(!strcmp(b.p, "\"a\\ud800\\u0000\\\"\\\\\\u000a\\ude00z\""),
	      "literal %s", b.p);
	free(b.p);
	jt_unref(v);
}

/* Far deeper than the C stack allows recursion. */
static void deep(void)
{
	size_t levels = 200000;
	struct jt_value *v = NULL, *w = NULL;
	struct jt_buf b = { 0 }, t = { 0 };

	/* Alternating {"k": and [ around a 1. */
	for (size_t i = 0; i < levels; i++)
		jt_buf_puts(&t, i % 2 ? "[" : "{\"k\":");
	jt_buf_puts(&t, "1");
	for (size_t i = levels; i-- > 0;)
		jt_buf_puts(&t, i % 2 ? "]" : "}");
	CHECK(jt_parse(&v, t.p, t.len, NULL) == 0, "deep parse");
	CHECK(jt_parse(&w, t.p, t.len, NULL) == 0, "deep parse 2");
	if (v && w) {
		CHECK(jt_equal(v, w), "deep equal");
		jt_write(&b, v, JT_COMPACT);
		CHECK(b.len == t.len && !memcmp(b.p, t.p, t.len), "deep write");
	}
	free(b.p);
	free(t.p);
	jt_unref(v);
	jt_unref(w);
}

/* Objects big enough for the hash index find every member. */
static void big_object(void)
{
	struct jt_buf t = { 0 };
	struct jt_value *v = NULL;
	char key[32];

	jt_buf_puts(&t, "{");
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "%s\"k%d\":%d", i ? "," : "", i, i);
		jt_buf_puts(&t, key);
	}
	jt_buf_puts(&t, ",\"k17\":\"again\"}");
	CHECK(jt_parse(&v, t.p, t.len, NULL) == 0, "big parse");
	if (v) {
		CHECK(v->n == 5000, "big object has %zu members", v->n);
		for (int i = 0; i < 5000; i++) {
			const struct jt_value *m;

			snprintf(key, sizeof(key), "k%d", i);
			m = jt_object_get(v, key, strlen(key));
			CHECK(m && (i == 17 ? m->type == JT_STRING :
					      m->type == JT_NUMBER &&
						      atoi(m->u.s.raw) == i),
			      "member %s", key);
		}
		CHECK(!jt_object_get(v, "k5000", 5), "no k5000");
		CHECK(!strcmp(v->u.o.m[17].key->u.s.raw, "\"k17\""),
		      "k17 kept its place");
	}
	jt_unref(v);
	free(t.p);
}

/* Random texts: compact output is the text without whitespace unless
 * keys repeat; output parses back equal. */
static void random_texts(void)
{
	gen_unique_keys = 1;
	for (int i = 0; i < 3000; i++) {
		struct jt_buf b = { 0 };

		gen_text(&b, 4, i % 3);
		round_trip("random", b.p, b.len, false);
		free(b.p);
	}
}

int main(int argc, char **argv)
{
	int files = argc > 1 ? corpus(argv[1]) : 0;

	CHECK(argc < 2 || files >= 10, "corpus: only %d files", files);
	exact_text();
	equality();
	string_literals();
	deep();
	big_object();
	random_texts();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("jtree: ok (%d corpus files)\n", files);
	return 0;
}
