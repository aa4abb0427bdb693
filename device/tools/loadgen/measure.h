/*
 * What onramp-loadgen measures besides the devices themselves: time,
 * percentiles, the CPU a process spent (from /proc) and the heap in use.
 */
#ifndef ONRAMP_LOADGEN_MEASURE_H
#define ONRAMP_LOADGEN_MEASURE_H

#include <stddef.h>
#include <sys/types.h>

/* Seconds on the monotonic clock. */
double measure_now(void);

/* Sort `n` samples in place, smallest first (for measure_percentile). */
void measure_sort(double *samples, size_t n);

/* The p-th percentile (0 < p <= 100) of `n` samples already sorted by
 * measure_sort, nearest rank. 0 when n is 0. */
double measure_percentile(const double *sorted, size_t n, double p);

/* The user + system CPU seconds process `pid` has spent (/proc/PID/stat,
 * clock-tick resolution); -1 when it cannot be read (gone, or not ours to
 * read). */
double measure_process_cpu(pid_t pid);

/* The CPU seconds this process has spent (getrusage: microseconds). */
double measure_self_cpu(void);

/* Bytes of heap this process has in use (malloc's own count). */
size_t measure_heap_in_use(void);

#endif
