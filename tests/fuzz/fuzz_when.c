/*
 * fuzz_when.c - libFuzzer target for idx_parse_when (index/when.c), the
 * ISO-8601 instants of BRANCH@WHEN.
 *
 * Invariants: never crashes or reads past LEN (the input is an exact-size
 * copy, not NUL-terminated); returns 0 or -EINVAL; deterministic; an
 * accepted text starts with YYYY-MM-DD; and the instant it yields, printed
 * back as YYYY-MM-DDTHH:MM:SSZ, parses to the same instant (when its year
 * has four digits).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int64_t out = 0x5a5a5a5a, out2 = 0x5a5a5a5a, back = 0;
	int rc = idx_parse_when(s, size, &out);
	char text[64];
	struct tm tm;
	time_t t;

	if (rc != 0 && rc != -EINVAL) {
		fprintf(stderr, "idx_parse_when returned %d\n", rc);
		abort();
	}
	if (idx_parse_when(s, size, &out2) != rc || (rc == 0 && out != out2)) {
		fprintf(stderr, "idx_parse_when not deterministic\n");
		abort();
	}
	if (rc != 0)
		return 0;
	if (size < 10 || !digit(data[0]) || !digit(data[1]) ||
	    !digit(data[2]) || !digit(data[3]) || data[4] != '-' ||
	    !digit(data[5]) || !digit(data[6]) || data[7] != '-' ||
	    !digit(data[8]) || !digit(data[9])) {
		fprintf(stderr, "accepted a text not starting YYYY-MM-DD\n");
		abort();
	}
	t = (time_t)out;
	if (!gmtime_r(&t, &tm))
		return 0;
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return 0;
	snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
	if (idx_parse_when(text, strlen(text), &back) != 0 || back != out) {
		fprintf(stderr, "round trip: %.*s -> %lld -> %s -> %lld\n",
			(int)size, s, (long long)out, text, (long long)back);
		abort();
	}
	return 0;
}
