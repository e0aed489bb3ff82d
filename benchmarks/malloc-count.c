/* LD_PRELOAD allocation counter for a running shaolind (used by benchmarks/malloc-per-heartbeat.py
 * and ShaolinEngineTests' HeartbeatAllocationTests).
 *
 * Counts malloc/calloc/realloc/posix_memalign/aligned_alloc/memalign/valloc calls per thread.
 *
 * Two ways to read the counts:
 * - In-process windows (ShaolinLinuxTests' AllocationTests): a thread calls shaolin_alloc_begin(),
 *   runs the code under test, and shaolin_alloc_end() returns how many allocations that thread
 *   made in between (found with dlsym(RTLD_DEFAULT, ...)).
 * - A running process (SHAOLIN_MALLOC_COUNT_DIR set): a helper thread (all signals blocked, so the engine's signalfd still gets SIGTERM) writes
 * "$SHAOLIN_MALLOC_COUNT_DIR/<pid>.mallocs" every 100 ms: one "tid count" line per thread that
 * allocated, written to a temporary file and renamed, using no allocation itself.
 *
 *   cc -shared -fPIC -O2 -o malloc-count.so benchmarks/malloc-count.c -ldl -lpthread
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 4096
static _Atomic int slot_tid[SLOTS];
static _Atomic long slot_count[SLOTS];
static __thread int my_slot = -1;
static __thread int window_open;
static __thread long window_count;

void shaolin_alloc_begin(void) { window_count = 0; window_open = 1; }
long shaolin_alloc_end(void) { window_open = 0; return window_count; }

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static char bootstrap[8192];
static size_t bootstrap_used;
static int resolving;

static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");
    real_valloc = dlsym(RTLD_NEXT, "valloc");
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    resolving = 0;
}

static void count(void) {
    if (window_open) window_count++;
    if (my_slot < 0) {
        int tid = (int)syscall(SYS_gettid);
        int s = tid % SLOTS;
        for (int i = 0; i < SLOTS; i++, s = (s + 1) % SLOTS) {
            int expected = 0;
            if (atomic_load(&slot_tid[s]) == tid ||
                atomic_compare_exchange_strong(&slot_tid[s], &expected, tid)) { my_slot = s; break; }
        }
        if (my_slot < 0) return;
    }
    atomic_fetch_add_explicit(&slot_count[my_slot], 1, memory_order_relaxed);
}

void *malloc(size_t n) { resolve(); count(); return real_malloc(n); }
void *calloc(size_t a, size_t b) {
    if (!real_calloc) { /* dlsym may calloc while resolving */
        size_t n = (a * b + 15) & ~(size_t)15;
        if (bootstrap_used + n > sizeof bootstrap) return NULL;
        void *p = bootstrap + bootstrap_used; bootstrap_used += n; return p;
    }
    count(); return real_calloc(a, b);
}
void *realloc(void *p, size_t n) { resolve(); count(); return real_realloc(p, n); }
int posix_memalign(void **p, size_t a, size_t n) { resolve(); count(); return real_posix_memalign(p, a, n); }
void *aligned_alloc(size_t a, size_t n) { resolve(); count(); return real_aligned_alloc(a, n); }
void *memalign(size_t a, size_t n) { resolve(); count(); return real_memalign(a, n); }
void *valloc(size_t n) { resolve(); count(); return real_valloc(n); }
void free(void *p) {
    static void (*real_free)(void *);
    if ((char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}

static char out_path[512], tmp_path[520];

static void dump(void) {
    char buf[16384];
    size_t len = 0;
    for (int s = 0; s < SLOTS && len + 64 < sizeof buf; s++) {
        int tid = atomic_load(&slot_tid[s]);
        if (tid) len += (size_t)snprintf(buf + len, sizeof buf - len, "%d %ld\n", tid, atomic_load(&slot_count[s]));
    }
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, buf, len);
    close(fd);
    if (w == (ssize_t)len) rename(tmp_path, out_path);
}

static void *reporter(void *arg) {
    (void)arg;
    struct timespec t = {0, 100 * 1000 * 1000};
    for (;;) { dump(); nanosleep(&t, NULL); }
    return NULL;
}

__attribute__((constructor)) static void start(void) {
    const char *dir = getenv("SHAOLIN_MALLOC_COUNT_DIR");
    if (!dir) return;
    snprintf(out_path, sizeof out_path, "%s/%d.mallocs", dir, (int)getpid());
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", out_path);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);   /* the reporter inherits a fully blocked mask */
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_create(&th, &a, reporter, NULL);
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
