/* check.h - the unit tests' one assertion: CHECK(cond, fmt, ...) reports
 * a failed condition with its place and goes on, so one run lists every
 * failure; a test's main returns failures != 0. */
#ifndef CHRONOFS_TEST_CHECK_H
#define CHRONOFS_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

#endif
