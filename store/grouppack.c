/* grouppack.c - a save group's objects as one pack.
 *
 * Written loose, a group's objects cost a pool file each, linked into its
 * objects/xx/ (each directory then synced), and later the background
 * packing reads every one back, packs it and unlinks it: ~0.4 ms of CPU a
 * save, most of what four writers on two cores spend. Here the objects a
 * group's leader writes go into one pack in memory instead (whole objects,
 * no deltas, stored or at zlib's fastest level as loose ones are), written
 * right before the ref moves as a .pack and a version 2 .idx: two pool
 * files, linked into objects/pack/ and synced with the group's set. The
 * pack reader (packread.c) is told of it at once, so no read of its
 * objects misses and rescans the directory.
 *
 * While its group is in flight a pack has a .keep (a link to one file,
 * chronofs/keep): `git gc --auto` beside us would otherwise repack the
 * objects no ref names yet as loose files, unsynced, and delete the pack.
 * Every MERGE_AT packs of past groups are copied, entries as they are,
 * into one, synced with the next group, and the small ones go to the
 * pool's trash once its ref moved; the background packing (pack.c) packs
 * them with deltas with the loose objects, and drops those its pack
 * covers. After a crash, packs still marked in flight are checked (their
 * checksums) before the first write, and torn ones removed (torn.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <libdeflate.h>

#include "store_int.h"
#include "banned.h"

#define HEADER 12
#define STORED_MAX 16384 /* as objwrite.c: bigger objects are deflated */
#define STORED_BLOCK 65535u
#define MERGE_AT 32
/* Packs bigger than this in all are not merged: copying them (a million
 * documents' bucket trees of 160 KB, whole) cost as much as the saves;
 * the background packing takes them soon, past 4 MiB (pack.c). */
#define MERGE_MAX (2u << 20)

struct gp_ent {
	unsigned char id[GIT_OID_RAWSZ];
	uint32_t crc;
	uint64_t off;
	git_object_t type;
	size_t len; /* inflated */
};

/* A pack being built: the group's, or a merge. */
struct gp_build {
	struct store_tb_buf b;
	struct gp_ent *v;
	size_t n, cap;
};

struct gp_done {
	char name[GIT_OID_HEXSZ + 6]; /* "pack-" + hex */
	uint64_t bytes;
	bool taken; /* by a merge or the background packing */
	bool merged; /* a merge's: not merged again */
};

struct store_gpack {
	/* The leader's thread (under write_lock); others write loose. */
	pthread_t owner;
	bool active;
	z_stream z;
	bool zok;
	struct gp_build cur;
	bool seeded; /* store_pack_seed_tips done */
	/* This run's packs (their .keep to drop), and the merged-away
	 * packs to unlink once its ref moved. */
	struct gp_done *mine;
	size_t nmine, capmine;
	struct gp_done *merged;
	size_t nmerged;
	/* The group's own pack written unsynced for the journal: its
	 * .idx (NULL: none), and its length in cur.b, whose bytes stay
	 * until the next group begins. */
	char *uidx;
	size_t upacklen, uidxlen;
	/* Past groups' packs, under st->pack_lock. */
	struct gp_done *done;
	size_t ndone, capdone;
};

int store_gpack_new(struct store *st)
{
	st->gpack = calloc(1, sizeof(*st->gpack));
	return st->gpack ? 0 : -ENOMEM;
}

void store_gpack_begin(struct store *st, bool gc)
{
	struct store_gpack *g = st->gpack;

	if (!g)
		return;
	if (!g->seeded)
		store_pack_seed_tips(st);
	g->seeded = true;
	g->owner = pthread_self();
	/* A gc's last look at objects/pack/ takes a set it sees an .idx of
	 * and no .pack of for garbage, and unlinks its .idx and .keep: a
	 * readdir may miss a .pack linked while it runs and see the .idx
	 * linked after it. Loose objects it leaves alone, and it is at its
	 * end, well past the ~ms from here to our .idx. */
	g->active = !gc;
	g->cur.b.len = 0;
	g->cur.n = 0;
}

static struct store_gpack *mine(struct store *st)
{
	struct store_gpack *g = st->gpack;

