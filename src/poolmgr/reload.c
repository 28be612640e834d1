/*
 * Reload (hsdctl reload, SIGHUP): the file the server was started with is
 * read again and, if it passes every check hsd-poolmgr makes at start,
 * made current without dropping a connection or a request in flight.
 *
 * Nothing changes until everything that can fail has been done: the file
 * parsed and checked, keys only a restart can change compared, new
 * listening addresses bound.  Then the listener is sent the new text
 * (MSG_PM_RELOAD, ahead of anything that refers to it), and:
 *
 *	bindings	new addresses are listened on; ones no longer named
 *			are closed (the listener closes their connections
 *			at a request boundary)
 *	pools		matched by name.  Added ones start as their start key
 *			says; removed ones have their workers retired (they
 *			finish what they hold); a pool whose own keys, sites
 *			(roots, prefixes, max_body_size) or the limits
 *			changed has each of its workers recycled,
 *			overlapped, so the new ones run the new
 *			configuration.  A pool keeps its state (stopped,
 *			offline) and its rapid-fail count.
 *	FastCGI		groups of processes whose settings or socket
 *			changed, or that are gone, are stopped, new ones
 *			started; the others run on (fastcgi.c).
 *
 * A worker keeps the configuration it was started with (struct pm_conf);
 * one of a pool that did not change serves on under it.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "poolmgr.h"
#include "proc.h"

static struct pm_conf *
reload_conf_new(uint32_t gen, struct hsd_config *cf)
{
	struct pm_conf	*pf;

	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		fatal("reload_conf_new: calloc");
	pf->pf_gen = gen;
	pf->pf_conf = cf;
	TAILQ_INSERT_TAIL(&penv->pe_confs, pf, pf_entry);
	return pf;
}

static void
reload_conf_free(struct pm_conf *pf)
{
	TAILQ_REMOVE(&penv->pe_confs, pf, pf_entry);
	conf_free(pf->pf_conf);
	free(pf);
}

void
reload_init(void)
{
	TAILQ_INIT(&penv->pe_confs);
	penv->pe_cur = reload_conf_new(1, penv->pe_conf);
}

/* A worker started with pf is gone. */
void
reload_conf_unref(struct pm_conf *pf)
{
	if (--pf->pf_refs == 0 && pf != penv->pe_cur)
		reload_conf_free(pf);
}

/* Whether worker c runs pool k of the current configuration as it is. */
static int
reload_worker_current(const struct pm_child *c, uint32_t k)
{
	const struct hsd_config	*wc = c->pc_cfg->pf_conf;
	int			 i;

	if (c->pc_cfg == penv->pe_cur)
		return 1;
	i = conf_pool_index(wc, c->pc_cp->pl_name);
	return i >= 0 && conf_pool_same(wc, i, penv->pe_conf, k);
}

/*
 * Listening sockets for cf: the ones held now for addresses it keeps,
 * new ones for the rest.  NULL, with what failed in err, if one cannot
 * be bound; nothing held now is touched.
 */
static int *
reload_bind(const struct hsd_config *cf, char *err, size_t errlen)
{
	const struct hsd_config	*old = penv->pe_conf;
	int			*fds;
	uint32_t		 i, j;
	int			 k;

	if ((fds = calloc(cf->cf_nlistens ? cf->cf_nlistens : 1,
	    sizeof(*fds))) == NULL) {
		snprintf(err, errlen, "out of memory\n");
		return NULL;
	}
	for (i = 0; i < cf->cf_nlistens; i++) {
		k = conf_find_listen(old, (const struct sockaddr *)
		    &cf->cf_listens[i].ls_addr);
		if (k >= 0) {
			fds[i] = penv->pe_listen_fds[k];
			continue;
		}
		log_capture(err, errlen);
		fds[i] = poolmgr_bind_one(&cf->cf_listens[i]);
		log_capture(NULL, 0);
		if (fds[i] != -1)
			continue;
		for (j = 0; j < i; j++)
			if (conf_find_listen(old, (const struct sockaddr *)
			    &cf->cf_listens[j].ls_addr) < 0)
				close(fds[j]);
		free(fds);
		return NULL;
	}
	return fds;
}

