/* treebytes.c - trees as their serialized bytes with each entry's offset,
 * for the hot path of saves and the lookups between them.
 *
 * A save into a collection rewrites its tree (40 KB at 1,000 documents),
 * and the next open, stat and save look that tree up again. Through
 * libgit2 each new tree is read back and parsed entry by entry into its
 * object cache. Here the trees written last (and the ones looked up) are
 * kept as bytes in a small memo: a lookup is a binary search over the
 * offsets, a splice (treepatch.c) copies two ranges. A tree a save must
 * rewrite that is not in the memo is serialized once from libgit2's
 * parsed tree; a lookup that meets a tree not in the memo is left to
 * libgit2 (snapshots, listings: its cache serves those). All under
 * st->lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "banned.h"

#define MAX_DEPTH 8 /* deeper paths take libgit2's way */

int store_tb_reserve(struct store_tb_buf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		if (!(p = realloc(b->p, cap)))
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

int store_tb_put(struct store_tb_buf *b, const void *data, size_t n)
{
	int err = store_tb_reserve(b, n);

	if (err < 0)
		return err;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

int store_tb_put_entry(struct store_tb_buf *b, git_filemode_t mode,
		       const char *name, const git_oid *id)
{
	char head[16], *h = head + sizeof(head);
	unsigned m = (unsigned)mode;
	int err;

	/* "%o " by hand: this runs for every entry of a tree serialized. */
	*--h = ' ';
	do {
		*--h = (char)('0' + (m & 7));
		m >>= 3;
	} while (m);
	err = store_tb_put(b, h, (size_t)(head + sizeof(head) - h));
	if (err == 0)
		err = store_tb_put(b, name, strlen(name) + 1);
	if (err == 0)
		err = store_tb_put(b, id->id, GIT_OID_RAWSZ);
	return err;
}

/* Git's tree order (store_rt_order) of two NUL-terminated names. */
static int tb_order(const char *a, bool adir, const char *b, bool bdir)
{
	return store_rt_order(a, strlen(a), adir, b, strlen(b), bdir);
}

void store_tb_free(struct tree_bytes *t)
{
	free(t->p);
	free(t->off);
	memset(t, 0, sizeof(*t));
}

/* The first slot of a tree's set: ids are uniform, so their first bytes
 * are. A set of several slots, its least recently used tree dropped: with
 * one slot per id, each save's three new trees (root, collection, bucket)
 * dropped whatever sat in theirs, and at a million documents half the
 * saves read a 160 KB bucket back from its pack. */
static size_t set_of(const git_oid *id)
{
	return ((size_t)id->id[0] << 8 | id->id[1]) %
	       (TREE_MEMO / TREE_MEMO_WAYS) * TREE_MEMO_WAYS;
}

/* ID's slot in M, or TREE_MEMO. */
static size_t find_slot(const struct store_treememo *m, const git_oid *id)
{
	size_t s = set_of(id);

	for (size_t i = s; i < s + TREE_MEMO_WAYS; i++)
		if (m->v[i].off && git_oid_equal(&m->v[i].id, id))
			return i;
	return TREE_MEMO;
}

/* The slot for ID in M: its own, an empty one, or the least recently
 * used of its set. */
static size_t victim(const struct store_treememo *m, const git_oid *id)
{
	size_t s = set_of(id), best = find_slot(m, id);

	if (best < TREE_MEMO)
		return best;
	best = s;
	for (size_t i = s; i < s + TREE_MEMO_WAYS; i++) {
		if (!m->v[i].off)
			return i;
		if (m->used[i] < m->used[best])
			best = i;
	}
	return best;
}

/* Bytes T holds. */
static size_t tb_size(const struct tree_bytes *t)
{
	return t->off ? t->len + (t->n + 1) * sizeof(*t->off) : 0;
}

static void memo_clear(struct store_treememo *m, size_t i)
{
	m->bytes -= tb_size(&m->v[i]);
	store_tb_free(&m->v[i]);
}

/* The store's memo, made at its first use; NULL if there is no memory. */
static struct store_treememo *memo_of(struct store *st)
{
	if (!st->treememo)
		st->treememo = calloc(1, sizeof(*st->treememo));
	return st->treememo;
}

void store_tb_keep(struct store *st, struct tree_bytes *t)
{
	struct store_treememo *m;
	size_t s;

	if (t->len > TREE_MEMO_MAX || !(m = memo_of(st))) {
		store_tb_free(t);
		return;
	}
	s = victim(m, &t->id);
	memo_clear(m, s);
	m->v[s] = *t;
	m->used[s] = ++m->now;
	m->bytes += tb_size(t);
	memset(t, 0, sizeof(*t));
	/* Over budget: drop the others in turn, as a clock would. */
	for (size_t k = 0; m->bytes > TREE_MEMO_BYTES && k < TREE_MEMO; k++) {
		m->hand = (m->hand + 1) % TREE_MEMO;
		if (m->hand != s)
			memo_clear(m, m->hand);
	}
}

void store_tb_drop(struct store *st, const git_oid *id)
{
	size_t s;

	if (st->treememo && (s = find_slot(st->treememo, id)) < TREE_MEMO)
		memo_clear(st->treememo, s);
}

void store_treememo_free(struct store *st)
{
	if (!st->treememo)
		return;
	for (size_t i = 0; i < TREE_MEMO; i++)
		store_tb_free(&st->treememo->v[i]);
	free(st->treememo);
	st->treememo = NULL;
}

const struct tree_bytes *store_tb_find_memo(struct store *st, const git_oid *id)
{
	struct store_treememo *m = st->treememo;
	size_t s = m ? find_slot(m, id) : TREE_MEMO;

	if (s == TREE_MEMO)
		return NULL;
	m->used[s] = ++m->now;
	return &m->v[s];
}

/* Serialize libgit2's parsed tree T into OUT. */
static int serialize(const git_tree *t, struct tree_bytes *out)
{
	size_t n = git_tree_entrycount(t);
	struct store_tb_buf b = { 0 };
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!(out->off = malloc((n + 1) * sizeof(*out->off))))
		return -ENOMEM;
	for (size_t i = 0; i < n && err == 0; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);

		out->off[i] = b.len;
		err = store_tb_put_entry(&b, git_tree_entry_filemode(e),
					 git_tree_entry_name(e),
					 git_tree_entry_id(e));
	}
	out->off[n] = b.len;
	out->n = n;
	out->p = b.p;
	out->len = b.len;
	out->id = *git_tree_id(t);
	if (err < 0)
		store_tb_free(out);
	return err;
}

