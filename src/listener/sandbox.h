/*
 * The listener's seccomp filter: after start-up the listener may make only
 * the system calls its client, queue and send paths need.  Any other one
 * is trapped, logged with its number and kills the listener with SIGSYS.
 */
#ifndef HSD_SANDBOX_H
#define HSD_SANDBOX_H

/*
 * Install the filter for the rest of the process's life; call it last,
 * right before the event loop.  Exits on failure.  Built with
 * --disable-seccomp, it logs that there is no filter and returns.
 */
void	sandbox_listener(void);

/* 1 if this build has the filter, 0 if it was configured out. */
int	sandbox_available(void);

#endif
