/* sync.c - sync between machines: clone, and one round against a remote
 * for every branch (fetch; fast-forward, merge by the one engine, push).
 *
 * The network is the git command's: it takes every URL `git clone` takes
 * with the user's ssh agent, ~/.ssh/config and credential helpers. It runs
 * as a child process while no store lock is held (a save never waits for
 * it), with a terminal prompt ruled out (a daemon has no terminal).
 * Local refs move by compare-and-swap only. What both sides last agreed on
 * is kept per branch in refs/chronofs/sync/REMOTE/BRANCH: a branch missing
 * on one side is a deletion there only if that side had it, and is carried
 * out on the other only if the other holds nothing beyond it. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gitrun.h"
#include "lib_int.h"
#include "remote.h"
#include "treemerge.h"
#include "banned.h"

/* A rejected push is followed by a new fetch and merge this many times. */
#define SYNC_TRIES 5
#define STATE_PREFIX "refs/chronofs/sync/"

/* The refs of one namespace, sorted by name, with their values. */
struct refs {
	char **names;
	struct store_oid *oids;
	size_t n;
};

static void refs_free(struct refs *r)
{
	store_strv_free(r->names, r->n);
	free(r->oids);
	memset(r, 0, sizeof(*r));
}

static int refs_load(chronofs *db, const char *prefix, struct refs *r)
{
	refs_free(r);
	return store_refs_list(db->st, prefix, &r->names, &r->oids, &r->n);
}