/* The offsets of the entries of tree bytes P[0..LEN) (a tree object's
 * own data) into OUT, which takes a copy: 0, -ENOMEM, or 1 if they are
 * not in the form the memo's lookups assume (a mode git does not write,
 * "040000" say, or a truncated entry): libgit2's parse decides then. */
static int index_raw(const char *p, size_t len, struct tree_bytes *out)
{
	struct store_tb_buf off = { 0 }; /* the offsets, size_t each */
	size_t at = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	while (at < len && err == 0) {
		const char *e = p + at, *end = p + len;
		const char *sp = memchr(e, ' ', (size_t)(end - e));
		const char *nul = sp ? memchr(sp, '\0', (size_t)(end - sp)) :
				       NULL;
		size_t mlen = sp ? (size_t)(sp - e) : 0;
		unsigned mode = 0;

		/* strspn stops at the space at the latest. */
		if (mlen && mlen <= 6 && strspn(e, "01234567") == mlen)
			for (size_t k = 0; k < mlen; k++)
				mode = mode * 8 + (unsigned)(e[k] - '0');
		if (!nul || *e == '0' || nul == sp + 1 ||
		    (size_t)(end - nul - 1) < GIT_OID_RAWSZ ||
		    (mode != GIT_FILEMODE_BLOB &&
		     mode != GIT_FILEMODE_BLOB_EXECUTABLE &&
		     mode != GIT_FILEMODE_TREE && mode != GIT_FILEMODE_LINK &&
		     mode != GIT_FILEMODE_COMMIT)) {
			err = 1;
			break;
		}
		err = store_tb_put(&off, &at, sizeof(at));
		at = (size_t)(nul + 1 + GIT_OID_RAWSZ - p);
	}
	if (err == 0)
		err = store_tb_put(&off, &len, sizeof(len));
	if (err == 0 && !(out->p = malloc(len ? len : 1)))
		err = -ENOMEM;
	if (err != 0) {
		free(off.p);
		return err;
	}
	memcpy(out->p, p, len);
	out->len = len;
	out->n = off.len / sizeof(size_t) - 1;
	out->off = (size_t *)(void *)off.p; /* malloc'd: aligned */
	return 0;
}

