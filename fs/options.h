/* options.h - the daemon's command line (options.c). */
#ifndef CHRONOFS_FS_OPTIONS_H
#define CHRONOFS_FS_OPTIONS_H

#include "fs.h"

/* Parse ARGS into CFG (-1 on a bad argument, said on stderr); with -h or
 * -V print the help (PROG its name) or the version. */
int fs_options_parse(struct fuse_args *args, struct fs_config *cfg,
		     const char *prog);
/* Check CFG before anything is opened: -1, said on stderr, if it cannot
 * mount. */
int fs_options_check(struct fs_config *cfg);
/* fsname=REPO (absolute, escaped for fuse_opt) onto ARGS. */
void fs_options_fsname(struct fuse_args *args, const char *repo);
void fs_options_release(struct fs_config *cfg);

#endif
