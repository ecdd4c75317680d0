/* ctl.h - what chronofsctl's command files share: the library's message
 * printed once, a repository opened, a time as history names show it, and
 * the commands, each returning the exit status (0 ok, 1 failure, -1
 * usage). */
#ifndef CHRONOFS_CTL_H
#define CHRONOFS_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "chronofs.h"

/* Print the library's message for the failed call (once), return 1. */
int ctl_fail(chronofs *db, int err);
/* Open REPO (a guest handle); 1 after printing why if it cannot. */
int ctl_open_repo(chronofs **db, const char *repo);
/* On a terminal, "\rWHAT DONE/TOTAL (RATE/s)" at most 5 times a second
 * since START, and a newline once DONE reaches TOTAL (TOTAL 0: unknown,
 * DONE alone). Nothing when stderr is no terminal. */
void ctl_progress(const char *what, size_t done, size_t total,
		  const struct timespec *start);
/* "YYYY-MM-DDTHH:MM:SSZ". */
void ctl_format_when(char out[32], int64_t t);

int cmd_query(int argc, char **argv); /* ctl_query.c */
int cmd_index(int argc, char **argv);
int cmd_merge(int argc, char **argv); /* ctl_merge.c */
int cmd_diff(int argc, char **argv);
int cmd_import(int argc, char **argv); /* ctl_import.c */
int cmd_watch(int argc, char **argv); /* ctl_watch.c */
int cmd_status(int argc, char **argv); /* ctl_check.c */
int cmd_fsck(int argc, char **argv);

#endif
