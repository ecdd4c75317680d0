/* main.c - chronofs REPO MOUNTPOINT [-f] [-d] [-o opt,...]
 *
 * sshfs-style arguments, so `mount -t fuse.chronofs REPO MNT` and fstab
 * lines work. Parses the options into one config, opens the store and the
 * index database, and runs the multithreaded FUSE session until unmount.
 */
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "ops.h"
#include "banned.h"

/* A library call may hold the index database a moment: wait this long
 * for it rather than serve with a read-only index. */
#define INDEX_WAIT_MS 5000

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

static int check_config(struct fs_config *cfg)
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
	if ((err = check_sync(cfg)) < 0)
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
static void add_fsname(struct fuse_args *args, const char *repo)
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

static void config_release(struct fs_config *cfg)
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
}

/* The indexes catch up with every branch head in the background: the live
 * view needs none of them, so the mount serves at once (a long history's
 * first indexing takes minutes). A snapshot or history lookup meanwhile
 * waits for it (at most IDX_CATCHUP_WAIT_S, then EAGAIN); saves never do. */
static void *catch_up_all(void *arg)
{
	struct fs *fs = arg;
	char **v;
	size_t n;
	int err = chronofs_branches(fs->db, &v, &n);

	/* A branch whose history cannot be read (a damaged or hostile
	 * tree) is logged and left out of the indexes; the mount serves the
	 * rest. */
	for (size_t i = 0; err == 0 && i < n; i++)
		fs_history_catchup(fs, v[i]);
	if (err == 0)
		chronofs_strings_free(v, n);
	return NULL;
}

static void log_store(const char *msg)
{
	fs_log(LOG_ERR, "%s", msg);
}

static void log_info(const char *msg)
{
	fs_log(LOG_INFO, "%s", msg);
}

static void log_warn(const char *msg)
{
	fs_log(LOG_WARNING, "%s", msg);
}

/* What can be opened before daemonizing: no threads may start here, as
 * fork() keeps only the calling one. */
static int fs_open_store(struct fs *fs)
{
	struct cfs_opts o = { .author = fs->cfg.author,
			      .fsync = fs->cfg.fsync,
			      .max_doc_size = fs->cfg.max_doc_size,
			      .log = log_store,
			      .info = log_info,
			      .warn = log_warn };
	struct cfs_oid head;
	int err;

	fs->started = time(NULL);
	fs->uid = getuid();
	fs->gid = getgid();
	pthread_mutex_init(&fs->branches_lock, NULL);
	pthread_mutex_init(&fs->open_lock, NULL);
	pthread_mutex_init(&fs->snaps_lock, NULL);
	err = cfs_open(&fs->db, fs->cfg.repo, &o);
	if (err < 0) {
		fs_log(LOG_ERR, "open %s: %s", fs->cfg.repo,
		       chronofs_errmsg(NULL));
		return err;
	}
	if (fs->cfg.branch && cfs_head(fs->db, fs->cfg.branch, &head) < 0 &&
	    !fs_branch_unborn(fs, fs->cfg.branch)) {
		fs_log(LOG_ERR, "branch=%s: no such branch", fs->cfg.branch);
		return -ENOENT;
	}
	if (fs->cfg.sync_remote &&
	    (err = cfs_sync_check(fs->db, fs->cfg.sync_remote)) < 0) {
		fs_log(LOG_ERR, "sync=%s: %s", fs->cfg.sync_remote,
		       chronofs_errmsg(fs->db));
		return err;
	}
	if ((err = fs_scratch_init(fs)) < 0) {
		fs_log(LOG_ERR, "scratch area in %s: %s", cfs_gitdir(fs->db),
		       strerror(-err));
		return err;
	}
	return fs_nodes_init(&fs->nodes, fs->cfg.branch ? fs->cfg.branch : "");
}

/* After daemonizing: the index database (RocksDB starts threads), the
 * pending-deletion worker, and the catch-up of every branch. */
static int fs_open_index(struct fs *fs)
{
	bool readonly;
	int err = cfs_index_attach(fs->db, INDEX_WAIT_MS, &readonly);

	if (err < 0) {
		fs_log(LOG_ERR, "index: %s", chronofs_errmsg(fs->db));
		return err;
	}
	if (readonly)
		fs_log(LOG_WARNING,
		       "index database held by another process: "
		       "serving it read-only (no new indexes, mtimes not kept)");
	if (!fs->cfg.ro)
		cfs_prepare_writes(fs->db);
	if ((err = fs_pending_new(&fs->pending, fs)) < 0)
		return err;
	if ((err = pthread_create(&fs->indexer, NULL, catch_up_all, fs)) != 0)
		return -err;
	fs->indexing = true;
	return 0;
}

