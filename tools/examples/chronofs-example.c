/* chronofs-example.c - libchronofs in a few calls: put documents, read one
 * back, read the past, and query in the order of a field.
 *   cc chronofs-example.c $(pkg-config --cflags --libs chronofs)
 *   ./a.out REPO        (REPO is made with chronofs_init if missing) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <chronofs.h>

static int check(chronofs *db, int rc, const char *what)
{
	if (rc < 0)
		fprintf(stderr, "%s: %s (%s)\n", what, chronofs_errmsg(db),
			strerror(-rc));
	return rc;
}

int main(int argc, char **argv)
{
	static const char *const people[][2] = {
		{ "users/alice.json", "{\"name\": \"alice\", \"age\": 34}" },
		{ "users/bob.json", "{\"name\": \"bob\", \"age\": 27}" },
		{ "users/carol.json", "{\"name\": \"carol\", \"age\": 41}" },
	};
	char commit[CHRONOFS_COMMIT_HEXSZ + 1],
		first[CHRONOFS_COMMIT_HEXSZ + 1];
	const char *id, *doc;
	chronofs_iter *it;
	chronofs *db;
	size_t len;
	char *json;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s REPO\n", argv[0]);
		return 2;
	}
	rc = chronofs_init(argv[1]);
	if (rc < 0 && rc != -EEXIST)
		return check(NULL, rc, "init"), 1;
	if (check(NULL, chronofs_open(&db, argv[1], NULL), "open") < 0)
		return 1;
	printf("libchronofs %s\n", chronofs_version());
	for (size_t i = 0; i < 3; i++) {
		rc = chronofs_put(db, "main", people[i][0], people[i][1],
				  strlen(people[i][1]), commit);
		if (check(db, rc, "put") < 0)
			goto fail;
		printf("put %s -> %s\n", people[i][0],
		       *commit ? commit : "(unchanged)");
		if (i == 0)
			strcpy(first, commit);
	}
	static const char older[] = "{\"name\": \"alice\", \"age\": 35}";

	rc = chronofs_put(db, "main", "users/alice.json", older,
			  sizeof(older) - 1, commit);
	if (check(db, rc, "put") < 0 ||
	    check(db, chronofs_get(db, "main", "users/alice.json", &json, &len),
		  "get") < 0)
		goto fail;
	printf("now: %s\n", json);
	chronofs_free(json);
	if (*first && check(db,
			    chronofs_get_at(db, "main", first,
					    "users/alice.json", &json, &len),
			    "get_at") == 0) {
		printf("at %.7s: %s\n", first, json);
		chronofs_free(json);
	}
	if (check(db,
		  chronofs_query(db, "main", "users", "age", "30", NULL, 0,
				 &it),
		  "query") < 0)
		goto fail;
	printf("age >= 30:\n");
	while ((rc = chronofs_iter_next(it, &id, &doc, &len)) == 1)
		printf("  %s %s\n", id, doc);
	chronofs_iter_free(it);
	if (check(db, rc, "iter") < 0)
		goto fail;
	chronofs_close(db);
	return 0;
fail:
	chronofs_close(db);
	return 1;
}
