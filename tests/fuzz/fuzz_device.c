/*
 * What the device library reads besides envelopes (device/src/): the
 * voucher token its manufacturer signed (device_check_voucher, for a token
 * from the network and one read back from disk), and its own state files,
 * which it trusts no more than the network ("sqn": the USIM's sequence
 * numbers; "journey": the state's name).
 *
 * Input: a mode byte, then
 *   0  a voucher token, checked for the fixed device (FUZZ_DEV, its
 *      sealing key) and manufacturer (FUZZ_MFR, the fixed voucher key);
 *   1  the bytes of the "sqn" file;
 *   2  the bytes of the "journey" file.
 * Checks: a voucher accepted with a nonce and a clock is accepted without
 * them too and says what the token says; a state file that loads is saved
 * and loads again to the same thing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"
#include "fuzz.h"
#include "onramp/error.h"
#include "onramp/file.h"

static struct device_trust trust;
static char dir[64];

static void remove_dir(void)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, DEVICE_SQN_FILE);
    unlink(path);
    snprintf(path, sizeof(path), "%s/%s", dir, DEVICE_JOURNEY_FILE);
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct stat st;

    (void)argc;
    (void)argv;
    snprintf(trust.dev, sizeof(trust.dev), "%s", FUZZ_DEV);
    snprintf(trust.mfr, sizeof(trust.mfr), "%s", FUZZ_MFR);
    memcpy(trust.voucher_key, fuzz_key_public(FUZZ_KEY_VOUCHER), ONR_P256_PUB_LEN);
    fuzz_seal_public(fuzz_seal_device, trust.seal_pub);
    /* a state directory in memory: saving fsyncs */
    snprintf(dir, sizeof(dir), "%s/onramp-fuzz-XXXXXX",
             stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
    atexit(remove_dir);
    return 0;
}

static void voucher(const uint8_t *data, size_t size)
{
    struct onr_device_voucher strict;
    struct onr_device_voucher lax;
    int rc;

    rc = device_check_voucher(&trust, data, size, fuzz_nonce, FUZZ_NOW, &strict);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc < 0, "check returned %d", rc);
        return;
    }
    FUZZ_CHECK(strcmp(strict.mfr, FUZZ_MFR) == 0 && strict.expires > FUZZ_NOW,
               "accepted voucher");
    FUZZ_CHECK(strict.prov[0] != '\0' && strict.op[0] != '\0', "no provider or operator");
    rc = device_check_voucher(&trust, data, size, NULL, 0, &lax);
    FUZZ_CHECK(rc == ONR_OK && memcmp(&strict, &lax, sizeof(lax)) == 0,
               "stored voucher read back differently: %s", onr_error_name(rc));
}

static void put(const char *name, const uint8_t *data, size_t size)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "open %s", path);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size || size == 0, "write %s", path);
    FUZZ_CHECK(fclose(f) == 0, "close %s", path);
    chmod(path, 0600);
}

static void sqn_file(const uint8_t *data, size_t size)
{
    struct onr_aka_sqn_store store;
    struct onr_aka_sqn_store back;
    int rc;

    put(DEVICE_SQN_FILE, data, size);
    rc = device_sqn_load(dir, &store);
    if (rc != ONR_OK) {
        static const struct onr_aka_sqn_store zero;

        FUZZ_CHECK(rc == ONR_EFORMAT, "sqn: %s", onr_error_name(rc));
        FUZZ_CHECK(memcmp(&store, &zero, sizeof(zero)) == 0, "refused store not zeroed");
        return;
    }
    rc = device_sqn_save(dir, &store);
    FUZZ_CHECK(rc == ONR_OK, "loaded store does not save: %s", onr_error_name(rc));
    rc = device_sqn_load(dir, &back);
    FUZZ_CHECK(rc == ONR_OK && memcmp(&store, &back, sizeof(back)) == 0, "sqn round trip");
}

static void journey_file(const uint8_t *data, size_t size)
{
    enum onr_device_state state;
    enum onr_device_state back;
    int rc;

    put(DEVICE_JOURNEY_FILE, data, size);
    rc = device_state_load(dir, &state);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_EFORMAT, "journey: %s", onr_error_name(rc));
        return;
    }
    FUZZ_CHECK(size > 1 && data[size - 1] == '\n', "a journey without its newline");
    rc = device_state_save(dir, state);
    FUZZ_CHECK(rc == ONR_OK, "loaded state does not save: %s", onr_error_name(rc));
    rc = device_state_load(dir, &back);
    FUZZ_CHECK(rc == ONR_OK && back == state, "journey round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: voucher(data + 1, size - 1); break;
    case 1: sqn_file(data + 1, size - 1); break;
    default: journey_file(data + 1, size - 1); break;
    }
    return 0;
}
