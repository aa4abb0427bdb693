#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grants.h"
#include "map.h"
#include "onramp/error.h"

#define setup onr_test_setup_tmpdir
#define teardown onr_test_teardown_tmpdir

#define DEV1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DEV2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DEV3 "cccccccccccccccccccccccccccccccc"

static const uint8_t SERIAL[] = {0x0a, 0x0b, 0xfc};
static const uint8_t SERIAL_DER[] = {0x00, 0x0a, 0x0b, 0xfc}; /* the same, one zero byte more */

static char *journal_text(void **state);
static char *journal_records(void **state, char epoch[2 * GRANTS_EPOCH_LEN + 1]);

static const char *journal(void **state)
{
    static char path[4096];

    snprintf(path, sizeof(path), "%s/grants", (const char *)*state);
    return path;
}

static void test_grants_survive_reopen(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_null(grants_provider(g, DEV1));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_set(g, DEV2, "prov-2", "op-1"));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-3", "op-1")); /* its later grant wins */
    assert_onr(ONR_OK, grants_revoke(g, DEV2, "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    grants_close(g);

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_string_equal(grants_provider(g, DEV1), "prov-3");
    assert_null(grants_provider(g, DEV2));
    assert_int_equal(grants_count(g), 1);
    grants_close(g);
}

static void test_grants_journal_is_compacted_and_private(void **state)
{
    struct grants *g = NULL;
    struct stat st;
    char *text;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    for (int i = 0; i < 10; i++)
        assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    grants_close(g);
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    grants_close(g);
    text = journal_records(state, NULL);
    assert_string_equal(text, "grant " DEV1 " prov-1 op-1\n");
    free(text);
    assert_int_equal(stat(journal(state), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_grants_revoke_only_by_granting_operator(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_ENOENT, grants_revoke(g, DEV1, "op-1"));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_EHELD, grants_revoke(g, DEV1, "op-2"));
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    assert_onr(ONR_OK, grants_revoke(g, DEV1, "op-1"));
    grants_close(g);
}

/* The journal reopened: `dev` granted `prov` by `op`. */
static void assert_grant_after_reopen(void **state, const char *dev, const char *prov,
                                      const char *op)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_string_equal(grants_provider(g, dev), prov);
    assert_string_equal(grants_operator(g, dev), op);
    grants_close(g);
}

/* What issue 15 found: op-2 granting op-1's device replaced op-1's grant
 * (and op-2 could then revoke it). Refused now, with nothing changed: not
 * the grant, not the journal. */
static void test_grant_held_by_another_operator_is_refused_and_changes_nothing(void **state)
{
    struct grants *g = NULL;
    char *before;
    char *after;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    before = journal_text(state);
    assert_onr(ONR_EHELD, grants_set(g, DEV1, "prov-2", "op-2"));
    assert_onr(ONR_EHELD, grants_set(g, DEV1, "prov-1", "op-2"));
    assert_onr(ONR_EHELD, grants_revoke(g, DEV1, "op-2"));
    assert_onr(ONR_OK, grants_sync(g));
    after = journal_text(state);
    assert_string_equal(after, before);
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    assert_string_equal(grants_operator(g, DEV1), "op-1");
    grants_close(g);
    free(before);
    free(after);
    assert_grant_after_reopen(state, DEV1, "prov-1", "op-1");
}

static void test_grant_again_by_its_holder_and_a_move_after_revoke(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_null(grants_operator(g, DEV1));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1")); /* idempotent */
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-2", "op-1")); /* another provider */
    assert_string_equal(grants_provider(g, DEV1), "prov-2");
    assert_int_equal(grants_count(g), 1);
    /* a move between operators: the holder revokes, then the new one grants */
    assert_onr(ONR_EHELD, grants_set(g, DEV1, "prov-3", "op-2"));
    assert_onr(ONR_OK, grants_revoke(g, DEV1, "op-1"));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-3", "op-2"));
    assert_string_equal(grants_operator(g, DEV1), "op-2");
    assert_onr(ONR_EHELD, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    grants_close(g);
    assert_grant_after_reopen(state, DEV1, "prov-3", "op-2");
}

static off_t journal_size(void **state)
{
    struct stat st;

    assert_int_equal(stat(journal(state), &st), 0);
    return st.st_size;
}

/* Lets this process write files up to `size` bytes (a full disk, for the
 * journal): write() then writes what fits and fails with EFBIG. SIGXFSZ is
 * ignored, as it would kill the process. */
static void limit_file_size(rlim_t size)
{
    struct rlimit lim;

    assert_int_equal(getrlimit(RLIMIT_FSIZE, &lim), 0);
    lim.rlim_cur = size;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static void unlimit_file_size(void)
{
    struct rlimit lim;

    assert_int_equal(getrlimit(RLIMIT_FSIZE, &lim), 0);
    lim.rlim_cur = lim.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

/* Teardown of the tests that limit the file size: whatever they did not
 * get to undo (a failed assertion ends a test at once) is undone here, so
 * the tests after them write files again. */
static int teardown_unlimited(void **state)
{
    struct rlimit lim;

    if (getrlimit(RLIMIT_FSIZE, &lim) == 0) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_FSIZE, &lim);
    }
    signal(SIGXFSZ, SIG_DFL);
    return onr_test_teardown_tmpdir(state);
}

/* The journal reopened after a failed write: every line whole (none
 * skipped), DEV1's grant and DEV3's (made after the failure), not DEV2's
 * (the change that failed). */
static struct grants *reopen_whole(void **state)
{
    struct grants *g = NULL;
    size_t skipped = 0;

    assert_onr(ONR_OK, grants_open(journal(state), onr_test_count_line, &skipped, &g));
    assert_int_equal(skipped, 0);
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    assert_null(grants_provider(g, DEV2));
    assert_string_equal(grants_provider(g, DEV3), "prov-3");
    return g;
}

/* What issue 15 found: a record written in part (disk full) stayed in the
 * journal, the next record was appended onto it, and replay skipped that
 * line although its change had been confirmed. A short write is cut off
 * again and refused, with memory unchanged. */
static void test_journal_short_write_is_cut_off_and_refused(void **state)
{
    struct grants *g = NULL;
    off_t whole;

    signal(SIGXFSZ, SIG_IGN);
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL, sizeof(SERIAL), 0));
    assert_onr(ONR_OK, grants_sync(g));
    whole = journal_size(state);

    /* room for 10 bytes of a 51-byte record, then for none */
    limit_file_size((rlim_t)whole + 10);
    assert_onr(ONR_EIO, grants_set(g, DEV2, "prov-2", "op-1"));
    limit_file_size((rlim_t)whole);
    assert_onr(ONR_EIO, grants_revoke(g, DEV1, "op-1"));
    assert_onr(ONR_EIO, grants_cert_revoke(g, "prov-2", DEV2, SERIAL, sizeof(SERIAL), 0));
    unlimit_file_size();
    assert_int_equal(journal_size(state), whole);
    assert_null(grants_provider(g, DEV2)); /* memory unchanged */
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    assert_false(grants_cert_revoked(g, "prov-2", SERIAL, sizeof(SERIAL)));

    /* space again: the next change is confirmed, and replayed */
    assert_onr(ONR_OK, grants_set(g, DEV3, "prov-3", "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    grants_close(g);
    g = reopen_whole(state);
    assert_true(grants_cert_revoked(g, "prov-1", SERIAL, sizeof(SERIAL)));
    assert_false(grants_cert_revoked(g, "prov-2", SERIAL, sizeof(SERIAL)));
    grants_close(g);
}

/*
 * The journal's own descriptor, replaced by `fd` (dup2), so that the next
 * write or sync on it fails for real: the plugin holds the journal open
 * for appending and never shows the descriptor. Found as the descriptor
 * open on the journal's inode.
 */
static void replace_journal_fd(void **state, int fd)
{
    struct stat want;
    struct stat st;
    int found = -1;

    assert_true(fd >= 0);
    assert_int_equal(stat(journal(state), &want), 0);
    for (int i = 0; i < 1024; i++)
        if (i != fd && fstat(i, &st) == 0 && st.st_dev == want.st_dev &&
            st.st_ino == want.st_ino)
            found = i;
    assert_true(found >= 0);
    assert_int_equal(dup2(fd, found), found);
    close(fd);
}

/* A record that fails to write and cannot be cut back either (here the
 * descriptor is read-only: write and ftruncate both fail): the journal is
 * not trusted again until it is rewritten whole from memory, which the
 * next request does first. */
static void test_journal_that_cannot_be_cut_back_is_rewritten_first(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    replace_journal_fd(state, open(journal(state), O_RDONLY | O_CLOEXEC));
    assert_onr(ONR_EIO, grants_set(g, DEV2, "prov-2", "op-1"));
    assert_null(grants_provider(g, DEV2));
    assert_onr(ONR_OK, grants_set(g, DEV3, "prov-3", "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    grants_close(g);
    grants_close(reopen_whole(state));
}

/* A failed fdatasync proves nothing about what reached the disk (a second
 * one may succeed with the records dropped): the journal is rewritten from
 * memory, and only that confirms. While even that fails (the disk full
 * here), nothing is confirmed and every new request is refused. */
static void test_failed_sync_is_confirmed_only_by_a_rewrite(void **state)
{
    struct grants *g = NULL;
    uint8_t epoch[GRANTS_EPOCH_LEN];

    signal(SIGXFSZ, SIG_IGN);
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    /* fdatasync on /dev/null fails (EINVAL), as on a failing disk */
    replace_journal_fd(state, open("/dev/null", O_WRONLY | O_CLOEXEC));
    assert_onr(ONR_OK, grants_set(g, DEV2, "prov-2", "op-1"));
    limit_file_size(1);
    assert_onr(ONR_EIO, grants_sync(g));
    assert_onr(ONR_EIO, grants_revoke(g, DEV1, "op-1"));
    assert_onr(ONR_EIO, grants_set(g, DEV3, "prov-3", "op-1"));
    assert_string_equal(grants_provider(g, DEV1), "prov-1"); /* nothing changed */
    assert_null(grants_provider(g, DEV3));
    unlimit_file_size();
    assert_onr(ONR_OK, grants_sync(g)); /* rewritten: DEV2 durable now */
    memcpy(epoch, grants_epoch(g), sizeof(epoch));
    grants_close(g);
    assert_grant_after_reopen(state, DEV2, "prov-2", "op-1");
    assert_grant_after_reopen(state, DEV1, "prov-1", "op-1");
    /* the rewrite kept the journal's epoch */
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_false(grants_epoch_new(g));
    assert_memory_equal(grants_epoch(g), epoch, sizeof(epoch));
    grants_close(g);
}

static void test_grants_refuse_bad_ids(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_EINVAL, grants_set(g, "short", "prov-1", "op-1"));
    assert_onr(ONR_EINVAL, grants_set(g, DEV1, "prov 1", "op-1"));
    assert_onr(ONR_EINVAL, grants_set(g, DEV1, "prov-1", "op\n1"));
    assert_onr(ONR_EINVAL, grants_set(g, DEV1, "", "op-1"));
    assert_int_equal(grants_count(g), 0);
    grants_close(g);
}

static void test_grants_skip_malformed_lines_and_torn_tail(void **state)
{
    struct grants *g = NULL;
    size_t skipped = 0;
    FILE *f = fopen(journal(state), "w");

    assert_non_null(f);
    fputs("grant " DEV1 " prov-1 op-1\n"
          "nonsense\n"
          "grant short prov-1 op-1\n"
          "grant " DEV2 " prov/2 op-1\n"
          "revoke " DEV1 " op-1 extra\n"
          "grant " DEV2 " prov-2 op-1\n"
          "revoke " DEV2,
          f);
    fclose(f);
    assert_onr(ONR_OK, grants_open(journal(state), onr_test_count_line, &skipped, &g));
    assert_int_equal(skipped, 5);
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    assert_string_equal(grants_provider(g, DEV2), "prov-2");
    grants_close(g);
}

static void test_grants_open_fails_cleanly_on_unwritable_path(void **state)
{
    struct grants *g = NULL;
    char path[4096];

    snprintf(path, sizeof(path), "%s/missing-dir/grants", (const char *)*state);
    assert_onr(ONR_EIO, grants_open(path, NULL, NULL, &g));
    assert_null(g);
    assert_onr(ONR_EINVAL, grants_open("", NULL, NULL, &g));
}

/* The journal's text, for checks of its format. */
static char *journal_text(void **state)
{
    FILE *f = fopen(journal(state), "r");
    char *text;
    long size;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

/* The journal's records after its first line, which must be its epoch
 * line: "epoch " and 32 lowercase hex digits (into `epoch`, if not NULL). */
static char *journal_records(void **state, char epoch[2 * GRANTS_EPOCH_LEN + 1])
{
    char *text = journal_text(state);
    size_t hex_len = 2 * GRANTS_EPOCH_LEN;
    char *records;

    assert_memory_equal(text, "epoch ", 6);
    assert_int_equal(strspn(text + 6, "0123456789abcdef"), hex_len);
    assert_int_equal(text[6 + hex_len], '\n');
    if (epoch != NULL) {
        memcpy(epoch, text + 6, hex_len);
        epoch[hex_len] = '\0';
    }
    records = strdup(text + 6 + hex_len + 1);
    assert_non_null(records);
    free(text);
    return records;
}

static void test_cert_revocations_survive_reopen_keyed_by_provider(void **state)
{
    struct grants *g = NULL;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_false(grants_cert_revoked(g, "prov-1", SERIAL, sizeof(SERIAL)));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL, sizeof(SERIAL), 0));
    assert_onr(ONR_OK, grants_set(g, DEV2, "prov-2", "op-1"));
    assert_true(grants_cert_revoked(g, "prov-1", SERIAL, sizeof(SERIAL)));
    assert_true(grants_cert_revoked(g, "prov-1", SERIAL_DER, sizeof(SERIAL_DER)));
    assert_false(grants_cert_revoked(g, "prov-2", SERIAL, sizeof(SERIAL)));
    assert_false(grants_cert_revoked(g, "prov-1", SERIAL, 2));
    assert_onr(ONR_OK, grants_sync(g));
    grants_close(g);

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_true(grants_cert_revoked(g, "prov-1", SERIAL, sizeof(SERIAL)));
    assert_false(grants_cert_revoked(g, "prov-2", SERIAL, sizeof(SERIAL)));
    assert_int_equal(grants_cert_revocations(g), 1);
    assert_string_equal(grants_provider(g, DEV2), "prov-2"); /* grants untouched */
    assert_int_equal(grants_count(g), 1);
    grants_close(g);
}

static void test_cert_revoke_journal_line_is_trimmed_hex_and_written_once(void **state)
{
    struct grants *g = NULL;
    char *text;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL_DER, sizeof(SERIAL_DER), 0));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL, sizeof(SERIAL), 0));
    assert_onr(ONR_OK, grants_sync(g));
    text = journal_records(state, NULL); /* appended, not yet compacted */
    assert_string_equal(text, "revoke-cert " DEV1 " prov-1 0a0bfc\n");
    free(text);
    grants_close(g);
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    grants_close(g);
    text = journal_records(state, NULL); /* compacted */
    assert_string_equal(text, "revoke-cert " DEV1 " prov-1 0a0bfc\n");
    free(text);
}

