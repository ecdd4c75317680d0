/*
 * fuzz_json.c - libFuzzer target for store/json.c, the RFC 8259 validator.
 *
 * Invariants, checked against jansson as the reference parser:
 *  - store_json_validate never crashes, never reads outside [buf, buf+len)
 *    (the input is an exact-size copy) and is deterministic;
 *  - a refusal fills the error with a reason, a line >= 1 and a column
 *    that points inside the input (or one past its end);
 *  - when the validator accepts, jansson (JSON_DECODE_ANY|JSON_ALLOW_NUL)
 *    accepts too, or fails only for one of the documented limits of
 *    jansson that RFC 8259 does not have: integers or reals too big,
 *    nesting too deep, a lone surrogate \u escape, NUL inside an object key;
 *  - when jansson accepts an input without NUL bytes, the validator
 *    accepts too (jansson is strict about UTF-8, escapes and grammar, so
 *    it never accepts more; but json_loadb stops at a raw NUL byte as if
 *    the input ended there, so "null\0" is JSON to jansson and rightly
 *    not to the validator).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int jansson_limit(const char *text)
{
	static const char *const limits[] = {
		"too big", /* integer beyond json_int_t */
		"overflow", /* real beyond double */
		"maximum parsing depth", /* JSON_PARSER_MAX_DEPTH */
		"Unicode", /* lone surrogate escape */
		"NUL byte in object key",
		"out of memory",
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (strstr(text, limits[i]))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct store_json_error err = { 0 }, err2 = { 0 };
	json_error_t jerr;
	json_t *v;
	int rc, rc2;

	rc = store_json_validate(buf, size, &err);
	rc2 = store_json_validate(buf, size, &err2);
	if (rc != rc2 ||
	    (rc && (err.line != err2.line || err.column != err2.column ||
		    strcmp(err.reason, err2.reason) != 0))) {
		fprintf(stderr, "validator not deterministic\n");
		abort();
	}
	if (rc != 0 && rc != -22) {
		fprintf(stderr, "validator returned %d\n", rc);
		abort();
	}
	if (rc) {
		size_t lines = 1;

		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (!err.reason || !*err.reason || err.line < 1 ||
		    err.line > lines || err.column < 1 ||
		    err.column > size + 1) {
			fprintf(stderr,
				"bad error: line %u column %u reason %s\n",
				err.line, err.column,
				err.reason ? err.reason : "(null)");
			abort();
		}
	}
	/* A NULL error pointer is allowed. */
	if (store_json_validate(buf, size, NULL) != rc)
		abort();

	v = json_loadb(buf, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (rc == 0 && !v && !jansson_limit(jerr.text)) {
		fprintf(stderr,
			"validator accepted, jansson refused: %s (line %d col %d)\n",
			jerr.text, jerr.line, jerr.column);
		abort();
	}
	if (rc != 0 && v && !memchr(data, 0, size)) {
		fprintf(stderr,
			"jansson accepted, validator refused: %s at %u:%u\n",
			err.reason, err.line, err.column);
		abort();
	}
	json_decref(v);
	return 0;
}
