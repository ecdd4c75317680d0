/* torn.c - loose objects, and group packs, a power cut left half written.
 *
 * A save links a loose object's file into objects/xx/ before the file's
 * bytes are durable (its set is synced once, right before the ref moves:
 * syncset.c). A power cut in between may leave the name on disk with no
 * bytes, or some: an object no ref names, but under its final name. git
 * fsck then fails, and worse, the next write of the same object (the same
 * document saved again) finds the name, counts the object as there
 * (libgit2's freshen) and commits a reference to a broken one. So after a
 * process that wrote objects died without stopping (pool.c tells), every
 * loose object is read back before the first write, and one whose bytes
 * do not hash to its name is removed. Only after a crash: a clean stop
 * leaves few loose objects, a crash up to thousands (~10 us each). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "store_int.h"
#include "banned.h"

static int read_all(int fd, unsigned char *buf, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t r = read(fd, buf + off, n - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* Whether the loose object file FD (SIZE bytes) holds object HEX. */
static bool whole(int fd, size_t size, const char *hex)
{
	unsigned char *in = NULL, *out = NULL;
	size_t cap = 4096, got = 0;
	z_stream z = { 0 };
	git_oid want, id;
	bool ok = false;
	int rc = Z_OK;

	if (size == 0 || git_oid_fromstr(&want, hex) < 0 ||
	    !(in = malloc(size)) || read_all(fd, in, size) < 0 ||
	    inflateInit(&z) != Z_OK)
		goto out;
	z.next_in = in;
	z.avail_in = (uInt)size;
	for (;;) {
		if (got == cap || !out) {
			unsigned char *grown;

			cap = out ? cap * 2 : cap;
			if (cap > (size_t)1 << 31 ||
			    !(grown = realloc(out, cap)))
				break;
			out = grown;
		}
		z.next_out = out + got;
		z.avail_out = (uInt)(cap - got);
		rc = inflate(&z, Z_NO_FLUSH);
		got = cap - z.avail_out;
		/* Room left and no end: the input stopped short. */
		if (rc != Z_OK || z.avail_out > 0)
			break;
	}
	inflateEnd(&z);
	if (rc == Z_STREAM_END && z.avail_in == 0) {
		char *nul = memchr(out, '\0', got), *sp;
		char *end;
		unsigned long len;
		git_object_t type;

		if (!nul ||
		    !(sp = memchr(out, ' ', (size_t)(nul - (char *)out))))
			goto out;
		*sp = '\0';
		type = git_object_string2type((char *)out);
		len = strtoul(sp + 1, &end, 10);
		ok = type != GIT_OBJECT_INVALID && end == nul &&
		     len == got - (size_t)(nul + 1 - (char *)out) &&
		     git_odb_hash(&id, nul + 1, len, type) == 0 &&
		     git_oid_equal(&id, &want);
	}
out:
	free(out);
	free(in);
	return ok;
}

struct drop {
	struct store *st;
	int dropped;
};

static int drop_torn(int dirfd, const char *name, const char *hex, void *ctx)
{
	struct drop *dr = ctx;
	struct stat sb;
	char msg[4600];
	bool ok;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return 0;
	ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	     whole(fd, (size_t)sb.st_size, hex);
	close(fd);
	if (ok || unlinkat(dirfd, name, 0) < 0)
		return 0;
	dr->dropped++;
	if (dr->st->log) {
		snprintf(msg, sizeof(msg),
			 "%s/objects/%.2s/%s: loose object removed: its bytes "
			 "do not hash to its name (a write a crash or power "
			 "cut cut short)",
			 dr->st->gitdir, hex, name);
		dr->st->log(msg);
	}
	return 0;
}

int store_drop_torn_objects(struct store *st)
{
	struct drop dr = { st, 0 };

	store_loose_each(st->gitdir, drop_torn, &dr);
	return dr.dropped;
}

/* A group's pack (grouppack.c) is linked into objects/pack/ before its
 * set is synced too, and carries a .keep (a link to chronofs/keep) until
 * its ref moved: after a crash each pack still marked so is checked
 * whole, and removed if torn. */
int store_drop_torn_packs(struct store *st)
{
	char dir[4300], path[4600], name[300];
	struct stat tmpl, kb;
	struct store_pk *pk;
	struct dirent *e;
	int dropped = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/objects/pack", st->gitdir);
	snprintf(path, sizeof(path), "%s/chronofs/keep", st->gitdir);
	if (stat(path, &tmpl) < 0 || !(d = opendir(dir)))
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		bool whole;

		if (len < 10 || len > 200 || strncmp(e->d_name, "pack-", 5) ||
		    strcmp(e->d_name + len - 5, ".keep"))
			continue;
		/* Ours: a link to chronofs/keep (a user's .keep is a file
		 * of its own); the pack was in flight, its set perhaps not
		 * synced. */
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &kb) < 0 || kb.st_ino != tmpl.st_ino ||
		    kb.st_dev != tmpl.st_dev)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 5), e->d_name);
		whole = (pk = store_pk_open(dir, name)) && store_pk_verify(pk);
		if (pk)
			store_pk_close(pk);
		if (!whole) {
			store_gpack_unlink(st, name);
			dropped++;
			if (st->log) {
				char msg[4700];

				snprintf(msg, sizeof(msg),
					 "%s/%s: torn pack removed (a save "
					 "that did not finish wrote it)",
					 dir, name);
				st->log(msg);
			}
		}
		unlink(path);
	}
	closedir(d);
	return dropped;
}
