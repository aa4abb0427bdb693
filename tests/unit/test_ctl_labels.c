/*
 * onrampctl pair --labels: the labels file (services/ctl/labels.h), both
 * forms, and every kind of broken line reported with its number while the
 * others go on.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "onramp/error.h"
#include "onramp/label.h"

/* A valid label for device "<c>" * 32 (c in a-z 2-7) of acme. */
static const char *label_of(char c, char out[ONR_LABEL_MAX + 1])
{
    struct onr_label l = {.mfr = "acme", .claim = "ABCDEFGHIJKLMNOPQRST"};

    memset(l.dev, c, ONR_DEVID_LEN);
    assert_onr(ONR_OK, onr_label_encode(&l, out, ONR_LABEL_MAX + 1));
    return out;
}

struct parsed {
    struct ctl_labels_line *lines;
    size_t n;
    const char *why;
};

static int parse(const char *text, const char *account, const char *op, struct parsed *p)
{
    const struct ctl_labels_defaults def = {account, op};

    return ctl_labels_parse(text, strlen(text), &def, &p->lines, &p->n, &p->why);
}

static void done(struct parsed *p)
{
    free(p->lines);
}

static void test_labels_one_per_line_take_the_defaults(void **state)
{
    char a[ONR_LABEL_MAX + 1], b[ONR_LABEL_MAX + 1], text[512];
    struct parsed p;

    (void)state;
    snprintf(text, sizeof(text), "\xef\xbb\xbf# shipment 42\r\n%s\r\n\n  %s  \n   \n",
             label_of('a', a), label_of('b', b));
    assert_onr(ONR_OK, parse(text, "alice", "op-2", &p));
    assert_int_equal(p.n, 2);
    assert_int_equal(p.lines[0].line, 2);
    assert_null(p.lines[0].error);
    assert_string_equal(p.lines[0].label, a);
    assert_string_equal(p.lines[0].dev, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_string_equal(p.lines[0].account, "alice");
    assert_string_equal(p.lines[0].op, "op-2");
    assert_int_equal(p.lines[1].line, 4);
    assert_string_equal(p.lines[1].label, b); /* trimmed */
    done(&p);
    /* no default operator: the provider's */
    assert_onr(ONR_OK, parse(text, "alice", NULL, &p));
    assert_string_equal(p.lines[1].op, "");
    done(&p);
    /* no default account: every line is malformed */
    assert_onr(ONR_OK, parse(text, NULL, NULL, &p));
    assert_int_equal(p.n, 2);
    assert_string_equal(p.lines[0].error,
                        "no account (its field is empty and no --account was given)");
    done(&p);
}

static void test_labels_csv_with_a_header_in_any_order(void **state)
{
    char a[ONR_LABEL_MAX + 1], b[ONR_LABEL_MAX + 1], c[ONR_LABEL_MAX + 1], text[1024];
    struct parsed p;

    (void)state;
    snprintf(text, sizeof(text),
             "Operator, ACCOUNT ,label\n"
             "op-1,bob,%s\n"
             ",\"Smith, \"\"Jo\"\"\",%s\n"
             "op-3 , , %s\n",
             label_of('a', a), label_of('b', b), label_of('c', c));
    assert_onr(ONR_OK, parse(text, "fallback", NULL, &p));
    assert_int_equal(p.n, 3);
    assert_null(p.lines[0].error);
    assert_int_equal(p.lines[0].line, 2);
    assert_string_equal(p.lines[0].op, "op-1");
    assert_string_equal(p.lines[0].account, "bob");
    assert_string_equal(p.lines[0].label, a);
    assert_null(p.lines[1].error);
    assert_string_equal(p.lines[1].account, "Smith, \"Jo\"");
    assert_string_equal(p.lines[1].op, "");
    assert_null(p.lines[2].error);
    assert_string_equal(p.lines[2].account, "fallback");
    assert_string_equal(p.lines[2].op, "op-3");
    assert_string_equal(p.lines[2].label, c);
    done(&p);
    /* a header with the label alone: the defaults for the rest */
    snprintf(text, sizeof(text), "label\n%s\n", a);
    assert_onr(ONR_OK, parse(text, "carol", "op-1", &p));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.lines[0].account, "carol");
    done(&p);
}

/* Every broken line, each with its reason and number; the good lines around
 * them stay good. */
