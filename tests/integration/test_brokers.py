"""Services on several brokers (issue 19; README "Several brokers"): three
real bootstrap brokers with the plugin that share nothing, each with its
own name, certificate, grants journal and region, and real services
(manufacturer, provider, operator) connected to all three. Devices list
the three brokers and start at a random one.

What a user relies on: a device is served whichever broker it is on; its
grant reaches every broker (so a device that moves to another broker keeps
its network access); a broker restored with an empty disk (a new epoch)
gets every grant back with no manual step; a broker that is down stops
nobody, and gets what it missed when it is back; the manufacturer knows
the country of the broker a hello came through."""

import os
import unittest

import fabric
import onboarding
from test_failover import bootstrap_connects

REGIONS = {fabric.Broker.NAME: "208", "test-broker-2": "262", "test-broker-3": "310"}


class BrokersTest(onboarding.FleetTestCase):

    brokers = 3
    regions = REGIONS

    def broker(self, name):
        return next(b for b in self.onb.brokers if b.NAME == name)

    @staticmethod
    def grants(broker):
        try:
            with open(broker.grants) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_granted(self, dev, brokers, timeout=60):
        line = "grant %s prov-a op-1\n" % dev
        for b in brokers:
            onboarding.wait_until(lambda b=b: line in self.grants(b), timeout=timeout,
                                  what="%s's grant in %s's journal" % (dev, b.NAME))

    def services(self):
        return (self.fleet.maker, self.fleet.prov, self.fleet.op)

    def restart(self, broker, before):
        """`broker` started again; every service subscribed on it again
        (`before`: their counts of its subscribed lines before it went)."""
        broker.start(attempts=1)
        for svc in self.services():
            onboarding.wait_until(
                lambda svc=svc: svc.process.text().count("broker=%s\n" % broker.NAME) >
                before[svc], timeout=90, what="%s subscribed on %s again" % (
                    svc.process.name, broker.NAME))

    def subscribed_counts(self, broker):
        return {svc: svc.process.text().count("broker=%s\n" % broker.NAME)
                for svc in self.services()}

    def onboard(self):
        """A new device, onboarded: (its id, its run)."""
        state = self.fleet.mint_and_pair(1)[0]
        with open(os.path.join(state, "device.conf")) as f:
            conf = f.read()
        for b in self.onb.brokers:
            self.assertIn("broker %s 127.0.0.1 %d\n" % (b.NAME, b.bootstrap_port), conf)
        dev = self.onb.device(state)
        dev.process.start()
        self.assertEqual(dev.process.exit_status(timeout=180), 0, dev.process.text()[-3000:])
        self.assertIn("state=OPERATIONAL", dev.process.text())
        return os.path.basename(state), dev

    def test_a_grant_reaches_every_broker(self):
        """Onboarded through whichever broker it drew, the device's grant is
        in every broker's journal, each confirmed to the operator; the
        manufacturer took the country of the broker the hello came
        through (the device reports no visited network)."""
        dev, run = self.onboard()
        self.wait_granted(dev, self.onb.brokers)
        onboarding.wait_until(lambda: self.fleet.op.rows(
            "SELECT count(*) FROM pending WHERE key = ?", "grant/" + dev) == [(0,)],
            what="the grant confirmed by every broker")
        last = bootstrap_connects(run.process.text())[-1]
        voucher = [line for line in self.fleet.maker.process.text().splitlines()
                   if line.find("voucher dev=%s " % dev) >= 0]
        self.assertTrue(voucher, self.fleet.maker.process.text()[-2000:])
        self.assertIn("from=broker", voucher[-1])
        self.assertIn("country=%s" % REGIONS[last], voucher[-1])

    def test_a_released_devices_revoke_leaves_what_is_in_force(self):
        """A device released: its grant is revoked at every broker; once
        each has confirmed it, the revoke is no longer in force at the
        operator (a broker brought up to date later is not sent it), while
        its certificate's revocation is in force at the provider (until a
        day past its notAfter)."""
        dev, _ = self.onboard()
        self.wait_granted(dev, self.onb.brokers)
        rc, out = self.fleet.ctl.release(self.fleet.prov, dev)
        self.assertEqual(rc, 0, out)
        key = "grant/" + dev
        onboarding.wait_until(lambda: self.fleet.op.rows(
            "SELECT count(*) FROM pending WHERE key = ?", key) == [(0,)], timeout=60,
            what="the revoke confirmed by every broker")
        self.assertEqual(self.fleet.op.rows("SELECT count(*) FROM in_force WHERE key = ?", key),
                         [(0,)])
        self.assertTrue(self.fleet.prov.rows(
            "SELECT count(*) FROM in_force WHERE kind = 'cert_revoke'")[0][0] >= 1)
        # its certificate's revocation went to every broker and ended at
        # each: confirmed by the first (its service broker, the one with
        # prov-a's CA), refused EDENIED by the others (no certificate of
        # prov-a's there), never resent to them for ever
        keys = ["cert/" + bytes(s).hex() for (s,) in self.fleet.prov.rows(
            "SELECT serial FROM certificates WHERE dev = ?", dev)]
        self.assertEqual(len(keys), 1)
        onboarding.wait_until(lambda: self.fleet.prov.rows(
            "SELECT count(*) FROM pending WHERE key = ?", keys[0]) == [(0,)], timeout=60,
            what="the certificate's revocation ended at every broker")

    def test_a_hello_kept_for_a_later_voucher_keeps_its_brokers_country(self):
        """A device says hello before its provider registered it: the hello
        waits, with the country of the broker it came through, and the
        voucher pushed when the registration arrives takes that country
        (the device reports no visited network)."""
        (state,) = self.fleet.maker.mint(1)
        dev = os.path.basename(state)
        run = self.onb.device(state, ("--until", "VOUCHED"))
        run.process.start()
        onboarding.wait_until(lambda: self.fleet.maker.rows(
            "SELECT 1 FROM waiting WHERE dev = ?", dev), timeout=60, what="the hello waiting")
        run.process.kill()  # the hello it said is the one that waits
        last = bootstrap_connects(run.process.text())[-1]
        rc, out = self.fleet.ctl.pair(self.fleet.prov, onboarding.DeviceRun(self.onb, state)
                                      .label(), "fleet")
        self.assertEqual(rc, 0, out)
        self.fleet.maker.process.wait_for("voucher dev=%s " % dev, timeout=60)
        voucher = [line for line in self.fleet.maker.process.text().splitlines()
                   if "voucher dev=%s " % dev in line]
        self.assertIn("country=%s from=broker" % REGIONS[last], voucher[-1])

    def test_a_broker_restored_with_an_empty_journal_gets_the_grants_back(self):
        """test-broker-3 loses its disk: started again with no grants
        journal, it has a new epoch, and the operator sends it every grant
        in force again, with no manual step."""
        dev, _ = self.onboard()
        third = self.broker("test-broker-3")
        self.wait_granted(dev, [third])
        before = self.subscribed_counts(third)
        third.stop()
        os.remove(third.grants)
        self.restart(third, before)
        self.wait_granted(dev, [third])
        self.fleet.op.process.wait_for("broker=test-broker-3 brought up to date", timeout=30)

    def test_a_service_keeps_serving_when_a_broker_is_down(self):
        """test-broker-2 is killed: devices are still onboarded (through the
        other brokers), their grants on the two live brokers; back, it
        gets the grants it missed."""
        second = self.broker("test-broker-2")
        before = self.subscribed_counts(second)
        second.kill()
        try:
            dev, _ = self.onboard()
            self.wait_granted(dev, [b for b in self.onb.brokers if b is not second])
            self.assertNotIn(dev, self.grants(second))
        finally:
            self.restart(second, before)
        self.wait_granted(dev, [second])


if __name__ == "__main__":
    unittest.main()
