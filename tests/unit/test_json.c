/* test_json.c - the JSON validator accepts exactly RFC 8259 texts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct item {
	const char *text;
	size_t len; /* 0: strlen */
	int ok;
	unsigned line, column; /* for refusals: where the error is */
};

static const struct item items[] = {
	{ "{}", 0, 1, 0, 0 },
	{ "[]", 0, 1, 0, 0 },
	{ "42", 0, 1, 0, 0 },
	{ "-0.0e+10", 0, 1, 0, 0 },
	{ "\"s\"", 0, 1, 0, 0 },
	{ "null", 0, 1, 0, 0 },
	{ " \t\r\n true \n", 0, 1, 0, 0 },
	{ "123456789012345678901234567890", 0, 1, 0, 0 },
	{ "1e400", 0, 1, 0, 0 },
	{ "{\"a\":\"\\u0000\",\"b\":[1,2,{\"c\":null}]}", 0, 1, 0, 0 },
	{ "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", 0, 1, 0, 0 },
	{ "{\"a\":1,\"a\":2}", 0, 1, 0, 0 },
	{ "", 0, 0, 1, 1 },
	{ "{\"name\": broken", 0, 0, 1, 10 },
	{ "{\"a\":1}x", 0, 0, 1, 8 },
	{ "{\"a\":1,}", 0, 0, 1, 8 },
	{ "[1,]", 0, 0, 1, 4 },
	{ "01", 0, 0, 1, 2 },
	{ "1.", 0, 0, 1, 3 },
	{ "-", 0, 0, 1, 2 },
	{ "\"\x01\"", 0, 0, 1, 2 },
	{ "\"\\x\"", 0, 0, 1, 3 },
	{ "\"\\u12g4\"", 0, 0, 1, 6 },
	{ "\"\xc3\"", 0, 0, 1, 2 },
	{ "\"\xc0\x80\"", 0, 0, 1, 2 },
	{ "\"\xed\xa0\x80\"", 0, 0, 1, 2 },
	{ "{\n\"a\" 1}", 0, 0, 2, 5 },
	{ "[1 2]", 0, 0, 1, 4 },
	{ "nul", 0, 0, 1, 1 },
	{ "{\"a\":1", 0, 0, 1, 7 },
	{ "\"a\0b\"", 5, 0, 1, 3 },
	{ "\xef\xbb\xbf{}", 0, 0, 1, 1 },
};

static int deep(size_t levels, int close)
{
	size_t n = levels * 2;
	char *buf = malloc(n);
	struct store_json_error e;
	int rc;

	for (size_t i = 0; i < levels; i++) {
		buf[i] = '[';
		buf[n - 1 - i] = ']';
	}
	rc = store_json_validate(buf, close ? n : n - 1, &e);
	free(buf);
	return rc;
}

int main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		const struct item *t = &items[i];
		struct store_json_error e = { 0 };
		size_t len = t->len ? t->len : strlen(t->text);
		int rc = store_json_validate(t->text, len, &e);
		int good = t->ok ? rc == 0 :
				   rc < 0 && e.line == t->line &&
					   e.column == t->column;

		if (good) {
			passed++;
			continue;
		}
		failed++;
		printf("FAIL item %zu: rc %d at %u:%u (%s)\n", i, rc, e.line,
		       e.column, e.reason ? e.reason : "");
	}
	/* Nesting of any depth: an explicit stack, no recursion. */
	if (deep(100000, 1) == 0 && deep(100000, 0) < 0)
		passed++;
	else
		failed++, printf("FAIL deep nesting\n");
	printf("json: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
