/* test_blobread.c - blobs read in parts (store/blobread.c) give exactly
 * the bytes libgit2 reads whole, for a loose object, a blob kept whole
 * in a pack (streamed from the pack) and one kept as a delta (read whole,
 * by the pack reader), at every offset: in order, at random (behind the
 * window: inflated again from the start), past the end, from several
 * threads at once; a damaged loose object fails with EIO; store_doc_read
 * leaves a document over max_doc_size unread (-EFBIG, its size). Objects
 * are made by git's own command line, as an outside commit makes them. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "testrepo.h"

#define BIG (5u << 20) /* over the reader's 2 MiB window */
#define MAX_DOC (1u << 20)
#define THREADS 4

#include "check.h"

static char dir[] = "/tmp/test_blobread.XXXXXX";

/* JSON text of LEN bytes, varied enough that zlib works for it. */
static char *make_text(size_t len, unsigned seed)
{
	char *t = malloc(len);
	size_t at = 0;

	srand(seed);
	t[at++] = '[';
	while (at < len - 16)
		at += (size_t)snprintf(t + at, len - at, "%d,", rand() % 1000);
	while (at < len - 1)
		t[at++] = ' ';
	t[len - 1] = ']';
	return t;
}

/* `git hash-object -w` of TEXT: the loose object, its id in OUT. */
static int git_write(const char *text, size_t len, struct store_oid *out)
{
	char file[64], cmd[256], hex[STORE_OID_HEXSZ + 2] = "";
	FILE *f, *p;
	int ok;

	snprintf(file, sizeof(file), "%s/text", dir);
	if (!(f = fopen(file, "wb")))
		return -1;
	fwrite(text, 1, len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "git --git-dir=%s hash-object -w %s", dir,
		 file);
	if (!(p = popen(cmd, "r")))
		return -1;
	ok = fgets(hex, sizeof(hex), p) != NULL;
	pclose(p);
	unlink(file);
	hex[STORE_OID_HEXSZ] = '\0';
	return ok && store_oid_parse(out, hex) == 0 ? 0 : -1;
}

/* Pack the N objects IDS (git pack-objects) and drop their loose files
 * (git prune-packed). */
static int pack_only(const struct store_oid *const *ids, size_t n)
{
	char cmd[512], hex[STORE_OID_HEXSZ + 1];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "git --git-dir=%s pack-objects -q %s/objects/pack/pack "
		 ">/dev/null",
		 dir, dir);
	if (!(p = popen(cmd, "w")))
		return -1;
	for (size_t i = 0; i < n; i++) {
		store_oid_fmt(hex, ids[i]);
		fprintf(p, "%s\n", hex);
	}
	if (pclose(p) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "git --git-dir=%s prune-packed", dir);
	return system(cmd);
}

/* Is ID kept as a delta in its pack? */
static bool is_delta(const struct store_oid *id)
{
	char cmd[512], hex[STORE_OID_HEXSZ + 1], base[64] = "";
	FILE *p;

	store_oid_fmt(hex, id);
	snprintf(cmd, sizeof(cmd),
		 "echo %s | git --git-dir=%s cat-file "
		 "--batch-check='%%(deltabase)'",
		 hex, dir);
	if (!(p = popen(cmd, "r")))
		return false;
	if (!fgets(base, sizeof(base), p))
		base[0] = '\0';
	pclose(p);
	return base[0] && strspn(base, "0") < STORE_OID_HEXSZ;
}

/* Every way of reading BLOB gives TEXT; WHOLE: it is read whole (by the
 * pack reader, as a delta is), not streamed from its file. */
static void check_reads(struct store *st, const struct store_oid *blob,
			const char *text, size_t len, bool whole,
			const char *what)
{
	struct store_blob *b = NULL;
	char *buf = malloc(3u << 20);
	size_t got;
	uint64_t served = store_packread_served(st);
	int err = store_blob_open(st, blob, &b);

	CHECK(err == 0, "%s: open: %d %s", what, err, store_errmsg());
	if (err < 0) {
		free(buf);
		return;
	}
	CHECK((store_packread_served(st) > served) == whole,
	      "%s: read %s, want %s", what,
	      store_packread_served(st) > served ? "whole" : "in parts",
	      whole ? "whole" : "in parts");
	CHECK(store_blob_size_of(b) == len, "%s: size %llu, want %zu", what,
	      (unsigned long long)store_blob_size_of(b), len);
	/* In order, in the kernel's 128 KiB requests. */
	for (size_t off = 0; off < len; off += got) {
		err = store_blob_pread(b, buf, 128 << 10, off, &got);
		CHECK(err == 0 && got > 0 && !memcmp(buf, text + off, got),
		      "%s: in order at %zu", what, off);
		if (err < 0 || got == 0)
			break;
	}
	/* At random: back and forth, across the window and the end. */
	srand(7);
	for (int i = 0; i < 60 && failures == 0; i++) {
		size_t off = (size_t)rand() % (len + 1000),
		       size = (size_t)rand() % (3u << 20), want;

		want = off >= len ? 0 : (len - off < size ? len - off : size);
		err = store_blob_pread(b, buf, size, off, &got);
		CHECK(err == 0 && got == want &&
			      (!got || !memcmp(buf, text + off, got)),
		      "%s: %zu bytes at %zu: %d, %zu", what, size, off, err,
		      got);
	}
	store_blob_close(b);
	free(buf);
}