static void test_cert_revoke_refuses_bad_arguments(void **state)
{
    struct grants *g = NULL;
    uint8_t long_serial[21];
    const uint8_t zero[] = {0x00};

    memset(long_serial, 0x11, sizeof(long_serial));
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_EINVAL, grants_cert_revoke(g, "prov-1", DEV1, SERIAL, 0, 0));
    assert_onr(ONR_EINVAL, grants_cert_revoke(g, "prov-1", DEV1, NULL, 3, 0));
    assert_onr(ONR_EINVAL, grants_cert_revoke(g, "prov-1", DEV1, long_serial, 21, 0));
    assert_onr(ONR_EINVAL, grants_cert_revoke(g, "Prov 1", DEV1, SERIAL, sizeof(SERIAL), 0));
    assert_onr(ONR_EINVAL, grants_cert_revoke(g, "", DEV1, SERIAL, sizeof(SERIAL), 0));
    assert_onr(ONR_EINVAL, grants_cert_revoke(g, "prov-1", "short", SERIAL, sizeof(SERIAL), 0));
    assert_onr(ONR_EINVAL, grants_cert_revoke(g, NULL, DEV1, SERIAL, sizeof(SERIAL), 0));
    assert_int_equal(grants_cert_revocations(g), 0);
    /* 21 bytes whose first is the DER zero byte: a 20-byte serial */
    long_serial[0] = 0x00;
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, long_serial, 21, 0));
    assert_true(grants_cert_revoked(g, "prov-1", long_serial + 1, 20));
    /* serial zero stays one byte */
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, zero, 1, 0));
    assert_true(grants_cert_revoked(g, "prov-1", zero, 1));
    assert_int_equal(grants_cert_revocations(g), 2);
    grants_close(g);
}

