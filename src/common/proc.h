/*
 * Process plumbing, the only place that calls socketpair() or fork():
 * channels are made here, children are spawned here with their channels on
 * fixed fds and exec'd from a clean image, and every child starts through
 * proc_child_start().
 */
#ifndef HSD_PROC_H
#define HSD_PROC_H

#include <sys/types.h>
#include <stdint.h>

struct hsd_config;
struct conf_ident;

/* Fixed fds in every child. */
#define PROC_FD_PARENT	3	/* channel to the pool manager */
#define PROC_FD_CONFIG	4	/* memfd: the config text the pool manager accepted */
#define PROC_FD_PEER	5	/* worker: channel to the listener; -1 elsewhere */

/* A SOCK_SEQPACKET socketpair, both ends close-on-exec. */
int	proc_channel(int fds[2]);

/* fork(), the child with its parent's signal handlers undone (see proc.c). */
pid_t	proc_fork(void);

/*
 * fork() and exec path with argv; fds[i] lands on fd 3 + i in the child
 * (nfds at most 3, an entry of -1 leaves that fd closed).  The child gets
 * SIGTERM when the pool manager dies.  Returns the pid, -1 on failure.
 */
pid_t	proc_spawn(const char *path, char *const argv[], const int *fds,
	    int nfds);

/* A memfd (sealed against writes) holding len bytes of data. */
int	proc_memfd(const char *name, const void *data, size_t len);

/*
 * In a child, right after exec: set up logging and signals, and load the
 * config from PROC_FD_CONFIG.  Exits if the pool manager is already gone.
 */
struct hsd_config *proc_child_start(const char *procname, int verbose);

/*
 * In a child, after proc_child_start() and before anything else: chroot
 * to dir (NULL: stay), become id and set no_new_privs.  Exits on any
 * failure.  Not started as root, only no_new_privs is set.  Returns dir
 * if the process is now chrooted there, NULL if it is not (no dir, not
 * root, or an AddressSanitizer build), so paths are opened accordingly.
 */
const char *proc_privdrop(const char *dir, const struct conf_ident *id);

/* The text in memfd fd (a configuration), NUL-terminated; NULL if it
 * cannot be read (logged).  fd stays open. */
char	*proc_read_config(int fd);

/* A decimal number from a command line: 0, or -1 if s is not one. */
int	proc_parse_u32(const char *s, uint32_t *v);

#endif
