/* test_jfault.c - out of memory in the JSON merge code: every allocation
 * of a parse, a merge, a conflicts list, a write and a patch is made to
 * fail in turn (malloc, calloc and realloc wrapped by the linker, on a
 * countdown); each call then fails with -ENOMEM or succeeds, and nothing
 * leaks or crashes (the ASan build checks). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jmerge.h"
#include "jpatch.h"
#include "jtree.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static long countdown = -1; /* fail when it reaches 0; -1: never */
static long calls;

static int fail_now(void)
{
	calls++;
	return countdown >= 0 && countdown-- == 0;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

static const char base[] =
	"{\"a\":{\"x\":1,\"y\":[1,2]},\"s\":\"\\u00e9\",\"k0\":0,\"k1\":1,"
	"\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
	"\"d\":{\"e\":{\"f\":null}}}";
static const char ours[] =
	"{\"a\":{\"x\":2,\"y\":[1,2]},\"s\":\"o\",\"k0\":0,\"k1\":1,"
	"\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
	"\"d\":{\"e\":{\"f\":1}},\"n\":12345678901234567890}";
static const char theirs[] =
	"{\"a\":{\"x\":3,\"z\":true},\"s\":\"t\",\"k0\":0,\"k1\":1,"
	"\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k9\":9,"
	"\"n\":1.0e400}";

/* Everything once; returns the first error, or 0. */
static int run(void)
{
	struct jt_value *b = NULL, *o = NULL, *t = NULL;
	struct jmerge_result r = { 0 };
	struct jmerge_doc d = { 0 };
	struct jt_buf out = { 0 };
	int err;

	if ((err = jt_parse(&b, base, strlen(base), NULL)) < 0 ||
	    (err = jt_parse(&o, ours, strlen(ours), NULL)) < 0 ||
	    (err = jt_parse(&t, theirs, strlen(theirs), NULL)) < 0)
		goto out;
	if ((err = jmerge_values(&r, b, o, t, JMERGE_THEIRS)) < 0)
		goto out;
	if ((err = jmerge_conflicts_render(&out, "p.json", r.conflicts, r.n)) <
	    0)
		goto out;
	if (r.value && (err = jt_write(&out, r.value, JT_PRETTY)) < 0)
		goto out;
	if ((err = jpatch_diff(&out, b, o, NULL)) < 0 ||
	    (err = jpatch_diff(&out, o, t, NULL)) < 0)
		goto out;
	err = jmerge_doc(&d, base, strlen(base), ours, strlen(ours), theirs,
			 strlen(theirs), JMERGE_OURS, 0);
out:
	jmerge_doc_release(&d);
	jmerge_result_release(&r);
	free(out.p);
	jt_unref(b);
	jt_unref(o);
	jt_unref(t);
	return err;
}

int main(void)
{
	long total;
	int failures = 0, enomem = 0;

	countdown = -1;
	calls = 0;
	if (run() != 0) {
		fprintf(stderr, "FAIL: the run fails with memory\n");
		return 1;
	}
	total = calls;
	for (long i = 0; i < total; i++) {
		int err;

		countdown = i;
		err = run();
		countdown = -1;
		if (err != 0 && err != -ENOMEM) {
			fprintf(stderr, "FAIL: allocation %ld: %d\n", i, err);
			failures++;
		}
		enomem += err == -ENOMEM;
	}
	if (enomem < total / 2) {
		fprintf(stderr, "FAIL: only %d of %ld failures reported\n",
			enomem, total);
		failures++;
	}
	if (failures)
		return 1;
	printf("jfault: ok (%ld allocations failed in turn, %d reported)\n",
	       total, enomem);
	return 0;
}
