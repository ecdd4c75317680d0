/* scratch.c - the scratch area: <gitdir>/chronofs/scratch/<branch>/<path>
 * holds every non-document file (editor swap files, rsync temporaries,
 * README.md), empty collections, and new documents not yet holding
 * content. It is a plain directory tree, so it survives remounts. Branch
 * names are escaped ('/' as %2F, '%' as %25) to keep one level per branch.
 *
 * Scratch paths are relative ("<branch>/<path>"): the daemon works in the
 * scratch root (fs_scratch_enter), so a path through the mount reaches
 * its scratch file whenever the mount's own absolute path does, however
 * long the repository's path (an absolute backing path would be the
 * longer one, and hit PATH_MAX first).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "fs.h"
#include "log.h"
#include "banned.h"

static int mkdir_p(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			int err = -errno;

			*p = '/';
			return err;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fs_scratch_init(struct fs *fs)
{
	int err;

	if (asprintf(&fs->scratch_root, "%s/chronofs/scratch",
		     cfs_gitdir(fs->db)) < 0) {
		fs->scratch_root = NULL;
		return -ENOMEM;
	}
	err = mkdir_p(fs->scratch_root);
	/* New files of a branch (rsync's temporaries, new documents) are
	 * made in its directory here: away from inodes freed nearby. */
	if (err == 0)
		cfs_spread_subdirs(fs->scratch_root);
	return err;
}

int fs_scratch_enter(struct fs *fs)
{
	return chdir(fs->scratch_root) < 0 ? -errno : 0;
}

int fs_scratch_branch_dir(struct fs *fs, const char *branch, char **out)
{
	size_t n = 1;
	char *buf, *w;

	for (const char *p = branch; *p; p++)
		n += (*p == '/' || *p == '%') ? 3 : 1;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	w = buf;
	for (const char *p = branch; *p; p++) {
		if (*p == '/' || *p == '%')
			w += snprintf(w, n - (size_t)(w - buf), "%%%02X",
				      (unsigned char)*p);
		else
			*w++ = *p;
	}
	*w = '\0';
	*out = buf;
	return 0;
}

int fs_scratch_path(struct fs *fs, const char *branch, const char *path,
		    char **out)
{
	char *dir;
	int err = fs_scratch_branch_dir(fs, branch, &dir);

	if (err < 0)
		return err;
	if (asprintf(out, "%s%s%s", dir, *path ? "/" : "", path) < 0)
		err = -ENOMEM;
	free(dir);
	return err;
}

/* The mode a real file under GITDIR/chronofs may carry for MODE a
 * client asked: no set-id bit, nobody but its owner writes, group and
 * others get no more than the owner (a chmod 4755 through an
 * allow_other mount must not make a setuid file the daemon's owner
 * runs). */
static mode_t real_mode(mode_t mode)
{
	mode_t m = mode & 01755;
	mode_t own = (m >> 6) & 7;

	return (m & 01700) | ((((m >> 3) & own) << 3)) | (m & own & 7);
}

int fs_scratch_chmod(const char *real, int fd, const struct stat *now,
		     mode_t mode)
{
	mode_t want = real_mode(mode);
	bool keep = (mode & 07777) != want &&
		    (S_ISREG(now->st_mode) || S_ISDIR(now->st_mode));
	char v[16];
	int n;

	/* A symbolic link's own mode is always 0777 on Linux. */
	if (S_ISLNK(now->st_mode))
		return 0;
	if (keep) {
		n = snprintf(v, sizeof(v), "%o", (unsigned)(mode & 07777));
		if ((fd >= 0 ? fsetxattr(fd, FS_XATTR_MODE, v, (size_t)n, 0) :
			       setxattr(real, FS_XATTR_MODE, v, (size_t)n,
					0)) == 0)
			want |= S_ISVTX;
		else
			fs_log(LOG_WARNING,
			       "%s: mode %o kept as %o: the scratch "
			       "filesystem holds no user xattr (%s)",
			       real, (unsigned)(mode & 07777), (unsigned)want,
			       strerror(errno));
	} else if (now->st_mode & S_ISVTX) {
		(void)(fd >= 0 ? fremovexattr(fd, FS_XATTR_MODE) :
				 removexattr(real, FS_XATTR_MODE));
	}
	if ((now->st_mode & 07777) != want &&
	    (fd >= 0 ? fchmod(fd, want) : chmod(real, want)) < 0)
		return -errno;
	return 0;
}

mode_t fs_scratch_shown_mode(const char *real, int fd, mode_t mode)
{
	char v[16];
	ssize_t n;
	unsigned long m;
	char *end;

	if (!(mode & S_ISVTX) || !(S_ISREG(mode) || S_ISDIR(mode)))
		return mode;
	n = fd >= 0 ? fgetxattr(fd, FS_XATTR_MODE, v, sizeof(v) - 1) :
		      getxattr(real, FS_XATTR_MODE, v, sizeof(v) - 1);
	if (n <= 0)
		return mode;
	v[n] = '\0';
	m = strtoul(v, &end, 8);
	if (*end || m > 07777)
		return mode;
	return (mode & S_IFMT) | (mode_t)m;
}

int fs_scratch_adopt(struct fs *fs, const char *real, int fd, mode_t mode,
		     uid_t uid, gid_t gid)
{
	struct stat st;
	int err;

	if ((fd >= 0 ? fstat(fd, &st) : lstat(real, &st)) < 0)
		return -errno;
	if ((err = fs_scratch_chmod(real, fd, &st, mode)) < 0)
		return err;
	if (geteuid() != 0 || (st.st_uid == uid && st.st_gid == gid))
		return 0;
	if ((fd >= 0 ? fchown(fd, uid, gid) :
		       fchownat(AT_FDCWD, real, uid, gid,
				AT_SYMLINK_NOFOLLOW)) < 0)
		return -errno;
	return 0;
}

int fs_scratch_mkparents(const char *real)
{
	char *copy = strdup(real);
	char *slash;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash && slash != copy) {
		*slash = '\0';
		err = mkdir_p(copy);
	}
	free(copy);
	return err;
}

/* Remove DIR if it holds only empty directories; -ENOTEMPTY otherwise. */
static int remove_empty_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (err == 0 && (de = readdir(d))) {
		char *sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type != DT_DIR) {
			err = -ENOTEMPTY;
			break;
		}
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0)
			return closedir(d), -ENOMEM;
		err = remove_empty_tree(sub);
		free(sub);
	}
	closedir(d);
	if (err == 0 && rmdir(dir) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}

int fs_scratch_branch_clear(struct fs *fs, const char *branch)
{
	char *dir;
	int err = fs_scratch_branch_dir(fs, branch, &dir);

	if (err < 0)
		return err;
	err = remove_empty_tree(dir);
	free(dir);
	return err;
}

int fs_scratch_branch_rename(struct fs *fs, const char *from, const char *to)
{
	char *a = NULL, *b = NULL;
	int err;

	if ((err = fs_scratch_branch_dir(fs, from, &a)) == 0 &&
	    (err = fs_scratch_branch_dir(fs, to, &b)) == 0 &&
	    rename(a, b) < 0 && errno != ENOENT)
		err = -errno;
	free(a);
	free(b);
	return err;
}
