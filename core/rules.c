/* rules: Lua 5.4 sandbox (memory cap, instruction budget, allow-listed
 * libraries, text-only chunks, require limited to the rules directory,
 * undefined globals are errors), groups.lua validation, per-device calls. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"
#include "rules.h"

#define HOOK_STEP 1000
#define MAX_PATTERN_SUBJECT (64 * 1024)
#define MAX_PATTERN 256
/* C library work the count hook cannot see is charged by what it
 * allocates: one instruction per ALLOC_COST bytes. */
#define ALLOC_COST 64
/* Backtracking bound for a pattern: subject^(repetitions), times the
 * subject again when the match may start anywhere. */
#define MAX_PATTERN_STEPS (1u << 27)
/* The longest string a script may make: the VM compares and hashes strings
 * in one instruction the count hook cannot split, so their size is what
 * bounds the time of one instruction (a < b over two long strings). */
#define MAX_STRING (1u << 20)
/* C library functions that walk their arguments are charged one
 * instruction per CHARGE_BYTES bytes of string and per element of table
 * they touch (see charged). */
#define CHARGE_BYTES 64
/* The memo: key bytes of one device, and the bounds of what it keeps. */
#define MEMO_KEY_MAX 2048
#define NREADS 8
#define MEMO_MAX_ENTRIES 65536
#define MEMO_MAX_BYTES (32u << 20)
#define VCACHE 16 /* vendor names' codes kept by address */
/* The memo's entries of short keys, direct-mapped by hash, key inline:
 * most lookups end here without touching an entry (a collision replaces). */
#define NEAR_SLOTS 4096
#define NEAR_KEY 32

enum { PRIO_UNSET, PRIO_DEFENDER, PRIO_THIRD_PARTY };

typedef struct gpol {
	char *name;
	int max_level, app_max_level, app_action, priority; /* -1 / 0 unset */
	int grace_hours;                                     /* minutes; -1 unset */
	int nresources;                                      /* -1 unset */
	char *resources[16];
} gpol;

struct mtd_rules {
	lua_State *L;
	size_t mem, mem_cap;
	int mem_hit;
	uint64_t budget, limit;
	int armed; /* a rule call is running under the budget */
	int stop;  /* STOP_*: why every further instruction of the call raises */
	/* CPU time (CLOCK_THREAD_CPUTIME_ID, ns): limits per call and per
	 * handle (an evaluation), what the calls so far used, and the call's */
	uint64_t cpu_call_ns, cpu_total_ns, cpu_used_ns, call_start_ns;
	int str_hit;          /* a script tried to make a string over MAX_STRING */
	char str_where[300];  /* where: "policy.lua:12" */
	char *dir;
	char policy_path[4096]; /* for messages */
	gpol *pols;
	size_t npols;
	int wants_inventory;
	msgpack_zone zone; /* threats of the device being pushed, reused */
	int ref_compliance, ref_app, ref_ctx, ref_cache, ref_traceback;
	int ref_devmt, ref_prevmt, ref_vendmt; /* metatables of the lazy fields */
	int ref_appmt, ref_polmt; /* an app's and the policy's: absent fields noted */
	/* The last fields the call read through a metamethod (those served on
	 * access, and every absent, nil one), newest at (nreads - 1) % NREADS:
	 * what a failing script was handed, for its error message. */
	struct rread {
		const char *table; /* "device", "device.previous", ... */
		char owner[64];    /* the vendor or app_id of the entry read, or "" */
		char key[48];
		int type;          /* LUA_T* */
		char val[64];      /* the value, short */
	} reads[NREADS];
	unsigned nreads;
	/* The device of the call in progress, for the lazy fields; NULL (and
	 * the tables' addresses cleared) between calls, so that a table a
	 * script kept reads nil rather than freed memory. */
	const mtd_eval_in *cur;
	const void *cur_dev, *cur_prev;
	const void **cur_vent; /* the vendor entries, then the app_vendors' */
	size_t ncur_vent, cur_vent_cap;
	int taint; /* this call read something the memo key does not hold */
	int pure, memo_on;
	/* memo: entries by index, an open-addressing table of index + 1 */
	struct memo_ent **ents;
	size_t nents, ents_cap, ent_bytes;
	uint64_t *slots; /* entry index + 1 in the low half, the hash's high half above */
	size_t nslots;   /* a power of two, or 0 */
	_Alignas(8) unsigned char key[MEMO_KEY_MAX]; /* the key of the device at hand */
	struct near *near; /* NEAR_SLOTS, made with the first entry */
	/* vendor names by their code in the memo key (vendor_code): 0 is none,
	 * each a copy; an open-addressing table of codes by the name's hash;
	 * and the codes of the last names met, by their address */
	char **vnames;
	size_t nvnames;
	uint32_t *vslots;
	size_t nvslots; /* a power of two, or 0 */
	const char *vcache_ptr[VCACHE];
	uint32_t vcache_code[VCACHE];
};

typedef struct near {
	_Alignas(8) unsigned char key[NEAR_KEY];
	uint32_t klen; /* 0: empty */
	uint32_t ent;
} near;

/* One memoized result: str holds the reasons then the resources, followed
 * by the key bytes and the strings themselves, all in this one block. */
typedef struct memo_ent {
	uint64_t hash;
	size_t keylen;
	int state, level, app_action;
	unsigned nreasons, nresources;
	const char *str[];
} memo_ent;

static const char *const st_names[] = {"compliant", "noncompliant", "in_grace_period",
				       "not_evaluated"};
static const char *const app_names[] = {"none", "warn", "block", "wipe"};

_Static_assert(MTD_NSTATES == MTD_ST_NOT_EVALUATED + 1, "mtdgate.h counts the states of rules.h");

const char *mtd_state_name(int st)
{
	return st >= 0 && st <= MTD_ST_NOT_EVALUATED ? st_names[st] : "?";
}

const char *mtd_app_action_name(int a)
{
	return a >= 0 && a <= MTD_APP_WIPE ? app_names[a] : "?";
}

int mtd_state_from_name(const char *s)
{
	for (int i = 0; i <= MTD_ST_NOT_EVALUATED; i++)
		if (s && !strcmp(s, st_names[i]))
			return i;
	return -1;
}

int mtd_app_action_from_name(const char *s)
{
	for (int i = 0; i <= MTD_APP_WIPE; i++)
		if (s && !strcmp(s, app_names[i]))
			return i;
	return -1;
}

/* ---- sandbox ---- */

static void hook(lua_State *L, lua_Debug *ar);

enum { STOP_NONE, STOP_INSTRUCTIONS, STOP_CPU_CALL, STOP_CPU_TOTAL };

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* STOP_CPU_* when the call has used its CPU time, or the calls of this
 * handle theirs; else STOP_NONE. */
static int cpu_spent(const mtd_rules *r)
{
	uint64_t used = cpu_ns() - r->call_start_ns;
	if (used > r->cpu_call_ns)
		return STOP_CPU_CALL;
	if (r->cpu_used_ns + used > r->cpu_total_ns)
		return STOP_CPU_TOTAL;
	return STOP_NONE;
}

/* "script:line" of the innermost Lua function running, into buf. */
static void lua_where(lua_State *L, char *buf, size_t n)
{
	lua_Debug ar;
	buf[0] = '\0';
	for (int lv = 0; lua_getstack(L, lv, &ar); lv++)
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
			snprintf(buf, n, "%s:%d", ar.short_src, ar.currentline);
			return;
		}
}

static void *cap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	mtd_rules *r = ud;
	/* a new object: osize is its type (Lua 5.4) */
	if (!ptr && osize == LUA_TSTRING && nsize > MAX_STRING + 64 && r->armed) {
		r->str_hit = 1;
		r->taint = 1;
		lua_where(r->L, r->str_where, sizeof r->str_where);
		return NULL;
	}
	if (!ptr)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		r->mem -= osize;
		return NULL;
	}
	if (nsize > osize && r->mem + (nsize - osize) > r->mem_cap) {
		r->mem_hit = 1;
		r->taint = 1; /* a rule that catches this decides by the heap */
		return NULL;
	}
	if (nsize > osize && r->armed) {
		uint64_t cost = (nsize - osize) / ALLOC_COST;
		if (cost >= r->budget) {
			/* spent: the next instruction raises (lua_sethook may be
			 * called from anywhere) */
			r->budget = 0;
			if (!r->stop)
				r->stop = STOP_INSTRUCTIONS;
			lua_sethook(r->L, hook, LUA_MASKCOUNT, 1);
		} else {
			r->budget -= cost;
		}
	}
	ptr = realloc(ptr, nsize);
	if (ptr)
		r->mem = r->mem - osize + nsize;
	return ptr;
}

/* Raise the error of r->stop at the script's position; what (may be NULL)
 * names the C library work that spent the rest. From now on every
 * instruction raises, so that a script cannot catch the error with pcall
 * and loop on. */
static int raise_stop(lua_State *L, mtd_rules *r, const char *what)
{
	char where[300];
	lua_sethook(L, hook, LUA_MASKCOUNT, 1);
	lua_where(L, where, sizeof where);
	if (r->stop == STOP_INSTRUCTIONS)
		lua_pushfstring(L, "%s%sinstruction limit of %I exceeded (%s)", where,
				where[0] ? ": " : "", (lua_Integer)r->limit,
				what ? what : "a runaway loop?");
	else
		lua_pushfstring(L, "%s%sCPU time limit of %I ms %s exceeded (%s)", where,
				where[0] ? ": " : "",
				(lua_Integer)((r->stop == STOP_CPU_CALL ? r->cpu_call_ns
									: r->cpu_total_ns) /
					      1000000u),
				r->stop == STOP_CPU_CALL ? "per rule call" : "per evaluation",
				what ? what : "a runaway loop, or work on large values?");
	return lua_error(L);
}

/* Every HOOK_STEP instructions: the instruction budget and the CPU time. */
static void hook(lua_State *L, lua_Debug *ar)
{
	mtd_rules *r;
	(void)ar;
	lua_getallocf(L, (void **)&r);
	if (!r->stop) {
		if (r->budget > HOOK_STEP) {
			r->budget -= HOOK_STEP;
			if (!(r->stop = cpu_spent(r)))
				return;
		} else {
			r->stop = STOP_INSTRUCTIONS;
		}
	}
	raise_stop(L, r, NULL);
}

/* Charge cost instructions of C library work (what names it) to the call,
 * raising when that spends the budget or the CPU time is up. */
static void charge(lua_State *L, mtd_rules *r, uint64_t cost, const char *what)
{
	if (!r->armed)
		return;
	if (!r->stop) {
		if (cost < r->budget) {
			r->budget -= cost;
			if (cost < HOOK_STEP || !(r->stop = cpu_spent(r)))
				return;
		} else {
			r->budget = 0;
			r->stop = STOP_INSTRUCTIONS;
		}
	}
	raise_stop(L, r, what);
}

static void arm(mtd_rules *r)
{
	r->nreads = 0;
	r->budget = r->limit;
	r->mem_hit = 0;
	r->str_hit = 0;
	r->stop = STOP_NONE;
	r->armed = 1;
	r->call_start_ns = cpu_ns();
	lua_sethook(r->L, hook, LUA_MASKCOUNT, HOOK_STEP);
}

static void disarm(mtd_rules *r)
{
	r->armed = 0;
	r->cpu_used_ns += cpu_ns() - r->call_start_ns;
	lua_sethook(r->L, NULL, 0, 0);
}

static int blocked(lua_State *L)
{
	return luaL_error(L, "blocked function: the rules sandbox does not allow it");
}

