/* test_journal.c - the journal a process that died left (journal.c),
 * replayed by the next one to start writing: what a power cut may leave
 * of the Git files after saves whose records were durable.
 *
 * A child process saves with fsync=on and dies without closing its store
 * (as kill -9 would: its pool directory's marker stays, its journal
 * holds the saves' records). The parent then makes the Git files look as
 * a power cut could leave them, and opens the store again:
 * 1. the ref behind by three saves, the packs of all five emptied or
 *    gone: every save back, every object readable, git fsck clean;
 * 2. the ref file empty, and the fourth record torn: the first three
 *    saves back, nothing past the torn record;
 * 3. the ref moved elsewhere since: left where it is;
 * 4. the last record taken back (its save failed after it was written):
 *    not replayed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "store_int.h"
#include "testrepo.h"

#define SAVES 5
#define BLOCK 4096 /* journal.c: records are block-aligned */

static char logs[16384];

static void logmsg(const char *m)
{
	size_t at = strlen(logs);

	snprintf(logs + at, sizeof(logs) - at, "%s\n", m);
}

static int save(struct store *st, int k, int seq, struct store_oid *out)
{
	char path[64], body[64];
	struct store_change c = { .op = STORE_PUT, .path = path };

	snprintf(path, sizeof(path), "d%d.json", k);
	snprintf(body, sizeof(body), "{\"k\": %d, \"seq\": %d}", k, seq);
	c.data = body;
	c.len = strlen(body);
	return store_apply(st, "main", &c, out);
}

/* N saves (documents K0..) in a child that then dies without closing; C
 * their commits. The child's first save, synced without the journal
 * (journal.c: a process's first save makes no journal), comes before
 * them: then BEFORE (if not NULL) is called, the child waiting. */
