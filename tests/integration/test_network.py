"""Network credentials (issue 5): the operator's sealed profiles, the
Milenage AKA attach and the grant, on a real mosquitto with the onramp
plugin and the real services and programs.

Cast: manufacturers acme (trusted by the operators) and globex (not);
providers prov-1 (contracts with op-1 and op-tiny), prov-2 (prefers op-2,
which op-1 is not) and prov-3 (prefers op-1, which has no contract with
it); operators op-1 and op-tiny (a pool of two numbers).
"""

import json
import os
import subprocess
import time
import unittest

import fabric
import mqtt5
import onboarding

ERROR = 4
PROFILE_REQUEST, PROFILE = 5, 6
ATTACH_REQUEST, ATTACH_CHALLENGE, ATTACH_RESPONSE, ATTACH_RESULT = 7, 8, 9, 10
ROLE_DEVICE = 1
EDENIED, EEXPIRED, EAUTH, EEXHAUSTED = 12, 48, 52, 53
SERVICE_STATS = 32


def one_of_each(onb, mfr_extra=None):
    """Manufacturer acme, provider prov-1 and operator op-1 in `onb`, not
    started, and control tool admin: (ctl, acme, prov, op)."""
    ctl = onboarding.Controller(onb, "admin")
    prov = onb.provider("prov-1")
    acme = onb.manufacturer("acme", providers=[prov], extra=mfr_extra)
    prov.configure([acme], {"op-1": onb.operator_key("op-1")}, "op-1", [ctl])
    onb.track(prov.process)
    return ctl, acme, prov, onb.operator("op-1", [acme], [prov])


class NetworkTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding()
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.prov1, cls.prov2, cls.prov3 = (onb.provider("prov-1"), onb.provider("prov-2"),
                                               onb.provider("prov-3"))
            cls.acme = onb.manufacturer("acme", providers=[cls.prov1, cls.prov2, cls.prov3])
            cls.globex = onb.manufacturer("globex", providers=[cls.prov1])
            key = onb.operator_key
            cls.prov1.configure([cls.acme, cls.globex],
                                {"op-1": key("op-1"), "op-tiny": key("op-tiny")}, "op-1",
                                [cls.ctl])
            cls.prov2.configure([cls.acme], {"op-1": key("op-1"), "op-2": key("op-2")},
                                "op-2", [cls.ctl])
            cls.prov3.configure([cls.acme], {"op-1": key("op-1")}, "op-1", [cls.ctl])
            for prov in (cls.prov1, cls.prov2, cls.prov3):
                onb.track(prov.process)
            cls.op1 = onb.operator("op-1", [cls.acme], [cls.prov1, cls.prov2],
                                   extra={"log_level": "info", "resend": 2,
                                          "stats_interval": 1})
            cls.tiny = onb.operator("op-tiny", [cls.acme], [cls.prov1],
                                    imsi_range=("001010000000001", "001010000000002"),
                                    iccid_range=("894900100000000001", "894900100000000002"))
            for svc in (cls.acme, cls.globex, cls.prov1, cls.prov2, cls.prov3, cls.op1,
                        cls.tiny):
                svc.start()
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    # -- helpers --

    def pair(self, state_dir, prov=None, operator=None):
        label = onboarding.DeviceRun(self.onb, state_dir).label()
        rc, out = self.ctl.pair(prov or self.prov1, label, "alice", operator=operator)
        self.assertEqual(rc, 0, out)

    def run_device(self, state_dir, *args, timeout=60):
        """Run the device to its end (NETWORK_ATTACHED unless told);
        (exit status, output)."""
        if "--until" not in args:
            args = ("--until", "NETWORK_ATTACHED") + args
        d = self.onb.device(state_dir, args)
        d.process.start()
        status = d.process.exit_status(timeout=timeout)
        return status, d.process.text()

    def onboard(self, state_dir, *args, prov=None, operator=None):
        self.pair(state_dir, prov, operator)
        status, text = self.run_device(state_dir, *args)
        self.assertEqual(status, 0, text)
        return text

    def subscriber(self, op, dev):
        rows = op.rows("SELECT imsi, iccid, %s, %s, %s, kid, prov FROM subscribers"
                       " WHERE dev = ?" % (onboarding.OP_ATTACHED, onboarding.OP_GRANTED,
                                           onboarding.OP_KEY_STORED), dev)
        return rows[0] if rows else None

    def challenges(self, dev, op=None):
        """The AKA challenges the operator stored for `dev`: (RAND, SEQ),
        by SEQ."""
        rows = (op or self.op1).rows("SELECT rand, sqn FROM challenges WHERE dev = ?", dev)
        return sorted(((bytes(r), sqn >> 5) for r, sqn in rows), key=lambda r: r[1])

    def raw_device(self, state_dir):
        c = self.onb.raw_device(state_dir)
        self.addCleanup(c.disconnect)
        return c

    def ask(self, client, state_dir, op_id, msg_type, body, msg_id=None):
        """Publish an unauthenticated device message to the operator; the
        decoded answer to it."""
        dev = os.path.basename(state_dir)
        msg_id, payload = fabric.envelope(msg_type, ROLE_DEVICE, dev, body, msg_id=msg_id)
        self.assertTrue(mqtt5.accepted(client.publish("onr/1/d/%s/up/op/%s" % (dev, op_id),
                                                      payload)))
        while True:
            message = client.wait_message("onr/1/d/%s/down" % dev, seconds=15)
            self.assertIsNotNone(message, "no answer from the operator")
            answer = fabric.decode_envelope(message[1])
            if answer["body"].get("re") == msg_id:
                return answer

    def voucher(self, state_dir):
        with open(os.path.join(state_dir, "voucher"), "rb") as f:
            return f.read()

    def assert_refused(self, answer, code):
        self.assertEqual(answer["type"], ERROR, answer)
        self.assertEqual(answer["body"]["code"], code, answer)

    # -- the journey --

    def test_devices_attach_and_the_grant_opens_their_provider_topic_only(self):
        monitor = self.onb.broker.service("monitor", "watch-op")
        self.addCleanup(monitor.disconnect)
        self.assertEqual(monitor.subscribe("onr/1/s/op/op-1/ev"), 1)
        self.assertEqual(monitor.subscribe("onr/1/d/+/up/op/op-1"), 1)
        devices = self.acme.mint(3)
        for d in devices:
            self.pair(d)
        runs = [self.onb.device(d, ["--until", "NETWORK_ATTACHED"]) for d in devices]
        for r in runs:
            r.process.start()
        for d, r in zip(devices, runs):
            self.assertEqual(r.process.exit_status(timeout=60), 0, r.process.text())
            text = r.process.text()
            self.assertIn("state=NETWORK_ATTACHED", text)
            dev = os.path.basename(d)
            imsi, iccid, attached, _, _, kid, prov = self.subscriber(self.op1, dev)
            self.assertEqual(attached, 1)
            self.assertEqual(prov, "prov-1")
            self.assertEqual(onboarding.field(text, "imsi"), imsi)
            self.assertEqual(onboarding.field(text, "iccid"), iccid)
            self.assertEqual(onboarding.field(text, "kid"), kid.hex())
            # the broker confirmed the grant, the provider stored the key
            onboarding.wait_until(lambda: self.subscriber(self.op1, dev)[3:5] == (1, 1),
                                  what="grant and key confirmed")
            self.assertEqual(self.prov1.rows("SELECT op, kid FROM app_keys WHERE dev = ?", dev),
                             [("op-1", kid)])
        # each device answered the challenge its profile carried: a profile
        # request and an attach response, no attach request; and the
        # operator published no event (its signed answers say each step),
        # only its counters (type 32)
        sent = {os.path.basename(d): [] for d in devices}
        events = []
        for topic, payload, _ in monitor.collect(2):
            e = fabric.decode_envelope(payload)
            if topic.endswith("/ev"):
                events += [e] if e["type"] != SERVICE_STATS else []
            elif e["sender"] in sent:
                sent[e["sender"]].append(e["type"])
        for dev, types in sent.items():
            self.assertEqual(sorted(types), [PROFILE_REQUEST, ATTACH_RESPONSE], dev)
        self.assertEqual(events, [])
        # the profile stays on the device, 0600, and no log holds its Ki
        profile = os.path.join(devices[0], "profile")
        self.assertEqual(os.stat(profile).st_mode & 0o777, 0o600)
        ki = self.op1.rows("SELECT ki, opc FROM subscribers WHERE dev = ?",
                           os.path.basename(devices[0]))[0]
        for p in self.onb.processes:
            with open(p.log, "rb") as f:
                log = f.read()
            for secret in ki:
                self.assertNotIn(secret.hex().encode(), log)
                self.assertNotIn(secret.hex().upper().encode(), log)
        # a granted device may publish to its provider and nowhere new
        c = self.raw_device(devices[0])
        dev = os.path.basename(devices[0])
        self.assertTrue(mqtt5.accepted(c.publish("onr/1/d/%s/up/prov/prov-1" % dev, b"x")))
        self.assertEqual(c.publish("onr/1/d/%s/up/prov/prov-2" % dev, b"x"),
                         mqtt5.NOT_AUTHORIZED)
        self.assertEqual(c.publish("onr/1/s/prov/prov-1/in", b"x"), mqtt5.NOT_AUTHORIZED)
        self.assertEqual(c.subscribe("onr/1/d/%s/up/prov/prov-1" % dev), mqtt5.NOT_AUTHORIZED)

    def test_a_profiled_device_is_not_granted(self):
        (d,) = self.acme.mint(1)
        text = self.onboard(d, "--until", "PROFILED")
        self.assertIn("state=PROFILED", text)
        self.assertNotIn("state=NETWORK_ATTACHED", text)
        dev = os.path.basename(d)
        self.assertEqual(self.subscriber(self.op1, dev)[2], 0)
        c = self.raw_device(d)
        self.assertEqual(c.publish("onr/1/d/%s/up/prov/prov-1" % dev, b"x"),
                         mqtt5.NOT_AUTHORIZED)
        # and it resumes where it stopped: the profile's challenge was not
        # answered, so it asks for one (attach request), with the next SQN
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        self.assertRegex(text, r"(?m)^attach operator=op-1 ")
        self.assertIn("state=NETWORK_ATTACHED", text)
        self.assertEqual([seq for _, seq in self.challenges(dev)], [1, 2])

    def test_retried_and_duplicated_profile_requests_get_the_same_subscription(self):
        (d,) = self.acme.mint(1)
        self.onboard(d, "--until", "VOUCHED")
        dev = os.path.basename(d)
        c = self.raw_device(d)
        body = {"voucher": self.voucher(d), "nonce": os.urandom(16)}
        first = self.ask(c, d, "op-1", PROFILE_REQUEST, body)
        self.assertEqual(first["type"], PROFILE, first)
        # with the first attach challenge, stored with its SQN, the first
        self.assertEqual((len(first["body"]["rand"]), len(first["body"]["autn"])), (16, 16))
        self.assertEqual(self.challenges(dev), [(first["body"]["rand"], 1)])
        # the very same message again (a duplicate delivery): the same bytes,
        # the same challenge, no SQN taken
        again = self.ask(c, d, "op-1", PROFILE_REQUEST, body, msg_id=first["body"]["re"])
        self.assertEqual(again["body"], first["body"])
        self.assertEqual(self.challenges(dev), [(first["body"]["rand"], 1)])
        # a retry (new message, new nonce): sealed anew, the same
        # subscription, a new challenge with the next SQN
        retry = self.ask(c, d, "op-1", PROFILE_REQUEST,
                         {"voucher": self.voucher(d), "nonce": os.urandom(16)})
        self.assertEqual(retry["type"], PROFILE, retry)
        self.assertNotEqual(retry["body"]["sealed"], first["body"]["sealed"])
        self.assertEqual(self.challenges(dev),
                         sorted([(first["body"]["rand"], 1), (retry["body"]["rand"], 2)],
                                key=lambda r: r[1]))
        self.assertEqual(len(self.op1.rows("SELECT 1 FROM subscribers WHERE dev = ?", dev)), 1)
        imsi, iccid = self.subscriber(self.op1, dev)[:2]
        # the device itself gets that one subscription too, and attaches
        # with its own request's challenge: the SQNs skipped do not matter
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        self.assertEqual((onboarding.field(text, "imsi"), onboarding.field(text, "iccid")),
                         (imsi, iccid))
        self.assertNotIn("resync", text)
        self.assertEqual([seq for _, seq in self.challenges(dev)], [1, 2, 3])

    def test_sequence_numbers_resynchronise_when_the_device_is_ahead(self):
        (d,) = self.acme.mint(1)
        self.onboard(d, "--until", "PROFILED")
        # the USIM has seen SQNs far beyond what the AuC issued
        with open(os.path.join(d, "sqn"), "w") as f:
            f.write("".join("%d\n" % 5000 for _ in range(32)))
        os.chmod(os.path.join(d, "sqn"), 0o600)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        self.assertIn("resync", text)
        self.assertIn("state=NETWORK_ATTACHED", text)
        dev = os.path.basename(d)
        self.op1.process.wait_for("resync dev=" + dev)
        # the AuC's SQN moved past the device's
        sqn = self.op1.rows("SELECT sqn FROM subscribers WHERE dev = ?", dev)[0][0]
        self.assertGreater(sqn >> 5, 5000)

    def counters(self):
        """op-1's counters as onrampctl stats --service reads them."""
        cert, key = self.onb.pki.client("monitor", "stats")
        proc = subprocess.run(
            [onboarding.program("onrampctl"), "stats", "--service", "op/op-1", "--json",
             "--host", "127.0.0.1", "--port", str(self.onb.broker.services_port),
             "--cafile", self.onb.pki.ca[0], "--cert", cert, "--key", key, "--timeout", "10"],
            capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)

    def test_the_operator_counts_what_it_handled_and_refused(self):
        before = self.counters()
        self.assertEqual(before["service"], "op-1")
        (d,) = self.acme.mint(1)
        self.onboard(d, "--until", "PROFILED")
        c = self.raw_device(d)
        answer = self.ask(c, d, "op-1", PROFILE_REQUEST,
                          {"voucher": b"not a voucher", "nonce": os.urandom(16)})
        self.assert_refused(answer, EDENIED)
        onboarding.wait_until(lambda: self.counters()["refused_policy"] >
                              before["refused_policy"], what="the refusal counted")
        after = self.counters()
        self.assertGreater(after["handled"], before["handled"])
        self.assertGreaterEqual(after["uptime"], before["uptime"])
        self.assertGreater(after["latency_max_us"], 0)

    # -- refused, each changing nothing --

    def test_wrong_res_is_refused_and_grants_nothing(self):
        (d,) = self.acme.mint(1)
        text = self.onboard(d, "--until", "PROFILED")
        dev = os.path.basename(d)
        c = self.raw_device(d)
        imsi = onboarding.field(text, "imsi")
        challenge = self.ask(c, d, "op-1", ATTACH_REQUEST, {"imsi": imsi})
        self.assertEqual(challenge["type"], ATTACH_CHALLENGE, challenge)
        answer = self.ask(c, d, "op-1", ATTACH_RESPONSE,
                          {"rand": challenge["body"]["rand"], "result": 0,
                           "res": bytes(8)})
        self.assert_refused(answer, EAUTH)
        self.assertEqual(self.subscriber(self.op1, dev)[2:5], (0, 0, 0))
        self.assertEqual(self.prov1.rows("SELECT 1 FROM app_keys WHERE dev = ?", dev), [])
        self.assertEqual(c.publish("onr/1/d/%s/up/prov/prov-1" % dev, b"x"),
                         mqtt5.NOT_AUTHORIZED)
        # one guess per challenge: the right answer now comes too late
        again = self.ask(c, d, "op-1", ATTACH_RESPONSE,
                         {"rand": challenge["body"]["rand"], "result": 0, "res": bytes(8)})
        self.assertEqual(again["type"], ERROR)

    def test_an_attach_for_another_subscription_is_refused(self):
        a, b = self.acme.mint(2)
        text_a = self.onboard(a, "--until", "PROFILED")
        self.onboard(b, "--until", "PROFILED")
        c = self.raw_device(b)
        answer = self.ask(c, b, "op-1", ATTACH_REQUEST, {"imsi": onboarding.field(text_a, "imsi")})
        self.assert_refused(answer, EDENIED)

    def test_a_voucher_from_an_unknown_manufacturer_is_refused(self):
        (d,) = self.globex.mint(1)
        self.pair(d)
        status, text = self.run_device(d, "--max-attempts", "1")
        self.assertNotEqual(status, 0, text)
        self.assertIn("state=VOUCHED", text)
        self.assertIn("code=EDENIED", text)
        self.assertIsNone(self.subscriber(self.op1, os.path.basename(d)))

    def test_a_voucher_naming_another_operator_is_refused(self):
        (d,) = self.acme.mint(1)
        self.pair(d, prov=self.prov2)  # prov-2 prefers op-2
        status, text = self.run_device(d, "--until", "VOUCHED")
        self.assertEqual(status, 0, text)
        self.assertIn("operator=op-2", text)
        c = self.raw_device(d)
        answer = self.ask(c, d, "op-1", PROFILE_REQUEST,
                          {"voucher": self.voucher(d), "nonce": os.urandom(16)})
        self.assert_refused(answer, EDENIED)
        self.assertIsNone(self.subscriber(self.op1, os.path.basename(d)))

    def test_an_expired_voucher_is_refused(self):
        (d,) = self.acme.mint(1)
        self.onboard(d, "--until", "VOUCHED")
        # the same voucher, signed by acme's voucher key, expired a second ago
        expired = bytes.fromhex(fabric.run(
            fabric.TEST_POP, "revoucher", os.path.join(self.acme.dir, "voucher.key"),
            os.path.join(d, "voucher"), str(int(time.time()) - 1)).strip())
        c = self.raw_device(d)
        answer = self.ask(c, d, "op-1", PROFILE_REQUEST,
                          {"voucher": expired, "nonce": os.urandom(16)})
        self.assert_refused(answer, EEXPIRED)
        self.assertIsNone(self.subscriber(self.op1, os.path.basename(d)))
        # the genuine one still works: the refusal changed nothing
        answer = self.ask(c, d, "op-1", PROFILE_REQUEST,
                          {"voucher": self.voucher(d), "nonce": os.urandom(16)})
        self.assertEqual(answer["type"], PROFILE, answer)

    def test_another_devices_voucher_is_refused(self):
        a, b = self.acme.mint(2)
        self.onboard(a, "--until", "VOUCHED")
        self.onboard(b, "--until", "VOUCHED")
        c = self.raw_device(b)
        answer = self.ask(c, b, "op-1", PROFILE_REQUEST,
                          {"voucher": self.voucher(a), "nonce": os.urandom(16)})
        self.assert_refused(answer, EDENIED)
        self.assertIsNone(self.subscriber(self.op1, os.path.basename(a)))
        self.assertIsNone(self.subscriber(self.op1, os.path.basename(b)))

    def test_a_provider_without_a_contract_is_refused(self):
        (d,) = self.acme.mint(1)
        self.pair(d, prov=self.prov3)  # op-1 has no contract with prov-3
        status, text = self.run_device(d, "--max-attempts", "1")
        self.assertNotEqual(status, 0, text)
        self.assertIn("provider=prov-3", text)
        self.assertIn("code=EDENIED", text)
        self.assertIsNone(self.subscriber(self.op1, os.path.basename(d)))

    def test_an_exhausted_pool_is_refused(self):
        devices = self.acme.mint(3)
        for d in devices[:2]:
            text = self.onboard(d, "--until", "PROFILED", operator="op-tiny")
            self.assertIn("state=PROFILED", text)
        self.pair(devices[2], operator="op-tiny")
        status, text = self.run_device(devices[2], "--max-attempts", "1")
        self.assertNotEqual(status, 0, text)
        self.assertIn("code=EEXHAUSTED", text)
        rows = self.tiny.rows("SELECT imsi, iccid FROM subscribers ORDER BY slot")
        self.assertEqual(rows, [("001010000000001", "8949001000000000017"),
                                ("001010000000002", "8949001000000000025")])
        self.assertEqual(self.tiny.rows("SELECT next FROM pool"), [(2,)])


