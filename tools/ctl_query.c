/* ctl_query.c - chronofsctl query and index: ordered rows as JSON lines,
 * the persistent indexes listed, made, dropped and rebuilt. */
#include <errno.h>
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

/* One line: {"rank":N,"id":"...","doc":DOC} with DOC's exact text (a
 * document's line breaks can only be whitespace between tokens: they
 * become spaces, so the line stays one line and the text stays JSON). */
static int print_row(size_t rank, const char *id, const char *doc, size_t len)
{
	json_t *jid = json_string(id);
	char *idtext = jid ? json_dumps(jid, JSON_ENCODE_ANY) : NULL;

	json_decref(jid);
	if (!idtext)
		return -ENOMEM;
	printf("{\"rank\":%zu,\"id\":%s,\"doc\":", rank, idtext);
	free(idtext);
	for (size_t i = 0; i < len; i++)
		putchar(doc[i] == '\n' || doc[i] == '\r' ? ' ' : doc[i]);
	puts("}");
	return 0;
}

/* --ge/--gt/--lt/--le V and --first N: the range grammar of the mount's
 * path steps (ge=V/.../first=N); --from/--to/--limit are --ge/--lt/--first.
 * Each is handed to the library as the step text, which decides. */
static int range_opt(chronofs_range *r, const char *opt, const char *val,
		     char **steps, size_t *n)
{
	static const char *const map[][2] = {
		{ "--ge", "ge" }, { "--gt", "gt" },	  { "--lt", "lt" },
		{ "--le", "le" }, { "--first", "first" }, { "--from", "ge" },
		{ "--to", "lt" }, { "--limit", "first" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(opt, map[i][0]))
			continue;
		if (asprintf(&steps[*n], "%s=%s", map[i][1], val) < 0)
			return -ENOMEM;
		return chronofs_range_step(r, steps[(*n)++]);
	}
	return 1; /* not a range option */
}

int cmd_query(int argc, char **argv)
{
	chronofs_range range = { 0 };
	chronofs_iter *it = NULL;
	const char *pos[4], *id, *doc;
	char *steps[16];
	size_t nsteps = 0, len, rank = 0;
	chronofs *db = NULL;
	int npos = 0, err = 0, rc;

	for (int i = 1; i < argc && err == 0; i++) {
		if (argv[i][0] == '-' && argv[i][1] == '-' && i + 1 < argc &&
		    nsteps < 16) {
			rc = range_opt(&range, argv[i], argv[i + 1], steps,
				       &nsteps);
			if (rc < 0) {
				err = ctl_fail(NULL, rc);
				break;
			}
			if (rc == 0) {
				i++;
				continue;
			}
		}
		/* A SPEC may begin with '-' (descending): only "--" starts
		 * an option. */
		if ((argv[i][0] == '-' && argv[i][1] == '-') || npos == 4)
			err = -1;
		else
			pos[npos++] = argv[i];
	}
	if (err == 0 && npos != 4)
		err = -1;
	if (err == 0 && (err = ctl_open_repo(&db, pos[0])) == 0) {
		rc = chronofs_query_range(db, pos[1], pos[2], pos[3], &range,
					  &it);
		while (rc == 0 &&
		       (rc = chronofs_iter_next(it, &id, &doc, &len)) == 1)
			rc = print_row(++rank, id, doc, len);
		if (rc < 0)
			err = ctl_fail(db, rc);
		chronofs_iter_free(it);
		chronofs_close(db);
	}
	for (size_t i = 0; i < nsteps; i++)
		free(steps[i]);
	return err;
}

/* One line of index list: branch, collection, spec, rows, and a note
 * when no document has the spec's first field (it orders nothing). */
static void print_def(chronofs *db, const char *branch, const char *collection,
		      const char *spec)
{
	uint64_t rows = 0, with_field = 0;
	int err = chronofs_index_stats(db, branch, collection, spec, &rows,
				       &with_field);

	printf("%s\t%s\t%s\t%llu%s\n", branch, *collection ? collection : ".",
	       spec, (unsigned long long)rows,
	       err < 0		   ? "\t(rows unknown)" :
	       rows && !with_field ? "\t(no document has the field)" :
	       !rows		   ? "\t(empty)" :
				     "");
}

