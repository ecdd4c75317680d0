/* jmerge.h - three-way merge of JSON documents by the SPEC's rules
 * ("Merging, transactions and diffs"), on jtree values.
 *
 * For each value, with BASE as reference (NULL: absent; "changed" and
 * "equal" are jt_equal's):
 *  - ours and theirs equal (or both absent): that value, no conflict (the
 *    winner's text if both changed it, ours if neither did);
 *  - changed on one side only: that side (absent: deleted);
 *  - changed on both sides to different values:
 *    - both JSON objects: merged member by member, recursively, by these
 *      same rules, with BASE's members as reference (none if BASE is not
 *      an object or absent: an add/add merges against an empty object);
 *      members in the order of ours, then theirs' new members in their
 *      order; a member's key text is ours' (theirs' for its new ones);
 *    - one side deleted it: the other side's modification is kept and a
 *      conflict recorded (modify/delete: nothing is lost);
 *    - otherwise (arrays, strings, numbers, literals, type changes, an
 *      add/add): the winner's whole value, and a conflict.
 * The winner is the caller's choice (the SPEC: the side whose latest
 * change to the document is newer, committer time then commit id), so
 * merging the same three versions both ways with the same winner gives
 * equal documents.
 *
 * Objects nested deeper than JMERGE_MAX_DEPTH are merged as whole values
 * (no recursion without bound on a hostile document).
 */
#ifndef CHRONOFS_STORE_JMERGE_H
#define CHRONOFS_STORE_JMERGE_H

#include <stdbool.h>
#include <stddef.h>

#include "jtree.h"

#define JMERGE_MAX_DEPTH 256

enum jmerge_side {
	JMERGE_OURS,
	JMERGE_THEIRS,
};

enum jmerge_kind {
	JMERGE_BOTH_MODIFIED, /* base present, two different new values */
	JMERGE_BOTH_ADDED, /* base absent, two different values */
	JMERGE_MODIFY_DELETE, /* ours modified, theirs deleted */
	JMERGE_DELETE_MODIFY, /* ours deleted, theirs modified */
};

struct jmerge_conflict {
	/* RFC 6901 pointer into the document ("" is the whole document),
	 * names decoded, '~' as "~0" and '/' as "~1"; may hold NUL bytes
	 * (a name "\u0000"), so it has a length. */
	char *pointer;
	size_t plen;
	enum jmerge_kind kind;
	/* The three values (references the conflict owns; NULL: absent).
	 * In a conflict of documents that are not JSON (RAW), all NULL:
	 * the bytes are the three blobs. */
	struct jt_value *base, *ours, *theirs;
	bool raw;
	enum jmerge_side winner; /* whose value the merge kept */
};

/* Where a merged value came from. */
enum jmerge_whole {
	JMERGE_MERGED, /* built from both: write it out again */
	JMERGE_WHOLE_OURS, /* ours, exactly (value and text) */
	JMERGE_WHOLE_THEIRS /* theirs, exactly */
};

struct jmerge_result {
	struct jt_value *value; /* a reference; NULL if the result is absent */
	enum jmerge_whole whole; /* for an absent result: WHOLE_OURS if ours
				  * is absent, else WHOLE_THEIRS */
	struct jmerge_conflict *conflicts;
	size_t n;
};

/* Merge OURS and THEIRS (any may be NULL: absent) against BASE into
 * *OUT (the caller releases it with jmerge_result_release; it is zeroed
 * on error). 0 or -ENOMEM. */
int jmerge_values(struct jmerge_result *out, const struct jt_value *base,
		  const struct jt_value *ours, const struct jt_value *theirs,
		  enum jmerge_side winner);
void jmerge_result_release(struct jmerge_result *r);

/* What to do with one document's bytes. */
enum jmerge_doc_action {
	JMERGE_DOC_OURS, /* keep ours' bytes (also: both absent) */
	JMERGE_DOC_THEIRS, /* take theirs' bytes exactly */
	JMERGE_DOC_DELETE, /* the document is deleted */
	JMERGE_DOC_MERGED, /* write bytes (JT_PRETTY) */
};

struct jmerge_doc {
	enum jmerge_doc_action action;
	char *bytes; /* JMERGE_DOC_MERGED: the new text, malloc'd */
	size_t len;
	struct jmerge_conflict *conflicts;
	size_t n;
};

#define JMERGE_DOC_OPAQUE 1u /* not a document: never parse, whole bytes */

/* Merge one document given as bytes (a NULL pointer: absent; equal bytes
 * are taken as equal without parsing). Texts that are not all JSON (or
 * any, with JMERGE_DOC_OPAQUE in FLAGS) merge as whole values: one side
 * changed takes it, both changed to different bytes is a conflict (RAW)
 * won by WINNER, modify/delete keeps the modification. A document
 * deleted on one side whose bytes changed on the other is kept, even if
 * only its layout changed (its value equal to the base's). *OUT: release
 * with jmerge_doc_release. 0 or -ENOMEM. */
int jmerge_doc(struct jmerge_doc *out, const char *base, size_t blen,
	       const char *ours, size_t olen, const char *theirs, size_t tlen,
	       enum jmerge_side winner, unsigned flags);
void jmerge_doc_release(struct jmerge_doc *d);

/* Append the conflicts.json document for C[0..N) to OUT (JT_PRETTY
 * layout):
 *
 *   {
 *     "path": "users/alice.json",        (omitted if PATH is NULL)
 *     "conflicts": [
 *       {
 *         "pointer": "/address/city",
 *         "kind": "both-modified",
 *         "base": "Paris",
 *         "ours": "Lyon",
 *         "theirs": "Nice",
 *         "winner": "theirs"
 *       }
 *     ]
 *   }
 *
 * kind is "both-modified", "both-added", "modified-deleted" (ours kept
 * its modification, theirs deleted) or "deleted-modified". A side whose
 * value is absent (base of an add, the deleting side) has no member;
 * values keep their exact text. A RAW conflict has "raw": true and no
 * values (the document is not JSON: base.json, ours.json and theirs.json
 * hold the bytes). */
int jmerge_conflicts_render(struct jt_buf *out, const char *path,
			    const struct jmerge_conflict *c, size_t n);

const char *jmerge_kind_name(enum jmerge_kind k);

#endif
