/*
 * onramp-floor-bench: the cryptography an onboarding cannot avoid on the
 * server side, measured on this machine in one run, and added up per
 * onboarding as the design performs it (the "floor" of issue 8). Prints
 * figures; asserts nothing (benchmarks are not tests).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onramp/onramp.h"

static const char usage[] =
    "usage: onramp-floor-bench [--rounds N]\n"
    "\n"
    "Measure, in one run, the server-side operations every onboarding needs\n"
    "(ECDSA P-256 signatures and verifications by a first-seen and by a known\n"
    "key, HPKE seals and opens, certificate issuing and CSR checks, Milenage\n"
    "vectors, the AKMA-style derivation), print the median time of each, and\n"
    "add them up per onboarding as the design performs them: the floor the\n"
    "services' CPU per onboarding is compared with. Then the same for the\n"
    "device's side of one onboarding, every key priced as a known one (a\n"
    "lower bound, as in a load generator whose devices share their tables).\n"
    "TLS handshakes are not included (scripts/bench measures them).\n"
    "\n"
    "  -n, --rounds N   samples per operation (default 200, 10..100000)\n"
    "  -h, --help       this help\n"
    "\n"
    "Exit status: 0, or 1 if an operation failed.\n";

#define MAX_ROUNDS 100000

struct op {
    const char *name;
    double median_us;
};

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The fixtures every measurement uses. */
struct bench {
    size_t rounds;
    double *samples;
    struct onr_p256_key *service;        /* a service's signing key */
    uint8_t service_pub[ONR_P256_PUB_LEN];
    struct onr_p256_key **devices;       /* one per round: first-seen keys */
    uint8_t (*device_pubs)[ONR_P256_PUB_LEN];
    uint8_t msg[200];
    uint8_t seal_sk[32], seal_pk[32];
    struct onr_hpke_recipient recipient; /* seal_sk's pair, kept as a service keeps it */
    uint8_t ca_der[ONR_X509_MAX_DER];
    size_t ca_len;
    uint8_t (*csrs)[512];                /* one per round: first-seen keys */
    size_t *csr_lens;
    uint8_t sealed_enc[32], sealed_ct[32 + 16];
};

typedef int (*op_fn)(struct bench *b, size_t i);

static int sign_once(struct bench *b, size_t i)
{
    uint8_t sig[ONR_P256_SIG_LEN];
    struct onr_bytes part = {b->msg, sizeof(b->msg)};

    (void)i;
    return onr_p256_sign(b->service, &part, 1, sig);
}

/* Verify a signature by key `pub`, made beforehand outside the timing. */
static int verify_by(const uint8_t pub[ONR_P256_PUB_LEN], const struct onr_p256_key *key,
                     const struct bench *b, double *elapsed)
{
    uint8_t sig[ONR_P256_SIG_LEN];
    struct onr_bytes part = {b->msg, sizeof(b->msg)};
    double t0;
    int rc = onr_p256_sign(key, &part, 1, sig);

    t0 = now_us();
    if (rc == ONR_OK)
        rc = onr_p256_verify(pub, &part, 1, sig);
    *elapsed = now_us() - t0;
    return rc;
}

static int seal_once(struct bench *b, size_t i)
{
    uint8_t enc[32], ct[32 + 16];

    (void)i;
    return onr_hpke_seal(b->seal_pk, (const uint8_t *)"info", 4, NULL, 0, b->msg, 32, enc, ct);
}

static int open_once(struct bench *b, size_t i)
{
    uint8_t pt[32];

    (void)i;
    return onr_hpke_open_as(&b->recipient, (const uint8_t *)"info", 4, NULL, 0, b->sealed_enc,
                            b->sealed_ct, sizeof(b->sealed_ct), pt);
}

static int issue_once(struct bench *b, size_t i)
{
    struct onr_x509_profile profile = {
        .subject = {.common_name = "abcdefghijklmnopqrstuvwxyz234567", .organization = "p"},
        .days = 365,
        .path_len = -1,
        .eku = ONR_X509_EKU_CLIENT,
    };
    uint8_t der[ONR_X509_MAX_DER];
    size_t len = sizeof(der);

    return onr_x509_issue(b->service, b->ca_der, b->ca_len, b->device_pubs[i], &profile, der,
                          &len);
}

static int csr_once(struct bench *b, size_t i)
{
    uint8_t pub[ONR_P256_PUB_LEN];

    return onr_x509_csr_verify(b->csrs[i], b->csr_lens[i], pub, NULL);
}

