/*
 * hsd-logd's write journal: what makes a logger killed at any instant
 * lose no record and write none twice.
 *
 * The listener keeps every batch of records until hsd-logd acknowledges
 * it (MSG_LOG_ACK: every batch up to a sequence number is in its files),
 * and sends what is unacknowledged again to the next hsd-logd.  So a
 * batch may arrive twice; the journal tells which were written: it lives
 * in a memfd the pool manager made and hands to every hsd-logd, so it
 * outlives each one.  Before a write round hsd-logd notes each file it
 * will append to and its size, and the batch the round completes
 * (lj_writing_seq), then LJ_WRITING; it writes, and one store of LJ_IDLE
 * makes the round done: from then on lj_writing_seq counts as written
 * (logjournal_done()).  When an hsd-logd dies with a round LJ_WRITING,
 * the pool manager cuts those files back to their noted sizes before it
 * starts the next one (logger.c): the round is undone whole, and its
 * batches, unacknowledged, come again.
 *
 * Sequence numbers are per listener (lj_epoch names which): a new
 * listener starts again from 1, and nothing of a dead one comes again.
 */
#ifndef HSD_LOGJOURNAL_H
#define HSD_LOGJOURNAL_H

#include <stdint.h>

#define LJ_MAGIC	0x68736c6aU	/* "hslj" */
#define LJ_FILES	32		/* files one round may touch */
#define LJ_PATH_MAX	512

enum lj_state {
	LJ_IDLE = 0,
	LJ_WRITING = 1,
};

struct lj_file {
	uint64_t	lf_size;		/* before the round */
	char		lf_path[LJ_PATH_MAX];	/* dir "/" name, NUL-terminated */
};

struct logjournal {
	uint32_t	lj_magic;
	uint32_t	lj_state;		/* enum lj_state */
	uint64_t	lj_epoch;		/* the listener's, of lj_done_seq */
	uint64_t	lj_done_seq;		/* every batch up to it is written */
	uint64_t	lj_writing_seq;		/* and this one once LJ_IDLE */
	uint32_t	lj_nfiles;		/* LJ_WRITING: the round's files */
	uint32_t	lj_pad;
	struct lj_file	lj_files[LJ_FILES];
};

/* Every batch up to this one is in its files (LJ_IDLE). */
static inline uint64_t
logjournal_done(const struct logjournal *lj)
{
	return lj->lj_writing_seq > lj->lj_done_seq ? lj->lj_writing_seq :
	    lj->lj_done_seq;
}

#endif
