/*
 * conf_cacheable() (conf.h) until the cache section's parser defines it
 * in src/common/conf.c: the same rule, as a weak definition, so the
 * parser's takes its place as soon as it is linked in and this file can
 * then go.  Until then every cache field is 0 and nothing is cacheable.
 */
#include "config.h"

#include <stdint.h>

#include "conf.h"

__attribute__((weak)) int
conf_cacheable(const struct hsd_config *cf, const struct conf_site *st,
    int app)
{
	if (!cf->cf_cache.cc_enabled)
		return 0;
	if (app >= 0 && (uint32_t)app < st->st_napps &&
	    st->st_apps[app].ap_cache != -1)
		return st->st_apps[app].ap_cache;
	return st->st_cache;
}