/* Repetition items (*, +, -, ?) of a Lua pattern, outside sets and
 * escapes: each can make the matcher backtrack over the whole subject. */
static int repetitions(const char *p, size_t n)
{
	int q = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%') {
			i++;
		} else if (p[i] == '[') {
			if (i + 1 < n && p[i + 1] == '^')
				i++;
			i++; /* a ']' right after '[' is a member */
			while (i < n && p[i] != ']')
				i += p[i] == '%' ? 2 : 1;
		} else if (i > 0 && strchr("*+-?", p[i])) {
			q++;
		}
	}
	return q;
}

/* Pattern functions run in C where the hook cannot stop them: bound the
 * sizes, and the backtracking a pattern can cause on its subject. */
static int guarded(lua_State *L)
{
	size_t ls, lp;
	const char *pat;
	luaL_checklstring(L, 1, &ls);
	pat = luaL_checklstring(L, 2, &lp);
	if (ls > MAX_PATTERN_SUBJECT || lp > MAX_PATTERN)
		return luaL_error(L, "pattern subject or pattern too long for the sandbox "
				     "(limits %d and %d bytes)", MAX_PATTERN_SUBJECT, MAX_PATTERN);
	if (!(lua_gettop(L) >= 4 && lua_toboolean(L, 4) && lua_tointeger(L, lua_upvalueindex(2)))) {
		int q = repetitions(pat, lp);
		double steps = pat[0] == '^' && !lua_tointeger(L, lua_upvalueindex(3)) ? 1 : ls + 1;
		for (int i = 0; i < q && steps <= MAX_PATTERN_STEPS; i++)
			steps *= (double)ls + 1;
		if (q > 0 && steps > MAX_PATTERN_STEPS)
			return luaL_error(L, "pattern too complex for the sandbox: %d repetition "
					     "items over a subject of %d bytes could backtrack "
					     "for ever (see rules/README.md)", q, (int)ls);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* string.rep of an empty string and separator loops n times in C without
 * allocating anything the budget could charge. */
static int l_rep(lua_State *L)
{
	size_t l, lsep = 0;
	lua_Integer k;
	luaL_checklstring(L, 1, &l);
	k = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	if (k <= 0 || l + lsep == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* The elements of table argument i as sort and concat see them (its
 * length, __len included), at least 0. */
static lua_Integer len_of(lua_State *L, int i)
{
	lua_Integer n = luaL_len(L, i);
	return n > 0 ? n : 0;
}

/* Floor of log2(n) + 1: the depth of a sort's comparisons. */
static uint64_t depth(uint64_t n)
{
	uint64_t d = 1;
	while (n >>= 1)
		d++;
	return d;
}

/* What a charged function is charged by (upvalue 2). */
enum {
	CH_STRINGS, /* every string argument's bytes: utf8.len, string.byte, ... */
	CH_LIST,    /* the elements of table argument 1: table.concat, insert, remove */
	CH_RANGE,   /* elements i..j (arguments 2, 3): table.unpack */
	CH_MOVE,    /* elements f..e (arguments 2, 3): table.move */
	CH_SORT     /* n log n comparisons of the elements, strings by their bytes */
};

/* A C library function (upvalue 1) that walks what it is handed, in one
 * step the count hook cannot see: charged by the size of what it touches
 * before it runs, so a loop over large values spends the budget (and the
 * CPU time is checked) instead of running unseen. */
static int charged(lua_State *L)
{
	mtd_rules *r;
	int kind = (int)lua_tointeger(L, lua_upvalueindex(2)), top = lua_gettop(L);
	const char *name = lua_tostring(L, lua_upvalueindex(3));
	uint64_t cost = 1, bytes = 0, n = 0;
	char what[160];

	lua_getallocf(L, (void **)&r);
	switch (kind) {
	case CH_STRINGS:
		for (int i = 1; i <= top; i++)
			if (lua_type(L, i) == LUA_TSTRING)
				bytes += lua_rawlen(L, i);
		cost += bytes / CHARGE_BYTES;
		snprintf(what, sizeof what, "%s over %llu bytes", name, (unsigned long long)bytes);
		break;
	case CH_LIST:
		luaL_checktype(L, 1, LUA_TTABLE);
		n = (uint64_t)len_of(L, 1);
		cost += n;
		snprintf(what, sizeof what, "%s over %llu elements", name, (unsigned long long)n);
		break;
	case CH_RANGE:
	case CH_MOVE: {
		lua_Integer f = luaL_optinteger(L, 2, 1), e;
		if (kind == CH_MOVE)
			e = luaL_checkinteger(L, 3);
		else
			e = lua_isnoneornil(L, 3) ? (luaL_checktype(L, 1, LUA_TTABLE), len_of(L, 1))
						  : luaL_checkinteger(L, 3);
		n = e >= f ? (uint64_t)e - (uint64_t)f + 1 : 0;
		cost += n;
		snprintf(what, sizeof what, "%s of %llu elements", name, (unsigned long long)n);
		break;
	}
	default: /* CH_SORT */
		luaL_checktype(L, 1, LUA_TTABLE);
		n = (uint64_t)len_of(L, 1);
		/* saturated: a __len of 2^62 must not wrap into a small cost */
		cost = n >= r->budget || n > (UINT64_C(1) << 56) ? UINT64_MAX : cost + n * depth(n);
		if (cost < r->budget) /* else no need to look: it is over */
			for (lua_Integer i = 1; i <= (lua_Integer)n; i++) {
				if (lua_rawgeti(L, 1, i) == LUA_TSTRING)
					bytes += lua_rawlen(L, -1);
				lua_pop(L, 1);
			}
		if (cost != UINT64_MAX)
			cost += bytes / CHARGE_BYTES * depth(n);
		snprintf(what, sizeof what, "%s of %llu elements, %llu bytes of strings", name,
			 (unsigned long long)n, (unsigned long long)bytes);
		break;
	}
	lua_settop(L, top);
	charge(L, r, cost, what);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, top, LUA_MULTRET);
	return lua_gettop(L);
}

/* Replace lib[name] (lib on top of the stack) with charged around it. */
static void wrap_charged(lua_State *L, const char *lib, const char *name, int kind)
{
	char full[64];
	snprintf(full, sizeof full, "%s.%s", lib, name);
	lua_getfield(L, -1, name);
	lua_pushinteger(L, kind);
	lua_pushstring(L, full);
	lua_pushcclosure(L, charged, 3);
	lua_setfield(L, -2, name);
}

/* xpcall(f, msgh, ...): the handler runs after the protected call, as
 * ordinary Lua under the budget (the traceback is of the xpcall site). */
static int l_xpcall(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 1);
	for (int i = 3; i <= n; i++)
		lua_pushvalue(L, i);
	if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) {
		lua_pushboolean(L, 1);
		lua_replace(L, n); /* n >= 2: reuse a slot below the results */
		return lua_gettop(L) - n + 1;
	}
	lua_pushvalue(L, 2);
	lua_insert(L, -2);
	lua_call(L, 1, 1);
	lua_pushboolean(L, 0);
	lua_insert(L, -2);
	return 2;
}

static int l_setmetatable(lua_State *L)
{
	if (lua_istable(L, 2)) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "__gc metamethods are not allowed in the rules "
					     "sandbox (finalizers run outside its limits)");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* A library function whose result the memo key does not determine: calls
 * it, marking the call tainted (upvalue 2: 0 always, 1 only when an
 * argument is a value whose text is its address, as tostring shows it). */
static int l_tainting(lua_State *L)
{
	mtd_rules *r;
	lua_getallocf(L, (void **)&r);
	if (!lua_tointeger(L, lua_upvalueindex(2))) {
		r->taint = 1;
	} else {
		for (int i = 1, n = lua_gettop(L); i <= n; i++) {
			int t = lua_type(L, i);
			if (t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA ||
			    t == LUA_TLIGHTUSERDATA || t == LUA_TTHREAD) {
				r->taint = 1;
				break;
			}
		}
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* Replace t[name] (t on top of the stack) with l_tainting around it. */
static void wrap_tainting(lua_State *L, const char *name, int mode)
{
	lua_getfield(L, -1, name);
	lua_pushinteger(L, mode);
	lua_pushcclosure(L, l_tainting, 2);
	lua_setfield(L, -2, name);
}

static int undefined_global(lua_State *L)
{
	return luaL_error(L, "undefined global '%s'", luaL_checkstring(L, 2));
}

static int l_level(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	int v = n == 4 && !memcmp(s, "none", 4) ? 0 : mtd_level_from_name(s, n);
	if (v < 0)
		return luaL_error(L, "'%s' is not a threat level", s);
	lua_pushinteger(L, v);
	return 1;
}

static int rank(lua_State *L, int i)
{
	size_t n;
	const char *s = luaL_checklstring(L, i, &n);
	int v = n == 4 && !memcmp(s, "none", 4) ? 0 : mtd_level_from_name(s, n);
	if (v < 0)
		luaL_argerror(L, i, "not a threat level");
	return v;
}

static int l_above(lua_State *L)
{
	lua_pushboolean(L, rank(L, 1) > rank(L, 2));
	return 1;
}

static int l_max(lua_State *L)
{
	int a = rank(L, 1), b = rank(L, 2);
	lua_pushstring(L, mtd_level_name(a > b ? a : b));
	return 1;
}

/* Lua's message for a refused binary chunk or a missing file does not
 * always carry the path: make sure it does. */
static void load_error(char *err, size_t n, const char *path, const char *m)
{
	if (m && strstr(m, path))
		mtd_err(err, n, "%s", m);
	else
		mtd_err(err, n, "%s: %s", path, m ? m : "cannot load");
}

static int l_time(lua_State *L)
{
	char buf[40];
	lua_pushstring(L, mtd_time_format((int64_t)luaL_checkinteger(L, 1), buf, sizeof buf));
	return 1;
}

/* ---- rule files compiled once per content ----
 *
 * Every evaluation pass builds a fresh sandbox (a new lua_State: nothing a
 * script did in one pass, globals or upvalues, can reach the next one), and
 * compiling the rule files was most of building it: callgrind, serve
 * taking 20 pushes of 100 reports, the sandbox 7.8% of the pushes'
 * instructions, luaL_loadfilex 6.0% of them. So a file read for a pass is
 * compiled only when its bytes differ from the last compilation of that
 * path in this process; otherwise the bytecode lua_dump made of that
 * compilation (with its debug information: messages name the same file and
 * lines) is loaded into the fresh state. Compiled from the very bytes that
 * are compared, so a file changed at any moment is compiled again. Files
 * that luaL_loadfilex reads specially (a BOM, a first line starting with
 * '#', a binary chunk: refused by mode "t" as before), unreadable or larger
 * than CHUNK_SRC_MAX are loaded by luaL_loadfilex as before, not kept. */
#define CHUNKS_MAX 16            /* paths kept */
#define CHUNK_SRC_MAX (1u << 20) /* bytes of a file kept */

typedef struct chunk {
	char *path, *src, *code; /* malloc'ed, owned by the cache */
	size_t nsrc, ncode;
} chunk;

static struct {
	pthread_mutex_t lock; /* evaluations may run in several threads */
	chunk c[CHUNKS_MAX];
	size_t n, next; /* kept; the one replaced next when full */
} chunks = {.lock = PTHREAD_MUTEX_INITIALIZER};

typedef struct dumpbuf {
	char *b;
	size_t n, cap;
	int oom;
} dumpbuf;

static int dump_put(lua_State *L, const void *p, size_t sz, void *ud)
{
	dumpbuf *d = ud;
	(void)L;
	if (d->oom)
		return 1;
	if (d->n + sz > d->cap) {
		size_t cap = d->cap ? d->cap : 4096;
		char *b;
		while (cap < d->n + sz)
			cap *= 2;
		if (!(b = realloc(d->b, cap))) {
			d->oom = 1;
			return 1;
		}
		d->b = b;
		d->cap = cap;
	}
	memcpy(d->b + d->n, p, sz);
	d->n += sz;
	return 0;
}

/* The whole file at path (malloc'ed, *n bytes), or NULL when it cannot be
 * read or holds more than CHUNK_SRC_MAX bytes. The buffer is sized by the
 * file's size (it is read at every pass: a buffer of CHUNK_SRC_MAX each
 * time was an mmap and munmap per file and pass); one byte more tells a
 * file that grew meanwhile. */
static char *read_small(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	size_t cap;
	char *b = NULL;
	*n = 0;
	if (f && !fstat(fileno(f), &st) && st.st_size >= 0 &&
	    (uint64_t)st.st_size <= CHUNK_SRC_MAX) {
		cap = (size_t)st.st_size + 1;
		if ((b = malloc(cap)) && ((*n = fread(b, 1, cap, f)) == cap || ferror(f))) {
			free(b); /* grew while read, or unreadable */
			b = NULL;
		}
	}
	if (f)
		fclose(f);
	return b;
}

/* The chunk of rule file path onto L's stack as luaL_loadfilex(L, path,
 * "t") puts it (its status; the message on the stack on failure). */
static int load_file(lua_State *L, const char *path)
{
	size_t nsrc, i;
	char *src = read_small(path, &nsrc), *name, chunkname[4100];
	chunk *c = NULL;
	dumpbuf d = {0};
	int rc;
	if (!src || (nsrc && (src[0] == '#' || src[0] == '\xEF' || src[0] == LUA_SIGNATURE[0]))) {
		free(src);
		return luaL_loadfilex(L, path, "t");
	}
	snprintf(chunkname, sizeof chunkname, "@%s", path);
	pthread_mutex_lock(&chunks.lock);
	for (i = 0; i < chunks.n && strcmp(chunks.c[i].path, path); i++)
		;
	if (i < chunks.n && chunks.c[i].nsrc == nsrc && !memcmp(chunks.c[i].src, src, nsrc)) {
		rc = luaL_loadbufferx(L, chunks.c[i].code, chunks.c[i].ncode, chunkname, "b");
		pthread_mutex_unlock(&chunks.lock);
		free(src);
		return rc;
	}
	pthread_mutex_unlock(&chunks.lock);
	if ((rc = luaL_loadbufferx(L, src, nsrc, chunkname, "t")) != LUA_OK ||
	    lua_dump(L, dump_put, &d, 0) || d.oom) {
		free(src);
		free(d.b);
		return rc; /* compiled (or not) as before, not kept */
	}
	if (!(name = strdup(path))) { /* memory short: compiled, not kept */
		free(src);
		free(d.b);
		return LUA_OK;
	}
	pthread_mutex_lock(&chunks.lock);
	for (i = 0; i < chunks.n && strcmp(chunks.c[i].path, path); i++)
		;
	if (i == chunks.n)
		i = chunks.n < CHUNKS_MAX ? chunks.n++ : chunks.next++ % CHUNKS_MAX;
	c = &chunks.c[i];
	free(c->path);
	free(c->src);
	free(c->code);
	*c = (chunk){.path = name, .src = src, .nsrc = nsrc, .code = d.b, .ncode = d.n};
	pthread_mutex_unlock(&chunks.lock);
	return LUA_OK;
}

/* require, served from the rules directory only, text chunks only. */
static int l_require(lua_State *L)
{
	mtd_rules *r;
	const char *name = luaL_checkstring(L, 1);
	char path[4096];
	lua_getallocf(L, (void **)&r);
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return luaL_error(L, "require '%s': only modules of the rules directory "
					     "([A-Za-z0-9_]) can be required", name);
	lua_getfield(L, LUA_REGISTRYINDEX, "mtd.loaded");
	if (lua_getfield(L, -1, name) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	snprintf(path, sizeof path, "%s/%s.lua", r->dir, name);
	if (load_file(L, path) != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		return strstr(m ? m : "", path) ? lua_error(L)
						  : luaL_error(L, "require '%s': %s: %s", name, path, m);
	}
	lua_call(L, 0, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, name); /* stack: loaded, module */
	return 1;
}

/* Whether msg starts with a script position ("file.lua:12: "). */
static int has_position(const char *msg)
{
	const char *c = strchr(msg, ':');
	size_t d;
	if (!c || c == msg || c - msg > 400)
		return 0;
	d = strspn(c + 1, "0123456789");
	return d > 0 && c[1 + d] == ':';
}

static const char *const type_words[] = {"nil", "boolean", "number", "string", "table"};
static const int type_codes[] = {LUA_TNIL, LUA_TBOOLEAN, LUA_TNUMBER, LUA_TSTRING, LUA_TTABLE};

/* The field read that most likely handed msg's culprit to the script, as
 * " (device field 'os_version' = nil)", into note (or ""): the newest read
 * of the field Lua names ("(field 'x')"), else the newest read of a type
 * that Lua's message names (nil first). A guess from what was read, said
 * only for Lua's type errors. */
static void value_note(const mtd_rules *r, const char *msg, char *note, size_t n)
{
	const struct rread *hit = NULL;
	const char *f = strstr(msg, "(field '");
	unsigned have = r->nreads < NREADS ? r->nreads : NREADS;
	note[0] = '\0';
	if (!have || (!strstr(msg, "attempt to") && !strstr(msg, "bad argument")))
		return;
	if (f) {
		size_t k = strcspn(f + 8, "'");
		for (unsigned i = 0; i < have && !hit; i++) {
			const struct rread *x = &r->reads[(r->nreads - 1 - i) % NREADS];
			if (strlen(x->key) == k && !memcmp(x->key, f + 8, k))
				hit = x;
		}
	}
	for (size_t w = 0; !hit && w < sizeof type_words / sizeof *type_words; w++) {
		if (!strstr(msg, type_words[w]))
			continue;
		for (unsigned i = 0; i < have && !hit; i++) {
			const struct rread *x = &r->reads[(r->nreads - 1 - i) % NREADS];
			if (x->type == type_codes[w])
				hit = x;
		}
	}
	if (!hit)
		return;
	if (hit->owner[0])
		snprintf(note, n, " (%s entry '%s' field '%s' = %s)", hit->table, hit->owner, hit->key,
			 hit->val);
	else
		snprintf(note, n, " (%s field '%s' = %s)", hit->table, hit->key, hit->val);
}

/* Message handler of every call into a script: the message names the
 * script and line (an error raised in a C function, a bad argument, has
 * none of its own: the innermost script position is put first) and the
 * value the script was handed, then a traceback. */
static int traceback(lua_State *L)
{
	mtd_rules *r;
	const char *msg = lua_tostring(L, 1);
	lua_getallocf(L, (void **)&r);
	if (msg) {
		char where[300] = "", note[300];
		if (!has_position(msg))
			lua_where(L, where, sizeof where);
		value_note(r, msg, note, sizeof note);
		lua_pushfstring(L, "%s%s%s%s", where, where[0] ? ": " : "", msg, note);
		msg = lua_tostring(L, -1);
	}
	luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
	return 1;
}

static int sandbox(mtd_rules *r)
{
	lua_State *L = r->L;
	static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
					{LUA_TABLIBNAME, luaopen_table},
					{LUA_STRLIBNAME, luaopen_string},
					{LUA_MATHLIBNAME, luaopen_math},
					{LUA_UTF8LIBNAME, luaopen_utf8},
					{NULL, NULL}};
	static const char *const drop[] = {"dofile", "loadfile", "load", "collectgarbage",
					   "print", NULL};
	static const char *const pat[] = {"find", "match", "gmatch", "gsub", NULL};
	static const luaL_Reg mtd[] = {{"level", l_level}, {"above", l_above},
				       {"max", l_max}, {"time", l_time},
				       {NULL, NULL}};

	for (const luaL_Reg *l = libs; l->func; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	for (int i = 0; drop[i]; i++) {
		lua_pushcfunction(L, blocked);
		lua_setglobal(L, drop[i]);
	}
	lua_getglobal(L, "string");
	for (int i = 0; pat[i]; i++) {
		lua_getfield(L, -1, pat[i]);
		lua_pushinteger(L, !strcmp(pat[i], "find"));   /* has a plain flag */
		lua_pushinteger(L, !strcmp(pat[i], "gmatch")); /* '^' is no anchor */
		lua_pushcclosure(L, guarded, 3);
		lua_setfield(L, -2, pat[i]);
	}
	lua_getfield(L, -1, "rep");
	lua_pushcclosure(L, l_rep, 1);
	lua_setfield(L, -2, "rep");
	/* functions that walk their strings: what they allocate is charged
	 * already (cap_alloc), what they only read is charged here */
	{
		static const char *const str[] = {"byte", "len", "unpack", NULL};
		for (int i = 0; str[i]; i++)
			wrap_charged(L, "string", str[i], CH_STRINGS);
	}
	lua_pop(L, 1);
	lua_getglobal(L, "utf8");
	{
		static const char *const u[] = {"len", "codepoint", "offset", "char", NULL};
		for (int i = 0; u[i]; i++)
			wrap_charged(L, "utf8", u[i], CH_STRINGS);
	}
	lua_pop(L, 1);
	lua_getglobal(L, "table");
	wrap_charged(L, "table", "concat", CH_LIST);
	wrap_charged(L, "table", "insert", CH_LIST);
	wrap_charged(L, "table", "remove", CH_LIST);
	wrap_charged(L, "table", "unpack", CH_RANGE);
	wrap_charged(L, "table", "move", CH_MOVE);
	wrap_charged(L, "table", "sort", CH_SORT);
	lua_pop(L, 1);
	/* Lua runs xpcall's handler for an error raised by the count hook with
	 * hooks off, and __gc finalizers always: replace the one, refuse the
	 * other. */
	lua_pushcfunction(L, l_xpcall);
	lua_setglobal(L, "xpcall");
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, l_setmetatable, 1);
	lua_setglobal(L, "setmetatable");
	/* math.random is fine, but a randomized decision must not be reused
	 * for other devices, nor one that shows a table's address: they taint
	 * the call (see the memo). string.dump would hand out bytecode: block
	 * it. */
	lua_getglobal(L, "math");
	wrap_tainting(L, "random", 0);
	wrap_tainting(L, "randomseed", 0);
	lua_pop(L, 1);
	lua_pushglobaltable(L);
	wrap_tainting(L, "tostring", 1);
	lua_pop(L, 1);
	lua_getglobal(L, "string");
	wrap_tainting(L, "format", 1);
	lua_pushcfunction(L, blocked);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	luaL_newlib(L, mtd);
	lua_pushinteger(L, MTD_RULES_API_VERSION);
	lua_setfield(L, -2, "api_version");
	lua_setglobal(L, "mtd");
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "mtd.loaded");
	lua_pushcfunction(L, l_require);
	lua_setglobal(L, "require");
	lua_pushcfunction(L, traceback);
	r->ref_traceback = luaL_ref(L, LUA_REGISTRYINDEX);
	/* Reading an undefined global is an error: catches typos in rules. */
	lua_pushglobaltable(L);
	lua_newtable(L);
	lua_pushcfunction(L, undefined_global);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_pop(L, 1);
	return 0;
}

/* Run the function on top of the stack with nargs below it... as pcall with
 * traceback; on error the message (with the sandbox's own wording for the
 * memory cap) goes to err. */
static int call(mtd_rules *r, const char *what, int nargs, int nres, char *err, size_t n)
{
	lua_State *L = r->L;
	int base = lua_gettop(L) - nargs, rc;
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_traceback);
	lua_insert(L, base);
	arm(r);
	rc = lua_pcall(L, nargs, nres, base);
	disarm(r);
	lua_remove(L, base);
	if (rc != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		/* Lua raises out-of-memory without calling the handler: no
		 * position, so name the script and function ourselves. */
		if (r->str_hit)
			mtd_err(err, n, "%s: a string longer than the sandbox's limit of %u "
				    "bytes (memory limit of strings) in %s", r->str_where[0] ?
				    r->str_where : what, MAX_STRING, what);
		else if (r->mem_hit)
			mtd_err(err, n, "%s: memory limit of %zu bytes exceeded (%s)", what,
				    r->mem_cap, m ? m : "not enough memory");
		else
			mtd_err(err, n, "%s", m ? m : "(error object is not a string)");
		lua_pop(L, 1);
		return MTD_ERULES;
	}
	return 0;
}

/* ---- groups.lua ---- */

/* Line of the first occurrence of needle in file (0 when not found): Lua
 * tables keep no positions, so errors about values are placed by search. */
static int line_of(const char *path, const char *needle)
{
	FILE *f;
	char line[1024], alt[300] = "";
	int no = 0, found = 0;
	size_t k = strlen(needle);

	/* a value quoted "x" may be written 'x' too */
	if (k >= 2 && k < sizeof alt && needle[0] == '"' && needle[k - 1] == '"') {
		memcpy(alt, needle, k + 1);
		alt[0] = alt[k - 1] = '\'';
	}
	if (!(f = fopen(path, "r")))
		return 0;
	while (!found && fgets(line, sizeof line, f)) {
		no++;
		if (strstr(line, needle) || (alt[0] && strstr(line, alt)))
			found = no;
	}
	fclose(f);
	return found;
}

static int gerr(mtd_rules *r, char *err, size_t n, const char *needle,
		const char *fmt, const char *a, const char *b, const char *c)
{
	char path[4096], msg[600];
	int line;
	snprintf(path, sizeof path, "%s/groups.lua", r->dir);
	line = needle ? line_of(path, needle) : 0;
	snprintf(msg, sizeof msg, fmt, a, b, c);
	if (line)
		mtd_err(err, n, "%s:%d: %s", path, line, msg);
	else
		mtd_err(err, n, "%s: %s", path, msg);
	return MTD_ERULES;
}

#define KNOWN_KEYS "max_level, app_max_level, app_action, app_partner_priority, " \
		   "grace_hours, resources"
#define MAX_RESOURCES 16

static int str_value(mtd_rules *r, const char *gname, const char *key, const char **val,
		     char *err, size_t n)
{
	if (lua_type(r->L, -1) != LUA_TSTRING)
		return gerr(r, err, n, key, "group '%s': %s: must be a string, not a %s", gname, key,
			    luaL_typename(r->L, -1));
	*val = lua_tostring(r->L, -1);
	return 0;
}

static int read_group(mtd_rules *r, const char *gname, gpol *g, char *err, size_t n)
{
	lua_State *L = r->L; /* stack: ..., group table */
	int rc = 0;
	g->max_level = g->app_max_level = g->app_action = g->grace_hours = -1;
	g->priority = PRIO_UNSET;
	g->nresources = -1;
	lua_pushnil(L);
	while (!rc && lua_next(L, -2)) { /* stack: ..., group, key, value */
		const char *key, *val = NULL;
		char quoted[300];
		if (lua_type(L, -2) != LUA_TSTRING) {
			lua_pop(L, 2);
			return gerr(r, err, n, gname, "group '%s': keys must be names%s%s", gname, "", "");
		}
		key = lua_tostring(L, -2);
		if (!strcmp(key, "max_level") || !strcmp(key, "app_max_level")) {
			int lv;
			if (!(rc = str_value(r, gname, key, &val, err, n))) {
				snprintf(quoted, sizeof quoted, "\"%s\"", val);
				lv = mtd_level_from_name(val, strlen(val));
				if (lv < 0)
					rc = gerr(r, err, n, quoted, "group '%s': %s: '%s' is not a threat "
						  "level (secured, low, medium, high)", gname, key, val);
				else
					*(key[0] == 'm' ? &g->max_level : &g->app_max_level) = lv;
			}
		} else if (!strcmp(key, "app_action")) {
			if (!(rc = str_value(r, gname, key, &val, err, n))) {
				snprintf(quoted, sizeof quoted, "\"%s\"", val);
				g->app_action = mtd_app_action_from_name(val);
				if (g->app_action <= MTD_APP_NONE)
					rc = gerr(r, err, n, quoted, "group '%s': app_action: '%s' is not an "
						  "action (warn, block, wipe)%s", gname, val, "");
			}
		} else if (!strcmp(key, "app_partner_priority")) {
			if (!(rc = str_value(r, gname, key, &val, err, n))) {
				snprintf(quoted, sizeof quoted, "\"%s\"", val);
				if (!strcmp(val, "defender"))
					g->priority = PRIO_DEFENDER;
				else if (!strcmp(val, "third_party"))
					g->priority = PRIO_THIRD_PARTY;
				else
					rc = gerr(r, err, n, quoted, "group '%s': app_partner_priority: '%s' "
						  "is not defender or third_party%s", gname, val, "");
			}
		} else if (!strcmp(key, "grace_hours")) {
			/* The reference system's grace period: 0 to 8760 hours. */
			int isnum;
			lua_Number h = lua_tonumberx(L, -1, &isnum);
			if (!isnum || lua_type(L, -1) != LUA_TNUMBER || h < 0 || h > 8760 || h != h)
				rc = gerr(r, err, n, key, "group '%s': grace_hours: must be a number of "
					  "hours from 0 to 8760%s%s", gname, "", "");
			else
				g->grace_hours = (int)(h * 60 + 0.5); /* kept in minutes */
		} else if (!strcmp(key, "resources")) {
			size_t k = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
			if (!lua_istable(L, -1) || k > MAX_RESOURCES)
				rc = gerr(r, err, n, key, "group '%s': resources: must be a list of up to "
					  "16 resource names%s%s", gname, "", "");
			g->nresources = 0;
			for (size_t i = 1; !rc && i <= k; i++) {
				const char *res;
				size_t len;
				lua_rawgeti(L, -1, (lua_Integer)i);
				res = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
				if (!res || len == 0 || len > 64)
					rc = gerr(r, err, n, key, "group '%s': resources: entry %s is not a "
						  "resource name%s", gname, "", "");
				else if (!(g->resources[g->nresources++] = strdup(res)))
					rc = MTD_ENOMEM;
				lua_pop(L, 1);
			}
		} else {
			rc = gerr(r, err, n, key, "group '%s': unknown key '%s' (known: %s)", gname, key,
				  KNOWN_KEYS);
		}
		lua_pop(L, rc ? 2 : 1);
	}
	return rc;
}

static int load_groups(mtd_rules *r, char *err, size_t n)
{
	lua_State *L = r->L;
	char path[4096];
	int rc;

	snprintf(path, sizeof path, "%s/groups.lua", r->dir);
	if (load_file(L, path) != LUA_OK) {
		load_error(err, n, path, lua_tostring(L, -1));
		lua_pop(L, 1);
		return MTD_ERULES;
	}
	if ((rc = call(r, path, 0, 1, err, n)))
		return rc;
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		mtd_err(err, n, "%s: must return a table of groups", path);
		return MTD_ERULES;
	}
	lua_pushnil(L);
	while (lua_next(L, -2)) { /* stack: groups, name, group */
		gpol *np;
		const char *gname;
		if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
			lua_pop(L, 3);
			mtd_err(err, n, "%s: every entry must be NAME = { ... }", path);
			return MTD_ERULES;
		}
		gname = lua_tostring(L, -2);
		np = realloc(r->pols, (r->npols + 1) * sizeof *np);
		if (!np) {
			lua_pop(L, 3);
			return MTD_ENOMEM;
		}
		r->pols = np;
		memset(&np[r->npols], 0, sizeof *np);
		if (!(np[r->npols].name = strdup(gname))) {
			lua_pop(L, 3);
			return MTD_ENOMEM;
		}
		r->npols++;
		if ((rc = read_group(r, gname, &np[r->npols - 1], err, n))) {
			lua_pop(L, 3);
			return rc;
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return 0;
}

static const gpol *find_pol(const mtd_rules *r, const char *name)
{
	for (size_t i = 0; i < r->npols; i++)
		if (!strcmp(r->pols[i].name, name))
			return &r->pols[i];
	return NULL;
}

/* The effective policy of a set of groups, as a Lua table on the stack:
 * each configured group inherits from default; the strictest wins (lowest
 * level, hardest action, shortest grace period, every protected resource). */
/* The policies of the device's groups into chosen (default alone when
 * none is configured) and the default one into *def (none when not
 * configured): their count. */
static size_t choose(mtd_rules *r, const char *const *groups, size_t ng, const gpol *none,
		     const gpol **def, const gpol *chosen[MTD_MAX_GROUPS + 1])
{
	size_t nc = 0;
	if (!(*def = find_pol(r, "default")))
		*def = none;
	for (size_t i = 0; i < ng && nc < MTD_MAX_GROUPS; i++) {
		const gpol *g = find_pol(r, groups[i]);
		if (g && g != *def)
			chosen[nc++] = g;
	}
	if (nc == 0)
		chosen[nc++] = *def; /* no configured group: default alone */
	return nc;
}

static const gpol *no_policy(void)
{
	static const gpol none = {.max_level = -1, .app_max_level = -1, .app_action = -1,
				  .grace_hours = -1, .nresources = -1};
	return &none;
}

int64_t mtd_rules_grace(mtd_rules *r, const char *const *groups, size_t ng)
{
	const gpol *def, *chosen[MTD_MAX_GROUPS + 1];
	size_t nc = choose(r, groups, ng, no_policy(), &def, chosen);
	int grace = -1;
	for (size_t i = 0; i < nc; i++) { /* the shortest, as push_policy */
		int gr = chosen[i]->grace_hours >= 0 ? chosen[i]->grace_hours : def->grace_hours;
		if (gr >= 0 && (grace < 0 || gr < grace))
			grace = gr;
	}
	return grace > 0 ? (int64_t)grace * 60 : 0;
}

static void push_policy(mtd_rules *r, const char *const *groups, size_t ng)
{
	lua_State *L = r->L;
	static const char *const default_resources[] = {"exchange", "sharepoint"};
	const gpol *def, *chosen[MTD_MAX_GROUPS + 1];
	const char *src_max = "default", *src_app = "default", *src_act = "default",
		   *src_grace = "default";
	int max = -1, app = -1, act = -1, prio = -1, grace = -1;
	size_t nc = choose(r, groups, ng, no_policy(), &def, chosen);

	for (size_t i = 0; i < nc; i++) {
		const gpol *g = chosen[i];
		const char *gn = g == def ? "default" : g->name;
		int m = g->max_level >= 0 ? g->max_level : def->max_level;
		int a = g->app_max_level >= 0 ? g->app_max_level : def->app_max_level;
		int ac = g->app_action >= 0 ? g->app_action : def->app_action;
		int p = g->priority != PRIO_UNSET ? g->priority : def->priority;
		int gr = g->grace_hours >= 0 ? g->grace_hours : def->grace_hours;
		if (m >= 0 && (max < 0 || m < max)) {
			max = m;
			src_max = g->max_level >= 0 ? gn : "default";
		}
		if (a >= 0 && (app < 0 || a < app)) {
			app = a;
			src_app = g->app_max_level >= 0 ? gn : "default";
		}
		if (ac > act) {
			act = ac;
			src_act = g->app_action >= 0 ? gn : "default";
		}
		if (gr >= 0 && (grace < 0 || gr < grace)) {
			grace = gr;
			src_grace = g->grace_hours >= 0 ? gn : "default";
		}
		prio = prio < 0 ? p : prio == p ? p : PRIO_UNSET;
	}
	lua_createtable(L, 0, 8);
	if (max >= 0) {
		lua_pushstring(L, mtd_level_name(max));
		lua_setfield(L, -2, "max_level");
	}
	if (app >= 0) {
		lua_pushstring(L, mtd_level_name(app));
		lua_setfield(L, -2, "app_max_level");
		lua_pushstring(L, mtd_app_action_name(act >= 0 ? act : MTD_APP_BLOCK));
		lua_setfield(L, -2, "app_action");
	}
	if (prio == PRIO_DEFENDER || prio == PRIO_THIRD_PARTY) {
		lua_pushstring(L, prio == PRIO_DEFENDER ? "defender" : "third_party");
		lua_setfield(L, -2, "app_partner_priority");
	}
	lua_pushnumber(L, grace > 0 ? grace / 60.0 : 0);
	lua_setfield(L, -2, "grace_hours");
	/* resources: the union over the chosen groups, in first-seen order */
	lua_newtable(L);
	{
		int k = 0;
		for (size_t i = 0; i < nc; i++) {
			const gpol *g = chosen[i]->nresources >= 0 ? chosen[i] : def;
			int nr = g->nresources >= 0 ? g->nresources : 2;
			for (int j = 0; j < nr; j++) {
				const char *res = g->nresources >= 0 ? g->resources[j] : default_resources[j];
				int seen = 0;
				for (int q = 1; q <= k && !seen; q++) {
					lua_rawgeti(L, -1, q);
					seen = !strcmp(lua_tostring(L, -1), res);
					lua_pop(L, 1);
				}
				if (!seen) {
					lua_pushstring(L, res);
					lua_rawseti(L, -2, ++k);
				}
			}
		}
	}
	lua_setfield(L, -2, "resources");
	lua_createtable(L, 0, 4); /* which group set each value, for reasons */
	lua_pushstring(L, src_max);
	lua_setfield(L, -2, "max_level");
	lua_pushstring(L, src_app);
	lua_setfield(L, -2, "app_max_level");
	lua_pushstring(L, src_act);
	lua_setfield(L, -2, "app_action");
	lua_pushstring(L, src_grace);
	lua_setfield(L, -2, "grace_hours");
	lua_setfield(L, -2, "from");
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_polmt);
	lua_setmetatable(L, -2);
}

