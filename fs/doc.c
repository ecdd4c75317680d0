/* doc.c - open-document buffers. All open files of one document share one
 * buffer (on its node); writes land there and a close, fsync or rename of a
 * changed buffer saves it: validate, commit, record the mtime. A refused
 * save changes nothing in Git; the buffer lives until the last close, and
 * the next open reads what Git holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "banned.h"

struct fs_doc {
	/* Saves of this document one at a time, in the order their bytes
	 * were taken; held across the commit, which lock is not, so reads
	 * and stats of the document go on meanwhile. */
	pthread_mutex_t save_lock;
	pthread_mutex_t lock; /* guards everything below */
	uint64_t gen; /* bumped by every write and truncate */
	bool committed; /* has a committed version (for the log) */
	char *buf;
	size_t len, cap;
	bool loaded;
	bool dirty; /* written or truncated since the last save */
	bool written; /* written (not only truncated) since the last save */
	bool created; /* new: not in Git, a placeholder in scratch */
	bool has_mtime; /* a client set the time: the next save keeps it */
	bool has_blob; /* the committed blob the buffer was loaded from */
	bool failed; /* a write failed (past max_doc_size): the buffer is
			 * not what the writer meant, so no save of it until
			 * the last close drops it */
	bool refused; /* the save of generation refused_gen was refused */
	uint64_t refused_gen;
	struct cfs_oid blob;
	struct timespec mtime;
};

static void doc_free(struct fs_doc *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->save_lock);
	pthread_mutex_destroy(&d->lock);
	free(d->buf);
	free(d);
}

/* Load the committed content (or nothing, for a new document; no bytes
 * but the emptying when TRUNC). Caller holds d->lock. */
static int load(struct fs *fs, struct fs_doc *d, const struct fs_loc *loc,
		bool trunc, const struct cfs_entry *known)
{
	struct cfs_entry e;
	char *buf = NULL;
	size_t len = 0;
	bool emptied = false;
	int err;

	if (!d->created) {
		err = 0;
		if (known)
			e = *known;
		else
			err = fs_live_entry(fs, loc->branch, loc->path, &e,
					    NULL);
		if (err == -ENOENT) {
			d->created = true;
		} else if (err < 0) {
			return err;
		} else if (e.kind != CFS_DOC) {
			return -EISDIR;
		} else if (!trunc && e.size > fs->cfg.max_doc_size) {
			/* Committed from outside: no save could keep it, and
			 * it is not held whole. Replacing it (O_TRUNC) is
			 * the one change of it there can be. */
			fs_log_op(LOG_WARNING, "open", loc->full, EFBIG,
				  "%llu bytes, over max_doc_size %zu: only "
				  "read, or replaced whole (O_TRUNC)",
				  (unsigned long long)e.size,
				  fs->cfg.max_doc_size);
			return -EFBIG;
		} else {
			err = trunc ? 0 :
				      cfs_blob_read(fs->db, &e.oid, &buf, &len);
			if (err < 0) {
				fs_log_op(LOG_ERR, "open", loc->full, err,
					  "read: %s", chronofs_errmsg(NULL));
				return err;
			}
			d->blob = e.oid;
			d->has_blob = true;
			d->committed = true;
			emptied = trunc && e.size > 0;
		}
	}
	free(d->buf);
	d->buf = buf;
	d->len = d->cap = len;
	d->loaded = true;
	d->dirty = emptied;
	d->written = false;
	return 0;
}

int fs_doc_open(struct fs *fs, struct fs_node *n, const struct fs_loc *loc,
		bool trunc, bool created, const struct cfs_entry *known)
{
	struct fs_doc *fresh = calloc(1, sizeof(*fresh)), *d;
	bool used;
	int err = 0;

	if (!fresh)
		return -ENOMEM;
	pthread_mutex_init(&fresh->save_lock, NULL);
	pthread_mutex_init(&fresh->lock, NULL);
	fresh->created = created;
	d = fs_node_doc_acquire(&fs->nodes, n, fresh, &used);
	if (!used)
		doc_free(fresh);
	if (!d)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	if (!d->loaded)
		err = load(fs, d, loc, trunc, known);
	if (err == 0 && trunc && d->len > 0) {
		d->len = 0;
		d->dirty = true;
	}
	pthread_mutex_unlock(&d->lock);
	if (err < 0)
		fs_doc_release(fs, n);
	return err;
}

/* The last close of a document with changes no save took: say so, with
 * its path, unless the refusal of these very bytes was said already. */
static void unsaved(struct fs *fs, struct fs_node *n, const struct fs_doc *d)
{
	static const char emptied[] =
		"emptied and closed without new content: not saved (an empty "
		"file is not JSON); the last committed version is kept";
	char *full;

	if (!d->dirty || (d->created && d->len == 0) ||
	    (d->refused && d->refused_gen == d->gen))
		return;
	/* Unlinked or replaced while open: nothing was to be saved. */
	if (fs_node_path(&fs->nodes, n, NULL, &full) < 0)
		return;
	if (d->len == 0) {
		fs_log_op(LOG_WARNING, "close", full, EINVAL, "%s", emptied);
		fs_doc_error_set(full, emptied);
	} else {
		fs_log_op(LOG_WARNING, "close", full, 0,
			  "closed with changes that were not saved; %s",
			  d->committed ? "the last committed version is kept" :
					 "nothing is committed");
	}
	free(full);
}

