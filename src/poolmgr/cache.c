/*
 * hsd-cached under the pool manager: started and restarted from the
 * supervision table, given a channel to the listener whenever either
 * starts (the listener then drops its index: a new hsd-cached starts
 * empty, and a new listener never had one), the configuration on every
 * reload, and hsdctl's cache and purge requests, whose answers go back
 * to ctl.c.
 */
#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "poolmgr.h"
#include "proc.h"

int
cache_start(void)
{
	char	 gen[16];
	char	*argv[] = { "hsd-cached", "-g", gen, NULL, NULL };
	pid_t	 pid;
	int	 fd;

	snprintf(gen, sizeof(gen), "%u", penv->pe_cur->pf_gen);
	if ((fd = poolmgr_spawn("hsd-cached", argv, -1, &pid)) == -1)
		return -1;
	penv->pe_cached = poolmgr_child_new(PM_CACHED, 0, pid, fd);
	return 0;
}

/* The listener and hsd-cached get a channel of their own, whenever
 * either has (re)started and both are there. */
void
cache_connect(void)
{
	poolmgr_connect(penv->pe_listener, MSG_PM_CACHED, penv->pe_cached,
	    MSG_PM_CACHE_LISTENER);
}

/* Tell hsd-cached something; -1 if it is not there (restarting). */
int
cache_send(uint16_t type, uint32_t id, const void *data, size_t len, int fd)
{
	if (penv->pe_cached == NULL || penv->pe_cached->pc_chan == NULL)
		return -1;
	if (chan_send(penv->pe_cached->pc_chan, type, id, data, len,
	    fd) == -1) {
		log_warn("cache_send: message %u", type);
		return -1;
	}
	return 0;
}

void
cache_reload(uint32_t gen, int memfd)
{
	cache_send(MSG_PM_RELOAD, gen, NULL, 0, memfd);
}

void
cache_stop(void)
{
	if (penv->pe_cached == NULL || penv->pe_cached->pc_stop_sent)
		return;
	penv->pe_cached->pc_stop_sent = 1;
	cache_send(MSG_PM_SHUTDOWN, 0, NULL, 0, -1);
}

void
cache_dispatch(struct chan *ch, const struct msg_hdr *hdr, const void *data,
    int fd, void *arg)
{
	(void)ch;
	(void)arg;
	if (fd != -1)
		close(fd);
	switch (hdr->mh_type) {
	case MSG_CACHE_STATS:
		if (hdr->mh_len != sizeof(struct msg_cache_stats))
			break;
		ctl_cache_answer(hdr->mh_id, data, NULL);
		return;
	case MSG_CACHE_PURGED:
		if (hdr->mh_len != sizeof(struct msg_cache_purged))
			break;
		ctl_cache_answer(hdr->mh_id, NULL, data);
		return;
	default:
		break;
	}
	log_warnx("cache_dispatch: unexpected message type %u, %u bytes",
	    hdr->mh_type, hdr->mh_len);
}
