/* commitbuf.c - a save's commit object, made without asking libgit2.
 *
 * git_signature_now calls mktime(3), which stats /etc/localtime on every
 * call (glibc re-reads the zone when TZ is unset), and
 * git_commit_create_buffer wants the tree and the parents as objects, read
 * back from the object database only to take their ids: a fifth and a
 * third of a save's commit. Here the offset comes from localtime_r(3)
 * (the zone read once) and the bytes are those libgit2 writes
 * (git_commit__create_buffer_internal, git_signature__writebuf); a unit
 * test holds the two side by side. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "banned.h"

int store_signature_now(const struct store *st, git_signature **out)
{
	struct timespec ts;
	struct tm tm;
	int offset = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm))
		offset = (int)(tm.tm_gmtoff / 60);
	return git_signature_new(out, st->author_name, st->author_email,
				 (git_time_t)ts.tv_sec, offset);
}

static int put_sig(struct store_tb_buf *b, const char *field,
		   const git_signature *sig)
{
	char tail[64];
	int offset = sig->when.offset;
	char sign = offset < 0 || sig->when.sign == '-' ? '-' : '+';
	int err, n;

	offset = offset < 0 ? -offset : offset;
	n = snprintf(tail, sizeof(tail), "> %u %c%02d%02d\n",
		     (unsigned)sig->when.time, sign, offset / 60, offset % 60);
	if ((err = store_tb_put(b, field, strlen(field))) < 0 ||
	    (err = store_tb_put(b, sig->name, strlen(sig->name))) < 0 ||
	    (err = store_tb_put(b, " <", 2)) < 0 ||
	    (err = store_tb_put(b, sig->email, strlen(sig->email))) < 0)
		return err;
	return store_tb_put(b, tail, (size_t)n);
}

int store_commit_buffer(struct store_tb_buf *b, const git_oid *tree,
			const git_oid *parents, size_t nparents,
			const git_signature *sig, const char *msg)
{
	char line[8 + GIT_OID_HEXSZ + 2];
	int err;

	b->len = 0;
	memcpy(line, "tree ", 5);
	git_oid_fmt(line + 5, tree);
	line[5 + GIT_OID_HEXSZ] = '\n';
	if ((err = store_tb_put(b, line, 6 + GIT_OID_HEXSZ)) < 0)
		return err;
	memcpy(line, "parent ", 7);
	for (size_t i = 0; i < nparents; i++) {
		git_oid_fmt(line + 7, &parents[i]);
		line[7 + GIT_OID_HEXSZ] = '\n';
		if ((err = store_tb_put(b, line, 8 + GIT_OID_HEXSZ)) < 0)
			return err;
	}
	if ((err = put_sig(b, "author ", sig)) < 0 ||
	    (err = put_sig(b, "committer ", sig)) < 0 ||
	    (err = store_tb_put(b, "\n", 1)) < 0)
		return err;
	return store_tb_put(b, msg, strlen(msg));
}
