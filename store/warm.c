/* warm.c - the tree memo warmed at a mount with the buckets of the
 * collections the last mount saved into.
 *
 * Right after a mount the memo is empty, and each first save into a bucket
 * of a big collection reads that bucket back from its pack (160 KB at a
 * million documents, ~0.4 ms): 400 random saves meet ~210 of the 256
 * buckets. So the owner of a repository (the daemon) remembers which
 * collections its saves went to, writes them to GITDIR/chronofs/warm when
 * it closes (a hint: not synced, any error ignored), and once its next
 * read-write mount is up (store_prepare_writes) a thread of the lowest
 * priority loads those collections' buckets while the memo is under three
 * quarters of its budget (the 256 buckets of a million documents take 48
 * MB of its 64, as they do after a few thousand saves). Saves go on
 * meanwhile: a bucket is read and indexed without the store's lock, which
 * it takes only to put the bucket in. As PostgreSQL's autoprewarm, it
 * warms only what was in use: a mount that saves nothing leaves the list
 * as it was. A split bucket (layout.c) is warmed as its own tree, not its
 * sub-buckets: a save reads its ~600-byte sub-bucket cheaply. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

#define WARM_MAX 8 /* collections remembered, the last saved into first */
#define WARM_LINE 4096

struct store_warm {
	pthread_mutex_t lock; /* guards seen */
	char *seen[WARM_MAX]; /* "BRANCH\tDIR", most recent first */
	pthread_t tid;
	bool started;
	_Atomic bool stop;
};

static void warm_path(const struct store *st, char *out, size_t n,
		      const char *suffix)
{
	snprintf(out, n, "%s/chronofs/warm%s", st->gitdir, suffix);
}

/* LINE's place in W's list, or where the list ends (WARM_MAX if full). */
static size_t seen_at(const struct store_warm *w, const char *line)
{
	size_t i;

	for (i = 0; i < WARM_MAX && w->seen[i]; i++)
		if (!strcmp(w->seen[i], line))
			break;
	return i;
}

/* Put LINE first in W's list (W->lock held): 0, or -ENOMEM. */
static int remember(struct store_warm *w, const char *line)
{
	size_t i = seen_at(w, line);
	char *keep;

	if (i == 0 && w->seen[0])
		return 0;
	if (i < WARM_MAX && w->seen[i]) {
		keep = w->seen[i];
	} else {
		if (!(keep = strdup(line)))
			return -ENOMEM;
		i = WARM_MAX - 1;
		free(w->seen[i]);
	}
	memmove(w->seen + 1, w->seen, i * sizeof(*w->seen));
	w->seen[0] = keep;
	return 0;
}

void store_warm_note(struct store *st, const char *branch,
		     const struct store_change *c)
{
	const char *slash;
	char line[WARM_LINE];

	if (!st->warm || !c->path || c->op != STORE_PUT)
		return;
	slash = strrchr(c->path, '/');
	if (snprintf(line, sizeof(line), "%s\t%.*s", branch,
		     slash ? (int)(slash - c->path) : 0,
		     c->path) >= (int)sizeof(line) ||
	    strchr(line, '\n'))
		return;
	pthread_mutex_lock(&st->warm->lock);
	(void)remember(st->warm, line);
	pthread_mutex_unlock(&st->warm->lock);
}

/* The ids of the buckets of collection DIR on BRANCH, if it is a fanout
 * collection (up to 256 in OUT): their number. */
static size_t buckets_of(struct store *st, const char *branch, const char *dir,
			 git_oid out[256])
{
	git_tree *root = NULL, *t = NULL;
	git_oid head;
	size_t n = 0;

	pthread_mutex_lock(&st->lock);
	if (store_head_locked(st, branch, &head) == 0 &&
	    store_tree_locked(st, &head, &root) == 0 &&
	    store_layout_dir(st, root, dir, &t) == 0 &&
	    store_layout_is_fanout(t)) {
		for (size_t i = 0, k = git_tree_entrycount(t); i < k && n < 256;
		     i++) {
			const git_tree_entry *b = git_tree_entry_byindex(t, i);

			if (git_tree_entry_type(b) == GIT_OBJECT_TREE &&
			    store_layout_bucket_name(git_tree_entry_name(b)))
				out[n++] = *git_tree_entry_id(b);
		}
	}
	git_tree_free(t);
	git_tree_free(root);
	pthread_mutex_unlock(&st->lock);
	return n;
}

