/* chronofsctl.c - the companion tool, a client of libchronofs's public API
 * only (chronofs.h): a table of cmd_<name> functions (one file per group
 * of them, ctl_*.c), each returning the exit status (0 ok, 1 failure, -1
 * usage), and init and log. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chronofs.h"
#include "ctl.h"
#include "ctl_sync.h"
#include "banned.h"

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

/* The library's message names the call's problem (and its path) once. */
int ctl_fail(chronofs *db, int err)
{
	const char *msg = chronofs_errmsg(db);

	fprintf(stderr, "chronofsctl: %s\n", *msg ? msg : strerror(-err));
	return 1;
}

int ctl_open_repo(chronofs **db, const char *repo)
{
	int err = chronofs_open(db, repo, NULL);

	return err < 0 ? ctl_fail(NULL, err) : 0;
}

static int cmd_init(int argc, char **argv)
{
	int err;

	if (argc != 2)
		return -1;
	err = chronofs_init(argv[1]);
	if (err < 0)
		return ctl_fail(NULL, err);
	printf("initialized %s (bare, branch main)\n", argv[1]);
	return 0;
}

void ctl_progress(const char *what, size_t done, size_t total,
		  const struct timespec *start)
{
	static struct timespec shown;
	struct timespec now;
	double secs;

	if (!isatty(2))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (done != total && (now.tv_sec - shown.tv_sec) * 1000000000L +
					     (now.tv_nsec - shown.tv_nsec) <
				     200000000L)
		return;
	shown = now;
	secs = (double)(now.tv_sec - start->tv_sec) +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e9;
	if (total)
		fprintf(stderr, "\r%s %zu/%zu (%.0f/s)", what, done, total,
			secs > 0 ? (double)done / secs : 0.0);
	else
		fprintf(stderr, "\r%s %zu (%.0f/s)", what, done,
			secs > 0 ? (double)done / secs : 0.0);
	if (total && done == total)
		fputc('\n', stderr);
}