static int milenage_once(struct bench *b, size_t i)
{
    struct onr_aka_subscriber sub;
    struct onr_aka_vector v;

    memset(&sub, (int)i, sizeof(sub));
    return onr_aka_vector(&sub, (uint64_t)i + 33, b->msg, &v);
}

static int akma_once(struct bench *b, size_t i)
{
    uint8_t kid[16], k_akma[32], k_af[32];
    int rc = onr_akma_derive(b->msg, b->msg + 16, "001010000000001", kid, k_akma);

    (void)i;
    return rc == ONR_OK ? onr_akma_af_key(k_akma, "prov-a", k_af) : rc;
}

/* Median of `rounds` timed calls of `fn` (or of verify when fn is NULL:
 * `first_seen` picks a new key each round, else the service's). */
static int measure(struct bench *b, op_fn fn, int verify_first_seen, double *median)
{
    for (size_t i = 0; i < b->rounds; i++) {
        double t0 = now_us();
        int rc;

        if (fn != NULL) {
            rc = fn(b, i);
            b->samples[i] = now_us() - t0;
        } else if (verify_first_seen) {
            rc = verify_by(b->device_pubs[i], b->devices[i], b, &b->samples[i]);
        } else {
            rc = verify_by(b->service_pub, b->service, b, &b->samples[i]);
        }
        if (rc != ONR_OK)
            return rc;
    }
    qsort(b->samples, b->rounds, sizeof(double), cmp_double);
    *median = b->samples[b->rounds / 2];
    return ONR_OK;
}

static int setup(struct bench *b)
{
    struct onr_x509_profile ca = {
        .subject = {.common_name = "bench CA"}, .days = 30, .is_ca = 1, .path_len = 0,
    };
    struct onr_x509_name subject = {.common_name = "abcdefghijklmnopqrstuvwxyz234567"};
    int rc;

    b->samples = calloc(b->rounds, sizeof(double));
    b->devices = calloc(b->rounds, sizeof(*b->devices));
    b->device_pubs = calloc(b->rounds, sizeof(*b->device_pubs));
    b->csrs = calloc(b->rounds, sizeof(*b->csrs));
    b->csr_lens = calloc(b->rounds, sizeof(*b->csr_lens));
    if (b->samples == NULL || b->devices == NULL || b->device_pubs == NULL || b->csrs == NULL ||
        b->csr_lens == NULL)
        return ONR_ENOMEM;
    rc = onr_random(b->msg, sizeof(b->msg));
    if (rc == ONR_OK)
        rc = onr_p256_generate(&b->service);
    if (rc == ONR_OK)
        rc = onr_p256_public(b->service, b->service_pub);
    for (size_t i = 0; rc == ONR_OK && i < b->rounds; i++) {
        rc = onr_p256_generate(&b->devices[i]);
        if (rc == ONR_OK)
            rc = onr_p256_public(b->devices[i], b->device_pubs[i]);
        b->csr_lens[i] = sizeof(b->csrs[i]);
        if (rc == ONR_OK)
            rc = onr_x509_csr_new(b->devices[i], &subject, b->csrs[i], &b->csr_lens[i]);
    }
    if (rc == ONR_OK)
        rc = onr_x25519_generate(b->seal_sk, b->seal_pk);
    if (rc == ONR_OK)
        rc = onr_hpke_recipient_init(&b->recipient, b->seal_sk);
    b->ca_len = sizeof(b->ca_der);
    if (rc == ONR_OK)
        rc = onr_x509_self_signed(b->service, &ca, b->ca_der, &b->ca_len);
    if (rc == ONR_OK)
        rc = onr_hpke_seal(b->seal_pk, (const uint8_t *)"info", 4, NULL, 0, b->msg, 32,
                           b->sealed_enc, b->sealed_ct);
    return rc;
}

