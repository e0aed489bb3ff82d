// Out-of-line shim functions: the ones needing feature macros or struct ifreq/BPF setup.
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sched.h>
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