class OperatorCrashTest(unittest.TestCase):
    """An operator killed between storing a subscription and answering."""

    def test_a_crash_after_commit_loses_nothing_and_allocates_once(self):
        self.assertEqual(os.environ.get("ONR_TEST_HOOKS"), "1",
                         "this test needs the services' fault-injection hook: configure "
                         "with -DONR_TEST_HOOKS=ON (scripts/test does)")
        with onboarding.Onboarding() as onb:
            ctl, acme, prov, op = one_of_each(onb)
            for svc in (acme, prov):
                svc.start()
            op.process.env_extra = {"ONR_TEST_DIE_AFTER_COMMIT": str(PROFILE_REQUEST)}
            op.start()
            (d,) = acme.mint(1)
            dev = os.path.basename(d)
            rc, out = ctl.pair(prov, onboarding.DeviceRun(onb, d).label(), "alice")
            self.assertEqual(rc, 0, out)
            run = onb.device(d, ["--timeout", "3", "--until", "NETWORK_ATTACHED"])
            run.process.start()
            # the operator stored the subscription, then died unanswering
            self.assertEqual(op.process.exit_status(timeout=30), -9)
            self.assertIn("dying after commit", op.process.text())
            stored = op.rows("SELECT imsi, iccid FROM subscribers WHERE dev = ?", dev)
            self.assertEqual(len(stored), 1)
            # and the profile's challenge with its SQN, before anything was said
            self.assertEqual(op.rows("SELECT c.sqn >> 5, s.sqn >> 5 FROM challenges c JOIN"
                                     " subscribers s ON s.dev = c.dev WHERE c.dev = ?", dev),
                             [(1, 1)])
            # back up: the device's retry gets what was stored
            op.process.env_extra = {}
            op.start()
            self.assertEqual(run.process.exit_status(timeout=90), 0, run.process.text())
            text = run.process.text()
            self.assertIn("state=NETWORK_ATTACHED", text)
            self.assertEqual((onboarding.field(text, "imsi"), onboarding.field(text, "iccid")),
                             stored[0])
            self.assertEqual(op.rows("SELECT next FROM pool"), [(1,)])


