// C shim: kernel and libc declarations Swift cannot import on its own.
//
// Everything here is either a header Swift's Glibc module does not expose (timerfd,
// epoll, signalfd, AF_PACKET, watchdog, classic BPF), a constant defined by a
// function-like macro (WDIOC_*, SKF_AD_*), or a tiny wrapper around a struct/union
// that is awkward from Swift (struct ifreq, packed struct epoll_event, sockaddr_ll).
//
// Functions that need _GNU_SOURCE or _XOPEN_SOURCE (CPU_SET, ptsname_r, posix_openpt)
// live in shim.c: this header is imported as a clang module next to the already-built
// Glibc module, so feature macros defined here would not reach the libc headers.
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
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <termios.h>
#include <sched.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <malloc.h>     /* mallopt, M_TOP_PAD (Realtime.trimHeapGrowthForLockedMemory) */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <net/if.h>
#include <net/ethernet.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <linux/watchdog.h>

// MARK: - epoll (struct epoll_event is packed on x86_64; keep its layout in C)

static inline uint32_t cshaolin_epoll_event_events(const struct epoll_event *e) { return e->events; }
static inline uint64_t cshaolin_epoll_event_token(const struct epoll_event *e) { return e->data.u64; }
static inline size_t cshaolin_epoll_event_size(void) { return sizeof(struct epoll_event); }

/// epoll_ctl with a 64-bit user token in `data.u64`.
static inline int cshaolin_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &ev);
}

static const uint32_t CSHAOLIN_EPOLLIN = EPOLLIN;
static const uint32_t CSHAOLIN_EPOLLOUT = EPOLLOUT;
static const uint32_t CSHAOLIN_EPOLLPRI = EPOLLPRI;
static const uint32_t CSHAOLIN_EPOLLERR = EPOLLERR;
static const uint32_t CSHAOLIN_EPOLLHUP = EPOLLHUP;
static const uint32_t CSHAOLIN_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t CSHAOLIN_EPOLLET = EPOLLET;

// MARK: - AF_PACKET (SOCK_DGRAM: the kernel builds and strips the Ethernet header)

/// bind(2) a packet socket to one interface and one EtherType (`ethertype` in host order).
static inline int cshaolin_packet_bind(int fd, int ifindex, uint16_t ethertype) {
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ethertype);
    sll.sll_ifindex = ifindex;
    return bind(fd, (const struct sockaddr *)&sll, sizeof sll);
}

/// sendto(2) `len` bytes to a 6-byte destination MAC; the kernel prepends the Ethernet header.
static inline ssize_t cshaolin_packet_sendto(int fd, int ifindex, uint16_t ethertype,
                                             const uint8_t *dst_mac, const void *buf, size_t len) {
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ethertype);
    sll.sll_ifindex = ifindex;
    sll.sll_halen = ETH_ALEN;
    for (int i = 0; i < ETH_ALEN; i++) sll.sll_addr[i] = dst_mac[i];
    return sendto(fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&sll, sizeof sll);
}

/// recvmsg(2) one frame; writes the 6-byte source MAC, the EtherType (host order) and the
/// packet type (PACKET_HOST, PACKET_BROADCAST, PACKET_OUTGOING, ...).
/// With MSG_TRUNC the return value is the frame's real length even when `len` is smaller.
/// `rx_realtime_ns` (may be NULL) receives the kernel's receive time of the frame on
/// CLOCK_REALTIME (SCM_TIMESTAMPNS, after `cshaolin_enable_rx_timestamps`), or 0 when the
/// frame carries none.
static inline ssize_t cshaolin_packet_recvfrom(int fd, void *buf, size_t len, uint8_t *src_mac,
                                               uint16_t *ethertype, uint8_t *pkttype,
                                               int64_t *rx_realtime_ns) {
    struct sockaddr_ll sll;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } control;
    struct msghdr msg = {0};
    msg.msg_name = &sll;
    msg.msg_namelen = sizeof sll;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n >= 0) {
        for (int i = 0; i < ETH_ALEN; i++) src_mac[i] = sll.sll_addr[i];
        *ethertype = ntohs(sll.sll_protocol);
        *pkttype = sll.sll_pkttype;
        if (rx_realtime_ns) {
            *rx_realtime_ns = 0;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS
                    && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    *rx_realtime_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
                }
            }
        }
    }
    return n;
}

/// Asks the kernel to stamp every received frame with its receive time (SO_TIMESTAMPNS:
/// CLOCK_REALTIME, delivered as SCM_TIMESTAMPNS). Returns 0, or -1 with errno.
static inline int cshaolin_enable_rx_timestamps(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
}

/// Number of classic BPF instructions attached to `fd` (SO_GET_FILTER), or -1 with errno.
static inline int cshaolin_socket_filter_length(int fd) {
    socklen_t len = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &len) < 0) return -1;
    return (int)len;
}