static void *warm_main(void *arg)
{
	struct store *st = arg;
	struct store_warm *w = st->warm;
	char path[4200], line[WARM_LINE];
	git_oid *ids = malloc(256 * sizeof(*ids));
	size_t trees = 0, bytes = 0;
	struct timespec t0, t1;
	FILE *f;

	setpriority(PRIO_PROCESS, (id_t)gettid(), 19); /* saves first */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	warm_path(st, path, sizeof(path), "");
	if (!ids || !(f = fopen(path, "re"))) {
		free(ids);
		return NULL;
	}
	while (!atomic_load(&w->stop) && fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');
		size_t n;

		if (!tab || !nl)
			continue;
		*tab = *nl = '\0';
		n = buckets_of(st, line, tab + 1, ids);
		for (size_t i = 0; i < n && !atomic_load(&w->stop); i++) {
			struct tree_bytes t;
			size_t got;

			/* Read and indexed without the store's lock: this
			 * thread runs last, and a save must not wait for it
			 * to be given the processor back. */
			if (store_tb_read_unlocked(st, &ids[i], &t) != 0)
				continue; /* not in a pack: the save reads it */
			pthread_mutex_lock(&st->lock);
			got = store_tb_offer(st, &t, TREE_MEMO_BYTES / 4 * 3);
			pthread_mutex_unlock(&st->lock);
			if (got == (size_t)-1)
				break; /* the memo is full enough */
			trees += got > 0;
			bytes += got;
		}
	}
	fclose(f);
	free(ids);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (st->info && trees) {
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "warmed the tree memo with %zu trees (%zu KiB) of "
			 "the collections saved into last time in %.2f s",
			 trees, bytes >> 10,
			 (double)(t1.tv_sec - t0.tv_sec) +
				 (t1.tv_nsec - t0.tv_nsec) / 1e9);
		st->info(msg);
	}
	return NULL;
}

int store_warm_new(struct store *st)
{
	struct store_warm *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	st->warm = w;
	return 0;
}

void store_warm_start(struct store *st)
{
	struct store_warm *w = st->warm;

	if (w && !w->started)
		w->started = pthread_create(&w->tid, NULL, warm_main, st) == 0;
}

/* The list of W, then what the file held that is not in it, up to
 * WARM_MAX lines, into the file (a hint: errors are ignored). */
static void warm_save(struct store *st, struct store_warm *w)
{
	char path[4200], tmp[4200], line[WARM_LINE];
	FILE *in, *out;
	size_t n = 0;

	if (!w->seen[0])
		return; /* nothing saved: the list stays as it was */
	warm_path(st, path, sizeof(path), "");
	warm_path(st, tmp, sizeof(tmp), ".tmp");
	if (!(out = fopen(tmp, "we")))
		return;
	for (; n < WARM_MAX && w->seen[n]; n++)
		fprintf(out, "%s\n", w->seen[n]);
	if ((in = fopen(path, "re"))) {
		while (n < WARM_MAX && fgets(line, sizeof(line), in)) {
			char *nl = strchr(line, '\n');
			size_t i;

			if (!nl || !strchr(line, '\t'))
				continue;
			*nl = '\0';
			if ((i = seen_at(w, line)) < WARM_MAX && w->seen[i])
				continue;
			fprintf(out, "%s\n", line);
			n++;
		}
		fclose(in);
	}
	if (fclose(out) != 0 || rename(tmp, path) != 0)
		unlink(tmp);
}

void store_warm_stop(struct store *st)
{
	struct store_warm *w = st->warm;

	if (!w)
		return;
	atomic_store(&w->stop, true);
	if (w->started)
		pthread_join(w->tid, NULL);
	warm_save(st, w);
	for (size_t i = 0; i < WARM_MAX; i++)
		free(w->seen[i]);
	pthread_mutex_destroy(&w->lock);
	free(w);
	st->warm = NULL;
}