/* ---- policy.lua ---- */

static int load_policy(mtd_rules *r, char *err, size_t n)
{
	lua_State *L = r->L;
	char path[4096];
	int rc;

	snprintf(path, sizeof path, "%s/policy.lua", r->dir);
	snprintf(r->policy_path, sizeof r->policy_path, "%s", path);
	if (load_file(L, path) != LUA_OK) {
		load_error(err, n, path, lua_tostring(L, -1));
		lua_pop(L, 1);
		return MTD_ERULES;
	}
	if ((rc = call(r, path, 0, 1, err, n)))
		return rc;
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		mtd_err(err, n, "%s: must return a table with functions compliance and app_protection", path);
		return MTD_ERULES;
	}
	lua_getfield(L, -1, "compliance");
	lua_getfield(L, -2, "app_protection");
	if (!lua_isfunction(L, -1) || !lua_isfunction(L, -2)) {
		lua_pop(L, 3);
		mtd_err(err, n, "%s: the returned table lacks function compliance or app_protection", path);
		return MTD_ERULES;
	}
	r->ref_app = luaL_ref(L, LUA_REGISTRYINDEX);
	r->ref_compliance = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_getfield(L, -1, "inventory"); /* building apps costs: only on request */
	r->wants_inventory = lua_toboolean(L, -1);
	lua_pop(L, 1);
	/* pure = true: the functions depend on their arguments only, so one
	 * call serves every device that looks the same to them (the memo) */
	lua_getfield(L, -1, "pure");
	if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) {
		mtd_err(err, n, "%s: pure must be true or false (true: compliance and "
			    "app_protection depend only on their arguments), not a %s", path,
			    luaL_typename(L, -1));
		lua_pop(L, 2);
		return MTD_ERULES;
	}
	r->pure = lua_toboolean(L, -1);
	lua_pop(L, 2);
	return 0;
}

