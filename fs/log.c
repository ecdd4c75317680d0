/* log.c - one log line per event, with a level word tests can scan for. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static bool use_syslog;
static bool keep_debug;

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

	if (level >= LOG_DEBUG && !keep_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (use_syslog)
		syslog(level, "%s", line);
	else
		fprintf(stderr, "chronofs: %s: %s\n", level_word(level), line);
}
