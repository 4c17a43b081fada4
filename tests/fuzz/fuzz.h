/* Shared by the fuzz targets (fuzz_*.c) and replay_main.c.
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer binary; linked with replay_main.c it
 * runs saved inputs (seed corpus, regressions) in the ordinary test run.
 * A target treats every input as hostile: errors from the code under test
 * are expected; a crash, a sanitizer report, a hang or a broken contract
 * (FUZZ_CHECK) is a finding. */
#ifndef MTD_FUZZ_H
#define MTD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A read-only FILE over data[0..size) (the bytes are borrowed: keep them
 * until fclose). Aborts when out of memory. */
FILE *fuzz_memfile(const uint8_t *data, size_t size);

/* This process's scratch directory (mkdtemp under $TMPDIR, /dev/shm when it
 * exists, else /tmp), created on first use and removed with its files at
 * exit. */
const char *fuzz_tmpdir(void);

/* Write size bytes to dir/name; aborts on failure. */
void fuzz_write_file(const char *dir, const char *name, const void *data, size_t size);

/* A contract of the code under test is broken: report and abort, so that
 * libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                              \
	do {                                                                          \
		if (!(cond))                                                          \
			fuzz_fail(__FILE__, __LINE__, #cond);                         \
	} while (0)
void fuzz_fail(const char *file, int line, const char *what)
#if defined(__GNUC__)
	__attribute__((noreturn))
#endif
	;

/* Count of bytes < 0x20 or 0x7f in s[0..n). */
size_t fuzz_ctl_bytes(const char *s, size_t n);

#endif
