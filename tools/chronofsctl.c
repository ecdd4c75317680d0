/* chronofsctl.c - the companion tool: a table of cmd_<name> functions, each
 * returning the exit status (0 ok, 1 failure, 2 usage). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "history.h"
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
	char hex[STORE_OID_HEXSZ + 1], when[32];
	time_t t = (time_t)time;
	struct tm tm;

	store_oid_fmt(hex, commit);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
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
	size_t n = strlen(when);
	int err;

	if ((err = open_index(&db, st)) < 0)
		return 1;
	err = idx_history_catchup(db, st, branch, NULL);
	if (err < 0) {
		fprintf(stderr, "chronofsctl: index: %s %s\n", idx_errmsg(),
			store_errmsg());
		goto out;
	}
	if (n >= 7 && n <= STORE_OID_HEXSZ &&
	    strspn(when, "0123456789abcdef") == n)
		err = idx_history_commit(db, branch, when, &commit);
	else if (idx_parse_when(when, n, &t) == 0)
		err = idx_history_at(db, branch, t, &commit);
	else {
		fprintf(stderr, "chronofsctl: '%s' is neither an ISO-8601 time "
			"nor a commit id\n", when);
		err = -EINVAL;
		goto out;
	}
	if (err == -ENOENT)
		fprintf(stderr, "chronofsctl: %s@%s: no such commit\n", branch,
			when);
	if (err == 0 && (err = store_commit_time(st, &commit, &t)) == 0 &&
	    (err = store_commit_summary(st, &commit, &summary)) == 0)
		print_log(NULL, &commit, t, summary);
out:
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

static const struct cmd cmds[] = {
	{"init", cmd_init, "init REPO",
	 "make a bare repository with branch main and an empty commit"},
	{"log", cmd_log, "log REPO [BRANCH] [PATH] [--at WHEN]",
	 "one line per commit, newest first: time, id, message;\n"
	 "  --at WHEN: only the commit BRANCH@WHEN resolves to\n"
	 "  (WHEN: ISO-8601 time or 7-40 hex digits)"},
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