/* Definitions are collected first: rebuilding while iterating them would
 * change what is iterated. */
struct defs {
	char **v;
	size_t n;
};

static int collect_def(void *ctx, const char *branch, const char *collection,
		       const char *spec, uint64_t rows)
{
	struct defs *d = ctx;
	char **v = realloc(d->v, (d->n + 3) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	d->v = v;
	v[d->n] = strdup(branch);
	v[d->n + 1] = strdup(collection);
	v[d->n + 2] = strdup(spec);
	d->n += 3;
	return v[d->n - 3] && v[d->n - 2] && v[d->n - 1] ? 0 : -ENOMEM;
}

/* A mount stopping holds the index database a moment after
 * `fusermount3 -u` returns (the daemon writes it out and exits): a change
 * of the indexes waits this long for it, saying so once. */
#define BUSY_WAIT_MS 5000
#define BUSY_STEP_MS 100

static int index_change(chronofs *db, bool rebuild, const char *branch,
			const char *collection, const char *spec)
{
	static bool said;
	struct timespec step = { 0, BUSY_STEP_MS * 1000000L };
	int err;

	for (int waited = 0;; waited += BUSY_STEP_MS) {
		err = rebuild ?
			      chronofs_index_rebuild(db, branch, collection,
						     spec) :
			      chronofs_index_drop(db, branch, collection, spec);
		if (err != -EBUSY || waited >= BUSY_WAIT_MS)
			return err;
		if (!said)
			fprintf(stderr,
				"chronofsctl: the index is held by "
				"another process (a mount still stopping?); "
				"waiting up to %d s for it\n",
				BUSY_WAIT_MS / 1000);
		said = true;
		nanosleep(&step, NULL);
	}
}

static int rebuild_one(chronofs *db, const char *branch, const char *collection,
		       const char *spec)
{
	int err = index_change(db, true, branch, collection, spec);

	if (err < 0)
		return ctl_fail(db, err);
	printf("rebuilt %s %s %s\n", branch, collection, spec);
	return 0;
}

int cmd_index(int argc, char **argv)
{
	struct defs d = { 0 };
	chronofs *db;
	int err, failed = 0;

	if (argc < 3)
		return -1;
	if (strcmp(argv[1], "list") && strcmp(argv[1], "drop") &&
	    strcmp(argv[1], "rebuild") && strcmp(argv[1], "create"))
		return -1;
	if (!strcmp(argv[1], "create") && argc != 6)
		return -1;
	if (!strcmp(argv[1], "list") && argc != 3)
		return -1;
	if (!strcmp(argv[1], "drop") && argc != 6)
		return -1;
	if (!strcmp(argv[1], "rebuild") && argc != 3 && argc != 6)
		return -1;
	if (ctl_open_repo(&db, argv[2]))
		return 1;
	if (!strcmp(argv[1], "list")) {
		err = chronofs_index_list(db, collect_def, &d);
		for (size_t i = 0; err == 0 && i < d.n; i += 3)
			print_def(db, d.v[i], d.v[i + 1], d.v[i + 2]);
	} else if (!strcmp(argv[1], "create")) {
		err = chronofs_index_create(db, argv[3], argv[4], argv[5]);
	} else if (!strcmp(argv[1], "drop")) {
		err = index_change(db, false, argv[3], argv[4], argv[5]);
	} else if (argc == 6) {
		err = 0;
		failed = rebuild_one(db, argv[3], argv[4], argv[5]);
	} else {
		struct timespec t0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = chronofs_index_list(db, collect_def, &d);
		for (size_t i = 0; err == 0 && i < d.n; i += 3) {
			failed |=
				rebuild_one(db, d.v[i], d.v[i + 1], d.v[i + 2]);
			ctl_progress("indexes rebuilt", i / 3 + 1, d.n / 3,
				     &t0);
		}
	}
	for (size_t i = 0; i < d.n; i++)
		free(d.v[i]);
	free(d.v);
	if (err < 0)
		failed = ctl_fail(db, err);
	chronofs_close(db);
	return failed;
}
