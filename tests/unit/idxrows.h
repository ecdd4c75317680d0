/* idxrows.h - what the index unit tests share (test_rewind.c,
 * test_chunks.c): their histories, and the comparison of an index caught
 * up against one built afresh. */
#ifndef CHRONOFS_TEST_IDXROWS_H
#define CHRONOFS_TEST_IDXROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "db_int.h"
#include "store.h"

/* The histories they index, written for `git fast-import`: run a shell
 * command (exit(1) if it fails), a commit id of REPO, a document line, a
 * commit's header. */
void idxt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void idxt_rev(const char *repo, char out[STORE_OID_HEXSZ + 1],
	      const char *what);
void idxt_doc(FILE *f, const char *path, int v);
void idxt_commit_head(FILE *f, const char *ref, int mark, long when);

/* Every key and value of CAUGHT and FRESH, in order, past the records of
 * changes ('K', changes.h: facts of commits, kept when a branch leaves
 * them); and every record of FRESH is CAUGHT's too, byte for byte, and
 * there is one. true if so; else false with what differs in MSG. */
bool idxrows_same(struct idx_db *caught, struct idx_db *fresh, char *msg,
		  size_t len);

#endif
