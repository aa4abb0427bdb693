/*
 * Which bootstrap broker of device.conf the device uses (device_internal.h):
 * a random one first, so that a fleet powered on together spreads over
 * the brokers; the same one for as long as it carries the device's
 * requests and answers; the next one of the list when it does not.
 */
#include "device_internal.h"

void device_choice_start(struct device_choice *c, size_t n, uint32_t random)
{
    c->n = n;
    /* n is at most DEVICE_BROKERS_MAX: the modulo's bias is below 2^-28 */
    c->current = n > 0 ? (size_t)(random % n) : 0;
}

int device_choice_failed(struct device_choice *c, enum device_failure why)
{
    switch (why) {
    case DEVICE_FAIL_CONNECT:
    case DEVICE_FAIL_REFUSED:
    case DEVICE_FAIL_LOST:
    case DEVICE_FAIL_NO_ANSWER:
        break;
    case DEVICE_FAIL_ANSWER:
    default:
        /* the broker carried the request and its answer: another broker
         * reaches the same services and would change nothing */
        return 0;
    }
    if (c->n < 2)
        return 0;
    c->current = (c->current + 1) % c->n;
    return 1;
}
