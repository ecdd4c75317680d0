/* idxrows.h - the unit tests' comparison of an index caught up against
 * one built afresh (test_rewind.c, test_chunks.c). */
#ifndef CHRONOFS_TEST_IDXROWS_H
#define CHRONOFS_TEST_IDXROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "db_int.h"

/* Every key and value of CAUGHT and FRESH, in order, past the records of
 * changes ('K', changes.h: facts of commits, kept when a branch leaves
 * them); and every record of FRESH is CAUGHT's too, byte for byte, and
 * there is one. true if so; else false with what differs in MSG. */
bool idxrows_same(struct idx_db *caught, struct idx_db *fresh, char *msg,
		  size_t len);

#endif
