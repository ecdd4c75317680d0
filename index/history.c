/* history.c - reading the time and path-history indexes (see history.h):
 * BRANCH@WHEN, BRANCH@COMMIT, the versions of a document, the names a
 * directory ever held. catchup.c keeps them current. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catchup_int.h"
#include "banned.h"

int idx_head_read(struct idx_db *db, const char *branch, struct store_oid *head,
		  uint64_t *seq)
{
	struct idx_key k = { 0 };
	char *val, *e = NULL;
	size_t vlen;
	int err = idx_key_start(&k, 'H', branch);

	if (err < 0)
		return err;
	val = rocksdb_get(db->db, db->ropts, (char *)k.p, k.len - 1, &vlen, &e);
	free(k.p);
	if (e)
		return idx_rocks_fail(e, "get head");
	if (!val || vlen != 28)
		err = -ENOENT;
	else {
		memcpy(head->id, val, 20);
		*seq = idx_get_be64((unsigned char *)val + 20);
	}
	rocksdb_free(val);
	return err;
}

/* An iterator bounded to keys starting with PREFIX. */
struct scan {
	rocksdb_iterator_t *it;
	rocksdb_readoptions_t *ro;
	struct idx_key hi;
};

static int scan_open(struct scan *s, struct idx_db *db,
		     const struct idx_key *prefix)
{
	memset(s, 0, sizeof(*s));
	if (idx_key_add(&s->hi, prefix->p, prefix->len) < 0)
		return -ENOMEM;
	/* The least key greater than every key with this prefix. */
	while (s->hi.len > 0 && s->hi.p[s->hi.len - 1] == 0xff)
		s->hi.len--;
	if (s->hi.len > 0)
		s->hi.p[s->hi.len - 1]++;
	s->ro = rocksdb_readoptions_create();
	if (s->hi.len > 0)
		rocksdb_readoptions_set_iterate_upper_bound(
			s->ro, (char *)s->hi.p, s->hi.len);
	s->it = rocksdb_create_iterator(db->db, s->ro);
	return 0;
}

static int scan_close(struct scan *s)
{
	char *e = NULL;

	if (s->it) {
		rocksdb_iter_get_error(s->it, &e);
		rocksdb_iter_destroy(s->it);
	}
	if (s->ro)
		rocksdb_readoptions_destroy(s->ro);
	free(s->hi.p);
	return e ? idx_rocks_fail(e, "scan") : 0;
}

int idx_history_at(struct idx_db *db, const char *branch, int64_t when,
		   struct store_oid *out)
{
	struct idx_key k = { 0 };
	struct scan s;
	const char *key, *val;
	size_t klen, vlen, plen;
	int err = idx_key_start(&k, 'T', branch);

	if (err < 0)
		return err;
	plen = k.len;
	if ((err = scan_open(&s, db, &k)) < 0)
		goto out;
	if ((err = idx_key_be64(&k, idx_time_bits(when))) < 0 ||
	    (err = idx_key_be64(&k, UINT64_MAX)) < 0)
		goto out;
	rocksdb_iter_seek_for_prev(s.it, (char *)k.p, k.len);
	err = -ENOENT;
	if (rocksdb_iter_valid(s.it)) {
		key = rocksdb_iter_key(s.it, &klen);
		val = rocksdb_iter_value(s.it, &vlen);
		if (klen == plen + 16 && !memcmp(key, k.p, plen) &&
		    vlen == 20) {
			memcpy(out->id, val, 20);
			err = 0;
		}
	}
out:
	if (scan_close(&s) < 0 && err == 0)
		err = -EIO;
	free(k.p);
	return err;
}

int idx_history_commit(struct idx_db *db, const char *branch, const char *hex,
		       struct store_oid *out)
{
	char full[STORE_OID_HEXSZ + 1];
	struct idx_key k = { 0 };
	struct scan s = { 0 };
	const char *key;
	size_t klen, n = strlen(hex), plen, found = 0;
	int err;

	if (n < 7 || n > STORE_OID_HEXSZ ||
	    strspn(hex, "0123456789abcdef") != n)
		return -ENOENT;
	if ((err = idx_key_start(&k, 'C', branch)) < 0)
		return err;
	plen = k.len;
	if ((err = idx_key_add(&k, hex, n)) < 0 ||
	    (err = scan_open(&s, db, &k)) < 0)
		goto out;
	for (rocksdb_iter_seek(s.it, (char *)k.p, k.len);
	     rocksdb_iter_valid(s.it) && found < 2; rocksdb_iter_next(s.it)) {
		key = rocksdb_iter_key(s.it, &klen);
		if (klen != plen + STORE_OID_HEXSZ)
			continue;
		memcpy(full, key + plen, STORE_OID_HEXSZ);
		full[STORE_OID_HEXSZ] = '\0';
		found++;
	}
	err = found == 1 ? store_oid_parse(out, full) : -ENOENT;
out:
	if (scan_close(&s) < 0 && err == 0)
		err = -EIO;
	free(k.p);
	return err;
}

