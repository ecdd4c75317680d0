/* chronofsctl.c - the companion tool: a table of cmd_<name> functions, each
 * returning the exit status (0 ok, 1 failure, 2 usage). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "history.h"
#include "order.h"
#include "store.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static int cmd_help(int argc, char **argv);

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

static int fail(const char *what, int err)
{
	const char *msg = store_errmsg();

	fprintf(stderr, "chronofsctl: %s: %s\n", what,
		*msg ? msg : strerror(-err));
	return 1;
}

static int cmd_init(int argc, char **argv)
{
	int err;

	if (argc != 2)
		return -1;
	err = store_init(argv[1]);
	if (err < 0)
		return fail(argv[1], err);
	printf("initialized %s (bare, branch main)\n", argv[1]);
	return 0;
}

static int print_log(void *ctx, const struct store_oid *commit, int64_t time,
		     const char *summary)
{
	char hex[STORE_OID_HEXSZ + 1], when[IDX_WHEN_SZ];

	store_oid_fmt(hex, commit);
	idx_format_when(when, time);
	printf("%s %s %s\n", when, hex, summary ? summary : "");
	return 0;
}

/* The database beside the repository; caller closes it. */
static int open_index(struct idx_db **out, struct store *st)
{
	char *dir;
	int err;

	if (asprintf(&dir, "%s/chronofs/index", store_gitdir(st)) < 0)
		return -ENOMEM;
	err = idx_db_open(out, dir, false);
	free(dir);
	if (err < 0)
		fprintf(stderr, "chronofsctl: index: %s\n", idx_errmsg());
	return err;
}

/* log --at WHEN: the commit BRANCH@WHEN resolves to, as the mount does. */
static int log_at(struct store *st, const char *branch, const char *when)
{
	struct idx_db *db = NULL;
	struct store_oid commit;
	char *summary = NULL;
	int64_t t;
	int err;

	if ((err = open_index(&db, st)) < 0)
		return 1;
	err = idx_history_resolve(db, st, branch, when, strlen(when), &commit);
	if (err == -ENOENT)
		fprintf(stderr, "chronofsctl: %s@%s: no such commit\n", branch,
			when);
	else if (err < 0)
		fprintf(stderr, "chronofsctl: %s@%s: %s\n", branch, when,
			*idx_errmsg() ? idx_errmsg() : store_errmsg());
	if (err == 0 && (err = store_commit_time(st, &commit, &t)) == 0 &&
	    (err = store_commit_summary(st, &commit, &summary)) == 0)
		print_log(NULL, &commit, t, summary);
	free(summary);
	idx_db_close(db);
	return err < 0 ? 1 : 0;
}

static int cmd_log(int argc, char **argv)
{
	struct store_opts so = {.fsync = false};
	const char *at = NULL, *pos[3] = {NULL, NULL, NULL};
	struct store *st;
	int err, npos = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--at") && i + 1 < argc)
			at = argv[++i];
		else if (!strncmp(argv[i], "--at=", 5))
			at = argv[i] + 5;
		else if (argv[i][0] == '-' || npos == 3)
			return -1;
		else
			pos[npos++] = argv[i];
	}
	if (npos < 1)
		return -1;
	err = store_open(&st, pos[0], &so);
	if (err < 0)
		return fail(pos[0], err);
	if (at) {
		err = log_at(st, pos[1] ? pos[1] : "main", at);
		store_close(st);
		return err;
	}
	err = store_log(st, pos[1] ? pos[1] : "main", pos[2], print_log, NULL);
	store_close(st);
	return err < 0 ? fail("log", err) : 0;
}

/* The store and the index database of REPO; caller closes both. */
static int open_both(const char *repo, struct store **st, struct idx_db **db)
{
	struct store_opts so = {.fsync = false};
	int err = store_open(st, repo, &so);

	*db = NULL;
	if (err < 0)
		return fail(repo, err);
	if (open_index(db, *st) < 0) {
		store_close(*st);
		return 1;
	}
	return 0;
}