static void fs_close(struct fs *fs)
{
	if (fs->indexing) {
		/* Stopped at its next batch; the next mount goes on. */
		cfs_index_cancel(fs->db);
		pthread_join(fs->indexer, NULL);
	}
	fs_pending_free(fs->pending); /* commits what is still pending */
	fs_ops_release_all(fs); /* files the kernel did not release */
	fs_nodes_release(&fs->nodes);
	if (fs->db && cfs_index_flush(fs->db) < 0)
		fs_log(LOG_ERR, "index: %s", chronofs_errmsg(fs->db));
	chronofs_close(fs->db);
	chronofs_strings_free(fs->branches, fs->nbranches);
	free(fs->unborn);
	free(fs->checked_out);
	pthread_mutex_destroy(&fs->branches_lock);
	pthread_mutex_destroy(&fs->open_lock);
	for (size_t i = 0; i < FS_SNAP_MEMO; i++)
		free(fs->snaps[i].name);
	pthread_mutex_destroy(&fs->snaps_lock);
	free(fs->scratch_root);
}

static int run(struct fs *fs, struct fuse_args *args)
{
	struct fuse_session *se;
	struct fuse_loop_config loop = { .clone_fd = 0,
					 .max_idle_threads = 10 };
	int err = -1;

	se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), fs);
	if (!se)
		return -1;
	fs->se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, fs->cfg.mountpoint) != 0)
		goto out_signals;
	/* Detached with no syslog to send to (a container): a file beside
	 * the repository, said here while stderr still reaches someone. */
	if (!fs->cfg.foreground && !fs->cfg.logfile && !fs_log_syslog_there() &&
	    asprintf(&fs->cfg.logfile, "%s/chronofs/chronofs.log",
		     cfs_gitdir(fs->db)) > 0)
		fs_log(LOG_INFO, "no syslog here: logging to %s",
		       fs->cfg.logfile);
	if (fuse_daemonize(fs->cfg.foreground) != 0)
		goto out_unmount;
	fs_log_setup(!fs->cfg.foreground, fs->cfg.debug);
	if (fs->cfg.logfile && fs_log_to_file(fs->cfg.logfile) < 0)
		fs_log(LOG_ERR, "logfile=%s: %s", fs->cfg.logfile,
		       strerror(errno));
	if (fs_scratch_enter(fs) < 0) {
		fs_log(LOG_ERR, "scratch area %s: %s", fs->scratch_root,
		       strerror(errno));
		goto out_unmount;
	}
	if (fs_open_index(fs) < 0)
		goto out_unmount;
	fs_log(LOG_INFO, "mounted %s on %s", fs->cfg.repo, fs->cfg.mountpoint);
	if (fs_sync_start(fs) < 0) {
		fs_log(LOG_ERR, "sync=%s: cannot start", fs->cfg.sync_remote);
		goto out_unmount;
	}
	err = fuse_session_loop_mt(se, &loop);
	/* Stopped by a signal (Ctrl-C on a -f mount, kill): a clean stop,
	 * unmounted below. libfuse returns the signal's number. */
	if (err == SIGINT || err == SIGTERM || err == SIGHUP)
		err = 0;
	fs_sync_stop(fs); /* before the session goes: it notifies it */
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return err;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fs fs;
	int err;

	memset(&fs, 0, sizeof(fs));
	/* A save allocates and frees buffers of tens to hundreds of KiB (a
	 * collection's tree, zlib's state) on whichever FUSE thread runs it:
	 * without this, each is an mmap/munmap pair or a heap trim, page
	 * faults included, about a tenth of a save's time. */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
	if (fuse_opt_parse(&args, &fs.cfg, opts, opt_proc) < 0)
		return 1;
	if (fs.cfg.show_help || fs.cfg.show_version) {
		if (fs.cfg.show_help)
			usage(argv[0]);
		else
			printf("chronofs %s (libfuse %s)\n", CHRONOFS_VERSION,
			       fuse_pkgversion());
		config_release(&fs.cfg);
		fuse_opt_free_args(&args);
		return 0;
	}
	if (check_config(&fs.cfg) < 0) {
		config_release(&fs.cfg);
		fuse_opt_free_args(&args);
		return 1;
	}
	if (fs.cfg.debug) {
		fs.cfg.foreground = 1;
		fuse_opt_add_arg(&args, "-d");
	}
	/* The daemon checks no permission itself: with other users let
	 * in, the kernel must check each against the modes shown. */
	if (fs.cfg.allow_other)
		fuse_opt_add_arg(&args, "-odefault_permissions");
	fuse_opt_add_arg(&args, "-osubtype=chronofs");
	add_fsname(&args, fs.cfg.repo);
	/* stderr until daemonized: mount errors reach the terminal. */
	fs_log_setup(false, fs.cfg.debug);
	err = fs_open_store(&fs);
	if (err == 0)
		err = run(&fs, &args);
	fs_close(&fs);
	config_release(&fs.cfg);
	fuse_opt_free_args(&args);
	return err ? 1 : 0;
}