void fs_doc_release(struct fs *fs, struct fs_node *n)
{
	struct fs_doc *d = fs_node_doc_put(&fs->nodes, n);

	if (d)
		unsaved(fs, n, d);
	doc_free(d);
}

bool fs_doc_keep_cache(struct fs *fs, struct fs_node *n, bool writing)
{
	struct fs_node_rare *r;
	bool keep = false;

	pthread_mutex_lock(&fs->nodes.lock);
	if ((r = n->rare) && r->doc) {
		pthread_mutex_lock(&r->doc->lock);
		if (!writing && r->doc->has_blob && !r->doc->dirty) {
			keep = r->paged && !memcmp(r->pages, r->doc->blob.id,
						   sizeof(r->pages));
			memcpy(r->pages, r->doc->blob.id, sizeof(r->pages));
			r->paged = true;
		} else {
			r->paged = false; /* written through: start afresh */
		}
		pthread_mutex_unlock(&r->doc->lock);
	}
	pthread_mutex_unlock(&fs->nodes.lock);
	return keep;
}

bool fs_node_keep_pages(struct fs *fs, struct fs_node *n,
			const struct cfs_oid *blob)
{
	struct fs_node_rare *r;
	bool keep = false;

	pthread_mutex_lock(&fs->nodes.lock);
	/* Without memory for the record the kernel drops its pages. */
	if ((r = fs_node_rare_of(n))) {
		keep = r->paged &&
		       !memcmp(r->pages, blob->id, sizeof(r->pages));
		memcpy(r->pages, blob->id, sizeof(r->pages));
		r->paged = true;
	}
	pthread_mutex_unlock(&fs->nodes.lock);
	return keep;
}

void fs_doc_set_mtime(struct fs *fs, struct fs_node *n,
		      const struct timespec *t)
{
	struct timespec now;
	struct fs_doc *d;

	pthread_mutex_lock(&fs->nodes.lock);
	if ((d = fs_node_doc(n))) {
		pthread_mutex_lock(&d->lock);
		if (t->tv_nsec == UTIME_NOW) {
			clock_gettime(CLOCK_REALTIME, &now);
			t = &now;
		}
		d->mtime = *t;
		d->has_mtime = true;
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&fs->nodes.lock);
}

bool fs_doc_size(struct fs *fs, struct fs_node *n, off_t *out)
{
	struct fs_doc *d;

	pthread_mutex_lock(&fs->nodes.lock);
	if ((d = fs_node_doc(n))) {
		pthread_mutex_lock(&d->lock);
		*out = (off_t)d->len;
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&fs->nodes.lock);
	return d != NULL;
}

