// See shrink_fs.h.
#define _GNU_SOURCE
#include "shrink_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

int sk_rename_exchange(const char *a, const char *b) {
#if defined(__linux__) && defined(SYS_renameat2)
    // The raw system call: glibc's renameat2 wrapper needs 2.28, the syscall is Linux 3.15.
    if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0) return 0;
    return errno;
#elif defined(__APPLE__)
    if (renamex_np(a, b, RENAME_SWAP) == 0) return 0;
    return errno;
#else
    (void)a; (void)b;
    return ENOSYS;
#endif
}
