/*
 * onrampctl pair --labels's file (services/ctl/labels.h): a customer's
 * spreadsheet or a scanner's output, untrusted text.
 *
 * Input: a labels file (the first byte picks the defaults: bit 0 an
 * account, bit 1 an operator).
 * Checks: a file refused as a whole leaves nothing; otherwise every entry
 * has a line number, increasing, within the file's lines; a good entry's
 * label is in the input as is, decodes and names its device, its account
 * is 1..64 bytes of text and its operator a service id or none; a
 * duplicate names an earlier line with the same device; the defaults
 * appear where a line gave none.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "labels.h"
#include "onramp/error.h"
#include "onramp/label.h"
#include "onramp/text.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* `needle` (NUL-terminated) somewhere in the `len` bytes of `hay`. */
static int contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

static const struct ctl_labels_line *by_line(const struct ctl_labels_line *l, size_t n,
                                             unsigned line)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].line == line)
            return &l[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctl_labels_defaults def = {NULL, NULL};
    struct ctl_labels_line *lines = NULL;
    const char *text, *why = NULL;
    size_t n = 99, len, newlines = 0;
    unsigned last = 0;
    int rc;

    if (size == 0)
        return 0;
    if (data[0] & 1)
        def.account = "fuzz account";
    if (data[0] & 2)
        def.op = "op-1";
    text = (const char *)data + 1;
    len = size - 1;
    for (size_t i = 0; i < len; i++)
        newlines += text[i] == '\n';
    rc = ctl_labels_parse(text, len, &def, &lines, &n, &why);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc < 0 && lines == NULL && n == 0, "refused file left %zu lines", n);
        return 0;
    }
    FUZZ_CHECK(n <= newlines + 1, "%zu entries from %zu lines", n, newlines + 1);
    for (size_t i = 0; i < n; i++) {
        const struct ctl_labels_line *l = &lines[i];
        struct onr_label label;

        FUZZ_CHECK(l->line > last && l->line <= newlines + 1, "line %u after %u", l->line, last);
        last = l->line;
        if (l->dup_of != 0) {
            const struct ctl_labels_line *first = by_line(lines, n, l->dup_of);

            FUZZ_CHECK(l->error != NULL && l->dup_of < l->line && first != NULL &&
                           first->error == NULL && strcmp(first->dev, l->dev) == 0 &&
                           strcmp(first->kit, l->kit) == 0,
                       "duplicate of line %u", l->dup_of);
        }
        if (l->error != NULL)
            continue;
        FUZZ_CHECK(contains(text, len, l->label), "label not in input");
        if (l->kit[0] != '\0') {
            struct onr_kit_label kit;

            FUZZ_CHECK(l->dev[0] == '\0' &&
                           onr_kit_label_decode(l->label, strlen(l->label), &kit) == ONR_OK &&
                           strcmp(kit.kit, l->kit) == 0,
                       "kit label does not decode to its kit");
        } else {
            FUZZ_CHECK(onr_label_decode(l->label, strlen(l->label), &label) == ONR_OK &&
                           strcmp(label.dev, l->dev) == 0,
                       "label does not decode to its device");
        }
        FUZZ_CHECK(strlen(l->account) >= 1 && strlen(l->account) <= CTL_ACCOUNT_MAX &&
                       onr_text_check(ONR_TEXT_UTF8, (struct onr_bytes){
                                          (const uint8_t *)l->account, strlen(l->account)}) ==
                           ONR_OK,
                   "account");
        FUZZ_CHECK(l->op[0] == '\0' ||
                       onr_text_check(ONR_TEXT_ID, (struct onr_bytes){(const uint8_t *)l->op,
                                                                      strlen(l->op)}) == ONR_OK,
                   "operator");
        FUZZ_CHECK(def.op == NULL || l->op[0] != '\0', "the default operator not applied");
    }
    free(lines);
    return 0;
}
