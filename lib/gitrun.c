/* gitrun.c - the git command as a child process, for sync (sync.c): the
 * user's environment (ssh agent, GIT_SSH_COMMAND, credential helpers) with
 * no terminal prompt, no descriptor of ours, and git's own housekeeping
 * off; its output collected, a silent child killed, a stop honoured. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gitrun.h"
#include "lib_int.h"
#include "banned.h"

/* A git child that is silent this long is stuck (a dead network with no
 * TCP reset): killed, the round fails and is retried later. */
#define GIT_IDLE_S 300
#define GIT_OUT_MAX (64u << 20)

extern char **environ;

void git_run_free(struct git_run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* The environment for git: the user's, without what would point git at
 * another repository, with no terminal prompt and the C locale (the
 * porcelain output is parsed). *out is the caller's (free() the array
 * only; the strings are environ's or static). */
static char **git_env(void)
{
	static const char *const drop[] = {
		"GIT_DIR=",
		"GIT_WORK_TREE=",
		"GIT_INDEX_FILE=",
		"GIT_OBJECT_DIRECTORY=",
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=",
		"GIT_NAMESPACE=",
		"GIT_TERMINAL_PROMPT=",
		"LC_ALL=",
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
	};
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	if (!(env = calloc(n + 3, sizeof(*env))))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool keep = true;

		for (size_t j = 0; j < sizeof(drop) / sizeof(*drop); j++)
			if (!strncmp(environ[i], drop[j], strlen(drop[j])))
				keep = false;
		if (keep)
			env[k++] = environ[i];
	}
	env[k++] = (char *)"GIT_TERMINAL_PROMPT=0";
	env[k++] = (char *)"LC_ALL=C";
	return env;
}

static int buf_add(char **b, size_t *len, const char *data, size_t n)
{
	char *g;

	if (*len + n + 1 > GIT_OUT_MAX)
		return 0; /* the rest is dropped; the status still counts */
	if (!(g = realloc(*b, *len + n + 1)))
		return -ENOMEM;
	memcpy(g + *len, data, n);
	*len += n;
	g[*len] = '\0';
	*b = g;
	return 0;
}

/* Run git ARGV[] (ARGV[0] "git", NULL-terminated) and collect its output.
 * 0 if it ran (R->status tells how it ended), else -errno. STOP: kill it
 * and return -ECANCELED. */
static int git_spawn(char *const argv[], const char *what,
		     const _Atomic bool *stop, struct git_run *r)
{
	posix_spawn_file_actions_t fa;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, err = 0, status;
	char **env = git_env();
	time_t idle_since = time(NULL);
	bool killed = false;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (!env)
		return lib_fail(-ENOMEM, "git");
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		err = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	/* Nothing of ours (the FUSE device, the index) goes to git. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	err = -posix_spawnp(&pid, "git", &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (err < 0) {
		store_fail(err, "cannot run git: %s", strerror(-err));
		goto out;
	}
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 },
				       { pe[0], POLLIN, 0 } };
		char buf[8192];
		int rc = poll(p, 2, 200);

		if (!killed && ((stop && atomic_load(stop)) ||
				time(NULL) - idle_since > GIT_IDLE_S)) {
			kill(pid, SIGTERM);
			killed = true;
			err = stop && atomic_load(stop) ? -ECANCELED :
							  -ETIMEDOUT;
		}
		if (rc < 0 && errno != EINTR)
			break;
		for (int i = 0; rc > 0 && i < 2; i++) {
			ssize_t n;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				p[i].fd = -1;
				close(i ? pe[0] : po[0]);
				if (i)
					pe[0] = -1;
				else
					po[0] = -1;
				open_fds--;
				continue;
			}
			idle_since = time(NULL);
			if (buf_add(i ? &r->err : &r->out,
				    i ? &r->errlen : &r->outlen, buf,
				    (size_t)n) < 0 &&
			    err == 0)
				err = -ENOMEM;
		}
		if (po[0] < 0 && pe[0] < 0)
			break;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) :
					128 + WTERMSIG(status);
	if (err == -ECANCELED)
		store_fail(err, "git %s: stopped", what);
	else if (err == -ETIMEDOUT)
		store_fail(err, "git %s: no answer for %d s", what, GIT_IDLE_S);
out:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	free(env);
	return err;
}

/* Git's own words on a failure: the last lines of its stderr, joined. */
const char *git_words(struct git_run *r)
{
	char *s = r->err;
	size_t n = r->errlen;
	int lines = 0;

	if (!s || !n)
		return r->status >= 128 ? "killed" : "failed (no message)";
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	/* Up to the last three lines. */
	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == '\n' && ++lines == 3) {
			s += i;
			break;
		}
	for (char *c = s; *c; c++)
		if (*c == '\n')
			*c = ' ';
	return s;
}

/* git -c ... [--git-dir=GITDIR] ARGS... (NULL-terminated): the options
 * keep git from doing the store's work (gc, maintenance: the store packs
 * itself). */
int git_run(const char *gitdir, const char *const *args,
	    const _Atomic bool *stop, struct git_run *r)
{
	size_t n = 0, k = 0;
	char *dir = NULL, **argv;
	int err;

	while (args[n])
		n++;
	if (!(argv = calloc(n + 8, sizeof(*argv))))
		return lib_fail(-ENOMEM, "git");
	argv[k++] = (char *)"git";
	argv[k++] = (char *)"-c";
	argv[k++] = (char *)"gc.auto=0";
	argv[k++] = (char *)"-c";
	argv[k++] = (char *)"maintenance.auto=false";
	if (gitdir && asprintf(&dir, "--git-dir=%s", gitdir) < 0) {
		free(argv);
		return lib_fail(-ENOMEM, "git");
	}
	if (dir)
		argv[k++] = dir;
	for (size_t i = 0; i < n; i++)
		argv[k++] = (char *)args[i];
	argv[k] = NULL;
	err = git_spawn(argv, args[0], stop, r);
	free(dir);
	free(argv);
	return err;
}
