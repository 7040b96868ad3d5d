// What a goroutine stack's first page costs on this machine: 10,000 pages
// 65 pages apart (the stride of 256 KiB guarded stacks), each faulted in by a
// write, or populated with madvise(MADV_POPULATE_WRITE) one page per call, or
// with process_madvise in batches; the same with a guard region installed
// first (MADV_GUARD_INSTALL). src/coro/stack.rs's step 2 rests on these
// figures (docs/benchmarks.md, "cold starts").
//
//   cc -O2 -o /tmp/page-cost benches/page-cost.c
//   for m in touch pop ppop guard+touch pguard+ppop; do chrt -f 10 /tmp/page-cost $m; done
//
// Needs Linux 6.15+ for the process_madvise modes (PIDFD_SELF), 6.13+ for guards.
// On a VM whose host has not backed the guest's free pages, a first touch may
// cost ~10 us in any mode: repeat the runs and compare the usual figures.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MADV_POPULATE_WRITE_ 23
#define MADV_GUARD_INSTALL_ 102
#define PIDFD_SELF_ (-10000)
#define N 10000
#define STRIDE (65 * 4096)

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static char *m;
static char *guard(int i) { return m + (size_t)i * STRIDE; }
static char *top(int i) { return m + (size_t)(i + 1) * STRIDE - 4096; }

// One process_madvise over pages at(i) for i in [from, from + n); 0 on success.
static int batch(char *(*at)(int), int from, int n, int advice) {
    struct iovec iov[64];
    if (n > N - from) n = N - from;
    for (int k = 0; k < n; k++) {
        iov[k].iov_base = at(from + k);
        iov[k].iov_len = 4096;
    }
    return syscall(SYS_process_madvise, PIDFD_SELF_, iov, n, advice, 0) != (long)n * 4096;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "touch";
    int b = argc > 2 ? atoi(argv[2]) : 16;
    if (b < 1 || b > 64) b = 16;
    m = mmap(0, (size_t)(N + 1) * STRIDE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return perror("mmap"), 1;
    long errors = 0;
    double t0 = now_ns();
    if (!strcmp(mode, "touch")) {
        for (int i = 0; i < N; i++) top(i)[4032] = 1;
    } else if (!strcmp(mode, "pop")) {
        for (int i = 0; i < N; i++) errors += madvise(top(i), 4096, MADV_POPULATE_WRITE_) != 0;
    } else if (!strcmp(mode, "ppop")) {
        for (int i = 0; i < N; i += b) errors += batch(top, i, b, MADV_POPULATE_WRITE_);
    } else if (!strcmp(mode, "guard+touch")) {
        for (int i = 0; i < N; i++) {
            errors += madvise(guard(i), 4096, MADV_GUARD_INSTALL_) != 0;
            top(i)[4032] = 1;
        }
    } else if (!strcmp(mode, "pguard+ppop")) {
        for (int i = 0; i < N; i += b) {
            errors += batch(guard, i, b, MADV_GUARD_INSTALL_);
            errors += batch(top, i, b, MADV_POPULATE_WRITE_);
        }
    } else {
        fprintf(stderr, "modes: touch pop ppop guard+touch pguard+ppop [batch]\n");
        return 2;
    }
    double t1 = now_ns();
    printf("%-12s batch %2d: %.3f us per stack (%ld failed calls)\n", mode, b, (t1 - t0) / 1e3 / N, errors);
    return errors != 0;
}