static int saves_then_die(const char *dir, int k0, int n, struct store_oid *c,
			  void (*before)(void), bool undo_last)
{
	int fds[2], go[2], status = 0;
	struct store_oid first;
	pid_t pid;

	if (pipe(fds) < 0 || pipe(go) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct store_opts o = { .fsync = true };
		struct store *st;
		char b;

		close(fds[0]);
		close(go[1]);
		if (store_open(&st, dir, &o) < 0 ||
		    save(st, k0 + 50, 7, &first) < 0 ||
		    write(fds[1], &first, sizeof(first)) != sizeof(first) ||
		    read(go[0], &b, 1) != 1)
			_exit(2);
		for (int i = 0; i < n; i++) {
			struct store_oid id;

			if (save(st, k0 + i, i, &id) < 0 ||
			    write(fds[1], &id, sizeof(id)) != sizeof(id))
				_exit(3);
		}
		if (undo_last)
			store_journal_undo(st);
		_exit(0); /* no store_close: as a crash */
	}
	close(fds[1]);
	close(go[0]);
	if (read(fds[0], &first, sizeof(first)) == sizeof(first) && before)
		before();
	if (write(go[1], "g", 1) != 1)
		perror("write");
	close(go[1]);
	for (int i = 0; i < n; i++)
		if (read(fds[0], &c[i], sizeof(c[i])) != sizeof(c[i]))
			memset(&c[i], 0, sizeof(c[i]));
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The one journal the dead child left, in PATH. */
static bool journal_of(const char *dir, char *path, size_t sz)
{
	char pat[4200];
	glob_t g;
	bool one;

	snprintf(pat, sizeof(pat), "%s/chronofs/pool/*/journal", dir);
	if (glob(pat, 0, NULL, &g) != 0)
		return false;
	one = g.gl_pathc == 1;
	if (one)
		snprintf(path, sz, "%s", g.gl_pathv[0]);
	globfree(&g);
	return one;
}

static void set_ref(const char *dir, const char *text)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/refs/heads/main", dir);
	f = fopen(path, "w");
	CHECK(f != NULL, "open %s", path);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void set_ref_to(const char *dir, const struct store_oid *c)
{
	char hex[STORE_OID_HEXSZ + 2];

	store_oid_fmt(hex, c);
	strcat(hex, "\n");
	set_ref(dir, hex);
}

/* The packs of objects/pack/, their names in V (up to CAP). */
static size_t packs(const char *dir, char (*v)[128], size_t cap)
{
	char path[4200];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/objects/pack", dir);
	d = opendir(path);
	while (d && (e = readdir(d)) != NULL && n < cap) {
		size_t len = strlen(e->d_name);

		if (len > 5 && !strcmp(e->d_name + len - 5, ".pack"))
			snprintf(v[n++], 128, "%.*s", (int)(len - 5),
				 e->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

static char dirname_[64];
static char (*before_)[128];
static size_t nbefore_;

/* The packs there before the child's saves. */
static void note_packs(void)
{
	nbefore_ = packs(dirname_, before_, 256);
}

static bool in(char (*v)[128], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

/* Open DIR again as the next process does (the open replays; WRITES:
 * its pool started too, as for a save), and check main's head is WANT
 * and every commit of C[0..N) has its document readable. */
static struct store *reopen(const char *dir, const struct store_oid *want,
			    const struct store_oid *c, int k0, int n,
			    bool writes)
{
	struct store_opts o = { .fsync = true, .log = logmsg };
	char hw[2][STORE_OID_HEXSZ + 1];
	struct store_oid head;
	struct store *st = NULL;

	logs[0] = '\0';
	CHECK(store_open(&st, dir, &o) == 0, "open: %s", store_errmsg());
	if (!st)
		return NULL;
	if (writes)
		store_prepare_writes(st);
	memset(&head, 0, sizeof(head));
	store_branch_head(st, "main", &head);
	store_oid_fmt(hw[0], &head);
	store_oid_fmt(hw[1], want);
	CHECK(!strcmp(hw[0], hw[1]),
	      "main's head after the replay: %s, not %s (log: %s)", hw[0],
	      hw[1], logs);
	for (int i = 0; i < n; i++) {
		struct store_entry e;
		char path[64], *buf = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), "d%d.json", k0 + i);
		CHECK(store_stat(st, &c[i], path, &e) == 0 &&
			      store_blob_read(st, &e.oid, &buf, &len) == 0 &&
			      len > 0,
		      "save %d's document readable: %s", i, store_errmsg());
		free(buf);
	}
	return st;
}

/* The replay's line said LINE. */
static void expect_log(const char *line)
{
	CHECK(strstr(logs, line), "the replay said so: %s", logs);
}

static void fsck_clean(const char *dir)
{
	char cmd[4400];

	snprintf(
		cmd, sizeof(cmd),
		"git --git-dir='%s' fsck --strict --no-dangling --no-progress 2>&1",
		dir);
	CHECK(system(cmd) == 0, "git fsck --strict of %s", dir);
}

int main(void)
{
	char dir[] = "/tmp/chronofs-journal-XXXXXX", jpath[4400], path[4400];
	struct store_opts o = { .fsync = true };
	char(*before)[128] = calloc(256, 128), (*after)[128] = calloc(256, 128);
	struct store_oid base, c[SAVES], d[SAVES], e[3], f[3];
	struct store *st;
	size_t nb, na, emptied = 0;
	int fd;

	if (!before || !after || testrepo_open(&st, dir, &o) < 0)
		return 1;
	CHECK(save(st, 100, 0, &base) == 0, "base save: %s", store_errmsg());
	store_close(st);

	/* 1. The ref three saves behind, their packs emptied or gone. */
	snprintf(dirname_, sizeof(dirname_), "%s", dir);
	before_ = before;
	CHECK(saves_then_die(dir, 0, SAVES, c, note_packs, false) == 0,
	      "the child's saves");
	nb = nbefore_;
	CHECK(journal_of(dir, jpath, sizeof(jpath)), "a journal left");
	na = packs(dir, after, 256);
	for (size_t i = 0; i < na; i++) {
		if (in(before, nb, after[i]))
			continue;
		snprintf(path, sizeof(path), "%s/objects/pack/%s.%s", dir,
			 after[i], emptied % 2 ? "pack" : "idx");
		if (emptied % 3 == 2)
			CHECK(unlink(path) == 0, "unlink %s", path);
		else
			CHECK(truncate(path, 0) == 0, "truncate %s", path);
		emptied++;
	}
	CHECK(emptied == SAVES, "%zu packs of the child's saves", emptied);
	set_ref_to(dir, &c[1]);
	st = reopen(dir, &c[SAVES - 1], c, 0, SAVES, false);
	expect_log("5 saves, 5 packs written again, 3 refs moved");
	CHECK(access(jpath, F_OK) < 0, "the replayed journal removed");
	store_close(st);
	fsck_clean(dir);

	/* 2. The ref file empty; the fourth record torn. */
	CHECK(saves_then_die(dir, 10, SAVES, d, NULL, false) == 0,
	      "the child's saves");
	CHECK(journal_of(dir, jpath, sizeof(jpath)), "a journal left");
	set_ref(dir, "");
	fd = open(jpath, O_RDWR);
	CHECK(fd >= 0 && pwrite(fd, "X", 1, 3 * BLOCK + 40) == 1,
	      "tear the fourth record");
	if (fd >= 0)
		close(fd);
	st = reopen(dir, &d[2], d, 10, 3, true);
	expect_log("3 saves, 0 packs written again, 3 refs moved");
	store_close(st);
	fsck_clean(dir);

	/* 3. The ref moved elsewhere since the records. */
	CHECK(saves_then_die(dir, 20, 3, e, NULL, false) == 0,
	      "the child's saves");
	set_ref_to(dir, &c[0]);
	st = reopen(dir, &c[0], c, 0, 1, false);
	expect_log("3 saves, 0 packs written again, 0 refs moved");
	store_close(st);

	/* 4. The last record taken back: the ref one save behind stays. */
	CHECK(saves_then_die(dir, 30, 3, f, NULL, true) == 0,
	      "the child's saves");
	set_ref_to(dir, &f[1]);
	st = reopen(dir, &f[1], f, 30, 2, true);
	expect_log("2 saves, 0 packs written again, 0 refs moved");
	testrepo_close(st, dir);
	free(before);
	free(after);
	return failures != 0;
}
