/*
 * Log records on the wire (logrec.h): reading them back, whatever the
 * sender put there.
 */
#include "config.h"

#include <sys/socket.h>

#include <string.h>

#include "logrec.h"

static const char *const logrec_reasons[HE_NREASONS] = {
	[HE_NONE] = "-",
	[HE_TIMER_CONNECTION_IDLE] = "Timer_ConnectionIdle",
	[HE_TIMER_HEADER_WAIT] = "Timer_HeaderWait",
	[HE_TIMER_ENTITY_BODY] = "Timer_EntityBody",
	[HE_TIMER_APP_POOL] = "Timer_AppPool",
	[HE_TIMER_MIN_BYTES] = "Timer_MinBytesPerSecond",
	[HE_BAD_REQUEST] = "BadRequest",
	[HE_VERB] = "Verb",
	[HE_URL] = "URL",
	[HE_HEADER] = "Header",
	[HE_HOSTNAME] = "Hostname",
	[HE_FIELD_LENGTH] = "FieldLength",
	[HE_REQUEST_LENGTH] = "RequestLength",
	[HE_URL_LENGTH] = "URL_Length",
	[HE_LENGTH_REQUIRED] = "LengthRequired",
	[HE_ENTITY_TOO_LARGE] = "EntityTooLarge",
	[HE_QUEUE_FULL] = "QueueFull",
	[HE_APP_OFFLINE] = "AppOffline",
	[HE_DISABLED] = "Disabled",
	[HE_CONN_LIMIT] = "ConnLimit",
	[HE_ABANDONED] = "Connection_Abandoned_By_AppPool",
	[HE_DROPPED] = "Connection_Dropped",
	[HE_INTERNAL] = "Internal",
	[HE_NOT_IMPLEMENTED] = "N/I",
};

const char *
logrec_reason_name(unsigned int reason)
{
	if (reason >= HE_NREASONS)
		return "-";
	return logrec_reasons[reason];
}

int
logrec_next(const unsigned char **p, size_t *left, struct logrec_view *v)
{
	const unsigned char	*s;
	size_t			 need;
	unsigned int		 i;

	if (*left < sizeof(v->lv_rec))
		return -1;
	memcpy(&v->lv_rec, *p, sizeof(v->lv_rec));
	need = sizeof(v->lv_rec);
	for (i = 0; i < LRS_NSTR; i++) {
		if (v->lv_rec.lr_slen[i] > LOGREC_STR_MAX)
			return -1;
		need += v->lv_rec.lr_slen[i];
	}
	if (v->lv_rec.lr_len != need || need > *left)
		return -1;
	if (v->lv_rec.lr_family != 0 && v->lv_rec.lr_family != AF_INET &&
	    v->lv_rec.lr_family != AF_INET6)
		return -1;
	s = *p + sizeof(v->lv_rec);
	for (i = 0; i < LRS_NSTR; i++) {
		v->lv_str[i] = (const char *)s;
		v->lv_slen[i] = v->lv_rec.lr_slen[i];
		s += v->lv_slen[i];
	}
	*p += need;
	*left -= need;
	return 0;
}
