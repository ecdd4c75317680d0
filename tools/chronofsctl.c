/* chronofsctl.c - the companion tool, a client of libchronofs's public API
 * only (chronofs.h): a table of cmd_<name> functions, each returning the
 * exit status (0 ok, 1 failure, 2 usage). */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chronofs.h"
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
static int fail(chronofs *db, int err)
{
	const char *msg = chronofs_errmsg(db);

	fprintf(stderr, "chronofsctl: %s\n", *msg ? msg : strerror(-err));
	return 1;
}

static int open_repo(chronofs **db, const char *repo)
{
	int err = chronofs_open(db, repo, NULL);

	return err < 0 ? fail(NULL, err) : 0;
}

static int cmd_init(int argc, char **argv)
{
	int err;

	if (argc != 2)
		return -1;
	err = chronofs_init(argv[1]);
	if (err < 0)
		return fail(NULL, err);
	printf("initialized %s (bare, branch main)\n", argv[1]);
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ", as history names and the mount show times. */
static void format_when(char out[32], int64_t t)
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

	format_when(when, time);
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
		return fail(db, err);
	print_log(NULL, commit, t, summary);
	chronofs_free(summary);
	return 0;
}

static int cmd_log(int argc, char **argv)
{
	const char *at = NULL, *pos[3] = {NULL, NULL, NULL};
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
	if (open_repo(&db, pos[0]))
		return 1;
	if (at) {
		err = log_at(db, pos[1] ? pos[1] : "main", at);
		chronofs_close(db);
		return err;
	}
	err = chronofs_log(db, pos[1] ? pos[1] : "main", pos[2], print_log,
			   NULL);
	err = err < 0 ? fail(db, err) : 0;
	chronofs_close(db);
	return err;
}

/* One line: {"rank":N,"id":"...","doc":DOC} with DOC's exact text (a
 * document's line breaks can only be whitespace between tokens: they
 * become spaces, so the line stays one line and the text stays JSON). */
static int print_row(size_t rank, const char *id, const char *doc,
		     size_t len)
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
		{"--ge", "ge"},	      {"--gt", "gt"},	  {"--lt", "lt"},
		{"--le", "le"},	      {"--first", "first"}, {"--from", "ge"},
		{"--to", "lt"},	      {"--limit", "first"},
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

static int cmd_query(int argc, char **argv)
{
	chronofs_range range = {0};
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
				err = fail(NULL, rc);
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
	if (err == 0 && (err = open_repo(&db, pos[0])) == 0) {
		rc = chronofs_query_range(db, pos[1], pos[2], pos[3], &range,
					  &it);
		while (rc == 0 &&
		       (rc = chronofs_iter_next(it, &id, &doc, &len)) == 1)
			rc = print_row(++rank, id, doc, len);
		if (rc < 0)
			err = fail(db, rc);
		chronofs_iter_free(it);
		chronofs_close(db);
	}
	for (size_t i = 0; i < nsteps; i++)
		free(steps[i]);
	return err;
}

static int cmd_merge(int argc, char **argv)
{
	const char *pos[3], *msg = NULL;
	chronofs_merge_result r;
	unsigned flags = 0;
	chronofs *db;
	int npos = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--squash"))
			flags |= CHRONOFS_MERGE_SQUASH;
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			msg = argv[++i];
		else if (argv[i][0] == '-' || npos == 3)
			return -1;
		else
			pos[npos++] = argv[i];
	}
	if (npos != 3)
		return -1;
	if (open_repo(&db, pos[0]))
		return 1;
	err = chronofs_merge(db, pos[1], pos[2], msg, flags, &r);
	if (err < 0) {
		err = fail(db, err);
	} else if (!r.commit[0]) {
		printf("%s: already up to date with %s\n", pos[2], pos[1]);
	} else if (r.fast_forward) {
		printf("%s: fast-forward to %s\n", pos[2], r.commit);
	} else {
		printf("%s: %s %s as %s, %zu conflict%s%s\n", pos[2],
		       flags ? "squashed" : "merged", pos[1], r.commit,
		       r.conflicts, r.conflicts == 1 ? "" : "s",
		       r.unrelated ? " (no common history: merged against "
				     "an empty base)"
				   : "");
	}
	chronofs_close(db);
	return err;
}

