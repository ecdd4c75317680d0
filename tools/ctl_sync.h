/* ctl_sync.h - chronofsctl's sync commands (ctl_sync.c): clone and sync,
 * each returning the exit status (0 ok, 1 failure, -1 usage). */
#ifndef CHRONOFS_CTL_SYNC_H
#define CHRONOFS_CTL_SYNC_H

int ctl_clone(int argc, char **argv);
int ctl_sync(int argc, char **argv);

#endif
