"""Devices fail over between bootstrap brokers (issue 19; onramp-device
--help, "Bootstrap brokers"): two real brokers with the plugin that share
nothing, each with its own name and certificate, and real services
(manufacturer, provider, operator) on one of them, test-broker, as the
services connect to one broker today. Devices list both brokers,
test-broker-2 first.

A device starts at a random broker, so each test makes the other broker
unusable at the moment that matters, and asserts what must hold whichever
broker the device drew first: a broker that is down is passed over, and a
broker killed while the device is mid-journey on it is left for the other,
where the journey goes on from the step it had reached, with a proof bound
to the new broker's name."""

import os
import re
import unittest

import fabric
import onboarding

SECOND = "test-broker-2"


def bootstrap_connects(text):
    """The brokers the device was admitted by, in order: for each
    "connected" of a bootstrap broker, the "connecting" line before it."""
    lines = text.splitlines()
    names = []
    for i, line in enumerate(lines):
        if line.startswith("connected") and "broker=service" not in line:
            m = re.match(r"connecting broker=(\S+) ", lines[i - 1])
            if m is None:
                raise AssertionError("no connecting line before line %d:\n%s" % (i, text))
            names.append(m.group(1))
    return names


class FailoverTest(onboarding.FleetTestCase):

    @classmethod
    def set_up_fleet(cls):
        cls.main = cls.onb.broker
        # the other broker: its own name, certificate, grants and ports
        directory = os.path.join(cls.onb.dir, "broker-2")
        os.makedirs(directory)
        cls.second = cls.onb.track(fabric.Broker(cls.onb.pki, directory, name=SECOND))

    def device(self, args=()):
        """A new device listing both brokers (the second first), paired."""
        state = self.fleet.mint_and_pair(1, brokers=[self.second, self.main])[0]
        with open(os.path.join(state, "device.conf")) as f:
            conf = f.read()
        self.assertIn("broker %s 127.0.0.1 %d\n" % (SECOND, self.second.bootstrap_port), conf)
        self.assertIn("broker %s 127.0.0.1 %d\n" % (fabric.Broker.NAME, self.main.bootstrap_port),
                      conf)
        return self.onb.device(state, args)

    def restart_main(self):
        """test-broker back on its ports, and every service subscribed on
        it again."""
        counts = {svc: svc.process.text().count("subscribed")
                  for svc in (self.fleet.maker, self.fleet.prov, self.fleet.op)}
        self.main.start(attempts=1)
        for svc, n in counts.items():
            svc.process.wait_for("subscribed", timeout=60, count=n + 1)

    def test_a_broker_that_is_down_is_passed_over(self):
        """Both brokers down: the device tries each (the random first, then
        the other); test-broker comes back, test-broker-2 never does, and
        the device onboards through test-broker."""
        dev = self.device()
        self.main.stop()
        dev.process.start()
        for name in (SECOND, fabric.Broker.NAME):
            dev.process.wait_for("cannot connect to %s " % name, timeout=60)
        self.restart_main()
        self.assertEqual(dev.process.exit_status(timeout=180), 0, dev.process.text()[-3000:])
        text = dev.process.text()
        self.assertIn("state=OPERATIONAL", text)
        self.assertEqual(set(bootstrap_connects(text)), {fabric.Broker.NAME}, text[-3000:])
        # each failed attempt moved the device on: never twice in a row to
        # the broker that was down
        tried = re.findall(r"^connecting broker=(\S+) ", text, re.M)
        self.assertGreaterEqual(len(tried), 3, text)
        self.assertFalse([i for i in range(1, len(tried))
                          if tried[i] == SECOND and tried[i - 1] == SECOND], tried)

    def test_the_broker_killed_mid_journey_is_left_for_the_other(self):
        """A device VOUCHED through test-broker, then on test-broker-2
        (test-broker stopped meanwhile) asking for its profile, which no
        operator there answers; test-broker comes back and test-broker-2 is
        killed: the device moves to test-broker and goes on from VOUCHED to
        OPERATIONAL."""
        first = self.device(["--until", "VOUCHED"])
        first.process.start()
        self.assertEqual(first.process.exit_status(timeout=120), 0,
                         first.process.text()[-3000:])
        self.assertEqual(bootstrap_connects(first.process.text())[-1:], [fabric.Broker.NAME])

        self.second.start()
        self.main.stop()
        # a long answer timeout: only the loss of its broker moves it
        run = self.onb.device(first.state, ["--timeout", "120"])
        run.process.start()
        run.process.wait_for("profile operator=op-1", timeout=60)
        self.assertEqual(bootstrap_connects(run.process.text()), [SECOND])
        self.assertIn(first.id, self.second.log_text())  # admitted by test-broker-2

        self.restart_main()
        self.second.kill()
        self.assertEqual(run.process.exit_status(timeout=180), 0, run.process.text()[-3000:])
        text = run.process.text()
        self.assertIn("connection to %s lost" % SECOND, text)
        self.assertEqual(bootstrap_connects(text), [SECOND, fabric.Broker.NAME], text[-3000:])
        self.assertIn("state=OPERATIONAL", text)
        self.assertNotIn("hello manufacturer=", text)  # it went on from VOUCHED


if __name__ == "__main__":
    unittest.main()