class OperatorInstancesTest(unittest.TestCase):
    """Two operator instances on one database answer one device's profile
    requests, each with its first attach challenge: a duplicate takes no
    SQN, whichever instance has it; every new request takes the next."""

    def test_profile_challenges_take_one_sqn_per_request_across_instances(self):
        with onboarding.Onboarding() as onb:
            ctl, acme, prov, op = one_of_each(onb)
            onboarding.add_instances(onb, op, 2)
            for svc in (acme, prov, op):
                svc.start()
            onboarding.start_instances(op)
            (d,) = acme.mint(1)
            dev = os.path.basename(d)
            rc, out = ctl.pair(prov, onboarding.DeviceRun(onb, d).label(), "alice")
            self.assertEqual(rc, 0, out)
            run = onb.device(d, ["--until", "VOUCHED"])
            run.process.start()
            self.assertEqual(run.process.exit_status(timeout=60), 0, run.process.text())
            with open(os.path.join(d, "voucher"), "rb") as f:
                voucher = f.read()
            c = onb.raw_device(d)
            self.addCleanup(c.disconnect)
            up = "onr/1/d/%s/up/op/op-1" % dev
            # one request delivered 8 times (either instance may take each),
            # and 8 different requests, all at once: the instances race
            dup_id, dup = fabric.envelope(PROFILE_REQUEST, ROLE_DEVICE, dev,
                                          {"voucher": voucher, "nonce": os.urandom(16)})
            ids = [dup_id]
            for _ in range(8):
                self.assertTrue(mqtt5.accepted(c.publish(up, dup)))
            for _ in range(8):
                msg_id, payload = fabric.envelope(PROFILE_REQUEST, ROLE_DEVICE, dev,
                                                  {"voucher": voucher, "nonce": os.urandom(16)})
                ids.append(msg_id)
                self.assertTrue(mqtt5.accepted(c.publish(up, payload)))
            # every answer, until none came for 5 s: an instance that lost
            # a race three times leaves the message to the device's retry
            # (SPEC section 4), unanswered and changing nothing
            answers = {}
            deadline, last = time.monotonic() + 60, time.monotonic()
            while time.monotonic() < min(deadline, last + 5):
                message = c.wait_message("onr/1/d/%s/down" % dev, seconds=1)
                if message is not None:
                    last = time.monotonic()
                    a = fabric.decode_envelope(message[1])
                    self.assertEqual(a["type"], PROFILE, a)
                    self.assertIn(a["body"]["re"], ids)
                    answers.setdefault(a["body"]["re"], []).append(a["body"])
            # the duplicates: one answer, byte for byte, one challenge
            self.assertIn(dup_id, answers)
            self.assertTrue(all(b == answers[dup_id][0] for b in answers[dup_id]))
            # a challenge for each request answered, SEQ 1.. each taken once
            rows = op.rows("SELECT rand, sqn FROM challenges WHERE dev = ?", dev)
            self.assertEqual(sorted(sqn >> 5 for _, sqn in rows),
                             list(range(1, len(answers) + 1)))
            self.assertEqual({bytes(r) for r, _ in rows},
                             {b[0]["rand"] for b in answers.values()})
            self.assertEqual(op.rows("SELECT sqn >> 5 FROM subscribers WHERE dev = ?", dev),
                             [(len(answers),)])
            # and the device attaches past them all, without a resync
            run = onb.device(d, ["--until", "NETWORK_ATTACHED"])
            run.process.start()
            self.assertEqual(run.process.exit_status(timeout=60), 0, run.process.text())
            self.assertNotIn("resync", run.process.text())