/* "YYYY-MM-DDTHH:MM:SSZ", as history names and the mount show times. */
void ctl_format_when(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int print_log(void *ctx, const char *commit, int64_t time,
		     const char *summary)
{
	char when[32];

	ctl_format_when(when, time);
	printf("%s %s %s\n", when, commit, summary);
	return 0;
}

/* log --at WHEN: the commit BRANCH@WHEN resolves to, as the mount does. */
static int log_at(chronofs *db, const char *branch, const char *when)
{
	char commit[CHRONOFS_COMMIT_HEXSZ + 1], *summary = NULL;
	int64_t t;
	int err = chronofs_resolve(db, branch, when, commit, NULL);

	if (err == 0)
		err = chronofs_commit(db, commit, &t, &summary);
	if (err < 0)
		return ctl_fail(db, err);
	print_log(NULL, commit, t, summary);
	chronofs_free(summary);
	return 0;
}

static int cmd_log(int argc, char **argv)
{
	const char *at = NULL, *pos[3] = { NULL, NULL, NULL };
	chronofs *db;
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
	if (ctl_open_repo(&db, pos[0]))
		return 1;
	if (at) {
		err = log_at(db, pos[1] ? pos[1] : "main", at);
		chronofs_close(db);
		return err;
	}
	err = chronofs_log(db, pos[1] ? pos[1] : "main", pos[2], print_log,
			   NULL);
	err = err < 0 ? ctl_fail(db, err) : 0;
	chronofs_close(db);
	return err;
}

static const struct cmd cmds[] = {
	{ "init", cmd_init, "init REPO",
	  "make a bare repository with branch main and an empty commit" },
	{ "log", cmd_log, "log REPO [BRANCH] [PATH] [--at WHEN]",
	  "one line per commit, newest first: time, id, message;\n"
	  "--at WHEN: only the commit BRANCH@WHEN resolves to\n"
	  "(WHEN: ISO-8601 time or 7-40 hex digits)" },
	{ "query", cmd_query,
	  "query REPO BRANCH COLLECTION SPEC [--ge V] [--gt V] [--lt V] "
	  "[--le V] [--first N]",
	  "documents in index order as JSON lines {rank, id, doc};\n"
	  "bounds on the first field of SPEC: V is JSON, else a bare\n"
	  "string; --from, --to, --limit are --ge, --lt, --first" },
	{ "merge", cmd_merge, "merge REPO FROM INTO [-m MSG] [--squash]",
	  "merge branch FROM into branch INTO (works while mounted):\n"
	  "a fast-forward, or a merge commit by the JSON merge rules;\n"
	  "--squash: one ordinary commit of FROM's changes" },
	{ "diff", cmd_diff, "diff REPO A B [PATH]",
	  "one JSON line per document changed from A to B (each a\n"
	  "branch, BRANCH@WHEN or commit): path, op, RFC 6902 patch" },
	{ "import", cmd_import, "import REPO BRANCH DIR [-m MSG]",
	  "every *.json file below DIR as ONE commit on BRANCH (paths\n"
	  "relative to DIR); all validated first: one bad file refuses\n"
	  "the import and is named; other files are skipped and counted" },
	{ "watch", cmd_watch, "watch REPO [BRANCH]",
	  "one JSON line per new commit (branch, commit, time, parent,\n"
	  "changed paths), from the mount, the library, git or sync, and\n"
	  "per branch created or deleted; until SIGINT or a closed pipe" },
	{ "status", cmd_status, "status REPO",
	  "branches with their heads and whether the index is at them,\n"
	  "the mounts of REPO and their recent refusals (@log)" },
	{ "fsck", cmd_fsck, "fsck REPO [--repair]",
	  "check the indexes against Git (time, path, ordered), a line\n"
	  "per problem; --repair builds the wrong ones again (not while\n"
	  "mounted); exit 1 if anything was wrong" },
	{ "index", cmd_index,
	  "index list|create|drop|rebuild REPO [BRANCH COLLECTION SPEC]",
	  "the ordered indexes: list them (branch, collection, spec,\n"
	  "rows), make one now, drop one, rebuild one or all (create,\n"
	  "drop and rebuild not while mounted); a spec queried 3 times\n"
	  "gets its index by itself, at most 16 per collection" },
	{ "clone", ctl_clone, "clone URL REPO",
	  "a bare clone of URL ready to mount and sync (remote origin;\n"
	  "any URL git takes, with your ssh agent and credential helpers)" },
	{ "sync", ctl_sync, "sync REPO [REMOTE]",
	  "one sync round with REMOTE (default origin) for every branch:\n"
	  "fetch, fast-forward, merge, push; one line per branch (works\n"
	  "while mounted)" },
	{ "help", cmd_help, "help [COMMAND]", "this list, or one command's" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* The help text of CMD, each line indented under its usage. */
static void print_cmd(const struct cmd *c)
{
	const char *p = c->help;

	printf("  %s\n", c->usage);
	while (*p) {
		size_t len = strcspn(p, "\n");

		printf("      %.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
}

static int cmd_help(int argc, char **argv)
{
	for (size_t i = 0; argc > 1 && i < NCMDS; i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			printf("usage: chronofsctl %s\n", cmds[i].usage);
			print_cmd(&cmds[i]);
			return 0;
		}
	}
	if (argc > 1) {
		fprintf(stderr, "chronofsctl: no command '%s'\n", argv[1]);
		return 2;
	}
	printf("usage: chronofsctl [--version] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < NCMDS; i++)
		print_cmd(&cmds[i]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(0, NULL), argc < 2 ? 2 : 0;
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("chronofsctl %s\n", chronofs_version());
		return 0;
	}
	for (size_t i = 0; i < NCMDS; i++) {
		int rc;

		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (wants_help(argc - 1, argv + 1)) {
			char *v[] = { "help", argv[1] };

			return cmd_help(2, v);
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