static void test_journal_from_before_cert_revocations_still_loads(void **state)
{
    struct grants *g = NULL;
    size_t skipped = 0;
    FILE *f = fopen(journal(state), "w");
    char *text;

    /* exactly what the previous version writes: grant and revoke lines */
    assert_non_null(f);
    fputs("grant " DEV1 " prov-1 op-1\n"
          "grant " DEV2 " prov-2 op-1\n"
          "revoke " DEV2 " op-1\n",
          f);
    fclose(f);
    assert_onr(ONR_OK, grants_open(journal(state), onr_test_count_line, &skipped, &g));
    assert_int_equal(skipped, 0);
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    assert_null(grants_provider(g, DEV2));
    assert_int_equal(grants_cert_revocations(g), 0);
    /* it had no epoch: it gets one, written at its first rewrite (now) */
    assert_true(grants_epoch_new(g));
    grants_close(g);
    text = journal_records(state, NULL);
    assert_string_equal(text, "grant " DEV1 " prov-1 op-1\n");
    free(text);
}

/* The journal's epoch is made with it, kept in its first line by every
 * rewrite and read back at open: a broker restored from its journal keeps
 * it. */
static void test_epoch_is_made_with_the_journal_and_kept(void **state)
{
    struct grants *g = NULL;
    uint8_t epoch[GRANTS_EPOCH_LEN];
    char hex[2 * GRANTS_EPOCH_LEN + 1];
    char again[2 * GRANTS_EPOCH_LEN + 1];
    char *text;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_true(grants_epoch_new(g));
    memcpy(epoch, grants_epoch(g), sizeof(epoch));
    text = journal_records(state, hex);
    assert_string_equal(text, ""); /* the epoch line alone */
    free(text);
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    assert_onr(ONR_OK, grants_sync(g));
    grants_close(g);

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_false(grants_epoch_new(g));
    assert_memory_equal(grants_epoch(g), epoch, sizeof(epoch));
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    grants_close(g);
    text = journal_records(state, again); /* compacted: the epoch first still */
    assert_string_equal(again, hex);
    assert_string_equal(text, "grant " DEV1 " prov-1 op-1\n");
    free(text);
}