static const struct store_oid *refs_get(const struct refs *r, const char *name)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->names[mid], name);

		if (c == 0)
			return &r->oids[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* One push of a round: branch B of the result to OID, or deleted there
 * while it still is OID. */
struct push {
	size_t b;
	struct store_oid oid;
	bool del;
	int outcome; /* 0 not yet, 1 done, -1 rejected */
	char why[256]; /* the rejection */
};

struct round {
	chronofs *db;
	const char *remote;
	const _Atomic bool *stop;
	chronofs_sync_result *res;
	struct refs l, r, s; /* local branches, remote's, agreed */
	struct push *push;
	size_t npush, cap;
};

static chronofs_sync_branch *entry(struct round *rd, const char *name,
				   size_t *index)
{
	chronofs_sync_result *res = rd->res;
	chronofs_sync_branch *v;

	for (size_t i = 0; i < res->n; i++)
		if (!strcmp(res->v[i].name, name)) {
			if (index)
				*index = i;
			return &res->v[i];
		}
	if (!(v = realloc(res->v, (res->n + 1) * sizeof(*v))))
		return NULL;
	res->v = v;
	v = &res->v[res->n];
	memset(v, 0, sizeof(*v));
	if (!(v->name = strdup(name)))
		return NULL;
	if (index)
		*index = res->n;
	res->n++;
	return v;
}

/* Add TEXT to B's message ("; " between several). */
static void note(chronofs_sync_branch *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(chronofs_sync_branch *b, const char *fmt, ...)
{
	char *text = NULL, *joined = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return;
	if (!b->message) {
		b->message = text;
		return;
	}
	if (asprintf(&joined, "%s; %s", b->message, text) >= 0) {
		free(b->message);
		b->message = joined;
	}
	free(text);
}

static void fail_branch(struct round *rd, chronofs_sync_branch *b,
			const char *why)
{
	if (!(b->done & CHRONOFS_SYNC_FAILED))
		rd->res->failed++;
	b->done |= CHRONOFS_SYNC_FAILED;
	note(b, "%s", why);
}

static int ref_name(char **out, const char *ns, const char *remote,
		    const char *branch)
{
	return asprintf(out, "%s%s/%s", ns, remote, branch) < 0 ? -ENOMEM : 0;
}

/* What both sides last agreed on for BRANCH: TO, or nothing. Written
 * only when it changes (a round with nothing to do writes no ref; each
 * write reads the config and takes the store's lock); rd->s follows. */
static void agreed(struct round *rd, const char *branch,
		   const struct store_oid *to)
{
	struct store_oid *was = (struct store_oid *)refs_get(&rd->s, branch);
	char *ref;

	if (to ? was && store_oid_equal(was, to) : !was)
		return;
	if (ref_name(&ref, STATE_PREFIX, rd->remote, branch) < 0)
		return;
	if (store_ref_set(rd->db->st, ref, to, "sync") < 0) {
		if (rd->db->log)
			rd->db->log(store_errmsg());
	} else if (was) {
		/* Gone: all zeros, which no commit's id is. */
		*was = to ? *to : (struct store_oid){ 0 };
	}
	free(ref);
}

/* After a push: the remote-tracking ref says what the remote has now. */
static void tracking(struct round *rd, const char *branch,
		     const struct store_oid *to)
{
	char *ref;

	if (ref_name(&ref, "refs/remotes/", rd->remote, branch) < 0)
		return;
	if (store_ref_set(rd->db->st, ref, to, "sync: push") < 0 && rd->db->log)
		rd->db->log(store_errmsg());
	free(ref);
}

static int push_add(struct round *rd, size_t b, const struct store_oid *oid,
		    bool del)
{
	if (rd->npush == rd->cap) {
		size_t cap = rd->cap ? rd->cap * 2 : 16;
		struct push *p = realloc(rd->push, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		rd->push = p;
		rd->cap = cap;
	}
	rd->push[rd->npush++] =
		(struct push){ .b = b, .oid = *oid, .del = del };
	return 0;
}

static int ancestor(struct round *rd, const struct store_oid *a,
		    const struct store_oid *b)
{
	return store_is_ancestor(rd->db->st, a, b);
}

/* Both sides have the branch: L here, R there. */
static int both(struct round *rd, size_t bi, const struct store_oid *l,
		const struct store_oid *r)
{
	chronofs_sync_branch *b = &rd->res->v[bi];
	chronofs_merge_result mr;
	char *from = NULL;
	struct store_oid head;
	int rc;

	if (store_oid_equal(l, r)) {
		agreed(rd, b->name, l);
		return 0;
	}
	rc = ancestor(rd, r, l);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return push_add(rd, bi, l, false); /* here ahead */
	/* The remote ahead, or diverged: the one merge engine, ours = here;
	 * a fast-forward when here has nothing of its own. */
	if (asprintf(&from, "%s/%s", rd->remote, b->name) < 0)
		return -ENOMEM;
	rc = lib_merge_commit(rd->db, from, r, b->name, NULL, 0, &mr);
	free(from);
	if (rc < 0) {
		fail_branch(rd, b, chronofs_errmsg(rd->db));
		return 0;
	}
	if (mr.fast_forward) {
		b->done |= CHRONOFS_SYNC_FAST_FORWARD;
		agreed(rd, b->name, r);
		return 0;
	}
	if (mr.commit[0]) {
		b->done |= CHRONOFS_SYNC_MERGED;
		b->conflicts += mr.conflicts;
	}
	/* Push what the branch holds now (a save may have landed). */
	if ((rc = store_branch_head(rd->db->st, b->name, &head)) < 0)
		return rc;
	return push_add(rd, bi, &head, false);
}

/* Here only: new here, or deleted there since both had S. */
static int here_only(struct round *rd, size_t bi, const struct store_oid *l,
		     const struct store_oid *s)
{
	chronofs_sync_branch *b = &rd->res->v[bi];
	int rc;

	if (!s)
		return push_add(rd, bi, l, false);
	rc = ancestor(rd, l, s);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		rc = store_branch_delete_at(rd->db->st, b->name, l);
		if (rc == 0) {
			b->done |= CHRONOFS_SYNC_DELETED;
			agreed(rd, b->name, NULL);
			return 0;
		}
		if (rc != -EBUSY && rc != -EAGAIN)
			return rc;
		note(b, "deleted on %s, but %s here: kept and pushed again",
		     rd->remote,
		     rc == -EBUSY ? "it is the default branch" :
				    "it changed meanwhile");
	} else {
		note(b,
		     "deleted on %s, but it holds commits %s never had: "
		     "kept and pushed again",
		     rd->remote, rd->remote);
	}
	store_error_clear();
	b->done |= CHRONOFS_SYNC_KEPT;
	return push_add(rd, bi, l, false);
}

/* There only: new there, or deleted here since both had S. */
static int there_only(struct round *rd, size_t bi, const struct store_oid *r,
		      const struct store_oid *s)
{
	chronofs_sync_branch *b = &rd->res->v[bi];
	int rc;

	if (s) {
		rc = ancestor(rd, r, s);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return push_add(rd, bi, r, true);
		note(b,
		     "deleted here, but %s has commits this side never "
		     "had: kept",
		     rd->remote);
		b->done |= CHRONOFS_SYNC_KEPT;
	}
	rc = store_branch_create_at(rd->db->st, b->name, r, "sync: new branch");
	if (rc == -EEXIST) { /* made here meanwhile: the next round */
		store_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	b->done |= CHRONOFS_SYNC_CREATED;
	agreed(rd, b->name, r);
	return 0;
}

/* The local half of one pass: every branch on either side. */
static int decide(struct round *rd)
{
	size_t il = 0, ir = 0, is = 0;
	int err = 0;

	rd->npush = 0;
	while (err == 0 && (il < rd->l.n || ir < rd->r.n || is < rd->s.n)) {
		const char *name = NULL;
		const struct store_oid *l = NULL, *r = NULL, *s = NULL;
		size_t bi;

		if (il < rd->l.n)
			name = rd->l.names[il];
		if (ir < rd->r.n &&
		    (!name || strcmp(rd->r.names[ir], name) < 0))
			name = rd->r.names[ir];
		if (is < rd->s.n &&
		    (!name || strcmp(rd->s.names[is], name) < 0))
			name = rd->s.names[is];
		if (il < rd->l.n && !strcmp(rd->l.names[il], name))
			l = &rd->l.oids[il++];
		if (ir < rd->r.n && !strcmp(rd->r.names[ir], name))
			r = &rd->r.oids[ir++];
		if (is < rd->s.n && !strcmp(rd->s.names[is], name))
			s = &rd->s.oids[is++];
		/* The remote's HEAD and names git would not take as ours are
		 * not branches here. */
		if (!store_branch_name_valid(name))
			continue;
		if (!l && !r) { /* gone on both sides */
			agreed(rd, name, NULL);
			continue;
		}
		if (!entry(rd, name, &bi))
			return lib_fail(-ENOMEM, name);
		if (l && r)
			err = both(rd, bi, l, r);
		else if (l)
			err = here_only(rd, bi, l, s);
		else
			err = there_only(rd, bi, r, s);
		if (err < 0) {
			fail_branch(rd, &rd->res->v[bi], store_errmsg());
			store_error_clear();
			err = err == -ENOMEM ? err : 0;
		}
	}
	return err;
}

static int fetch(struct round *rd)
{
	const char *gitdir = cfs_gitdir(rd->db);
	char *spec = NULL;
	struct git_run g;
	int err;

	if (asprintf(&spec, "+refs/heads/*:refs/remotes/%s/*", rd->remote) < 0)
		return lib_fail(-ENOMEM, "fetch");
	const char *args[] = { "fetch",
			       "--quiet",
			       "--prune",
			       "--no-tags",
			       "--no-write-fetch-head",
			       "--",
			       rd->remote,
			       spec,
			       NULL };
	err = git_run(gitdir, args, rd->stop, &g);
	free(spec);
	if (err == 0 && g.status != 0)
		err = store_fail(-EIO, "fetch from %s failed: %s", rd->remote,
				 git_words(&g));
	git_run_free(&g);
	return err;
}

/* Which push of this pass a porcelain line's destination names. */
static struct push *push_of(struct round *rd, const char *dst, size_t len)
{
	for (size_t i = 0; i < rd->npush; i++) {
		const char *name = rd->res->v[rd->push[i].b].name;

		if (len == 11 + strlen(name) &&
		    !strncmp(dst, "refs/heads/", 11) &&
		    !strncmp(dst + 11, name, len - 11))
			return &rd->push[i];
	}
	return NULL;
}

/* Read `git push --porcelain`: "<flag>\t<src>:<dst>\t<summary>". */
static void push_parse(struct round *rd, char *out)
{
	for (char *line = out, *next; line && *line; line = next) {
		char *tab, *colon, *tab2;
		struct push *p;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!line[0] || line[1] != '\t')
			continue;
		tab = line + 1;
		colon = strchr(tab + 1, ':');
		tab2 = colon ? strchr(colon, '\t') : NULL;
		if (!tab2)
			continue;
		p = push_of(rd, colon + 1, (size_t)(tab2 - colon - 1));
		if (!p)
			continue;
		switch (line[0]) {
		case ' ': /* fast-forward */
		case '*': /* new */
		case '=': /* up to date */
		case '-': /* deleted */
			p->outcome = 1;
			break;
		case '!':
			/* "[rejected] (fetch first)": the remote moved before
			 * the push began; "[remote rejected] (failed to update
			 * ref)": while it ran. Either way: fetch and merge
			 * again; a refusal of the remote's own (a hook) stays
			 * one and fails the branch after the last try. */
			p->outcome = -1;
			snprintf(p->why, sizeof(p->why), "%s", tab2 + 1);
			break;
		default: /* '+' never happens: no push here is forced */
			break;
		}
	}
}

/* Run one git push for the pushes with DEL as given. */
static int push_run(struct round *rd, bool del, const char **why)
{
	const char **args = calloc(2 * rd->npush + 6, sizeof(*args));
	char **own = calloc(2 * rd->npush + 1, sizeof(*own));
	size_t k = 0, o = 0, n = 0;
	struct git_run g = { 0 };
	int err = 0;

	if (!args || !own) {
		err = lib_fail(-ENOMEM, "push");
		goto out;
	}
	args[k++] = "push";
	args[k++] = "--porcelain";
	for (size_t i = 0; i < rd->npush; i++) {
		struct push *p = &rd->push[i];
		const char *name = rd->res->v[p->b].name;
		char hex[STORE_OID_HEXSZ + 1];

		if (p->del != del)
			continue;
		store_oid_fmt(hex, &p->oid);
		/* A deletion only while the remote still holds what we saw:
		 * the lease is a compare-and-swap (nothing is overwritten). */
		if (del && asprintf(&own[o++],
				    "--force-with-lease=refs/heads/"
				    "%s:%s",
				    name, hex) < 0)
			err = -ENOMEM;
		if (err == 0 && asprintf(&own[o++], "%s:refs/heads/%s",
					 del ? "" : hex, name) < 0)
			err = -ENOMEM;
		n++;
	}
	if (err < 0 || n == 0) {
		if (err < 0)
			lib_fail(err, "push");
		goto out;
	}
	args[k++] = "--";
	args[k++] = rd->remote;
	for (size_t i = 0; i < o; i++)
		args[k++] = own[i];
	args[k] = NULL;
	if (del) {
		/* Options before "--": move the leases up front. */
		size_t m = 2;

		for (size_t i = 0; i < o; i += 2)
			args[m++] = own[i];
		args[m++] = "--";
		args[m++] = rd->remote;
		for (size_t i = 1; i < o; i += 2)
			args[m++] = own[i];
		args[m] = NULL;
	}
	err = git_run(cfs_gitdir(rd->db), args, rd->stop, &g);
	if (err == 0) {
		push_parse(rd, g.out ? g.out : (char *)"");
		if (g.status != 0) {
			static __thread char words[1024];

			snprintf(words, sizeof(words), "push to %s failed: %s",
				 rd->remote, git_words(&g));
			*why = words;
		}
	}
out:
	git_run_free(&g);
	for (size_t i = 0; own && i < o; i++)
		free(own[i]);
	free(own);
	free(args);
	return err;
}

/* The remote half of one pass: 1 if a push was rejected because the
 * remote moved (fetch and merge again), 0 if all is done, or -errno. */
static int push_all(struct round *rd)
{
	const char *why = NULL;
	bool again = false;
	int err;

	if (rd->npush == 0)
		return 0;
	err = push_run(rd, false, &why);
	if (err == 0)
		err = push_run(rd, true, &why);
	for (size_t i = 0; i < rd->npush; i++) {
		struct push *p = &rd->push[i];
		chronofs_sync_branch *b = &rd->res->v[p->b];

		if (p->outcome == 1) {
			b->done |= p->del ? CHRONOFS_SYNC_DELETED_REMOTE :
					    CHRONOFS_SYNC_PUSHED;
			tracking(rd, b->name, p->del ? NULL : &p->oid);
			agreed(rd, b->name, p->del ? NULL : &p->oid);
		} else if (p->outcome == -1) {
			again = true;
		} else if (p->outcome == 0) {
			fail_branch(rd, b,
				    err < 0 ? chronofs_errmsg(rd->db) :
				    why	    ? why :
					      "push: no answer for it");
		}
	}
	return err < 0 ? err : again;
}

static void hex_of(char out[STORE_OID_HEXSZ + 1], const struct refs *r,
		   const char *name)
{
	const struct store_oid *o = refs_get(r, name);

	if (o)
		store_oid_fmt(out, o);
	else
		out[0] = '\0';
}

static int cmp_branch(const void *a, const void *b)
{
	return strcmp(((const chronofs_sync_branch *)a)->name,
		      ((const chronofs_sync_branch *)b)->name);
}

/* After the passes: heads before and after, ahead and behind, indexes. */
static void finish(struct round *rd)
{
	chronofs_sync_result *res = rd->res;
	char *prefix = NULL;

	if (refs_load(rd->db, "refs/heads/", &rd->l) < 0 ||
	    asprintf(&prefix, "refs/remotes/%s/", rd->remote) < 0 ||
	    refs_load(rd->db, prefix, &rd->r) < 0) {
		free(prefix);
		return;
	}
	free(prefix);
	for (size_t i = 0; i < res->n; i++) {
		chronofs_sync_branch *b = &res->v[i];
		const struct store_oid *l = refs_get(&rd->l, b->name);
		const struct store_oid *r = refs_get(&rd->r, b->name);

		hex_of(b->after, &rd->l, b->name);
		if (l && r &&
		    store_ahead_behind(rd->db->st, l, r, &b->ahead,
				       &b->behind) < 0)
			store_error_clear();
		if (strcmp(b->before, b->after)) {
			res->changed++;
			/* A branch new here is indexed on first use, as any
			 * new branch: its whole history, not the round's. */
			if (b->after[0] && b->before[0])
				lib_index_catchup(rd->db, b->name);
			else if (!b->after[0])
				lib_index_drop_branch(rd->db, b->name);
		}
	}
	qsort(res->v, res->n, sizeof(*res->v), cmp_branch);
}

void chronofs_sync_result_free(chronofs_sync_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].message);
	}
	free(r->v);
	free(r);
}

