/* chain.c - the catch-up's reader of a branch's first-parent chain: raw
 * commits and trees through a private object database (see store.h).
 *
 * Why not the store's repository: walking a million commits under the
 * store lock kept the live view waiting that long, and every commit and
 * tree read went into libgit2's object cache (parsed and raw, each
 * counted against one process-wide limit, and evicted by a scan that
 * grows with the cache): most of a catch-up's memory and, past 100,000
 * commits, most of its time. Here objects come from the odb backends'
 * read, which caches nothing; a few recent trees are kept (each commit's
 * trees are its child's parent trees). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_int.h"
#include "banned.h"

#define MEMO_N 8

struct store_chain {
	struct store *st;
	git_odb *odb;
	struct ctree *memo[MEMO_N]; /* most recent first */
};

int store_chain_open(struct store_chain **out, struct store *st)
{
	struct store_chain *ch;
	char *dir = NULL;
	int err;

	*out = NULL;
	if (!(ch = calloc(1, sizeof(*ch))) ||
	    asprintf(&dir, "%s/objects", st->gitdir) < 0) {
		free(ch);
		return -ENOMEM;
	}
	ch->st = st;
	err = git_odb_open(&ch->odb, dir);
	free(dir);
	if (err < 0) {
		free(ch);
		return store_git_fail(err, "object database");
	}
	*out = ch;
	return 0;
}

static void tree_free(struct ctree *t)
{
	if (t->be)
		git_odb_backend_data_free(t->be, t->data);
	else
		free(t->data);
	free(t->v);
	free(t);
}

void store_chain_close(struct store_chain *ch)
{
	if (!ch)
		return;
	for (size_t i = 0; i < MEMO_N; i++)
		if (ch->memo[i])
			chain_tree_put(ch, ch->memo[i]);
	git_odb_free(ch->odb);
	free(ch);
}

/* Object ID's bytes: from the private database's backends (refreshed
 * once when none has it: a pack made since), else through the store's
 * own (an object only it knows). *be is the backend whose buffer *data
 * is, or NULL for malloc's. */
static int raw_read(struct store_chain *ch, const git_oid *id, void **data,
		    size_t *len, git_object_t *type, git_odb_backend **be)
{
	git_odb_object *o = NULL;
	int rc = GIT_ENOTFOUND;

	for (int pass = 0; pass < 2 && rc == GIT_ENOTFOUND; pass++) {
		if (pass && git_odb_refresh(ch->odb) < 0)
			break;
		rc = store_odb_read_raw(ch->odb, id, data, len, type, be);
	}
	if (rc == 0)
		return 0;
	if (rc != GIT_ENOTFOUND)
		return store_git_fail(rc, "read object");
	*be = NULL;
	pthread_mutex_lock(&ch->st->lock);
	rc = git_odb_read(&o, ch->st->odb, id);
	if (rc == 0) {
		*len = git_odb_object_size(o);
		*type = git_odb_object_type(o);
		if ((*data = malloc(*len + 1)) != NULL)
			memcpy(*data, git_odb_object_data(o), *len);
		git_odb_object_free(o);
	}
	pthread_mutex_unlock(&ch->st->lock);
	if (rc < 0)
		return store_git_fail(rc, "read object");
	return *data ? 0 : -ENOMEM;
}

static int corrupt(const git_oid *id, const char *kind)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	return store_fail(-EIO, "%s %s is not a valid %s", kind, hex, kind);
}

/* One hex object id after PREFIX at *P (a header line of a commit). */
static bool header_oid(const char **p, const char *end, const char *prefix,
		       struct store_oid *out)
{
	size_t pl = strlen(prefix);
	git_oid o;

	if ((size_t)(end - *p) < pl + GIT_OID_HEXSZ + 1 ||
	    memcmp(*p, prefix, pl) || (*p)[pl + GIT_OID_HEXSZ] != '\n' ||
	    git_oid_fromstrn(&o, *p + pl, GIT_OID_HEXSZ) < 0)
		return false;
	memcpy(out->id, o.id, STORE_OID_RAWSZ);
	*p += pl + GIT_OID_HEXSZ + 1;
	return true;
}

/* The committer line's time, as libgit2 reads it: the number after the
 * last '>' of the line (0 if there is none). */
static int64_t committer_time(const char *line, const char *eol)
{
	const char *gt = NULL;
	int64_t t = 0;
	bool neg = false;

	for (const char *q = line; q < eol; q++)
		if (*q == '>')
			gt = q;
	if (!gt)
		return 0;
	for (gt++; gt < eol && *gt == ' '; gt++)
		;
	if (gt < eol && *gt == '-') {
		neg = true;
		gt++;
	}
	for (; gt < eol && *gt >= '0' && *gt <= '9' && t < INT64_MAX / 10; gt++)
		t = t * 10 + (*gt - '0');
	return neg ? -t : t;
}

int store_chain_commit(struct store_chain *ch, const struct store_oid *id,
		       struct store_chain_commit *out)
{
	git_odb_backend *be;
	git_object_t type;
	void *data;
	size_t len;
	const char *p, *end;
	int err = raw_read(ch, store_goid(id), &data, &len, &type, &be);

