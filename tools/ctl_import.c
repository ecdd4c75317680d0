/* ctl_import.c - chronofsctl import: a directory tree of documents as
 * one commit, through a transaction. */
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chronofs.h"
#include "ctl.h"
#include "banned.h"

/* import: the files of a tree into one transaction. */
struct import {
	chronofs *db;
	chronofs_tx *tx;
	const char *root;
	size_t root_len;
	size_t docs, skipped;
	int err;
	struct timespec start;
};

static struct import *importing; /* nftw has no context argument */

static int read_whole(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return -errno;
	do {
		if (n == cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (!b) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = b;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static int import_one(const char *path, const struct stat *sb, int type,
		      struct FTW *ftw)
{
	struct import *im = importing;
	const char *rel = path + im->root_len;
	size_t len = 0;
	char *buf = NULL;
	int err;

	(void)sb;
	(void)ftw;
	while (*rel == '/')
		rel++;
	if (type != FTW_F)
		return 0;
	len = strlen(rel);
	if (len < 6 || strcmp(rel + len - 5, ".json")) {
		im->skipped++;
		return 0;
	}
	if ((err = read_whole(path, &buf, &len)) < 0) {
		fprintf(stderr, "chronofsctl: %s: %s\n", path, strerror(-err));
		im->err = 1;
		return 1;
	}
	err = chronofs_tx_put(im->tx, rel, buf, len);
	free(buf);
	if (err == -EINVAL || err == -ENAMETOOLONG) {
		im->skipped++; /* not a document name (hidden, '@'...) */
		return 0;
	}
	if (err < 0) {
		im->err = ctl_fail(im->db, err);
		return 1;
	}
	im->docs++;
	ctl_progress("documents read", im->docs, 0, &im->start);
	return 0;
}

int cmd_import(int argc, char **argv)
{
	const char *pos[3], *msg = NULL;
	char commit[CHRONOFS_COMMIT_HEXSZ + 1], dflt[512];
	struct import im = { 0 };
	struct timespec t0, t1;
	int npos = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-m") && i + 1 < argc)
			msg = argv[++i];
		else if (argv[i][0] == '-' || npos == 3)
			return -1;
		else
			pos[npos++] = argv[i];
	}
	if (npos != 3)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	im.start = t0;
	if (ctl_open_repo(&im.db, pos[0]))
		return 1;
	if ((err = chronofs_tx_begin(&im.tx, im.db, pos[1])) < 0) {
		err = ctl_fail(im.db, err);
		chronofs_close(im.db);
		return err;
	}
	im.root = pos[2];
	im.root_len = strlen(pos[2]);
	importing = &im;
	if (nftw(pos[2], import_one, 64, FTW_PHYS) < 0 && !im.err) {
		fprintf(stderr, "chronofsctl: %s: %s\n", pos[2],
			strerror(errno));
		im.err = 1;
	}
	if (isatty(2) && im.docs)
		fprintf(stderr, "\n");
	snprintf(dflt, sizeof(dflt), "import %s (%zu documents)", pos[2],
		 im.docs);
	/* Every document validated by the commit: one bad one and nothing
	 * is written; the message names it. */
	if (!im.err &&
	    (err = chronofs_tx_commit(im.tx, msg ? msg : dflt, commit)) < 0)
		im.err = ctl_fail(im.db, err);
	chronofs_tx_free(im.tx);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!im.err)
		printf("imported %zu documents into %s as %s (%zu other files "
		       "skipped) in %.1f s\n",
		       im.docs, pos[1],
		       commit[0] ? commit : "no commit: nothing changed",
		       im.skipped,
		       (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	chronofs_close(im.db);
	return im.err;
}
