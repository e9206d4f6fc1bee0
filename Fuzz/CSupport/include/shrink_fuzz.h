// libFuzzer's driver entry (compiler-rt lib/fuzzer/FuzzerInterface.h), linked in by -sanitize=fuzzer.
#ifndef SHRINK_FUZZ_H
#define SHRINK_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's command-line driver with `callback` as the target (what libFuzzer's own main does).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