static void close_both(struct store *st, struct idx_db *db)
{
	idx_db_close(db);
	store_close(st);
}

/* A JSON value, or else the text as a string ("--from bob"). */
static json_t *arg_value(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

	return v ? v : json_string(text);
}

struct query_out {
	struct store *st;
	size_t rank;
};

static int print_row(void *ctx, const char *id, const struct store_oid *blob,
		     const char *bytes, size_t blen)
{
	struct query_out *q = ctx;
	json_t *line, *doc;
	char *buf = NULL, *text;
	size_t len;
	int err = idx_row_read(q->st, blob, bytes, blen, &buf, &len);

	if (err < 0)
		return err;
	doc = idx_doc_parse(buf, len);
	line = json_pack("{s:I, s:s, s:o}", "rank", (json_int_t)++q->rank,
			 "id", id, "doc", doc ? doc : json_null());
	text = line ? json_dumps(line, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (text)
		puts(text);
	free(text);
	json_decref(line);
	free(buf);
	return text ? 0 : -ENOMEM;
}

static int cmd_query(int argc, char **argv)
{
	struct idx_range range = {0};
	struct query_out q = {0};
	struct idx_spec spec;
	struct store_oid head;
	struct store *st;
	struct idx_db *db;
	json_t *from = NULL, *to = NULL;
	const char *pos[4];
	int npos = 0, err;
	bool built;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--from") && i + 1 < argc)
			from = arg_value(argv[++i]);
		else if (!strcmp(argv[i], "--to") && i + 1 < argc)
			to = arg_value(argv[++i]);
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			range.limit = strtoull(argv[++i], NULL, 10);
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			return -1;
		else if (npos < 4)
			pos[npos++] = argv[i];
		else
			return -1;
	}
	if (npos != 4)
		return -1;
	range.ge = from;
	range.lt = to;
	if (idx_spec_parse(&spec, pos[3]) < 0) {
		fprintf(stderr, "chronofsctl: %s\n", idx_errmsg());
		return 2;
	}
	if ((err = open_both(pos[0], &st, &db)) != 0)
		goto out_spec;
	q.st = st;
	err = idx_order_ensure(db, st, pos[1], pos[2], &spec, &built);
	if (err == 0)
		err = idx_order_scan(db, pos[1], pos[2], &spec, &range,
				     print_row, &q);
	/* Mounted elsewhere and not indexed yet: compute from the head. */
	if (err == -ENOENT && (err = store_branch_head(st, pos[1], &head)) == 0)
		err = idx_order_scan_commit(st, &head, pos[2], &spec, &range,
					    print_row, &q);
	if (err < 0) {
		fprintf(stderr, "chronofsctl: query: %s%s\n", idx_errmsg(),
			store_errmsg());
		err = 1;
	}
	close_both(st, db);
out_spec:
	idx_spec_release(&spec);
	json_decref(from);
	json_decref(to);
	return err;
}

static int print_def(void *ctx, const char *branch, const char *collection,
		     const char *canon, uint64_t rows)
{
	printf("%s\t%s\t%s\t%llu\n", branch, *collection ? collection : ".",
	       canon, (unsigned long long)rows);
	return 0;
}

struct rebuild {
	struct store *st;
	struct idx_db *db;
	int failed;
};

static int rebuild_one(struct rebuild *r, const char *branch,
		       const char *collection, const char *canon)
{
	struct idx_spec spec;
	bool built;
	int err = idx_spec_parse(&spec, canon);

	if (err == 0 && (err = idx_order_drop(r->db, branch, collection,
					      canon)) == 0)
		err = idx_order_ensure(r->db, r->st, branch, collection, &spec,
				       &built);
	idx_spec_release(&spec);
	if (err < 0) {
		fprintf(stderr, "chronofsctl: rebuild %s %s %s: %s%s\n",
			branch, collection, canon, idx_errmsg(),
			store_errmsg());
		r->failed = 1;
	} else {
		printf("rebuilt %s %s %s\n", branch, collection, canon);
	}
	return 0;
}

