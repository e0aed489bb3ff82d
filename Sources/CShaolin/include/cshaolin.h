// C shim: kernel and libc declarations Swift cannot import on its own.
// (timerfd, epoll, AF_PACKET, watchdog ioctls, termios and pty helpers.)
#ifndef CSHAOLIN_H
#define CSHAOLIN_H
#include <stdint.h>

/* --- ProcessSpawn --- */
/* Helpers for Sources/ShaolinLinux/ProcessSpawn.swift: wait-status macros
   and pidfd_open, which Swift's Glibc module does not expose. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int cshaolin_wifexited(int status) { return WIFEXITED(status); }
static inline int cshaolin_wexitstatus(int status) { return WEXITSTATUS(status); }
static inline int cshaolin_wifsignaled(int status) { return WIFSIGNALED(status); }
static inline int cshaolin_wtermsig(int status) { return WTERMSIG(status); }

/* pidfd_open(2) through syscall(2): returns -1 with errno ENOSYS on kernels
   before 5.3; the caller then falls back to polling waitpid. */
static inline int cshaolin_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid; errno = ENOSYS; return -1;
#endif
}

/* posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34): close every
   descriptor from `from` upward in the child. Returns ENOSYS where absent.
   spawn.h declares it only under _GNU_SOURCE, so it is declared here. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
#endif
static inline int cshaolin_spawn_addclosefrom(posix_spawn_file_actions_t *fa, int from) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(fa, from);
#else
    (void)fa; (void)from; return ENOSYS;
#endif
}

/* pipe2(fds, O_CLOEXEC): unistd.h declares pipe2 only under _GNU_SOURCE. */
extern int pipe2(int __pipedes[2], int __flags);
static inline int cshaolin_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
/* --- end ProcessSpawn --- */
#endif
