/*
 * fuzz_spec.c - libFuzzer target for idx_spec_parse / idx_spec_release
 * (index/order.c), the SPEC of COLLECTION/@by/SPEC/.
 *
 * The input, cut at its first NUL, is the spec text. Invariants: never
 * crashes or leaks; returns 0, -EINVAL or -ENOMEM; on success 1 to
 * IDX_SPEC_MAX_FIELDS fields, none empty, none holding '/', none starting
 * or ending with '.', and the canonical form parses again to the very same
 * fields and directions (the canonical form names the persistent index, so
 * two different specs must never share one). Release twice is harmless.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_valid(const struct idx_spec *s, const char *text)
{
	if (s->n < 1 || s->n > IDX_SPEC_MAX_FIELDS || !s->canon) {
		fprintf(stderr, "spec '%s': %zu fields, canon %p\n", text, s->n,
			(void *)s->canon);
		abort();
	}
	for (size_t i = 0; i < s->n; i++) {
		const char *f = s->fields[i];
		size_t len = f ? strlen(f) : 0;

		if (!len || strchr(f, '/') || f[0] == '.' ||
		    f[len - 1] == '.' || strchr(f, ',')) {
			fprintf(stderr, "spec '%s': bad field %zu '%s'\n", text,
				i, f ? f : "(null)");
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct idx_spec s, again;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = idx_spec_parse(&s, text);
	if (rc != 0 && rc != -EINVAL && rc != -ENOMEM) {
		fprintf(stderr, "idx_spec_parse returned %d\n", rc);
		abort();
	}
	if (rc == 0) {
		check_valid(&s, text);
		if (idx_spec_parse(&again, s.canon) != 0) {
			fprintf(stderr, "canon '%s' of '%s' does not parse\n",
				s.canon, text);
			abort();
		}
		if (again.n != s.n || strcmp(again.canon, s.canon) != 0) {
			fprintf(stderr, "canon '%s' of '%s' reparses as '%s'\n",
				s.canon, text, again.canon);
			abort();
		}
		for (size_t i = 0; i < s.n; i++) {
			if (again.desc[i] != s.desc[i] ||
			    strcmp(again.fields[i], s.fields[i]) != 0) {
				fprintf(stderr,
					"spec '%s': field %zu is %s'%s', its canon '%s' "
					"reparses it as %s'%s'\n",
					text, i, s.desc[i] ? "descending " : "",
					s.fields[i], s.canon,
					again.desc[i] ? "descending " : "",
					again.fields[i]);
				abort();
			}
		}
		idx_spec_release(&again);
	}
	idx_spec_release(&s);
	idx_spec_release(&s);
	free(text);
	return 0;
}