/* A journal lost (a new disk, a broker built anew) is a new epoch: the
 * services then send it every grant and revocation in force. */
static void test_epoch_changes_when_the_journal_is_lost(void **state)
{
    struct grants *g = NULL;
    uint8_t epoch[GRANTS_EPOCH_LEN];

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    memcpy(epoch, grants_epoch(g), sizeof(epoch));
    assert_onr(ONR_OK, grants_set(g, DEV1, "prov-1", "op-1"));
    grants_close(g);
    assert_int_equal(unlink(journal(state)), 0);
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_true(grants_epoch_new(g));
    assert_memory_not_equal(grants_epoch(g), epoch, sizeof(epoch));
    assert_null(grants_provider(g, DEV1));
    grants_close(g);
}

/* An epoch line that is damaged, or a second one, is skipped like any bad
 * line; the first good one is the epoch. */
static void test_epoch_lines_malformed_or_twice_are_skipped(void **state)
{
    static const uint8_t want[GRANTS_EPOCH_LEN] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                                   0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                                   0xcc, 0xdd, 0xee, 0xff};
    struct grants *g = NULL;
    size_t skipped = 0;
    FILE *f = fopen(journal(state), "w");

    assert_non_null(f);
    fputs("epoch\n"                                          /* no value */
          "epoch 00112233\n"                                 /* short */
          "epoch 00112233445566778899AABBCCDDEEFF\n"         /* uppercase */
          "epoch 00112233445566778899aabbccddeeff00\n"       /* long */
          "epoch 00112233445566778899aabbccddeeff extra\n"
          "epoch 00112233445566778899aabbccddeeff\n"         /* the epoch */
          "grant " DEV1 " prov-1 op-1\n"
          "epoch ffeeddccbbaa99887766554433221100\n",        /* a second */
          f);
    fclose(f);
    assert_onr(ONR_OK, grants_open(journal(state), onr_test_count_line, &skipped, &g));
    assert_int_equal(skipped, 6);
    assert_false(grants_epoch_new(g));
    assert_memory_equal(grants_epoch(g), want, sizeof(want));
    assert_string_equal(grants_provider(g, DEV1), "prov-1");
    grants_close(g);
}