/* REMOTE names a remote of this repository (no network). */
static int remote_check(chronofs *db, const char *remote)
{
	char *url = NULL;
	int err;

	if (!*remote || remote[0] == '-' || strchr(remote, '/'))
		return store_fail(-EINVAL, "%s: not a remote's name", remote);
	if ((err = store_remote_url(db->st, remote, &url)) < 0)
		return lib_fail(err, remote);
	free(url);
	return 0;
}

int cfs_sync_check(chronofs *db, const char *remote)
{
	lib_enter();
	return remote_check(db, remote);
}

int cfs_sync(chronofs *db, const char *remote, const _Atomic bool *stop,
	     chronofs_sync_result **out)
{
	struct round rd = { .db = db, .remote = remote, .stop = stop };
	char *tprefix = NULL, *sprefix = NULL;
	int err, again = 0, tries = 0;

	lib_enter();
	*out = NULL;
	if ((err = remote_check(db, remote)) < 0)
		return err;
	if (!(rd.res = calloc(1, sizeof(*rd.res))) ||
	    asprintf(&tprefix, "refs/remotes/%s/", remote) < 0 ||
	    asprintf(&sprefix, STATE_PREFIX "%s/", remote) < 0) {
		err = lib_fail(-ENOMEM, remote);
		goto out;
	}
	rd.res->time = (int64_t)time(NULL);
	if ((err = refs_load(db, "refs/heads/", &rd.l)) < 0) {
		lib_fail(err, "branches");
		goto out;
	}
	for (size_t i = 0; i < rd.l.n; i++) {
		chronofs_sync_branch *b = entry(&rd, rd.l.names[i], NULL);

		if (!b) {
			err = lib_fail(-ENOMEM, remote);
			goto out;
		}
		store_oid_fmt(b->before, &rd.l.oids[i]);
	}
	do {
		/* A failed first fetch changes nothing here: that is the
		 * round's failure. Later ones fail the pushes left. */
		if ((err = fetch(&rd)) < 0) {
			if (tries == 0)
				goto out;
			for (size_t i = 0; i < rd.npush; i++)
				if (rd.push[i].outcome == -1)
					fail_branch(&rd,
						    &rd.res->v[rd.push[i].b],
						    chronofs_errmsg(db));
			break;
		}
		if ((err = refs_load(db, "refs/heads/", &rd.l)) < 0 ||
		    (err = refs_load(db, tprefix, &rd.r)) < 0 ||
		    (err = refs_load(db, sprefix, &rd.s)) < 0 ||
		    (err = decide(&rd)) < 0)
			goto out;
		again = push_all(&rd);
		if (again < 0) {
			/* The local half is done and stays: what it moved is
			 * reported and indexed; the pushes left failed. */
			for (size_t i = 0; i < rd.npush; i++)
				if (rd.push[i].outcome == -1)
					fail_branch(&rd,
						    &rd.res->v[rd.push[i].b],
						    chronofs_errmsg(db));
			again = 0;
			break;
		}
	} while (again && ++tries < SYNC_TRIES);
	for (size_t i = 0; again && i < rd.npush; i++)
		if (rd.push[i].outcome == -1)
			fail_branch(&rd, &rd.res->v[rd.push[i].b],
				    rd.push[i].why);
	finish(&rd);
	err = 0;
out:
	refs_free(&rd.l);
	refs_free(&rd.r);
	refs_free(&rd.s);
	free(rd.push);
	free(tprefix);
	free(sprefix);
	if (err < 0) {
		chronofs_sync_result_free(rd.res);
		return err;
	}
	store_error_clear();
	*out = rd.res;
	return 0;
}

