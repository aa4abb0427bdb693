"""Several instances of every service (issue 18) on PostgreSQL, when one
dies for good.

Mosquitto (2.0) hands each message of a $share group to the next member
in turn, whether its client is connected or not: a dead instance's
persistent session keeps taking its share of device requests and of `in`
messages until the session expires. The services therefore connect with
a session expiry (`session_expiry`, 120 s by default with `instance`; 2 s
here): once the broker has expired the dead instance's session (its log
says so), the group has only live members, and a fleet whose requests are
each sent once (no device retry: --max-attempts 1) onboards completely.
No duration is asserted: the test waits for the broker's word that the
sessions expired, then for the fleet. Before that, every instance's
subscriptions are granted, and a broker's new epoch is heard by each.

RenewalRaceTest: two provider instances handle two renew requests (or two
renewed) of one device at once; the database is made to hold both inside
their transactions (the test locks the certificates table until both wait
for it), so the race is the same every run.

ClaimStepRaceTest: the manufacturer's late confirmation of a device's
registration and the device's application key reach two provider
instances at once; the test holds the claim's row locked until both are
inside their transactions (or, were a step decided on an unlocked read,
until the key is stored), so the interleaving is the same every run.
SubscriptionStepRaceTest: the same at the operator, for a release and an
alignment of one subscription.

Runs as integration.instances_pg (instances share a PostgreSQL database).
"""

import contextlib
import os
import re
import subprocess
import time
import unittest

import fabric
import hostile
import mqtt5
import onboarding
import postgres
from test_renewal import ENROLL_RESPONSE, RENEW_REQUEST, RENEWED, REVOKED, ROLE_DEVICE, \
    csr_for

DEVICES = 16
ALIGNMENT, RELEASE, RELEASED = 17, 28, 29
EXPIRY = 2  # seconds: session_expiry of every service here


class InstancesTestCase(unittest.TestCase):
    """A fabric with two instances of every service sharing PostgreSQL
    (`options`: more settings for each of them)."""

    options = ()

    @classmethod
    def setUpClass(cls):
        if postgres.store() != "postgres":
            raise RuntimeError("several instances share a PostgreSQL database: "
                               "run with ONR_TEST_STORE=postgres (integration.instances_pg)")
        cls.onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.fleet = onboarding.Fleet(cls.onb, instances=2, options=cls.options)
        except BaseException:
            cls.onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    def locks_waited(self, svc):
        """How many sessions of `svc`'s database wait for a lock."""
        return len(svc.rows("SELECT pid FROM pg_stat_activity WHERE datname = ?"
                            " AND wait_event_type = 'Lock'", svc.store.name))

    @contextlib.contextmanager
    def held(self, svc, lock_sql, *args):
        """`lock_sql` (a lock: LOCK TABLE, SELECT ... FOR UPDATE) run in a
        session of `svc`'s database, held until the block ends."""
        lock = postgres.shared().connect(svc.store.name)
        try:
            with lock.cursor() as cur:
                cur.execute(lock_sql, args)
            yield
        finally:
            lock.rollback()
            lock.close()

    def onboarded_device(self):
        """A new device of the fleet, run to OPERATIONAL: (state dir, id)."""
        (d,) = self.fleet.mint_and_pair(1)
        run = self.onb.device(d)
        run.process.start()
        self.assertEqual(run.process.exit_status(timeout=120), 0, run.process.text()[-3000:])
        self.assertIn("state=OPERATIONAL", run.process.text())
        return d, os.path.basename(d)