typedef struct open_job {
	mtd_rules *r;
	int64_t now;
	const char *cloud;
	char *err;
	size_t n;
	int rc;
} open_job;

static int lazy_device(lua_State *L);
static int lazy_previous(lua_State *L);
static int lazy_vendor(lua_State *L);
static int absent_app(lua_State *L);
static int absent_policy(lua_State *L);
static int new_lazy_mt(lua_State *L, lua_CFunction f);

/* Setting up the sandbox and loading the scripts, as a protected call: a
 * memory cap too small for the libraries is an error, not a Lua panic. */
static int open_protected(lua_State *L)
{
	open_job *j = lua_touserdata(L, 1);
	mtd_rules *r = j->r;
	lua_settop(L, 0);
	sandbox(r);
	lua_newtable(L);
	r->ref_cache = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, j->now);
	lua_setfield(L, -2, "now");
	lua_pushstring(L, j->cloud ? j->cloud : "commercial");
	lua_setfield(L, -2, "cloud");
	lua_pushinteger(L, MTD_RULES_API_VERSION);
	lua_setfield(L, -2, "api_version");
	r->ref_ctx = luaL_ref(L, LUA_REGISTRYINDEX);
	r->ref_devmt = new_lazy_mt(L, lazy_device);
	r->ref_prevmt = new_lazy_mt(L, lazy_previous);
	r->ref_vendmt = new_lazy_mt(L, lazy_vendor);
	r->ref_appmt = new_lazy_mt(L, absent_app);
	r->ref_polmt = new_lazy_mt(L, absent_policy);
	if (!(j->rc = load_groups(r, j->err, j->n)))
		j->rc = load_policy(r, j->err, j->n);
	lua_settop(L, 0);
	return 0;
}