/* Definitions are collected first: rebuilding while iterating them would
 * change what is iterated. */
struct defs {
	char **v;
	size_t n;
};

static int collect_def(void *ctx, const char *branch, const char *collection,
		       const char *canon, uint64_t rows)
{
	struct defs *d = ctx;
	char **v = realloc(d->v, (d->n + 3) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	d->v = v;
	v[d->n] = strdup(branch);
	v[d->n + 1] = strdup(collection);
	v[d->n + 2] = strdup(canon);
	d->n += 3;
	return 0;
}

static int cmd_index(int argc, char **argv)
{
	struct rebuild r = {0};
	struct defs d = {0};
	int err;

	if (argc < 3)
		return -1;
	if (strcmp(argv[1], "list") && strcmp(argv[1], "drop") &&
	    strcmp(argv[1], "rebuild"))
		return -1;
	if (!strcmp(argv[1], "drop") && argc != 6)
		return -1;
	if (!strcmp(argv[1], "rebuild") && argc != 3 && argc != 6)
		return -1;
	if ((err = open_both(argv[2], &r.st, &r.db)) != 0)
		return err;
	if (!strcmp(argv[1], "list")) {
		err = idx_order_list(r.db, print_def, NULL);
	} else if (!strcmp(argv[1], "drop")) {
		err = idx_order_drop(r.db, argv[3], argv[4], argv[5]);
	} else if (argc == 6) {
		err = rebuild_one(&r, argv[3], argv[4], argv[5]);
	} else {
		err = idx_order_list(r.db, collect_def, &d);
		for (size_t i = 0; err == 0 && i < d.n; i += 3)
			rebuild_one(&r, d.v[i], d.v[i + 1], d.v[i + 2]);
	}
	for (size_t i = 0; i < d.n; i++)
		free(d.v[i]);
	free(d.v);
	if (err < 0)
		fprintf(stderr, "chronofsctl: index %s: %s\n", argv[1],
			*idx_errmsg() ? idx_errmsg() : strerror(-err));
	close_both(r.st, r.db);
	return err < 0 || r.failed ? 1 : 0;
}

static const struct cmd cmds[] = {
	{"init", cmd_init, "init REPO",
	 "make a bare repository with branch main and an empty commit"},
	{"log", cmd_log, "log REPO [BRANCH] [PATH] [--at WHEN]",
	 "one line per commit, newest first: time, id, message;\n"
	 "  --at WHEN: only the commit BRANCH@WHEN resolves to\n"
	 "  (WHEN: ISO-8601 time or 7-40 hex digits)"},
	{"query", cmd_query,
	 "query REPO BRANCH COLLECTION SPEC [--from V] [--to V] [--limit N]",
	 "documents in index order as JSON lines {rank, id, doc};\n"
	 "  --from: first field >= V, --to: first field < V"},
	{"index", cmd_index,
	 "index list|drop|rebuild REPO [BRANCH COLLECTION SPEC]",
	 "the ordered indexes: list them (branch, collection, spec,\n"
	 "  rows), drop one, rebuild one or all (not while mounted)"},
	{"help", cmd_help, "help", "this list"},
};

static int cmd_help(int argc, char **argv)
{
	printf("usage: chronofsctl [--version] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %-28s %s\n", cmds[i].usage, cmds[i].help);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(0, NULL), argc < 2 ? 2 : 0;
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("chronofsctl %s\n", CHRONOFS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc;

		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (wants_help(argc - 1, argv + 1)) {
			printf("usage: chronofsctl %s\n%s\n", cmds[i].usage,
			       cmds[i].help);
			return 0;
		}
		rc = cmds[i].fn(argc - 1, argv + 1);
		if (rc < 0) {
			fprintf(stderr, "usage: chronofsctl %s\n",
				cmds[i].usage);
			return 2;
		}
		return rc;
	}
	fprintf(stderr, "chronofsctl: unknown command '%s' (see --help)\n",
		argv[1]);
	return 2;
}
