/*
 * What the response cache's processes share besides their messages
 * (msg.h): the names of the reasons a response is not cached, as hsdctl
 * cache shows them.
 */
#ifndef HSD_CACHE_H
#define HSD_CACHE_H

#include "msg.h"

extern const char *const cache_reason_names[CR_NREASONS];

#endif
