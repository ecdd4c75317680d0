/* chronofsctl.c - the companion tool, a client of libchronofs's public API
 * only (chronofs.h): a table of cmd_<name> functions, each returning the
 * exit status (0 ok, 1 failure, 2 usage). */
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

static int cmd_query(int argc, char **argv)
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
				     "an empty base)" :
				     "");
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

/* import: the files of a tree into one transaction. */
struct import {
	chronofs *db;
	chronofs_tx *tx;
	const char *root;
	size_t root_len;
	size_t docs, skipped;
	int err;
	time_t shown;
};

static struct import *importing; /* nftw has no context argument */

static int read_whole(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return -errno;
	do {
		if (n == cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (!b) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = b;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static int import_one(const char *path, const struct stat *sb, int type,
		      struct FTW *ftw)
{
	struct import *im = importing;
	const char *rel = path + im->root_len;
	size_t len = 0;
	char *buf = NULL;
	int err;

	(void)sb;
	(void)ftw;
	while (*rel == '/')
		rel++;
	if (type != FTW_F)
		return 0;
	len = strlen(rel);
	if (len < 6 || strcmp(rel + len - 5, ".json")) {
		im->skipped++;
		return 0;
	}
	if ((err = read_whole(path, &buf, &len)) < 0) {
		fprintf(stderr, "chronofsctl: %s: %s\n", path, strerror(-err));
		im->err = 1;
		return 1;
	}
	err = chronofs_tx_put(im->tx, rel, buf, len);
	free(buf);
	if (err == -EINVAL || err == -ENAMETOOLONG) {
		im->skipped++; /* not a document name (hidden, '@'...) */
		return 0;
	}
	if (err < 0) {
		im->err = fail(im->db, err);
		return 1;
	}
	im->docs++;
	if (isatty(2) && time(NULL) != im->shown) {
		im->shown = time(NULL);
		fprintf(stderr, "\rread %zu documents", im->docs);
	}
	return 0;
}

static int cmd_import(int argc, char **argv)
{
	const char *pos[3], *msg = NULL;
	char commit[CHRONOFS_COMMIT_HEXSZ + 1], dflt[512];
	struct import im = { 0 };
	struct timespec t0, t1;
	int npos = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-m") && i + 1 < argc)
			msg = argv[++i];
		else if (argv[i][0] == '-' || npos == 3)
			return -1;
		else
			pos[npos++] = argv[i];
	}
	if (npos != 3)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (open_repo(&im.db, pos[0]))
		return 1;
	if ((err = chronofs_tx_begin(&im.tx, im.db, pos[1])) < 0) {
		err = fail(im.db, err);
		chronofs_close(im.db);
		return err;
	}
	im.root = pos[2];
	im.root_len = strlen(pos[2]);
	importing = &im;
	if (nftw(pos[2], import_one, 64, FTW_PHYS) < 0 && !im.err) {
		fprintf(stderr, "chronofsctl: %s: %s\n", pos[2],
			strerror(errno));
		im.err = 1;
	}
	if (isatty(2) && im.docs)
		fprintf(stderr, "\n");
	snprintf(dflt, sizeof(dflt), "import %s (%zu documents)", pos[2],
		 im.docs);
	/* Every document validated by the commit: one bad one and nothing
	 * is written; the message names it. */
	if (!im.err &&
	    (err = chronofs_tx_commit(im.tx, msg ? msg : dflt, commit)) < 0)
		im.err = fail(im.db, err);
	chronofs_tx_free(im.tx);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!im.err)
		printf("imported %zu documents into %s as %s (%zu other files "
		       "skipped) in %.1f s\n",
		       im.docs, pos[1],
		       commit[0] ? commit : "no commit: nothing changed",
		       im.skipped,
		       (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	chronofs_close(im.db);
	return im.err;
}

/* watch: one JSON line per new commit on a branch. */
#define WATCH_POLL_MS 200
#define WATCH_MAX_BRANCHES 4096

static volatile sig_atomic_t watch_stop;

static void watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

struct head {
	char *branch;
	char commit[CHRONOFS_COMMIT_HEXSZ + 1];
};

/* The commits after OLD up to the head, newest first, collected. */
struct newer {
	const char *old;
	char (*v)[CHRONOFS_COMMIT_HEXSZ + 1];
	int64_t *t;
	size_t n, cap;
};

static int newer_cb(void *ctx, const char *commit, int64_t time,
		    const char *summary)
{
	struct newer *w = ctx;

	(void)summary;
	if (w->old && !strcmp(commit, w->old))
		return 1;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		char(*v)[CHRONOFS_COMMIT_HEXSZ + 1] =
			realloc(w->v, cap * sizeof(*v));
		int64_t *t = v ? realloc(w->t, cap * sizeof(*t)) : NULL;

		if (v)
			w->v = v;
		if (!t)
			return -ENOMEM;
		w->t = t;
		w->cap = cap;
	}
	memcpy(w->v[w->n], commit, sizeof(w->v[0]));
	w->t[w->n++] = time;
	return 0;
}

/* {"branch","commit","time","parent","paths":[{"path","op"}...]} */
static int print_commit(chronofs *db, const char *branch, const char *parent,
			const char *commit, int64_t time)
{
	chronofs_diff *d = NULL;
	json_t *paths = json_array(), *line;
	const char *text;
	char when[32], *out;
	size_t len;
	int err = 0;

	if (parent)
		err = chronofs_diff_open(&d, db, parent, commit, NULL);
	while (err == 0 && d &&
	       (err = chronofs_diff_next(d, &text, &len)) == 1) {
		json_t *l = json_loadb(text, len, 0, NULL);

		json_array_append_new(
			paths, json_pack("{s:O?, s:O?}", "path",
					 json_object_get(l, "path"), "op",
					 json_object_get(l, "op")));
		json_decref(l);
		err = 0;
	}
	chronofs_diff_free(d);
	format_when(when, time);
	line = json_pack("{s:s, s:s, s:s, s:s?, s:o}", "branch", branch,
			 "commit", commit, "time", when, "parent", parent,
			 "paths", paths);
	out = line ? json_dumps(line, JSON_COMPACT) : NULL;
	if (out)
		printf("%s\n", out);
	free(out);
	json_decref(line);
	return err < 0 ? err : 0;
}

/* Report what changed on BRANCH from OLD (NULL: new branch) to NEW. */
static int report(chronofs *db, const char *branch, const char *old,
		  const char *new)
{
	struct newer w = { .old = old };
	int err = chronofs_log(db, branch, NULL, newer_cb, &w);

	if (err == 1)
		err = 0;
	if (!old) {
		printf("{\"branch\":\"%s\",\"event\":\"created\","
		       "\"commit\":\"%s\"}\n",
		       branch, new);
		w.n = 0; /* its history is the branch it came from */
	}
	for (size_t i = w.n; err == 0 && i-- > 0;)
		err = print_commit(db, branch, i + 1 < w.n ? w.v[i + 1] : old,
				   w.v[i], w.t[i]);
	free(w.v);
	free(w.t);
	return err;
}

static int heads(chronofs *db, const char *only, struct head **out, size_t *n)
{
	char **names = NULL;
	size_t k = 0;
	int err = chronofs_branches(db, &names, &k);

	*out = NULL;
	*n = 0;
	if (err < 0)
		return err;
	*out = calloc(k + 1, sizeof(**out));
	for (size_t i = 0; *out && i < k; i++) {
		if (only && strcmp(only, names[i]))
			continue;
		if (chronofs_head(db, names[i], (*out)[*n].commit) < 0)
			continue;
		(*out)[(*n)++].branch = strdup(names[i]);
	}
	chronofs_strings_free(names, k);
	return *out ? 0 : -ENOMEM;
}

static void heads_free(struct head *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].branch);
	free(h);
}