int idx_history_versions(struct idx_db *db, const char *branch,
			 const char *path, idx_version_cb cb, void *ctx)
{
	struct idx_key k = { 0 };
	struct scan s = { 0 };
	const unsigned char *val;
	static const unsigned char zero[20];
	struct store_oid commit, blob;
	size_t vlen;
	int err;

	if ((err = idx_key_start(&k, 'P', branch)) < 0 ||
	    (err = idx_key_add(&k, path, strlen(path) + 1)) < 0 ||
	    (err = scan_open(&s, db, &k)) < 0)
		goto out;
	for (rocksdb_iter_seek(s.it, (char *)k.p, k.len);
	     rocksdb_iter_valid(s.it) && err == 0; rocksdb_iter_next(s.it)) {
		val = (const unsigned char *)rocksdb_iter_value(s.it, &vlen);
		if (vlen != 48)
			continue;
		memcpy(commit.id, val, 20);
		memcpy(blob.id, val + 28, 20);
		err = cb(ctx, (int64_t)idx_get_be64(val + 20), &commit,
			 memcmp(val + 28, zero, 20) ? &blob : NULL);
	}
out:
	if (scan_close(&s) < 0 && err == 0)
		err = -EIO;
	free(k.p);
	return err;
}

int idx_history_names(struct idx_db *db, const char *branch, const char *dir,
		      idx_name_cb cb, void *ctx)
{
	struct idx_key k = { 0 };
	struct scan s = { 0 };
	char *last = NULL;
	size_t plen;
	int err;

	if ((err = idx_key_start(&k, 'P', branch)) < 0 ||
	    (err = idx_key_add(&k, dir, strlen(dir))) < 0 ||
	    (*dir && (err = idx_key_add(&k, "/", 1)) < 0))
		goto out;
	plen = k.len;
	if ((err = scan_open(&s, db, &k)) < 0)
		goto out;
	rocksdb_iter_seek(s.it, (char *)k.p, k.len);
	while (rocksdb_iter_valid(s.it) && err == 0) {
		size_t klen;
		const char *key = rocksdb_iter_key(s.it, &klen);
		const char *name = key + plen;
		size_t nlen = strcspn(name, "/");
		int is_dir = name[nlen] == '/';

		if (!last || strlen(last) != nlen || memcmp(last, name, nlen)) {
			free(last);
			last = strndup(name, nlen);
			if (!last) {
				err = -ENOMEM;
				break;
			}
			err = cb(ctx, last, is_dir);
		}
		/* Skip the rest of this name's keys: seek past NAME\0 or
		 * NAME/ (both sort before NAME followed by anything else). */
		k.len = plen;
		if (idx_key_add(&k, name, nlen) < 0 ||
		    idx_key_add(&k, is_dir ? "0" : "\x01", 1) < 0) {
			err = -ENOMEM;
			break;
		}
		rocksdb_iter_seek(s.it, (char *)k.p, k.len);
	}
out:
	if (scan_close(&s) < 0 && err == 0)
		err = -EIO;
	free(last);
	free(k.p);
	return err;
}

bool idx_history_fresh(struct idx_db *db, struct store *st, const char *branch)
{
	struct store_oid head, indexed;
	uint64_t seq;

	return store_branch_head(st, branch, &head) == 0 &&
	       idx_head_read(db, branch, &indexed, &seq) == 0 &&
	       store_oid_equal(&head, &indexed);
}

/* The walk the index spares us, for an index that cannot catch up. */
struct walk {
	int64_t when;
	const char *hex;
	size_t hexlen;
	bool found;
	struct store_oid commit;
};

static int walk_cb(void *ctx, const struct store_oid *commit, int64_t time)
{
	struct walk *w = ctx;
	char hex[STORE_OID_HEXSZ + 1];

	if (w->hex) {
		store_oid_fmt(hex, commit);
		w->found = !strncmp(hex, w->hex, w->hexlen);
	} else {
		w->found = time <= w->when;
	}
	if (w->found)
		w->commit = *commit;
	return w->found ? 1 : 0;
}

int idx_history_resolve(struct idx_db *db, struct store *st, const char *branch,
			const char *spec, size_t len, struct store_oid *out)
{
	struct walk w = { 0 };
	struct idx_need need = { 0 };
	struct store_oid head;
	char hex[STORE_OID_HEXSZ + 1];
	bool is_hex = len >= 7 && len <= STORE_OID_HEXSZ;
	int err;

	for (size_t i = 0; is_hex && i < len; i++)
		is_hex = (spec[i] >= '0' && spec[i] <= '9') ||
			 (spec[i] >= 'a' && spec[i] <= 'f');
	if (!is_hex && idx_parse_when(spec, len, &w.when) < 0)
		return idx_fail(-EINVAL,
				"'%.*s' is neither an ISO-8601 time "
				"nor a commit id",
				(int)len, spec);
	if (is_hex) {
		memcpy(hex, spec, len);
		hex[len] = '\0';
	}
	need.hex = is_hex && len == STORE_OID_HEXSZ ? hex : NULL;
	need.all = is_hex && !need.hex; /* a prefix: unique on all of it */
	need.when = w.when;
	err = idx_history_wait(db, st, branch, &need);
	if (err < 0)
		return err;
	if (err == 1) /* written by the catch-up running: enough */
		return is_hex ? idx_history_commit(db, branch, hex, out) :
				idx_history_at(db, branch, w.when, out);
	if (idx_history_fresh(db, st, branch))
		return is_hex ? idx_history_commit(db, branch, hex, out) :
				idx_history_at(db, branch, w.when, out);
	w.hex = is_hex ? hex : NULL;
	w.hexlen = len;
	err = store_branch_head(st, branch, &head);
	if (err == 0)
		err = store_walk(st, &head, walk_cb, &w);
	if (err < 0)
		return err;
	if (!w.found)
		return -ENOENT;
	*out = w.commit;
	return 0;
}
