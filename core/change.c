/* change: the kinds of decision changes (mtdgate.h, MTD_CHANGE_*). */
#include <string.h>

#include "change.h"
#include "mtdgate/mtdgate.h"
#include "mtdgate/wire.h"
#include "rules.h"

/* compliant < in_grace_period < noncompliant; not_evaluated is no rank of
 * its own (compliance does not apply): -1 */
static int state_rank(int s)
{
	return s == MTD_ST_COMPLIANT ? 0 : s == MTD_ST_GRACE ? 1 : s == MTD_ST_NONCOMPLIANT ? 2 : -1;
}

/* none (no connector in force) and secured are both no threat */
static int level_rank(int l)
{
	return l <= MTD_LEVEL_SECURED ? 0 : l;
}

int mtd_change_kind_of(int state0, int level0, int access0, int app0, int state1, int level1,
		       int access1, int app1)
{
	int s0 = state_rank(state0), s1 = state_rank(state1);
	int l0 = level_rank(level0), l1 = level_rank(level1);
	if (app1 == MTD_APP_WIPE && app0 != MTD_APP_WIPE)
		return MTD_CHANGE_WIPE;
	if ((access1 && !access0) || (app1 == MTD_APP_BLOCK && app0 < MTD_APP_BLOCK))
		return MTD_CHANGE_BLOCK;
	if ((s0 >= 0 && s1 > s0) || l1 > l0 || app1 > app0)
		return MTD_CHANGE_WORSE;
	if ((s1 >= 0 && s0 > s1) || l0 > l1 || app0 > app1 || (access0 && !access1))
		return MTD_CHANGE_BETTER;
	return MTD_CHANGE_OTHER;
}

static int level_of(const char *s)
{
	return s ? mtd_level_from_name(s, strlen(s)) : -1;
}

int mtd_change_kind(const mtd_decision_info *before, const mtd_decision_info *after)
{
	int l0, l1;
	if (!before || !after)
		return MTD_CHANGE_OTHER;
	l0 = before->level && !strcmp(before->level, "none") ? MTD_LEVEL_NONE : level_of(before->level);
	l1 = after->level && !strcmp(after->level, "none") ? MTD_LEVEL_NONE : level_of(after->level);
	return mtd_change_kind_of(
		before->state ? mtd_state_from_name(before->state) : -1, l0,
		before->access && !strcmp(before->access, "block"),
		before->app_protection ? mtd_app_action_from_name(before->app_protection) : 0,
		after->state ? mtd_state_from_name(after->state) : -1, l1,
		after->access && !strcmp(after->access, "block"),
		after->app_protection ? mtd_app_action_from_name(after->app_protection) : 0);
}

const char *mtd_change_kind_name(int kind)
{
	static const char *const names[MTD_NCHANGE_KINDS] = {"wipe", "block", "worse", "better",
							     "other"};
	return kind >= 0 && kind < MTD_NCHANGE_KINDS ? names[kind] : "?";
}
