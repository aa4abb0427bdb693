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
subscriptions are granted, the brokers' counters heard by each.

Runs as integration.instances_pg (instances share a PostgreSQL database).
"""

import os
import re
import subprocess
import time
import unittest

import onboarding
import postgres

DEVICES = 16
EXPIRY = 2  # seconds: session_expiry of every service here


class DeadInstanceTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if postgres.store() != "postgres":
            raise RuntimeError("several instances share a PostgreSQL database: "
                               "run with ONR_TEST_STORE=postgres (integration.instances_pg)")
        cls.onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.fleet = onboarding.Fleet(cls.onb, instances=2,
                                         options=("session_expiry=%d" % EXPIRY,))
        except BaseException:
            cls.onb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()

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
        the provider's instances (which send to brokers) each learned the
        broker's epoch."""
        fleet = self.fleet
        for svc in (fleet.maker, fleet.prov, fleet.op):
            for p in svc.instances:
                text = p.wait_for("subscribed filters=", timeout=60)
                self.assertNotIn("subscription refused", text, p.name)
        for svc in (fleet.prov, fleet.op):
            for p in svc.instances:
                p.wait_for("is new: it is sent everything in force", timeout=60)

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


if __name__ == "__main__":
    unittest.main()
