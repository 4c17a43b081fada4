/* plugin_host: dlopen, entry symbol, descriptor validation. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mtdgate/mtdgate.h"
#include "mtdgate/wire.h"
#include "plugin_host.h"

/* The smallest descriptor a v1 host can use: up to and including close. */
#define MIN_DESC_SIZE (offsetof(mtd_plugin, close) + sizeof(((mtd_plugin *)0)->close))
#define KNOWN_PLATFORMS (MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS | MTD_PLUGIN_MACOS)
#define KNOWN_CAPS (MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION | \
		    MTD_PLUGIN_CAP_APPSYNC | MTD_PLUGIN_CAP_GOV_CLOUD)

int mtd_plugin_valid_id(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++)
		if (!((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= '0' && id[n] <= '9') ||
		      id[n] == '_') || n >= 32)
			return 0;
	return n > 0;
}

void mtd_plugin_describe(const mtd_plugin *p, mtd_plugin_desc *d)
{
	memset(d, 0, sizeof *d);
	d->abi_version = p->abi_version;
	d->struct_size = p->struct_size;
	if (p->struct_size < MIN_DESC_SIZE)
		return; /* nothing else is known to be there */
	d->platforms = p->platforms;
	d->mam_platforms = p->mam_platforms;
	d->capabilities = p->capabilities;
	if (p->id) {
		d->fns |= MTD_DESC_ID;
		snprintf(d->id, sizeof d->id, "%s", p->id);
	}
	if (p->name) {
		d->fns |= MTD_DESC_NAME;
		snprintf(d->name, sizeof d->name, "%s", p->name);
	}
	d->fns |= (p->open ? MTD_DESC_OPEN : 0) | (p->decode ? MTD_DESC_DECODE : 0) |
		  (p->close ? MTD_DESC_CLOSE : 0) |
		  (MTD_PLUGIN_HAS(p, appsync_translate) ? MTD_DESC_APPSYNC : 0) |
		  (MTD_PLUGIN_HAS(p, api) ? MTD_DESC_API : 0) |
		  (MTD_PLUGIN_HAS(p, api_decode) ? MTD_DESC_API_DECODE : 0);
}

mtd_plugin mtd_plugin_desc_view(const mtd_plugin_desc *d)
{
	mtd_plugin p = {d->abi_version, d->struct_size, d->id, d->name, d->platforms,
			d->mam_platforms, d->capabilities, NULL, NULL, NULL, NULL, NULL, NULL};
	return p;
}

int mtd_plugin_validate(const mtd_plugin *p, const char *want_id, char *err,
			size_t n)
{
	mtd_plugin_desc d;
	mtd_plugin_describe(p, &d);
	return mtd_plugin_desc_validate(&d, want_id, err, n);
}

