/* mergerec.h - what a merge's sides changed since their merge base, from
 * the index's records of changes (mergerec.c). */
#ifndef CHRONOFS_LIB_MERGEREC_H
#define CHRONOFS_LIB_MERGEREC_H

#include "lib_int.h"
#include "treemerge.h"

struct lib_mrec {
	struct idx_db *idx; /* open for the merge */
	struct store *st;
	/* CHRONOFS_MERGE=records: -ENODATA, not 1 (-EAGAIN would have
	 * the merge tried again: INTO moved). */
	bool only;
};

/* A store_merge_opts.changes, CTX a struct lib_mrec: theirs' changes
 * from BASE as store_merge_trees lists them, from the records of the
 * commits on the first-parent chains from OURS, from THEIRS and from
 * BASE down to where BASE's meets each side's (BASE itself where it is
 * on the side's chain). 1 where they cannot say: chains that do not meet
 * within 10,000 commits a side, a commit without a record of version 1
 * (modes unknown), records that do not follow each other. */
int lib_merge_records(void *ctx, const struct store_oid *base,
		      const struct store_oid *ours,
		      const struct store_oid *theirs, struct store_merge *out);

#endif
