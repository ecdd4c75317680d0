/* skip.c - documents left out of the ordered indexes and views. A save
 * through the mount refuses a document over max_doc_size, but one
 * committed from outside may be any size: parsed for its fields it would
 * cost many times its size (and a field of it could make a key of that
 * size), so it is neither read nor given a row, and the log says so once
 * per version of it (a view computed from the tree at every listing
 * says nothing more). */
#include <stdint.h>
#include <stdio.h>

#include "db_int.h"
#include "banned.h"

#define SAID_SLOTS 256

static pthread_mutex_t said_lock = PTHREAD_MUTEX_INITIALIZER;
static struct said {
	struct store_oid blob;
	uint64_t path; /* FNV-1a of BRANCH \0 PATH */
	bool used;
} said[SAID_SLOTS];
static unsigned said_next;

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h * 0x100000001b3ULL; /* and the NUL after S */
}

void idx_skip_say(const char *branch, const char *path,
		  const struct store_oid *blob, size_t size, size_t max)
{
	uint64_t h = fnv(fnv(0xcbf29ce484222325ULL, branch), path);
	bool known = false;

	pthread_mutex_lock(&said_lock);
	for (size_t i = 0; i < SAID_SLOTS && !known; i++)
		known = said[i].used && said[i].path == h &&
			store_oid_equal(&said[i].blob, blob);
	if (!known) {
		struct said *s = &said[said_next++ % SAID_SLOTS];

		s->blob = *blob;
		s->path = h;
		s->used = true;
	}
	pthread_mutex_unlock(&said_lock);
	if (!known)
		idx_log(IDX_LOG_WARNING,
			"%s/%s: %zu bytes, over max_doc_size %zu: left out "
			"of the ordered views and indexes of its collection "
			"(it still reads whole through the mount)",
			branch, path, size, max);
}
