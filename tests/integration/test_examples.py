"""The example configurations under services/examples are what the
services accept. Each example is copied with its absolute paths moved into
a temporary directory holding real material of the kind each path names
(keys, public keys, certificates, an OP file), and its broker pointed at a
closed loopback port: the service must then start (every key known, every
required key there, every value accepted) and stop cleanly on SIGTERM.
While it runs, its metrics_listen (moved to a free loopback port) serves
/metrics. Then every key is taken out in turn: the service either still
starts (the key is optional) or refuses to start with a message naming
that key."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import fabric
import onboarding
import prometheus

EXAMPLES = os.path.join(os.environ.get("ONR_SOURCE_DIR", ""), "services", "examples")
ROOTS = ("/etc/onramp/", "/var/lib/onramp/")


def new_sealing_key(path):
    """A new X25519 private key (PKCS#8 PEM, 0600) at `path`."""
    fabric.run("openssl", "genpkey", "-algorithm", "X25519", "-out", path)
    os.chmod(path, 0o600)
    return path


def public_key(key, pub):
    """The PEM public key of a P-256 or X25519 key file."""
    fabric.run("openssl", "pkey", "-in", key, "-pubout", "-out", pub)
    return pub


class Material:
    """Files for the absolute paths an example names, made once per path in
    `directory`: a P-256 key for *.key, an X25519 one for *sealing.key,
    the public key of either for *.pub (made from the key of the same
    name, or a new one), a CA certificate for *.pem (over the *.key of the
    same name where the example names one: ca_cert and ca_key must
    match), 16 random bytes in hex for *.hex. Databases are left for the
    service to create."""

    def __init__(self, directory, paths):
        self.dir = directory
        self.paths = set(paths)

    def local(self, path):
        for root in ROOTS:
            if path.startswith(root):
                return os.path.join(self.dir, root.strip("/").replace("/", "-"),
                                    path[len(root):])
        raise AssertionError("not under %s: %s" % (ROOTS, path))

    def make(self, path):
        local = self.local(path)
        if os.path.exists(local) or path.endswith(".db"):
            return local
        os.makedirs(os.path.dirname(local), mode=0o700, exist_ok=True)
        stem, ext = os.path.splitext(path)
        if ext == ".key":
            if stem.endswith("sealing"):
                new_sealing_key(local)
            else:
                onboarding.new_key(local)
        elif ext == ".pub":
            key = stem + ".key"
            if key not in self.paths:  # a peer's key: made here, never named
                key = os.path.join(os.path.dirname(stem), "private",
                                   os.path.basename(stem) + ".key")
            public_key(self.make(key), local)
        elif ext == ".pem":
            key = stem + ".key"
            fabric.run("openssl", "req", "-x509", "-new", "-key", self.make(key), "-out", local,
                       "-days", "2", "-subj", "/CN=example " + os.path.basename(stem),
                       "-addext", "basicConstraints=critical,CA:TRUE",
                       "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        elif ext == ".hex":
            with open(local, "w") as f:
                f.write(os.urandom(16).hex() + "\n")
            os.chmod(local, 0o600)
        else:
            raise AssertionError("no material for " + path)
        return local


def example_lines(service):
    """The example's configuration lines (comments and blanks dropped)."""
    with open(os.path.join(EXAMPLES, service + ".conf")) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


class ExampleConfigTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="onramp-examples-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def localize(self, service, lines):
        """The example with its paths made real and its broker closed."""
        paths = [w for line in lines for w in line.split()[1:] if w.startswith(ROOTS)]
        material = Material(os.path.join(self.dir, "files"), paths)
        out = []
        for line in lines:
            key, *words = line.split()
            if key == "broker_host":
                words = ["127.0.0.1"]
            elif key == "broker_port":
                words = [str(fabric.free_port())]  # nothing listens: it keeps retrying
            elif key == "metrics_listen":
                words = ["127.0.0.1:%d" % fabric.free_port()]
            words = [material.make(w) if w.startswith(ROOTS) else w for w in words]
            out.append(" ".join([key] + words))
        return out

    def run_service(self, service, lines, name, while_running=None):
        """Start the service on `lines`; (exit status or None if it
        started and stopped on SIGTERM, its output). `while_running` is
        called once it has started."""
        conf = os.path.join(self.dir, name + ".conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        proc = onboarding.Process(name, [onboarding.program("onramp-" + service),
                                         "--config", conf], self.dir)
        proc.start()
        try:
            proc.wait_for("started id=", timeout=15)
        except AssertionError:
            return proc.exit_status(timeout=15), proc.text()
        if while_running is not None:
            while_running()
        self.assertEqual(proc.stop(), 0, proc.text())
        return None, proc.text()

    def check(self, service):
        lines = self.localize(service, example_lines(service))
        status, text = self.run_service(service, lines, service,
                                        lambda: self.check_metrics(service, lines))
        self.assertIsNone(status, "the %s example does not start:\n%s" % (service, text))
        self.assertNotIn("unknown key", text)
        # each key taken out in turn: still fine, or refused naming it
        for key in sorted({line.split()[0] for line in lines}):
            kept = [line for line in lines if line.split()[0] != key]
            status, text = self.run_service(service, kept, "%s-without-%s" % (service, key))
            if status is not None:
                self.assertEqual(status, 1, text)
                self.assertRegex(text, r"\b%s\b" % re.escape(key),
                                 "%s without %s refused without naming it" % (service, key))

    def check_metrics(self, service, lines):
        """The example's /metrics answers, as the service's."""
        listen = [line.split()[1] for line in lines if line.split()[0] == "metrics_listen"]
        self.assertEqual(len(listen), 1, "the %s example names no metrics_listen" % service)
        status, _, body = prometheus.scrape("http://%s/metrics" % listen[0])
        self.assertEqual(status, 200)
        self.assertRegex(body, r'\nonramp_service_info\{role="%s",service="[^"]+",version="'
                         % service)

    def test_manufacturer(self):
        self.check("manufacturer")

    def test_provider(self):
        self.check("provider")

    def test_operator(self):
        self.check("operator")

    def test_the_provider_takes_a_certificate_lifetime_within_bounds(self):
        lines = self.localize("provider", example_lines("provider"))
        base = [line for line in lines if not line.startswith("cert_lifetime ")]
        for value in ("600", "600s", "90m", "12h", "3650d"):
            status, text = self.run_service("provider", base + ["cert_lifetime " + value],
                                            "lifetime-" + value)
            self.assertIsNone(status, "cert_lifetime %s refused:\n%s" % (value, text))
        for value in ("599", "599s", "3651d", "1y", "d", "-5d", "12 h", "10d5"):
            status, text = self.run_service("provider", base + ["cert_lifetime " + value],
                                            "lifetime-bad")
            self.assertEqual(status, 1, "cert_lifetime %s taken:\n%s" % (value, text))
            self.assertIn("cert_lifetime %s: want a duration from 600 s to 3650 d" % value,
                          text)
        # the older spelling alone, and not together with the new one
        status, text = self.run_service("provider", base + ["cert_days 30"], "days")
        self.assertIsNone(status, text)
        status, text = self.run_service("provider", base + ["cert_days 0"], "days-bad")
        self.assertEqual(status, 1, text)
        self.assertIn("cert_days 1..3650", text)
        status, text = self.run_service("provider", lines + ["cert_days 30"], "both")
        self.assertEqual(status, 1, text)
        self.assertIn("cert_days and cert_lifetime: give one", text)

    def test_a_misspelt_key_is_refused(self):
        lines = [line.replace("challenge_lifetime", "challenge_lifetme")
                 for line in example_lines("operator")]
        status, text = self.run_service("operator", self.localize("operator", lines),
                                        "misspelt")
        self.assertEqual(status, 1)
        self.assertIn("unknown key 'challenge_lifetme'", text)

    def test_metrics_on_a_public_address_need_metrics_public(self):
        lines = [line for line in self.localize("operator", example_lines("operator"))
                 if not line.startswith("metrics_")]
        # refused before anything listens: the address need not be ours
        status, text = self.run_service("operator", lines + ["metrics_listen 192.0.2.1:9464"],
                                        "public-metrics")
        self.assertEqual(status, 1)
        self.assertIn("metrics_listen 192.0.2.1:9464: not a loopback address", text)
        self.assertIn("metrics_public yes", text)
        status, text = self.run_service("operator", lines + ["metrics_public maybe"],
                                        "metrics-public-maybe")
        self.assertEqual(status, 1)
        self.assertIn("metrics_public: yes or no", text)

    def test_a_session_expiry_out_of_range_is_refused(self):
        lines = self.localize("operator", example_lines("operator"))
        for value in ("0", "86401", "soon"):
            status, text = self.run_service("operator", lines + ["session_expiry " + value],
                                            "expiry-" + value)
            self.assertEqual(status, 1, text)
            self.assertIn("session_expiry: seconds in 1..86400", text)


if __name__ == "__main__":
    unittest.main()
