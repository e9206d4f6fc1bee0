// File-system calls Swift's Glibc module does not import (they need _GNU_SOURCE).
#ifndef SHRINK_FS_H
#define SHRINK_FS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Atomically exchanges the directory entries `a` and `b` (both must exist): Linux renameat2(2) with
/// RENAME_EXCHANGE, macOS renamex_np(3) with RENAME_SWAP. Returns 0, or the errno (ENOSYS/EINVAL where the
/// kernel or file system cannot exchange).
int sk_rename_exchange(const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif
