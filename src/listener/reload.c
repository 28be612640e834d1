/*
 * A reload, the listener's part: the pool manager has checked the new
 * configuration and sends its text (MSG_PM_RELOAD); the listener makes
 * it current without dropping a connection or a request.
 *
 * Pools are matched by name: one the new configuration keeps keeps its
 * queue and workers (at a new index, perhaps); the workers of one it
 * removes finish what they hold in le_gone, which dispatches nothing.
 * Every request the listener holds -- parked, or at a worker -- is routed
 * again by the new configuration, as if it had arrived now.
 *
 * Workers run with the configuration they were started with, and a
 * handoff names the site and application by index in the worker's own:
 * so each older configuration a worker still runs is kept, with a map
 * from the current site indices to its own.  A site it does not know as
 * the current configuration routes it (another name, pool or set of
 * applications) maps to -1, and its requests wait for the pool's new
 * workers; the pool manager recycles the workers of every pool whose
 * sites or settings changed.  Roots are not compared here (the text is
 * parsed without the filesystem; see CONF_LOAD_NOFS): an old worker still
 * serving through an overlapped recycle serves its old root, as an old
 * IIS worker process does.
 */
#include "config.h"

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "logrec.h"
#include "msg.h"
#include "proc.h"

struct lsn_gen *
reload_gen_new(uint32_t gen, struct hsd_config *conf)
{
	struct lsn_gen	*g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->lg_gen = gen;
	g->lg_conf = conf;
	TAILQ_INSERT_TAIL(&lenv->le_gens, g, lg_entry);
	return g;
}

static void
reload_gen_free(struct lsn_gen *g)
{
	TAILQ_REMOVE(&lenv->le_gens, g, lg_entry);
	conf_free(g->lg_conf);
	free(g->lg_site_map);
	free(g);
}

/* A worker started with g is gone. */
void
reload_gen_unref(struct lsn_gen *g)
{
	if (--g->lg_refs == 0 && g != lenv->le_gen)
		reload_gen_free(g);
}

/* g's map from the current configuration's site indices to its own. */
static int
reload_map(struct lsn_gen *g, const struct hsd_config *cur)
{
	int32_t		*map;
	uint32_t	 i;
	int		 k;

	if ((map = calloc(cur->cf_nsites ? cur->cf_nsites : 1,
	    sizeof(*map))) == NULL)
		return -1;
	for (i = 0; i < cur->cf_nsites; i++) {
		k = conf_find_site(g->lg_conf, cur->cf_sites[i].st_name);
		map[i] = k >= 0 && conf_site_routes_same(cur, i, g->lg_conf,
		    k) ? k : -1;
	}
	free(g->lg_site_map);
	g->lg_site_map = map;
	return 0;
}

/*
 * Configuration gen, whose text is in memfd fd, is now the pool
 * manager's.  There is no going back: the pool manager's indices are the
 * new ones already, so a listener that cannot follow exits, and the pool
 * manager starts one with the new configuration.
 */
void
reload_apply(uint32_t gen, int fd)
{
	struct hsd_config	*cf, *old = lenv->le_conf;
	struct lsn_pool		**pools, *pl;
	struct lsn_worker	*w;
	struct lsn_gen		*g, *prev = lenv->le_gen, *next;
	struct conn_list	 parked;
	struct conn		*c;
	char			*text;
	uint32_t		 i;
	int			 k;

	text = proc_read_config(fd);
	close(fd);
	if (text == NULL ||
	    conf_load_text(text, "(reload from hsd-poolmgr)", CONF_LOAD_NOFS,
	    &cf) == -1)
		fatalx("reload_apply: cannot take configuration %u", gen);
	free(text);
	if ((g = reload_gen_new(gen, cf)) == NULL ||
	    (pools = calloc(cf->cf_npools, sizeof(*pools))) == NULL)
		fatalx("reload_apply: out of memory");
	/* Older configurations still running map to the new one. */
	TAILQ_FOREACH(next, &lenv->le_gens, lg_entry)
		if (next != g && reload_map(next, cf) == -1)
			fatalx("reload_apply: out of memory");

	/* Every parked request, in its pool's order, to be routed again. */
	TAILQ_INIT(&parked);
	for (i = 0; i < lenv->le_npools; i++) {
		pl = lenv->le_pools[i];
		while ((c = TAILQ_FIRST(&pl->pl_queue)) != NULL) {
			TAILQ_REMOVE(&pl->pl_queue, c, cn_qentry);
			TAILQ_INSERT_TAIL(&parked, c, cn_qentry);
		}
		pl->pl_queued = 0;
		pl->pl_demanded = 0;
		if ((k = conf_pool_index(cf, old->cf_pools[i].pl_name)) >= 0) {
			pl->pl_index = k;
			pools[k] = pl;
			continue;
		}
		/* Removed: its workers finish what they hold. */
		while ((w = TAILQ_FIRST(&pl->pl_workers)) != NULL) {
			TAILQ_REMOVE(&pl->pl_workers, w, wk_entry);
			w->wk_pool = lenv->le_gone;
			TAILQ_INSERT_TAIL(&lenv->le_gone->pl_workers, w,
			    wk_entry);
		}
		queue_pool_free(pl);
	}
	for (i = 0; i < cf->cf_npools; i++)
		if (pools[i] == NULL && (pools[i] = queue_pool_new(i)) == NULL)
			fatalx("reload_apply: out of memory");
	free(lenv->le_pools);
	lenv->le_pools = pools;
	lenv->le_npools = cf->cf_npools;
	lenv->le_conf = cf;
	lenv->le_gen = g;
	/* Entries were made under the old one (hsd-cached drops its own). */
	cache_flush();
	if (prev->lg_refs == 0)
		reload_gen_free(prev);
	listener_timeouts();
	log_info("reload_apply: configuration %u: %u pools, %u sites", gen,
	    cf->cf_npools, cf->cf_nsites);

	/* Requests at workers: where they would go now if handed on. */
	TAILQ_FOREACH(c, &lenv->le_conns, cn_entry)
		if (c->cn_state == CN_WORKER && conn_route(c) == -1)
			c->cn_site = UINT32_MAX;
	/* Parked ones: into their pools' queues as if they came now. */
	while ((c = TAILQ_FIRST(&parked)) != NULL) {
		TAILQ_REMOVE(&parked, c, cn_qentry);
		c->cn_state = CN_READING;
		if (conn_route(c) == -1) {
			log_info("reload_apply: connection %u: no site takes "
			    "its request now; 400", c->cn_id);
			conn_fail(c, 400, HE_HOSTNAME);
			continue;
		}
		queue_park(lenv->le_pools[c->cn_pool], c, 0);
	}
	conn_listen_prune();
	for (i = 0; i < lenv->le_npools; i++) {
		queue_run(lenv->le_pools[i]);
		queue_demand(lenv->le_pools[i]);
	}
	/* hsdctl reload answers once this is so. */
	if (chan_send(lenv->le_parent, MSG_LSN_RELOADED, gen, NULL, 0,
	    -1) == -1)
		log_warn("reload_apply: telling the pool manager");
}