/* Object ID's data P (LEN bytes of TYPE) indexed into OUT if it is a tree
 * of at most MAX bytes: 0, an error, or 1 (not one). */
static int index_tree(const void *p, size_t len, git_object_t type, size_t max,
		      const git_oid *id, struct tree_bytes *out)
{
	int err = type != GIT_OBJECT_TREE || len > max ? 1 :
							 index_raw(p, len, out);

	if (err == 0)
		out->id = *id;
	return err;
}

/* Tree ID as bytes, from its object's own data (no parse, no
 * serializing again): 0, an error, or 1 to take libgit2's way. Read from
 * the backends themselves: through git_odb_read, libgit2's cache would
 * keep a second copy of what the memo keeps (at a million documents it
 * filled its 96 MB with old versions of 160 KB buckets). */
static int read_raw(struct store *st, const git_oid *id, struct tree_bytes *out)
{
	git_odb_object *o = NULL;
	git_odb_backend *be = NULL;
	git_object_t type = GIT_OBJECT_INVALID;
	void *data = NULL;
	const void *p;
	size_t len = 0;
	int err;

	if (store_odb_read_raw(st->odb, id, &data, &len, &type, &be) == 0) {
		p = data;
	} else if (git_odb_read(&o, st->odb, id) == 0) {
		p = git_odb_object_data(o);
		len = git_odb_object_size(o);
		type = git_odb_object_type(o);
	} else {
		return 1; /* libgit2's way says what is wrong */
	}
	err = index_tree(p, len, type, SIZE_MAX, id, out);
	if (data)
		git_odb_backend_data_free(be, data);
	git_odb_object_free(o);
	return err;
}

