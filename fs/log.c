/* log.c - one log line per event, with a level word tests can scan for. */
#include <paths.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

#define SYSLOG_RECHECK_S 10

static bool use_syslog;
static bool keep_debug;

/* Is there a syslog socket to send to? glibc tries to connect again at
 * every line while there is none (a container without a syslog daemon):
 * three system calls per save, for nothing. Looked at once in a while. */
static bool syslog_there(void)
{
	static _Atomic long checked = -1;
	static atomic_bool there;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (checked < 0 || now.tv_sec - checked >= SYSLOG_RECHECK_S) {
		there = access(_PATH_LOG, W_OK) == 0;
		checked = now.tv_sec;
	}
	return there;
}

void fs_log_setup(bool to_syslog, bool debug)
{
	if (to_syslog && !use_syslog)
		openlog("chronofs", LOG_PID, LOG_DAEMON);
	use_syslog = to_syslog;
	keep_debug = debug;
}

static const char *level_word(int level)
{
	switch (level) {
	case LOG_ERR:
		return "ERROR";
	case LOG_WARNING:
		return "WARNING";
	case LOG_INFO:
		return "INFO";
	default:
		return "DEBUG";
	}
}

void fs_log(int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if ((level >= LOG_DEBUG && !keep_debug) ||
	    (use_syslog && !syslog_there()))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (use_syslog)
		syslog(level, "%s", line);
	else
		fprintf(stderr, "chronofs: %s: %s\n", level_word(level), line);
}
