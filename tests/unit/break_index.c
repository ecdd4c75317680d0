/* break_index.c - a test's tool: delete the first RocksDB key of a record
 * family from a chronofs index (tests/e2e/test_fsck.py breaks one row on
 * purpose to see chronofsctl fsck find and repair it).
 *   break_index INDEX_DIR FAMILY_CHAR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

int main(int argc, char **argv)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_iterator_t *it;
	char *err = NULL;
	rocksdb_t *db;
	int done = 0;

	if (argc != 3 || strlen(argv[2]) != 1) {
		fprintf(stderr, "usage: break_index INDEX_DIR FAMILY_CHAR\n");
		return 2;
	}
	db = rocksdb_open(o, argv[1], &err);
	if (err) {
		fprintf(stderr, "break_index: %s\n", err);
		return 1;
	}
	it = rocksdb_create_iterator(db, ro);
	for (rocksdb_iter_seek(it, argv[2], 1); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t len;
		const char *k = rocksdb_iter_key(it, &len);

		if (len && k[0] == argv[2][0]) {
			rocksdb_delete(db, wo, k, len, &err);
			done = !err;
		}
		break;
	}
	rocksdb_iter_destroy(it);
	rocksdb_close(db);
	rocksdb_options_destroy(o);
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
	printf("%s\n", done ? "deleted one key" : "no such key");
	return done ? 0 : 1;
}
