/* connector: R1 gating, R2 lifecycle, R3 settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "mtdgate/mtdgate.h"
#include "store_rows.h"

static const char *const state_names[] = {"unavailable", "not_set_up", "available",
					  "enabled", "unresponsive", "error"};

const char *mtd_conn_state_name(int state)
{
	return state >= 0 && state <= MTD_CS_ERROR ? state_names[state] : "?";
}

static int state_from_name(const char *s)
{
	for (int i = 0; i <= MTD_CS_ERROR; i++)
		if (s && strcmp(s, state_names[i]) == 0)
			return i;
	return MTD_CS_UNAVAILABLE;
}

int mtd_conn_state_at(const mtd_conn *c, int64_t now)
{
	if (c->removed)
		return MTD_CS_UNAVAILABLE;
	if (!c->provisioned)
		return MTD_CS_NOT_SET_UP;
	if (c->error_code[0])
		return MTD_CS_ERROR;
	if (now - c->last_contact > (int64_t)c->unresponsive_days * 86400)
		return MTD_CS_UNRESPONSIVE;
	/* Any platform switch, for compliance or for app protection, enables. */
	return c->platforms || c->mam_platforms ? MTD_CS_ENABLED : MTD_CS_AVAILABLE;
}

int mtd_conn_accepts(int state, int msg_type)
{
	if (msg_type == MTD_MSG_PROVISION)
		return 1; /* how a partner sets a connector up again */
	return state != MTD_CS_UNAVAILABLE && state != MTD_CS_NOT_SET_UP;
}

/* The connector of a SQL_CONN_GET / SQL_CONN_ALL row. */
static void from_row(sqlite3_stmt *st, mtd_conn *c)
{
	mtd_conn_row r;
	mtd_conn_row_read(st, &r);
	memset(c, 0, sizeof *c);
	c->id = r.id;
	snprintf(c->vendor, sizeof c->vendor, "%s", r.vendor);
	c->state = state_from_name(r.state);
	c->provisioned = r.provisioned;
	c->removed = r.removed;
	snprintf(c->error_code, sizeof c->error_code, "%s", r.error_code ? r.error_code : "");
	c->last_contact = r.last_contact;
	c->added_at = r.added_at;
	c->platforms = r.platforms;
	c->mam_platforms = r.mam_platforms;
	c->appsync_ios = r.appsync_ios;
	c->appsync_personal_ios = r.appsync_personal_ios;
	c->block_unsupported_os = r.block_unsupported_os;
	c->block_missing_data = r.block_missing_data;
	c->unresponsive_days = r.unresponsive_days;
	c->rejected = r.rejected;
	c->parked_days = r.parked_days;
}

int mtd_conn_load(mtd_store *s, const char *vendor, mtd_conn *c)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_CONN_GET);
	int rc;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		from_row(st, c);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? MTD_ENOTFOUND : MTD_ESTORE;
}

int mtd_conn_load_all(mtd_store *s, mtd_conn **out, size_t *n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_CONN_ALL);
	mtd_conn *v = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return MTD_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_conn *nv = realloc(v, (k + 1) * sizeof *v);
		if (!nv) {
			free(v);
			sqlite3_reset(st);
			return MTD_ENOMEM;
		}
		v = nv;
		from_row(st, &v[k++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return MTD_ESTORE;
	}
	*out = v;
	*n = k;
	return 0;
}

int mtd_conn_save(mtd_store *s, mtd_conn *c, int64_t now)
{
	int state = mtd_conn_state_at(c, now);
	sqlite3_stmt *st;

	if (state != c->state) {
		char detail[128];
		snprintf(detail, sizeof detail, "{\"from\":\"%s\",\"to\":\"%s\"}",
			 state_names[c->state], state_names[state]);
		if (mtd_store_audit(s, now, "connector_state", c->vendor, NULL, detail))
			return MTD_ESTORE;
		c->state = state;
	}
	st = mtd_store_stmt(s, SQL_CONN_UPDATE);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, c->id);
	sqlite3_bind_text(st, 2, state_names[c->state], -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, c->provisioned);
	sqlite3_bind_int(st, 4, c->removed);
	if (c->error_code[0])
		sqlite3_bind_text(st, 5, c->error_code, -1, SQLITE_STATIC);
	if (c->last_contact)
		sqlite3_bind_int64(st, 6, c->last_contact);
	sqlite3_bind_int(st, 7, (int)c->platforms);
	sqlite3_bind_int(st, 8, (int)c->mam_platforms);
	sqlite3_bind_int(st, 9, c->appsync_ios);
	sqlite3_bind_int(st, 10, c->appsync_personal_ios);
	sqlite3_bind_int(st, 11, c->block_unsupported_os);
	sqlite3_bind_int(st, 12, c->block_missing_data);
	sqlite3_bind_int(st, 13, c->unresponsive_days);
	sqlite3_bind_int64(st, 14, c->rejected);
	sqlite3_bind_int(st, 15, c->parked_days);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE;
	sqlite3_reset(st);
	return mtd_store_row_logged(s, now, MTD_ROW_CONNECTORS, c->id, 0, NULL, 0);
}

/* ---- R3 settings ---- */