static const uint8_t CSHAOLIN_PACKET_OUTGOING = PACKET_OUTGOING;

/// Attaches a classic BPF program accepting only frames whose EtherType (host order) matches.
int cshaolin_attach_ethertype_filter(int fd, uint16_t ethertype);

// MARK: - Interfaces (struct ifreq is a union; fill it here)

/// SIOCGIFHWADDR: copies the 6-byte hardware address of `name` into `mac`.
int cshaolin_if_hwaddr(int sockfd, const char *name, uint8_t *mac);
/// SIOCGIFFLAGS: the interface flags (IFF_UP, IFF_RUNNING, ...).
int cshaolin_if_flags(int sockfd, const char *name, uint32_t *flags);
/// SIOCGIFINDEX through the socket's own network namespace.
int cshaolin_if_index(int sockfd, const char *name, int *ifindex);

static const uint32_t CSHAOLIN_IFF_UP = IFF_UP;
static const uint32_t CSHAOLIN_IFF_RUNNING = IFF_RUNNING;
static const uint32_t CSHAOLIN_IFF_LOWER_UP = 0x10000; // IFF_LOWER_UP (linux/if.h, not in net/if.h)
static const int CSHAOLIN_IFNAMSIZ = IFNAMSIZ;

// MARK: - termios

/// The Bxxx speed_t constant for a baud rate in 9600...921600, or 0 if unsupported.
static inline speed_t cshaolin_baud_constant(uint32_t baud) {
    switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 500000: return B500000;
    case 576000: return B576000;
    case 921600: return B921600;
    default: return 0;
    }
}

/// Raw 8N1, CLOCAL|CREAD, optional CRTSCTS, VMIN=0/VTIME=0, at `speed` (a Bxxx constant).
/// Returns 0 or -1 with errno set.
int cshaolin_termios_configure_raw(int fd, speed_t speed, int rtscts);

/// The speed and CRTSCTS currently set on `fd` (for checks). Returns 0 or -1 with errno.
int cshaolin_termios_get(int fd, speed_t *ispeed, speed_t *ospeed, int *rtscts, int *raw8n1);

// MARK: - pty (posix_openpt & co. need _XOPEN_SOURCE/_GNU_SOURCE: defined in shim.c)

int cshaolin_posix_openpt(int flags);
int cshaolin_grantpt(int fd);
int cshaolin_unlockpt(int fd);
/// ptsname_r into `buf`; returns 0 or an errno value (like ptsname_r).
int cshaolin_ptsname_r(int fd, char *buf, size_t len);

// MARK: - Real time (CPU_SET needs _GNU_SOURCE: defined in shim.c)

/// sched_setaffinity of the calling thread to exactly one CPU. Returns 0 or -1 with errno.
int cshaolin_set_affinity_single(int cpu);
/// The CPU count in the calling thread's affinity mask, or -1 with errno.
int cshaolin_affinity_count(void);
/// Whether `cpu` is in the calling thread's affinity mask (1/0), or -1 with errno.
int cshaolin_affinity_contains(int cpu);
/// Saves the calling thread's affinity mask into an opaque buffer (`cshaolin_affinity_mask_size()` bytes).
size_t cshaolin_affinity_mask_size(void);
int cshaolin_affinity_save(void *mask);
int cshaolin_affinity_restore(const void *mask);
/// getrlimit(RLIMIT_MEMLOCK). Returns 0 or -1 with errno.
static inline int cshaolin_getrlimit_memlock(uint64_t *soft, uint64_t *hard, int *soft_infinite, int *hard_infinite) {
    struct rlimit r;
    if (getrlimit(RLIMIT_MEMLOCK, &r) < 0) return -1;
    *soft = (uint64_t)r.rlim_cur; *hard = (uint64_t)r.rlim_max;
    *soft_infinite = r.rlim_cur == RLIM_INFINITY; *hard_infinite = r.rlim_max == RLIM_INFINITY;
    return 0;
}
static const int CSHAOLIN_SCHED_BATCH = 3;  // SCHED_BATCH (needs _GNU_SOURCE in sched.h)
static const int CSHAOLIN_SCHED_IDLE = 5;   // SCHED_IDLE
/// Touches `bytes` of stack below the caller so the pages are faulted in (and locked by mlockall).
void cshaolin_prefault_stack(size_t bytes);

// MARK: - Watchdog (WDIOC_* are function-like macros: export them as constants)

