/* options.c - the daemon's command line: sshfs-style arguments (so
 * `mount -t fuse.chronofs REPO MNT` and fstab lines work) parsed into one
 * config, checked before anything is opened, and the help text.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "options.h"
#include "banned.h"

#define OPT(t, p)                                   \
	{                                           \
		t, offsetof(struct fs_config, p), 1 \
	}
static const struct fuse_opt opts[] = {
	OPT("author=%s", author),
	OPT("branch=%s", branch),
	OPT("allow_checked_out", allow_checked_out),
	OPT("logfile=%s", logfile),
	OPT("fsync=%s", fsync_opt),
	OPT("max_doc_size=%s", max_doc_size_opt),
	OPT("sync=%s", sync_remote),
	OPT("sync_interval=%s", sync_interval_opt),
	OPT("entry_timeout=%s", entry_timeout_opt),
	OPT("attr_timeout=%s", attr_timeout_opt),
	OPT("-f", foreground),
	OPT("-d", debug),
	OPT("debug", debug),
	OPT("-h", show_help),
	OPT("--help", show_help),
	OPT("-V", show_version),
	OPT("--version", show_version),
	FUSE_OPT_KEY("ro", 1),
	FUSE_OPT_KEY("allow_other", 2),
	FUSE_OPT_END,
};

static void usage(const char *prog)
{
	printf("usage: %s REPO MOUNTPOINT [-f] [-d] [-o opt,...]\n\n"
	       "Mount the Git repository REPO as a directory of JSON "
	       "documents.\n\n"
	       "options:\n"
	       "    -f                   stay in the foreground, log to "
	       "stderr\n"
	       "    -d, -o debug         debug output (implies -f)\n"
	       "    -o ro                read-only mount\n"
	       "    -o author=NAME <EMAIL>  author of commits (default: "
	       "git config, else chronofs <chronofs@HOST>)\n"
	       "    -o branch=NAME       mount that branch at the root\n"
	       "    -o allow_checked_out  write to the branch a non-bare "
	       "repository's\n"
	       "                         working tree has checked out "
	       "(read-only\n"
	       "                         otherwise, as git's "
	       "receive.denyCurrentBranch)\n"
	       "    -o fsync=on|off      make each commit durable before "
	       "close returns (default on)\n"
	       "    -o max_doc_size=BYTES  largest document (default "
	       "16777216)\n"
	       "    -o logfile=PATH      log to PATH (default: stderr with -f,"
	       "\n"
	       "                         else syslog, else "
	       "GITDIR/chronofs/chronofs.log)\n"
	       "    -o sync=REMOTE       sync with git remote REMOTE in "
	       "the background\n"
	       "    -o sync_interval=SECONDS  between sync rounds "
	       "(default 10)\n"
	       "    -o entry_timeout=SECONDS  the kernel keeps a document's "
	       "name (default 30)\n"
	       "    -o attr_timeout=SECONDS  the kernel keeps a document's "
	       "size and times\n"
	       "                         (default 1)\n"
	       "    -h, --help           this help\n"
	       "    -V, --version        print the version\n\n"
	       "    -o allow_other       let other users in (implies "
	       "default_permissions:\n"
	       "                         the kernel checks each access "
	       "against the modes shown)\n\n"
	       "libfuse options (default_permissions, ...) "
	       "pass through.\n",
	       prog);
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct fs_config *cfg = data;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!cfg->repo) {
			cfg->repo = realpath(arg, NULL);
			if (!cfg->repo) {
				fprintf(stderr, "chronofs: %s: %s\n", arg,
					strerror(errno));
				return -1;
			}
			return 0;
		}
		if (!cfg->mountpoint) {
			/* Resolved once: a relative name means nothing to
			 * the unmount at exit, which runs from another
			 * directory (a -f mount stopped by a signal left a
			 * dead mount). */
			cfg->mountpoint = realpath(arg, NULL);
			if (!cfg->mountpoint) {
				fprintf(stderr,
					"chronofs: mountpoint %s: %s%s\n", arg,
					strerror(errno),
					errno == ENOTCONN ?
						" (a dead mount: fusermount3 "
						"-u it first)" :
						"");
				return -1;
			}
			return 0;
		}
		fprintf(stderr, "chronofs: unexpected argument '%s'\n", arg);
		return -1;
	case 1: /* ro: ours, and the kernel's too */
		cfg->ro = 1;
		return 1;
	case 2: /* allow_other: the kernel's, and it brings a rule */
		cfg->allow_other = 1;
		return 1;
	default:
		return 1;
	}
}

/* Undo the \ooo escapes of a /proc/self/mountinfo field, in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* A FUSE file system mounted on MNT already? Mounting again would stack
 * a second one on it (the kernel allows it, and the first is hidden until
 * the second goes). Other file systems are fine to mount over (a
 * container's volume is one). *type gets its type ("fuse.chronofs"). */
static bool fuse_mounted_on(const char *mnt, char *type, size_t size)
{
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!mi)
		return false;
	while (!found && getline(&line, &cap, mi) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE ... */
		char *f[32], *p = line;
		size_t n = 0, i;

		line[strcspn(line, "\n")] = '\0';
		while (p && n < 32) {
			f[n++] = p;
			if ((p = strchr(p, ' ')))
				*p++ = '\0';
		}
		if (n < 5)
			continue;
		unescape(f[4]);
		if (strcmp(f[4], mnt))
			continue;
		for (i = 5; i + 1 < n && strcmp(f[i], "-"); i++)
			;
		if (i + 1 < n && !strncmp(f[i + 1], "fuse", 4)) {
			snprintf(type, size, "%s", f[i + 1]);
			found = true;
		}
	}
	free(line);
	fclose(mi);
	return found;
}