static int cmd_diff(int argc, char **argv)
{
	chronofs_diff *d = NULL;
	const char *line;
	chronofs *db;
	size_t len;
	int err;

	if (argc != 4 && argc != 5)
		return -1;
	if (open_repo(&db, argv[1]))
		return 1;
	err = chronofs_diff_open(&d, db, argv[2], argv[3],
				 argc == 5 ? argv[4] : NULL);
	if (err == 0)
		while ((err = chronofs_diff_next(d, &line, &len)) == 1)
			printf("%.*s\n", (int)len, line);
	err = err < 0 ? fail(db, err) : 0;
	chronofs_diff_free(d);
	chronofs_close(db);
	return err;
}

static int print_def(void *ctx, const char *branch, const char *collection,
		     const char *spec, uint64_t rows)
{
	printf("%s\t%s\t%s\t%llu\n", branch, *collection ? collection : ".",
	       spec, (unsigned long long)rows);
	return 0;
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

static int rebuild_one(chronofs *db, const char *branch,
		       const char *collection, const char *spec)
{
	int err = chronofs_index_rebuild(db, branch, collection, spec);

	if (err < 0)
		return fail(db, err);
	printf("rebuilt %s %s %s\n", branch, collection, spec);
	return 0;
}

static int cmd_index(int argc, char **argv)
{
	struct defs d = {0};
	chronofs *db;
	int err, failed = 0;

	if (argc < 3)
		return -1;
	if (strcmp(argv[1], "list") && strcmp(argv[1], "drop") &&
	    strcmp(argv[1], "rebuild"))
		return -1;
	if (!strcmp(argv[1], "list") && argc != 3)
		return -1;
	if (!strcmp(argv[1], "drop") && argc != 6)
		return -1;
	if (!strcmp(argv[1], "rebuild") && argc != 3 && argc != 6)
		return -1;
	if (open_repo(&db, argv[2]))
		return 1;
	if (!strcmp(argv[1], "list")) {
		err = chronofs_index_list(db, print_def, NULL);
	} else if (!strcmp(argv[1], "drop")) {
		err = chronofs_index_drop(db, argv[3], argv[4], argv[5]);
	} else if (argc == 6) {
		err = 0;
		failed = rebuild_one(db, argv[3], argv[4], argv[5]);
	} else {
		err = chronofs_index_list(db, collect_def, &d);
		for (size_t i = 0; err == 0 && i < d.n; i += 3)
			failed |= rebuild_one(db, d.v[i], d.v[i + 1],
					      d.v[i + 2]);
	}
	for (size_t i = 0; i < d.n; i++)
		free(d.v[i]);
	free(d.v);
	if (err < 0)
		failed = fail(db, err);
	chronofs_close(db);
	return failed;
}

static const struct cmd cmds[] = {
	{"init", cmd_init, "init REPO",
	 "make a bare repository with branch main and an empty commit"},
	{"log", cmd_log, "log REPO [BRANCH] [PATH] [--at WHEN]",
	 "one line per commit, newest first: time, id, message;\n"
	 "--at WHEN: only the commit BRANCH@WHEN resolves to\n"
	 "(WHEN: ISO-8601 time or 7-40 hex digits)"},
	{"query", cmd_query,
	 "query REPO BRANCH COLLECTION SPEC [--ge V] [--gt V] [--lt V] "
	 "[--le V] [--first N]",
	 "documents in index order as JSON lines {rank, id, doc};\n"
	 "bounds on the first field of SPEC: V is JSON, else a bare\n"
	 "string; --from, --to, --limit are --ge, --lt, --first"},
	{"merge", cmd_merge, "merge REPO FROM INTO [-m MSG] [--squash]",
	 "merge branch FROM into branch INTO (works while mounted):\n"
	 "a fast-forward, or a merge commit by the JSON merge rules;\n"
	 "--squash: one ordinary commit of FROM's changes"},
	{"diff", cmd_diff, "diff REPO A B [PATH]",
	 "one JSON line per document changed from A to B (each a\n"
	 "branch, BRANCH@WHEN or commit): path, op, RFC 6902 patch"},
	{"index", cmd_index,
	 "index list|drop|rebuild REPO [BRANCH COLLECTION SPEC]",
	 "the ordered indexes: list them (branch, collection, spec,\n"
	 "rows), drop one, rebuild one or all (not while mounted)"},
	{"clone", ctl_clone, "clone URL REPO",
	 "a bare clone of URL ready to mount and sync (remote origin;\n"
	 "any URL git takes, with your ssh agent and credential helpers)"},
	{"sync", ctl_sync, "sync REPO [REMOTE]",
	 "one sync round with REMOTE (default origin) for every branch:\n"
	 "fetch, fast-forward, merge, push; one line per branch (works\n"
	 "while mounted)"},
	{"help", cmd_help, "help [COMMAND]", "this list, or one command's"},
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
			char *v[] = {"help", argv[1]};

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
