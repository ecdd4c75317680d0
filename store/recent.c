/* recent.c - the last objects this process wrote, kept in memory.
 *
 * A save writes a blob, the trees on its path and a commit, and the next
 * open, stat or save of the branch reads most of them back: libgit2 parses
 * each tree once per id, but first reads it from its loose file (open,
 * read, inflate). The object writer (objwrite.c) answers those reads from
 * here. Objects never change, so a kept copy is always right; the ring is
 * small and an object too big to keep is simply read from disk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

void store_recent_init(struct store_recent *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
}

void store_recent_free(struct store_recent *r)
{
	for (size_t i = 0; i < RECENT_N; i++)
		free(r->v[i].data);
	pthread_mutex_destroy(&r->lock);
}

void store_recent_put(struct store_recent *r, const git_oid *id,
		      git_object_t type, const void *data, size_t len)
{
	struct store_recent_obj *o;
	char *copy;

	if (len > RECENT_MAX || !(copy = malloc(len ? len : 1)))
		return;
	memcpy(copy, data, len);
	pthread_mutex_lock(&r->lock);
	o = &r->v[r->next];
	r->next = (r->next + 1) % RECENT_N;
	free(o->data);
	o->id = *id;
	o->type = type;
	o->len = len;
	o->data = copy;
	pthread_mutex_unlock(&r->lock);
}

/* Caller holds r->lock. */
static struct store_recent_obj *find(struct store_recent *r, const git_oid *id)
{
	/* Newest first: a save reads back what it wrote last. */
	for (size_t k = 1; k <= RECENT_N; k++) {
		struct store_recent_obj *o =
			&r->v[(r->next + RECENT_N - k) % RECENT_N];

		if (o->data && git_oid_equal(&o->id, id))
			return o;
	}
	return NULL;
}

int store_recent_get(struct store_recent *r, const git_oid *id,
		     git_odb_backend *be, void **data, size_t *len,
		     git_object_t *type)
{
	struct store_recent_obj *o;
	int err = -ENOENT;

	pthread_mutex_lock(&r->lock);
	o = find(r, id);
	if (o && data) {
		/* libgit2 frees what a backend returns: its allocator. */
		*data = git_odb_backend_data_alloc(be, o->len + 1);
		if (*data) {
			memcpy(*data, o->data, o->len);
			((char *)*data)[o->len] = '\0';
		}
	}
	if (o && data && !*data) {
		err = -ENOMEM;
	} else if (o) {
		*len = o->len;
		*type = o->type;
		err = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}
