/* appsync: answering a partner's App Sync request (R9). */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "connector.h"
#include "mtd_int.h"
#include "plugin_child.h"
#include "store_rows.h"

/* The record's fields, as mtd_appsync_row holds them: texts, sizes, flags. */
static const char *const fields[MTD_APPSYNC_FIELDS] = {
	"device", "app_id", "version", "short_version", "name", "bundle_size", "dynamic_size",
	"adhoc_signed", "app_store", "beta", "vpp", "validated", "managed"};
enum { F_SIZES = MTD_APPSYNC_TEXTS, F_FLAGS = F_SIZES + MTD_APPSYNC_SIZES };

/* One inventory record, as msgpack (absent values nil). */
static int pack_row(const mtd_appsync_row *r, msgpack_packer *pk)
{
	if (msgpack_pack_map(pk, MTD_APPSYNC_FIELDS))
		return -1;
	for (int i = 0; i < MTD_APPSYNC_FIELDS; i++) {
		size_t kl = strlen(fields[i]);
		if (msgpack_pack_str(pk, kl) || msgpack_pack_str_body(pk, fields[i], kl))
			return -1;
		if (r->nulls & 1u << i) {
			if (msgpack_pack_nil(pk))
				return -1;
		} else if (i >= F_FLAGS) {
			if (r->flag[i - F_FLAGS] ? msgpack_pack_true(pk) : msgpack_pack_false(pk))
				return -1;
		} else if (i >= F_SIZES) {
			if (msgpack_pack_int64(pk, r->size[i - F_SIZES]))
				return -1;
		} else {
			if (msgpack_pack_str(pk, r->ntext[i]) ||
			    msgpack_pack_str_body(pk, r->text[i], r->ntext[i]))
				return -1;
		}
	}
	return 0;
}

static json_t *json_row(const mtd_appsync_row *r)
{
	json_t *o = json_object();
	for (int i = 0; o && i < MTD_APPSYNC_FIELDS; i++) {
		json_t *v;
		if (r->nulls & 1u << i)
			v = json_null();
		else if (i >= F_FLAGS)
			v = json_boolean(r->flag[i - F_FLAGS]);
		else if (i >= F_SIZES)
			v = json_integer(r->size[i - F_SIZES]);
		else
			v = json_stringn(r->text[i], r->ntext[i]);
		json_object_set_new(o, fields[i], v);
	}
	return o;
}

typedef struct native_out {
	mtd_write_fn out;
	void *ud;
	int rc;
} native_out;

static int native_write(void *ud, const void *data, size_t len)
{
	native_out *n = ud;
	if (!n->rc)
		n->rc = n->out(n->ud, data, len);
	return n->rc ? -1 : 0;
}

static int refuse(mtd_t *h, const char *vendor, const char *why)
{
	char detail[400];
	json_t *j = json_pack("{s:s}", "reason", why);
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	snprintf(detail, sizeof detail, "%s", t ? t : "{}");
	free(t);
	if (mtd_store_audit(h->store, h->now, "appsync_refused", vendor, NULL, detail) ||
	    mtd_store_commit(h->store)) {
		mtd_store_rollback(h->store);
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	}
	return mtd_fail(h, MTD_EREFUSED, "%s", why);
}

int mtd_appsync(mtd_t *h, const char *vendor, int format, mtd_write_fn out, void *ud,
		uint64_t *records)
{
	mtd_child *plugin = NULL;
	mtd_plugin_desc d;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	sqlite3_stmt *st;
	mtd_conn c;
	uint64_t n = 0;
	int rc = mtd_need_store(h), state, step;
	char why[300], detail[200];

	if (records)
		*records = 0;
	if (rc)
		return rc;
	if ((rc = mtd_begin(h)))
		return rc;
	if ((rc = mtd_refresh_connectors(h)))
		goto fail;
	if ((rc = mtd_conn_load(h->store, vendor, &c)) == MTD_ENOTFOUND) {
		snprintf(why, sizeof why, "no connector %s: its AppSync requests are refused", vendor);
		return refuse(h, vendor, why);
	}
	if (rc) {
		rc = mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
		goto fail;
	}
	state = mtd_conn_state_at(&c, h->now);
	if (!mtd_conn_accepts(state, MTD_MSG_APPSYNC_REQUEST)) {
		snprintf(why, sizeof why, "connector %s is %s: its AppSync requests are refused", vendor,
			 mtd_conn_state_name(state));
		return refuse(h, vendor, why);
	}
	if (!c.appsync_ios) {
		snprintf(why, sizeof why, "appsync_ios is off for %s: no app inventory is shared", vendor);
		return refuse(h, vendor, why);
	}
	if (format == MTD_APPSYNC_NATIVE) {
		if ((rc = mtd_start_plugin(h, vendor, 0, &plugin, &d)))
			goto fail;
		if (!(d.capabilities & MTD_PLUGIN_CAP_APPSYNC) || !(d.fns & MTD_DESC_APPSYNC)) {
			mtd_child_stop(plugin);
			snprintf(why, sizeof why, "the %s plugin cannot translate an App Sync answer", vendor);
			return refuse(h, vendor, why);
		}
	}
	if (!(st = mtd_store_stmt(h->store, SQL_APPSYNC_SCAN))) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto fail;
	}
	sqlite3_bind_int(st, 1, c.appsync_personal_ios);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_appsync_row r;
		mtd_appsync_row_read(st, &r);
		n++;
		if (format == MTD_APPSYNC_JSON) {
			json_t *o = json_row(&r);
			char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
			json_decref(o);
			if (!t)
				rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
			else if (out(ud, t, strlen(t)) || out(ud, "\n", 1))
				rc = mtd_fail(h, MTD_EIO, "cannot write the answer");
			free(t);
			continue;
		}
		if (pack_row(&r, &pk)) {
			rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
			break;
		}
		if (format == MTD_APPSYNC_MSGPACK) { /* stream record by record */
			if (out(ud, sb.data, sb.size))
				rc = mtd_fail(h, MTD_EIO, "cannot write the answer");
			sb.size = 0;
		}
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_reset(st);
	if (!rc && format == MTD_APPSYNC_NATIVE) {
		native_out no = {out, ud, 0};
		const mtd_child_sink sink = {.write = native_write, .ud = &no};
		char err[600] = "";
		int prc = mtd_child_translate(plugin, sb.data, sb.size, &sink, err, sizeof err);
		if (prc < 0)
			rc = mtd_fail(h, MTD_EPLUGIN, "%s plugin: App Sync translation failed: %s%.500s",
				      vendor, prc == MTD_PLUGIN_ENOMEM ? "out of memory: "
					      : prc == MTD_PLUGIN_EINTERNAL ? "internal error: " : "", err);
		else if (no.rc)
			rc = mtd_fail(h, MTD_EIO, "cannot write the answer");
	}
	mtd_child_stop(plugin);
	plugin = NULL;
	msgpack_sbuffer_destroy(&sb);
	if (rc)
		goto fail;
	snprintf(detail, sizeof detail, "{\"records\":%llu,\"personal\":%s,\"format\":\"%s\"}",
		 (unsigned long long)n, c.appsync_personal_ios ? "true" : "false",
		 format == MTD_APPSYNC_NATIVE ? "native" : format == MTD_APPSYNC_JSON ? "json" : "msgpack");
	if (mtd_store_audit(h->store, h->now, "appsync", vendor, NULL, detail) ||
	    mtd_store_commit(h->store)) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto fail;
	}
	if (records)
		*records = n;
	return 0;
fail:
	mtd_child_stop(plugin);
	mtd_store_rollback(h->store);
	return rc;
}
