// Out-of-line shim functions: the ones needing feature macros or struct ifreq/BPF setup.
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include "cshaolin.h"

int cshaolin_attach_ethertype_filter(int fd, uint16_t ethertype) {
    // A = skb->protocol (host order); accept the whole frame if it matches, else drop.
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ethertype, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0x40000),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

static int fill_ifreq(struct ifreq *ifr, const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= IFNAMSIZ) { errno = ENODEV; return -1; }
    memset(ifr, 0, sizeof *ifr);
    memcpy(ifr->ifr_name, name, n);
    return 0;
}

int cshaolin_if_hwaddr(int sockfd, const char *name, uint8_t *mac) {
    struct ifreq ifr;
    if (fill_ifreq(&ifr, name) < 0) return -1;
    if (ioctl(sockfd, SIOCGIFHWADDR, &ifr) < 0) return -1;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

int cshaolin_if_flags(int sockfd, const char *name, uint32_t *flags) {
    struct ifreq ifr;
    if (fill_ifreq(&ifr, name) < 0) return -1;
    if (ioctl(sockfd, SIOCGIFFLAGS, &ifr) < 0) return -1;
    *flags = (uint16_t)ifr.ifr_flags;
    return 0;
}

int cshaolin_if_index(int sockfd, const char *name, int *ifindex) {
    struct ifreq ifr;
    if (fill_ifreq(&ifr, name) < 0) return -1;
    if (ioctl(sockfd, SIOCGIFINDEX, &ifr) < 0) return -1;
    *ifindex = ifr.ifr_ifindex;
    return 0;
}

int cshaolin_termios_configure_raw(int fd, speed_t speed, int rtscts) {
    struct termios t;
    if (tcgetattr(fd, &t) < 0) return -1;
    cfmakeraw(&t);
    t.c_cflag &= ~(CSIZE | PARENB | CSTOPB | CRTSCTS);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    if (rtscts) t.c_cflag |= CRTSCTS;
    t.c_iflag &= ~(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, speed) < 0 || cfsetospeed(&t, speed) < 0) return -1;
    int r;
    do { r = tcsetattr(fd, TCSANOW, &t); } while (r < 0 && errno == EINTR);
    return r;
}

int cshaolin_termios_get(int fd, speed_t *ispeed, speed_t *ospeed, int *rtscts, int *raw8n1) {
    struct termios t;
    if (tcgetattr(fd, &t) < 0) return -1;
    *ispeed = cfgetispeed(&t);
    *ospeed = cfgetospeed(&t);
    *rtscts = (t.c_cflag & CRTSCTS) != 0;
    *raw8n1 = (t.c_cflag & CSIZE) == CS8 && !(t.c_cflag & (PARENB | CSTOPB))
        && !(t.c_lflag & (ICANON | ECHO | ISIG)) && !(t.c_oflag & OPOST)
        && t.c_cc[VMIN] == 0 && t.c_cc[VTIME] == 0;
    return 0;
}

int cshaolin_posix_openpt(int flags) { return posix_openpt(flags); }
int cshaolin_grantpt(int fd) { return grantpt(fd); }
int cshaolin_unlockpt(int fd) { return unlockpt(fd); }
int cshaolin_ptsname_r(int fd, char *buf, size_t len) { return ptsname_r(fd, buf, len); }

int cshaolin_set_affinity_single(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) { errno = EINVAL; return -1; }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

int cshaolin_affinity_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) < 0) return -1;
    return CPU_COUNT(&set);
}

int cshaolin_affinity_contains(int cpu) {
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE) { errno = EINVAL; return -1; }
    if (sched_getaffinity(0, sizeof set, &set) < 0) return -1;
    return CPU_ISSET(cpu, &set) ? 1 : 0;
}

size_t cshaolin_affinity_mask_size(void) { return sizeof(cpu_set_t); }
int cshaolin_affinity_save(void *mask) { return sched_getaffinity(0, sizeof(cpu_set_t), mask); }
int cshaolin_affinity_restore(const void *mask) { return sched_setaffinity(0, sizeof(cpu_set_t), mask); }