int mtd_rules_open(const char *dir, const mtd_rules_limits *lim,
		   const char *cloud, int64_t now, mtd_rules **out, char *err,
		   size_t n)
{
	mtd_rules *r = calloc(1, sizeof *r);
	int rc;

	*out = NULL;
	if (!r || !(r->dir = strdup(dir))) {
		free(r);
		return MTD_ENOMEM;
	}
	r->mem_cap = lim && lim->memory ? lim->memory : 64u << 20;
	r->limit = lim && lim->instructions ? lim->instructions : 10000000u;
	r->cpu_call_ns = (lim && lim->cpu_ms_call ? lim->cpu_ms_call : MTD_RULES_CPU_MS_CALL) *
			 1000000u;
	r->cpu_total_ns = (lim && lim->cpu_ms_total ? lim->cpu_ms_total : MTD_RULES_CPU_MS_TOTAL) *
			  1000000u;
	if (!msgpack_zone_init(&r->zone, 4096)) {
		free(r->dir);
		free(r);
		return MTD_ENOMEM;
	}
	r->L = lua_newstate(cap_alloc, r);
	if (!r->L) {
		mtd_rules_close(r);
		return MTD_ENOMEM;
	}
	{
		open_job j = {r, now, cloud, err, n, 0};
		lua_pushcfunction(r->L, open_protected);
		lua_pushlightuserdata(r->L, &j);
		if (lua_pcall(r->L, 1, 0, 0) != LUA_OK) {
			const char *m = lua_tostring(r->L, -1);
			if (r->mem_hit)
				mtd_err(err, n, "%s: memory limit of %zu bytes is too small "
					    "for the rules sandbox itself", dir, r->mem_cap);
			else
				mtd_err(err, n, "%s: %s", dir, m ? m : "cannot set up the sandbox");
			j.rc = r->mem_hit ? MTD_ENOMEM : MTD_ERULES;
		}
		if ((rc = j.rc)) {
			mtd_rules_close(r);
			return rc;
		}
	}
	*out = r;
	return 0;
}

void mtd_rules_close(mtd_rules *r)
{
	if (!r)
		return;
	if (r->L)
		lua_close(r->L);
	msgpack_zone_destroy(&r->zone);
	for (size_t i = 0; i < r->npols; i++) {
		free(r->pols[i].name);
		for (int k = 0; k < r->pols[i].nresources; k++)
			free(r->pols[i].resources[k]);
	}
	free(r->pols);
	for (size_t i = 0; i < r->nents; i++)
		free(r->ents[i]);
	free(r->ents);
	free(r->slots);
	free(r->cur_vent);
	for (size_t i = 0; i < r->nvnames; i++)
		free(r->vnames[i]);
	free(r->vnames);
	free(r->vslots);
	free(r->near);
	free(r->dir);
	free(r);
}

void mtd_rules_memo(mtd_rules *r, int on)
{
	r->memo_on = on != 0;
}

int mtd_rules_pure(const mtd_rules *r)
{
	return r->pure;
}

const char *mtd_rules_dir(const mtd_rules *r)
{
	return r->dir;
}

const char *mtd_rules_group(const mtd_rules *r, size_t i, int *line)
{
	char path[4096], needle[300];
	if (i >= r->npols)
		return NULL;
	if (line) { /* NAME = {, NAME={, ["NAME"] = {, then anywhere */
		static const char *const forms[] = {"%s =", "%s=", "\"%s\"", "%s"};
		snprintf(path, sizeof path, "%s/groups.lua", r->dir);
		*line = 0;
		for (size_t k = 0; k < 4 && !*line; k++) {
			snprintf(needle, sizeof needle, forms[k], r->pols[i].name);
			*line = line_of(path, needle);
		}
	}
	return r->pols[i].name;
}

int mtd_rules_wants_inventory(const mtd_rules *r)
{
	return r->wants_inventory;
}

int mtd_access_blocked(int enrolled, int state, int app_action)
{
	return state == MTD_ST_NONCOMPLIANT || (!enrolled && app_action >= MTD_APP_BLOCK);
}

lua_State *mtd_rules_lua(mtd_rules *r)
{
	return r->L;
}

int mtd_rules_pcall(mtd_rules *r, const char *what, int nargs, int nres, char *err, size_t n)
{
	return call(r, what, nargs, nres, err, n);
}

/* ---- device table ---- */

static void set_str(lua_State *L, const char *k, const char *v)
{
	if (v) {
		lua_pushstring(L, v);
		lua_setfield(L, -2, k);
	}
}

