/* diffrec.h - a diff of two commits from the index's records of what
 * each commit changed (diffrec.c). */
#ifndef CHRONOFS_LIB_DIFFREC_H
#define CHRONOFS_LIB_DIFFREC_H

#include "lib_int.h"
#include "treemerge.h"

/* The files that differ from A to B (under PREFIX, NULL or "" for all),
 * in strcmp order of their paths, as store_tdiff would list them. */
struct lib_drec {
	struct store_tdiff_entry *v; /* paths owned */
	size_t n, cap;
};

/* 0 with *out (the caller's: lib_drec_release), 1 if the records cannot
 * answer (diff the trees), or -errno. */
int lib_diff_records(chronofs *db, const struct store_oid *a,
		     const struct store_oid *b, const char *prefix,
		     struct lib_drec *out);
void lib_drec_release(struct lib_drec *r);

#endif
