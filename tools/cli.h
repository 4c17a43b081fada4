/* What the runner's parts (mtdgate.c, serve.c) share. */
#ifndef MTD_CLI_H
#define MTD_CLI_H

#include "mtdgate/mtdgate.h"
#include "mtdgate/wire.h"

/* SPEC 4.3's report object of d appended to b (no newline); written
 * directly. 0, or -1 when memory runs out. */
int mtd_cli_report_json(mtd_buf *b, const mtd_decision_info *d);

/* `mtdgate serve` (SPEC 4.5) on the open handle h: argv[0] is "serve".
 * Returns the exit status. */
int mtd_cli_serve(mtd_t *h, int argc, char **argv);

/* `mtdgate export sql FILE` (tools/cmd_export.c): argv[0] is "export".
 * Returns the exit status. */
int mtd_cli_export(mtd_t *h, int argc, char **argv);

#endif
