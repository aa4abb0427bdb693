/*
 * The plugin's line files (the grants journal, the sessions file): read
 * whole at start, one record per line. A file written by a process that
 * crashed mid-append may end in a torn line, and any line may have been
 * damaged: each bad line is skipped and reported, never fatal.
 */
#ifndef ONRAMP_PLUGIN_LINES_H
#define ONRAMP_PLUGIN_LINES_H

#include <stddef.h>

/* Called for each line skipped: its number (from 1) and why. */
typedef void (*lines_skip_cb)(size_t line, const char *why, void *arg);

/* Takes one line (NUL-terminated, without its newline; it may be changed
 * in place): NULL if taken, else why it is skipped. */
typedef const char *(*lines_take_cb)(char *line, void *arg);

/*
 * lines_read: read the file at `path` (at most `max` bytes; a missing file
 * reads as empty) and hand each whole line of at most `line_max` bytes and
 * no NUL to `take`. A last line without its newline, a longer line, a line
 * with a NUL, and a line `take` refuses are reported to `skipped` (may be
 * NULL) instead. ONR_OK, ONR_ENOMEM, or ONR_EIO (unreadable, or larger
 * than `max`).
 */
int lines_read(const char *path, size_t max, size_t line_max, lines_take_cb take,
               void *take_arg, lines_skip_cb skipped, void *skip_arg);

#endif /* ONRAMP_PLUGIN_LINES_H */
