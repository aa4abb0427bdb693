/* A valid sample body for every message type, for round-trip and envelope
 * tests. Static storage; the bytes are fixed. */
#ifndef ONRAMP_TEST_SAMPLES_H
#define ONRAMP_TEST_SAMPLES_H

#include "onramp/msg.h"

/* Types with a sample, ending with 0. */
extern const int onr_sample_types[];

/* Fill `m` with the sample for `type` (fails the test for an unknown one). */
void onr_sample_msg(int type, struct onr_msg *m);

/* A syntactically valid device id. */
#define ONR_SAMPLE_DEVID "rguib733fa2xfyrzdwehzsohu743ont4"
#define ONR_SAMPLE_KIT "q2kzf6r3hbwnmx7yt4pc"
/* a kit of three: the sample device and two more */
#define ONR_SAMPLE_KIT_DEVS                                                    \
    ONR_SAMPLE_DEVID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"                        \
                     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

#endif
