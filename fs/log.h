/* log.h - the daemon's log: stderr in the foreground, syslog when
 * detached, and the recent warnings and errors in memory for MNT/@log.
 * Levels are syslog's (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
 */
#ifndef CHRONOFS_FS_LOG_H
#define CHRONOFS_FS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>
#include <time.h>

/* Where to log, and whether LOG_DEBUG lines are kept. */
void fs_log_setup(bool to_syslog, bool debug);
/* From now on to the file PATH instead (appended; past FS_LOG_FILE_MAX
 * it is renamed PATH.1 and begun anew). -1 with errno if it cannot be
 * opened. */
#define FS_LOG_FILE_MAX (8 << 20)
int fs_log_to_file(const char *path);
/* Is there a syslog socket to send to? */
bool fs_log_syslog_there(void);
/* A line that concerns no one path (startup, the mount itself). */
void fs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* What operation OP on PATH (the mount path, BRANCH/PATH) did, or why it
 * failed with ERR (a positive or negative errno, 0 for none): one line
 * "PATH: MESSAGE", and at LOG_WARNING and above one entry of the ring
 * MNT/@log reads. */
void fs_log_op(int level, const char *op, const char *path, int err,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Entries kept for MNT/@log: the newest this many. */
#define FS_LOG_RING 256
/* The ring as JSON lines, oldest first: {"time", "level", "path",
 * "operation", "errno", "error", "message"}. *out is the caller's. */
int fs_log_ring_json(char **out, size_t *len);
/* The size fs_log_ring_json() would give now, and the time of the newest
 * entry (0 if none). */
void fs_log_ring_stat(size_t *len, time_t *newest);

#endif