static void cleanup(struct bench *b)
{
    for (size_t i = 0; b->devices != NULL && i < b->rounds; i++)
        onr_p256_free(b->devices[i]);
    onr_p256_free(b->service);
    free(b->devices);
    free(b->device_pubs);
    free(b->csrs);
    free(b->csr_lens);
    free(b->samples);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"rounds", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum { SIGN, VERIFY_NEW, VERIFY_KNOWN, SEAL, OPEN, ISSUE, CSR, MILENAGE, AKMA, N_OPS };
    struct op ops[N_OPS] = {
        {"P-256 sign", 0}, {"P-256 verify, first-seen key", 0},
        {"P-256 verify, known key", 0}, {"HPKE seal (X25519)", 0},
        {"HPKE open (X25519)", 0}, {"X.509 issue", 0},
        {"CSR verify (first-seen key)", 0}, {"Milenage vector", 0},
        {"AKMA-style keys", 0},
    };
    /* How many of each the services perform per onboarding, and the device
     * (see the counts printed below). */
    static const int per_onboarding[N_OPS] = {12, 2, 9, 3, 3, 1, 1, 1, 1};
    static const int per_device[N_OPS] = {3, 0, 6, 0, 1, 0, 0, 1, 1};
    struct bench b;
    char *end = NULL;
    double floor_us = 0, device_us = 0;
    int opt;
    int rc;

    memset(&b, 0, sizeof(b));
    b.rounds = 200;
    while ((opt = getopt_long(argc, argv, "n:h", options, NULL)) != -1) {
        switch (opt) {
        case 'n':
            b.rounds = strtoul(optarg, &end, 10);
            if (*end != '\0' || b.rounds < 10 || b.rounds > MAX_ROUNDS) {
                fputs(usage, stderr);
                return 2;
            }
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    rc = setup(&b);
    if (rc == ONR_OK)
        rc = measure(&b, sign_once, 0, &ops[SIGN].median_us);
    if (rc == ONR_OK)
        rc = measure(&b, NULL, 1, &ops[VERIFY_NEW].median_us);
    if (rc == ONR_OK)
        rc = measure(&b, NULL, 0, &ops[VERIFY_KNOWN].median_us);
    if (rc == ONR_OK)
        rc = measure(&b, seal_once, 0, &ops[SEAL].median_us);
    if (rc == ONR_OK)
        rc = measure(&b, open_once, 0, &ops[OPEN].median_us);
    if (rc == ONR_OK)
        rc = measure(&b, issue_once, 0, &ops[ISSUE].median_us);
    if (rc == ONR_OK)
        rc = measure(&b, csr_once, 0, &ops[CSR].median_us);
    if (rc == ONR_OK)
        rc = measure(&b, milenage_once, 0, &ops[MILENAGE].median_us);
    if (rc == ONR_OK)
        rc = measure(&b, akma_once, 0, &ops[AKMA].median_us);
    if (rc != ONR_OK) {
        fprintf(stderr, "onramp-floor-bench: %s\n", onr_strerror(rc));
        cleanup(&b);
        return 1;
    }
    printf("%-34s %10s %6s %12s\n", "operation (median of rounds)", "us", "count",
           "us/onboarding");
    for (int i = 0; i < N_OPS; i++) {
        double part = ops[i].median_us * per_onboarding[i];

        floor_us += part;
        printf("%-34s %10.1f %6d %12.1f\n", ops[i].name, ops[i].median_us, per_onboarding[i],
               part);
    }
    printf("%-34s %10s %6s %12.1f\n", "floor per onboarding", "", "", floor_us);
    for (int i = 0; i < N_OPS; i++)
        device_us += ops[i].median_us * per_device[i];
    printf("%-34s %10s %6s %12.1f\n", "device side per onboarding", "", "", device_us);
    printf("\ncounts per onboarding, as the services perform them:\n"
           "  sign 12: voucher token and voucher, registered, paired, registration,\n"
           "    profile (with the first attach challenge), attach result, app key,\n"
           "    enroll response, alignment (which answers the app key), aligned, the\n"
           "    certificate\n"
           "  verify, first-seen key 2: PoP at the broker, hello at the manufacturer\n"
           "  verify, known key 9: pairing, registration, registered, the device\n"
           "    certificate at the manufacturer, voucher token at the operator, app\n"
           "    key, alignment, aligned, the operational certificate at the broker's\n"
           "    plugin\n"
           "  HPKE seal 3: claim, profile, application key; open 3: claim at the\n"
           "    manufacturer, application key at the provider (stored, enrollment)\n"
           "  X.509 issue 1, CSR verify 1, Milenage 1, AKMA 1\n"
           "and as the device performs them:\n"
           "  sign 3: proof of possession, hello, CSR\n"
           "  verify 6: voucher, voucher token, profile (with its challenge), attach\n"
           "    result, enroll response, the service certificate\n"
           "  HPKE open 1 (profile), Milenage 1, AKMA 1\n"
           "(rounds: %zu; TLS handshakes not included)\n", b.rounds);
    cleanup(&b);
    onr_crypto_thread_cleanup();
    return 0;
}