int mtd_plugin_desc_validate(const mtd_plugin_desc *p, const char *want_id, char *err,
			     size_t n)
{
	if (MTD_PLUGIN_ABI_MAJOR_OF(p->abi_version) != MTD_PLUGIN_ABI_MAJOR) {
		mtd_err(err, n, "built for plugin ABI %u.%u; this mtdgate speaks %u.%u",
			    MTD_PLUGIN_ABI_MAJOR_OF(p->abi_version),
			    MTD_PLUGIN_ABI_MINOR_OF(p->abi_version), MTD_PLUGIN_ABI_MAJOR,
			    MTD_PLUGIN_ABI_MINOR);
		return MTD_EPLUGIN;
	}
	if (MTD_PLUGIN_ABI_MINOR_OF(p->abi_version) > MTD_PLUGIN_ABI_MINOR) {
		mtd_err(err, n, "needs plugin ABI %u.%u, newer than this mtdgate's %u.%u",
			    MTD_PLUGIN_ABI_MAJOR, MTD_PLUGIN_ABI_MINOR_OF(p->abi_version),
			    MTD_PLUGIN_ABI_MAJOR, MTD_PLUGIN_ABI_MINOR);
		return MTD_EPLUGIN;
	}
	if (p->struct_size < MIN_DESC_SIZE) {
		mtd_err(err, n, "descriptor of %u bytes is too small (at least %zu)",
			    p->struct_size, (size_t)MIN_DESC_SIZE);
		return MTD_EPLUGIN;
	}
	if (!(p->fns & MTD_DESC_ID) || !mtd_plugin_valid_id(p->id)) {
		mtd_err(err, n, "descriptor id is missing or not [a-z0-9_]{1,32}");
		return MTD_EPLUGIN;
	}
	if (want_id && strcmp(p->id, want_id) != 0) {
		mtd_err(err, n, "descriptor id '%s' does not match the file name '%s'",
			    p->id, want_id);
		return MTD_EPLUGIN;
	}
	if (!(p->fns & MTD_DESC_NAME) || !p->name[0] || strlen(p->name) > 64) {
		mtd_err(err, n, "descriptor name is missing or longer than 64 bytes");
		return MTD_EPLUGIN;
	}
	for (const unsigned char *c = (const unsigned char *)p->name; *c; c++)
		if (*c < 0x20 || *c == 0x7f) {
			mtd_err(err, n, "descriptor name has control characters");
			return MTD_EPLUGIN;
		}
	if (!p->platforms || (p->platforms & ~KNOWN_PLATFORMS) ||
	    (p->mam_platforms & ~p->platforms)) {
		mtd_err(err, n, "descriptor platforms 0x%x/0x%x are not a set of known platforms",
			    p->platforms, p->mam_platforms);
		return MTD_EPLUGIN;
	}
	if (p->capabilities & ~KNOWN_CAPS) {
		mtd_err(err, n, "descriptor declares unknown capabilities 0x%x",
			    p->capabilities & ~KNOWN_CAPS);
		return MTD_EPLUGIN;
	}
	if ((p->mam_platforms != 0) != !!(p->capabilities & MTD_PLUGIN_CAP_APP_PROTECTION)) {
		mtd_err(err, n, "app protection capability and mam_platforms disagree");
		return MTD_EPLUGIN;
	}
	if ((p->fns & (MTD_DESC_OPEN | MTD_DESC_DECODE | MTD_DESC_CLOSE)) !=
	    (MTD_DESC_OPEN | MTD_DESC_DECODE | MTD_DESC_CLOSE)) {
		mtd_err(err, n, "descriptor lacks open, decode or close");
		return MTD_EPLUGIN;
	}
	if (!(p->fns & MTD_DESC_API) != !(p->fns & MTD_DESC_API_DECODE)) {
		mtd_err(err, n, "descriptor has %s without %s (ABI 1.2: both or neither)",
			(p->fns & MTD_DESC_API) ? "api" : "api_decode",
			(p->fns & MTD_DESC_API) ? "api_decode" : "api");
		return MTD_EPLUGIN;
	}
	return 0;
}

int mtd_plugin_file(const char *path, char *err, size_t n)
{
	struct stat sb;
	if (stat(path, &sb) != 0) {
		mtd_err(err, n, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? MTD_ENOTFOUND : MTD_EIO;
	}
	if (!S_ISREG(sb.st_mode)) {
		mtd_err(err, n, "%s: not a regular file", path);
		return MTD_EPLUGIN;
	}
	return 0;
}

int mtd_plugin_load(const char *path, const char *want_id,
		    const mtd_plugin **out, char *err, size_t n)
{
	char why[400];
	void *dl;
	mtd_plugin_entry_fn entry;
	const mtd_plugin *p;
	int rc;

	if ((rc = mtd_plugin_file(path, err, n)))
		return rc;
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		mtd_err(err, n, "%s: cannot load: %s", path, e ? e : "unknown error");
		return MTD_EPLUGIN;
	}
	*(void **)(&entry) = dlsym(dl, MTD_PLUGIN_ENTRY_SYMBOL);
	if (!entry) {
		mtd_err(err, n, "%s: not an mtdgate plugin (no symbol %s)", path,
			    MTD_PLUGIN_ENTRY_SYMBOL);
		return MTD_EPLUGIN;
	}
	p = entry(MTD_PLUGIN_ABI_VERSION);
	if (!p) {
		mtd_err(err, n, "%s: the plugin refused plugin ABI %u.%u", path,
			    MTD_PLUGIN_ABI_MAJOR, MTD_PLUGIN_ABI_MINOR);
		return MTD_EPLUGIN;
	}
	if ((rc = mtd_plugin_validate(p, want_id, why, sizeof why))) {
		mtd_err(err, n, "%s: %s", path, why);
		return rc;
	}
	*out = p;
	return 0;
}

int mtd_plugin_find(const char *dir, const char *id, const mtd_plugin **out,
		    char *err, size_t n)
{
	char path[4096];
	int rc;

	if (!mtd_plugin_valid_id(id)) {
		mtd_err(err, n, "'%s' is not a vendor id ([a-z0-9_]{1,32})", id);
		return MTD_EUSAGE;
	}
	snprintf(path, sizeof path, "%s/%s.so", dir, id);
	rc = mtd_plugin_load(path, id, out, err, n);
	if (rc == MTD_ENOTFOUND)
		mtd_err(err, n, "unknown vendor '%s': no plugin %s", id, path);
	return rc;
}
