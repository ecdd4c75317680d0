/* resolve.c - the one path parser: which branch and which path inside it a
 * mount path names, and the naming rules for documents and reserved names.
 * Branch names come from a small cache refreshed at most once a second
 * (and at once after our own branch operations), so outside `git branch`
 * shows up within a second without a ref scan per request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"
#include "banned.h"

#define BRANCH_CACHE_NS 1000000000L

void fs_branches_changed(struct fs *fs)
{
	pthread_mutex_lock(&fs->branches_lock);
	fs->branches_stale = true;
	pthread_mutex_unlock(&fs->branches_lock);
}

static long elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000L +
	       (b->tv_nsec - a->tv_nsec);
}

/* HEAD's branch: listed while unborn (git init made no commit: its first
 * save makes one), read-only while a working tree has it checked out.
 * V (N names) gets the unborn one. Caller holds branches_lock. */
static int head_refresh_locked(struct fs *fs, char ***v, size_t *n)
{
	bool unborn = false, checked_out = false;
	char *hb = NULL, **grown;

	free(fs->unborn);
	free(fs->checked_out);
	fs->unborn = fs->checked_out = NULL;
	/* A detached HEAD has no branch to show or guard. */
	if (cfs_head_branch(fs->db, &hb, &unborn, &checked_out) < 0)
		return 0;
	if (checked_out && !fs->cfg.allow_checked_out)
		fs->checked_out = strdup(hb);
	for (size_t i = 0; unborn && i < *n; i++)
		unborn = strcmp((*v)[i], hb) != 0;
	if (unborn) {
		grown = realloc(*v, (*n + 2) * sizeof(**v));
		if (!grown) {
			free(hb);
			return -ENOMEM;
		}
		*v = grown;
		(*v)[(*n)++] = hb;
		(*v)[*n] = NULL;
		fs->unborn = strdup(hb);
		return 0;
	}
	free(hb);
	return 0;
}

/* Caller holds branches_lock. */
static int refresh_locked(struct fs *fs)
{
	struct timespec now;
	char **v;
	size_t n;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (fs->branches && !fs->branches_stale &&
	    elapsed_ns(&fs->branches_at, &now) < BRANCH_CACHE_NS)
		return 0;
	err = chronofs_branches(fs->db, &v, &n);
	if (err == 0 && (err = head_refresh_locked(fs, &v, &n)) < 0)
		chronofs_strings_free(v, n);
	if (err < 0)
		return err;
	chronofs_strings_free(fs->branches, fs->nbranches);
	fs->branches = v;
	fs->nbranches = n;
	fs->branches_at = now;
	fs->branches_stale = false;
	return 0;
}

int fs_branch_list(struct fs *fs, char ***out, size_t *n)
{
	char **v = NULL;
	int err;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&fs->branches_lock);
	err = refresh_locked(fs);
	if (err == 0) {
		v = calloc(fs->nbranches + 1, sizeof(*v));
		for (size_t i = 0; v && i < fs->nbranches; i++) {
			v[i] = strdup(fs->branches[i]);
			if (!v[i]) {
				chronofs_strings_free(v, i);
				v = NULL;
			}
		}
		err = v ? 0 : -ENOMEM;
		*n = v ? fs->nbranches : 0;
	}
	pthread_mutex_unlock(&fs->branches_lock);
	*out = v;
	return err;
}

/* Is BRANCH HEAD's unborn branch (UNBORN), or the checked-out one? */
static bool head_is(struct fs *fs, bool unborn, const char *branch)
{
	const char *b;
	bool yes;

	pthread_mutex_lock(&fs->branches_lock);
	refresh_locked(fs);
	b = unborn ? fs->unborn : fs->checked_out;
	yes = b && !strcmp(b, branch);
	pthread_mutex_unlock(&fs->branches_lock);
	return yes;
}

bool fs_branch_unborn(struct fs *fs, const char *branch)
{
	return head_is(fs, true, branch);
}

bool fs_branch_checked_out(struct fs *fs, const char *branch)
{
	return head_is(fs, false, branch);
}

/* How FULL relates to branch B: 2 inside (or equal), 1 a proper prefix
 * directory of B, 0 unrelated. */
static int relation(const char *full, const char *b)
{
	size_t fl = strlen(full), bl = strlen(b);

	if (fl >= bl && !strncmp(full, b, bl) &&
	    (full[bl] == '\0' || full[bl] == '/'))
		return 2;
	if (bl > fl && !strncmp(full, b, fl) && b[fl] == '/')
		return 1;
	return 0;
}

/* Does LOC->path name an ordered view ("users/@by/age/...")? Then make
 * LOC an FS_ORDER location. Other names starting with '@' are -ENOENT. */
