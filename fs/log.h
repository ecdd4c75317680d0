/* log.h - the daemon's log: stderr in the foreground, syslog when
 * detached. Levels are syslog's (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG).
 */
#ifndef CHRONOFS_FS_LOG_H
#define CHRONOFS_FS_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Where to log, and whether LOG_DEBUG lines are kept. */
void fs_log_setup(bool to_syslog, bool debug);
void fs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
