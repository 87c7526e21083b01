/* corpus.h: the fuzzers' seed corpora (tests/fuzz/corpus/, tests/fuzz/corpus-vsmmu/) replayed by the unit
 * tests, so every input the fuzzers kept as interesting runs in `make unit` too (gcc, ASan+UBSan) and a
 * change that breaks one fails CI, not only the next fuzzing session. */
#ifndef IVMM_TEST_CORPUS_H
#define IVMM_TEST_CORPUS_H

#include <stddef.h>
#include "vmm/compiler.h"

/* Call fn on the contents of every regular file of $IVMM_TOP/SUBDIR (the tree's top, set by make unit; "."
 * otherwise), in name order, each at most max bytes (a longer one is cut, as libFuzzer's -max_len does).
 * Returns how many were replayed, or -errno when the directory or a file cannot be read. */
int corpus_replay(const char *subdir, size_t max, void (*fn)(const u8 *data, size_t len, const char *name, void *ctx),
		  void *ctx);

#endif