	return g && g->active && pthread_equal(g->owner, pthread_self()) ? g :
									   NULL;
}

bool store_gpack_mine(struct store *st)
{
	return mine(st) != NULL;
}

static int add_ent(struct gp_build *pb, const unsigned char *id, uint64_t off,
		   uint32_t crc, git_object_t type, size_t len)
{
	if (pb->n == pb->cap) {
		size_t cap = pb->cap ? pb->cap * 2 : 64;
		struct gp_ent *v = realloc(pb->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pb->v = v;
		pb->cap = cap;
	}
	memcpy(pb->v[pb->n].id, id, GIT_OID_RAWSZ);
	pb->v[pb->n].off = off;
	pb->v[pb->n].crc = crc;
	pb->v[pb->n].type = type;
	pb->v[pb->n++].len = len;
	return 0;
}

/* DATA as a zlib stream of stored blocks at the end of B. */
static void put_stored(struct store_tb_buf *b, const void *data, size_t len)
{
	unsigned char *o = (unsigned char *)b->p + b->len;
	const unsigned char *in = data;
	size_t done = 0;
	uint32_t adler = libdeflate_adler32(1, in, len); /* as objwrite.c */

	*o++ = 0x78, *o++ = 0x01;
	do {
		size_t blk = len - done < STORED_BLOCK ? len - done :
							 STORED_BLOCK;

		o[0] = done + blk == len;
		o[1] = (unsigned char)(blk & 0xff);
		o[2] = (unsigned char)(blk >> 8);
		o[3] = (unsigned char)(~blk & 0xff);
		o[4] = (unsigned char)((~blk >> 8) & 0xff);
		memcpy(o + 5, in + done, blk);
		o += 5 + blk;
		done += blk;
	} while (done < len);
	*o++ = (unsigned char)(adler >> 24);
	*o++ = (unsigned char)(adler >> 16);
	*o++ = (unsigned char)(adler >> 8);
	*o++ = (unsigned char)adler;
	b->len = (size_t)(o - (unsigned char *)b->p);
}

int store_gpack_add(struct store *st, const git_oid *id, git_object_t type,
		    const void *data, size_t len)
{
	struct store_gpack *g = mine(st);
	struct gp_build *pb;
	unsigned char hdr[16], c;
	size_t h = 0, sz = len >> 4, start, bound;
	int err;

	if (!g)
		return -EINVAL;
	pb = &g->cur;
	if (pb->b.len == 0) {
		if ((err = store_tb_reserve(&pb->b, HEADER)) < 0)
			return err;
		memcpy(pb->b.p, "PACK\0\0\0\2\0\0\0\0", HEADER);
		pb->b.len = HEADER;
	}
	for (size_t i = 0; i < pb->n; i++)
		if (!memcmp(pb->v[i].id, id->id, GIT_OID_RAWSZ))
			return 0; /* written in this group already */
	c = (unsigned char)(type << 4 | (len & 15));
	while (sz) {
		hdr[h++] = c | 0x80;
		c = sz & 0x7f;
		sz >>= 7;
	}
	hdr[h++] = c;
	start = pb->b.len;
	bound = h + 6 + 5 * (len / STORED_BLOCK + 1) + len + 64;
	if (type != GIT_OBJECT_TREE && len > STORED_MAX) {
		if (!g->zok && deflateInit(&g->z, Z_BEST_SPEED) != Z_OK)
			return -ENOMEM;
		g->zok = true;
		if (deflateReset(&g->z) != Z_OK)
			return -EIO;
		bound = h + deflateBound(&g->z, (uLong)len);
	}
	if ((err = store_tb_reserve(&pb->b, bound)) < 0)
		return err;
	memcpy(pb->b.p + pb->b.len, hdr, h);
	pb->b.len += h;
	if (type != GIT_OBJECT_TREE && len > STORED_MAX) {
		g->z.next_in = (Bytef *)data;
		g->z.avail_in = (uInt)len;
		g->z.next_out = (Bytef *)pb->b.p + pb->b.len;
		g->z.avail_out = (uInt)(pb->b.cap - pb->b.len);
		if (deflate(&g->z, Z_FINISH) != Z_STREAM_END) {
			pb->b.len = start;
			return -EIO;
		}
		pb->b.len += g->z.total_out;
	} else {
		put_stored(&pb->b, data, len);
	}
	err = add_ent(pb, id->id, start,
		      libdeflate_crc32(0, pb->b.p + start, pb->b.len - start),
		      type, len);
	if (err < 0)
		pb->b.len = start;
	return err;
}

int store_gpack_get(struct store *st, const git_oid *id, git_odb_backend *be,
		    void **data, size_t *len, git_object_t *type)
{
	struct store_gpack *g = mine(st);
	struct gp_build *pb;
	const unsigned char *p;
	z_stream z = { 0 };
	size_t i;
	int rc;

	if (!g)
		return -ENOENT;
	pb = &g->cur;
	for (i = 0; i < pb->n; i++)
		if (!memcmp(pb->v[i].id, id->id, GIT_OID_RAWSZ))
			break;
	if (i == pb->n)
		return -ENOENT;
	*len = pb->v[i].len;
	*type = pb->v[i].type;
	if (!data)
		return 0;
	p = (const unsigned char *)pb->b.p + pb->v[i].off;
	while (*p & 0x80)
		p++;
	p++;
	if (!(*data = git_odb_backend_data_alloc(be, *len + 1)))
		return -ENOMEM;
	if (inflateInit(&z) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)((const unsigned char *)pb->b.p + pb->b.len - p);
	z.next_out = *data;
	z.avail_out = (uInt)*len + 1;
	rc = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (rc != Z_STREAM_END || z.total_out != *len) {
		git_odb_backend_data_free(be, *data);
		return -EIO;
	}
	((char *)*data)[*len] = '\0';
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return memcmp(((const struct gp_ent *)a)->id,
		      ((const struct gp_ent *)b)->id, GIT_OID_RAWSZ);
}

static void be32put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* PB finished: the count and trailer on the pack, its .idx in *IDX
 * (caller frees), its name's hex in HEX. */
static int finish(struct gp_build *pb, char **idx, size_t *idxlen,
		  char hex[GIT_OID_HEXSZ + 1])
{
	size_t large = 0, len, at;
	unsigned char sum[GIT_OID_RAWSZ], *x;
	uint32_t fan[256] = { 0 };
	int err;

	be32put((unsigned char *)pb->b.p + 8, (uint32_t)pb->n);
	if ((err = store_tb_reserve(&pb->b, GIT_OID_RAWSZ)) < 0 ||
	    (err = store_sha1(pb->b.p, pb->b.len, sum)) < 0)
		return err;
	memcpy(pb->b.p + pb->b.len, sum, GIT_OID_RAWSZ);
	pb->b.len += GIT_OID_RAWSZ;
	qsort(pb->v, pb->n, sizeof(*pb->v), by_id);
	for (size_t i = 0; i < pb->n; i++) {
		fan[pb->v[i].id[0]]++;
		large += pb->v[i].off >= 0x80000000u;
	}
	len = 8 + 1024 + pb->n * 28 + large * 8 + 2 * GIT_OID_RAWSZ;
	if (!(x = malloc(len)))
		return -ENOMEM;
	memcpy(x, "\377tOc\0\0\0\2", 8);
	for (uint32_t i = 0, sumn = 0; i < 256; i++) {
		sumn += fan[i];
		be32put(x + 8 + 4 * i, sumn);
	}
	at = 8 + 1024;
	for (size_t i = 0; i < pb->n; i++, at += GIT_OID_RAWSZ)
		memcpy(x + at, pb->v[i].id, GIT_OID_RAWSZ);
	for (size_t i = 0; i < pb->n; i++, at += 4)
		be32put(x + at, pb->v[i].crc);
	large = 0;
	for (size_t i = 0; i < pb->n; i++, at += 4)
		be32put(x + at, pb->v[i].off < 0x80000000u ?
					(uint32_t)pb->v[i].off :
					0x80000000u | (uint32_t)large++);
	for (size_t i = 0; i < pb->n; i++) {
		if (pb->v[i].off < 0x80000000u)
			continue;
		be32put(x + at, (uint32_t)(pb->v[i].off >> 32));
		be32put(x + at + 4, (uint32_t)pb->v[i].off);
		at += 8;
	}
	memcpy(x + at, sum, GIT_OID_RAWSZ);
	at += GIT_OID_RAWSZ;
	if ((err = store_sha1(x, at, x + at)) < 0) {
		free(x);
		return err;
	}
	*idx = (char *)x;
	*idxlen = len;
	git_oid_tostr(hex, GIT_OID_HEXSZ + 1, (const git_oid *)sum);
	return 0;
}

/* LEN bytes of P as file DST: a pool file filled and linked there, synced
 * with the group's set if SYNC. */
static int put_file(struct store *st, const char *dst, const void *p,
		    size_t len, bool sync)
{
	char tmp[4400];
	unsigned long ticket = 0;
	bool pooled, ready;
	int fd, err;

	pooled = store_pool_take(st, tmp, sizeof(tmp), &ticket, &fd) == 0;
	ready = fd >= 0;
	if (pooled && !ready) {
		fd = store_pool_open(tmp);
	} else if (!pooled) {
		snprintf(tmp, sizeof(tmp), "%s/objects/pack/tmp_gpack_XXXXXX",
			 st->gitdir);
		fd = mkostemp(tmp, O_CLOEXEC);
	}
	if (fd < 0) {
		err = -errno;
		if (pooled)
			store_pool_release(st, ticket);
		return err;
	}
	err = store_write_all(fd, p, len);
	if (err == 0 && !ready && fchmod(fd, 0444) < 0)
		err = -errno;
	if (err == 0 && sync && store_syncset_take_fd(st, fd))
		fd = -1;
	if (err == 0 && fd >= 0 && sync && fsync(fd) < 0)
		err = -errno;
	if (fd >= 0 && close(fd) < 0 && err == 0)
		err = -errno;
	if (err == 0 && link(tmp, dst) < 0 && errno != EEXIST)
		err = -errno;
	if (pooled)
		store_pool_release(st, ticket);
	else
		unlink(tmp);
	return err;
}

static void pack_path(char *buf, size_t sz, struct store *st, const char *name,
		      const char *ext)
{
	snprintf(buf, sz, "%s/objects/pack/%s.%s", st->gitdir, name, ext);
}

/* Mark pack NAME in flight (its .keep, a link to chronofs/keep). */
static void keep(struct store *st, const char *name)
{
	char tmpl[4300], path[4400];
	int fd;

	snprintf(tmpl, sizeof(tmpl), "%s/chronofs/keep", st->gitdir);
	pack_path(path, sizeof(path), st, name, "keep");
	if (link(tmpl, path) == 0 || errno != ENOENT)
		return;
	fd = open(tmpl, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
	if (fd >= 0)
		close(fd);
	if (link(tmpl, path) < 0 && st->log)
		st->log("group pack: cannot mark a pack in flight (.keep)");
}

static int remember(struct store_gpack *g, const char *name, bool merged)
{
	if (g->nmine == g->capmine) {
		size_t cap = g->capmine ? g->capmine * 2 : 8;
		void *v = realloc(g->mine, cap * sizeof(*g->mine));

		if (!v)
			return -ENOMEM;
		g->mine = v;
		g->capmine = cap;
	}
	snprintf(g->mine[g->nmine].name, sizeof(g->mine->name), "%s", name);
	g->mine[g->nmine++].merged = merged;
	return 0;
}

/* PB as pack files in objects/pack/, in flight; told to the reader.
 * SYNC: with the group's set (fsync=on), else its .idx kept in G for the
 * journal. */
static int publish(struct store *st, struct store_gpack *g, struct gp_build *pb,
		   char name[GIT_OID_HEXSZ + 6], bool merged, bool sync)
{
	char hex[GIT_OID_HEXSZ + 1], path[4400], dir[4300], *idx = NULL;
	size_t idxlen = 0;
	int err = finish(pb, &idx, &idxlen, hex);

	if (err < 0)
		return err;
	snprintf(name, GIT_OID_HEXSZ + 6, "pack-%s", hex);
	if ((err = remember(g, name, merged)) < 0) {
		free(idx);
		return err;
	}
	keep(st, name);
	pack_path(path, sizeof(path), st, name, "pack");
	err = put_file(st, path, pb->b.p, pb->b.len, sync);
	pack_path(path, sizeof(path), st, name, "idx");
	if (err == 0 && (err = put_file(st, path, idx, idxlen, sync)) < 0) {
		/* No index names it: nothing reads the .pack, drop it. */
		pack_path(path, sizeof(path), st, name, "pack");
		unlink(path);
	}
	snprintf(dir, sizeof(dir), "%s/objects/pack", st->gitdir);
	if (err == 0 && sync && !store_syncset_take_dir(st, dir))
		err = store_fsync_dir(dir);
	if (err == 0)
		store_packread_add_pack(st, name, idx, idxlen);
	if (err == 0 && !sync) {
		free(g->uidx);
		g->uidx = idx;
		g->uidxlen = idxlen;
		g->upacklen = pb->b.len;
		return 0;
	}
	free(idx);
	return err;
}

bool store_gpack_unsynced(struct store *st, struct store_gpack_view *out)
{
	struct store_gpack *g = mine(st);

	if (!g || !g->uidx)
		return false;
	/* Its trailer, the checksum that names it. */
	memcpy(out->sum, g->cur.b.p + g->upacklen - GIT_OID_RAWSZ,
	       GIT_OID_RAWSZ);
	out->pack = g->cur.b.p;
	out->packlen = g->upacklen;
	out->idx = g->uidx;
	out->idxlen = g->uidxlen;
	return true;
}

/* The unsynced pack forgotten: its group ended, or built again. */
static void drop_unsynced(struct store_gpack *g)
{
	free(g->uidx);
	g->uidx = NULL;
}

bool store_gpack_gone(struct store *st, const char *name)
{
	char path[4400];
	struct stat sb;

	pack_path(path, sizeof(path), st, name, "idx");
	return stat(path, &sb) < 0 && errno == ENOENT;
}

/* Entries of pack NAME (its .idx read) appended to PB, but those whose
 * ids PB has already; -ENOENT if the pack is gone. */
static int copy_pack(struct store *st, const char *name, struct gp_build *pb)
{
	char dir[4300];
	struct store_pk *pk;
	int err = 0;

	snprintf(dir, sizeof(dir), "%s/objects/pack", st->gitdir);
	if (!(pk = store_pk_open(dir, name)))
		return store_gpack_gone(st, name) ? -ENOENT : -EIO;
	for (uint32_t i = 0; i < store_pk_count(pk) && err == 0; i++) {
		const unsigned char *id;
		uint64_t off, end;
		uint32_t crc;
		size_t at = pb->b.len;
		bool dup = false;

		store_pk_entry(pk, i, &id, &crc, &off, &end);
		for (size_t k = 0; k < pb->n && !dup; k++)
			dup = !memcmp(pb->v[k].id, id, GIT_OID_RAWSZ);
		if (dup)
			continue;
		if (end <= off ||
		    (err = store_tb_reserve(&pb->b, end - off)) < 0) {
			err = err < 0 ? err : -EIO;
			break;
		}
		err = store_pk_read(pk, pb->b.p + at, end - off, off);
		if (err == 0)
			err = add_ent(pb, id, at, crc, GIT_OBJECT_INVALID, 0);
		if (err == 0)
			pb->b.len += end - off;
	}
	store_pk_close(pk);
	return err;
}

/* The packs a merge took, left as they were, to merge another time. */
static void unmerge(struct store *st, struct store_gpack *g)
{
	for (size_t i = 0; i < g->nmerged; i++)
		store_gpack_give_back(st, g->merged[i].name, false);
	g->nmerged = 0;
	free(g->merged);
	g->merged = NULL;
}

/* Past MERGE_AT packs of past groups: them copied into one, in flight
 * with this group (the small ones are unlinked once its ref moved). */
static int merge(struct store *st, struct store_gpack *g)
{
	struct gp_build pb = { 0 };
	char name[GIT_OID_HEXSZ + 6];
	size_t n = 0, k = 0;
	uint64_t bytes = 0;
	int err = 0;

	pthread_mutex_lock(&st->pack_lock);
	for (size_t i = 0; i < g->ndone; i++) {
		if (g->done[i].taken || g->done[i].merged)
			continue;
		n++;
		bytes += g->done[i].bytes;
	}
	if (n >= MERGE_AT && bytes <= MERGE_MAX && !g->merged &&
	    (g->merged = calloc(n, sizeof(*g->merged)))) {
		for (size_t i = 0; i < g->ndone; i++) {
			if (g->done[i].taken || g->done[i].merged)
				continue;
			g->done[i].taken = true;
			g->merged[g->nmerged++] = g->done[i];
		}
	}
	pthread_mutex_unlock(&st->pack_lock);
	if (!g->nmerged)
		return 0;
	/* Its small packs would go while a gc lists them (gcrunning.c). */
	if (store_gc_running(st)) {
		unmerge(st, g);
		return 0;
	}
	if ((err = store_tb_reserve(&pb.b, HEADER)) == 0) {
		memcpy(pb.b.p, "PACK\0\0\0\2\0\0\0\0", HEADER);
		pb.b.len = HEADER;
	}
	for (size_t i = 0; i < g->nmerged; i++) {
		/* Repacked by another git: its objects are in its pack. */
		if (store_gpack_gone(st, g->merged[i].name)) {
			store_gpack_give_back(st, g->merged[i].name, true);
			continue;
		}
		if (err == 0)
			err = copy_pack(st, g->merged[i].name, &pb);
		if (err == -ENOENT) {
			store_gpack_give_back(st, g->merged[i].name, true);
			err = 0;
			continue;
		}
		g->merged[k++] = g->merged[i];
	}
	g->nmerged = k;
	if (err == 0 && pb.n)
		err = publish(st, g, &pb, name, true, st->fsync);
	if (err < 0 || !pb.n)
		unmerge(st, g);
	free(pb.b.p);
	free(pb.v);
	return err;
}

int store_gpack_write(struct store *st)
{
	struct store_gpack *g = mine(st);
	char name[GIT_OID_HEXSZ + 6];
	int err;

	if (!g || g->cur.n == 0)
		return 0;
	drop_unsynced(g);
	/* A merge that fails leaves its packs as they were. */
	if (merge(st, g) < 0 && st->log)
		st->log("group pack: packs of past groups not merged");
	err = publish(st, g, &g->cur, name, false,
		      st->fsync && !st->journal_on);
	if (err == 0) {
		atomic_fetch_add(&st->loose_new_n, g->cur.n);
		atomic_fetch_add(&st->loose_new_kb, g->cur.b.len / 1024 + 1);
	}
	g->cur.b.len = 0;
	g->cur.n = 0;
	return err < 0 ? store_fail(err,
				    "write group pack in %s/objects/pack: %s",
				    st->gitdir, strerror(-err)) :
			 0;
}

static int add_done(struct store_gpack *g, const struct gp_done *d,
		    uint64_t bytes)
{
	if (g->ndone == g->capdone) {
		size_t cap = g->capdone ? g->capdone * 2 : 64;
		struct gp_done *v = realloc(g->done, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		g->done = v;
		g->capdone = cap;
	}
	g->done[g->ndone] = *d;
	g->done[g->ndone].bytes = bytes;
	g->done[g->ndone++].taken = false;
	return 0;
}

void store_gpack_unlink(struct store *st, const char *name)
{
	static const char *const ext[] = { "idx", "pack" };
	char path[4400];

	/* The .idx first: what finds a pack is its index. Into the pool's
	 * trash, not freed: freeing an inode, and later making one, is what
	 * the pool spares saves (pool.c); a reader holding the file keeps
	 * its bytes. */
	store_packread_forget(st, name);
	for (int i = 0; i < 2; i++) {
		pack_path(path, sizeof(path), st, name, ext[i]);
		if (store_pool_trash(st, path, true) < 0)
			unlink(path);
	}
}

/* Drop entry NAME of the list (caller holds pack_lock). */
static void forget(struct store_gpack *g, const char *name)
{
	for (size_t i = 0; i < g->ndone; i++) {
		if (strcmp(g->done[i].name, name))
			continue;
		g->done[i] = g->done[--g->ndone];
		return;
	}
}

void store_gpack_end(struct store *st, bool published)
{
	struct store_gpack *g = mine(st);
	char path[4400];
	struct stat sb;
	bool keep;

	if (!g)
		return;
	g->active = false;
	drop_unsynced(g);
	/* A gc begun since the merge: the merged-away packs stay until a
	 * packing round finds them covered, and are not merged again. */
	keep = published && g->nmerged && store_gc_running(st);
	pthread_mutex_lock(&st->pack_lock);
	for (size_t i = 0; i < g->nmine; i++) {
		pack_path(path, sizeof(path), st, g->mine[i].name, "pack");
		if (stat(path, &sb) == 0)
			add_done(g, &g->mine[i], (uint64_t)sb.st_size);
	}
	for (size_t i = 0; i < g->nmerged; i++) {
		if (published && !keep) {
			forget(g, g->merged[i].name);
			continue;
		}
		for (size_t k = 0; k < g->ndone; k++) {
			if (strcmp(g->done[k].name, g->merged[i].name))
				continue;
			g->done[k].taken = false;
			g->done[k].merged = published;
		}
	}
	pthread_mutex_unlock(&st->pack_lock);
	/* Synced with the ref: the merged-away packs are covered. */
	for (size_t i = 0; published && !keep && i < g->nmerged; i++)
		store_gpack_unlink(st, g->merged[i].name);
	for (size_t i = 0; i < g->nmine; i++) {
		pack_path(path, sizeof(path), st, g->mine[i].name, "keep");
		unlink(path);
	}
	free(g->merged);
	g->merged = NULL;
	g->nmerged = 0;
	g->nmine = 0;
}

size_t store_gpack_take(struct store *st, char (**names)[GIT_OID_HEXSZ + 6])
{
	struct store_gpack *g = st->gpack;
	size_t n = 0;

	*names = NULL;
	pthread_mutex_lock(&st->pack_lock);
	if (g && g->ndone && (*names = calloc(g->ndone, sizeof(**names)))) {
		for (size_t i = 0; i < g->ndone; i++) {
			if (g->done[i].taken)
				continue;
			g->done[i].taken = true;
			memcpy((*names)[n++], g->done[i].name, sizeof(**names));
		}
	}
	pthread_mutex_unlock(&st->pack_lock);
	return n;
}

uint64_t store_gpack_bytes(struct store *st)
{
	struct store_gpack *g = st->gpack;
	uint64_t bytes = 0;

	pthread_mutex_lock(&st->pack_lock);
	for (size_t i = 0; g && i < g->ndone; i++)
		bytes += g->done[i].taken ? 0 : g->done[i].bytes;
	pthread_mutex_unlock(&st->pack_lock);
	return bytes;
}

size_t store_gpack_count(struct store *st)
{
	struct store_gpack *g = st->gpack;
	size_t n;

	pthread_mutex_lock(&st->pack_lock);
	n = g ? g->ndone : 0;
	pthread_mutex_unlock(&st->pack_lock);
	return n;
}

void store_gpack_give_back(struct store *st, const char *name, bool gone)
{
	struct store_gpack *g = st->gpack;

	pthread_mutex_lock(&st->pack_lock);
	for (size_t i = 0; g && i < g->ndone; i++) {
		if (strcmp(g->done[i].name, name))
			continue;
		if (gone)
			g->done[i] = g->done[--g->ndone];
		else
			g->done[i].taken = false;
		break;
	}
	pthread_mutex_unlock(&st->pack_lock);
}

void store_gpack_free(struct store *st)
{
	struct store_gpack *g = st->gpack;

	if (!g)
		return;
	if (g->zok)
		deflateEnd(&g->z);
	free(g->cur.b.p);
	free(g->cur.v);
	free(g->uidx);
	free(g->mine);
	free(g->merged);
	free(g->done);
	free(g);
	st->gpack = NULL;
}