static void push_mp(lua_State *L, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_BOOLEAN: lua_pushboolean(L, o->via.boolean); break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: lua_pushinteger(L, (lua_Integer)o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: lua_pushinteger(L, o->via.i64); break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: lua_pushnumber(L, o->via.f64); break;
	case MSGPACK_OBJECT_STR: lua_pushlstring(L, o->via.str.ptr, o->via.str.size); break;
	case MSGPACK_OBJECT_ARRAY:
		lua_createtable(L, (int)o->via.array.size, 0);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			push_mp(L, &o->via.array.ptr[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	case MSGPACK_OBJECT_MAP:
		lua_createtable(L, 0, (int)o->via.map.size);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			push_mp(L, &o->via.map.ptr[i].key);
			push_mp(L, &o->via.map.ptr[i].val);
			lua_rawset(L, -3);
		}
		break;
	default: lua_pushnil(L); break;
	}
}

/* Device-specific fields are not plain fields of the tables the rules get:
 * an __index metamethod serves them on first access, rawsets them so a
 * second read is plain, and marks the call tainted (its result then holds
 * something the memo key does not, and is not reused). What stays plain is
 * exactly what memo_key holds. Each function answers only for the tables
 * of the call in progress: nil for one a script kept from an earlier call. */

static int is_key(const char *k, size_t kl, const char *lit)
{
	return kl == strlen(lit) && !memcmp(k, lit, kl);
}

/* Value on top: rawset it as t[k] (t, k at 1, 2) when it is not nil. */
static int keep(lua_State *L)
{
	if (!lua_isnil(L, -1)) {
		lua_pushvalue(L, 2);
		lua_pushvalue(L, -2);
		lua_rawset(L, 1);
	}
	return 1;
}

/* Note a read of t[k] (t, k at 1, 2) during a call: the value on top when
 * nres is 1, nil when 0. owner names the entry (a vendor, an app), may be
 * NULL. Returns nres. */
static int noted(lua_State *L, mtd_rules *r, const char *table, const char *owner, int nres)
{
	struct rread *x;
	const char *k;
	int t = nres ? lua_type(L, -1) : LUA_TNIL;
	if (!r->cur || lua_type(L, 2) != LUA_TSTRING)
		return nres;
	x = &r->reads[r->nreads++ % NREADS];
	k = lua_tostring(L, 2);
	x->table = table;
	snprintf(x->owner, sizeof x->owner, "%s", owner ? owner : "");
	snprintf(x->key, sizeof x->key, "%s", k);
	x->type = t;
	if (t == LUA_TNIL)
		snprintf(x->val, sizeof x->val, "nil");
	else if (t == LUA_TSTRING)
		snprintf(x->val, sizeof x->val, "\"%.56s\"", lua_tostring(L, -1));
	else if (t == LUA_TNUMBER && lua_isinteger(L, -1))
		snprintf(x->val, sizeof x->val, "%lld", (long long)lua_tointeger(L, -1));
	else if (t == LUA_TNUMBER)
		snprintf(x->val, sizeof x->val, "%.14g", (double)lua_tonumber(L, -1));
	else if (t == LUA_TBOOLEAN)
		snprintf(x->val, sizeof x->val, "%s", lua_toboolean(L, -1) ? "true" : "false");
	else
		snprintf(x->val, sizeof x->val, "a %s", lua_typename(L, t));
	return nres;
}

/* The string field k of the table at 1, raw (NULL when not a string). */
static const char *raw_str(lua_State *L, const char *k)
{
	const char *v;
	lua_pushstring(L, k);
	v = lua_rawget(L, 1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1); /* the table still holds the string */
	return v;
}

/* __index of an app of device.apps and of the policy: nothing to serve,
 * the absent field is noted. */
static int absent_app(lua_State *L)
{
	mtd_rules *r;
	lua_getallocf(L, (void **)&r);
	return noted(L, r, "device.apps", raw_str(L, "app_id"), 0);
}

static int absent_policy(lua_State *L)
{
	mtd_rules *r;
	lua_getallocf(L, (void **)&r);
	return noted(L, r, "policy", NULL, 0);
}

static void push_apps(mtd_rules *r, lua_State *L, const mtd_app_view *apps, size_t napps)
{
	lua_createtable(L, (int)napps, 0);
	for (size_t i = 0; i < napps; i++) {
		const mtd_app_view *a = &apps[i];
		const char *const fl[] = {"adhoc_signed", "app_store", "beta", "vpp",
					  "validated", "managed"};
		const int fv[] = {a->adhoc_signed, a->app_store, a->beta, a->vpp,
				  a->validated, a->managed};
		lua_createtable(L, 0, 12);
		set_str(L, "app_id", a->app_id);
		set_str(L, "version", a->version);
		set_str(L, "short_version", a->short_version);
		set_str(L, "name", a->name);
		if (a->bundle_size >= 0) {
			lua_pushinteger(L, a->bundle_size);
			lua_setfield(L, -2, "bundle_size");
		}
		if (a->dynamic_size >= 0) {
			lua_pushinteger(L, a->dynamic_size);
			lua_setfield(L, -2, "dynamic_size");
		}
		for (int k = 0; k < 6; k++)
			if (fv[k] >= 0) {
				lua_pushboolean(L, fv[k]);
				lua_setfield(L, -2, fl[k]);
			}
		lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_appmt);
		lua_setmetatable(L, -2);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* device.tasks: the open tasks the loader gives, each {vendor, id, kind,
 * cve, software, version, severity, first_seen, state = "open"}. */
static int push_tasks(lua_State *L, const mtd_eval_in *in)
{
	const mtd_task_view *t = NULL;
	size_t n = 0;
	int rc = in->tasks ? in->tasks(in->tasks_ud, in, &t, &n) : 0;

	if (rc) { /* the message on the stack, raised by the caller */
		lua_pushfstring(L, "reading the security tasks of device '%s': %s",
				in->id ? in->id : "?", mtd_strerror(rc));
		return -1;
	}
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_createtable(L, 0, 9);
		set_str(L, "vendor", t[i].vendor);
		set_str(L, "id", t[i].id);
		set_str(L, "kind", t[i].kind);
		set_str(L, "cve", t[i].cve);
		set_str(L, "software", t[i].software);
		set_str(L, "version", t[i].version);
		set_str(L, "severity", t[i].severity);
		lua_pushinteger(L, t[i].first_seen);
		lua_setfield(L, -2, "first_seen");
		set_str(L, "state", "open");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 0;
}

/* __index of device: id, os_version, user, apps, tasks. */
static int lazy_device(lua_State *L)
{
	mtd_rules *r;
	const mtd_eval_in *in;
	const char *k;
	size_t kl;
	int armed;

	lua_getallocf(L, (void **)&r);
	in = r->cur;
	if (!in || lua_topointer(L, 1) != r->cur_dev || lua_type(L, 2) != LUA_TSTRING)
		return 0;
	k = lua_tolstring(L, 2, &kl);
	if (is_key(k, kl, "apps") && !r->wants_inventory)
		return noted(L, r, "device", NULL, 0); /* nil for every device alike */
	if (!is_key(k, kl, "id") && !is_key(k, kl, "os_version") && !is_key(k, kl, "user") &&
	    !is_key(k, kl, "apps") && !is_key(k, kl, "tasks"))
		return noted(L, r, "device", NULL, 0);
	r->taint = 1;
	/* built as it was before the call: not charged to the script's budget */
	armed = r->armed;
	r->armed = 0;
	if (k[0] == 't') {
		int rc = push_tasks(L, in);
		r->armed = armed;
		return rc ? lua_error(L) : noted(L, r, "device", NULL, keep(L));
	}
	if (k[0] == 'a')
		push_apps(r, L, in->apps, in->napps);
	else if (k[0] == 'i' && in->id)
		lua_pushstring(L, in->id);
	else if (k[0] == 'o' && in->os_version)
		lua_pushstring(L, in->os_version);
	else if (k[0] == 'u' && in->user)
		lua_pushstring(L, in->user);
	else
		lua_pushnil(L);
	r->armed = armed;
	return noted(L, r, "device", NULL, keep(L));
}

/* __index of device.previous: since. */
static int lazy_previous(lua_State *L)
{
	mtd_rules *r;
	const char *k;
	size_t kl;

	lua_getallocf(L, (void **)&r);
	if (!r->cur || lua_topointer(L, 1) != r->cur_prev || lua_type(L, 2) != LUA_TSTRING)
		return 0;
	k = lua_tolstring(L, 2, &kl);
	if (!is_key(k, kl, "since"))
		return noted(L, r, "device.previous", NULL, 0);
	r->taint = 1;
	lua_pushinteger(L, r->cur->prev_since);
	return noted(L, r, "device.previous", NULL, keep(L));
}

/* The open threats of v (msgpack) as a list, each with since (a
 * snapshot's threats, stored as received, have the report's time). */
static void push_threats(mtd_rules *r, const mtd_vreport *v)
{
	lua_State *L = r->L;
	msgpack_object o;
	size_t off = 0;
	msgpack_zone_clear(&r->zone);
	if (msgpack_unpack(v->threats, v->threats_len, &off, &r->zone, &o) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    o.type != MSGPACK_OBJECT_ARRAY) {
		lua_pushnil(L);
		return;
	}
	push_mp(L, &o); /* stack: list */
	for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
		if (lua_getfield(L, -1, "since") == LUA_TNIL) { /* stack: list, threat, since */
			lua_pushinteger(L, v->at);
			lua_setfield(L, -3, "since");
		}
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
}

/* __index of an entry of device.vendors or device.app_vendors: at and
 * threats, which a vendor without a report (level nil) never has, and
 * threat, the open threat that sets the level, which only an entry whose
 * level an open threat sets has (memo_key holds whether it does). */
static int lazy_vendor(lua_State *L)
{
	mtd_rules *r;
	const mtd_vreport *v;
	const void *t;
	const char *k;
	size_t kl, i;
	int at, cause, armed;

	lua_getallocf(L, (void **)&r);
	if (!r->cur || lua_type(L, 2) != LUA_TSTRING)
		return 0;
	k = lua_tolstring(L, 2, &kl);
	at = is_key(k, kl, "at");
	cause = is_key(k, kl, "threat");
	t = lua_topointer(L, 1);
	for (i = 0; i < r->ncur_vent && r->cur_vent[i] != t; i++)
		;
	if (i == r->ncur_vent)
		return 0;
	v = i < r->cur->nvendors ? &r->cur->vendors[i] : &r->cur->app_vendors[i - r->cur->nvendors];
	if ((!at && !cause && !is_key(k, kl, "threats")) || v->level <= 0 || (cause && v->cause <= 0))
		return noted(L, r, i < r->cur->nvendors ? "device.vendors" : "device.app_vendors",
			     v->vendor, 0);
	r->taint = 1;
	armed = r->armed;
	r->armed = 0;
	lua_pushnil(L);
	if (at) {
		lua_pushinteger(L, v->at);
	} else if (v->threats) {
		push_threats(r, v);
		if (cause) { /* stack: nil, list */
			lua_rawgeti(L, -1, (lua_Integer)v->cause);
			lua_remove(L, -2);
		}
	}
	r->armed = armed;
	return noted(L, r, i < r->cur->nvendors ? "device.vendors" : "device.app_vendors", v->vendor,
		     keep(L));
}

static int new_lazy_mt(lua_State *L, lua_CFunction f)
{
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, f);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0); /* getmetatable gives false; setmetatable refuses */
	lua_setfield(L, -2, "__metatable");
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ---- the plain fields (rules.h, MTD_RULES_*_FIELDS) ----
 * The memo key and the tables the rules get, both generated from the
 * lists: device_key and vendor_key hold each field's value in its type,
 * and each push_* below sets its field from that value alone. */

static uint64_t name_hash(const char *p)
{
	uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
	return h;
}

/* name's code in r->vnames, found or added; -1 when memory is short. */
static int64_t vendor_intern(mtd_rules *r, const char *name)
{
	uint64_t h = name_hash(name);
	size_t i, mask = r->nvslots - 1;
	for (i = r->nvslots ? h & mask : 0; r->nvslots && r->vslots[i]; i = (i + 1) & mask)
		if (!strcmp(r->vnames[r->vslots[i]], name))
			return r->vslots[i];
	if (2 * (r->nvnames + 1) > r->nvslots) { /* grow: load at most 1/2 */
		size_t ns = r->nvslots ? 2 * r->nvslots : 64;
		uint32_t *sl = calloc(ns, sizeof *sl);
		char **vn = realloc(r->vnames, ns / 2 * sizeof *vn);
		if (vn)
			r->vnames = vn;
		if (!sl || !vn || ns > UINT32_MAX) {
			free(sl);
			return -1;
		}
		for (size_t k = 1; k < r->nvnames; k++) {
			size_t j = name_hash(r->vnames[k]) & (ns - 1);
			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = (uint32_t)k;
		}
		free(r->vslots);
		r->vslots = sl;
		r->nvslots = ns;
		mask = ns - 1;
		for (i = h & mask; sl[i]; i = (i + 1) & mask)
			;
	}
	if (!r->nvnames) {
		r->vnames[0] = NULL; /* code 0: none */
		r->nvnames = 1;
	}
	if (!(r->vnames[r->nvnames] = strdup(name)))
		return -1;
	r->vslots[i] = (uint32_t)r->nvnames;
	return (int64_t)r->nvnames++;
}

/* The code of vendor name in memo keys, the same for the life of r: 0 for
 * none, -1 when memory is short (the call is then not memoized). r's own
 * copy (mtd_rules_vendor_name) costs a lookup by address. */
static inline int64_t vendor_code(mtd_rules *r, const char *name)
{
	size_t c = ((uintptr_t)name >> 4) % VCACHE;
	int64_t code;
	if (!name)
		return 0;
	if (r->nvnames && r->vnames[r->vcache_code[c]] == name) /* code 0 is NULL */
		return r->vcache_code[c];
	if ((code = vendor_intern(r, name)) > 0 && r->vnames[code] == name)
		r->vcache_code[c] = (uint32_t)code;
	return code;
}

const char *mtd_rules_vendor_name(mtd_rules *r, const char *name)
{
	int64_t code = name ? vendor_intern(r, name) : -1;
	return code > 0 ? r->vnames[code] : NULL;
}

/* The key's parts: a member per listed field, laid out as these structs
 * (the key bytes are written through memcpy at the members' offsets, a
 * part zeroed first so that no padding byte is left undefined). */
#define KEY_MEMBER_(name, type, value) type name;
typedef struct dkey {
	MTD_RULES_DEVICE_FIELDS(KEY_MEMBER_)
} dkey;
typedef struct vkey {
	MTD_RULES_VENDOR_FIELDS(KEY_MEMBER_)
} vkey;
#undef KEY_MEMBER_

/* A value into field name of part S at p; bad when it does not fit. */
#define KEY_SET_(p, S, name, type, value, bad)                                                     \
	do {                                                                                       \
		int64_t v_ = (int64_t)(value);                                                     \
		type t_ = (type)v_;                                                                \
		(bad) |= (int64_t)t_ != v_;                                                        \
		memcpy((p) + offsetof(S, name), &t_, sizeof t_);                                   \
	} while (0)

/* in's device fields at p; nonzero when a value does not fit. */
static inline int device_key(mtd_rules *r, const mtd_eval_in *in, unsigned char *p)
{
	int bad = 0;
	(void)r;
	memset(p, 0, sizeof(dkey));
#define DEVICE_SET_(name, type, value) KEY_SET_(p, dkey, name, type, value, bad);
	MTD_RULES_DEVICE_FIELDS(DEVICE_SET_)
#undef DEVICE_SET_
	return bad;
}

/* v's fields at p; nonzero when a value does not fit. */
static inline int vendor_key(mtd_rules *r, const mtd_vreport *v, unsigned char *p)
{
	int bad = 0;
	memset(p, 0, sizeof(vkey));
#define VENDOR_SET_(name, type, value) KEY_SET_(p, vkey, name, type, value, bad);
	MTD_RULES_VENDOR_FIELDS(VENDOR_SET_)
#undef VENDOR_SET_
	return bad;
}

static void push_platform(mtd_rules *r, const mtd_eval_in *in, int64_t k)
{
	(void)in;
	set_str(r->L, "platform", mtd_platform_name((int)k));
}

static void push_ownership(mtd_rules *r, const mtd_eval_in *in, int64_t k)
{
	(void)in;
	set_str(r->L, "ownership", k ? "corporate" : "personal");
}

static void push_management(mtd_rules *r, const mtd_eval_in *in, int64_t k)
{
	(void)in;
	set_str(r->L, "management", k ? "enrolled" : "unenrolled");
}

static void push_previous(mtd_rules *r, const mtd_eval_in *in, int64_t k)
{
	lua_State *L = r->L;
	(void)in;
	if (k <= 0)
		return; /* never decided */
	lua_createtable(L, 0, 2);
	set_str(L, "state", mtd_state_name((int)k - 1));
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_prevmt);
	lua_setmetatable(L, -2);
	r->cur_prev = lua_topointer(L, -1);
	lua_setfield(L, -2, "previous");
}

