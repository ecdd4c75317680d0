/* main.c - chronofs REPO MOUNTPOINT [-f] [-d] [-o opt,...]
 *
 * Takes the options (options.c), opens the store and the index database,
 * and runs the multithreaded FUSE session until unmount.
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
#include "options.h"
#include "banned.h"

/* A library call may hold the index database a moment: wait this long
 * for it rather than serve with a read-only index. */
#define INDEX_WAIT_MS 5000

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
		fs_history_catchup(fs, v[i], true);
	if (err == 0)
		chronofs_strings_free(v, n);
	cfs_index_reserve(fs->db, false);
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
	/* Reserved before the first request can come: no lookup or save
	 * runs a long catch-up of its own meanwhile. */
	cfs_index_reserve(fs->db, true);
	if ((err = pthread_create(&fs->indexer, NULL, catch_up_all, fs)) != 0) {
		cfs_index_reserve(fs->db, false);
		return -err;
	}
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
	/* glibc makes up to 8 heaps a core for the FUSE threads, each keeping
	 * up to the trim threshold unreturned: at a million documents (ls -l,
	 * 2,000 saves) 2 a core peaked at 377 MB against 391 (means of 3 and
	 * 4 runs), saves as fast. MALLOC_ARENA_MAX still decides if set. */
	if (!getenv("MALLOC_ARENA_MAX")) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		mallopt(M_ARENA_MAX, cpus > 1 ? (int)(2 * cpus) : 2);
	}
	if (fs_options_parse(&args, &fs.cfg, argv[0]) < 0)
		return 1;
	if (fs.cfg.show_help || fs.cfg.show_version) {
		fs_options_release(&fs.cfg);
		fuse_opt_free_args(&args);
		return 0;
	}
	if (fs_options_check(&fs.cfg) < 0) {
		fs_options_release(&fs.cfg);
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
	fs_options_fsname(&args, fs.cfg.repo);
	/* stderr until daemonized: mount errors reach the terminal. */
	fs_log_setup(false, fs.cfg.debug);
	err = fs_open_store(&fs);
	if (err == 0)
		err = run(&fs, &args);
	fs_close(&fs);
	fs_options_release(&fs.cfg);
	fuse_opt_free_args(&args);
	return err ? 1 : 0;
}
