"""Confirmed delivery across a crash (issue 16): a message to a peer that
changes state on its side is recorded with the state change that causes it
and resent until the peer confirms. Each test drops the first delivery (the
sender is killed right after committing, before it publishes: the
fault-injection hook of test builds) and sees the resend arrive:

- the grant revoke an operator sends when its provider releases a device
  (it used to be sent once, and lost with a crash);
- the registration a provider sends its manufacturer for a pairing (it used
  to be lost with a crash, and the user had to pair again);
- the manufacturer's answer to a registration, lost when it dies after its
  commit: the provider's resend is a repeat, answered again without a second
  audit row.

What is checked is what the other side did (the broker's log, onrampctl's
answer), not the sender's bookkeeping. No duration is asserted.
"""

import os
import subprocess
import unittest

import onboarding

RELEASE, PAIRING, REGISTRATION = 28, 15, 13


class DeliveryTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.environ.get("ONR_TEST_HOOKS") != "1":
            raise AssertionError("these tests need the services' fault-injection hook: "
                                 "configure with -DONR_TEST_HOOKS=ON (scripts/test does)")
        cls.onb = onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.prov = onb.provider("prov-a")
            cls.acme = onb.manufacturer("acme", providers=[cls.prov])
            # the provider's default timers: its first resend comes after
            # the test has stopped it (below)
            cls.prov.configure([cls.acme], {"op-1": onb.operator_key("op-1")}, "op-1",
                               [cls.ctl], quick_timers=False)
            onb.track(cls.prov.process)
            cls.op = onb.operator("op-1", [cls.acme], [cls.prov], extra={"resend": 2})
            for svc in (cls.acme, cls.prov, cls.op):
                svc.start()
        except BaseException:
            onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

    def restart(self, service, die_after=None):
        onboarding.restart_armed(service, die_after)

    def provider_resends_quickly(self):
        """From its next start until the test ends, the provider resends
        after 2 s (its default 10 s is waiting, where the test waits for a
        resend); then it runs on its default timers again."""
        argv = self.prov.process.argv
        self.prov.process.argv = argv + ["-o", "resend=2"]

        def default_timers():
            self.prov.process.argv = argv
            self.restart(self.prov)
        self.addCleanup(default_timers)

    def test_a_revoke_lost_in_a_crash_is_sent_again(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        rc, out = self.ctl.pair(self.prov, onboarding.DeviceRun(self.onb, d).label(), "alice")
        self.assertEqual(rc, 0, out)
        run = self.onb.device(d, ["--until", "NETWORK_ATTACHED"])
        run.process.start()
        self.assertEqual(run.process.exit_status(timeout=60), 0, run.process.text())
        onboarding.wait_until(lambda: "onramp: grant device=" + dev in
                              self.onb.broker.log_text(), what="the grant at the broker")
        # the operator commits the release, its revoke with it, and dies
        # before saying anything: the first revoke never leaves
        self.restart(self.op, die_after=RELEASE)
        rc, out = self.ctl.release(self.prov, dev)
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.op.process.exit_status(timeout=60), -9)
        self.assertIn("dying after commit", self.op.process.text())
        # the provider would send its release again (and the operator
        # revoke again in answer): stopped, the operator's own resend is
        # all there is
        self.prov.process.stop()
        try:
            self.assertNotIn("onramp: revoke device=" + dev, self.onb.broker.log_text())
            # back up: the revoke is sent again, and the broker revokes
            self.restart(self.op)
            onboarding.wait_until(lambda: "onramp: revoke device=" + dev in
                                  self.onb.broker.log_text(), timeout=60,
                                  what="the revoke at the broker")
        finally:
            self.prov.start()

    def test_a_registration_lost_in_a_crash_is_sent_again(self):
        (d,) = self.acme.mint(1)
        label = onboarding.DeviceRun(self.onb, d).label()
        # the provider commits the claim, its registration with it, and
        # dies before sending it
        self.provider_resends_quickly()
        self.restart(self.prov, die_after=PAIRING)
        pair = subprocess.Popen(self.ctl._pair_argv(self.prov, label, "alice", None, 60),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            self.assertEqual(self.prov.process.exit_status(timeout=60), -9)
            self.assertIn("dying after commit", self.prov.process.text())
            # back up: the registration is sent again, the manufacturer
            # registers the device, and the pairing still waiting is answered
            self.restart(self.prov)
            out, _ = pair.communicate(timeout=90)
        finally:
            if pair.poll() is None:
                pair.kill()
                pair.wait()
        self.assertEqual(pair.returncode, 0, out)
        self.assertIn("paired dev=" + os.path.basename(d), out)
        self.assertEqual(self.acme.rows("SELECT provider FROM assignments WHERE dev = ?",
                                        os.path.basename(d)), [("prov-a",)])

    def test_a_registration_answer_lost_in_a_crash_is_asked_again(self):
        (d,) = self.acme.mint(1)
        dev = os.path.basename(d)
        label = onboarding.DeviceRun(self.onb, d).label()
        self.provider_resends_quickly()
        self.restart(self.prov)
        # the manufacturer commits the assignment and dies before answering
        self.restart(self.acme, die_after=REGISTRATION)
        pair = subprocess.Popen(self.ctl._pair_argv(self.prov, label, "alice", None, 90),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            self.assertEqual(self.acme.process.exit_status(timeout=60), -9)
            self.assertIn("dying after commit", self.acme.process.text())
            self.assertEqual(self.acme.rows("SELECT provider FROM assignments WHERE dev = ?",
                                            dev), [("prov-a",)])
            # back up: the provider's resend repeats the registration, and
            # its answer ends the pairing still waiting
            self.restart(self.acme)
            out, _ = pair.communicate(timeout=120)
        finally:
            if pair.poll() is None:
                pair.kill()
                pair.wait()
        self.assertEqual(pair.returncode, 0, out)
        self.assertIn("paired dev=" + dev, out)
        self.assertIn("(a repeat)", self.acme.process.text())
        # one decision, one audit row
        self.assertEqual(self.acme.rows("SELECT provider, result FROM claim_audit WHERE dev = ?",
                                        dev), [("prov-a", "assigned")])


if __name__ == "__main__":
    unittest.main()
