/* node.c - the inode table (see node.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "banned.h"

#define INITIAL_BUCKETS 1024

uint64_t fs_path_ino(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	if (!*path)
		return FUSE_ROOT_ID;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	/* Keep clear of the root's number and of 0. */
	return h <= FUSE_ROOT_ID ? h + 2 : h;
}

static size_t bucket(const struct fs_nodes *t, const struct fs_node *parent,
		     const char *name)
{
	uint64_t h = (uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return (size_t)(h % t->nbuckets);
}

int fs_nodes_init(struct fs_nodes *t, const char *root_path)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->nbuckets = INITIAL_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->root.nlookup = 1;
	t->root.ino = FUSE_ROOT_ID;
	t->root_path = root_path;
	return 0;
}

static void node_free(struct fs_node *n)
{
	if (n->name != n->inl)
		free(n->name);
	free(n->rare);
	free(n);
}

_Static_assert(sizeof(struct fs_node) <= 72, "a million nodes in 80 MB");

static bool superseded(const struct fs_node *n)
{
	return n->rare && n->rare->superseded;
}

/* NULL if there is no memory: a snapshot node then matches no commit, so
 * the kernel's copy is dropped. */
struct fs_node_rare *fs_node_rare_of(struct fs_node *n)
{
	if (!n->rare)
		n->rare = calloc(1, sizeof(*n->rare));
	return n->rare;
}

void fs_nodes_release(struct fs_nodes *t)
{
	for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
		struct fs_node *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			node_free(n);
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
}

/* A node's address is its inode number for the kernel, as in libfuse's
 * passthrough_ll: it must fit, and never be FUSE_ROOT_ID (1), which an
 * aligned allocation cannot be. */
_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "node addresses are inode numbers");

struct fs_node *fs_node_get(struct fs_nodes *t, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &t->root :
				     (struct fs_node *)(uintptr_t)ino;
}

fuse_ino_t fs_node_ino(struct fs_nodes *t, struct fs_node *n)
{
	return n == &t->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static struct fs_node *find(struct fs_nodes *t, struct fs_node *parent,
			    const char *name)
{
	struct fs_node *n = t->buckets[bucket(t, parent, name)];

	while (n && (n->detached || superseded(n) || n->parent != parent ||
		     strcmp(n->name, name) != 0))
		n = n->next;
	return n;
}

size_t fs_node_walk(struct fs_nodes *t, const char *rel, fuse_ino_t *inos,
		    size_t max)
{
	struct fs_node *cur = &t->root;
	char name[1024];
	size_t k = 0;

	pthread_mutex_lock(&t->lock);
	for (const char *p = rel; *p && k < max;) {
		size_t len = strcspn(p, "/");

		if (len >= sizeof(name))
			break;
		memcpy(name, p, len);
		name[len] = '\0';
		cur = cur ? find(t, cur, name) : NULL;
		inos[k++] = cur ? fs_node_ino(t, cur) : 0;
		p += len;
		p += *p == '/';
	}
	pthread_mutex_unlock(&t->lock);
	return k;
}

static void unhash(struct fs_nodes *t, struct fs_node *n)
{
	struct fs_node **pp = &t->buckets[bucket(t, n->parent, n->name)];

	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp)
		*pp = n->next;
	n->next = NULL;
}

static void rehash(struct fs_nodes *t, struct fs_node *n)
{
	size_t b = bucket(t, n->parent, n->name);

	n->next = t->buckets[b];
	t->buckets[b] = n;
}

/* Caller holds the lock. */
static int path_locked(struct fs_nodes *t, struct fs_node *n, const char *name,
		       char **out)
{
	size_t len = strlen(t->root_path) + (name ? strlen(name) + 1 : 0);
	struct fs_node *p;
	char *buf, *end;

	for (p = n; p != &t->root; p = p->parent) {
		if (p->detached || !p->parent)
			return -ESTALE;
		len += strlen(p->name) + 1;
	}
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	end = buf + len;
	*end = '\0';
	if (name) {
		end -= strlen(name);
		memcpy(end, name, strlen(name));
		*--end = '/';
	}
	for (p = n; p != &t->root; p = p->parent) {
		end -= strlen(p->name);
		memcpy(end, p->name, strlen(p->name));
		*--end = '/';
	}
	memcpy(buf, t->root_path, strlen(t->root_path));
	/* The root's own path is "" (all branches): drop the leading '/'. */
	if (!*t->root_path && len > 0)
		memmove(buf, buf + 1, len);
	*out = buf;
	return 0;
}

int fs_node_path(struct fs_nodes *t, struct fs_node *n, const char *name,
		 char **out)
{
	int err;

	pthread_mutex_lock(&t->lock);
	err = path_locked(t, n, name, out);
	pthread_mutex_unlock(&t->lock);
	return err;
}