static void test_journal_skips_malformed_revoke_cert_lines(void **state)
{
    struct grants *g = NULL;
    size_t skipped = 0;
    FILE *f = fopen(journal(state), "w");

    assert_non_null(f);
    fputs("revoke-cert " DEV1 " prov-1\n"                 /* no serial */
          "revoke-cert " DEV1 " prov-1 0g\n"              /* not hex */
          "revoke-cert " DEV1 " prov-1 abc\n"             /* odd length */
          "revoke-cert " DEV1 " prov-1 AB\n"              /* uppercase */
          "revoke-cert " DEV1 " prov-1 "
          "000102030405060708090a0b0c0d0e0f1011121314\n" /* 21 bytes */
          "revoke-cert " DEV1 " Prov-1 01\n"              /* not a service id */
          "revoke-cert short prov-1 01\n"                  /* not a device id */
          "revoke-cert " DEV1 " prov-1 01 extra\n"
          "revoke-cert " DEV1 " prov-1 7f\n"              /* the good one */
          "revoke-cert " DEV2 " prov-2 80",                /* torn last line */
          f);
    fclose(f);
    assert_onr(ONR_OK, grants_open(journal(state), onr_test_count_line, &skipped, &g));
    assert_int_equal(skipped, 9);
    assert_int_equal(grants_cert_revocations(g), 1);
    assert_true(grants_cert_revoked(g, "prov-1", (const uint8_t *)"\x7f", 1));
    assert_false(grants_cert_revoked(g, "prov-2", (const uint8_t *)"\x80", 1));
    grants_close(g);
}