int cfs_sync_state(chronofs *db, const char *remote, chronofs_sync_result **out)
{
	struct round rd = { .db = db, .remote = remote };
	int err = 0;

	lib_enter();
	*out = NULL;
	if (!(rd.res = calloc(1, sizeof(*rd.res))))
		return lib_fail(-ENOMEM, remote);
	rd.res->time = (int64_t)time(NULL);
	if ((err = refs_load(db, "refs/heads/", &rd.l)) < 0) {
		chronofs_sync_result_free(rd.res);
		return lib_fail(err, "branches");
	}
	for (size_t i = 0; i < rd.l.n; i++) {
		chronofs_sync_branch *b = entry(&rd, rd.l.names[i], NULL);

		if (!b) {
			err = lib_fail(-ENOMEM, remote);
			break;
		}
		store_oid_fmt(b->before, &rd.l.oids[i]);
	}
	if (err == 0)
		finish(&rd);
	refs_free(&rd.l);
	refs_free(&rd.r);
	if (err < 0) {
		chronofs_sync_result_free(rd.res);
		return err;
	}
	store_error_clear();
	*out = rd.res;
	return 0;
}

int chronofs_sync(chronofs *db, const char *remote, chronofs_sync_result **out)
{
	return cfs_sync(db, remote, NULL, out);
}