static int cmd_watch(int argc, char **argv)
{
	struct head *was = NULL, *now = NULL;
	size_t nwas = 0, nnow = 0;
	chronofs *db;
	int err;

	if (argc != 2 && argc != 3)
		return -1;
	if (open_repo(&db, argv[1]))
		return 1;
	signal(SIGINT, watch_signal);
	signal(SIGTERM, watch_signal);
	signal(SIGPIPE, watch_signal);
	err = heads(db, argc == 3 ? argv[2] : NULL, &was, &nwas);
	while (err == 0 && !watch_stop) {
		usleep(WATCH_POLL_MS * 1000);
		if ((err = heads(db, argc == 3 ? argv[2] : NULL, &now, &nnow)) <
		    0)
			break;
		for (size_t i = 0; i < nnow && err == 0; i++) {
			const char *old = NULL;
			bool seen = false;

			for (size_t j = 0; j < nwas && !seen; j++)
				if (!strcmp(was[j].branch, now[i].branch)) {
					seen = true;
					old = was[j].commit;
				}
			if (!seen || strcmp(old, now[i].commit))
				err = report(db, now[i].branch, old,
					     now[i].commit);
		}
		for (size_t j = 0; j < nwas && err == 0; j++) {
			bool gone = true;

			for (size_t i = 0; i < nnow && gone; i++)
				gone = strcmp(was[j].branch, now[i].branch);
			if (gone)
				printf("{\"branch\":\"%s\",\"event\":"
				       "\"deleted\"}\n",
				       was[j].branch);
		}
		heads_free(was, nwas);
		was = now;
		nwas = nnow;
		now = NULL;
		/* A reader that went away (SIGPIPE, a closed pipe) ends it. */
		if (fflush(stdout) != 0)
			watch_stop = 1;
	}
	heads_free(was, nwas);
	err = err < 0 ? fail(db, err) : 0;
	chronofs_close(db);
	return err;
}