static int find_order(struct fs_loc *loc)
{
	const char *p = loc->path, *at;

	if (p[0] == '@')
		at = p;
	else if ((at = strstr(p, "/@")))
		at++;
	else
		return 0;
	if (strncmp(at, "@by", 3) || (at[3] && at[3] != '/'))
		return -ENOENT;
	loc->order = at[3] ? at + 4 : at + 3;
	/* Only "@by" itself may start with '@' from here on. */
	if (loc->order[0] == '@' || strstr(loc->order, "/@"))
		return -ENOENT;
	loc->collection = strndup(p, at > p ? (size_t)(at - p - 1) : 0);
	if (!loc->collection)
		return -ENOMEM;
	loc->snap = loc->where == FS_SNAP;
	loc->where = FS_ORDER;
	loc->frozen = false; /* the kernel caches no view listing */
	return 0;
}

static bool branch_exists(struct fs *fs, const char *name)
{
	bool found = false;

	pthread_mutex_lock(&fs->branches_lock);
	if (refresh_locked(fs) == 0)
		for (size_t i = 0; i < fs->nbranches && !found; i++)
			found = !strcmp(fs->branches[i], name);
	pthread_mutex_unlock(&fs->branches_lock);
	return found;
}

/* Is FULL up to AT a branch name? */
static bool is_branch_prefix(struct fs *fs, const char *full, const char *at)
{
	char *b = strndup(full, (size_t)(at - full));
	bool yes = b && branch_exists(fs, b);

	free(b);
	return yes;
}

/* FULL holds BRANCH@SPEC[/PATH], the '@' at offset AT. */
/* The snapshot named by FULL[0..LEN) ("main@2026-11-20"), as resolved at
 * branch head HEAD: 0 and *out filled, or -ENOENT if not remembered. */
static int memo_get(struct fs *fs, const char *full, size_t len,
		    const struct cfs_oid *head, struct fs_loc *out)
{
	int err = -ENOENT;

	pthread_mutex_lock(&fs->snaps_lock);
	for (size_t i = 0; i < FS_SNAP_MEMO && err; i++) {
		struct fs_snap_memo *m = &fs->snaps[i];

		if (m->name && strlen(m->name) == len &&
		    !strncmp(m->name, full, len) &&
		    cfs_oid_equal(&m->head, head)) {
			out->commit = m->commit;
			out->frozen = m->frozen;
			err = 0;
		}
	}
	pthread_mutex_unlock(&fs->snaps_lock);
	return err;
}

static void memo_put(struct fs *fs, const char *full, size_t len,
		     const struct cfs_oid *head, const struct fs_loc *loc)
{
	char *name = strndup(full, len);
	struct fs_snap_memo *m;

	if (!name)
		return;
	pthread_mutex_lock(&fs->snaps_lock);
	m = &fs->snaps[fs->snaps_next++ % FS_SNAP_MEMO];
	free(m->name);
	m->name = name;
	m->head = *head;
	m->commit = loc->commit;
	m->frozen = loc->frozen;
	pthread_mutex_unlock(&fs->snaps_lock);
}

/* FULL holds BRANCH@SPEC[/PATH]: the branch is FULL[0..BLEN), the '@' at
 * offset AT (BLEN, or BLEN + 1 for "BRANCH/@SPEC" of a branch= mount). */
static int resolve_virtual(struct fs *fs, struct fs_loc *out, size_t blen,
			   size_t at)
{
	const char *spec = out->full + at + 1;
	size_t slen = strcspn(spec, "/");
	struct cfs_oid head;
	int err;

	/* fs_resolve checked that FULL up to BLEN names a branch. */
	out->branch = strndup(out->full, blen);
	if (!out->branch)
		return -ENOMEM;
	out->path = spec[slen] ? spec + slen + 1 : spec + slen;
	if (slen == 9 && !strncmp(spec, "conflicts", 9)) {
		out->where = FS_CONFLICTS;
		return 0;
	}
	if (slen == 7 && !strncmp(spec, "history", 7)) {
		out->where = FS_HISTORY;
		err = fs_history_catchup(fs, out->branch, false);
		/* No '@' names inside history: documents only. */
		if (err == 0 &&
		    (out->path[0] == '@' || strstr(out->path, "/@")))
			err = -ENOENT;
		return err;
	}
	out->where = FS_SNAP;
	if (cfs_head(fs->db, out->branch, &head) < 0)
		return -ENOENT;
	/* Every lookup below a snapshot resolves its name again: remember
	 * the answer while the branch head stays where it was. */
	if (!memo_get(fs, out->full, at + 1 + slen, &head, out))
		return find_order(out);
	/* It catches the index up, or waits (bounded) for the commits it
	 * needs while the mount's indexer writes them. */
	err = cfs_resolve(fs->db, out->branch, spec, slen, &out->commit);
	if (err == -EAGAIN)
		fs_log_op(LOG_WARNING, "catch-up", out->branch, err, "%s",
			  chronofs_errmsg(fs->db));
	else if (err < 0 && err != -ENOENT && err != -EINVAL &&
		 err != -ECANCELED)
		fs_log_op(LOG_ERR, "catch-up", out->branch, err,
			  "history index not brought up to the head: %s",
			  chronofs_errmsg(fs->db));
	if (err == -EINVAL)
		err = -ENOENT; /* a malformed name names nothing */
	if (err < 0)
		return err;
	/* A commit id pins the snapshot; a time pins it once a later commit
	 * exists, so the head's own snapshot must follow new commits. */
	out->frozen = !cfs_oid_equal(&head, &out->commit) ||
		      strspn(spec, "0123456789abcdef") >= slen;
	memo_put(fs, out->full, at + 1 + slen, &head, out);
	return find_order(out);
}