int store_tb_get(struct store *st, const git_oid *id, struct tree_bytes *out,
		 bool *borrowed)
{
	const struct tree_bytes *m = id ? store_tb_find_memo(st, id) : NULL;
	git_tree *t = NULL;
	int err;

	*borrowed = m != NULL;
	if (m) {
		*out = *m;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	if (!id) /* a tree that does not exist yet: no entries */
		return (out->off = calloc(1, sizeof(*out->off))) ? 0 : -ENOMEM;
	if ((err = read_raw(st, id, out)) != 1)
		return err;
	if ((err = git_tree_lookup(&t, st->repo, id)) < 0)
		return store_git_fail(err, "tree");
	err = serialize(t, out);
	git_tree_free(t);
	return err;
}

/* Entry I's name; *dir if it is a tree (mode 40000). */
const char *store_tb_name(const struct tree_bytes *t, size_t i, bool *dir)
{
	const char *e = t->p + t->off[i];
	const char *sp = memchr(e, ' ', t->off[i + 1] - t->off[i]);

	*dir = sp && sp - e == 5 && !memcmp(e, "40000", 5);
	return sp ? sp + 1 : e;
}

size_t store_tb_lower_bound(const struct tree_bytes *t, const char *name,
			    bool dir)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		bool edir;
		const char *en = store_tb_name(t, mid, &edir);

		if (tb_order(en, edir, name, dir) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t store_tb_find(const struct tree_bytes *t, const char *name)
{
	for (int dir = 0; dir < 2; dir++) {
		size_t i = store_tb_lower_bound(t, name, dir);
		bool edir;

		if (i < t->n && !strcmp(store_tb_name(t, i, &edir), name))
			return i;
	}
	return t->n;
}

void store_tb_entry(const struct tree_bytes *t, size_t i, git_oid *id,
		    unsigned *mode)
{
	const char *e = t->p + t->off[i];

	*mode = 0;
	for (; *e >= '0' && *e <= '7'; e++)
		*mode = *mode * 8 + (unsigned)(*e - '0');
	memcpy(id->id, t->p + t->off[i + 1] - GIT_OID_RAWSZ, GIT_OID_RAWSZ);
}

/* Whether the memo refused ID before. An object's bytes never change, so
 * neither does the answer: a lookup in the flat tree of a million
 * documents (40 MB, loose) read that tree's header again for every name
 * `ls -l` looked up, twice (`ls -l` of them: 31-35 s, 15-17 s without). */
static bool refused(struct store *st, const git_oid *id)
{
	struct store_treememo *m = st->treememo;
	size_t n =
		m ? (m->nrefused < TREE_REFUSED ? m->nrefused : TREE_REFUSED) :
		    0;

	for (size_t i = 0; i < n; i++)
		if (git_oid_equal(&m->refused[i], id))
			return true;
	return false;
}

static void refuse(struct store *st, const git_oid *id)
{
	struct store_treememo *m = memo_of(st);

	if (m)
		m->refused[m->nrefused++ % TREE_REFUSED] = *id;
}

/* Tree ID into the memo from its object's bytes, if it is a tree small
 * enough to keep: the memo's copy, or NULL (libgit2's way then). A lookup
 * of a document in a bucket of a big collection (3,900 entries at a
 * million documents) parsed the bucket with libgit2 and the save after it
 * serialized that parse again; now both find these bytes. */
static const struct tree_bytes *load(struct store *st, const git_oid *id)
{
	struct tree_bytes t;
	git_object_t type;
	size_t len;

	if (refused(st, id))
		return NULL;
	/* Not git_odb_read_header: where no backend can tell (an object
	 * in a pack libgit2 has not seen yet) it reads the whole object
	 * into libgit2's cache, a second copy of what the memo keeps (at a
	 * million documents, 96 MB of old buckets). Here the bytes are read
	 * once, and checked then. */
	if (store_odb_read_header_raw(st->odb, id, &len, &type) == 0 &&
	    (type != GIT_OBJECT_TREE || len > TREE_MEMO_MAX)) {
		refuse(st, id);
		return NULL;
	}
	if (read_raw(st, id, &t) != 0)
		return NULL;
	if (t.len > TREE_MEMO_MAX) {
		store_tb_free(&t);
		refuse(st, id);
		return NULL;
	}
	store_tb_keep(st, &t);
	return store_tb_find_memo(st, id);
}

int store_tb_read_unlocked(struct store *st, const git_oid *id,
			   struct tree_bytes *out)
{
	git_odb_backend *be = st->packread;
	git_object_t type = GIT_OBJECT_INVALID;
	void *data = NULL;
	size_t len = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if (!be || be->read(&data, &len, &type, be, id) != 0)
		return 1;
	err = index_tree(data, len, type, TREE_MEMO_MAX, id, out);
	git_odb_backend_data_free(be, data);
	return err;
}

size_t store_tb_offer(struct store *st, struct tree_bytes *t, size_t limit)
{
	struct store_treememo *m = memo_of(st);
	size_t got = 0;

	if (!m || m->bytes >= limit) {
		store_tb_free(t);
		return (size_t)-1;
	}
	if (find_slot(m, &t->id) == TREE_MEMO) {
		got = tb_size(t);
		store_tb_keep(st, t);
	}
	store_tb_free(t);
	return got;
}

const struct tree_bytes *store_tb_memo(struct store *st, const git_oid *id)
{
	const struct tree_bytes *t = store_tb_find_memo(st, id);

	return t ? t : load(st, id);
}

/* Entry NAME of tree TREE, from the memo (where it is put if it can be):
 * 0 with *id and *mode, -ENOENT, or 1 if TREE is not in the memo. */
static int lookup(struct store *st, const git_oid *tree, const char *name,
		  git_oid *id, unsigned *mode)
{
	const struct tree_bytes *t = store_tb_memo(st, tree);
	size_t i;

	if (!t)
		return 1;
	i = store_tb_find(t, name);
	if (i == t->n)
		return -ENOENT;
	store_tb_entry(t, i, id, mode);
	return 0;
}

/* The bucket NAME's file goes to in fanout collection tree DIR, or its
 * sub-bucket in a split bucket (*split): 0 and *out, -ENOENT if there
 * is none (*split still says where it would go), or 1 (not all in the
 * memo). */
static int bucket_of(struct store *st, const git_oid *dir, const char *name,
		     git_oid *out, bool *split)
{
	char b[3];
	git_oid bucket, dummy;
	unsigned mode;
	int err;

	*split = false;
	store_layout_bucket(name, b);
	err = lookup(st, dir, b, &bucket, &mode);
	if (err == 0 && mode != GIT_FILEMODE_TREE)
		return -ENOENT;
	if (err != 0)
		return err;
	err = lookup(st, &bucket, LAYOUT_MARKER, &dummy, &mode);
	if (err != -ENOENT) {
		if (err != 0)
			return err;
		*split = true;
		store_layout_bucket_at(name, 1, b);
		err = lookup(st, &bucket, b, &bucket, &mode);
		if (err == 0 && mode != GIT_FILEMODE_TREE)
			return -ENOENT;
		if (err != 0)
			return err;
	}
	*out = bucket;
	return 0;
}

/* The tree of directory COMP[0..n-1] under ROOT (0, -ENOENT, -ENOTDIR,
 * or 1: not all in the memo). */
static int dir_of(struct store *st, const git_oid *root, char **comp, size_t n,
		  git_oid *out)
{
	unsigned mode;
	int err;

	*out = *root;
	for (size_t k = 0; k < n; k++) {
		err = lookup(st, out, comp[k], out, &mode);
		if (err != 0)
			return err;
		if (mode != GIT_FILEMODE_TREE)
			return -ENOTDIR;
	}
	return 0;
}

/* Split PATH into COMP (inside COPY); 1 for paths left to libgit2. */
static int split_path(const char *path, char *copy, size_t sz, char **comp,
		      size_t *depth)
{
	size_t len = strlen(path);

	*depth = 0;
	if (len >= sz || (len && (path[0] == '/' || path[len - 1] == '/')) ||
	    strstr(path, "//"))
		return 1;
	memcpy(copy, path, len + 1);
	/* Well formed (checked above): no empty component to skip. */
	for (char *c, *rest = len ? copy : NULL; (c = strsep(&rest, "/"));) {
		if (*depth == MAX_DEPTH || !strcmp(c, ".") || !strcmp(c, ".."))
			return 1;
		comp[(*depth)++] = c;
	}
	return 0;
}

int store_tb_stat(struct store *st, const git_oid *root, const char *path,
		  struct store_entry *out, bool size)
{
	char copy[4096], *comp[MAX_DEPTH];
	git_oid dir, id, dummy;
	unsigned mode = 0, dmode;
	size_t depth, len;
	git_object_t type;
	bool fanout;
	int err;

	memset(out, 0, sizeof(*out));
	/* The root itself ("") too: store_stat_tree_git answers it without
	 * libgit2 reading anything. */
	if (split_path(path, copy, sizeof(copy), comp, &depth) || depth == 0)
		return 1; /* libgit2's way decides */
	err = dir_of(st, root, comp, depth - 1, &dir);
	if (err == -ENOENT || err == -ENOTDIR)
		return store_fail(-ENOENT, "%s: not found", path);
	if (err != 0)
		return err;
	/* A fanout collection (its marker is there) keeps files in buckets;
	 * a subcollection of the same name stays where it is. */
	fanout = lookup(st, &dir, LAYOUT_MARKER, &dummy, &dmode) == 0;
	err = lookup(st, &dir, comp[depth - 1], &id, &mode);
	if ((err == 0 || err == -ENOENT) &&
	    store_layout_bucketed(fanout, err == 0)) {
		git_oid b;
		bool split;

		err = bucket_of(st, &dir, comp[depth - 1], &b, &split);
		if (err == 0)
			err = lookup(st, &b, comp[depth - 1], &id, &mode);
	}
	if (err == -ENOENT)
		return store_fail(-ENOENT, "%s: not found", path);
	if (err != 0)
		return err;
	memcpy(out->oid.id, id.id, STORE_OID_RAWSZ);
	out->mode = mode;
	if (mode == GIT_FILEMODE_TREE)
		/* A bucket of a fanout collection is not a collection. */
		out->kind =
			fanout && store_layout_bucket_name(comp[depth - 1]) ?
				STORE_NONE :
				STORE_DIR;
	else if (mode == GIT_FILEMODE_BLOB ||
		 mode == GIT_FILEMODE_BLOB_EXECUTABLE)
		out->kind = STORE_DOC;
	else if (mode == GIT_FILEMODE_LINK)
		out->kind = STORE_LINK;
	if (out->kind == STORE_NONE)
		return store_fail(-ENOENT, "%s: not a file or directory", path);
	if ((out->kind == STORE_DOC || out->kind == STORE_LINK) && size) {
		err = git_odb_read_header(&len, &type, st->odb, &id);
		if (err < 0)
			return store_git_fail(err, path);
		out->size = len;
	}
	return 0;
}

int store_tb_dir_files(struct store *st, const git_oid *root, const char *dir,
		       size_t *files, bool *fanout)
{
	char copy[4096], *comp[MAX_DEPTH];
	const struct tree_bytes *t;
	git_oid id, dummy;
	unsigned mode;
	size_t depth;
	int err = split_path(dir, copy, sizeof(copy), comp, &depth);

	if (err)
		return err;
	if ((err = dir_of(st, root, comp, depth, &id)) != 0)
		return err;
	if (!(t = store_tb_memo(st, &id)))
		return 1;
	*fanout = lookup(st, &id, LAYOUT_MARKER, &dummy, &mode) == 0;
	*files = 0;
	for (size_t i = 0; i < t->n; i++) {
		bool isdir;
		const char *name = store_tb_name(t, i, &isdir);

		store_tb_entry(t, i, &dummy, &mode);
		if (!store_layout_count(
			    name,
			    mode == GIT_FILEMODE_BLOB ||
				    mode == GIT_FILEMODE_BLOB_EXECUTABLE ||
				    mode == GIT_FILEMODE_LINK,
			    files))
			return *files = 0, 0;
	}
	return 0;
}

int store_tb_git_path(struct store *st, const git_oid *root, const char *path,
		      char **out)
{
	char copy[4096], *comp[MAX_DEPTH];
	const char *slash = strrchr(path, '/'), *name;
	git_oid dir, id;
	unsigned mode;
	size_t depth;
	int err = split_path(path, copy, sizeof(copy), comp, &depth);

	*out = NULL;
	if (err || depth == 0)
		return 1;
	name = slash ? slash + 1 : path;
	err = dir_of(st, root, comp, depth - 1, &dir);
	if (err == 0)
		err = lookup(st, &dir, LAYOUT_MARKER, &id, &mode);
	if (err == 1)
		return 1;
	if (err == 0) { /* fanout: files go to buckets */
		err = lookup(st, &dir, name, &id, &mode);
		if (err == 1)
			return 1;
		if (store_layout_bucketed(true, err == 0)) {
			bool split;

			err = bucket_of(st, &dir, name, &id, &split);
			if (err == 1)
				return 1;
			return store_layout_bucket_path(
				path, slash ? (size_t)(slash - path) : 0, name,
				split, out);
		}
		if (err == 0 && mode != GIT_FILEMODE_TREE)
			return 1; /* beside the buckets: libgit2's way */
	}
	/* Flat, or no such directory yet: the path as it is. */
	*out = strdup(path);
	return *out ? 0 : -ENOMEM;
}
