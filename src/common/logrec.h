/*
 * Log records: what the listener knows of each request it finished or
 * answered itself, sent to hsd-logd in batches (MSG_LOG_BATCH), which
 * formats them (src/logd/format.c) as W3C extended, NCSA or HTTPERR lines.
 *
 * A record is struct logrec followed by its strings, in enum logrec_str
 * order, lr_slen[i] bytes each, not NUL-terminated; lr_len counts it all.
 * Strings are the bytes the client sent (method, request target, header
 * values) or names from the configuration (site, pool); the formatter
 * escapes them.  A receiver checks every length against what it got
 * (logrec_next()).
 */
#ifndef HSD_LOGREC_H
#define HSD_LOGREC_H

#include <stddef.h>
#include <stdint.h>

enum logrec_kind {
	LR_ACCESS = 1,		/* a response a worker (or the cache) sent */
	LR_HTTPERR,		/* the listener answered or dropped it itself */
	LR_DROPPED,		/* lr_dropped records were lost: buffer full */
};

/* HTTPERR's s-reason, IIS's names (logrec_reason_name()). */
enum logrec_reason {
	HE_NONE = 0,
	HE_TIMER_CONNECTION_IDLE,	/* Timer_ConnectionIdle */
	HE_TIMER_HEADER_WAIT,		/* Timer_HeaderWait */
	HE_TIMER_ENTITY_BODY,		/* Timer_EntityBody */
	HE_TIMER_APP_POOL,		/* Timer_AppPool */
	HE_TIMER_MIN_BYTES,		/* Timer_MinBytesPerSecond */
	HE_BAD_REQUEST,			/* BadRequest */
	HE_VERB,			/* Verb */
	HE_URL,				/* URL */
	HE_HEADER,			/* Header */
	HE_HOSTNAME,			/* Hostname */
	HE_FIELD_LENGTH,		/* FieldLength */
	HE_REQUEST_LENGTH,		/* RequestLength */
	HE_URL_LENGTH,			/* URL_Length */
	HE_LENGTH_REQUIRED,		/* LengthRequired */
	HE_ENTITY_TOO_LARGE,		/* EntityTooLarge */
	HE_QUEUE_FULL,			/* QueueFull */
	HE_APP_OFFLINE,			/* AppOffline */
	HE_DISABLED,			/* Disabled */
	HE_CONN_LIMIT,			/* ConnLimit */
	HE_ABANDONED,			/* Connection_Abandoned_By_AppPool */
	HE_DROPPED,			/* Connection_Dropped */
	HE_INTERNAL,			/* Internal */
	HE_NOT_IMPLEMENTED,		/* N/I */
	HE_NREASONS
};

enum logrec_str {
	LRS_METHOD,		/* "" if the request line was not read */
	LRS_TARGET,		/* the request target as sent, query included */
	LRS_USER_AGENT,
	LRS_REFERER,
	LRS_COOKIE,
	LRS_HOST,		/* the Host header as sent */
	LRS_USERNAME,		/* authenticated user; "" (hsd has none yet) */
	LRS_SITE,		/* site name, "" if not routed */
	LRS_QUEUE,		/* pool name, "" if not routed */
	LRS_NSTR
};

struct logrec {
	uint32_t	lr_len;		/* this struct and its strings */
	uint8_t		lr_kind;	/* LR_* */
	uint8_t		lr_family;	/* AF_INET, AF_INET6; 0: no addresses */
	uint8_t		lr_http_major;	/* 0.0: no request line was read */
	uint8_t		lr_http_minor;
	uint16_t	lr_status;	/* 0: nothing was sent */
	uint16_t	lr_reason;	/* HE_* (LR_HTTPERR) */
	uint16_t	lr_cport;	/* host order */
	uint16_t	lr_sport;
	uint16_t	lr_substatus;
	uint16_t	lr_pad;
	uint32_t	lr_win32;	/* sc-win32-status: 0, or 64 for a
					   connection the client dropped */
	uint8_t		lr_caddr[16];	/* client: 4 bytes for AF_INET */
	uint8_t		lr_saddr[16];	/* server (local) address */
	int64_t		lr_time_us;	/* CLOCK_REALTIME when it finished */
	uint64_t	lr_taken_ms;	/* from the request's first byte */
	uint64_t	lr_sc_bytes;	/* response bytes sent */
	uint64_t	lr_sc_head;	/* of them, the head's (0: unknown) */
	uint64_t	lr_cs_bytes;	/* request bytes received */
	uint64_t	lr_dropped;	/* LR_DROPPED: how many */
	int64_t		lr_dropped_since_us; /* LR_DROPPED: the first one's time */
	uint16_t	lr_slen[LRS_NSTR];
	uint16_t	lr_pad2;
};

/* A string longer than this is cut to it (a record stays bounded). */
#define LOGREC_STR_MAX		4096
#define LOGREC_MAX		(sizeof(struct logrec) + LRS_NSTR * LOGREC_STR_MAX)

/* A record as a receiver sees it: the fixed part, and each string. */
struct logrec_view {
	struct logrec	 lv_rec;
	const char	*lv_str[LRS_NSTR];
	size_t		 lv_slen[LRS_NSTR];
};

/*
 * The record at *p (of *left bytes) into *v, advancing both; 0, or -1
 * if what is there is not a whole, consistent record (the rest of the
 * batch is then unusable).  The strings point into the batch.
 */
int		 logrec_next(const unsigned char **p, size_t *left,
		    struct logrec_view *v);
/* "Timer_ConnectionIdle", ..., "N/I"; "-" for HE_NONE or out of range. */
const char	*logrec_reason_name(unsigned int reason);

#endif
