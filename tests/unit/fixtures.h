/*
 * What the unit test files share: the suites the runner collects, a
 * scratch directory tree for configs to point at, capture of stderr (where
 * log.c writes) so a test can check what was logged, and an event loop
 * runner that waits for a condition with a deadline instead of sleeping.
 * Everything is static inline so each test file takes only what it uses.
 */
#ifndef HSD_TEST_FIXTURES_H
#define HSD_TEST_FIXTURES_H

#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

Suite	*suite_chan(void);
Suite	*suite_conf(void);
Suite	*suite_head(void);
Suite	*suite_httpdate(void);
Suite	*suite_sandbox(void);
Suite	*suite_uri(void);
/* hsd-cached's (src/cached). */
Suite	*suite_admit(void);
Suite	*suite_purge(void);
Suite	*suite_store(void);

/* Scratch tree: DIR/www/, DIR/api/, DIR/file, DIR/link -> www. */
static char fx_dir[PATH_MAX];

static inline void
fx_write_file(const char *path, const char *text)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		abort();
	}
	fputs(text, fp);
	if (fclose(fp) != 0) {
		perror(path);
		abort();
	}
}

static inline void
fx_tree_setup(void)
{
	char	path[PATH_MAX + 32];

	snprintf(fx_dir, sizeof(fx_dir), "/tmp/hsd-unit-XXXXXX");
	if (mkdtemp(fx_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/www", fx_dir);
	if (mkdir(path, 0755) == -1)
		abort();
	snprintf(path, sizeof(path), "%s/api", fx_dir);
	if (mkdir(path, 0755) == -1)
		abort();
	snprintf(path, sizeof(path), "%s/file", fx_dir);
	fx_write_file(path, "not a directory\n");
	snprintf(path, sizeof(path), "%s/link", fx_dir);
	if (symlink("www", path) == -1)
		abort();
}

static inline void
fx_tree_teardown(void)
{
	char	path[PATH_MAX + 32];

	if (fx_dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/link", fx_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/file", fx_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.conf", fx_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/www", fx_dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/api", fx_dir);
	rmdir(path);
	rmdir(fx_dir);
}

/* tmpl with every '@' replaced by the scratch directory; free() it. */
static inline char *
fx_subst(const char *tmpl)
{
	size_t		 n = 0, dl = strlen(fx_dir);
	const char	*p;
	char		*out, *o;

	for (p = tmpl; *p; p++)
		n += *p == '@' ? dl : 1;
	if ((out = malloc(n + 1)) == NULL)
		abort();
	for (p = tmpl, o = out; *p; p++) {
		if (*p == '@') {
			memcpy(o, fx_dir, dl);
			o += dl;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* stderr capture: everything written to fd 2 in between is returned. */
static int	fx_saved_stderr = -1;
static FILE	*fx_capture_fp;

static inline void
fx_capture_start(void)
{
	fflush(stderr);
	if ((fx_capture_fp = tmpfile()) == NULL ||
	    (fx_saved_stderr = dup(STDERR_FILENO)) == -1 ||
	    dup2(fileno(fx_capture_fp), STDERR_FILENO) == -1) {
		perror("fx_capture_start");
		abort();
	}
}

static inline char *
fx_capture_end(void)
{
	long	 len;
	char	*text;

	fflush(stderr);
	dup2(fx_saved_stderr, STDERR_FILENO);
	close(fx_saved_stderr);
	fx_saved_stderr = -1;
	fseek(fx_capture_fp, 0, SEEK_END);
	len = ftell(fx_capture_fp);
	rewind(fx_capture_fp);
	if ((text = calloc(1, len + 1)) == NULL)
		abort();
	if (len > 0 && fread(text, 1, len, fx_capture_fp) != (size_t)len)
		abort();
	fclose(fx_capture_fp);
	fx_capture_fp = NULL;
	/* Let the captured lines show in the test's own output too. */
	fputs(text, stderr);
	return text;
}

static inline int
fx_count_str(const char *hay, const char *needle)
{
	int	n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static inline int
fx_count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static inline long long
fx_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run the loop until cond(arg) holds; 0 then, -1 after timeout_ms.
 * Each round is bounded so a condition that never comes cannot hang.
 */
static inline int
fx_run_until(struct event_base *base, int (*cond)(void *), void *arg,
    int timeout_ms)
{
	struct timeval	tv = { 0, 20 * 1000 };
	long long	deadline = fx_now_ms() + timeout_ms;

	while (!cond(arg)) {
		if (fx_now_ms() > deadline)
			return -1;
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return 0;
}

/* Run the loop for about ms milliseconds: for "nothing else happens". */
static inline void
fx_run_for(struct event_base *base, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

#endif