static const unsigned long CSHAOLIN_WDIOC_GETSUPPORT = WDIOC_GETSUPPORT;
static const unsigned long CSHAOLIN_WDIOC_GETSTATUS = WDIOC_GETSTATUS;
static const unsigned long CSHAOLIN_WDIOC_GETBOOTSTATUS = WDIOC_GETBOOTSTATUS;
static const unsigned long CSHAOLIN_WDIOC_SETOPTIONS = WDIOC_SETOPTIONS;
static const unsigned long CSHAOLIN_WDIOC_KEEPALIVE = WDIOC_KEEPALIVE;
static const unsigned long CSHAOLIN_WDIOC_SETTIMEOUT = WDIOC_SETTIMEOUT;
static const unsigned long CSHAOLIN_WDIOC_GETTIMEOUT = WDIOC_GETTIMEOUT;
static const unsigned long CSHAOLIN_WDIOC_GETTIMELEFT = WDIOC_GETTIMELEFT;
static const int CSHAOLIN_WDIOS_DISABLECARD = WDIOS_DISABLECARD;
static const int CSHAOLIN_WDIOS_ENABLECARD = WDIOS_ENABLECARD;
static const uint32_t CSHAOLIN_WDIOF_SETTIMEOUT = WDIOF_SETTIMEOUT;
static const uint32_t CSHAOLIN_WDIOF_MAGICCLOSE = WDIOF_MAGICCLOSE;
static const uint32_t CSHAOLIN_WDIOF_KEEPALIVEPING = WDIOF_KEEPALIVEPING;
static const uint32_t CSHAOLIN_WDIOF_PRETIMEOUT = WDIOF_PRETIMEOUT;

static inline int cshaolin_wdt_getsupport(int fd, struct watchdog_info *info) {
    return ioctl(fd, WDIOC_GETSUPPORT, info);
}
static inline int cshaolin_wdt_settimeout(int fd, int *seconds) {
    return ioctl(fd, WDIOC_SETTIMEOUT, seconds);
}
static inline int cshaolin_wdt_gettimeout(int fd, int *seconds) {
    return ioctl(fd, WDIOC_GETTIMEOUT, seconds);
}
static inline int cshaolin_wdt_keepalive(int fd) {
    int dummy = 0;
    return ioctl(fd, WDIOC_KEEPALIVE, &dummy);
}
static inline int cshaolin_wdt_setoptions(int fd, int options) {
    return ioctl(fd, WDIOC_SETOPTIONS, &options);
}

// MARK: - Namespaces (setns/CLONE_NEWNET need _GNU_SOURCE: defined in shim.c)

/// setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd` refers to.
int cshaolin_setns_net(int fd);

// MARK: - Stream sockets for the control interface (struct ucred / SO_PEERGROUPS need
// _GNU_SOURCE, sockaddr_un/sockaddr_in6 are awkward from Swift: defined in shim.c)

/// A non-blocking, close-on-exec Unix stream socket bound to `path` and listening. Returns
/// the descriptor or -1 with errno (ENAMETOOLONG when the path does not fit sun_path).
int cshaolin_unix_listen(const char *path, int backlog);
/// A blocking Unix stream socket connected to `path`, or -1 with errno.
int cshaolin_unix_connect(const char *path);
/// A non-blocking, close-on-exec TCP socket bound to the numeric IPv4 or IPv6 `address` and
/// `port` (SO_REUSEADDR) and listening. -1 with errno (EINVAL for an unparsable address).
int cshaolin_tcp_listen(const char *address, uint16_t port, int backlog);
/// A blocking TCP socket connected to `host`:`port` (resolved with getaddrinfo; every
/// address is tried with `timeout_ms` each). -1 with errno, or -2 when the name does not resolve.
int cshaolin_tcp_connect(const char *host, const char *port, int timeout_ms);
/// accept4(SOCK_NONBLOCK|SOCK_CLOEXEC); writes the peer's numeric address ("unix" for Unix
/// sockets, without the port for TCP) into `addr`. -1 with errno.
int cshaolin_accept(int listener, char *addr, size_t addr_len);
/// SO_PEERCRED of a connected Unix socket. 0 or -1 with errno.
int cshaolin_peercred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);
/// SO_PEERGROUPS: the peer's supplementary groups (at most `max`); returns the count
/// (which may exceed `max`: then only `max` are written) or -1 with errno.
int cshaolin_peergroups(int fd, uint32_t *gids, int max);
/// The gid of group `name` (getgrnam_r). 0, or -1 when there is no such group.
int cshaolin_group_id(const char *name, uint32_t *gid);

// MARK: - journald's native protocol, large entries

/// An entry too large for one datagram: writes `len` bytes to a new memfd, seals it (shrink,
/// grow, write, seal), and sends an empty datagram carrying it (SCM_RIGHTS) on the AF_UNIX
/// datagram socket `sock` to `addr`. 0, or -errno. (CMSG_* are macros Swift cannot import.)
int cshaolin_send_sealed_memfd(int sock, const struct sockaddr *addr, socklen_t addr_len,
                               const void *data, size_t len);

// MARK: - errno

static inline int cshaolin_errno(void) { return errno; }

#endif
