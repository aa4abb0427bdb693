/*
 * What the device library reads besides the bootstrap broker's envelopes
 * (device/src/): the voucher token its manufacturer signed
 * (device_check_voucher, for a token from the network and one read back
 * from disk), the relocate its provider sends it on its service broker
 * (device_take_relocate, SPEC section 16), and its own state files, which
 * it trusts no more than the network ("sqn": the USIM's sequence numbers;
 * "journey": the state's name; "reported": its telemetry nonces).
 *
 * Input: a mode byte, then
 *   0  a voucher token, checked for the fixed device (FUZZ_DEV, its
 *      sealing key) and manufacturer (FUZZ_MFR, the fixed voucher key);
 *   1  the bytes of the "sqn" file;
 *   2  the bytes of the "journey" file;
 *   3  the bytes of the "reported" file;
 *   4  a relocate envelope, as it arrives on the operational down topic of
 *      the fixed device, OPERATIONAL with FUZZ_PROV (the signer's key) and
 *      FUZZ_OP, which reported fuzz_nonce with PLMN 72405.
 * Checks: a voucher accepted with a nonce and a clock is accepted without
 * them too and says what the token says; a state file that loads is saved
 * and loads again to the same thing; a relocate taken names another
 * operator, that nonce and PLMN, is stored with the journey RELOCATING and
 * the nonces forgotten, and its stored voucher reads back the same; one
 * refused changes nothing.
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
#include "onramp/topic.h"

#define REPORTED_PLMN "72405"

static struct device_trust trust;
static struct device_files files;
static struct device_journey journey; /* OPERATIONAL with FUZZ_PROV and FUZZ_OP */
static char dir[64];
static char down[ONR_TOPIC_MAX + 1];

static void remove_dir(void)
{
    static const char *const names[] = {DEVICE_SQN_FILE, DEVICE_JOURNEY_FILE,
                                        DEVICE_REPORTED_FILE};
    char path[128];

    device_relocation_remove(dir);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
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
    /* the operational device a relocate reaches */
    files.trust = trust;
    journey.state = ONR_DEVICE_OPERATIONAL;
    snprintf(journey.voucher.mfr, sizeof(journey.voucher.mfr), "%s", FUZZ_MFR);
    snprintf(journey.voucher.prov, sizeof(journey.voucher.prov), "%s", FUZZ_PROV);
    snprintf(journey.voucher.op, sizeof(journey.voucher.op), "%s", FUZZ_OP);
    memcpy(journey.voucher.prov_key, fuzz_key_public(FUZZ_KEY_SIGNER), ONR_P256_PUB_LEN);
    memcpy(journey.voucher.op_key, fuzz_key_public(FUZZ_KEY_SIGNER), ONR_P256_PUB_LEN);
    FUZZ_CHECK(onr_topic_operational_down(FUZZ_PROV, FUZZ_DEV, down, sizeof(down)) == ONR_OK,
               "down topic");
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

static void reported_file(const uint8_t *data, size_t size)
{
    struct device_reported r;
    struct device_reported back;
    int rc;

    put(DEVICE_REPORTED_FILE, data, size);
    rc = device_reported_load(dir, &r);
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc == ONR_EFORMAT, "reported: %s", onr_error_name(rc));
        FUZZ_CHECK(r.n == 0, "refused nonces kept");
        return;
    }
    FUZZ_CHECK(r.n <= DEVICE_REPORTED_MAX, "%zu nonces", r.n);
    FUZZ_CHECK(device_reported_clear(dir) == ONR_OK, "clear");
    for (size_t i = 0; i < r.n; i++) {
        FUZZ_CHECK(device_reported_find(&r, (struct onr_bytes){r.r[i].nonce, ONR_NONCE_LEN}) !=
                       NULL,
                   "a nonce loaded is not found");
        rc = device_reported_add(dir, r.r[i].nonce, r.r[i].plmn);
        FUZZ_CHECK(rc == ONR_OK, "a loaded nonce does not save: %s", onr_error_name(rc));
    }
    rc = device_reported_load(dir, &back);
    FUZZ_CHECK(rc == ONR_OK && memcmp(&r, &back, sizeof(r)) == 0, "reported round trip");
}

/* The device as the relocate finds it: OPERATIONAL, one report kept. */
static void operational(void)
{
    FUZZ_CHECK(device_relocation_remove(dir) == ONR_OK, "next/ removed");
    FUZZ_CHECK(device_state_save(dir, ONR_DEVICE_OPERATIONAL) == ONR_OK, "journey");
    FUZZ_CHECK(device_reported_clear(dir) == ONR_OK &&
                   device_reported_add(dir, fuzz_nonce, REPORTED_PLMN) == ONR_OK,
               "reported");
}

static void relocate(const uint8_t *data, size_t size)
{
    struct device_next next;
    struct device_reported r;
    struct onr_device_voucher back;
    enum onr_device_state state;
    uint8_t stored[DEVICE_VOUCHER_MAX];
    char next_dir[DEVICE_PATH_MAX + 200];
    size_t stored_len = 0;
    int rc;

    operational();
    rc = device_take_relocate(&files, &journey, dir, down, data, size, FUZZ_NOW, NULL, &next);
    FUZZ_CHECK(device_state_load(dir, &state) == ONR_OK, "journey after a relocate");
    FUZZ_CHECK(device_reported_load(dir, &r) == ONR_OK, "reported after a relocate");
    if (rc != ONR_OK) {
        FUZZ_CHECK(rc < 0 && rc != ONR_EIO, "relocate: %d", rc);
        FUZZ_CHECK(state == ONR_DEVICE_OPERATIONAL && r.n == 1, "a refused relocate changed");
        FUZZ_CHECK(next.voucher.op[0] == '\0', "a refused relocate's voucher kept");
        return;
    }
    FUZZ_CHECK(state == ONR_DEVICE_RELOCATING && r.n == 0, "a relocate taken, not stored");
    FUZZ_CHECK(strcmp(next.voucher.op, FUZZ_OP) != 0 &&
                   strcmp(next.voucher.prov, FUZZ_PROV) == 0 &&
                   strcmp(next.voucher.plmn, REPORTED_PLMN) == 0 &&
                   memcmp(next.voucher.nonce, fuzz_nonce, ONR_NONCE_LEN) == 0 &&
                   next.voucher.expires > FUZZ_NOW,
               "a relocate taken that should not be");
    FUZZ_CHECK(device_slot_dir(dir, DEVICE_NEXT, next_dir, sizeof(next_dir)) == ONR_OK &&
                   device_voucher_load(next_dir, stored, sizeof(stored), &stored_len) == ONR_OK &&
                   stored_len == next.token_len && memcmp(stored, next.token, stored_len) == 0,
               "the relocation's voucher not stored as taken");
    rc = device_check_voucher(&trust, stored, stored_len, NULL, 0, &back);
    FUZZ_CHECK(rc == ONR_OK && memcmp(&back, &next.voucher, sizeof(back)) == 0,
               "the stored relocation's voucher reads back differently");
    FUZZ_CHECK(device_relocation_abandon(dir) == ONR_OK, "abandon");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 5) {
    case 0: voucher(data + 1, size - 1); break;
    case 1: sqn_file(data + 1, size - 1); break;
    case 2: journey_file(data + 1, size - 1); break;
    case 3: reported_file(data + 1, size - 1); break;
    default: relocate(data + 1, size - 1); break;
    }
    return 0;
}