__attribute__((noinline)) void cshaolin_prefault_stack(size_t bytes) {
    if (bytes == 0) return;
    volatile unsigned char buf[bytes];
    for (size_t i = 0; i < bytes; i += 256) buf[i] = 0;
    buf[bytes - 1] = 0;
}

int cshaolin_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }

// MARK: - Stream sockets (control interface)

#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <poll.h>
#include <grp.h>

int cshaolin_unix_listen(const char *path, int backlog) {
    struct sockaddr_un sa;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sa.sun_path) { errno = ENAMETOOLONG; return -1; }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
}

int cshaolin_unix_connect(const char *path) {
    struct sockaddr_un sa;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sa.sun_path) { errno = ENAMETOOLONG; return -1; }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int r;
    do { r = connect(fd, (struct sockaddr *)&sa, sizeof sa); } while (r < 0 && errno == EINTR);
    if (r < 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

int cshaolin_tcp_listen(const char *address, uint16_t port, int backlog) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons(port); len = sizeof *v4;
    } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons(port); len = sizeof *v6;
    } else {
        errno = EINVAL; return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
}

int cshaolin_tcp_connect(const char *host, const char *port, int timeout_ms) {
    struct addrinfo hints, *res = NULL, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) return -2;
    int fd = -1, err = ECONNREFUSED;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) { err = errno; continue; }
        int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            int pr;
            do { pr = poll(&p, 1, timeout_ms); } while (pr < 0 && errno == EINTR);
            if (pr == 1) {
                int so = 0; socklen_t sl = sizeof so;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
                r = so == 0 ? 0 : -1;
                if (so) errno = so;
            } else {
                r = -1; errno = pr == 0 ? ETIMEDOUT : errno;
            }
        }
        if (r == 0) {
            int fl = fcntl(fd, F_GETFL);
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            freeaddrinfo(res);
            return fd;
        }
        err = errno; close(fd); fd = -1;
    }
    freeaddrinfo(res);
    errno = err;
    return -1;
}

int cshaolin_accept(int listener, char *addr, size_t addr_len) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd;
    do { fd = accept4(listener, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC); } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    if (addr_len > 0) {
        addr[0] = 0;
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, (socklen_t)addr_len);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, (socklen_t)addr_len);
        } else {
            strncpy(addr, "unix", addr_len - 1);
            addr[addr_len - 1] = 0;
        }
    }
    return fd;
}

int cshaolin_peercred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred c;
    socklen_t len = sizeof c;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0) return -1;
    *pid = c.pid; *uid = c.uid; *gid = c.gid;
    return 0;
}

int cshaolin_peergroups(int fd, uint32_t *gids, int max) {
    gid_t buf[256];
    socklen_t len = sizeof buf;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) < 0) return -1;
    int n = (int)(len / sizeof(gid_t));
    for (int i = 0; i < n && i < max; i++) gids[i] = buf[i];
    return n;
}

int cshaolin_group_id(const char *name, uint32_t *gid) {
    struct group g, *out = NULL;
    char buf[4096];
    if (getgrnam_r(name, &g, buf, sizeof buf, &out) != 0 || out == NULL) return -1;
    *gid = out->gr_gid;
    return 0;
}

int cshaolin_send_sealed_memfd(int sock, const struct sockaddr *addr, socklen_t addr_len,
                               const void *data, size_t len) {
    int fd = memfd_create("shaolin-journal", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    if (fd < 0) return -errno;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno; close(fd); return -e;
        }
        p += n; left -= (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        int e = errno; close(fd); return -e;
    }
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = (void *)addr;
    mh.msg_namelen = addr_len;
    mh.msg_control = control.buf;
    mh.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t r;
    do { r = sendmsg(sock, &mh, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    int e = r < 0 ? errno : 0;
    close(fd);
    return -e;
}
