// C shim: kernel and libc declarations Swift cannot import on its own.
// (timerfd, epoll, AF_PACKET, watchdog ioctls, termios and pty helpers.)
#ifndef CSHAOLIN_H
#define CSHAOLIN_H
#include <stdint.h>
#endif