class ConcurrentProfilesTest(unittest.TestCase):
    """Many devices at once: every one its own numbers."""

    DEVICES = int(os.environ.get("ONR_TEST_DEVICES", "200"))

    def test_devices_onboarding_at_once_get_distinct_numbers(self):
        with onboarding.Onboarding() as onb:
            # a shipment claimed at once: above the default claim rate
            ctl, acme, prov, op = one_of_each(onb, {"claim_rate": 100000})
            for svc in (acme, prov, op):
                svc.start()
            devices = acme.mint(self.DEVICES)
            labels = [onboarding.DeviceRun(onb, d).label() for d in devices]
            rc, out = ctl.pair_many(prov, labels, "alice")
            self.assertEqual(rc, 0, out)
            runs = [onb.device(d, ["--quiet", "--until", "NETWORK_ATTACHED"]) for d in devices]
            for r in runs:
                r.process.start()
            for r in runs:
                self.assertEqual(r.process.exit_status(timeout=300), 0, r.process.text())
            rows = op.rows("SELECT dev, imsi, iccid, %s FROM subscribers" %
                           onboarding.OP_ATTACHED)
            self.assertEqual(len(rows), self.DEVICES)
            self.assertEqual(len({r[1] for r in rows}), self.DEVICES)
            self.assertEqual(len({r[2] for r in rows}), self.DEVICES)
            self.assertEqual({r[0] for r in rows}, {os.path.basename(d) for d in devices})
            self.assertTrue(all(r[3] == 1 for r in rows))
            self.assertEqual(op.rows("SELECT next FROM pool"), [(self.DEVICES,)])


if __name__ == "__main__":
    unittest.main()