enum kind { K_PLATFORM, K_MAM, K_FLAG, K_DAYS };
static const struct setting {
	const char *name;
	enum kind kind;
	uint32_t bit;        /* platform bit for K_PLATFORM / K_MAM */
	size_t off;          /* int field for K_FLAG / K_DAYS */
} settings[MTD_CONN_NSETTINGS] = {
	{"android", K_PLATFORM, MTD_PLUGIN_ANDROID, 0},
	{"ios", K_PLATFORM, MTD_PLUGIN_IOS, 0},
	{"windows", K_PLATFORM, MTD_PLUGIN_WINDOWS, 0},
	{"macos", K_PLATFORM, MTD_PLUGIN_MACOS, 0},
	{"mam_android", K_MAM, MTD_PLUGIN_ANDROID, 0},
	{"mam_ios", K_MAM, MTD_PLUGIN_IOS, 0},
	{"mam_windows", K_MAM, MTD_PLUGIN_WINDOWS, 0},
	{"appsync_ios", K_FLAG, 0, offsetof(mtd_conn, appsync_ios)},
	{"appsync_personal_ios", K_FLAG, 0, offsetof(mtd_conn, appsync_personal_ios)},
	{"block_unsupported_os", K_FLAG, 0, offsetof(mtd_conn, block_unsupported_os)},
	{"block_missing_data", K_FLAG, 0, offsetof(mtd_conn, block_missing_data)},
	{"unresponsive_days", K_DAYS, 0, offsetof(mtd_conn, unresponsive_days)},
	{"parked_days", K_DAYS, 0, offsetof(mtd_conn, parked_days)},
};

const char *const mtd_conn_setting_names[MTD_CONN_NSETTINGS] = {
	"android", "ios", "windows", "macos", "mam_android", "mam_ios",
	"mam_windows", "appsync_ios", "appsync_personal_ios",
	"block_unsupported_os", "block_missing_data", "unresponsive_days", "parked_days"};

void mtd_conn_setting_value(const mtd_conn *c, int i, char *buf, size_t n,
			    int *is_bool)
{
	const struct setting *s = &settings[i];
	int v;
	*is_bool = s->kind != K_DAYS;
	switch (s->kind) {
	case K_PLATFORM: v = !!(c->platforms & s->bit); break;
	case K_MAM: v = !!(c->mam_platforms & s->bit); break;
	default: v = *(const int *)((const char *)c + s->off); break;
	}
	if (*is_bool)
		snprintf(buf, n, "%s", v ? "true" : "false");
	else
		snprintf(buf, n, "%d", v);
}

static const char *platform_label(uint32_t bit)
{
	return bit == MTD_PLUGIN_ANDROID ? "Android" : bit == MTD_PLUGIN_IOS ? "iOS"
		: bit == MTD_PLUGIN_WINDOWS ? "Windows" : "macOS";
}

int mtd_conn_apply(mtd_conn *c, const char *kv, const mtd_plugin *p,
		   int gcc_high, char *err, size_t n)
{
	const char *eq = strchr(kv, '=');
	const struct setting *s = NULL;
	const char *val;
	int on = -1;

	if (!eq || eq == kv) {
		mtd_err(err, n, "'%s' is not KEY=VALUE", kv);
		return MTD_EUSAGE;
	}
	for (int i = 0; i < MTD_CONN_NSETTINGS; i++)
		if (strlen(settings[i].name) == (size_t)(eq - kv) &&
		    !memcmp(settings[i].name, kv, (size_t)(eq - kv)))
			s = &settings[i];
	if (!s) {
		mtd_err(err, n, "unknown setting '%.*s' (known: android, ios, windows, macos, "
			    "mam_android, mam_ios, mam_windows, appsync_ios, appsync_personal_ios, "
			    "block_unsupported_os, block_missing_data, unresponsive_days, parked_days)",
			    (int)(eq - kv), kv);
		return MTD_EUSAGE;
	}
	val = eq + 1;
	if (s->kind == K_DAYS) {
		char *end;
		long d = strtol(val, &end, 10);
		if (!*val || *end || d < 1 || d > 365) {
			mtd_err(err, n, "%s: '%s' is not a number of days from 1 to 365",
				    s->name, val);
			return MTD_EUSAGE;
		}
		*(int *)((char *)c + s->off) = (int)d;
		return 0;
	}
	if (!strcmp(val, "on") || !strcmp(val, "true"))
		on = 1;
	else if (!strcmp(val, "off") || !strcmp(val, "false"))
		on = 0;
	if (on < 0) {
		mtd_err(err, n, "%s: '%s' is not on or off", s->name, val);
		return MTD_EUSAGE;
	}
	if (on && s->kind == K_PLATFORM && !(p->platforms & s->bit)) {
		mtd_err(err, n, "%s does not support %s", p->name, platform_label(s->bit));
		return MTD_EREFUSED;
	}
	if (on && s->kind == K_MAM && !(p->mam_platforms & s->bit)) {
		mtd_err(err, n, "%s does not support app protection on %s", p->name,
			    platform_label(s->bit));
		return MTD_EREFUSED;
	}
	if (on && (s->kind == K_PLATFORM || s->kind == K_MAM) && gcc_high &&
	    s->bit != MTD_PLUGIN_ANDROID && s->bit != MTD_PLUGIN_IOS) {
		mtd_err(err, n, "%s: only Android and iOS are allowed in the gcc_high cloud",
			    s->name);
		return MTD_EREFUSED;
	}
	if (on && s->kind == K_FLAG && !strncmp(s->name, "appsync", 7) &&
	    !(p->capabilities & MTD_PLUGIN_CAP_APPSYNC)) {
		mtd_err(err, n, "%s does not take App Sync inventory", p->name);
		return MTD_EREFUSED;
	}
	switch (s->kind) {
	case K_PLATFORM:
		c->platforms = on ? c->platforms | s->bit : c->platforms & ~s->bit;
		break;
	case K_MAM:
		c->mam_platforms = on ? c->mam_platforms | s->bit : c->mam_platforms & ~s->bit;
		break;
	default:
		*(int *)((char *)c + s->off) = on;
	}
	return 0;
}
