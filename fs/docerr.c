/* docerr.c - why the last save of a document was refused, by mount path
 * (BRANCH/PATH), for its user.chronofs.error extended attribute: a close
 * that fails is easy to miss (bash ignores it), the attribute stays until
 * the document's next successful save or its deletion. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "banned.h"

/* Refusals remembered at most; the oldest is forgotten first. */
#define DOCERR_MAX 4096

struct docerr {
	char *full, *msg;
	struct docerr *prev, *next; /* newest at head */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct docerr *head, *tail; /* guarded by lock */
static size_t count;

/* Caller holds lock. */
static struct docerr *find(const char *full)
{
	struct docerr *e = head;

	while (e && strcmp(e->full, full))
		e = e->next;
	return e;
}

/* Caller holds lock. */
static void drop(struct docerr *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		tail = e->prev;
	free(e->full);
	free(e->msg);
	free(e);
	count--;
}

void fs_doc_error_set(const char *full, const char *msg)
{
	struct docerr *e = calloc(1, sizeof(*e)), *old;

	if (!e || !(e->full = strdup(full)) || !(e->msg = strdup(msg))) {
		if (e)
			free(e->full);
		free(e);
		return;
	}
	pthread_mutex_lock(&lock);
	if ((old = find(full)))
		drop(old);
	if (count == DOCERR_MAX)
		drop(tail);
	e->next = head;
	if (head)
		head->prev = e;
	head = e;
	if (!tail)
		tail = e;
	count++;
	pthread_mutex_unlock(&lock);
}

void fs_doc_error_clear(const char *full)
{
	struct docerr *e;

	pthread_mutex_lock(&lock);
	if (count && (e = find(full)))
		drop(e);
	pthread_mutex_unlock(&lock);
}

int fs_doc_error_get(const char *full, char **out)
{
	struct docerr *e;
	int err = -ENODATA;

	*out = NULL;
	pthread_mutex_lock(&lock);
	if (count && (e = find(full))) {
		*out = strdup(e->msg);
		err = *out ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

void fs_doc_error_clear_all(void)
{
	pthread_mutex_lock(&lock);
	while (head)
		drop(head);
	pthread_mutex_unlock(&lock);
}