/* Is FULL the mount's MNT/@log? At the root of the mount: "@log", or
 * "BRANCH/@log" when one branch is mounted there. */
static bool is_log(const struct fs *fs, const char *full)
{
	const char *b = fs->cfg.branch;
	size_t bl = b ? strlen(b) : 0;

	if (b && (strncmp(full, b, bl) || full[bl] != '/'))
		return false;
	return !strcmp(full + (b ? bl + 1 : 0), FS_LOG_NAME);
}

/* With branch=NAME, is AT (in FULL) the '@' of "NAME/@SPEC", SPEC not an
 * ordered view (those are the root collection's, "@by")? */
static bool is_mounted_branch_virtual(const struct fs *fs, const char *full,
				      const char *at)
{
	const char *b = fs->cfg.branch;
	size_t bl = b ? strlen(b) : 0;

	bool by = !strncmp(at, "@by", 3) && (at[3] == '\0' || at[3] == '/');

	return b && (size_t)(at - full) == bl + 1 && !strncmp(full, b, bl) &&
	       full[bl] == '/' && !by && at[1] != '\0' && at[1] != '/';
}

/* MNT/@sync, with -o sync only: at the mount's root, which is a branch
 * with -o branch=NAME (FULL is then "NAME/@sync"). */
static bool is_sync_name(struct fs *fs, const char *full)
{
	const char *b = fs->cfg.branch;
	size_t bl = b ? strlen(b) : 0;

	if (!fs->sync)
		return false;
	if (!b)
		return !strcmp(full, FS_SYNC_NAME);
	return !strncmp(full, b, bl) && full[bl] == '/' &&
	       !strcmp(full + bl + 1, FS_SYNC_NAME);
}

int fs_resolve(struct fs *fs, const char *full, struct fs_loc *out)
{
	const char *at = strchr(full, '@');
	int err, best = 0;

	memset(out, 0, sizeof(*out));
	out->full = strdup(full);
	if (!out->full)
		return -ENOMEM;
	if (at && is_log(fs, full)) {
		out->where = FS_LOG;
		return 0;
	}
	if (at && is_sync_name(fs, full)) {
		out->where = FS_SYNC;
		return 0;
	}
	/* '@' in the branch's component: a snapshot or history. A component
	 * starting with '@' inside a branch: an ordered view or nothing. */
	if (at && at != full && at[-1] != '/' &&
	    is_branch_prefix(fs, full, at)) {
		err = resolve_virtual(fs, out, (size_t)(at - full),
				      (size_t)(at - full));
		if (err < 0)
			fs_loc_release(out);
		return err;
	}
	/* One branch at the root (branch=NAME): MNT/@history, MNT/@WHEN and
	 * MNT/@COMMIT are NAME@history, NAME@WHEN and NAME@COMMIT. */
	if (at && is_mounted_branch_virtual(fs, full, at)) {
		err = resolve_virtual(fs, out, (size_t)(at - full) - 1,
				      (size_t)(at - full));
		if (err < 0)
			fs_loc_release(out);
		return err;
	}
	if (!*full) {
		out->where = FS_ROOT;
		return 0;
	}
	pthread_mutex_lock(&fs->branches_lock);
	err = refresh_locked(fs);
	for (size_t i = 0; err == 0 && i < fs->nbranches; i++) {
		int r = relation(full, fs->branches[i]);

		if (r == 2) {
			out->branch = strdup(fs->branches[i]);
			if (!out->branch)
				err = -ENOMEM;
			best = 2;
			break;
		}
		if (r > best)
			best = r;
	}
	pthread_mutex_unlock(&fs->branches_lock);
	if (err == 0 && best == 0)
		err = -ENOENT;
	if (err < 0) {
		fs_loc_release(out);
		return err;
	}
	if (best == 1) {
		out->where = FS_PREFIX;
		return 0;
	}
	out->where = FS_LIVE;
	out->path = out->full + strlen(out->branch);
	if (*out->path == '/')
		out->path++;
	if (!strchr(out->path, '@'))
		return 0;
	err = find_order(out);
	if (err < 0)
		fs_loc_release(out);
	return err;
}

void fs_loc_release(struct fs_loc *loc)
{
	free(loc->full);
	free(loc->branch);
	free(loc->collection);
	memset(loc, 0, sizeof(*loc));
}