int chronofs_clone(const char *url, const char *path)
{
	const char *clone[] = { "clone", "--bare", "--quiet", "--",
				url,	 path,	   NULL };
	const char *conf[] = { "config", "remote.origin.fetch",
			       "+refs/heads/*:refs/remotes/origin/*", NULL };
	chronofs_sync_result *res = NULL;
	struct git_run g;
	chronofs *db = NULL;
	int err;

	lib_enter();
	err = git_run(NULL, clone, NULL, &g);
	if (err == 0 && g.status != 0)
		err = store_fail(-EIO, "clone %s: %s", url, git_words(&g));
	git_run_free(&g);
	if (err == 0) {
		err = git_run(path, conf, NULL, &g);
		if (err == 0 && g.status != 0)
			err = store_fail(-EIO, "%s: git config: %s", path,
					 git_words(&g));
		git_run_free(&g);
	}
	if (err == 0 && (err = store_init_branch(path)) < 0)
		lib_fail(err, path);
	if (err == 0 && (err = chronofs_open(&db, path, NULL)) == 0) {
		/* A first round: the remote-tracking refs and what both
		 * sides agree on; nothing differs yet, so nothing moves
		 * (but main, made for an empty remote, is pushed). */
		err = chronofs_sync(db, "origin", &res);
		if (err == 0 && res->failed)
			for (size_t i = 0; i < res->n && err == 0; i++)
				if (res->v[i].message)
					err = store_fail(-EIO, "%s: %s",
							 res->v[i].name,
							 res->v[i].message);
		chronofs_sync_result_free(res);
		chronofs_close(db);
	}
	return err;
}

/* For the daemon: what a round changed, path by path. */
int cfs_changed_paths(chronofs *db, const char *a, const char *b,
		      cfs_path_cb cb, void *ctx)
{
	const struct store_tdiff_entry *e;
	struct store_tdiff *d = NULL;
	struct store_oid oa, ob;
	int err;

	lib_enter();
	if (store_oid_parse(&oa, a) < 0 || store_oid_parse(&ob, b) < 0)
		return store_fail(-EINVAL, "%s..%s: not commit ids", a, b);
	if ((err = store_tdiff_new(&d, db->st, &oa, &ob, NULL)) < 0)
		return lib_fail(err, b);
	while ((err = store_tdiff_next(d, &e)) == 0)
		if ((err = cb(ctx, e->path, e->op == STORE_TDIFF_DELETE)) != 0)
			break;
	store_tdiff_free(d);
	if (err == 1)
		err = 0;
	return err < 0 ? lib_fail(err, b) : err;
}