class DeadInstanceTest(InstancesTestCase):

    options = ("session_expiry=%d" % EXPIRY,)

    def wait_expired(self, client_ids, seconds=120):
        """Until the broker's log says it expired each client's session
        (Mosquitto: "Expiring client ID due to timeout")."""
        deadline = time.monotonic() + seconds
        while True:
            text = self.onb.broker.log_text()
            left = [c for c in client_ids
                    if not re.search(r"Expiring client %s due to timeout" % re.escape(c), text)]
            if not left:
                return
            if time.monotonic() > deadline:
                self.fail("the broker never expired the sessions of %s" % ", ".join(left))
            time.sleep(0.2)

    def test_0_every_instance_hears_the_brokers_counters(self):
        """Each instance subscribes to its work in the $share group but to
        the brokers' counters on its own (they are retained, and carry the
        epoch that tells a broker which lost its journal): every
        subscription of every instance is granted, and the operator's and
        the provider's instances (which send to brokers) each hear a new
        epoch: the broker restarted without its journal. (The first epoch
        is no proof: an instance that starts after another recorded it
        loads it from the database and has nothing to say.)"""
        fleet = self.fleet
        for svc in (fleet.maker, fleet.prov, fleet.op):
            for p in svc.instances:
                text = p.wait_for("subscribed filters=", timeout=60)
                self.assertNotIn("subscription refused", text, p.name)
        broker = self.onb.broker
        broker.stop()
        os.remove(broker.grants)
        broker.start()
        with open(broker.grants) as f:
            epoch = [line.split()[1] for line in f if line.startswith("epoch ")]
        self.assertEqual(len(epoch), 1, "the new journal names one epoch")
        for svc in (fleet.prov, fleet.op):
            for p in svc.instances:
                p.wait_for("epoch=%s is new: it is sent everything in force" % epoch[0],
                           timeout=60)

    def test_a_dead_instances_share_goes_to_the_live_ones_once_its_session_expired(self):
        fleet = self.fleet
        dead = []
        for role, svc in (("mfr", fleet.maker), ("prov", fleet.prov), ("op", fleet.op)):
            svc.instances[1].kill()  # its machine lost: never comes back
            dead.append("%s.%s.2" % (role, svc.id))
        self.wait_expired(dead)
        # pairing: the provider's registration reaches the manufacturer's
        # `in` group; then each device's requests are sent once
        dirs = fleet.mint_and_pair(DEVICES)
        argv = [onboarding.program("onramp-loadgen"), "--fleet", os.path.dirname(dirs[0]),
                "--count", str(DEVICES), "--max-attempts", "1"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        r = onboarding.loadgen_result(proc.stdout)
        self.assertEqual((r["completed"], r["failed"], r["unfinished"]),
                         (str(DEVICES), "0", "0"), proc.stdout)
        self.assertEqual(set(onboarding.Fleet.journeys(dirs).values()), {"OPERATIONAL"})


def der_to_pem(der):
    return subprocess.run(["openssl", "x509", "-inform", "DER"], input=der,
                          capture_output=True, check=True).stdout


class RenewalRaceTest(InstancesTestCase):
    """Renewals are decided with the device's claim locked (as enrollments
    are), so two instances deciding for one device at once take turns."""

    def in_force(self, dev):
        return {bytes(s): r and bytes(r) for s, r in self.fleet.prov.rows(
            "SELECT serial, renews FROM certificates WHERE dev = ? AND revoked_at IS NULL",
            dev)}

    def device_client(self, d, dev, cert=None):
        """The device on the service broker with its certificate (or
        `cert`: (certificate, key)), subscribed to its down leaf."""
        cert = cert or (os.path.join(d, "service.pem"), os.path.join(d, "service.key"))
        c = mqtt5.Client(self.onb.broker.operational_port, dev,
                         os.path.join(d, "service-ca.pem"), certfile=cert[0], keyfile=cert[1])
        self.addCleanup(c.disconnect)
        self.assertEqual(c.connect(), 0)
        self.assertEqual(c.subscribe(self.leaf(dev, "down")), 1)
        return c

    def leaf(self, dev, name):
        return "onr/1/p/%s/dev/%s/%s" % (self.fleet.prov.id, dev, name)

    def at_once(self, client, dev, payloads):
        """Publish `payloads` ((id, bytes)) on the renew leaf while the
        certificates table is locked, until two provider sessions wait for
        a lock (each instance holds one message inside its transaction);
        then let them go. The answers, {id: decoded envelope}."""
        with self.held(self.fleet.prov, "LOCK TABLE certificates IN EXCLUSIVE MODE"):
            for _, payload in payloads:
                self.assertTrue(mqtt5.accepted(client.publish(self.leaf(dev, "renew"),
                                                              payload)))
            onboarding.wait_until(lambda: self.locks_waited(self.fleet.prov) == len(payloads),
                                  timeout=60,
                                  what="both instances waiting inside their transactions")
        answers = {}
        wanted = {msg_id for msg_id, _ in payloads}
        while set(answers) != wanted:
            message = client.wait_message(self.leaf(dev, "down"), seconds=30)
            self.assertIsNotNone(message, "no answer to %d of the requests" %
                                 len(wanted - set(answers)))
            answer = fabric.decode_envelope(message[1])
            if answer["body"].get("re") in wanted:
                answers[answer["body"]["re"]] = answer
        return answers

    def test_two_renewals_of_one_device_at_once_issue_one_certificate(self):
        """A renew request and its retry (another id, the same new key)
        reach two instances at once: one certificate is issued, and both
        are answered with it; then two confirmations at once: each answered
        "revoked", the old certificate revoked once."""
        d, dev = self.onboarded_device()
        (old,) = self.in_force(dev)
        client = self.device_client(d, dev)
        key = onboarding.new_key(os.path.join(self.onb.dir, dev + "-next.key"))
        renew = self.leaf(dev, "renew")
        requests = [hostile.signed_envelope(os.path.join(d, "service.key"), renew,
                                            RENEW_REQUEST, ROLE_DEVICE, dev,
                                            {"serial": old, "csr": csr_for(key, dev)})
                    for _ in range(2)]
        answers = self.at_once(client, dev, requests)
        self.assertEqual({a["type"] for a in answers.values()}, {ENROLL_RESPONSE}, answers)
        self.assertEqual(len({a["body"]["chain"] for a in answers.values()}), 1,
                         "two certificates for one key")
        new = [s for s, renews in self.in_force(dev).items() if renews == old]
        self.assertEqual(len(new), 1, self.in_force(dev))
        # the confirmations revoke the old certificate (and cut its
        # connection): the device says them connected with the new one
        chain = next(iter(answers.values()))["body"]["chain"]
        leaf = os.path.join(self.onb.dir, dev + "-next.pem")
        with open(leaf, "wb") as f:
            f.write(der_to_pem(chain[:4 + int.from_bytes(chain[2:4], "big")]))
        client = self.device_client(d, dev, (leaf, key))
        renewed = [hostile.signed_envelope(key, renew, RENEWED, ROLE_DEVICE, dev,
                                           {"serial": new[0]}) for _ in range(2)]
        answers = self.at_once(client, dev, renewed)
        self.assertEqual([(a["type"], a["body"].get("serial")) for a in answers.values()],
                         [(REVOKED, old)] * 2, answers)
        self.assertEqual(list(self.in_force(dev)), new)


class ClaimStepRaceTest(InstancesTestCase):
    """Every step of a device's claim is decided on the claim read locked
    (services/provider/lifecycle.h), so two instances stepping one device
    take turns and each sees the other's step."""

    def test_a_late_registration_and_the_key_at_once_leave_the_device_attached(self):
        """The manufacturer's answer to a registration comes late (it was
        stopped), while its device attaches: the provider takes the answer
        and the device's key at once. Whatever their order, the claim ends
        attached and the device onboards; before, the claim could stay
        "claimed" with the key stored, and every enrollment was refused."""
        prov, maker = self.fleet.prov, self.fleet.maker
        (d,) = maker.mint(1)
        dev = os.path.basename(d)
        label = onboarding.DeviceRun(self.onb, d).label()
        run = self.onb.device(d)
        for p in maker.instances:
            p.pause()
        try:
            pairing = subprocess.Popen(self.fleet.ctl._pair_argv(prov, label, "fleet", None, 120),
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True)
            self.addCleanup(pairing.kill)
            onboarding.wait_until(lambda: prov.rows("SELECT state FROM claims WHERE dev = ?",
                                                    dev) == [(1,)], what="the claim registering")
            # the claim locked before the manufacturer answers
            with self.held(prov, "SELECT dev FROM claims WHERE dev = %s FOR UPDATE", dev):
                for p in maker.instances:
                    p.resume()
                onboarding.wait_until(lambda: self.locks_waited(prov) == 1, timeout=60,
                                      what="the manufacturer's answer waiting for the claim")
                run.process.start()
                onboarding.wait_until(
                    lambda: self.locks_waited(prov) == 2 or
                    prov.rows("SELECT dev FROM app_keys WHERE dev = ?", dev), timeout=90,
                    what="the device's key waiting for the claim, or stored")
        finally:
            for p in maker.instances:
                p.resume()
        out, _ = pairing.communicate(timeout=120)
        self.assertEqual(pairing.returncode, 0, out)
        onboarding.wait_until(lambda: prov.rows(
            "SELECT c.dev FROM claims c JOIN app_keys k ON k.dev = c.dev"
            " WHERE c.dev = ? AND c.claimed_at IS NOT NULL", dev), timeout=60,
            what="the registration confirmed and the key stored")
        (state,), = prov.rows("SELECT state FROM claims WHERE dev = ?", dev)
        self.assertGreaterEqual(state, 3, "the claim is left claimed with its key stored: "
                                "the device's enrollment is refused for ever")
        self.assertEqual(run.process.exit_status(timeout=120), 0, run.process.text()[-3000:])
        self.assertIn("state=OPERATIONAL", run.process.text())


class SubscriptionStepRaceTest(InstancesTestCase):
    """Every step of a subscription is decided on it read locked
    (services/operator/lifecycle.h)."""

    def test_a_release_and_an_alignment_at_once_leave_the_subscription_suspended(self):
        """Its provider releases a device whose new key's alignment is on
        its way: the release and the alignment reach two operator
        instances at once, the release first. The subscription ends
        suspended; before, the alignment, decided on the state it read
        before the release, stored it aligned again (a released device
        with its subscription in force)."""
        op, prov = self.fleet.op, self.fleet.prov
        _, dev = self.onboarded_device()
        # as right after a new attach: its key's alignment still to come
        op.execute("UPDATE subscribers SET state = 1 WHERE dev = ?", dev)
        (imsi, iccid), = op.rows("SELECT imsi, iccid FROM subscribers WHERE dev = ?", dev)
        inbox, answers = "onr/1/s/op/op-1/in", "onr/1/s/prov/prov-a/in"
        watch = self.onb.broker.watching(self, answers, "watch-race")
        sender = self.onb.broker.speaking_as(self, "provider", "prov-a", "prov.prov-a.race")

        def send(msg_type, body):
            msg_id, env = hostile.signed_envelope(prov.signing_key, inbox, msg_type,
                                                  hostile.ROLE_PROVIDER, "prov-a", body)
            self.assertTrue(mqtt5.accepted(sender.publish(inbox, env)))
            return msg_id

        sent = []
        with self.held(op, "SELECT dev FROM subscribers WHERE dev = %s FOR UPDATE", dev):
            sent.append(send(RELEASE, {"dev": dev}))
            onboarding.wait_until(lambda: self.locks_waited(op) == 1, timeout=30,
                                  what="the release waiting for the subscription")
            # the other instance's turn in the $share group; were it the
            # busy one's, the next alignment goes to the other
            for _ in range(5):
                sent.append(send(ALIGNMENT, {"re": os.urandom(16), "dev": dev, "imsi": imsi,
                                             "iccid": iccid, "qos": 5, "charging": "standard",
                                             "cap": 0}))
                try:
                    onboarding.wait_until(lambda: self.locks_waited(op) == 2, timeout=5,
                                          what="an alignment waiting too")
                    break
                except AssertionError:
                    continue
            self.assertEqual(self.locks_waited(op), 2, "no alignment reached the other instance")
        said = {}
        deadline = time.monotonic() + 30
        while set(said) != set(sent) and time.monotonic() < deadline:
            m = watch.wait_message(answers, 0.5)
            if m is not None:
                answer = fabric.decode_envelope(m[1])
                if answer["body"].get("re") in sent:
                    said[answer["body"]["re"]] = answer["type"]
        self.assertEqual(set(said), set(sent), "not every message answered")
        self.assertEqual(said[sent[0]], RELEASED)
        (state,), = op.rows("SELECT state FROM subscribers WHERE dev = ?", dev)
        self.assertEqual(state, 3, "the released subscription is in force again")


if __name__ == "__main__":
    unittest.main()
