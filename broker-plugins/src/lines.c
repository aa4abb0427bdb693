#include "lines.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/file.h"

int lines_read(const char *path, size_t max, size_t line_max, lines_take_cb take,
               void *take_arg, lines_skip_cb skipped, void *skip_arg)
{
    uint8_t *data = NULL;
    size_t len = 0;
    size_t line_no = 0;
    char *end;
    int rc;

    rc = onr_file_read(path, max, 0, &data, &len);
    if (rc == ONR_ENOENT)
        return ONR_OK;
    if (rc != ONR_OK)
        return rc == ONR_ENOMEM ? rc : ONR_EIO;
    end = (char *)data + len;
    for (char *p = (char *)data; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *why;

        line_no++;
        if (nl == NULL) {
            /* a torn last line: the append that a crash interrupted */
            why = "incomplete last line";
        } else {
            *nl = '\0';
            why = (size_t)(nl - p) > line_max || memchr(p, '\0', (size_t)(nl - p)) != NULL
                      ? "line too long or has NUL"
                      : take(p, take_arg);
        }
        if (why != NULL && skipped != NULL)
            skipped(line_no, why, skip_arg);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    free(data);
    return ONR_OK;
}