int fs_doc_read(struct fs_node *n, char *buf, size_t size, off_t off,
		size_t *got)
{
	struct fs_doc *d = fs_node_doc(n); /* held open by the caller's file */

	*got = 0;
	if (!d)
		return -EBADF;
	pthread_mutex_lock(&d->lock);
	if ((size_t)off < d->len) {
		*got = d->len - (size_t)off < size ? d->len - (size_t)off :
						     size;
		memcpy(buf, d->buf + off, *got);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* Make room for LEN bytes, zero-filling from the current end. Caller holds
 * d->lock. */
static int resize(struct fs *fs, struct fs_doc *d, size_t len)
{
	if (len > fs->cfg.max_doc_size)
		return -EFBIG;
	if (len > d->cap) {
		size_t cap = d->cap ? d->cap : FS_BLKSIZE;
		char *b;

		while (cap < len)
			cap *= 2;
		b = realloc(d->buf, cap);
		if (!b)
			return -ENOMEM;
		d->buf = b;
		d->cap = cap;
	}
	if (len > d->len)
		memset(d->buf + d->len, 0, len - d->len);
	d->len = len;
	return 0;
}

int fs_doc_write(struct fs *fs, struct fs_node *n, const char *buf, size_t size,
		 off_t off)
{
	struct fs_doc *d = fs_node_doc(n);
	size_t end;
	int err = 0;

	if (!d)
		return -EBADF;
	pthread_mutex_lock(&d->lock);
	if (off < 0 || (size_t)off > fs->cfg.max_doc_size ||
	    size > fs->cfg.max_doc_size - (size_t)off) {
		d->failed = true;
		pthread_mutex_unlock(&d->lock);
		return -EFBIG;
	}
	end = (size_t)off + size;
	if (end > d->len)
		err = resize(fs, d, end);
	if (err < 0)
		d->failed = true;
	if (err == 0) {
		memcpy(d->buf + off, buf, size);
		d->dirty = d->written = true;
		d->gen++;
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

int fs_doc_truncate(struct fs *fs, struct fs_node *n, off_t size)
{
	struct fs_doc *d = fs_node_doc(n);
	int err;

	if (!d)
		return -EBADF;
	if (size < 0)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	err = resize(fs, d, (size_t)size);
	if (err == 0) {
		d->dirty = true;
		d->gen++;
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* A refused or failed save of FULL: logged, and kept for the document's
 * user.chronofs.error until its next successful save. */
static void refused(int level, const char *full, int err, const char *why,
		    bool had_version)
{
	char *msg;

	if (asprintf(&msg, "%s; %s", why,
		     had_version ? "the last committed version is kept" :
				   "nothing is committed (the document has no "
				   "committed version)") < 0)
		msg = NULL;
	fs_log_op(level, "save", full, err, "save %s: %s",
		  level == LOG_ERR ? "failed" : "refused", msg ? msg : why);
	fs_doc_error_set(full, msg ? msg : why);
	free(msg);
}

int fs_save_bytes(struct fs *fs, const char *branch, const char *path,
		  const char *buf, size_t len, const struct timespec *mtime,
		  bool had_version)
{
	struct cfs_mtime t;
	struct cfs_oid commit;
	char hex[CFS_OID_HEXSZ + 1], *scratch, *full;
	int rc;

	if (asprintf(&full, "%s/%s", branch, path) < 0)
		return -ENOMEM;
	if (mtime) {
		t.sec = mtime->tv_sec;
		t.nsec = (uint32_t)mtime->tv_nsec;
	}
	rc = cfs_save(fs->db, branch, path, buf, len, mtime ? &t : NULL,
		      &commit);
	if (rc < 0) {
		refused(rc == -EINVAL || rc == -EFBIG || rc == -ENAMETOOLONG ?
				LOG_WARNING :
				LOG_ERR,
			full, rc, chronofs_errmsg(fs->db), had_version);
		free(full);
		return rc;
	}
	if (rc == 0) {
		cfs_oid_fmt(hex, &commit);
		fs_log_op(LOG_INFO, "save", full, 0, "saved as commit %.7s",
			  hex);
	}
	fs_doc_error_clear(full);
	free(full);
	fs_pending_drop(fs->pending, branch, path);
	if (fs_scratch_path(fs, branch, path, &scratch) == 0) {
		unlink(scratch); /* the new document's placeholder, if any */
		free(scratch);
	}
	return 0;
}

int fs_doc_save(struct fs *fs, struct fs_node *n, const struct fs_loc *loc)
{
	struct fs_doc *d = fs_node_doc(n);
	struct timespec mtime;
	bool timed, committed;
	uint64_t gen;
	char *copy;
	size_t len;
	int err;

	if (!d)
		return 0;
	pthread_mutex_lock(&d->save_lock);
	pthread_mutex_lock(&d->lock);
	/* A write that failed makes the whole save fail: a prefix of a
	 * document that happens to be JSON must not replace it. */
	if (d->failed) {
		pthread_mutex_unlock(&d->lock);
		pthread_mutex_unlock(&d->save_lock);
		fs_log(LOG_WARNING,
		       "%s: a write past max_doc_size %zu failed: "
		       "nothing committed%s",
		       loc->full, fs->cfg.max_doc_size,
		       d->committed ? "; the last committed version is kept" :
				      "");
		return -EFBIG;
	}
	/* Emptied and not yet written: the shell's open-dup2-close before
	 * `echo` writes closes once here. Wait for the writes (or the last
	 * close, which drops the emptying), never commit an empty text. */
	if (!d->dirty || (!d->written && d->len == 0)) {
		pthread_mutex_unlock(&d->lock);
		pthread_mutex_unlock(&d->save_lock);
		return 0;
	}
	len = d->len;
	copy = malloc(len ? len : 1);
	if (copy)
		memcpy(copy, d->buf, len);
	gen = d->gen;
	timed = d->has_mtime;
	mtime = d->mtime;
	committed = d->committed;
	pthread_mutex_unlock(&d->lock);
	err = copy ? fs_save_bytes(fs, loc->branch, loc->path, copy, len,
				   timed ? &mtime : NULL, committed) :
		     -ENOMEM;
	free(copy);
	/* A refused save keeps the buffer: a close of a duplicate
	 * descriptor mid-write must not lose the writes still to come on
	 * the others. The last close drops what was never saved, and the
	 * next open reads Git again. Writes made during the commit keep it
	 * dirty for the next save. */
	pthread_mutex_lock(&d->lock);
	d->refused = err < 0;
	d->refused_gen = gen;
	pthread_mutex_unlock(&d->lock);
	if (err == 0) {
		pthread_mutex_lock(&d->lock);
		d->committed = true;
		d->created = false;
		if (d->gen == gen)
			d->dirty = d->written = d->has_mtime = false;
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&d->save_lock);
	return err;
}
