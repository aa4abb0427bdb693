"""Certificate renewal (issue 21, part 1; proto/SPEC.md section 17) on a real
mosquitto with the plugin and the real services: an operational device
renews its service certificate over its service broker, connects with the
new one, and only then is the old one revoked at the broker (refused at
CONNECT from then on); a duplicate renew request is answered the same, a
retry for the same new key gets the same certificate; requests forged,
for another device's certificate, for a revoked one or for the key in
force are refused; a provider killed right after committing a renewal (or
its confirmation) finishes it once it is back.

Cast: manufacturer acme, provider prov-a (cert_lifetime 600 s, so that a
device run with --renew-before 700 renews at once), operator op-1.
"""

import json
import os
import shutil
import subprocess
import time
import unittest
import urllib.request

import fabric
import hostile
import mqtt5
import onboarding

ERROR, ENROLL_RESPONSE, REVOKED = 4, 12, 34
RENEW_REQUEST, RENEWED = 38, 39
ROLE_DEVICE = 1
EDENIED, ECSR, EBADSIG = 12, 51, 40
LIFETIME = 600


def csr_for(key_path, cn):
    return subprocess.run(["openssl", "req", "-new", "-key", key_path, "-subj", "/CN=" + cn,
                           "-outform", "DER"], capture_output=True, check=True).stdout


def pem_serial(path):
    """The serial of the first certificate of a PEM file, as bytes."""
    text = fabric.run("openssl", "x509", "-in", path, "-noout", "-serial")
    value = text.strip().split("=", 1)[1]
    return bytes.fromhex(value if len(value) % 2 == 0 else "0" + value)


class RenewalTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.onb = onb = onboarding.Onboarding(providers=("prov-a",))
        try:
            cls.ctl = onboarding.Controller(onb, "admin")
            cls.prov = onb.provider("prov-a")
            cls.metrics = "127.0.0.1:%d" % fabric.free_port()
            cls.acme = onb.manufacturer("acme", providers=[cls.prov])
            cls.prov.configure([cls.acme], {"op-1": onb.operator_key("op-1")}, "op-1",
                               [cls.ctl], extra={"cert_lifetime": "%ds" % LIFETIME,
                                                 "stats_interval": 1,
                                                 "metrics_listen": cls.metrics})
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

    # -- helpers --

    def operational_device(self):
        (d,) = self.acme.mint(1)
        rc, out = self.ctl.pair(self.prov, onboarding.DeviceRun(self.onb, d).label(), "alice")
        self.assertEqual(rc, 0, out)
        status, text = self.run_device(d)
        self.assertEqual(status, 0, text)
        self.assertIn("state=OPERATIONAL", text)
        return d, os.path.basename(d)

    def run_device(self, state_dir, *args, timeout=90):
        d = self.onb.device(state_dir, list(args))
        d.process.start()
        status = d.process.exit_status(timeout=timeout)
        return status, d.process.text()

    def in_force(self, dev):
        """{serial: (renews, not_after)} of the device's certificates in force."""
        return {bytes(s): (r and bytes(r), n) for s, r, n in self.prov.rows(
            "SELECT serial, renews, not_after FROM certificates WHERE dev = ?"
            " AND revoked_at IS NULL", dev)}

    def revocation_confirmed(self, serial):
        return self.prov.rows("SELECT %s FROM certificates WHERE serial = ?" %
                              onboarding.PROV_REVOKE_CONFIRMED, serial) == [(1,)]

    def keep_certificate(self, state_dir, name):
        """A copy of the device's certificate and key in force (its files
        change when it renews)."""
        out = os.path.join(self.onb.dir, name)
        shutil.copy(os.path.join(state_dir, "service.pem"), out + ".pem")
        shutil.copy(os.path.join(state_dir, "service.key"), out + ".key")
        return out + ".pem", out + ".key"

    def connect(self, state_dir, cert=None):
        """A client on the service broker as the device, with its files or
        `cert` (cert, key); its CONNACK reason in .connack (None: TLS
        refused it)."""
        dev = os.path.basename(state_dir)
        cert = cert or (os.path.join(state_dir, "service.pem"),
                        os.path.join(state_dir, "service.key"))
        c = mqtt5.Client(self.onb.broker.operational_port, dev,
                         os.path.join(state_dir, "service-ca.pem"), certfile=cert[0],
                         keyfile=cert[1])
        try:
            c.connack = c.connect()
        except OSError:
            c.connack = None
            c.drop()
        self.addCleanup(c.disconnect)
        return c

    def topics(self, dev):
        base = "onr/1/p/%s/dev/%s/" % (self.prov.id, dev)
        return base + "renew", base + "down"

    def ask(self, client, dev, payload, msg_id):
        """Publish `payload` on the device's renew leaf; the provider's answer
        to `msg_id` on its down leaf (decoded, with the raw bytes)."""
        renew, down = self.topics(dev)
        self.assertTrue(mqtt5.accepted(client.publish(renew, payload)))
        while True:
            message = client.wait_message(down, seconds=15)
            self.assertIsNotNone(message, "no answer from the provider")
            answer = fabric.decode_envelope(message[1])
            if answer["body"].get("re") == msg_id:
                answer["raw"] = message[1]
                return answer

    def renew_request(self, dev, key, serial, csr, sender=None):
        renew, _ = self.topics(dev)
        return hostile.signed_envelope(key, renew, RENEW_REQUEST, ROLE_DEVICE, sender or dev,
                                       {"serial": serial, "csr": csr})

    def status(self, dev):
        argv = [onboarding.program("onrampctl"), "status", "--dev", dev,
                "--provider", self.prov.id, "--provider-key", self.prov.signing_pub,
                "--host", "127.0.0.1", "--port", str(self.onb.broker.services_port),
                "--cafile", self.onb.pki.ca[0], "--cert", self.ctl.cert, "--key", self.ctl.key,
                "--json"]
        proc = subprocess.run(argv, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return json.loads(proc.stdout)["services"][0]

    def stats(self):
        """The provider's next counters (service_stats), as onrampctl stats
        --json prints them."""
        cert, key = self.onb.pki.client("monitor", "renewal-stats")
        argv = [onboarding.program("onrampctl"), "stats", "--service", "prov/" + self.prov.id,
                "--host", "127.0.0.1", "--port", str(self.onb.broker.services_port),
                "--cafile", self.onb.pki.ca[0], "--cert", cert, "--key", key, "--json"]
        proc = subprocess.run(argv, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return json.loads(proc.stdout)

    def restart_provider(self, die_after=None):
        self.prov.process.stop()
        self.prov.process.env_extra = ({"ONR_TEST_DIE_AFTER_COMMIT": str(die_after)}
                                       if die_after else {})
        self.prov.start()

    # -- the tests --

    def test_a_device_renews_and_its_old_certificate_is_refused(self):
        d, dev = self.operational_device()
        (old,) = self.in_force(dev)
        self.assertEqual(pem_serial(os.path.join(d, "service.pem")), old)
        old_files = self.keep_certificate(d, dev + "-old")
        self.assertEqual(self.connect(d).connack, 0)
        old_not_after = self.in_force(dev)[old][1]
        self.assertEqual(self.status(dev)["cert_expires"], old_not_after)
        before = self.stats()
        status, text = self.run_device(d, "--renew-before", "700")
        self.assertEqual(status, 0, text)
        for line in ("renew serial=%s" % old.hex(), "renewed serial=",
                     "confirmed serial=%s" % old.hex()):
            self.assertIn(line, text)
        new = pem_serial(os.path.join(d, "service.pem"))
        self.assertNotEqual(new, old)
        # the provider holds the new one alone, as the renewal of the old
        ((serial, (renews, not_after)),) = self.in_force(dev).items()
        self.assertEqual((serial, renews), (new, old))
        self.assertGreater(not_after, time.time() + LIFETIME - 120)
        self.assertEqual(self.status(dev)["cert_expires"], not_after)
        # counted once; every certificate here expires within a week
        onboarding.wait_until(lambda: self.stats().get("renewals", 0) > before.get("renewals", 0),
                              what="the renewal counted")
        after = self.stats()
        self.assertEqual(after["renewals"], before.get("renewals", 0) + 1)
        self.assertEqual(after["certs_expiring"], len(self.prov.rows(
            "SELECT DISTINCT dev FROM certificates WHERE revoked_at IS NULL")))
        # and so does /metrics
        with urllib.request.urlopen("http://%s/metrics" % self.metrics, timeout=10) as r:
            metrics = r.read().decode()
        self.assertIn("\nonramp_certificates_renewed_total %d\n" % after["renewals"], metrics)
        self.assertIn("\nonramp_certificates_expiring ", metrics)
        onboarding.wait_until(lambda: self.revocation_confirmed(old),
                              what="the old certificate's revocation confirmed")
        self.assertEqual(self.connect(d, old_files).connack, mqtt5.NOT_AUTHORIZED)
        self.assertEqual(self.connect(d).connack, 0)
        # the revocation carried the certificate's notAfter: the plugin
        # forgets it a day after (its journal's revoke-cert line)
        with open(self.onb.broker.grants) as f:
            lines = [line.split() for line in f if line.startswith("revoke-cert %s " % dev)]
        trimmed = (old.lstrip(b"\x00") or b"\x00").hex()
        self.assertIn(["revoke-cert", dev, self.prov.id, trimmed, str(old_not_after)], lines)

    def test_a_request_again_gets_the_same_answer_and_a_retry_the_same_certificate(self):
        d, dev = self.operational_device()
        (serial,) = self.in_force(dev)
        key = onboarding.new_key(os.path.join(self.onb.dir, dev + "-next.key"))
        csr = csr_for(key, dev)
        client = self.connect(d)
        self.assertEqual(client.connack, 0)
        self.assertEqual(client.subscribe(self.topics(dev)[1]), 1)
        msg_id, payload = self.renew_request(dev, os.path.join(d, "service.key"), serial, csr)
        first = self.ask(client, dev, payload, msg_id)
        self.assertEqual(first["type"], ENROLL_RESPONSE, first)
        again = self.ask(client, dev, payload, msg_id)
        self.assertEqual(again["raw"], first["raw"])  # the stored answer, byte for byte
        msg_id, payload = self.renew_request(dev, os.path.join(d, "service.key"), serial,
                                             csr_for(key, dev))
        retry = self.ask(client, dev, payload, msg_id)
        self.assertEqual(retry["type"], ENROLL_RESPONSE, retry)
        self.assertEqual(retry["body"]["chain"], first["body"]["chain"])
        # two in force until the device says renewed
        self.assertEqual(len(self.in_force(dev)), 2)
        self.assertEqual(self.connect(d).connack, 0)

    def test_forged_foreign_revoked_and_same_key_requests_are_refused(self):
        d, dev = self.operational_device()
        other, other_dev = self.operational_device()
        (serial,) = self.in_force(dev)
        (other_serial,) = self.in_force(other_dev)
        own_key = os.path.join(d, "service.key")
        key = onboarding.new_key(os.path.join(self.onb.dir, dev + "-forged.key"))
        csr = csr_for(key, dev)
        client = self.connect(d)
        self.assertEqual(client.subscribe(self.topics(dev)[1]), 1)
        before = self.in_force(dev)

        def refused(payload_and_id, code):
            msg_id, payload = payload_and_id
            answer = self.ask(client, dev, payload, msg_id)
            self.assertEqual((answer["type"], answer["body"].get("code")), (ERROR, code),
                             answer)

        # signed with a key that is not the certificate's
        refused(self.renew_request(dev, key, serial, csr), EBADSIG)
        # another device's certificate, signed with its own key, on our leaf
        refused(self.renew_request(dev, os.path.join(other, "service.key"), other_serial,
                                   csr_for(key, dev)), EDENIED)
        # in the other device's name on our leaf
        refused(self.renew_request(dev, os.path.join(other, "service.key"), other_serial,
                                   csr_for(key, other_dev), sender=other_dev), EDENIED)
        # a CSR for another device, and for the key in force
        refused(self.renew_request(dev, own_key, serial, csr_for(key, other_dev)), ECSR)
        refused(self.renew_request(dev, own_key, serial, csr_for(own_key, dev)), ECSR)
        self.assertEqual(self.in_force(dev), before)  # nothing issued
        # once renewed, the old certificate cannot renew again
        old_files = self.keep_certificate(d, dev + "-replaced")
        client.disconnect()
        status, text = self.run_device(d, "--renew-before", "700")
        self.assertEqual(status, 0, text)
        client = self.connect(d)
        self.assertEqual(client.subscribe(self.topics(dev)[1]), 1)
        refused(self.renew_request(dev, old_files[1], serial, csr_for(key, dev)), EDENIED)

    def test_a_provider_killed_after_committing_finishes_the_renewal(self):
        d, dev = self.operational_device()
        (old,) = self.in_force(dev)
        try:
            # killed after committing the renewal, before answering
            self.restart_provider(die_after=RENEW_REQUEST)
            status, text = self.run_device(d, "--renew-before", "700", "--timeout", "5")
            self.assertEqual(status, 0, text)
            self.assertIn("unrenewed", text)
            self.assertEqual(self.prov.process.proc.wait(timeout=10), -9)
            committed = [s for s, (r, _) in self.in_force(dev).items() if r == old]
            self.assertEqual(len(committed), 1)
            # killed after committing the confirmation, before answering
            self.restart_provider(die_after=RENEWED)
            status, text = self.run_device(d, "--renew-before", "700", "--timeout", "5")
            self.assertEqual(status, 0, text)
            self.assertIn("renewed serial=%s" % committed[0].hex(), text)
            self.assertEqual(self.prov.process.proc.wait(timeout=10), -9)
            self.assertEqual(list(self.in_force(dev)), committed)
        finally:
            self.restart_provider()
        # back: the revocation goes out, the device's renewed is answered
        onboarding.wait_until(lambda: self.revocation_confirmed(old),
                              what="the old certificate's revocation confirmed")
        status, text = self.run_device(d, "--renew-before", "700")
        self.assertEqual(status, 0, text)
        self.assertIn("confirmed serial=%s" % old.hex(), text)
        self.assertEqual(pem_serial(os.path.join(d, "service.pem")), committed[0])


if __name__ == "__main__":
    unittest.main()
