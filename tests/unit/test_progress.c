#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/progress.h"

/* A clock the test moves by hand. */
static uint64_t fake_now;

static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

struct capture {
    char *text;
    size_t len;
    FILE *f;
};

static void capture_open(struct capture *c)
{
    memset(c, 0, sizeof(*c));
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
}

static void capture_close(struct capture *c)
{
    fclose(c->f);
    free(c->text);
}

static struct onr_progress *plain(struct capture *c, uint64_t total)
{
    struct onr_progress_opts opts = {.tty = 0, .interval_ms = 1000, .clock = fake_clock};

    fake_now = 50000;
    capture_open(c);
    return onr_progress_new(c->f, "minting", total, &opts);
}

static void test_progress_off_a_terminal_prints_occasional_lines_and_a_summary(void **state)
{
    struct capture c;
    struct onr_progress *p = plain(&c, 4000);

    (void)state;
    for (int i = 0; i < 4000; i++) {
        fake_now += 1; /* 1000 units a second */
        onr_progress_add(p, 1);
    }
    onr_progress_free(p);
    fflush(c.f);
    assert_string_equal(c.text, "minting: 1000/4000 (25%) 1000/s\n"
                                "minting: 2000/4000 (50%) 1000/s\n"
                                "minting: 3000/4000 (75%) 1000/s\n"
                                "minting: 4000/4000 (100%) 1000/s\n"
                                "minting: 4000/4000 (100%) in 4.0 s (1000/s)\n");
    capture_close(&c);
}

static void test_progress_of_quick_work_prints_nothing(void **state)
{
    struct capture c;
    struct onr_progress *p = plain(&c, 10);

    (void)state;
    for (int i = 0; i < 10; i++) {
        fake_now += 10;
        onr_progress_add(p, 1);
    }
    onr_progress_free(p);
    fflush(c.f);
    assert_int_equal(c.len, 0);
    capture_close(&c);
}

static void test_progress_with_an_unknown_total_counts_and_slow_rates_have_a_decimal(
    void **state)
{
    struct capture c;
    struct onr_progress *p = plain(&c, 0);

    (void)state;
    fake_now += 2000;
    onr_progress_add(p, 3);
    fake_now += 2000;
    onr_progress_add(p, 4);
    onr_progress_free(p);
    fflush(c.f);
    assert_string_equal(c.text, "minting: 3 1.5/s\n"
                                "minting: 7 1.8/s\n"
                                "minting: 7 in 4.0 s (1.8/s)\n");
    capture_close(&c);
}

static void test_progress_on_a_terminal_redraws_one_line(void **state)
{
    struct onr_progress_opts opts = {.tty = 1, .clock = fake_clock};
    struct onr_progress *p;
    struct capture c;

    (void)state;
    fake_now = 0;
    capture_open(&c);
    p = onr_progress_new(c.f, "keys", 3, &opts);
    fake_now = 50; /* not yet due */
    onr_progress_add(p, 1);
    fake_now = 200;
    onr_progress_add(p, 1);
    fake_now = 400;
    onr_progress_add(p, 1);
    onr_progress_free(p);
    fflush(c.f);
    assert_string_equal(c.text, "\rkeys 2/3 (66%) 10/s\x1b[K"
                                "\rkeys 3/3 (100%) 7.5/s\x1b[K"
                                "\rkeys 3/3 (100%) 7.5/s\x1b[K\n");
    capture_close(&c);
}

static void test_progress_null_handle_is_harmless(void **state)
{
    (void)state;
    assert_null(onr_progress_new(NULL, "x", 1, NULL));
    onr_progress_add(NULL, 1);
    onr_progress_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_off_a_terminal_prints_occasional_lines_and_a_summary),
        cmocka_unit_test(test_progress_of_quick_work_prints_nothing),
        cmocka_unit_test(
            test_progress_with_an_unknown_total_counts_and_slow_rates_have_a_decimal),
        cmocka_unit_test(test_progress_on_a_terminal_redraws_one_line),
        cmocka_unit_test(test_progress_null_handle_is_harmless),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
