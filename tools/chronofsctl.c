/* chronofsctl.c - the companion tool: a table of cmd_<name> functions, each
 * returning the exit status (0 ok, 1 failure, 2 usage). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int cmd_log(int argc, char **argv)
{
	struct store_opts so = {.fsync = false};
	struct store *st;
	int err;

	if (argc < 2 || argc > 4)
		return -1;
	err = store_open(&st, argv[1], &so);
	if (err < 0)
		return fail(argv[1], err);
	err = store_log(st, argc > 2 ? argv[2] : "main",
			argc > 3 ? argv[3] : NULL, print_log, NULL);
	store_close(st);
	return err < 0 ? fail("log", err) : 0;
}

static const struct cmd cmds[] = {
	{"init", cmd_init, "init REPO",
	 "make a bare repository with branch main and an empty commit"},
	{"log", cmd_log, "log REPO [BRANCH] [PATH]",
	 "one line per commit, newest first: time, id, message"},
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
