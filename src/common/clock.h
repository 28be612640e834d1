/*
 * The monotonic clock the processes measure deadlines and rates with
 * (entity bodies, sends to slow readers): immune to the wall clock being
 * set, in milliseconds like every duration in the configuration.
 */
#ifndef HSD_CLOCK_H
#define HSD_CLOCK_H

#include <stdint.h>

uint64_t	clock_ms(void);

#endif
