/*
 * Onramp's protocol layer in one include. Each header documents its own
 * API; proto/SPEC.md is the wire format.
 */
#ifndef ONRAMP_ONRAMP_H
#define ONRAMP_ONRAMP_H

#include "onramp/aka.h"
#include "onramp/akma.h"
#include "onramp/bytes.h"
#include "onramp/codec.h"
#include "onramp/config.h"
#include "onramp/crypto.h"
#include "onramp/devid.h"
#include "onramp/envelope.h"
#include "onramp/error.h"
#include "onramp/file.h"
#include "onramp/hash.h"
#include "onramp/hex.h"
#include "onramp/hpke.h"
#include "onramp/journey.h"
#include "onramp/keyfile.h"
#include "onramp/label.h"
#include "onramp/milenage.h"
#include "onramp/ndef.h"
#include "onramp/msg.h"
#include "onramp/op_keys.h"
#include "onramp/p256.h"
#include "onramp/policy.h"
#include "onramp/pop.h"
#include "onramp/progress.h"
#include "onramp/replay.h"
#include "onramp/sealed.h"
#include "onramp/telemetry.h"
#include "onramp/text.h"
#include "onramp/topic.h"
#include "onramp/version.h"
#include "onramp/x25519.h"
#include "onramp/x509.h"

#endif /* ONRAMP_ONRAMP_H */
