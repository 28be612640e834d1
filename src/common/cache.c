#include "config.h"

#include "cache.h"

const char *const cache_reason_names[CR_NREASONS] = {
	[CR_METHOD] = "method",
	[CR_QUERY] = "query",
	[CR_AUTH] = "authorization",
	[CR_COOKIE] = "cookie",
	[CR_RANGE] = "range",
	[CR_OFF] = "off",
	[CR_STATUS] = "status",
	[CR_SIZE] = "size",
	[CR_HEAD_SIZE] = "header_size",
	[CR_NO_STORE] = "no_store",
	[CR_SET_COOKIE] = "set_cookie",
	[CR_VARY] = "vary",
	[CR_EXPIRED] = "expired",
	[CR_ACTIVITY] = "activity",
	[CR_MEMORY] = "memory",
	[CR_CHANGED] = "changed",
	[CR_INVALID] = "invalid",
};