static void test_grants_serial_hex_and_trim(void **state)
{
    char hex[2 * GRANTS_SERIAL_MAX + 1];
    const uint8_t zeros[] = {0x00, 0x00, 0x00};
    size_t len = sizeof(SERIAL_DER);
    const uint8_t *trimmed = grants_serial_trim(SERIAL_DER, &len);

    (void)state;
    assert_int_equal(len, sizeof(SERIAL));
    assert_memory_equal(trimmed, SERIAL, sizeof(SERIAL));
    len = sizeof(zeros);
    grants_serial_trim(zeros, &len);
    assert_int_equal(len, 1);
    grants_serial_hex(SERIAL_DER, sizeof(SERIAL_DER), hex);
    assert_string_equal(hex, "000a0bfc");
}

static void test_map_put_get_remove_many(void **state)
{
    struct map *m = map_new();
    static int values[5000];
    char key[16];

    (void)state;
    assert_non_null(m);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(map_put(m, key, strlen(key), &values[i], NULL), 0);
    }
    assert_int_equal(map_count(m), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_ptr_equal(map_remove(m, key, strlen(key)), &values[i]);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        if (i % 2 == 0)
            assert_null(map_get(m, key, strlen(key)));
        else
            assert_ptr_equal(map_get(m, key, strlen(key)), &values[i]);
    }
    assert_int_equal(map_count(m), 2500);
    assert_int_equal(map_put(m, "", 0, &values[0], NULL), -1);
    map_free(m);
}


