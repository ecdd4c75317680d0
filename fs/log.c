/* log.c - one log line per event, with a level word tests can scan for,
 * and the recent warnings and errors kept in a ring for MNT/@log (a
 * detached daemon's syslog may go nowhere: a container often has none). */
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

#define SYSLOG_RECHECK_S 10
#define LINE_MAX_LEN 2048

static bool use_syslog;
static bool keep_debug;
static char *log_path; /* logfile, or NULL */
static int log_fd = -1; /* appended, by whole lines */
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;

/* One entry of MNT/@log. */
struct ring_entry {
	struct timespec time;
	int level;
	int err; /* positive errno, 0 for none */
	char *op, *path, *msg;
};

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ring_entry ring[FS_LOG_RING];
static size_t ring_next, ring_count; /* guarded by ring_lock */

/* Is there a syslog socket to send to? glibc tries to connect again at
 * every line while there is none (a container without a syslog daemon):
 * three system calls per save, for nothing. Looked at once in a while. */
bool fs_log_syslog_there(void)
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

int fs_log_to_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -1;
	pthread_mutex_lock(&file_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	free(log_path);
	log_path = strdup(path);
	pthread_mutex_unlock(&file_lock);
	return 0;
}

/* One line to the file, with its time; a full file starts anew. */
static void file_line(const char *level, const char *line)
{
	char buf[LINE_MAX_LEN + 96], when[32];
	struct timespec now;
	struct stat st;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(buf, sizeof(buf), "%s chronofs[%d]: %s: %s\n", when,
		     (int)getpid(), level, line);
	if (n < 0)
		return;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	pthread_mutex_lock(&file_lock);
	if (log_path && fstat(log_fd, &st) == 0 &&
	    st.st_size > FS_LOG_FILE_MAX) {
		char old[4200];
		int fd;

		snprintf(old, sizeof(old), "%s.1", log_path);
		rename(log_path, old);
		fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  0640);
		if (fd >= 0) {
			close(log_fd);
			log_fd = fd;
		}
	}
	if (write(log_fd, buf, (size_t)n) < 0) {
		/* A log that cannot be written is not logged about. */
	}
	pthread_mutex_unlock(&file_lock);
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

static void emit(int level, const char *line)
{
	if (log_fd >= 0) {
		file_line(level_word(level), line);
	} else if (use_syslog) {
		if (fs_log_syslog_there())
			syslog(level, "%s", line);
	} else {
		fprintf(stderr, "chronofs: %s: %s\n", level_word(level), line);
	}
}

/* Keep one entry; the oldest goes when the ring is full. */
static void ring_add(int level, const char *op, const char *path, int err,
		     const char *msg)
{
	struct ring_entry e = { .level = level, .err = err < 0 ? -err : err };

	clock_gettime(CLOCK_REALTIME, &e.time);
	e.op = strdup(op ? op : "");
	e.path = path ? strdup(path) : NULL;
	e.msg = strdup(msg);
	if (!e.op || (path && !e.path) || !e.msg) {
		free(e.op);
		free(e.path);
		free(e.msg);
		return;
	}
	pthread_mutex_lock(&ring_lock);
	free(ring[ring_next].op);
	free(ring[ring_next].path);
	free(ring[ring_next].msg);
	ring[ring_next] = e;
	ring_next = (ring_next + 1) % FS_LOG_RING;
	if (ring_count < FS_LOG_RING)
		ring_count++;
	pthread_mutex_unlock(&ring_lock);
}

void fs_log(int level, const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	va_list ap;

	if (level >= LOG_DEBUG && !keep_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	emit(level, line);
	if (level <= LOG_WARNING)
		ring_add(level, NULL, NULL, 0, line);
}

void fs_log_op(int level, const char *op, const char *path, int err,
	       const char *fmt, ...)
{
	char msg[LINE_MAX_LEN], line[LINE_MAX_LEN + 512];
	va_list ap;

	if (level >= LOG_DEBUG && !keep_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s: %s", path, msg);
	emit(level, line);
	if (level <= LOG_WARNING)
		ring_add(level, op, path, err, msg);
}

/* S as a JSON string: control characters escaped, bytes that are not
 * UTF-8 (a name can hold any) as U+FFFD. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		size_t n = 0;

		if (*p < 0x80) {
			if (*p == '"' || *p == '\\')
				fprintf(f, "\\%c", *p);
			else if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 3;
		for (size_t i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		/* No overlong forms, surrogates or code points past U+10FFFF. */
		if ((n == 2 && *p == 0xe0 && p[1] < 0xa0) ||
		    (n == 2 && *p == 0xed && p[1] > 0x9f) ||
		    (n == 3 && *p == 0xf0 && p[1] < 0x90) ||
		    (n == 3 && *p == 0xf4 && p[1] > 0x8f))
			n = 0;
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		fwrite(p, 1, n + 1, f);
		p += n + 1;
	}
	fputc('"', f);
}

static void entry_json(FILE *f, const struct ring_entry *e)
{
	struct tm tm;
	char when[32];
	const char *name = e->err ? strerrorname_np(e->err) : NULL;

	gmtime_r(&e->time.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"path\":", when,
		e->time.tv_nsec / 1000000, level_word(e->level));
	if (e->path)
		json_str(f, e->path);
	else
		fputs("null", f);
	fputs(",\"operation\":", f);
	json_str(f, e->op);
	fprintf(f, ",\"errno\":%d,\"error\":", e->err);
	if (name)
		json_str(f, name);
	else
		fputs("null", f);
	fputs(",\"message\":", f);
	json_str(f, e->msg);
	fputs("}\n", f);
}

int fs_log_ring_json(char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);
	int err = 0;

	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&ring_lock);
	for (size_t i = 0; i < ring_count; i++)
		entry_json(f, &ring[(ring_next + FS_LOG_RING - ring_count + i) %
				    FS_LOG_RING]);
	pthread_mutex_unlock(&ring_lock);
	if (ferror(f))
		err = -ENOMEM;
	if (fclose(f) != 0 && err == 0)
		err = -ENOMEM;
	if (err < 0) {
		free(*out);
		*out = NULL;
	}
	return err;
}

void fs_log_ring_stat(size_t *len, time_t *newest)
{
	char *buf = NULL;

	*len = 0;
	*newest = 0;
	if (fs_log_ring_json(&buf, len) < 0)
		*len = 0;
	free(buf);
	pthread_mutex_lock(&ring_lock);
	if (ring_count)
		*newest = ring[(ring_next + FS_LOG_RING - 1) % FS_LOG_RING]
				  .time.tv_sec;
	pthread_mutex_unlock(&ring_lock);
}
