/*
 * The labels file of onrampctl pair --labels: many pairings at once,
 * read without network or clock (unit-tested by tests/unit/test_ctl_labels.c,
 * fuzzed by tests/fuzz/fuzz_labels.c). The file comes from a customer's
 * spreadsheet or a scanner: untrusted text, every line checked.
 *
 * Two forms, told apart by the first line that is neither blank nor a
 * comment ('#' first):
 *
 *   - a header naming columns, comma-separated, from `label`, `account`
 *     and `operator` (each at most once, `label` required, any order, any
 *     case): a CSV file, one pairing per line with that many fields
 *     (RFC 4180 quoting: a field in double quotes may hold commas, and ""
 *     is a quote inside it; spaces around a field are dropped);
 *   - anything else: one label per line.
 *
 * An empty account or operator field, or a missing column, takes the
 * default given (--account, --operator); with no default, an account is
 * required and the operator is left to the provider. Blank and comment
 * lines are skipped, a UTF-8 byte order mark at the start is ignored, and
 * lines end with LF or CR LF.
 *
 * A label is a device's (ONR1) or a kit's (ONK1: all its devices in one
 * pairing). A line that cannot be a pairing (a label that does not check,
 * a field that is not text, a wrong count of fields, a line of more than
 * CTL_LABELS_LINE_MAX bytes, the same device or kit as an earlier line)
 * is kept as malformed with its reason: the others go on.
 */
#ifndef ONRAMP_CTL_LABELS_H
#define ONRAMP_CTL_LABELS_H

#include <stddef.h>

#include "onramp/devid.h"
#include "onramp/label.h"
#include "onramp/msg.h"

#define CTL_LABELS_FILE_MAX (16u << 20) /* bytes of a labels file */
#define CTL_LABELS_LINES_MAX 100000     /* pairings in one file */
#define CTL_LABELS_LINE_MAX 1024        /* bytes of one line */
#define CTL_ACCOUNT_MAX 64              /* SPEC type 15's account, in bytes */

/* One pairing of the file: a line that is neither blank, a comment nor the
 * header. */
struct ctl_labels_line {
    unsigned line;                       /* its number in the file, from 1 */
    const char *error;                   /* static: why it is malformed, or NULL */
    unsigned dup_of;                     /* a duplicate: the earlier line, else 0 */
    char label[ONR_LABEL_MAX + 1];       /* checked (SPEC section 12) */
    char dev[ONR_DEVID_LEN + 1];         /* the label's device, or "" for a kit */
    char kit[ONR_KIT_ID_LEN + 1];        /* a kit label's kit, or "" */
    char account[CTL_ACCOUNT_MAX + 1];   /* 1..64 bytes of UTF-8 text */
    char op[ONR_SERVICE_ID_MAX + 1];     /* a service id, or "" for none */
};

/* What a line without its own account or operator gets (borrowed; NULL:
 * none). */
struct ctl_labels_defaults {
    const char *account;
    const char *op;
};

/*
 * ctl_labels_parse: the pairings of the labels file `data` (`len` bytes,
 * untrusted, need not be NUL-terminated) into a new array *lines of *n
 * (the caller wipes and frees it: labels hold claim secrets). Returns
 * ONR_OK (malformed lines are in the array with their reason), or for
 * the file as a whole ONR_ETOOBIG (over CTL_LABELS_FILE_MAX bytes),
 * ONR_ECOUNT (over CTL_LABELS_LINES_MAX pairings), ONR_EFORMAT (a
 * header names a column twice or no `label`: *why says which), ONR_EINVAL
 * (a default that is itself no account or operator) or ONR_ENOMEM.
 * *why (static, may be NULL) explains a refusal.
 */
int ctl_labels_parse(const char *data, size_t len, const struct ctl_labels_defaults *def,
                     struct ctl_labels_line **lines, size_t *n, const char **why);

#endif /* ONRAMP_CTL_LABELS_H */
