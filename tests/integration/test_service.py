"""Service credentials (issue 6): enrollment with the AKMA-style key, the
provider's service broker with mutual TLS, and provider-operator alignment,
on a real mosquitto with the onramp plugin and the real services.

Cast: manufacturers acme and globex; providers prov-a (prefers op-1) and
prov-b (prefers op-2); operators op-1, op-2 and op-3 (prov-b's customers
may ask for it).
"""

import hashlib
import hmac
import os
import subprocess
import time
import unittest

import fabric
import hostile
import mqtt5
import onboarding

ERROR, PENDING = 4, 3
ENROLL_REQUEST, ENROLL_RESPONSE = 11, 12
ALIGNMENT, ALIGNED = 17, 18
APP_KEY = 24
ROLE_OPERATOR, ROLE_PROVIDER = 3, 4
ROLE_DEVICE = 1
EEXIST, EDENIED, EBADSIG, EBADMAC = 5, 12, 40, 45


def mac_envelope(msg_type, sender, body, topic, key, msg_id=None):
    """An envelope authenticated with HMAC-SHA256 (SPEC section 4)."""
    msg_id = msg_id or os.urandom(16)
    authed = b"\x98" + b"".join(fabric.pack(x) for x in
                                 [1, msg_type, msg_id, int(time.time()), ROLE_DEVICE, sender,
                                  body])
    t = topic.encode()
    tag = hmac.new(key, b"onramp/1 envelope\x00" + len(t).to_bytes(2, "big") + t + authed,
                   hashlib.sha256).digest()
    return msg_id, authed + fabric.pack(tag)


def csr_for(key_path, cn):
    return subprocess.run(["openssl", "req", "-new", "-key", key_path, "-subj", "/CN=" + cn,
                           "-outform", "DER"], capture_output=True, check=True).stdout


class ServiceTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding(providers=("prov-a", "prov-b"))
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.prov_a, cls.prov_b = onb.provider("prov-a"), onb.provider("prov-b")
            cls.acme = onb.manufacturer("acme", providers=[cls.prov_a, cls.prov_b])
            cls.globex = onb.manufacturer("globex", providers=[cls.prov_a, cls.prov_b])
            key = onb.operator_key
            cls.prov_a.configure([cls.acme, cls.globex], {"op-1": key("op-1")}, "op-1",
                                 [cls.ctl], plans={"*": (5, "standard", 0),
                                                   "vip": (9, "gold", 10 ** 9)})
            cls.prov_b.configure([cls.acme, cls.globex],
                                 {"op-2": key("op-2"), "op-3": key("op-3")}, "op-2", [cls.ctl],
                                 plans={"*": (3, "basic", 5 * 10 ** 8)})
            for prov in (cls.prov_a, cls.prov_b):
                onb.track(prov.process)
            makers = [cls.acme, cls.globex]
            cls.ops = {
                "op-1": onb.operator("op-1", makers, [cls.prov_a], extra={"resend": 2}),
                "op-2": onb.operator("op-2", makers, [cls.prov_b], extra={"resend": 2},
                                     imsi_range=("001020000000001", "001020000099999"),
                                     plmn="00102"),
                "op-3": onb.operator("op-3", makers, [cls.prov_b], extra={"resend": 2},
                                     imsi_range=("001030000000001", "001030000099999"),
                                     plmn="00103"),
            }
            for svc in [cls.acme, cls.globex, cls.prov_a, cls.prov_b] + list(cls.ops.values()):
                svc.start()
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    # -- helpers --

    def pair(self, state_dir, prov, account="alice", operator=None):
        label = onboarding.DeviceRun(self.onb, state_dir).label()
        rc, out = self.ctl.pair(prov, label, account, operator=operator)
        self.assertEqual(rc, 0, out)

    def run_device(self, state_dir, *args, timeout=60):
        d = self.onb.device(state_dir, args)
        d.process.start()
        status = d.process.exit_status(timeout=timeout)
        return status, d.process.text()

    def raw_device(self, state_dir):
        c = self.onb.raw_device(state_dir)
        self.addCleanup(c.disconnect)
        return c

    def ask(self, client, state_dir, prov_id, payload, msg_id):
        dev = os.path.basename(state_dir)
        self.assertTrue(mqtt5.accepted(
            client.publish("onr/1/d/%s/up/prov/%s" % (dev, prov_id), payload)))
        while True:
            message = client.wait_message("onr/1/d/%s/down" % dev, seconds=15)
            self.assertIsNotNone(message, "no answer from the provider")
            answer = fabric.decode_envelope(message[1])
            if answer["body"].get("re") == msg_id:
                return answer

    def akma(self, state_dir):
        with open(os.path.join(state_dir, "akma"), "rb") as f:
            data = f.read()
        return data[:16], data[16:48]

    def operational(self, state_dir, prov_id):
        """A client on the service broker with the device's certificate."""
        dev = os.path.basename(state_dir)
        c = mqtt5.Client(self.onb.broker.operational_port, dev,
                         os.path.join(state_dir, "service-ca.pem"),
                         certfile=os.path.join(state_dir, "service.pem"),
                         keyfile=os.path.join(state_dir, "service.key"))
        self.addCleanup(c.disconnect)
        return c

    def attached_device(self, maker, prov, operator=None, account="alice"):
        (d,) = maker.mint(1)
        self.pair(d, prov, account, operator)
        status, text = self.run_device(d, "--until", "NETWORK_ATTACHED")
        self.assertEqual(status, 0, text)
        return d

    # -- the journey --

    def test_ten_devices_onboard_across_every_party(self):
        # read only at the end: a keepalive longer than the onboarding takes
        # on a loaded machine (at 30 s the broker dropped it after 45 s)
        monitor = self.onb.broker.service("monitor", "watch-all", keepalive=600)
        self.addCleanup(monitor.disconnect)
        self.assertEqual(monitor.subscribe("onr/1/p/+/dev/+/telemetry"), 1)
        plan = []  # (state dir, maker, provider, operator, account)
        for i in range(10):
            maker = self.acme if i % 2 == 0 else self.globex
            if i < 4:
                prov, op, account = self.prov_a, "op-1", "vip" if i == 0 else "alice"
            elif i < 8:
                prov, op, account = self.prov_b, "op-2", "bob"
            else:
                prov, op, account = self.prov_b, "op-3", "carol"
            (d,) = maker.mint(1)
            self.pair(d, prov, account, op if op == "op-3" else None)
            plan.append((d, maker, prov, op, account))
        runs = [self.onb.device(d) for d, *_ in plan]
        for r in runs:
            r.process.start()
        for (d, maker, prov, op, account), r in zip(plan, runs):
            self.assertEqual(r.process.exit_status(timeout=90), 0, r.process.text())
            text = r.process.text()
            self.assertIn("state=OPERATIONAL", text)
            dev = os.path.basename(d)
            # the manufacturer: the assignment, and no secret
            self.assertEqual(maker.rows("SELECT provider, operator FROM assignments"
                                        " WHERE dev = ?", dev), [(prov.id, op)])
            # the operator: attached, aligned with the account's plan
            operator = self.ops[op]
            qos, charging, cap = prov.plans.get(account, prov.plans["*"])
            onboarding.wait_until(lambda: operator.rows(
                "SELECT aligned_at IS NOT NULL FROM subscribers WHERE dev = ?", dev) == [(1,)],
                what="alignment of " + dev)
            imsi, iccid, attached, qos_, charging_, cap_, prov_ = operator.rows(
                "SELECT imsi, iccid, %s, qos, charging, cap, prov FROM subscribers"
                " WHERE dev = ?" % onboarding.OP_ATTACHED, dev)[0]
            self.assertEqual((attached, qos_, charging_, cap_, prov_),
                             (1, qos, charging, cap, prov.id))
            self.assertEqual(onboarding.field(text, "imsi"), imsi)
            # the provider: the claim, the subscription, the certificate
            self.assertEqual(prov.rows("SELECT imsi, iccid, op FROM app_keys WHERE dev = ?",
                                       dev), [(imsi, iccid, op)])
            self.assertEqual(prov.rows("SELECT count(*) FROM certificates WHERE dev = ?"
                                       " AND revoked_at IS NULL", dev), [(1,)])
            onboarding.wait_until(lambda: prov.rows(
                "SELECT aligned_at IS NOT NULL FROM alignments WHERE dev = ?", dev) == [(1,)],
                what="provider's alignment of " + dev)
            # the device: its service key stays with it
            self.assertEqual(os.stat(os.path.join(d, "service.key")).st_mode & 0o777, 0o600)
        # every device said it is operational on its provider's broker
        seen = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(seen) < len(plan):
            for topic, payload, _ in monitor.collect(0.2):
                seen.add(topic)
        for d, _, prov, _, _ in plan:
            self.assertIn("onr/1/p/%s/dev/%s/telemetry" % (prov.id, os.path.basename(d)), seen)
        # nothing secret where it must not be: no Ki, no private key
        secrets = []
        for op in self.ops.values():
            secrets += [row[0] for row in op.rows("SELECT ki FROM subscribers")]
        for d, *_ in plan:
            with open(os.path.join(d, "service.key"), "rb") as f:
                secrets.append(f.read())
            with open(os.path.join(d, "identity.key"), "rb") as f:
                secrets.append(f.read())
        places = [f for m in (self.acme, self.globex) for f in m.store.files()]
        places += [f for p in (self.prov_a, self.prov_b) for f in p.store.files()]
        places += [self.onb.broker.grants, self.onb.broker.log]
        places += [p.log for p in self.onb.processes]
        for place in places:
            with open(place, "rb") as f:
                blob = f.read()
            for secret in secrets:
                self.assertNotIn(secret, blob, place)
                self.assertNotIn(secret.hex().encode(), blob, place)

    def test_an_operational_device_restarts_directly(self):
        d = self.attached_device(self.acme, self.prov_a)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        self.assertIn("state=OPERATIONAL", text)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        self.assertNotIn("enroll", text)
        self.assertNotIn("hello", text)

    def test_an_enrollment_before_the_key_waits_for_it(self):
        d = self.attached_device(self.acme, self.prov_a)
        dev = os.path.basename(d)
        onboarding.wait_until(lambda: self.prov_a.rows(
            "SELECT 1 FROM app_keys WHERE dev = ?", dev) == [(1,)], what="the key")
        # as if the operator's key were late: the provider has none yet
        self.prov_a.execute("DELETE FROM app_keys WHERE dev = ?", dev)
        self.prov_a.execute("DELETE FROM key_orders WHERE dev = ?", dev)
        run = self.onb.device(d, ["--until", "ENROLLED"])
        run.process.start()
        run.process.wait_for("pending", timeout=30)
        self.assertEqual(self.prov_a.rows("SELECT count(*) FROM waiting_enrollments"
                                          " WHERE dev = ?", dev), [(1,)])
        # the key arrives (the operator sends it again): the enrollment ends
        self.ops["op-1"].unconfirm_key(dev)
        self.assertEqual(run.process.exit_status(timeout=60), 0, run.process.text())
        self.assertIn("state=ENROLLED", run.process.text())
        self.assertEqual(self.prov_a.rows("SELECT count(*) FROM waiting_enrollments"
                                          " WHERE dev = ?", dev), [(0,)])

    def test_the_same_csr_gets_the_same_certificate(self):
        d = self.attached_device(self.acme, self.prov_a)
        dev = os.path.basename(d)
        kid, k_af = self.akma(d)
        key = onboarding.new_key(os.path.join(self.onb.dir, dev + "-svc.key"))
        csr = csr_for(key, dev)
        c = self.raw_device(d)
        topic = "onr/1/d/%s/up/prov/prov-a" % dev
        answers = []
        for _ in range(2):
            msg_id, payload = mac_envelope(ENROLL_REQUEST, dev, {"kid": kid, "csr": csr},
                                           topic, k_af)
            answers.append(self.ask(c, d, "prov-a", payload, msg_id))
        self.assertEqual(answers[0]["type"], ENROLL_RESPONSE, answers[0])
        self.assertEqual(answers[0]["body"]["chain"], answers[1]["body"]["chain"])
        self.assertEqual(self.prov_a.rows("SELECT count(*) FROM certificates WHERE dev = ?",
                                          dev), [(1,)])

    # -- refused --

    def enroll_answer(self, d, body, key=None, prov_id="prov-a"):
        dev = os.path.basename(d)
        kid, k_af = self.akma(d)
        topic = "onr/1/d/%s/up/prov/%s" % (dev, prov_id)
        c = self.raw_device(d)
        msg_id, payload = mac_envelope(ENROLL_REQUEST, dev, dict(kid=kid, **body), topic,
                                       key or k_af)
        return self.ask(c, d, prov_id, payload, msg_id)

    def assert_refused(self, answer, code):
        self.assertEqual(answer["type"], ERROR, answer)
        self.assertEqual(answer["body"]["code"], code, answer)

    def assert_no_certificate(self, prov, d):
        self.assertEqual(prov.rows("SELECT count(*) FROM certificates WHERE dev = ?",
                                   os.path.basename(d)), [(0,)])

    def test_a_wrong_mac_is_refused(self):
        d = self.attached_device(self.acme, self.prov_a)
        key = onboarding.new_key(os.path.join(self.onb.dir, "mac-svc.key"))
        answer = self.enroll_answer(d, {"csr": csr_for(key, os.path.basename(d))},
                                    key=os.urandom(32))
        self.assert_refused(answer, EBADMAC)
        self.assert_no_certificate(self.prov_a, d)

    def test_an_unknown_key_identifier_is_refused(self):
        d = self.attached_device(self.acme, self.prov_a)
        dev = os.path.basename(d)
        _, k_af = self.akma(d)
        key = onboarding.new_key(os.path.join(self.onb.dir, "kid-svc.key"))
        topic = "onr/1/d/%s/up/prov/prov-a" % dev
        c = self.raw_device(d)
        msg_id, payload = mac_envelope(ENROLL_REQUEST, dev,
                                       {"kid": os.urandom(16), "csr": csr_for(key, dev)},
                                       topic, k_af)
        self.assert_refused(self.ask(c, d, "prov-a", payload, msg_id), EDENIED)
        self.assert_no_certificate(self.prov_a, d)

    def test_a_csr_whose_signature_does_not_verify_is_refused(self):
        d = self.attached_device(self.acme, self.prov_a)
        key = onboarding.new_key(os.path.join(self.onb.dir, "sig-svc.key"))
        csr = bytearray(csr_for(key, os.path.basename(d)))
        csr[-3] ^= 0x01  # inside the signature's s
        answer = self.enroll_answer(d, {"csr": bytes(csr)})
        self.assert_refused(answer, EBADSIG)
        self.assert_no_certificate(self.prov_a, d)

    def test_a_device_of_another_provider_cannot_enroll_here(self):
        d = self.attached_device(self.acme, self.prov_b)
        dev = os.path.basename(d)
        c = self.raw_device(d)
        # the broker lets it reach only its own provider
        self.assertEqual(c.publish("onr/1/d/%s/up/prov/prov-a" % dev, b"x"),
                         mqtt5.NOT_AUTHORIZED)
        self.assert_no_certificate(self.prov_a, d)

    def test_an_application_key_from_another_operator_is_refused(self):
        # prov-b claimed the device with op-2, which holds its key; op-3
        # has a contract with prov-b too, so its envelope verifies
        d = self.attached_device(self.acme, self.prov_b)
        dev = os.path.basename(d)
        onboarding.wait_until(lambda: self.prov_b.rows(
            "SELECT op FROM app_keys WHERE dev = ?", dev) == [("op-2",)], what="op-2's key")
        before = self.prov_b.rows("SELECT op, kid, sealed, imsi, iccid, received_at"
                                  " FROM app_keys WHERE dev = ?", dev)
        sealed = bytes.fromhex(fabric.run(fabric.TEST_POP, "seal-app-key",
                                          self.prov_b.sealing_pub, dev, "op-3", "prov-b"))
        inbox = "onr/1/s/prov/prov-b/in"
        body = {"dev": dev, "kid": sealed[:16], "sealed": sealed[16:],
                "imsi": "001030000000042", "iccid": "8949001000000000042", "sqn": 33}
        key_id, env = hostile.signed_envelope(
            self.ops["op-3"].signing_key, inbox, APP_KEY,
            ROLE_OPERATOR, "op-3", body)
        watch = self.onb.broker.service("monitor", "watch-op-3")
        self.addCleanup(watch.disconnect)
        self.assertEqual(watch.subscribe("onr/1/s/op/op-3/in"), 1)
        rogue = self.onb.broker.service("operator", "op-3", client_id="op.op-3.rogue")
        self.addCleanup(rogue.disconnect)
        self.assertEqual(rogue.connack, 0)
        self.assertTrue(mqtt5.accepted(rogue.publish(inbox, env)))
        answer = None
        deadline = time.monotonic() + 15
        while answer is None and time.monotonic() < deadline:
            m = watch.wait_message("onr/1/s/op/op-3/in", 0.5)
            if m is not None and fabric.decode_envelope(m[1])["body"].get("re") == key_id:
                answer = fabric.decode_envelope(m[1])
        self.assertIsNotNone(answer, "no answer to op-3's application key")
        self.assertEqual((answer["type"], answer["body"]["code"]), (ERROR, EDENIED))
        # the key op-2 sent stays, and the device still enrolls with it
        self.assertEqual(self.prov_b.rows("SELECT op, kid, sealed, imsi, iccid, received_at"
                                          " FROM app_keys WHERE dev = ?", dev), before)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        self.assertIn("state=OPERATIONAL", text)

    def answer_on(self, watch, topic, msg_id):
        """The message on `topic` (subscribed by `watch`) whose re is
        `msg_id`, decoded (a failure after 15 s)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            m = watch.wait_message(topic, 0.5)
            if m is not None and fabric.decode_envelope(m[1])["body"].get("re") == msg_id:
                return fabric.decode_envelope(m[1])
        self.fail("no answer on %s" % topic)

    def test_the_provider_keeps_the_newest_key_and_answers_each_with_its_alignment(self):
        """Two attach runs' keys arriving newest first (issue 18): the
        provider keeps the newest (by its attach's SQN), answers it with
        the alignment naming its envelope, answers the older one EEXIST
        without storing it, and a copy of the newest (a resend) with the
        alignment naming the copy."""
        d = self.attached_device(self.acme, self.prov_a)
        dev = os.path.basename(d)
        onboarding.wait_until(lambda: self.ops["op-1"].rows(
            "SELECT 1 FROM subscribers WHERE dev = ? AND %s" % onboarding.OP_KEY_STORED, dev)
            == [(1,)], what="the key confirmed")
        (held, imsi, iccid), = self.prov_a.rows("SELECT sqn, imsi, iccid FROM app_keys"
                                                " WHERE dev = ?", dev)
        self.assertGreater(held, 0)
        inbox, op_inbox = "onr/1/s/prov/prov-a/in", "onr/1/s/op/op-1/in"
        watch = self.onb.broker.watching(self, op_inbox, "watch-key-order")
        rogue = self.onb.broker.speaking_as(self, "operator", "op-1", "op.op-1.keyorder")

        def key(sqn):
            sealed = bytes.fromhex(fabric.run(fabric.TEST_POP, "seal-app-key",
                                              self.prov_a.sealing_pub, dev, "op-1", "prov-a"))
            return {"dev": dev, "kid": sealed[:16], "sealed": sealed[16:], "imsi": imsi,
                    "iccid": iccid, "sqn": sqn}

        def send(body):
            msg_id, env = hostile.signed_envelope(self.ops["op-1"].signing_key, inbox, APP_KEY,
                                                  ROLE_OPERATOR, "op-1", body)
            self.assertTrue(mqtt5.accepted(rogue.publish(inbox, env)))
            return self.answer_on(watch, op_inbox, msg_id)

        newer, older = key(held + 64), key(held + 32)
        answer = send(newer)
        self.assertEqual((answer["type"], answer["sender"], answer["body"]["dev"],
                          answer["body"]["imsi"]), (ALIGNMENT, "prov-a", dev, imsi))
        answer = send(older)
        self.assertEqual((answer["type"], answer["body"]["code"]), (ERROR, EEXIST))
        kept = self.prov_a.rows("SELECT kid, sealed, sqn, received_at FROM app_keys"
                                " WHERE dev = ?", dev)
        self.assertEqual([row[:3] for row in kept], [(newer["kid"], newer["sealed"], held + 64)])
        self.assertEqual(send(newer)["type"], ALIGNMENT)  # the operator resent it
        self.assertEqual(self.prov_a.rows("SELECT kid, sealed, sqn, received_at FROM app_keys"
                                          " WHERE dev = ?", dev), kept)
        self.assertEqual(self.prov_a.rows("SELECT op, sqn FROM key_orders WHERE dev = ?", dev),
                         [("op-1", held + 64)])

    def test_an_alignment_confirms_only_the_key_it_answers(self):
        """The operator's key in flight is confirmed by an alignment whose
        re is its envelope's id, never by one answering another envelope
        (an older key's, before a new attach replaced it), nor by an
        EEXIST answering another."""
        d = self.attached_device(self.acme, self.prov_a)
        dev = os.path.basename(d)
        op = self.ops["op-1"]
        onboarding.wait_until(lambda: op.rows(
            "SELECT 1 FROM subscribers WHERE dev = ? AND %s" % onboarding.OP_KEY_STORED, dev)
            == [(1,)], what="the key confirmed")
        in_flight = op.unconfirm_key(dev, due=False)
        (imsi, iccid), = op.rows("SELECT imsi, iccid FROM subscribers WHERE dev = ?", dev)
        inbox = "onr/1/s/op/op-1/in"
        watch = self.onb.broker.watching(self, "onr/1/s/prov/prov-a/in", "watch-key-answer")
        rogue = self.onb.broker.speaking_as(self, "provider", "prov-a", "prov.prov-a.keyorder")

        def pending():
            return op.rows("SELECT msg_id FROM pending WHERE key = ?", "app_key/" + dev)

        def alignment(re):
            msg_id, env = hostile.signed_envelope(
                self.prov_a.signing_key, inbox, ALIGNMENT, ROLE_PROVIDER, "prov-a",
                {"re": re, "dev": dev, "imsi": imsi, "iccid": iccid, "qos": 5,
                 "charging": "standard", "cap": 0})
            self.assertTrue(mqtt5.accepted(rogue.publish(inbox, env)))
            return self.answer_on(watch, "onr/1/s/prov/prov-a/in", msg_id)

        # a refusal of another envelope, then an alignment answering
        # another (handled in that order: one publisher, one operator):
        # aligned, and the key still waits
        _, env = hostile.signed_envelope(
            self.prov_a.signing_key, inbox, ERROR, ROLE_PROVIDER, "prov-a",
            {"re": os.urandom(16), "code": EEXIST})
        self.assertTrue(mqtt5.accepted(rogue.publish(inbox, env)))
        self.assertEqual(alignment(os.urandom(16))["type"], ALIGNED)
        self.assertEqual(pending(), [(in_flight,)])
        # the one answering it
        self.assertEqual(alignment(in_flight)["type"], ALIGNED)
        onboarding.wait_until(lambda: pending() == [], what="the key confirmed")

    def test_a_device_not_attached_cannot_enroll(self):
        (d,) = self.acme.mint(1)
        self.pair(d, self.prov_a)
        status, text = self.run_device(d, "--until", "PROFILED")
        self.assertEqual(status, 0, text)
        c = self.raw_device(d)
        self.assertEqual(c.publish("onr/1/d/%s/up/prov/prov-a" % os.path.basename(d), b"x"),
                         mqtt5.NOT_AUTHORIZED)
        self.assert_no_certificate(self.prov_a, d)

    def test_an_operational_device_stays_in_its_topics(self):
        d = self.attached_device(self.globex, self.prov_a)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        dev = os.path.basename(d)
        c = self.operational(d, "prov-a")
        self.assertEqual(c.connect(), 0)
        own = "onr/1/p/prov-a/dev/%s/telemetry" % dev
        self.assertTrue(mqtt5.accepted(c.publish(own, b'{"dev":"%s"}' % dev.encode())))
        for topic in ("onr/1/p/prov-a/dev/%s/telemetry" % ("a" * 32),
                      "onr/1/p/prov-b/dev/%s/telemetry" % dev,
                      "onr/1/d/%s/up/prov/prov-a" % dev, "onr/1/s/prov/prov-a/in"):
            self.assertEqual(c.publish(topic, b"x"), mqtt5.NOT_AUTHORIZED, topic)

    def test_released_reset_and_reclaimed_by_another_provider(self):
        d = self.attached_device(self.acme, self.prov_a)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        dev = os.path.basename(d)
        old = self.operational(d, "prov-a")
        self.assertEqual(old.connect(), 0)
        rc, out = self.ctl.release(self.prov_a, dev)
        self.assertEqual(rc, 0, out)
        self.assertIn("released dev=" + dev, out)
        # every side let go
        self.assertEqual(self.acme.rows("SELECT 1 FROM assignments WHERE dev = ?", dev), [])
        self.assertEqual(self.prov_a.rows("SELECT 1 FROM claims WHERE dev = ?", dev), [])
        onboarding.wait_until(lambda: self.ops["op-1"].rows(
            "SELECT %s, %s FROM subscribers WHERE dev = ?" % (
                onboarding.OP_SUSPENDED, onboarding.OP_ATTACHED), dev) == [(1, 0)],
            what="subscription suspended")
        onboarding.wait_until(lambda: self.prov_a.rows(
            "SELECT %s FROM certificates WHERE dev = ?" % onboarding.PROV_REVOKE_CONFIRMED,
            dev) == [(1,)], what="certificate revoked")
        self.assertFalse(old.alive(1.0))
        self.assertEqual(self.operational(d, "prov-a").connect(), mqtt5.NOT_AUTHORIZED)
        # releasing it again: not prov-a's any more
        rc, out = self.ctl.release(self.prov_a, dev)
        self.assertEqual(rc, 1, out)
        self.assertIn("code=ENOENT", out)
        # a factory reset, a new owner with another operator: onboarded again
        reset = subprocess.run([onboarding.program("onramp-device"), "--state", d,
                                "--factory-reset"], capture_output=True, text=True)
        self.assertEqual(reset.returncode, 0, reset.stdout + reset.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "service.key")))
        self.pair(d, self.prov_b, "dave")
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        self.assertIn("state=OPERATIONAL", text)
        self.assertIn("provider=prov-b", text)
        self.assertEqual(self.acme.rows("SELECT provider, operator FROM assignments"
                                        " WHERE dev = ?", dev), [("prov-b", "op-2")])
        self.assertEqual(self.ops["op-2"].rows("SELECT %s FROM subscribers WHERE dev = ?" %
                                               onboarding.OP_ATTACHED, dev), [(1,)])
        self.assertEqual(self.prov_b.rows("SELECT count(*) FROM certificates WHERE dev = ?"
                                          " AND revoked_at IS NULL", dev), [(1,)])
        again = self.operational(d, "prov-b")
        self.assertEqual(again.connect(), 0)

    def test_a_revoked_certificate_is_refused_and_the_claim_stays(self):
        d = self.attached_device(self.globex, self.prov_a)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        dev = os.path.basename(d)
        live = self.operational(d, "prov-a")
        self.assertEqual(live.connect(), 0)
        rc, out = self.ctl.release(self.prov_a, dev, command="revoke")
        self.assertEqual(rc, 0, out)
        serial = self.prov_a.rows("SELECT serial FROM certificates WHERE dev = ?", dev)[0][0]
        self.assertIn("revoked dev=%s serial=" % dev, out)
        self.assertEqual(out.split("serial=")[1].strip().lstrip("0"), serial.hex().lstrip("0"))
        onboarding.wait_until(lambda: self.prov_a.rows(
            "SELECT %s FROM certificates WHERE dev = ?" % onboarding.PROV_REVOKE_CONFIRMED,
            dev) == [(1,)], what="revocation confirmed")
        self.assertFalse(live.alive(1.0))
        self.assertEqual(self.operational(d, "prov-a").connect(), mqtt5.NOT_AUTHORIZED)
        # still claimed by its account; nothing left to revoke
        self.assertEqual(self.prov_a.rows("SELECT %s FROM claims WHERE dev = ?" %
                                          onboarding.PROV_CLAIMED, dev), [(1,)])
        rc, out = self.ctl.release(self.prov_a, dev, command="revoke")
        self.assertEqual(rc, 1, out)
        self.assertIn("code=ENOENT", out)

    def test_a_new_key_revokes_the_old_certificate(self):
        d = self.attached_device(self.acme, self.prov_a)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        old = self.operational(d, "prov-a")
        self.assertEqual(old.connect(), 0)
        # a new service key asks for a certificate: the old one is revoked
        dev = os.path.basename(d)
        key = onboarding.new_key(os.path.join(self.onb.dir, dev + "-new.key"))
        answer = self.enroll_answer(d, {"csr": csr_for(key, dev)})
        self.assertEqual(answer["type"], ENROLL_RESPONSE, answer)
        onboarding.wait_until(lambda: self.prov_a.rows(
            "SELECT %s FROM certificates WHERE dev = ? AND revoked_at IS NOT NULL" %
            onboarding.PROV_REVOKE_CONFIRMED, dev) == [(1,)], what="revocation confirmed")
        self.assertFalse(old.alive(1.0))
        again = self.operational(d, "prov-a")
        self.assertEqual(again.connect(), mqtt5.NOT_AUTHORIZED)


if __name__ == "__main__":
    unittest.main()