/* The listener learns the new configuration, then its new sockets. */
static void
reload_tell_listener(const struct hsd_config *old, uint32_t gen, int memfd,
    const int *fds, FILE *rep)
{
	const struct hsd_config	*cf = penv->pe_conf;
	struct msg_listen	 ml;
	struct chan		*ch;
	char			 text[80];
	uint32_t		 i;
	int			 fresh;

	ch = penv->pe_listener != NULL ? penv->pe_listener->pc_chan : NULL;
	if (ch != NULL && chan_send(ch, MSG_PM_RELOAD, gen, NULL, 0,
	    memfd) == -1) {
		/* It cannot follow: the next one starts with it. */
		log_warn("reload: telling the listener; restarting it");
		kill(penv->pe_listener->pc_pid, SIGKILL);
		ch = NULL;
	}
	for (i = 0; i < cf->cf_nlistens; i++) {
		fresh = conf_find_listen(old, (const struct sockaddr *)
		    &cf->cf_listens[i].ls_addr) < 0;
		if (!fresh)
			continue;
		poolmgr_addr_text(&cf->cf_listens[i], text, sizeof(text));
		fprintf(rep, "listening on %s\n", text);
		memset(&ml, 0, sizeof(ml));
		ml.ml_index = i;
		if (ch != NULL && chan_send(ch, MSG_PM_LISTEN_SOCK, 0, &ml,
		    sizeof(ml), fds[i]) == -1)
			log_warn("reload: passing a listening socket");
	}
	for (i = 0; i < old->cf_nlistens; i++) {
		if (conf_find_listen(cf, (const struct sockaddr *)
		    &old->cf_listens[i].ls_addr) >= 0)
			continue;
		poolmgr_addr_text(&old->cf_listens[i], text, sizeof(text));
		fprintf(rep, "no longer listening on %s\n", text);
	}
}

/*
 * The workers a pool wants under its new settings; those above it are
 * retired, ones without a replacement on its way first.
 */
static void
reload_pool_size(uint32_t k)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[k];
	struct pm_pool		*pp = &penv->pe_pools[k];
	struct pm_child		*c, *pick;

	if (cp->pl_start_always && (!penv->pe_conf->cf_shared ||
	    strcmp(cp->pl_name, "default") == 0))
		pp->pp_wanted = cp->pl_workers;
	else if (pp->pp_wanted > 0)
		pp->pp_wanted = cp->pl_workers;
	while (pp->pp_running > pp->pp_wanted) {
		pick = NULL;
		TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
			if (c->pc_kind != PM_WORKER || c->pc_pool != k ||
			    c->pc_retiring || c->pc_replaces != NULL)
				continue;
			if (pick == NULL || (pick->pc_replacement != NULL &&
			    c->pc_replacement == NULL))
				pick = c;
		}
		if (pick == NULL)
			break;
		/* Retiring a worker hands its place to its replacement. */
		if (pick->pc_replacement != NULL)
			pool_retire(pick->pc_replacement, "fewer workers");
		pool_retire(pick, "fewer workers (reload)");
	}
}

/* Pool k of the new configuration, kept: its workers that do not run it
 * as it is now are replaced, overlapped. */
static void
reload_pool_changed(uint32_t k, uint32_t gen)
{
	struct pm_child	*c, *next;

	/* Replacements that were starting with an old configuration, and
	 * workers not ready yet, take no request: just replace them. */
	for (c = TAILQ_FIRST(&penv->pe_children); c != NULL; c = next) {
		next = TAILQ_NEXT(c, pc_entry);
		if (c->pc_kind != PM_WORKER || c->pc_pool != k ||
		    c->pc_retiring || c->pc_ready ||
		    reload_worker_current(c, k))
			continue;
		pool_retire(c, "its configuration was replaced before it was "
		    "ready");
	}
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
		if (c->pc_kind != PM_WORKER || c->pc_pool != k ||
		    c->pc_retiring || !c->pc_ready || c->pc_replaces != NULL ||
		    reload_worker_current(c, k))
			continue;
		pool_recycle(c, "configuration %u", gen);
	}
}

/* Each pool added or changed: its workers follow, and rep says so. */
static void
reload_report_pools(const struct hsd_config *old, const int *newidx,
    uint32_t gen, FILE *rep)
{
	const struct hsd_config	*cf = penv->pe_conf;
	uint32_t		 j, k;
	int			 o;

	for (k = 0; k < cf->cf_npools; k++) {
		for (j = 0; j < old->cf_npools && newidx[j] != (int)k; j++)
			;
		o = j < old->cf_npools ? (int)j : -1;
		if (o == -1) {
			fprintf(rep, "pool %s: added\n", cf->cf_pools[k].pl_name);
			continue;
		}
		reload_pool_size(k);
		/* Workers of an older configuration still being recycled are
		 * recycled on, without a word: the file changed nothing. */
		reload_pool_changed(k, gen);
		if (!conf_pool_same(old, o, cf, k))
			fprintf(rep, "pool %s: changed; its workers are "
			    "recycled\n", cf->cf_pools[k].pl_name);
	}
}