/* The mountpoints of REPO: /proc/self/mountinfo's fuse.chronofs entries
 * whose source (the daemon's fsname) is REPO's absolute path. Each
 * mountpoint is printed by CB. */
static int mounts_of(const char *repo, void (*cb)(const char *mnt))
{
	char *abs = realpath(repo, NULL), line[8192];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int n = 0;

	while (abs && f && fgets(line, sizeof(line), f)) {
		char mnt[4096], type[256], source[4096];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%255s %4095s", type, source) != 2)
			continue;
		if (!strcmp(type, "fuse.chronofs") && !strcmp(source, abs)) {
			cb(mnt);
			n++;
		}
	}
	if (f)
		fclose(f);
	free(abs);
	return n;
}

static void print_mount(const char *mnt)
{
	char path[4200], line[2048];
	FILE *log;
	int shown = 0;

	printf("mounted on %s\n", mnt);
	/* The mount's recent refusals, if it keeps them (@log). */
	snprintf(path, sizeof(path), "%s/@log", mnt);
	if (!(log = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), log) && shown < 10) {
		printf("  %s", line);
		shown++;
	}
	fclose(log);
}

static int cmd_status(int argc, char **argv)
{
	char head[CHRONOFS_COMMIT_HEXSZ + 1], ix[CHRONOFS_COMMIT_HEXSZ + 1];
	char **names = NULL;
	size_t n = 0;
	chronofs *db;
	int err;

	if (argc != 2)
		return -1;
	if (open_repo(&db, argv[1]))
		return 1;
	err = chronofs_branches(db, &names, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		if ((err = chronofs_head(db, names[i], head)) < 0)
			break;
		if (chronofs_index_head(db, names[i], ix) < 0)
			snprintf(ix, sizeof(ix), "?");
		printf("branch %s: head %.12s, index %s\n", names[i], head,
		       !ix[0]		 ? "not built yet" :
		       !strcmp(ix, head) ? "at the head" :
					   "behind (a mount or the next "
					   "call catches it up)");
	}
	chronofs_strings_free(names, n);
	if (err < 0) {
		err = fail(db, err);
	} else if (mounts_of(argv[1], print_mount) == 0) {
		printf("not mounted\n");
	}
	chronofs_close(db);
	return err;
}

static void print_problem(void *ctx, const char *problem)
{
	(void)ctx;
	printf("%s\n", problem);
}

static int cmd_fsck(int argc, char **argv)
{
	int repair = argc == 3 && !strcmp(argv[2], "--repair");
	size_t problems = 0, left = 0;
	chronofs *db;
	int err;

	if (argc != 2 && !repair)
		return -1;
	if (open_repo(&db, argv[1]))
		return 1;
	err = chronofs_fsck(db, repair, print_problem, NULL, &problems);
	if (err == 0 && repair && problems)
		err = chronofs_fsck(db, 0, NULL, NULL, &left);
	if (err < 0) {
		err = fail(db, err);
	} else {
		printf("%zu problem%s%s\n", problems, problems == 1 ? "" : "s",
		       !repair || !problems ? "" :
		       left		    ? ", not all repaired" :
					      ", repaired");
		err = problems ? 1 : 0;
	}
	chronofs_close(db);
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
		return fail(db, err);
	printf("rebuilt %s %s %s\n", branch, collection, spec);
	return 0;
}

static int cmd_index(int argc, char **argv)
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
	if (open_repo(&db, argv[2]))
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
		err = chronofs_index_list(db, collect_def, &d);
		for (size_t i = 0; err == 0 && i < d.n; i += 3)
			failed |=
				rebuild_one(db, d.v[i], d.v[i + 1], d.v[i + 2]);
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