static int grow(struct fs_nodes *t)
{
	size_t old = t->nbuckets;
	struct fs_node **ob = t->buckets;
	struct fs_node **nb = calloc(old * 2, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	t->buckets = nb;
	t->nbuckets = old * 2;
	for (size_t i = 0; i < old; i++) {
		struct fs_node *n = ob[i], *next;

		for (; n; n = next) {
			next = n->next;
			rehash(t, n);
		}
	}
	free(ob);
	return 0;
}

int fs_node_ref(struct fs_nodes *t, struct fs_node *parent, const char *name,
		const unsigned char *commit, bool pin, struct fs_node **out)
{
	struct fs_node *n;
	char *path = NULL;
	int err = 0;

	pthread_mutex_lock(&t->lock);
	n = find(t, parent, name);
	/* Still in the table (its path still resolves, for whoever is inside
	 * it), but found no more. */
	if (n && n->rare && n->rare->pinned && commit &&
	    memcmp(n->rare->commit, commit, sizeof(n->rare->commit))) {
		n->rare->superseded = true;
		n = NULL;
	}
	if (n) {
		n->nlookup++;
		goto out;
	}
	if (t->count >= t->nbuckets)
		grow(t);
	n = calloc(1, sizeof(*n));
	if (n && strlen(name) < sizeof(n->inl))
		n->name = memcpy(n->inl, name, strlen(name) + 1);
	else if (n)
		n->name = strdup(name);
	if (!n || !n->name || (err = path_locked(t, parent, name, &path)) < 0) {
		if (n)
			node_free(n);
		n = NULL;
		err = err ? err : -ENOMEM;
		goto out;
	}
	n->ino = fs_path_ino(path);
	free(path);
	n->parent = parent;
	n->nlookup = 1;
	parent->nchild++;
	rehash(t, n);
	t->count++;
out:
	if (n && commit && fs_node_rare_of(n)) {
		memcpy(n->rare->commit, commit, sizeof(n->rare->commit));
		n->rare->has_commit = true;
		n->rare->pinned = n->rare->pinned || pin;
	}
	pthread_mutex_unlock(&t->lock);
	*out = n;
	return err;
}

bool fs_node_same_commit(struct fs_nodes *t, struct fs_node *n,
			 const unsigned char *commit)
{
	bool same;

	pthread_mutex_lock(&t->lock);
	same = n->rare && n->rare->has_commit &&
	       !memcmp(n->rare->commit, commit, sizeof(n->rare->commit));
	/* A pinned name changes commit only through a new node. */
	if (!same && !(n->rare && n->rare->pinned) && fs_node_rare_of(n)) {
		memcpy(n->rare->commit, commit, sizeof(n->rare->commit));
		n->rare->has_commit = true;
	}
	pthread_mutex_unlock(&t->lock);
	return same;
}

/* Free N and the parents it kept alive, while nothing holds them. Caller
 * holds the lock. */
static void release_locked(struct fs_nodes *t, struct fs_node *n)
{
	while (n != &t->root && n->nlookup == 0 && n->nchild == 0 &&
	       !fs_node_doc(n)) {
		struct fs_node *parent = n->parent;

		unhash(t, n);
		t->count--;
		node_free(n);
		parent->nchild--;
		n = parent;
	}
}

void fs_node_forget(struct fs_nodes *t, struct fs_node *n, uint64_t count)
{
	pthread_mutex_lock(&t->lock);
	n->nlookup = count > n->nlookup ? 0 : n->nlookup - count;
	release_locked(t, n);
	pthread_mutex_unlock(&t->lock);
}

void fs_node_move(struct fs_nodes *t, struct fs_node *parent, const char *name,
		  struct fs_node *newparent, const char *newname)
{
	struct fs_node *n, *victim;
	char *copy = strdup(newname);

	pthread_mutex_lock(&t->lock);
	victim = find(t, newparent, newname);
	n = find(t, parent, name);
	if (victim && victim != n) {
		/* Still in the table so forget finds and frees it, but under
		 * no reachable name. */
		unhash(t, victim);
		victim->detached = true;
		rehash(t, victim);
	}
	if (n && copy) {
		struct fs_node *oldparent = n->parent;

		unhash(t, n);
		if (n->name != n->inl)
			free(n->name);
		n->name = copy;
		copy = NULL;
		n->parent = newparent;
		newparent->nchild++;
		rehash(t, n);
		oldparent->nchild--;
		release_locked(t, oldparent);
	}
	pthread_mutex_unlock(&t->lock);
	free(copy);
}

void fs_node_detach(struct fs_nodes *t, struct fs_node *parent,
		    const char *name)
{
	struct fs_node *n;

	pthread_mutex_lock(&t->lock);
	if ((n = find(t, parent, name))) {
		unhash(t, n);
		n->detached = true;
		rehash(t, n);
	}
	pthread_mutex_unlock(&t->lock);
}

struct fs_doc *fs_node_doc_acquire(struct fs_nodes *t, struct fs_node *n,
				   struct fs_doc *fresh, bool *used)
{
	struct fs_node_rare *r;
	struct fs_doc *d = NULL;

	pthread_mutex_lock(&t->lock);
	*used = false;
	if ((r = fs_node_rare_of(n))) {
		*used = !r->doc;
		if (!r->doc)
			r->doc = fresh;
		r->doc_opens++;
		d = r->doc;
	}
	pthread_mutex_unlock(&t->lock);
	return d;
}

struct fs_doc *fs_node_doc_put(struct fs_nodes *t, struct fs_node *n)
{
	struct fs_doc *d = NULL;

	pthread_mutex_lock(&t->lock);
	if (n->rare && n->rare->doc_opens > 0 && --n->rare->doc_opens == 0) {
		d = n->rare->doc;
		n->rare->doc = NULL;
		release_locked(t, n);
	}
	pthread_mutex_unlock(&t->lock);
	return d;
}