int
reload_run(char **report, char *err, size_t errlen)
{
	const char		*path = penv->pe_conf_path, *key;
	struct hsd_config	*cf = NULL, *old = penv->pe_conf;
	struct pm_conf		*prev = penv->pe_cur;
	FILE			*rep;
	char			*text = NULL, *detail = NULL, *line, *nl;
	size_t			 replen;
	int			*fds = NULL, *newidx = NULL, memfd = -1, ok;
	uint32_t		 i, j, gen;

	*report = NULL;
	if ((detail = malloc(errlen)) == NULL) {
		snprintf(err, errlen, "out of memory\n");
		return -1;
	}
	log_capture(detail, errlen);
	ok = (text = poolmgr_read_file(path)) != NULL &&
	    conf_load_buf(text, path, &cf) == 0 &&
	    poolmgr_check_conf(cf, path) == 0;
	log_capture(NULL, 0);
	if (!ok) {
		log_warnx("reload: %s is not valid; the running configuration "
		    "stays", path);
		snprintf(err, errlen, "%s is not valid; the running "
		    "configuration stays\n%s", path, detail);
		goto fail;
	}
	if ((key = conf_restart_key(old, cf)) != NULL) {
		log_warnx("reload: %s: %s changed, and only a restart applies "
		    "it; the running configuration stays", path, key);
		snprintf(err, errlen, "%s: %s changed, and only a restart "
		    "applies it (hsdctl stop-server, then start hsd-poolmgr "
		    "again); the running configuration stays\n", path, key);
		goto fail;
	}
	if ((fds = reload_bind(cf, detail, errlen)) == NULL) {
		if ((nl = strchr(detail, '\n')) != NULL)
			*nl = '\0';
		log_warnx("reload: %s; the running configuration stays",
		    detail);
		snprintf(err, errlen, "%s; the running configuration stays\n",
		    detail);
		goto fail;
	}
	if ((memfd = proc_memfd("hsd.conf", text, strlen(text))) == -1 ||
	    (newidx = calloc(old->cf_npools, sizeof(*newidx))) == NULL ||
	    (rep = open_memstream(report, &replen)) == NULL) {
		snprintf(err, errlen, "out of memory or fds; the running "
		    "configuration stays\n");
		for (i = 0; i < cf->cf_nlistens; i++)
			if (conf_find_listen(old, (const struct sockaddr *)
			    &cf->cf_listens[i].ls_addr) < 0)
				close(fds[i]);
		goto fail;
	}
	free(text);
	free(detail);

	/* From here on there is no going back. */
	gen = prev->pf_gen + 1;
	fprintf(rep, "reloaded %s (configuration %u)\n", path, gen);
	for (j = 0; j < old->cf_npools; j++)
		newidx[j] = conf_pool_index(cf, old->cf_pools[j].pl_name);
	/* Removed pools first, with the old indices: their workers get no
	 * more requests and finish what they hold. */
	for (j = 0; j < old->cf_npools; j++) {
		if (newidx[j] >= 0)
			continue;
		fprintf(rep, "pool %s: removed; its workers finish what they "
		    "have\n", old->cf_pools[j].pl_name);
		pool_remove(j);
	}
	penv->pe_cur = reload_conf_new(gen, cf);
	penv->pe_conf = cf;
	close(penv->pe_conf_fd);
	penv->pe_conf_fd = memfd;
	for (i = 0; i < old->cf_nlistens; i++)
		if (conf_find_listen(cf, (const struct sockaddr *)
		    &old->cf_listens[i].ls_addr) < 0)
			close(penv->pe_listen_fds[i]);
	free(penv->pe_listen_fds);
	penv->pe_listen_fds = fds;
	reload_tell_listener(old, gen, memfd, fds, rep);
	logger_reload(gen, memfd);
	cache_reload(gen, memfd);
	pool_reindex(old, newidx);
	reload_report_pools(old, newidx, gen, rep);
	fastcgi_reload(rep);
	pool_send_states();
	for (i = 0; i < cf->cf_npools; i++)
		pool_fill(i);
	if (prev->pf_refs == 0)
		reload_conf_free(prev);
	free(newidx);
	fclose(rep);
	/* The log says what hsdctl is told. */
	for (line = *report; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		log_info("reload: %.*s", (int)(nl - line), line);
	}
	return 0;
fail:
	*report = NULL;
	free(text);
	free(detail);
	free(fds);
	free(newidx);
	if (memfd != -1)
		close(memfd);
	conf_free(cf);
	return -1;
}