static void test_labels_broken_lines_are_reported_and_the_rest_go_on(void **state)
{
    char a[ONR_LABEL_MAX + 1], b[ONR_LABEL_MAX + 1], c[ONR_LABEL_MAX + 1];
    char typo[ONR_LABEL_MAX + 1], long_account[80], long_line[1100];
    static char text[8192];
    struct parsed p;
    static const struct {
        unsigned line;
        const char *error;
    } expect[] = {
        {2, NULL},
        {3, "the label's check characters do not match (a typo?)"},
        {4, "not as many fields as the header names"},
        {5, "not as many fields as the header names"},
        {6, "a stray or unterminated double quote"},
        {7, "a stray or unterminated double quote"},
        {8, "not an Onramp device label"},
        {9, "no label"},
        {10, "the account must be 1 to 64 bytes of UTF-8 text"},
        {11, "the operator is no service id (a-z 0-9 . _ -, 1 to 32)"},
        {12, "not UTF-8 text without control characters"},
        {13, "not UTF-8 text without control characters"},
        {14, "longer than 1024 bytes"},
        {15, "the same device as an earlier line"},
        {16, NULL},
        {17, "not an Onramp device label (too long)"},
        {18, NULL},
    };

    (void)state;
    label_of('a', a);
    label_of('b', b);
    label_of('c', c);
    memcpy(typo, b, sizeof(typo));
    typo[strlen(typo) - 1] = typo[strlen(typo) - 1] == 'A' ? 'B' : 'A';
    memset(long_account, 'x', 65);
    long_account[65] = '\0';
    memset(long_line, 'y', 1030);
    long_line[1030] = '\0';
    snprintf(text, sizeof(text),
             "label,account,operator\n"       /* 1 */
             "%s,alice,op-1\n"                /* 2 */
             "%s,alice,op-1\n"                /* 3: a typo */
             "%s,alice\n"                     /* 4: two fields */
             "%s,alice,op-1,extra\n"          /* 5: four */
             "\"%s,alice,op-1\n"              /* 6: unterminated */
             "%s,al\"ice,op-1\n"              /* 7: a quote inside */
             "hello,alice,op-1\n"             /* 8 */
             ",alice,op-1\n"                  /* 9 */
             "%s,%s,op-1\n"                   /* 10 */
             "%s,alice,Op 1\n"                /* 11 */
             "%s,al\tice,op-1\n"              /* 12: a tab */
             "%s,al\xff" "ice,op-1\n"         /* 13 */
             "%s,%s,op-1\n"                   /* 14 */
             "%s,bob,op-2\n"                  /* 15: line 2's device */
             "%s,\"\",\"\"\n"                 /* 16: the defaults */
             "%s%s,alice,\n"                  /* 17 */
             "\"%s\" , alice , op-1 ",        /* 18: no LF at the end */
             a, typo, c, c, c, c, c, long_account, c, c, c, c, long_line, a, c, a, b, b);
    assert_onr(ONR_OK, parse(text, "dora", NULL, &p));
    assert_int_equal(p.n, sizeof(expect) / sizeof(expect[0]));
    for (size_t i = 0; i < p.n; i++) {
        assert_int_equal(p.lines[i].line, expect[i].line);
        if (expect[i].error == NULL && p.lines[i].error != NULL)
            fail_msg("line %u: %s", p.lines[i].line, p.lines[i].error);
        if (expect[i].error != NULL)
            assert_string_equal(p.lines[i].error, expect[i].error);
    }
    assert_int_equal(p.lines[13].dup_of, 2);
    assert_string_equal(p.lines[14].account, "dora");
    assert_string_equal(p.lines[14].op, "");
    assert_string_equal(p.lines[16].dev, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_string_equal(p.lines[16].account, "alice");
    assert_string_equal(p.lines[16].label, b);
    done(&p);
}

static void test_labels_a_comma_without_a_header_is_malformed(void **state)
{
    char a[ONR_LABEL_MAX + 1], b[ONR_LABEL_MAX + 1], text[512];
    struct parsed p;

    (void)state;
    snprintf(text, sizeof(text), "%s,alice\n%s\n%s\n", label_of('a', a), label_of('b', b), b);
    assert_onr(ONR_OK, parse(text, "alice", NULL, &p));
    assert_int_equal(p.n, 3);
    assert_non_null(strstr(p.lines[0].error, "a CSV file starts with its header line"));
    assert_null(p.lines[1].error);
    assert_string_equal(p.lines[2].error, "the same device as an earlier line");
    assert_int_equal(p.lines[2].dup_of, 2);
    done(&p);
}

/* A kit's label pairs all its devices: its kit id, not a device id; the
 * same kit twice is a duplicate. */
static void test_labels_kit_labels_name_their_kit(void **state)
{
    struct onr_kit_label k = {.mfr = "acme", .kit = "q2kzf6r3hbwnmx7yt4pc",
                              .claim = "ZYXWVUTSRQPONMLKJIHG"};
    char kit[ONR_KIT_LABEL_MAX + 1], a[ONR_LABEL_MAX + 1], text[512];
    struct parsed p;

    (void)state;
    assert_onr(ONR_OK, onr_kit_label_encode(&k, kit, sizeof(kit)));
    snprintf(text, sizeof(text), "%s\n%s\n%s\n", kit, label_of('a', a), kit);
    kit[strlen(kit) - 1] = kit[strlen(kit) - 1] == 'A' ? 'B' : 'A';
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s\n", kit);
    assert_onr(ONR_OK, parse(text, "erin", NULL, &p));
    assert_int_equal(p.n, 4);
    assert_null(p.lines[0].error);
    assert_string_equal(p.lines[0].kit, "q2kzf6r3hbwnmx7yt4pc");
    assert_string_equal(p.lines[0].dev, "");
    assert_null(p.lines[1].error);
    assert_string_equal(p.lines[1].kit, "");
    assert_string_equal(p.lines[2].error, "the same kit as an earlier line");
    assert_int_equal(p.lines[2].dup_of, 1);
    assert_string_equal(p.lines[3].error, "the label's check characters do not match (a typo?)");
    done(&p);
}

static void test_labels_whole_file_refusals(void **state)
{
    struct parsed p;
    char *big;
    size_t n;

    (void)state;
    assert_onr(ONR_EFORMAT, parse("label,account,label\nx,y,z\n", "a", NULL, &p));
    assert_string_equal(p.why, "the header line names a column twice");
    assert_null(p.lines);
    assert_onr(ONR_EFORMAT, parse("# accounts\naccount,operator\n", "a", NULL, &p));
    assert_string_equal(p.why, "the header line names no label column");
    assert_onr(ONR_EINVAL, parse("", "", NULL, &p));
    assert_onr(ONR_EINVAL, parse("", "a", "Op!", &p));
    assert_onr(ONR_EINVAL, parse("", "\x01", NULL, &p));
    /* empty and comment-only files hold no pairing */
    assert_onr(ONR_OK, parse("", "a", NULL, &p));
    assert_int_equal(p.n, 0);
    done(&p);
    assert_onr(ONR_OK, parse("# nothing\n\n", "a", NULL, &p));
    assert_int_equal(p.n, 0);
    done(&p);
    /* over 100000 lines that count */
    n = 2 * (CTL_LABELS_LINES_MAX + 1);
    big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i += 2)
        memcpy(big + i, "x\n", 2);
    big[n] = '\0';
    assert_onr(ONR_ECOUNT, parse(big, "a", NULL, &p));
    assert_string_equal(p.why, "more than 100000 labels");
    /* exactly 100000: every one malformed, none refused as a whole */
    assert_onr(ONR_OK, ctl_labels_parse(big, n - 2, &(struct ctl_labels_defaults){"a", NULL},
                                        &p.lines, &p.n, &p.why));
    assert_int_equal(p.n, CTL_LABELS_LINES_MAX);
    done(&p);
    free(big);
    assert_onr(ONR_ETOOBIG, ctl_labels_parse("x", CTL_LABELS_FILE_MAX + 1, NULL, &p.lines,
                                             &p.n, &p.why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_one_per_line_take_the_defaults),
        cmocka_unit_test(test_labels_csv_with_a_header_in_any_order),
        cmocka_unit_test(test_labels_broken_lines_are_reported_and_the_rest_go_on),
        cmocka_unit_test(test_labels_a_comma_without_a_header_is_malformed),
        cmocka_unit_test(test_labels_kit_labels_name_their_kit),
        cmocka_unit_test(test_labels_whole_file_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
