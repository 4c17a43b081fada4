/* connector: one connector per vendor, its settings (R3) and its lifecycle
 * (R1, R2). The state is derived from facts (provisioned, removed, error,
 * last contact, switches) at a given time; the stored state is the last one
 * derived, so that every change can be audited. */
#ifndef MTD_CONNECTOR_H
#define MTD_CONNECTOR_H

#include <stdint.h>

#include "codec.h"
#include "mtdgate/plugin.h"
#include "store.h"

enum {
	MTD_CS_UNAVAILABLE,
	MTD_CS_NOT_SET_UP,
	MTD_CS_AVAILABLE,
	MTD_CS_ENABLED,
	MTD_CS_UNRESPONSIVE,
	MTD_CS_ERROR
};

typedef struct mtd_conn {
	int64_t id;
	char vendor[40];
	int state; /* as stored */
	int provisioned, removed;
	char error_code[MTD_MAX_ID + 1]; /* "" when none */
	int64_t last_contact, added_at;
	uint32_t platforms, mam_platforms; /* switches, as plugin.h bits */
	int appsync_ios, appsync_personal_ios, block_unsupported_os,
		block_missing_data;
	int unresponsive_days;
	int64_t rejected;
	int parked_days; /* parked messages expire after this many days */
} mtd_conn;

const char *mtd_conn_state_name(int state);
/* The state these facts give at time now. */
int mtd_conn_state_at(const mtd_conn *c, int64_t now);
/* Whether a connector in this state accepts a message of this type (R1). */
int mtd_conn_accepts(int state, int msg_type);

/* Load one connector (MTD_ENOTFOUND when absent) or all of them (*out is
 * malloc'ed, caller frees). */
int mtd_conn_load(mtd_store *s, const char *vendor, mtd_conn *c);
int mtd_conn_load_all(mtd_store *s, mtd_conn **out, size_t *n);
/* Write c back, first deriving its state at now; a state change is audited. */
int mtd_conn_save(mtd_store *s, mtd_conn *c, int64_t now);

/* R3 settings. */
#define MTD_CONN_NSETTINGS 13
extern const char *const mtd_conn_setting_names[MTD_CONN_NSETTINGS];
/* Value of setting i as text ("true"/"false" or a number); is_bool set. */
void mtd_conn_setting_value(const mtd_conn *c, int i, char *buf, size_t n,
			    int *is_bool);
/* Apply one "key=value". MTD_EUSAGE for an unknown key or a bad value,
 * MTD_EREFUSED when the plugin or the cloud does not allow it. */
int mtd_conn_apply(mtd_conn *c, const char *kv, const mtd_plugin *p,
		   int gcc_high, char *err, size_t n);

#endif
