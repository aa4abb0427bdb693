/*
 * The enrollment step (NETWORK_ATTACHED -> ENROLLED, proto/SPEC.md section
 * 14): an enroll request to the voucher's provider, {kid, a CSR for the
 * device's service key}, MAC'ed with K_AF (the network vouches for the
 * device), and the enroll response the provider signs: a chain for that
 * key and this device, its service broker's CA and endpoint.
 *
 * The service key is made once, stored before the first request, and
 * named by every request after (retries, restarts): the provider sees the
 * same key and answers with the same certificate.
 */
#include <stdio.h>
#include <string.h>

#include "device_run.h"
#include "onramp/crypto.h"
#include "onramp/error.h"
#include "onramp/x509.h"

int device_enroll_csr(const char *dir, const char *dev, struct onr_p256_key **key, uint8_t *csr,
                      size_t *csr_len)
{
    struct onr_x509_name subject = {.common_name = dev};
    struct onr_p256_key *made = NULL;
    int rc = ONR_OK;

    if (dir == NULL || dev == NULL || key == NULL || csr == NULL || csr_len == NULL)
        return ONR_EINVAL;
    if (*key == NULL) {
        rc = device_service_key_load(dir, key);
        if (rc == ONR_ENOENT) {
            /* durable before any request names it */
            rc = onr_p256_generate(&made);
            if (rc == ONR_OK)
                rc = device_service_key_save(dir, made) == ONR_OK ? ONR_OK : ONR_EIO;
            if (rc == ONR_OK)
                *key = made;
            else
                onr_p256_free(made);
        }
    }
    if (rc != ONR_OK)
        return rc;
    *csr_len = DEVICE_CSR_MAX;
    return onr_x509_csr_new(*key, &subject, csr, csr_len);
}

int device_answer_check(const char *dev, const struct onr_p256_key *key,
                        const struct onr_msg_enroll_response *m,
                        struct onr_bytes certs[ONR_X509_MAX_CHAIN], size_t *n,
                        struct device_service *out)
{
    uint8_t pub[ONR_P256_PUB_LEN];
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (dev == NULL || key == NULL || m == NULL || certs == NULL || n == NULL || out == NULL ||
        m->chain.ptr == NULL || m->ca.ptr == NULL || m->endpoint.ptr == NULL)
        return ONR_EINVAL;
    rc = onr_p256_public(key, pub);
    if (rc == ONR_OK)
        rc = device_chain_split(m->chain.ptr, m->chain.len, certs, ONR_X509_MAX_CHAIN, n);
    if (rc == ONR_OK)
        rc = device_service_check(certs, *n, m->ca, pub, dev, (const char *)m->endpoint.ptr,
                                  m->endpoint.len, 1, out);
    return rc;
}

int device_take_enrollment(const char *dev, const struct onr_p256_key *key,
                           const struct onr_msg_enroll_response *m, const char *dir,
                           struct device_service *out)
{
    struct onr_bytes certs[ONR_X509_MAX_CHAIN];
    size_t n = 0;
    int rc;

    rc = dir != NULL ? device_answer_check(dev, key, m, certs, &n, out) : ONR_EINVAL;
    /* durable before anything else happens: chain, CA, endpoint, state */
    if (rc == ONR_OK &&
        (device_service_save(dir, certs, n, m->ca, out->endpoint, strlen(out->endpoint)) !=
             ONR_OK ||
         device_state_save(dir, ONR_DEVICE_ENROLLED) != ONR_OK))
        rc = ONR_EIO;
    if (rc != ONR_OK && out != NULL)
        memset(out, 0, sizeof(*out));
    return rc;
}

void step_enroll_send(struct onr_device *d)
{
    struct device_journey *j = &d->journey;
    struct onr_msg msg = {.type = ONR_MSG_ENROLL_REQUEST};
    struct device_detail l = {"", 0};
    struct device_sent *s;
    int rc = ONR_OK;

    /* once per run: the key loaded or made, and its request */
    if (d->csr_len == 0)
        rc = device_enroll_csr(d->dir, d->files.trust.dev, &j->service_key, d->csr, &d->csr_len);
    if (rc == ONR_EIO || rc == ONR_EFORMAT || rc == ONR_EPERM) {
        d->csr_len = 0;
        device_give_up(d, rc, "cannot read or store the service key (service.key)");
        return;
    }
    if (rc != ONR_OK) {
        d->csr_len = 0;
        device_failed(d, rc, "cannot make the service key's request");
        return;
    }
    s = device_sent_next(d);
    msg.body.enroll_request.kid = ONR_BYTES(j->akma.kid);
    msg.body.enroll_request.csr = (struct onr_bytes){d->csr, d->csr_len};
    rc = device_publish(d, &msg, ONR_ROLE_PROVIDER, j->voucher.prov, s->id);
    if (rc != ONR_OK) {
        device_failed(d, rc, "cannot send an enroll request");
        return;
    }
    s->kind = SENT_ENROLL_REQUEST;
    device_sent_keep(d);
    device_put(&l, "provider=%s", j->voucher.prov);
    device_report(d, "enroll", &l);
    device_wait_answer(d);
}

static const char *why_refused(int rc)
{
    switch (rc) {
    case ONR_EDENIED: return "the certificate is not for this device's service key and id";
    case ONR_ECHAIN: return "the chain does not verify up to its CA";
    case ONR_ECERT: return "a certificate is malformed";
    case ONR_EFORMAT: return "the endpoint is not mqtts://HOST:PORT";
    default: return onr_strerror(rc);
    }
}

/* NETWORK_ATTACHED -> ENROLLED, or a refusal that changes nothing (the
 * answer timeout then asks again). */
static void take_enrollment(struct onr_device *d, const struct onr_msg_enroll_response *m)
{
    struct device_journey *j = &d->journey;
    const struct device_sent *s = device_sent_find(d, m->re);
    struct device_service svc;
    int rc;

    if (s == NULL || s->kind != SENT_ENROLL_REQUEST) {
        device_report_code(d, "refused", "enrollment", ONR_ENOENT,
                           "answers no enroll request of this run");
        return;
    }
    rc = device_take_enrollment(d->files.trust.dev, j->service_key, m, d->dir, &svc);
    if (rc == ONR_EIO) {
        device_give_up(d, rc, "cannot store the service credentials"); /* a disk problem */
        return;
    }
    if (rc != ONR_OK) {
        device_report_code(d, "refused", "enrollment", rc, why_refused(rc));
        return;
    }
    j->service = svc;
    device_advance(d, ONR_DEVICE_ENROLLED);
}

void step_enroll_take(struct onr_device *d, const struct onr_envelope *env)
{
    if (env->msg.type == ONR_MSG_ENROLL_RESPONSE)
        take_enrollment(d, &env->msg.body.enroll_response);
    else
        device_report_code(d, "refused", "message", ONR_EMSGTYPE,
                           "not an answer to an enroll request");
}
