#define _GNU_SOURCE /* mallinfo2 */
#include "measure.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double measure_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

void measure_sort(double *samples, size_t n)
{
    qsort(samples, n, sizeof(*samples), cmp_double);
}

double measure_percentile(const double *sorted, size_t n, double p)
{
    size_t rank;

    if (n == 0)
        return 0;
    /* nearest rank: the smallest sample with at least p% at or below it */
    rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

double measure_process_cpu(pid_t pid)
{
    char path[64], line[1024];
    unsigned long long utime = 0, stime = 0;
    const char *after_name;
    FILE *f;
    long ticks = sysconf(_SC_CLK_TCK);
    size_t len;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    len = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[len] = '\0';
    /* the command name is in parentheses and may hold spaces: fields are
     * counted from the last ')' (field 3, the state, follows it) */
    after_name = strrchr(line, ')');
    if (after_name == NULL || ticks <= 0 ||
        sscanf(after_name + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)ticks;
}

double measure_self_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

size_t measure_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    /* small blocks in use plus blocks malloc gave their own mapping */
    return mi.uordblks + mi.hblkhd;
}
