"""First contact (issue 4): factory, pairing, the manufacturer's voucher and
the device's persistent journey, on a real mosquitto with the onramp plugin
and the real services and programs.

Cast: manufacturers acme and globex; providers prov-1 (both work with it),
prov-2 (acme works with it too) and prov-x (unknown to acme); onrampctl as
control tool "admin".
"""

import base64
import hashlib
import os
import time
import unittest

import fabric
import mqtt5
import onboarding

HELLO, VOUCHER, PENDING, ERROR = 1, 2, 3, 4
ESTALE = 42


def with_claim(label, claim):
    """The label with another claim secret and a correct check (SPEC 12):
    what a user mistyping nothing but holding the wrong secret would send."""
    text = ":".join(label.split(":")[:3] + [claim])
    digest = hashlib.sha256(b"onramp/1 label\x00" + text.upper().encode()).digest()
    return text + ":" + base64.b32encode(digest).decode()[:4]


class FirstContactTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding()
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.prov1, cls.prov2, cls.provx = (onb.provider("prov-1"), onb.provider("prov-2"),
                                               onb.provider("prov-x"))
            cls.acme = onb.manufacturer("acme", providers=[cls.prov1, cls.prov2],
                                        extra={"retry_after": 2, "freshness": 10,
                                               "log_level": "info"})
            cls.globex = onb.manufacturer("globex", providers=[cls.prov1])
            operators = {"op-1": onb.operator_key("op-1"), "op-2": onb.operator_key("op-2")}
            for prov in (cls.prov1, cls.prov2, cls.provx):
                prov.configure([cls.acme, cls.globex], operators, "op-1", [cls.ctl])
                onb.track(prov.process)
            for svc in (cls.acme, cls.globex, cls.prov1, cls.prov2, cls.provx):
                svc.start()
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    # -- helpers --

    def pair(self, state_dir, prov=None, account="alice", label=None, expect=0, operator=None):
        run = onboarding.DeviceRun(self.onb, state_dir)
        rc, out = self.ctl.pair(prov or self.prov1, label or run.label(), account,
                                operator=operator)
        self.assertEqual(rc, expect, out)
        return out

    def power_on(self, state_dir, *args):
        """Run the device through first contact only (no operator here)."""
        d = self.onb.device(state_dir, ("--until", "VOUCHED") + args)
        d.process.start()
        return d

    def assignment(self, mfr, dev):
        return mfr.rows("SELECT provider, operator FROM assignments WHERE dev = ?", dev)

    def audit(self, mfr, dev):
        return mfr.rows("SELECT provider, result FROM claim_audit WHERE dev = ? ORDER BY id",
                        dev)

    def raw_device(self, state_dir):
        c = self.onb.raw_device(state_dir)
        self.addCleanup(c.disconnect)
        return c

    def hello(self, state_dir, key=None, timestamp=None):
        dev = os.path.basename(state_dir)
        args = [fabric.TEST_POP, "hello", key or os.path.join(state_dir, "identity.key"),
                "acme", dev]
        if timestamp is not None:
            args.append(str(timestamp))
        return bytes.fromhex(fabric.run(*args).strip())

    # -- the acceptance journey --

    def test_paired_devices_get_vouchers_the_others_wait_until_paired(self):
        devices = self.acme.mint(3) + self.globex.mint(2)
        paired, unpaired = [devices[0], devices[1], devices[3]], [devices[2], devices[4]]
        for d in paired:
            self.assertIn("paired dev=" + os.path.basename(d), self.pair(d))
        runs = {d: self.power_on(d) for d in devices}
        for d in paired:
            runs[d].process.wait_for("state=VOUCHED", timeout=30)
        for d in unpaired:
            runs[d].process.wait_for("pending", timeout=30)
            self.assertNotIn("state=VOUCHED", runs[d].process.text())
        # the voucher names the provider and the operator chosen at pairing
        text = runs[devices[0]].process.text()
        self.assertIn("provider=prov-1", text)
        self.assertIn("operator=op-1", text)
        # pairing a waiting device pushes its voucher: no restart
        pid = runs[unpaired[0]].process.proc.pid
        self.pair(unpaired[0], operator="op-2")
        runs[unpaired[0]].process.wait_for("state=VOUCHED", timeout=30)
        self.assertEqual(runs[unpaired[0]].process.proc.pid, pid)
        self.assertIn("operator=op-2", runs[unpaired[0]].process.text())
        # the one never paired is still waiting
        self.assertNotIn("state=VOUCHED", runs[unpaired[1]].process.text())
        for d in devices:
            if d != unpaired[1]:
                self.assertEqual(runs[d].process.exit_status(), 0, runs[d].process.text())
        # every state change is in the registries
        self.assertEqual(self.assignment(self.acme, os.path.basename(devices[0])),
                         [("prov-1", "op-1")])
        self.assertEqual(self.assignment(self.globex, os.path.basename(devices[3])),
                         [("prov-1", "op-1")])
        self.assertEqual(self.assignment(self.acme, os.path.basename(unpaired[0])),
                         [("prov-1", "op-2")])

    def test_pairing_twice_with_the_same_account_is_the_same_claim(self):
        (d,) = self.acme.mint(1)
        first = self.pair(d)
        self.assertEqual(self.pair(d), first)
        self.assertEqual(len(self.audit(self.acme, os.path.basename(d))), 1)

    # -- refused, each with a clear error and no state change --

    def test_wrong_claim_secret_is_refused(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        label = onboarding.DeviceRun(self.onb, d).label()
        wrong = with_claim(label, "A" * 20 if label.split(":")[3] != "A" * 20 else "B" * 20)
        out = self.pair(d, label=wrong, expect=1)
        self.assertIn("refused code=EDENIED", out)
        self.assertEqual(self.assignment(self.acme, dev), [])
        self.assertEqual(self.prov1.rows("SELECT * FROM claims WHERE dev = ?", dev), [])
        self.assertEqual(self.audit(self.acme, dev), [("prov-1", "wrong claim secret")])
        # the right secret still works afterwards
        self.pair(d)

    def test_label_with_a_typo_is_refused_by_the_provider(self):
        (d,) = self.acme.mint(1)
        label = onboarding.DeviceRun(self.onb, d).label()
        typo = label[:-1] + ("A" if label[-1] != "A" else "B")
        out = self.pair(d, label=typo, expect=1)
        self.assertIn("refused code=EBADMAC", out)
        self.assertEqual(self.audit(self.acme, os.path.basename(d)), [])

    def test_provider_unknown_to_the_manufacturer_is_refused(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        out = self.pair(d, prov=self.provx, expect=1)
        self.assertIn("refused code=EDENIED", out)
        self.assertEqual(self.assignment(self.acme, dev), [])
        self.assertEqual(self.provx.rows("SELECT * FROM claims WHERE dev = ?", dev), [])
        self.assertEqual(self.audit(self.acme, dev), [("prov-x", "unknown provider")])

    def test_second_provider_cannot_claim_an_owned_device(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        self.pair(d, prov=self.prov1)
        out = self.pair(d, prov=self.prov2, account="mallory", expect=1)
        self.assertIn("refused code=EDENIED", out)
        self.assertEqual(self.assignment(self.acme, dev), [("prov-1", "op-1")])
        self.assertEqual(self.prov2.rows("SELECT * FROM claims WHERE dev = ?", dev), [])
        self.assertEqual(self.audit(self.acme, dev), [("prov-1", "assigned"),
                                                      ("prov-2", "owned by another provider")])

    def test_another_account_cannot_claim_a_claimed_device(self):
        (d,) = self.acme.mint(1)
        self.pair(d, account="alice")
        out = self.pair(d, account="mallory", expect=1)
        self.assertIn("refused code=EEXIST", out)
        self.assertEqual(self.prov1.rows("SELECT account FROM claims WHERE dev = ?",
                                         os.path.basename(d)), [("alice",)])

    def test_hello_signed_by_another_key_gets_no_answer(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        other = os.path.join(self.onb.dir, "other-%s.key" % dev[:8])
        fabric.run(fabric.TEST_POP, "new-key", other)
        c = self.raw_device(d)
        try:
            self.assertEqual(c.publish("onr/1/d/%s/up/mfr/acme" % dev, self.hello(d, other)), 0)
            self.acme.process.wait_for("refused type=hello", timeout=10)
            self.assertIsNone(c.wait_message("onr/1/d/%s/down" % dev, 1.0))
        finally:
            c.disconnect()
        self.assertEqual(self.acme.rows("SELECT * FROM waiting WHERE dev = ?", dev), [])

    def test_replayed_hello_changes_nothing(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        down = "onr/1/d/%s/down" % dev
        c = self.raw_device(d)
        try:
            hello = self.hello(d)
            c.publish("onr/1/d/%s/up/mfr/acme" % dev, hello)
            first = c.wait_message(down, 10)
            self.assertIsNotNone(first)
            self.assertEqual(fabric.decode_envelope(first[1])["type"], PENDING)
            waiting = self.acme.rows("SELECT nonce, hello_id, at FROM waiting WHERE dev = ?", dev)
            # The same bytes again, as a duplicate delivery or a replay in
            # the freshness window looks: the stored answer, byte for byte.
            c.publish("onr/1/d/%s/up/mfr/acme" % dev, hello)
            again = c.wait_message(down, 10)
            self.assertEqual(again[1], first[1])
            # Replayed later (outside the window): a clear error, nothing kept.
            stale = self.hello(d, timestamp=int(time.time()) - 3600)
            c.publish("onr/1/d/%s/up/mfr/acme" % dev, stale)
            err = c.wait_message(down, 10)
            body = fabric.decode_envelope(err[1])
            self.assertEqual(body["type"], ERROR)
            self.assertEqual(body["body"]["code"], ESTALE)
        finally:
            c.disconnect()
        self.assertEqual(self.acme.rows("SELECT nonce, hello_id, at FROM waiting WHERE dev = ?",
                                        dev), waiting)

    def _voucher_for(self, state_dir):
        """A real voucher message for the device, as a monitor sees it."""
        dev = os.path.basename(state_dir)
        monitor = self.onb.broker.service("monitor", "watch-" + dev[:6])
        try:
            monitor.subscribe("onr/1/d/%s/down" % dev)
            self.pair(state_dir)
            run = self.power_on(state_dir)
            run.process.wait_for("state=VOUCHED", timeout=30)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                for topic, payload, _ in monitor.collect(0.2):
                    if fabric.decode_envelope(payload)["type"] == VOUCHER:
                        return payload
            self.fail("no voucher seen")
        finally:
            monitor.disconnect()

    def _feed(self, state_dir, payload):
        """Publish `payload` to the device's down topic as a service could."""
        svc = self.onb.broker.service("manufacturer", "acme", client_id="mfr.acme.test")
        try:
            self.assertEqual(svc.publish("onr/1/d/%s/down" % os.path.basename(state_dir),
                                         payload), 0)
        finally:
            svc.disconnect()

    def test_device_refuses_a_voucher_for_another_device(self):
        a, b = self.acme.mint(2)
        voucher = self._voucher_for(a)
        run = self.power_on(b)
        run.process.wait_for("pending", timeout=30)
        self._feed(b, voucher)
        run.process.wait_for("refused", timeout=10)
        self.assertNotIn("state=VOUCHED", run.process.text())
        # its own voucher, once paired, is taken
        self.pair(b)
        run.process.wait_for("state=VOUCHED", timeout=30)

    def test_device_refuses_a_tampered_voucher(self):
        a, b = self.acme.mint(2)
        voucher = bytearray(self._voucher_for(a))
        run = self.power_on(b)
        run.process.wait_for("pending", timeout=30)
        voucher[len(voucher) // 2] ^= 0x01
        self._feed(b, bytes(voucher))
        run.process.wait_for("refused", timeout=10)
        self.assertNotIn("state=VOUCHED", run.process.text())

    # -- power cuts --

    def test_device_killed_in_each_state_resumes(self):
        (d,) = self.acme.mint(1)
        # killed at once (factory state, maybe mid-connect)
        run = self.power_on(d)
        time.sleep(0.05)
        run.process.kill()
        # killed while pending
        run = self.power_on(d)
        run.process.wait_for("pending", timeout=30)
        run.process.kill()
        # paired while off; the restarted device asks again and gets it
        self.pair(d)
        run = self.power_on(d)
        run.process.wait_for("state=VOUCHED", timeout=30)
        run.process.kill()
        # a vouched device resumes vouched and says no hello again
        hellos = self.acme.process.text().count("dev=" + os.path.basename(d))
        run = self.power_on(d)
        run.process.wait_for("state=VOUCHED", timeout=30)
        self.assertEqual(run.process.exit_status(), 0)
        time.sleep(0.3)
        self.assertEqual(self.acme.process.text().count("dev=" + os.path.basename(d)), hellos)


if __name__ == "__main__":
    unittest.main()
