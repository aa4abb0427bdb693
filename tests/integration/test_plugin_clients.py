"""The fabric driven with the clients a new user reaches for: paho-mqtt for a
device (a stock MQTT v5 library can send the proof in CONNECT),
mosquitto_pub/mosquitto_sub for services and monitors, and onrampctl stats
for the counters."""

import json
import os
import ssl
import subprocess
import threading
import time
import unittest

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import fabric

ONRAMPCTL = os.environ.get("ONR_ONRAMPCTL", "")


class StockClientsTest(fabric.FabricTestCase):

    def tls_args(self, role, svc):
        cert, key = self.pki.client(role, svc)
        return ["-h", "127.0.0.1", "-p", str(self.broker.services_port), "--cafile",
                self.pki.ca[0], "--cert", cert, "--key", key, "-V", "mqttv5"]

    def paho_device(self, dev, proof=None):
        """A paho MQTT v5 client for `dev`, connected with a proof; returns
        (client, connack reason code, received messages)."""
        received = []
        connected = threading.Event()
        result = {}
        client = paho.Client(client_id=dev.id, protocol=paho.MQTTv5)
        client.tls_set_context(ssl.create_default_context(cafile=self.pki.ca[0]))

        def on_connect(c, userdata, flags, reason, properties):
            result["rc"] = reason.value if hasattr(reason, "value") else int(reason)
            connected.set()

        def on_disconnect(c, userdata, reason, properties=None):
            result.setdefault("rc", reason.value if hasattr(reason, "value") else int(reason))
            connected.set()

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = lambda c, u, m: received.append((m.topic, m.payload))
        props = Properties(PacketTypes.CONNECT)
        props.AuthenticationMethod = "onramp-pop-v1"
        props.AuthenticationData = proof if proof is not None else dev.proof(self.broker.NAME)
        client.connect("127.0.0.1", self.broker.bootstrap_port, properties=props)
        client.loop_start()
        self.assertTrue(connected.wait(10), "no CONNACK")
        return client, result["rc"], received

    def test_paho_device_and_mosquitto_pub_service(self):
        dev = self.fabric.device()
        client, rc, received = self.paho_device(dev)
        try:
            self.assertEqual(rc, 0, self.broker.log_tail())
            subscribed = threading.Event()
            client.on_subscribe = lambda *args: subscribed.set()
            client.subscribe(dev.down, qos=1)
            self.assertTrue(subscribed.wait(5))
            out = subprocess.run(["mosquitto_pub", *self.tls_args("operator", "op-1"),
                                  "-i", "op.op-1", "-q", "1", "-t", dev.down, "-m", "hello"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            deadline = time.monotonic() + 5
            while not received and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(received, [(dev.down, b"hello")])
        finally:
            client.loop_stop()
            client.disconnect()

    def test_paho_device_with_replayed_proof_is_refused(self):
        dev = self.fabric.device()
        proof = dev.proof(self.broker.NAME)
        first, rc, _ = self.paho_device(dev, proof)
        first.loop_stop()
        first.disconnect()
        self.assertEqual(rc, 0)
        again, rc, _ = self.paho_device(dev, proof)
        again.loop_stop()
        self.assertEqual(rc, 135)

    def test_mosquitto_sub_monitor_sees_device_messages(self):
        dev = self.fabric.device()
        sub = subprocess.Popen(["mosquitto_sub", *self.tls_args("monitor", "noc"),
                                "-i", "monitor.noc", "-t", "onr/1/d/+/up/#", "-C", "1",
                                "-W", "20", "-v"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)  # let the subscription land
            c = dev.connect(self.broker)
            try:
                self.assertEqual(c.connack, 0)
                c.publish(dev.up("mfr", "acme"), b"hello-from-device")
            finally:
                c.disconnect()
            out, err = sub.communicate(timeout=20)
        finally:
            sub.kill()
        self.assertEqual(sub.returncode, 0, err)
        self.assertEqual(out.strip(), "%s hello-from-device" % dev.up("mfr", "acme"))

    def test_mosquitto_pub_without_proof_is_refused(self):
        out = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p",
                              str(self.broker.bootstrap_port), "--cafile", self.pki.ca[0],
                              "-V", "mqttv5", "-i", self.fabric.device().id, "-u", "device",
                              "-P", "password", "-t", "onr/1/x", "-m", "hi"],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("not authorized", (out.stdout + out.stderr).lower())

    def test_onrampctl_stats_prints_the_counters(self):
        cert, key = self.pki.client("monitor", "noc")
        base = [ONRAMPCTL, "stats", "--host", "127.0.0.1", "--port",
                str(self.broker.services_port), "--cafile", self.pki.ca[0], "--cert", cert,
                "--key", key]
        table = subprocess.run(base, capture_output=True, text=True, timeout=30)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("broker %s" % self.broker.NAME, table.stdout)
        self.assertRegex(table.stdout, r"\n  connects +\d+\n")
        epoch = self.counters.read()["epoch"].hex()  # the grants journal's, in hex
        self.assertIn("\n  epoch              %s\n" % epoch, table.stdout)
        line = subprocess.run(base + ["--json"], capture_output=True, text=True, timeout=30)
        self.assertEqual(line.returncode, 0, line.stderr)
        stats = json.loads(line.stdout)
        self.assertEqual(stats["broker"], self.broker.NAME)
        self.assertEqual(stats["epoch"], epoch)
        for name in ("connects", "pop_bad_sig", "denied_publish", "grants", "devices"):
            self.assertIsInstance(stats[name], int)
        # a certificate the broker refuses: exit status 1, and why
        foreign = self.pki.client("monitor", "noc", foreign=True)
        refused = subprocess.run([ONRAMPCTL, "stats", "--host", "127.0.0.1", "--port",
                                  str(self.broker.services_port), "--cafile", self.pki.ca[0],
                                  "--cert", foreign[0], "--key", foreign[1], "--timeout", "3"],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("onrampctl:", refused.stderr)
        usage = subprocess.run([ONRAMPCTL, "stats", "--port", "x"], capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(usage.returncode, 2)


if __name__ == "__main__":
    unittest.main()