struct reader {
	struct store_blob *b;
	const char *text;
	size_t len;
	unsigned seed;
	int bad;
};

static void *read_thread(void *arg)
{
	struct reader *r = arg;
	char *buf = malloc(256 << 10);
	unsigned seed = r->seed;
	size_t got;

	for (int i = 0; i < 40; i++) {
		size_t off = (size_t)rand_r(&seed) % r->len,
		       size = (size_t)rand_r(&seed) % (256 << 10);

		if (store_blob_pread(r->b, buf, size, off, &got) < 0 ||
		    memcmp(buf, r->text + off, got))
			r->bad++;
	}
	free(buf);
	return NULL;
}

static void check_threads(struct store *st, const struct store_oid *blob,
			  const char *text, size_t len)
{
	struct reader r[THREADS];
	pthread_t t[THREADS];
	struct store_blob *b = NULL;

	CHECK(store_blob_open(st, blob, &b) == 0, "open for threads");
	if (!b)
		return;
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct reader){ b, text, len, (unsigned)i + 1, 0 };
		pthread_create(&t[i], NULL, read_thread, &r[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		CHECK(r[i].bad == 0, "thread %d: %d bad reads", i, r[i].bad);
	}
	store_blob_close(b);
}

int main(void)
{
	struct store_opts opts = { .max_doc_size = MAX_DOC };
	struct store_oid loose, packed, delta, base, small, damaged;
	char *text = make_text(BIG, 1), *other = make_text(BIG, 2), *buf;
	char *edited = malloc(BIG), hex[STORE_OID_HEXSZ + 1], path[256];
	struct store *st = NULL;
	struct store_blob *b = NULL;
	size_t len, got;
	int err;

	if (testrepo_open(&st, dir, &opts) < 0)
		return 1;
	/* A blob kept whole in a pack; another stored as a delta of a
	 * base it is close to (git deltas only what it packs together). */
	memcpy(edited, other, BIG);
	memcpy(edited + BIG / 2, "[1]   ", 6);
	CHECK(git_write(other, BIG, &base) == 0 &&
		      git_write(edited, BIG, &delta) == 0 &&
		      git_write(text + 1000, BIG - 1000, &packed) == 0,
	      "write the packed blobs");
	CHECK(pack_only((const struct store_oid *[]){ &packed, &base, &delta },
			3) == 0,
	      "pack");
	CHECK(is_delta(&base) || is_delta(&delta), "git made no delta");
	CHECK(git_write(text, BIG, &loose) == 0, "write the loose blob");
	CHECK(git_write("{\"a\": 1}", 8, &small) == 0, "write a small one");

	check_reads(st, &loose, text, BIG, false, "loose");
	check_reads(st, &packed, text + 1000, BIG - 1000, is_delta(&packed),
		    "packed");
	check_reads(st, &delta, edited, BIG, is_delta(&delta), "delta");
	check_reads(st, &base, other, BIG, is_delta(&base), "delta base");
	check_reads(st, &small, "{\"a\": 1}", 8, false, "small");
	check_threads(st, &loose, text, BIG);
	check_threads(st, &packed, text + 1000, BIG - 1000);

	/* Cut short: the header and first bytes read, then EIO. */
	free(other);
	other = make_text(BIG, 3);
	CHECK(git_write(other, BIG, &damaged) == 0, "write the damaged one");
	store_oid_fmt(hex, &damaged);
	snprintf(path, sizeof(path), "%s/objects/%.2s/%s", dir, hex, hex + 2);
	CHECK(truncate(path, 4096) == 0, "truncate");
	buf = malloc(BIG);
	err = store_blob_open(st, &damaged, &b);
	CHECK(err == 0, "damaged: open %d", err);
	if (b) {
		err = store_blob_pread(b, buf, BIG, 0, &got);
		CHECK(err == -EIO, "damaged: read %d, want -EIO", err);
		store_blob_close(b);
	}

	/* Over max_doc_size: not read. */
	{
		char *doc = NULL;

		err = store_doc_read(st, &loose, &doc, &len);
		CHECK(err == -EFBIG && len == BIG && !doc,
		      "doc_read of a big one: %d %zu", err, len);
		err = store_doc_read(st, &small, &doc, &len);
		CHECK(err == 0 && len == 8 && !memcmp(doc, "{\"a\": 1}", 8),
		      "doc_read of a small one: %d", err);
		free(doc);
	}
	testrepo_close(st, dir);
	free(buf);
	free(edited);
	free(other);
	free(text);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	else
		printf("blobread: all passed\n");
	return failures ? 1 : 0;
}
