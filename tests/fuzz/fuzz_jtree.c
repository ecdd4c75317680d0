/*
 * fuzz_jtree.c - libFuzzer target for store/jtree.c, jmerge.c, jpatch.c.
 *
 * Invariants:
 *  - jt_parse accepts exactly the texts store_json_validate accepts;
 *  - an accepted text written compactly parses back to an equal value
 *    and writes the same compact text again (no drift of number or
 *    string text); its pretty form (the layout of merged documents) is
 *    valid JSON and parses equal;
 *  - a value merged with itself is taken whole with no conflict, and
 *    the patch from a value to itself is "[]";
 *  - merging the value as both changes of an empty base (add/add of
 *    equal values) gives the value, no conflict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jmerge.h"
#include "jpatch.h"
#include "jtree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                         \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
				#c);                                       \
			abort();                                           \
		}                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct store_json_error e;
	struct jt_value *v = NULL, *w = NULL, *p = NULL;
	struct jt_buf c1 = { 0 }, c2 = { 0 }, pretty = { 0 }, patch = { 0 };
	struct jmerge_result r;
	int valid, err;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	valid = store_json_validate(buf, size, &e) == 0;
	err = jt_parse(&v, buf, size, &e);
	REQUIRE((err == 0) == valid);
	if (!v)
		goto out;
	REQUIRE(jt_write(&c1, v, JT_COMPACT) == 0);
	REQUIRE(jt_parse(&w, c1.p, c1.len, NULL) == 0);
	REQUIRE(jt_equal(v, w));
	REQUIRE(jt_write(&c2, w, JT_COMPACT) == 0);
	REQUIRE(c1.len == c2.len && !memcmp(c1.p, c2.p, c1.len));
	REQUIRE(jt_write(&pretty, v, JT_PRETTY) == 0);
	REQUIRE(store_json_validate(pretty.p, pretty.len, NULL) == 0);
	REQUIRE(jt_parse(&p, pretty.p, pretty.len, NULL) == 0);
	REQUIRE(jt_equal(v, p));
	REQUIRE(jmerge_values(&r, v, w, p, JMERGE_THEIRS) == 0);
	REQUIRE(r.n == 0 && r.whole == JMERGE_WHOLE_OURS);
	jmerge_result_release(&r);
	REQUIRE(jmerge_values(&r, NULL, v, w, JMERGE_OURS) == 0);
	REQUIRE(r.n == 0 && jt_equal(r.value, v));
	jmerge_result_release(&r);
	REQUIRE(jpatch_diff(&patch, v, w, NULL) == 0);
	REQUIRE(patch.len == 2 && !memcmp(patch.p, "[]", 2));
out:
	free(c1.p), free(c2.p), free(pretty.p), free(patch.p);
	jt_unref(v), jt_unref(w), jt_unref(p);
	free(buf);
	return 0;
}
