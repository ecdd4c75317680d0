/* ctl_watch.c - chronofsctl watch: one JSON line per new commit on any
 * branch, whoever made it. */
#include <errno.h>
#include <signal.h>
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
	ctl_format_when(when, time);
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

int cmd_watch(int argc, char **argv)
{
	struct head *was = NULL, *now = NULL;
	size_t nwas = 0, nnow = 0;
	chronofs *db;
	int err;

	if (argc != 2 && argc != 3)
		return -1;
	if (ctl_open_repo(&db, argv[1]))
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
	err = err < 0 ? ctl_fail(db, err) : 0;
	chronofs_close(db);
	return err;
}
