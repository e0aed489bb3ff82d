/* Reproduction of the tty empty-read stall (docs/benchmarks.md, docs/realtime.md).
 *
 * A SCHED_FIFO 50, mlockall'ed loop on one end of a socat pty pair (the other end echoes):
 * every 10 ms it writes an 85-byte frame; in between it waits in epoll and reads. Prints the
 * longest read() that returned nothing / data, the longest write(), and how late the loop got
 * past its 10 ms mark (epoll_wait's timeout has 1 ms resolution, so the loop spins with a zero
 * timeout during the last millisecond: many empty reads in mode 0).
 *   mode 0: level-triggered, read until EAGAIN on every wake (the old serial link)
 *   mode 1: level-triggered, read only when epoll reported EPOLLIN, stop at a short read
 *   mode 2: edge-triggered, read only when reported, stop at a short read (the serial link now)
 * Run it under load (compiles, stress-ng): the flip-buffer kworker is SCHED_OTHER.
 *
 *   cc -O2 -o tty-read-latency benchmarks/tty-read-latency.c
 *   socat pty,raw,echo=0,link=/tmp/A pty,raw,echo=0,link=/tmp/B &   # plus an echo on /tmp/B
 *   ./tty-read-latency /tmp/A MODE SECONDS
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <termios.h>
static long long ns(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000LL+t.tv_nsec;}
int main(int argc,char**argv){
  int mode=atoi(argv[2]); int secs=atoi(argv[3]);
  struct sched_param sp={.sched_priority=50}; sched_setscheduler(0,SCHED_FIFO,&sp); mlockall(3);
  int fd=open(argv[1],O_RDWR|O_NOCTTY|O_NONBLOCK); struct termios t; tcgetattr(fd,&t); cfmakeraw(&t); tcsetattr(fd,TCSANOW,&t);
  int ep=epoll_create1(0); struct epoll_event ev={.events=EPOLLIN|(mode==2?EPOLLET:0),.data.fd=fd}; epoll_ctl(ep,EPOLL_CTL_ADD,fd,&ev);
  char buf[256], out[85]={0}; long long maxempty=0,maxdata=0,maxwrite=0,maxlate=0; long nempty=0,slowempty=0;
  long long next=ns()+10000000, end=ns()+secs*1000000000LL;
  while(ns()<end){
    struct epoll_event evs[4]; long long t0=ns(); int timeout=(int)((next-t0)/1000000); if(timeout<0)timeout=0;
    int n=epoll_wait(ep,evs,4,timeout); long long t1=ns();
    int readable=0; for(int i=0;i<n;i++) if(evs[i].events&EPOLLIN) readable=1;
    if(mode==0||readable){
      for(;;){ long long a=ns(); ssize_t r=read(fd,buf,sizeof buf); long long d=ns()-a;
        if(r<=0){ nempty++; if(d>maxempty)maxempty=d; if(d>500000)slowempty++; break;}
        if(d>maxdata)maxdata=d;
        if(mode>0 && r<(ssize_t)sizeof buf) break; }
    }
    if(t1>=next){ long long late=t1-next; if(late>maxlate)maxlate=late; long long a=ns(); write(fd,out,sizeof out); long long d=ns()-a; if(d>maxwrite)maxwrite=d; next+=10000000; }
  }
  printf("mode %d: max read(empty) %lld us (%ld empty reads, %ld > 0.5 ms), max read(data) %lld us, max write %lld us, max late(ms-resolution wait) %lld us\n",mode,maxempty/1000,nempty,slowempty,maxdata/1000,maxwrite/1000,maxlate/1000);
}