static int check_sync(struct fs_config *cfg)
{
	unsigned long v;
	char *end;

	cfg->sync_interval = FS_SYNC_INTERVAL;
	if (cfg->sync_interval_opt) {
		errno = 0;
		v = strtoul(cfg->sync_interval_opt, &end, 10);
		if (errno || *end || v == 0 || v > 86400 ||
		    !isdigit((unsigned char)cfg->sync_interval_opt[0]))
			return fprintf(stderr,
				       "chronofs: sync_interval=%s: "
				       "want 1 to 86400 seconds\n",
				       cfg->sync_interval_opt),
			       -1;
		if (!cfg->sync_remote)
			return fprintf(stderr, "chronofs: sync_interval "
					       "without sync=REMOTE\n"),
			       -1;
		cfg->sync_interval = (unsigned)v;
	}
	if (cfg->sync_remote && cfg->ro)
		return fprintf(stderr,
			       "chronofs: sync=%s needs a read-write "
			       "mount\n",
			       cfg->sync_remote),
		       -1;
	return 0;
}

/* A cache timeout OPT (NULL: DEF) into *OUT: 0 to a day, in seconds. */
static int check_timeout(const char *name, const char *opt, double def,
			 double *out)
{
	char *end;

	*out = def;
	if (!opt)
		return 0;
	errno = 0;
	*out = strtod(opt, &end);
	if (errno || *end || !isdigit((unsigned char)opt[0]) ||
	    !(*out <= 86400))
		return fprintf(stderr,
			       "chronofs: %s=%s: want 0 to 86400 "
			       "seconds\n",
			       name, opt),
		       -1;
	return 0;
}

int fs_options_check(struct fs_config *cfg)
{
	char *end, type[64];
	int err;

	cfg->fsync = true;
	if (cfg->fsync_opt) {
		if (!strcmp(cfg->fsync_opt, "on"))
			cfg->fsync = true;
		else if (!strcmp(cfg->fsync_opt, "off"))
			cfg->fsync = false;
		else
			return fprintf(stderr,
				       "chronofs: fsync=%s: want on "
				       "or off\n",
				       cfg->fsync_opt),
			       -1;
	}
	cfg->max_doc_size = CFS_MAX_DOC_SIZE;
	if (cfg->max_doc_size_opt) {
		errno = 0;
		cfg->max_doc_size = strtoull(cfg->max_doc_size_opt, &end, 10);
		if (errno || *end || cfg->max_doc_size == 0)
			return fprintf(stderr,
				       "chronofs: max_doc_size=%s: "
				       "want a positive number of bytes\n",
				       cfg->max_doc_size_opt),
			       -1;
	}
	if ((err = check_sync(cfg)) < 0 ||
	    (err = check_timeout("entry_timeout", cfg->entry_timeout_opt,
				 FS_LIVE_ENTRY_TIMEOUT, &cfg->entry_timeout)) <
		    0 ||
	    (err = check_timeout("attr_timeout", cfg->attr_timeout_opt,
				 FS_LIVE_ATTR_TIMEOUT, &cfg->attr_timeout)) < 0)
		return err;
	if (!cfg->repo || !cfg->mountpoint)
		return fprintf(stderr, "chronofs: need REPO and MOUNTPOINT "
				       "(see --help)\n"),
		       -1;
	if (fuse_mounted_on(cfg->mountpoint, type, sizeof(type)))
		return fprintf(stderr,
			       "chronofs: %s is already mounted (%s); "
			       "unmount it first (fusermount3 -u %s)\n",
			       cfg->mountpoint, type, cfg->mountpoint),
		       -1;
	return 0;
}

/* The repository as the mount's source (as sshfs shows host:path), so
 * /proc/mounts and chronofsctl status tell which repository is mounted
 * where. fuse_opt escapes: ',' and '\\' with a backslash. */
void fs_options_fsname(struct fuse_args *args, const char *repo)
{
	char *abs = realpath(repo, NULL), *opt;
	const char *p = abs ? abs : repo;
	size_t n = strlen(p), k = 0;

	opt = malloc(2 * n + sizeof("-ofsname="));
	if (opt) {
		memcpy(opt, "-ofsname=", sizeof("-ofsname=") - 1);
		k = sizeof("-ofsname=") - 1;
		for (; *p; p++) {
			if (*p == ',' || *p == '\\')
				opt[k++] = '\\';
			opt[k++] = *p;
		}
		opt[k] = '\0';
		fuse_opt_add_arg(args, opt);
	}
	free(opt);
	free(abs);
}

void fs_options_release(struct fs_config *cfg)
{
	free(cfg->logfile);
	free(cfg->repo);
	free(cfg->mountpoint);
	free(cfg->author);
	free(cfg->branch);
	free(cfg->fsync_opt);
	free(cfg->max_doc_size_opt);
	free(cfg->sync_remote);
	free(cfg->sync_interval_opt);
	free(cfg->entry_timeout_opt);
	free(cfg->attr_timeout_opt);
}

int fs_options_parse(struct fuse_args *args, struct fs_config *cfg,
		     const char *prog)
{
	if (fuse_opt_parse(args, cfg, opts, opt_proc) < 0)
		return -1;
	if (cfg->show_help)
		usage(prog);
	else if (cfg->show_version)
		printf("chronofs %s (libfuse %s)\n", CHRONOFS_VERSION,
		       fuse_pkgversion());
	return 0;
}