/* Revocations outlive their certificate's notAfter by the grace at most:
 * pruned from memory and the journal; one without notAfter is kept. */
#define NOW UINT64_C(1900000000)
#define DAY UINT64_C(86400)

static const uint8_t SERIAL2[] = {0x11};
static const uint8_t SERIAL3[] = {0x22};
static const uint8_t SERIAL4[] = {0x33};

static void test_cert_revocations_past_their_not_after_are_pruned(void **state)
{
    struct grants *g = NULL;
    size_t dropped = 99;
    char *text;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_OK, grants_set(g, DEV3, "prov-1", "op-1"));
    /* long expired, expired within the grace, valid, not known */
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL, sizeof(SERIAL),
                                          NOW - 400 * DAY));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL2, sizeof(SERIAL2),
                                          NOW - GRANTS_REVOCATION_GRACE + 60));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-2", DEV2, SERIAL3, sizeof(SERIAL3),
                                          NOW + 300 * DAY));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-2", DEV2, SERIAL4, sizeof(SERIAL4), 0));
    assert_onr(ONR_OK, grants_sync(g));
    text = journal_records(state, NULL);
    assert_non_null(strstr(text, "revoke-cert " DEV1 " prov-1 0a0bfc 1865440000\n"));
    assert_non_null(strstr(text, "revoke-cert " DEV2 " prov-2 33\n"));
    free(text);
    /* fewer expired than asked for: nothing done */
    assert_onr(ONR_OK, grants_cert_prune(g, NOW, 2, &dropped));
    assert_int_equal(dropped, 0);
    assert_int_equal(grants_cert_revocations(g), 4);
    assert_onr(ONR_OK, grants_cert_prune(g, NOW, 1, &dropped));
    assert_int_equal(dropped, 1);
    assert_false(grants_cert_revoked(g, "prov-1", SERIAL, sizeof(SERIAL)));
    assert_true(grants_cert_revoked(g, "prov-1", SERIAL2, sizeof(SERIAL2)));
    assert_true(grants_cert_revoked(g, "prov-2", SERIAL3, sizeof(SERIAL3)));
    assert_true(grants_cert_revoked(g, "prov-2", SERIAL4, sizeof(SERIAL4)));
    assert_int_equal(grants_cert_revocations(g), 3);
    /* the journal was rewritten without it, grants and epoch kept */
    text = journal_records(state, NULL);
    assert_null(strstr(text, "0a0bfc"));
    assert_non_null(strstr(text, "grant " DEV3 " prov-1 op-1\n"));
    free(text);
    /* a second later nothing more; two days later the second goes */
    assert_onr(ONR_OK, grants_cert_prune(g, NOW + 1, 1, &dropped));
    assert_int_equal(dropped, 0);
    assert_onr(ONR_OK, grants_cert_prune(g, NOW + 2 * DAY, 1, &dropped));
    assert_int_equal(dropped, 1);
    grants_close(g);
    /* reopened: what was pruned stays pruned; the rest is there */
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_false(grants_cert_revoked(g, "prov-1", SERIAL, sizeof(SERIAL)));
    assert_false(grants_cert_revoked(g, "prov-1", SERIAL2, sizeof(SERIAL2)));
    assert_true(grants_cert_revoked(g, "prov-2", SERIAL3, sizeof(SERIAL3)));
    assert_true(grants_cert_revoked(g, "prov-2", SERIAL4, sizeof(SERIAL4)));
    assert_string_equal(grants_provider(g, DEV3), "prov-1");
    /* one without notAfter is never pruned */
    assert_onr(ONR_OK, grants_cert_prune(g, NOW + 3650 * DAY, 1, &dropped));
    assert_int_equal(dropped, 1);
    assert_true(grants_cert_revoked(g, "prov-2", SERIAL4, sizeof(SERIAL4)));
    assert_int_equal(grants_cert_revocations(g), 1);
    assert_onr(ONR_EINVAL, grants_cert_prune(g, NOW, 0, &dropped));
    assert_onr(ONR_EINVAL, grants_cert_prune(NULL, NOW, 1, &dropped));
    grants_close(g);
}