static void push_groups(mtd_rules *r, const mtd_eval_in *in, int64_t k)
{
	lua_State *L = r->L;
	(void)k; /* in->groups are the names of group set k */
	lua_createtable(L, (int)in->ngroups, 0);
	for (size_t i = 0; i < in->ngroups; i++) {
		lua_pushstring(L, in->groups[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "groups");
}

static void push_vendor(mtd_rules *r, const mtd_vreport *v, int64_t k)
{
	/* k < 0: no code (out of memory, the call is not memoized) */
	set_str(r->L, "vendor",
		k < 0 ? v->vendor : (size_t)k < r->nvnames ? r->vnames[k] : NULL);
}

static void push_level(mtd_rules *r, const mtd_vreport *v, int64_t k)
{
	(void)v;
	if (k > 0)
		set_str(r->L, "level", mtd_level_name((int)k));
}

static void push_missing(mtd_rules *r, const mtd_vreport *v, int64_t k)
{
	(void)v;
	if (k) {
		lua_pushboolean(r->L, 1);
		lua_setfield(r->L, -2, "missing");
	}
}

static void push_os_supported(mtd_rules *r, const mtd_vreport *v, int64_t k)
{
	(void)v;
	if (k > 0) { /* 1 + os_supported, of a vendor with a level */
		lua_pushboolean(r->L, k == 2);
		lua_setfield(r->L, -2, "os_supported");
	}
}

static void push_block_missing_data(mtd_rules *r, const mtd_vreport *v, int64_t k)
{
	(void)v;
	lua_pushboolean(r->L, k != 0);
	lua_setfield(r->L, -2, "block_missing_data");
}

static void push_block_unsupported_os(mtd_rules *r, const mtd_vreport *v, int64_t k)
{
	(void)v;
	lua_pushboolean(r->L, k != 0);
	lua_setfield(r->L, -2, "block_unsupported_os");
}

static void push_threat(mtd_rules *r, const mtd_vreport *v, int64_t k)
{
	(void)v;
	(void)r; /* lazy (lazy_vendor): only whether it exists is keyed */
	(void)k;
}

static void push_vendors(mtd_rules *r, const mtd_vreport *vs, size_t n)
{
	lua_State *L = r->L;
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		const mtd_vreport *v = &vs[i];
		lua_createtable(L, 0, 6);
#define PUSH_VENDOR_FIELD_(name, type, value) push_##name(r, v, (int64_t)(value));
		MTD_RULES_VENDOR_FIELDS(PUSH_VENDOR_FIELD_)
#undef PUSH_VENDOR_FIELD_
		lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_vendmt);
		lua_setmetatable(L, -2);
		r->cur_vent[r->ncur_vent++] = lua_topointer(L, -1);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* The device as the rules see it; r->cur_vent has room for every vendor
 * entry (mtd_rules_eval sees to it). */
static void push_device(mtd_rules *r, const mtd_eval_in *in)
{
	lua_State *L = r->L;
	r->cur = in;
	r->ncur_vent = 0;
	lua_createtable(L, 0, 8);
#define PUSH_DEVICE_FIELD_(name, type, value) push_##name(r, in, (int64_t)(value));
	MTD_RULES_DEVICE_FIELDS(PUSH_DEVICE_FIELD_)
#undef PUSH_DEVICE_FIELD_
#define PUSH_LIST_(name, list, count)                                                              \
	push_vendors(r, list, count);                                                              \
	lua_setfield(L, -2, #name);
	MTD_RULES_VENDOR_LISTS(PUSH_LIST_)
#undef PUSH_LIST_
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_devmt);
	lua_setmetatable(L, -2);
	r->cur_dev = lua_topointer(L, -1);
}

/* Reasons table at idx appended to out (strings stay referenced by the
 * result kept on the stack until the next eval). */
static int take_reasons(lua_State *L, int idx, mtd_eval_out *out, const char *fn,
			char *err, size_t n)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	if (!lua_istable(L, idx)) {
		mtd_err(err, n, "policy.lua: %s returned reasons that are not a list of strings", fn);
		return MTD_ERULES;
	}
	for (lua_Integer i = 1;; i++) {
		int t = lua_rawgeti(L, idx, i);
		if (t == LUA_TNIL) {
			lua_pop(L, 1);
			break;
		}
		if (t != LUA_TSTRING) {
			lua_pop(L, 1);
			mtd_err(err, n, "policy.lua: %s returned reason %lld that is not a string",
				    fn, (long long)i);
			return MTD_ERULES;
		}
		if (out->nreasons < MTD_MAX_REASONS)
			out->reasons[out->nreasons++] = lua_tostring(L, -1);
		lua_pop(L, 1); /* the string stays alive: the table holds it */
	}
	return 0;
}

static int eval_steps(mtd_rules *r, const mtd_eval_in *in, mtd_eval_out *out,
		      char *err, size_t n)
{
	lua_State *L = r->L;
	const char *s;
	int rc, top;

	/* policy for this group set, cached by groupset id */
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_cache);
	if (lua_rawgeti(L, -1, in->groupset) == LUA_TNIL) {
		lua_pop(L, 1);
		push_policy(r, in->groups, in->ngroups);
		lua_pushvalue(L, -1);
		lua_rawseti(L, -3, in->groupset);
	}
	lua_remove(L, -2);  /* stack: policy */
	push_device(r, in); /* stack: policy, device */
	top = lua_gettop(L);

	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_compliance);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_ctx);
	if ((rc = call(r, r->policy_path, 3, 3, err, n)))
		return rc; /* stack: policy, device, state, level, reasons */
	s = lua_tostring(L, top + 1);
	out->state = lua_type(L, top + 1) == LUA_TSTRING ? mtd_state_from_name(s) : -1;
	if (out->state < 0) {
		mtd_err(err, n, "policy.lua: compliance returned state '%s' (expected compliant, "
			    "noncompliant, in_grace_period or not_evaluated)", s ? s : "nil");
		return MTD_ERULES;
	}
	s = lua_tostring(L, top + 2);
	if (s && !strcmp(s, "none"))
		out->level = MTD_LEVEL_NONE;
	else if (!s || lua_type(L, top + 2) != LUA_TSTRING ||
		 (out->level = mtd_level_from_name(s, strlen(s))) < 0) {
		mtd_err(err, n, "policy.lua: compliance returned level '%s' (expected none, "
			    "secured, low, medium or high)", s ? s : "nil");
		return MTD_ERULES;
	}
	if ((rc = take_reasons(L, top + 3, out, "compliance", err, n)))
		return rc;

	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_app);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_ctx);
	if ((rc = call(r, r->policy_path, 3, 2, err, n)))
		return rc; /* stack: ..., action, reasons */
	s = lua_tostring(L, top + 4);
	out->app_action = lua_type(L, top + 4) == LUA_TSTRING ? mtd_app_action_from_name(s) : -1;
	if (out->app_action < 0) {
		mtd_err(err, n, "policy.lua: app_protection returned action '%s' (expected none, "
			    "warn, block or wipe)", s ? s : "nil");
		return MTD_ERULES;
	}
	if ((rc = take_reasons(L, top + 5, out, "app_protection", err, n)))
		return rc;
	/* The protected resources of the device's groups (policy table, kept on
	 * the stack so the strings stay alive). */
	lua_getfield(L, 1, "resources");
	for (lua_Integer i = 1; out->nresources < 16 && lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
		out->resources[out->nresources++] = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return 0;
}

