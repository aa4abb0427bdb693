"""Who gets in: devices by proof of possession, services and monitors by a
certificate from the services CA, nobody by what they merely claim
(broker-plugins/README.md, proto/SPEC.md section 10)."""

import os
import subprocess
import tempfile
import time
import unittest

import fabric
import mqtt5

NOT_AUTHORIZED = mqtt5.NOT_AUTHORIZED


class AuthTest(fabric.FabricTestCase):

    def refused_and_counted(self, counter, connect):
        """`connect()` returns a client; it must be refused and `counter`
        must go up."""
        before = self.counters.read()[counter]
        client = connect()
        try:
            self.assertEqual(client.connack, NOT_AUTHORIZED, self.broker.log_tail())
        finally:
            client.drop()
        self.counters.wait_for(counter, before + 1)

    def test_device_with_valid_proof_is_admitted(self):
        dev = self.fabric.device()
        c = dev.connect(self.broker)
        try:
            self.assertEqual(c.connack, 0, self.broker.log_tail())
            self.assertEqual(c.subscribe(dev.down), 1)
        finally:
            c.disconnect()

    def test_device_library_connects_with_proof(self):
        dev = self.fabric.device()
        out = subprocess.run(
            [fabric.TEST_DEVICE, "--key", dev.key, "--broker-name", self.broker.NAME,
             "--host", "127.0.0.1", "--port", str(self.broker.bootstrap_port),
             "--cafile", self.fabric.pki.ca[0], "--publish", dev.up("mfr", "acme"), "hello"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("connack 0", out.stdout)

    def test_takeover_without_proof_keeps_connected_device(self):
        victim = self.fabric.device()
        attacker = self.fabric.device()
        connected = victim.connect(self.broker)
        self.assertEqual(connected.connack, 0)
        try:
            # the attacker's own valid proof, presented under the victim's id
            self.refused_and_counted("pop_wrong_id", lambda: attacker.connect(
                self.broker, proof=attacker.proof(self.broker.NAME), client_id=victim.id))
            # and no proof at all, with the victim's id and a username
            intruder = mqtt5.Client(self.broker.bootstrap_port, victim.id, self.fabric.pki.ca[0])
            self.assertEqual(intruder.connect(username="admin", password="admin"),
                             NOT_AUTHORIZED)
            intruder.drop()
            self.assertTrue(connected.alive(0.5), "the connected device was kicked")
            self.assertEqual(connected.subscribe(victim.down), 1)
            svc = self.broker.service("operator", "op-1")
            svc.publish(victim.down, b"still here")
            svc.disconnect()
            got = [m for m in connected.collect(2) if m[0] == victim.down]
            self.assertEqual(len(got), 1, "the connected device stopped receiving")
        finally:
            connected.disconnect()

    def test_replayed_proof_is_refused(self):
        dev = self.fabric.device()
        proof = dev.proof(self.broker.NAME)
        first = dev.connect(self.broker, proof=proof)
        self.assertEqual(first.connack, 0)
        first.disconnect()
        self.refused_and_counted("pop_replayed", lambda: dev.connect(self.broker, proof=proof))

    def test_proof_for_another_client_id_is_refused(self):
        dev = self.fabric.device()
        other = self.fabric.device()
        proof = dev.proof(self.broker.NAME, client_id=other.id)
        # signed for `other`'s id but with dev's key: the id is not dev's
        self.refused_and_counted("pop_wrong_id", lambda: dev.connect(
            self.broker, proof=proof, client_id=other.id))

    def test_proof_for_another_broker_is_refused(self):
        dev = self.fabric.device()
        self.refused_and_counted("pop_bad_sig", lambda: dev.connect(
            self.broker, proof=dev.proof("another-broker")))

    def test_expired_proof_is_refused(self):
        dev = self.fabric.device()
        old = int(time.time()) - 3600
        self.refused_and_counted("pop_stale", lambda: dev.connect(
            self.broker, proof=dev.proof(self.broker.NAME, timestamp=old)))

    def test_malformed_proofs_are_refused(self):
        dev = self.fabric.device()
        good = dev.proof(self.broker.NAME)
        self.refused_and_counted("pop_malformed", lambda: dev.connect(
            self.broker, proof=good[:-1]))
        self.refused_and_counted("pop_malformed", lambda: dev.connect(
            self.broker, proof=b"\x02" + good[1:]))
        flipped = bytearray(dev.proof(self.broker.NAME))
        flipped[-1] ^= 1
        self.refused_and_counted("pop_bad_sig", lambda: dev.connect(
            self.broker, proof=bytes(flipped)))
        self.refused_and_counted("pop_malformed", lambda: dev.connect(self.broker, proof=b""))

    def test_anonymous_clients_are_refused(self):
        def anonymous(**kwargs):
            c = mqtt5.Client(self.broker.bootstrap_port, "anon-1", self.fabric.pki.ca[0])
            c.connack = c.connect(**kwargs)
            return c
        self.refused_and_counted("no_credentials", lambda: anonymous())
        self.refused_and_counted("no_credentials",
                                 lambda: anonymous(username="admin", password="secret"))
        # an empty client id (Mosquitto would assign one) gets nothing either
        self.refused_and_counted("no_credentials", lambda: _connected(self.broker, ""))

    def test_connect_flood_is_counted_but_not_logged_line_by_line(self):
        """The refusal log allows a burst of 100 lines, then 20 a second: a
        flood outruns it however fast this machine connects (under ASan on
        a busy machine 150 connects took longer than the budget needed to
        refill), so the flood goes on, 50 at a time, until some refusals
        went unlogged (at most 2000)."""
        before = self.counters.read()["no_credentials"]
        log_before = self.broker.log_text().count("denied connect")
        sent = logged = 0
        while sent < 2000 and logged == sent:
            for _ in range(50):
                _connected(self.broker, "flood").drop()
            sent += 50
            self.counters.wait_for("no_credentials", before + sent)
            logged = self.broker.log_text().count("denied connect") - log_before
        self.assertLess(logged, sent, "every refusal of a flood was logged")
        self.assertGreater(logged, 0)
        time.sleep(1.0)  # the log budget refills: the next refusal says how many went unlogged
        _connected(self.broker, "flood").drop()
        self.counters.wait_for("no_credentials", before + sent + 1)
        self.assertIn("refusals counted but not logged", self.broker.log_text())

    def test_unknown_auth_method_is_refused(self):
        dev = self.fabric.device()

        def other_method():
            c = mqtt5.Client(self.broker.bootstrap_port, dev.id, self.fabric.pki.ca[0])
            c.connack = c.connect(auth_method="SCRAM-SHA-256", auth_data=b"x")
            return c
        self.refused_and_counted("no_credentials", other_method)

    def test_broker_as_deployed_sends_no_session_tickets(self):
        """broker-plugins/openssl-broker.cnf (OPENSSL_CONF): nothing resumes
        a TLS session, and each ticket cost the broker a third of a
        handshake. A ticket would come right after the handshake, before
        the CONNACK."""
        for connect in (lambda: self.fabric.device().connect(self.broker),
                        lambda: self.broker.service("operator", "op-1")):
            c = connect()
            try:
                self.assertEqual(c.connack, 0, self.broker.log_tail())
                self.assertEqual(c.sock.version(), "TLSv1.3")
                self.assertFalse(c.sock.session.has_ticket)
            finally:
                c.disconnect()

    def test_service_with_certificate_is_admitted(self):
        for role, svc in (("manufacturer", "acme"), ("operator", "op-1"),
                          ("provider", "prov-1"), ("monitor", "noc")):
            c = self.broker.service(role, svc)
            self.assertEqual(c.connack, 0, "%s/%s refused\n%s" % (role, svc,
                                                                  self.broker.log_tail()))
            c.disconnect()

    def test_certificate_with_unknown_role_is_refused(self):
        cert = self.fabric.pki.client("admin", "root")
        self.refused_and_counted("bad_cert", lambda: self.broker.service(
            "admin", "root", client_id="admin.root", cert=cert))

    def test_service_client_id_must_name_its_certificate(self):
        for client_id in ("op.op-2", "prov.op-1", "op-1", "op.op-1.", "op.op-1.a/b",
                          self.fabric.device().id):
            self.refused_and_counted("bad_cert", lambda: self.broker.service(
                "operator", "op-1", client_id=client_id))
        c = self.broker.service("operator", "op-1", client_id="op.op-1.instance-2")
        self.assertEqual(c.connack, 0)
        c.disconnect()


def _connected(broker, client_id):
    c = mqtt5.Client(broker.bootstrap_port, client_id, broker.pki.ca[0])
    c.connack = c.connect()
    return c


class RestartReplayTest(unittest.TestCase):
    """Issue 15: the (client id, nonce) pairs a broker admitted live in
    memory only, so a restarted broker admitted again, within the window, a
    proof it had already admitted. For one window after it starts the
    plugin refuses proofs made before it started (proto/SPEC.md section
    10)."""

    def test_proof_admitted_before_a_restart_is_refused_after_it(self):
        with fabric.Fabric() as f:
            dev = f.device()
            proof = dev.proof(f.broker.NAME)
            first = dev.connect(f.broker, proof=proof)
            self.assertEqual(first.connack, 0, f.broker.log_tail())
            first.disconnect()
            f.counters.close()
            f.broker.restart()

            before = f.counters.read()
            replayed = dev.connect(f.broker, proof=proof)  # the same CONNECT again
            try:
                self.assertEqual(replayed.connack, NOT_AUTHORIZED, f.broker.log_tail())
            finally:
                replayed.drop()
            after = f.counters.wait_for("pop_stale", before["pop_stale"] + 1)
            self.assertEqual(after["pop_stale"], before["pop_stale"] + 1)
            self.assertEqual(after["connects"], before["connects"])
            # the device's next attempt, with a fresh proof, is admitted
            fresh = dev.connect(f.broker)
            try:
                self.assertEqual(fresh.connack, 0, f.broker.log_tail())
            finally:
                fresh.disconnect()
            # the cost: a clock behind the broker's by s seconds is refused
            # for up to s seconds after a start (at most the window)
            behind = dev.connect(f.broker, proof=dev.proof(f.broker.NAME,
                                                           timestamp=int(time.time()) - 120))
            try:
                self.assertEqual(behind.connack, NOT_AUTHORIZED)
            finally:
                behind.drop()


class ForeignCertificateTest(unittest.TestCase):
    """A listener that trusts a foreign CA as well still admits no one the
    plugin's own services CA did not certify."""

    def test_certificate_from_another_ca_is_refused(self):
        with fabric.Fabric(foreign_ca_trusted=True) as f:
            before = f.counters.read()["bad_cert"]
            cert = f.pki.client("operator", "op-1", foreign=True)
            c = f.broker.service("operator", "op-1", cert=cert)
            self.assertEqual(c.connack, NOT_AUTHORIZED, f.broker.log_tail())
            c.drop()
            f.counters.wait_for("bad_cert", before + 1)
            # the genuine certificate still works on the same listener
            ok = f.broker.service("operator", "op-1")
            self.assertEqual(ok.connack, 0)
            ok.disconnect()


class BrokerNameTest(unittest.TestCase):
    """Device proofs are bound to the broker's name (proto/SPEC.md section
    10), so no two brokers may share one: the plugin starts only if its
    plugin_opt_broker_cert, the bootstrap listener's certificate, is a
    server certificate valid now that lists plugin_opt_broker_name as a DNS
    subjectAltName (broker-plugins/README.md, "Broker names")."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="onr-it-")
        cls.pki = fabric.Pki(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def refused(self, why, options=None, drop_option=None):
        """The broker must not start; its log must say `why`. `options`
        replace the example's; `drop_option` removes one of its lines."""
        directory = tempfile.mkdtemp(dir=self.tmp.name)
        broker = fabric.Broker(self.pki, directory, options)
        if drop_option is not None:
            with open(broker.conf) as f:
                lines = f.read().splitlines(True)
            kept = [line for line in lines if not line.startswith(drop_option + " ")]
            self.assertEqual(len(kept), len(lines) - 1)
            with open(broker.conf, "w") as f:
                f.write("".join(kept))
        broker.assert_refuses_to_start(self, why)

    def expired_server_cert(self):
        """test-broker's name in a server certificate from the services CA
        that expired in 2020 (openssl ca: onramp-admin never makes one)."""
        d = tempfile.mkdtemp(dir=self.tmp.name)
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
                    "serial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                    "copy_extensions = copy\n[p]\ncommonName = supplied\n")
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("01\n")
        fabric.run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + fabric.Broker.NAME,
                   "-addext", "subjectAltName=DNS:localhost,DNS:" + fabric.Broker.NAME,
                   "-keyout", os.path.join(d, "old.key"), "-out", os.path.join(d, "old.csr"))
        subprocess.run(["openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", self.pki.ca[0],
                        "-keyfile", self.pki.ca[1], "-in", "old.csr", "-out", "old.pem",
                        "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                        "-notext"], cwd=d, check=True, capture_output=True)
        return os.path.join(d, "old.pem")

    def test_broker_cert_is_required(self):
        self.refused("plugin_opt_broker_cert is required", drop_option="plugin_opt_broker_cert")

    def test_a_name_its_certificate_does_not_list_is_refused(self):
        # test-broker's certificate under another name: an impostor, or a
        # copy of a configuration whose name was not changed with its cert
        self.refused("plugin_opt_broker_cert %s does not list plugin_opt_broker_name "
                     "impostor as a DNS subjectAltName" % self.pki.server[0],
                     {"broker_name": "impostor"})

    def test_a_certificate_that_is_no_server_certificate_is_refused(self):
        client = self.pki.client("operator", "op-1")[0]
        self.refused("plugin_opt_broker_cert %s is not a TLS server certificate" % client,
                     {"broker_cert": client})
        self.refused("plugin_opt_broker_cert %s is not a TLS server certificate" %
                     self.pki.ca[0], {"broker_cert": self.pki.ca[0]})

    def test_an_expired_certificate_is_refused(self):
        old = self.expired_server_cert()
        self.refused("plugin_opt_broker_cert %s is not valid now" % old, {"broker_cert": old})

    def test_a_missing_certificate_is_refused(self):
        missing = os.path.join(self.tmp.name, "missing.pem")
        self.refused("plugin_opt_broker_cert %s: not found" % missing, {"broker_cert": missing})

    def test_the_certificate_of_its_name_starts_it(self):
        with fabric.Fabric() as f:
            self.assertIn("broker %s" % f.broker.NAME, f.broker.log_text())
            dev = f.device()
            c = dev.connect(f.broker)
            try:
                self.assertEqual(c.connack, 0, f.broker.log_tail())
            finally:
                c.disconnect()


if __name__ == "__main__":
    unittest.main()
