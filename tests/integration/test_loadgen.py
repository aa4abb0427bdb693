"""onramp-loadgen as a correctness test (issue 8): a fleet of devices,
powered on at once in one process, all reach OPERATIONAL on a real fabric
with no failure, and the services' records agree, one subscription and one
certificate per device. No duration is asserted: the figures the loadgen
prints are for scripts/bench.
"""

import os
import re
import subprocess
import time
import unittest

import onboarding

DEVICES = int(os.environ.get("ONR_TEST_LOADGEN_DEVICES", "50"))


class LoadgenTest(onboarding.FleetTestCase):

    @classmethod
    def set_up_fleet(cls):
        cls.dirs = cls.fleet.mint_and_pair(DEVICES)

    def run_loadgen(self, *extra):
        proc = subprocess.run(self.fleet.loadgen_argv(self.dirs, *extra), capture_output=True,
                              text=True, timeout=300)
        return proc.returncode, proc.stdout, proc.stderr

    def journeys(self):
        return onboarding.Fleet.journeys(self.dirs)

    def test_1_fleet_onboards_at_once(self):
        rc, out, err = self.run_loadgen("--floor-us", "2000")
        self.assertEqual(rc, 0, out + err)
        r = onboarding.loadgen_result(out)
        self.assertEqual((r["planned"], r["powered"], r["completed"], r["failed"],
                          r["unfinished"]), (str(DEVICES),) * 3 + ("0", "0"), out)
        # every device's own record says so
        self.assertEqual(set(self.journeys().values()), {"OPERATIONAL"})
        # one subscription per device, distinct numbers; one certificate each
        subs = self.fleet.op.rows("SELECT dev, imsi, iccid, %s, aligned_at "
                                  "FROM subscribers" % onboarding.OP_ATTACHED)
        self.assertEqual(sorted(s[0] for s in subs), sorted(self.journeys()))
        self.assertEqual(len({s[1] for s in subs}), DEVICES)
        self.assertEqual(len({s[2] for s in subs}), DEVICES)
        self.assertTrue(all(s[3] == 1 and s[4] is not None for s in subs), subs)
        certs = self.fleet.prov.rows("SELECT dev FROM certificates WHERE revoked_at IS NULL")
        self.assertEqual(sorted(c[0] for c in certs), sorted(self.journeys()))
        # the table has every step, the servers' CPU and the floor ratio
        for label in ("power on -> VOUCHED", "ENROLLED -> OPERATIONAL",
                      "journey, power on -> OPERATIONAL", "broker (pid", "operator (pid",
                      "servers / floor"):
            self.assertIn(label, out)
        self.assertRegex(out, r"journey, power on -> OPERATIONAL(\s+[0-9.]+){4}\s+%d\n"
                         % DEVICES)
        self.assertGreater(float(r["server_us"]), 0)

    def test_2_operational_fleet_reconnects_without_onboarding_again(self):
        """A second run finds them OPERATIONAL: each reconnects to its
        service broker and is done; the services allocate nothing new."""
        before = self.fleet.op.rows("SELECT count(*) FROM subscribers")[0][0]
        certs = self.fleet.prov.rows("SELECT count(*) FROM certificates")[0][0]
        rc, out, err = self.run_loadgen("--concurrency", "10")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(onboarding.loadgen_result(out)["completed"], str(DEVICES))
        # no device started from FACTORY: the journey row is empty
        self.assertRegex(out, r"journey, power on -> OPERATIONAL\s+(-\s+){4}0\n")
        self.assertEqual(self.fleet.op.rows("SELECT count(*) FROM subscribers")[0][0], before)
        self.assertEqual(self.fleet.prov.rows("SELECT count(*) FROM certificates")[0][0], certs)

    def test_3_failures_are_counted_by_reason(self):
        """A device whose state directory is unusable fails with its error
        and the run's exit status says so."""
        broken = os.path.join(os.path.dirname(self.dirs[0]), "0-broken")
        os.makedirs(broken)
        with open(os.path.join(broken, "device.conf"), "w") as f:
            f.write("not a device\n")
        try:
            proc = subprocess.run(self.fleet.loadgen_argv(self.dirs, "--count", "3"),
                                  capture_output=True, text=True, timeout=120)
        finally:
            os.remove(os.path.join(broken, "device.conf"))
            os.rmdir(broken)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        r = onboarding.loadgen_result(proc.stdout)
        self.assertEqual((r["powered"], r["completed"], r["failed"]), ("3", "2", "1"))
        self.assertTrue(re.search(r"failed\s+1\s+\(E[A-Z]+ 1\)", proc.stdout), proc.stdout)

    def test_5_requests_expire_when_their_device_stops_waiting(self):
        """A device's request carries its answer timeout as MQTT message
        expiry: a manufacturer that comes back after the device gave up
        never handles the stale hello queued in its session; the device's
        next run is answered at once."""
        dev_dir = self.fleet.mint_and_pair(1, out=os.path.join(self.onb.dir, "late"))[0]
        dev = os.path.basename(dev_dir)
        maker = self.fleet.maker
        maker.process.stop()
        try:
            run = subprocess.run([onboarding.program("onramp-device"), "--state", dev_dir,
                                  "--until", "VOUCHED", "--timeout", "1",
                                  "--max-attempts", "1"],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
            self.assertIn("hello manufacturer=acme", run.stdout)
            time.sleep(2.5)  # the hello's 1 s expiry passes in the broker
        finally:
            maker.start()
        time.sleep(2)
        self.assertNotIn("voucher dev=" + dev, maker.process.text())
        run = subprocess.run([onboarding.program("onramp-device"), "--state", dev_dir,
                              "--until", "VOUCHED"], capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        maker.process.wait_for("voucher dev=" + dev)

    def test_4_usage_errors(self):
        loadgen = onboarding.program("onramp-loadgen")
        for argv in ([], ["--fleet", "/nonexistent"], ["--fleet", self.onb.dir, "--rate", "-1"],
                     ["--fleet", self.onb.dir, "--server", "broker"]):
            proc = subprocess.run([loadgen] + argv, capture_output=True, text=True)
            self.assertEqual(proc.returncode, 2, (argv, proc.stdout, proc.stderr))
            self.assertIn("onramp-loadgen:", proc.stderr)


if __name__ == "__main__":
    unittest.main()