/* A revocation first recorded without its notAfter learns it when sent
 * again with one; one that has it keeps it. */
static void test_cert_revocation_learns_its_not_after_once(void **state)
{
    struct grants *g = NULL;
    size_t dropped = 0;
    char *text;

    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL, sizeof(SERIAL), 0));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL, sizeof(SERIAL),
                                          NOW - 10 * DAY));
    assert_onr(ONR_OK, grants_cert_revoke(g, "prov-1", DEV1, SERIAL, sizeof(SERIAL),
                                          NOW + 10 * DAY)); /* kept as it was */
    assert_onr(ONR_OK, grants_sync(g));
    text = journal_records(state, NULL);
    assert_string_equal(text, "revoke-cert " DEV1 " prov-1 0a0bfc\n"
                              "revoke-cert " DEV1 " prov-1 0a0bfc 1899136000\n");
    free(text);
    grants_close(g);
    /* replayed in order: the notAfter is known again */
    assert_onr(ONR_OK, grants_open(journal(state), NULL, NULL, &g));
    assert_int_equal(grants_cert_revocations(g), 1);
    assert_onr(ONR_OK, grants_cert_prune(g, NOW, 1, &dropped));
    assert_int_equal(dropped, 1);
    grants_close(g);
}

static void test_journal_skips_malformed_not_after(void **state)
{
    struct grants *g = NULL;
    size_t skipped = 0;
    FILE *f = fopen(journal(state), "w");

    assert_non_null(f);
    fputs("revoke-cert " DEV1 " prov-1 01 1899136000\n"     /* good */
          "revoke-cert " DEV1 " prov-1 02 -5\n"
          "revoke-cert " DEV1 " prov-1 03 0\n"
          "revoke-cert " DEV1 " prov-1 04 12a\n"
          "revoke-cert " DEV1 " prov-1 05 9223372036854775808\n"
          "revoke-cert " DEV1 " prov-1 06 1899136000 7\n"
          "grant " DEV2 " prov-1 op-1 1899136000\n"
          "revoke " DEV2 " op-1 1899136000\n",
          f);
    fclose(f);
    assert_onr(ONR_OK, grants_open(journal(state), onr_test_count_line, &skipped, &g));
    assert_int_equal(skipped, 7);
    assert_int_equal(grants_cert_revocations(g), 1);
    assert_null(grants_provider(g, DEV2));
    grants_close(g);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_grants_survive_reopen),
        T(test_grants_journal_is_compacted_and_private),
        T(test_grants_revoke_only_by_granting_operator),
        T(test_grant_held_by_another_operator_is_refused_and_changes_nothing),
        T(test_grant_again_by_its_holder_and_a_move_after_revoke),
        cmocka_unit_test_setup_teardown(test_journal_short_write_is_cut_off_and_refused, setup,
                                        teardown_unlimited),
        T(test_journal_that_cannot_be_cut_back_is_rewritten_first),
        cmocka_unit_test_setup_teardown(test_failed_sync_is_confirmed_only_by_a_rewrite, setup,
                                        teardown_unlimited),
        T(test_grants_refuse_bad_ids),
        T(test_grants_skip_malformed_lines_and_torn_tail),
        T(test_grants_open_fails_cleanly_on_unwritable_path),
        T(test_cert_revocations_survive_reopen_keyed_by_provider),
        T(test_cert_revoke_journal_line_is_trimmed_hex_and_written_once),
        T(test_cert_revoke_refuses_bad_arguments),
        T(test_journal_from_before_cert_revocations_still_loads),
        T(test_journal_skips_malformed_revoke_cert_lines),
        T(test_cert_revocations_past_their_not_after_are_pruned),
        T(test_cert_revocation_learns_its_not_after_once),
        T(test_journal_skips_malformed_not_after),
        T(test_epoch_is_made_with_the_journal_and_kept),
        T(test_epoch_changes_when_the_journal_is_lost),
        T(test_epoch_lines_malformed_or_twice_are_skipped),
        cmocka_unit_test(test_grants_serial_hex_and_trim),
        cmocka_unit_test(test_map_put_get_remove_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