/* ---- memo ---- */

/* The key of in in r->key: the device's fields (dkey), the counts of the
 * lists of vendor entries, and each entry's fields (vkey), all from the
 * lists that push them (the policy table is a function of groupset, ctx
 * is fixed for r), zero-padded to whole words. Its length in bytes, or 0
 * when a value does not fit or the entries do not (that call is not
 * memoized). */
static size_t memo_key(mtd_rules *r, const mtd_eval_in *in)
{
	unsigned char *p = r->key, *end = r->key + MEMO_KEY_MAX - 8;
	int bad = device_key(r, in, p);
	size_t n;
	p += sizeof(dkey);
#define KEY_LIST_(name, list, count)                                                               \
	if ((count) > 0xffff || (size_t)(end - p) / sizeof(vkey) < (count) + 1)                    \
		return 0;                                                                          \
	*p++ = (unsigned char)((count) & 0xff);                                                    \
	*p++ = (unsigned char)((count) >> 8);                                                      \
	for (size_t i_ = 0; i_ < (count); i_++, p += sizeof(vkey))                                 \
		bad |= vendor_key(r, &(list)[i_], p);
	MTD_RULES_VENDOR_LISTS(KEY_LIST_)
#undef KEY_LIST_
	n = (size_t)(p - r->key);
	memset(p, 0, 8); /* the last word's tail */
	return bad ? 0 : (n + 7) / 8 * 8;
}

/* The key's hash, a word a step; every bit of the key reaches the high
 * half, which the slots keep to compare before touching an entry. */
static inline uint64_t key_hash(const unsigned char *p, size_t n)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n, w;
	for (size_t i = 0; i < n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 29;
	}
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	return h ^ (h >> 32);
}

#define SLOT(i, h) (((uint64_t)(i) + 1) | ((h) & UINT64_C(0xffffffff00000000)))
#define SLOT_INDEX(s) ((size_t)((s) & 0xffffffffu) - 1)

static const unsigned char *ent_key(const memo_ent *e)
{
	return (const unsigned char *)(e->str + e->nreasons + e->nresources);
}

/* Whether the key bytes at p (as memo_store copied them) are key's. */
static inline int key_equal(const unsigned char *p, const unsigned char *key, size_t klen)
{
	uint64_t d = 0;
	for (size_t i = 0; i < klen; i += 8) {
		uint64_t a, b;
		memcpy(&a, p + i, 8);
		memcpy(&b, key + i, 8);
		d |= a ^ b;
	}
	return d == 0;
}

static near *near_of(const mtd_rules *r, uint64_t h)
{
	return &r->near[(h >> 40) % NEAR_SLOTS];
}

static void near_put(mtd_rules *r, uint64_t h, size_t klen, size_t ent)
{
	near *n;
	if (klen > NEAR_KEY || !r->near)
		return;
	n = near_of(r, h);
	memcpy(n->key, r->key, klen);
	n->klen = (uint32_t)klen;
	n->ent = (uint32_t)ent;
}

static int64_t memo_find(mtd_rules *r, uint64_t h, size_t klen)
{
	const near *n;
	if (!r->nslots)
		return -1;
	n = near_of(r, h);
	if (n->klen == klen && key_equal(n->key, r->key, klen))
		return n->ent;
	for (size_t i = h & (r->nslots - 1);; i = (i + 1) & (r->nslots - 1)) {
		uint64_t sl = r->slots[i];
		const memo_ent *e;
		if (!sl)
			return -1;
		if ((sl ^ h) >> 32)
			continue;
		e = r->ents[SLOT_INDEX(sl)];
		if (e->hash == h && e->keylen == klen && key_equal(ent_key(e), r->key, klen)) {
			near_put(r, h, klen, SLOT_INDEX(sl));
			return (int64_t)SLOT_INDEX(sl);
		}
	}
}

static void memo_fill(const memo_ent *e, mtd_eval_out *out)
{
	out->state = e->state;
	out->level = e->level;
	out->app_action = e->app_action;
	out->nreasons = e->nreasons;
	for (unsigned i = 0; i < e->nreasons; i++)
		out->reasons[i] = e->str[i];
	out->nresources = e->nresources;
	for (unsigned i = 0; i < e->nresources; i++)
		out->resources[i] = e->str[e->nreasons + i];
}

/* Room for one more entry; -1 when the memo is full or memory is short. */
static int memo_room(mtd_rules *r)
{
	if (r->nents >= MEMO_MAX_ENTRIES)
		return -1;
	if (r->nents == r->ents_cap) {
		size_t cap = r->ents_cap ? r->ents_cap * 2 : 256;
		memo_ent **p = realloc(r->ents, cap * sizeof *p);
		if (!p)
			return -1;
		r->ents = p;
		r->ents_cap = cap;
	}
	if (!r->near && !(r->near = calloc(NEAR_SLOTS, sizeof *r->near)))
		return -1;
	if (2 * (r->nents + 1) > r->nslots) { /* load at most 1/2 */
		size_t ns = r->nslots ? r->nslots * 2 : 1024;
		uint64_t *sl = calloc(ns, sizeof *sl);
		if (!sl)
			return -1;
		for (size_t i = 0; i < r->nents; i++) {
			size_t j = r->ents[i]->hash & (ns - 1);
			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = SLOT(i, r->ents[i]->hash);
		}
		free(r->slots);
		r->slots = sl;
		r->nslots = ns;
	}
	return 0;
}

/* Copy the result of a successful untainted call into the memo, as entry
 * out->memo, and point out at the copy. When the memo is full, nothing. */
static void memo_store(mtd_rules *r, uint64_t h, size_t klen, mtd_eval_out *out)
{
	size_t nstr = out->nreasons + out->nresources, size, len[MTD_MAX_REASONS + 16];
	memo_ent *e;
	char *p;
	size_t j;

	size = sizeof *e + nstr * sizeof e->str[0] + klen;
	for (size_t i = 0; i < nstr; i++) {
		len[i] = strlen(i < out->nreasons ? out->reasons[i]
						  : out->resources[i - out->nreasons]) + 1;
		size += len[i];
	}
	if (size > MEMO_MAX_BYTES - r->ent_bytes || memo_room(r) || !(e = malloc(size)))
		return;
	e->hash = h;
	e->keylen = klen;
	e->state = out->state;
	e->level = out->level;
	e->app_action = out->app_action;
	e->nreasons = (unsigned)out->nreasons;
	e->nresources = (unsigned)out->nresources;
	p = (char *)(e->str + nstr);
	memcpy(p, r->key, klen);
	p += klen;
	for (size_t i = 0; i < nstr; i++) {
		memcpy(p, i < out->nreasons ? out->reasons[i] : out->resources[i - out->nreasons],
		       len[i]);
		e->str[i] = p;
		p += len[i];
	}
	for (j = h & (r->nslots - 1); r->slots[j]; j = (j + 1) & (r->nslots - 1))
		;
	r->slots[j] = SLOT(r->nents, h);
	r->ents[r->nents] = e;
	near_put(r, h, klen, r->nents);
	out->memo = (int64_t)r->nents++;
	r->ent_bytes += size;
	memo_fill(e, out);
}

typedef struct eval_job {
	mtd_rules *r;
	const mtd_eval_in *in;
	mtd_eval_out *out;
	char *err;
	size_t n;
	int rc;
} eval_job;

/* The whole evaluation runs as a protected call: building the device table
 * can meet the memory cap a script left the state at, and Lua must never
 * panic. Everything it leaves on its stack (the tables holding the result's
 * strings) is returned, so it stays alive until the next evaluation. */
static int eval_protected(lua_State *L)
{
	eval_job *j = lua_touserdata(L, 1);
	lua_settop(L, 0);
	j->rc = eval_steps(j->r, j->in, j->out, j->err, j->n);
	return lua_gettop(L);
}

/* The memo's answer for in: 1 with out filled, else 0 with the key's
 * length (0: not memoizable) and hash for storing the result. */
static int recall(mtd_rules *r, const mtd_eval_in *in, mtd_eval_out *out, size_t *klen,
		  uint64_t *h)
{
	int64_t hit;
	*klen = 0;
	*h = 0;
	if (!r->memo_on || !r->pure || !(*klen = memo_key(r, in)))
		return 0;
	if ((hit = memo_find(r, *h = key_hash(r->key, *klen), *klen)) < 0)
		return 0;
	memo_fill(r->ents[hit], out); /* sets every field */
	out->memo = hit;
	return 1;
}

int mtd_rules_recall(mtd_rules *r, const mtd_eval_in *in, mtd_eval_out *out)
{
	size_t klen;
	uint64_t h;
	return recall(r, in, out, &klen, &h);
}

int64_t mtd_rules_memo_find(mtd_rules *r, const mtd_eval_in *in)
{
	size_t klen;
	if (!r->memo_on || !r->pure || !(klen = memo_key(r, in)))
		return -1;
	return memo_find(r, key_hash(r->key, klen), klen);
}

int mtd_rules_eval(mtd_rules *r, const mtd_eval_in *in, mtd_eval_out *out,
		   char *err, size_t n)
{
	lua_State *L = r->L;
	eval_job j = {r, in, out, err, n, 0};
	size_t klen, nvent = in->nvendors + in->napp_vendors;
	uint64_t h;
	int rc;

	lua_settop(L, 0); /* drop the previous result */
	if (recall(r, in, out, &klen, &h))
		return 0;
	memset(out, 0, sizeof *out);
	out->memo = -1;
	if (nvent > r->cur_vent_cap) {
		const void **p = realloc(r->cur_vent, nvent * sizeof *p);
		if (!p) {
			mtd_err(err, n, "%s: out of memory preparing device '%s'", r->policy_path,
				    in->id ? in->id : "?");
			return MTD_ENOMEM;
		}
		r->cur_vent = p;
		r->cur_vent_cap = nvent;
	}
	r->mem_hit = 0;
	r->taint = 0;
	lua_pushcfunction(L, eval_protected);
	lua_pushlightuserdata(L, &j);
	rc = lua_pcall(L, 1, LUA_MULTRET, 0);
	/* the call is over: the lazy fields of its tables read nil from now on */
	r->cur = NULL;
	r->cur_dev = r->cur_prev = NULL;
	r->ncur_vent = 0;
	if (rc != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		if (r->mem_hit)
			mtd_err(err, n, "%s: memory limit of %zu bytes exceeded while "
				    "preparing device '%s' (memory a script keeps, in globals?)",
				    r->policy_path, r->mem_cap, in->id ? in->id : "?");
		else
			mtd_err(err, n, "%s: %s", r->policy_path, m ? m : "error");
		lua_settop(L, 0);
		memset(out, 0, sizeof *out);
		out->memo = -1;
		return MTD_ERULES;
	}
	if (!j.rc && klen && !r->taint)
		memo_store(r, h, klen, out);
	return j.rc;
}