	if (err < 0)
		return err;
	memset(out, 0, sizeof(*out));
	out->id = *id;
	p = data;
	end = p + len;
	if (type != GIT_OBJECT_COMMIT ||
	    !header_oid(&p, end, "tree ", &out->tree))
		err = corrupt(store_goid(id), "commit");
	out->has_parent = err == 0 &&
			  header_oid(&p, end, "parent ", &out->parent);
	/* Further parents, author, ... up to the blank line. */
	while (err == 0 && p < end && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > 10 && !memcmp(p, "committer ", 10))
			out->time = committer_time(p, eol);
		p = eol + 1;
	}
	if (be)
		git_odb_backend_data_free(be, data);
	else
		free(data);
	return err;
}

/* ---- trees ---- */

unsigned rent_mode(const struct rent *e)
{
	unsigned type = e->mode & 0170000;

	if (type == 0040000)
		return GIT_FILEMODE_TREE;
	if (e->mode & 0100)
		return GIT_FILEMODE_BLOB_EXECUTABLE;
	if (type == 0160000)
		return GIT_FILEMODE_COMMIT;
	if (type == 0120000)
		return GIT_FILEMODE_LINK;
	return GIT_FILEMODE_BLOB;
}

int rent_cmp(const struct rent *a, const struct rent *b)
{
	size_t n = a->nlen < b->nlen ? a->nlen : b->nlen;
	int c = memcmp(a->name, b->name, n);
	unsigned ca, cb;

	if (c)
		return c;
	ca = a->nlen > n     ? (unsigned char)a->name[n] :
	     rent_is_tree(a) ? '/' :
			       0;
	cb = b->nlen > n     ? (unsigned char)b->name[n] :
	     rent_is_tree(b) ? '/' :
			       0;
	return (int)ca - (int)cb;
}

static int cmp_rent(const void *a, const void *b)
{
	return rent_cmp(a, b);
}

/* "MODE NAME\0ID" entries, as libgit2 parses them. */
static int parse_tree(struct ctree *t, size_t len)
{
	const char *p = t->data, *end = p + len;
	size_t cap = 0;
	bool sorted = true;

	while (p < end) {
		struct rent e = { 0 };
		const char *nul;

		if (*p == ' ')
			return -EIO;
		while (p < end && *p >= '0' && *p <= '7' && e.mode <= 0xffff)
			e.mode = e.mode * 8 + (unsigned)(*p++ - '0');
		if (p == end || *p++ != ' ' || e.mode > 0xffff ||
		    !(nul = memchr(p, '\0', (size_t)(end - p))) ||
		    (size_t)(end - nul) < 1 + GIT_OID_RAWSZ || nul == p)
			return -EIO;
		e.name = p;
		e.nlen = (size_t)(nul - p);
		e.id = (const unsigned char *)nul + 1;
		p = nul + 1 + GIT_OID_RAWSZ;
		if (t->n == cap) {
			struct rent *v;

			cap = cap ? 2 * cap : 64;
			if (!(v = realloc(t->v, cap * sizeof(*v))))
				return -ENOMEM;
			t->v = v;
		}
		if (t->n && rent_cmp(&t->v[t->n - 1], &e) >= 0)
			sorted = false;
		if (e.nlen == sizeof(LAYOUT_MARKER) - 1 &&
		    !memcmp(e.name, LAYOUT_MARKER, e.nlen))
			t->fanout = true;
		else if (!rent_is_tree(&e))
			t->direct = true;
		t->v[t->n++] = e;
	}
	/* Git writes them sorted; a tree written otherwise is compared in
	 * that order all the same. */
	if (!sorted)
		qsort(t->v, t->n, sizeof(*t->v), cmp_rent);
	return 0;
}

static struct ctree *memo_find(struct store_chain *ch, const git_oid *id)
{
	for (size_t i = 0; i < MEMO_N && ch->memo[i]; i++) {
		struct ctree *t = ch->memo[i];

		if (git_oid_equal(&t->id, id)) {
			memmove(&ch->memo[1], &ch->memo[0], i * sizeof(t));
			ch->memo[0] = t;
			return t;
		}
	}
	return NULL;
}

static void memo_add(struct store_chain *ch, struct ctree *t)
{
	if (ch->memo[MEMO_N - 1])
		chain_tree_put(ch, ch->memo[MEMO_N - 1]);
	memmove(&ch->memo[1], &ch->memo[0], (MEMO_N - 1) * sizeof(t));
	ch->memo[0] = t;
	t->refs++;
}

int chain_tree_get(struct store_chain *ch, const git_oid *id,
		   struct ctree **out)
{
	struct ctree *t = memo_find(ch, id);
	git_object_t type;
	size_t len;
	int err;

	*out = NULL;
	if (t) {
		t->refs++;
		*out = t;
		return 0;
	}
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	git_oid_cpy(&t->id, id);
	t->refs = 1;
	err = raw_read(ch, id, &t->data, &len, &type, &t->be);
	if (err < 0) {
		free(t);
		return err;
	}
	if (type != GIT_OBJECT_TREE || (err = parse_tree(t, len)) == -EIO)
		err = corrupt(id, "tree");
	if (err < 0) {
		tree_free(t);
		return err;
	}
	memo_add(ch, t);
	*out = t;
	return 0;
}

void chain_tree_put(struct store_chain *ch, struct ctree *t)
{
	(void)ch;
	if (t && --t->refs == 0)
		tree_free(t);
}
