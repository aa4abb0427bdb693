"""Throwaway fabrics for integration tests: a PKI (made by onramp-admin), a
real mosquitto with the onramp plugin on free loopback ports, and clients
for each principal (bootstrap devices, services, monitors and, with
provider CAs, operational devices on a third listener).

The broker's configuration is rendered from the documented example,
broker-plugins/mosquitto.conf.example, with paths and ports substituted, so
the example stays a configuration that works. The broker is stopped by its
PID. Nothing here talks to a non-loopback address.

Environment (set by tests/integration/CMakeLists.txt):
  ONR_BIN_DIR       the build tree's bin directory (onramp-admin makes the PKI)
  ONR_PLUGIN        path of onramp_plugin.so
  ONR_TEST_POP      path of the onr_test_pop tool
  ONR_TEST_DEVICE   path of the onr_test_device tool
  ONR_SOURCE_DIR    the source tree (for the example configuration)
  ONR_BROKER_PRELOAD  set in the sanitizer run: the ASan runtime, preloaded
                    into mosquitto so the plugin (built with ASan) is checked
                    under real traffic; any report fails the test
  ONR_TEST_KEEP     set (by hand, to look into a failure): the fabric's
                    directory and the private PostgreSQL cluster's are kept,
                    and their paths printed, instead of removed
"""

import math
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import mqtt5

PLUGIN = os.environ.get("ONR_PLUGIN", "")
BROKER_PRELOAD = os.environ.get("ONR_BROKER_PRELOAD", "")
TEST_POP = os.environ.get("ONR_TEST_POP", "")
CLOCK_REALTIME_COARSE = 5  # Linux's clock id: what C's time() reads (vDSO)
TEST_DEVICE = os.environ.get("ONR_TEST_DEVICE", "")
KEEP = bool(os.environ.get("ONR_TEST_KEEP"))
SOURCE_DIR = os.environ.get("ONR_SOURCE_DIR",
                            os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE_CONF = os.path.join(SOURCE_DIR, "broker-plugins", "mosquitto.conf.example")
BROKER_OPENSSL_CONF = os.path.join(SOURCE_DIR, "broker-plugins", "openssl-broker.cnf")


def run(*cmd):
    """Run a command; its stdout as text; raises with its stderr on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode,
                                                    proc.stderr.strip()))
    return proc.stdout


def remove_tree(path):
    """Removes the test directory `path`, unless ONR_TEST_KEEP is set: then
    it stays and is printed, to be looked into after a failure."""
    if KEEP:
        print("ONR_TEST_KEEP: kept %s" % path, flush=True)
        return
    shutil.rmtree(path, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- PKI ----------------------------------------------------------------------


ADMIN = os.path.join(os.environ.get("ONR_BIN_DIR", ""), "onramp-admin")


class Pki:
    """The fabric's PKI, made by onramp-admin as a deployment's is: a
    topology of one host (127.0.0.1) with the broker, plus a line for each
    principal a test asks for (onramp-admin runs again for each new one and
    keeps what it made). The services CA, the broker's TLS certificate
    (P-256; DNS:localhost, IP:127.0.0.1 and DNS:test-broker, its name),
    other brokers' (broker()), client certificates with OU = role and CN =
    id, provider CAs and the services' signing and sealing keys are
    onramp-admin's.

    Test-only attack material is made with the openssl CLI, as no
    deployment would have it: a foreign CA and its certificates,
    certificates with an OU that is no role, and operational devices'
    certificates (with chosen serials) from a provider CA."""

    ROLES = ("manufacturer", "provider", "operator", "control", "monitor")
    # Providers need a contract with an operator in a topology: theirs here.
    CONTRACTS = "pki-contracts"

    def __init__(self, directory):
        self.dir = directory
        self.out = os.path.join(directory, "pki")
        self.topology = os.path.join(directory, "pki.topology")
        self.lines = ["host test address=127.0.0.1 dns=localhost",
                      "broker %s host=test bind=127.0.0.1" % Broker.NAME]
        self.parties = {}
        self.brokers = {Broker.NAME}
        self.issued = {}
        self.provider_cas = {}
        self._admin()
        self.ca = (self.path("admin/services-ca.pem"), self.path("admin/services-ca.key"))
        self.server = (self.path("keys/broker/%s/broker.pem" % Broker.NAME),
                       self.path("keys/broker/%s/broker.key" % Broker.NAME))
        self.foreign_ca = self._ca("foreign")

    def path(self, name):
        return os.path.join(self.out, name)

    def _admin(self):
        with open(self.topology, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        run(ADMIN, "--topology", self.topology, "--out", self.out, "--quiet")

    def _declare(self, role, name):
        """`name` is a party of `role` in the topology (onramp-admin run if
        it is new)."""
        if self.parties.get(name) == role:
            return
        if name in self.parties:
            raise ValueError("%s is a %s already" % (name, self.parties[name]))
        if role == "provider" and self.CONTRACTS not in self.parties:
            self._declare("operator", self.CONTRACTS)
        if role == "operator":
            self.lines.append("operator %s host=test plmn=00101 apn=test "
                              "imsi=001010000000001-001010000000009 "
                              "iccid=894900100000000001-894900100000000009" % name)
        else:
            self.lines.append("%s %s host=test" % (role, name))
        if role == "provider":
            self.lines.append("contract %s %s" % (name, self.CONTRACTS))
        self.parties[name] = role
        self._admin()

    def broker(self, name):
        """Broker `name`'s TLS certificate and key (cert, key), onramp-admin's:
        a broker of the topology on a host of its own (127.0.0.1 too), its
        name among its certificate's subjectAltNames (declared if new)."""
        if name not in self.brokers:
            self.lines.append("host %s-host address=127.0.0.1" % name)
            self.lines.append("broker %s host=%s-host bind=127.0.0.1" % (name, name))
            self.brokers.add(name)
            self._admin()
        d = self.path("keys/broker/" + name)
        return (os.path.join(d, "broker.pem"), os.path.join(d, "broker.key"))

    def keys(self, role, name):
        """onramp-admin's key directory of party `name` (declared if new):
        service.key/.pub (signing), sealing.key/.pub (providers),
        control.pub (control tools)."""
        self._declare(role, name)
        return self.path("keys/%s/%s" % (role, name))

    def _ca(self, name):
        # attack material: a CA no deployment trusts
        key, cert = self.path(name + "-ca.key"), self.path(name + "-ca.pem")
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/O=Onramp tests/CN=%s CA" % name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return (cert, key)

    def _leaf(self, name, subject, ca, extensions, serial=None, days=2):
        return openssl_leaf(self.out, name, subject, ca, extensions, serial, days)

    def client(self, ou, cn, foreign=False):
        """A client certificate (cert, key) with OU = ou and CN = cn: the
        one onramp-admin issued to that principal; for an OU that is no
        role, or from the foreign CA, one made with openssl."""
        if ou in self.ROLES and not foreign:
            d = self.keys(ou, cn)
            return (os.path.join(d, ou + ".pem"), os.path.join(d, ou + ".key"))
        name = "%s-%s%s" % (ou, cn, "-foreign" if foreign else "")
        if name not in self.issued:
            self.issued[name] = self._leaf(name, "/O=Onramp tests/OU=%s/CN=%s" % (ou, cn),
                                           self.foreign_ca if foreign else self.ca,
                                           "extendedKeyUsage=clientAuth\n")
        return self.issued[name]

    def provider_ca(self, prov_id):
        """Provider `prov_id`'s CA (cert, key), onramp-admin's: it issues
        that provider's operational devices' certificates."""
        d = self.keys("provider", prov_id)
        return (os.path.join(d, "provider-ca.pem"), os.path.join(d, "provider-ca.key"))

    def operational(self, prov_id, dev_id, tag="", serial=None, expired=False):
        """An operational device's client certificate (cert, key): CN =
        dev_id, O = prov_id, clientAuth, issued by provider_ca(prov_id)
        (made here: a device's comes from its provider's enrollment). The
        same arguments give the same certificate; another `tag` a new key
        and certificate (a new serial) for the same device. `serial` (an
        int) sets the serial number, else OpenSSL picks one. `expired`: its
        notAfter a day before now (and its notBefore)."""
        name = "operational-%s-%s%s%s" % (prov_id, dev_id, "-" + tag if tag else "",
                                          "-expired" if expired else "")
        if name not in self.issued:
            self.issued[name] = self._leaf(name, "/O=%s/CN=%s" % (prov_id, dev_id),
                                           self.provider_ca(prov_id),
                                           "extendedKeyUsage=clientAuth\n", serial,
                                           -1 if expired else 2)
        return self.issued[name]


def openssl_leaf(directory, name, subject, ca, extensions, serial=None, days=2):
    """A P-256 key and a certificate for `subject` (an openssl -subj) from
    `ca` (cert, key) with `extensions` (openssl x509 -extfile text), valid
    `days` from now (-1: its notAfter a day ago), made with the openssl CLI
    in `directory` as NAME.key and NAME.pem: test material (attackers',
    operational devices'), never a deployment's."""
    key, csr, cert = (os.path.join(directory, name + ".key"),
                      os.path.join(directory, name + ".csr"),
                      os.path.join(directory, name + ".pem"))
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as f:
        f.write(extensions)
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-out", csr, "-subj", subject)
    serial_args = ["-CAcreateserial"] if serial is None else ["-set_serial", str(serial)]
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
        *serial_args, "-out", cert, "-days", str(days), "-extfile", ext)
    return (cert, key)


def cert_serial(cert_path):
    """A certificate's serial number as bytes (as SPEC type 27 carries it)."""
    out = run("openssl", "x509", "-in", cert_path, "-noout", "-serial").strip()
    digits = out.split("=", 1)[1]
    return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)


def bundle(path, cert_paths):
    """Concatenate PEM files into `path` (a cafile); returns `path`."""
    with open(path, "w") as out:
        for cert in cert_paths:
            with open(cert) as f:
                out.write(f.read())
    return path


# -- the broker ---------------------------------------------------------------


# The example's third listener, commented out; enabled with provider CAs.
OPERATIONAL_LISTENER = """#listener 8885
#certfile /etc/onramp/broker.pem
#keyfile /etc/onramp/broker.key
#cafile /etc/onramp/provider-cas.pem
#require_certificate true
#set_tcp_nodelay true
"""
PROVIDER_CA_OPTION = "#plugin_opt_provider_ca_prov-1 /etc/onramp/provider-ca-prov-1.pem\n"


class Broker:
    """mosquitto with the onramp plugin, from the example configuration.

    With `provider_cas` ({provider id: CA certificate path}) the plugin gets
    a plugin_opt_provider_ca_<id> line for each, and the example's third
    listener is enabled on `operational_port`, trusting a bundle of those
    CAs (or `operational_cafile`, to make the TLS layer trust more than the
    plugin does).

    `persistence`: mosquitto persists sessions in DIR/persist/, as the
    example configures (else the fixture turns it off); `conf_extra`: more
    mosquitto configuration lines (e.g. autosave_interval); `debug_log`:
    log every packet (`log_type all`), else the example's log types;
    `name`: another broker of the fabric than NAME (its own certificate,
    Pki.broker), sharing nothing with it."""

    NAME = "test-broker"

    def __init__(self, pki, directory, options=None, services_cafile=None, provider_cas=None,
                 operational_cafile=None, persistence=False, conf_extra=(), debug_log=True,
                 name=None):
        if name is not None:
            self.NAME = name
        self.pki = pki
        self.debug_log = debug_log
        self.dir = directory
        self.grants = os.path.join(directory, "grants")
        self.sessions = os.path.join(directory, "sessions")
        # persistence: keep the example's `persistence true`, in DIR/persist/
        # (else persistence false); conf_extra: more mosquitto lines
        self.persistence = persistence
        self.persist_dir = os.path.join(directory, "persist")
        self.conf_extra = list(conf_extra)
        self.log = os.path.join(directory, "mosquitto.log")
        self.conf = os.path.join(directory, "mosquitto.conf")
        self.bootstrap_port = free_port()
        self.services_port = free_port()
        self.proc = None
        self.options = {"stats_interval": "0.2"}
        self.options.update(options or {})
        self.services_cafile = services_cafile or pki.ca[0]
        self.provider_cas = dict(provider_cas or {})
        self.operational_port = None
        self.operational_cafile = operational_cafile
        if self.provider_cas:
            self.operational_port = free_port()
            if self.operational_cafile is None:
                self.operational_cafile = bundle(os.path.join(directory, "provider-cas.pem"),
                                                 self.provider_cas.values())
        self._write_conf(self.options, self.services_cafile)

    def _ports(self):
        return [p for p in (self.bootstrap_port, self.services_port, self.operational_port)
                if p is not None]

    def _write_conf(self, options, services_cafile):
        with open(EXAMPLE_CONF) as f:
            text = f.read()
        cert, key = self.pki.server if self.NAME == Broker.NAME else self.pki.broker(self.NAME)
        if self.provider_cas:
            for old in (OPERATIONAL_LISTENER, PROVIDER_CA_OPTION):
                if old not in text:
                    raise RuntimeError("example configuration changed: %r not found" % old)
            text = text.replace(OPERATIONAL_LISTENER, "\n".join(
                line[1:] for line in OPERATIONAL_LISTENER.splitlines()) + "\n")
            text = text.replace("listener 8885\n", "listener %d 127.0.0.1\n" %
                                self.operational_port)
            text = text.replace("cafile /etc/onramp/provider-cas.pem",
                                "cafile " + self.operational_cafile)
            text = text.replace(PROVIDER_CA_OPTION, "".join(
                "plugin_opt_provider_ca_%s %s\n" % kv for kv in self.provider_cas.items()))
        subst = [
            ("/usr/lib/x86_64-linux-gnu/mosquitto/onramp_plugin.so", PLUGIN),
            ("plugin_opt_broker_name bootstrap-1", "plugin_opt_broker_name " + self.NAME),
            ("plugin_opt_services_ca /etc/onramp/services-ca.pem",
             "plugin_opt_services_ca " + self.pki.ca[0]),
            ("/var/lib/mosquitto/onramp-grants", self.grants),
            ("/var/lib/mosquitto/onramp-sessions", self.sessions),
            ("cafile /etc/onramp/services-ca.pem", "cafile " + services_cafile),
            ("/etc/onramp/broker.pem", cert),
            ("/etc/onramp/broker.key", key),
            ("persistence true", "persistence true" if self.persistence
             else "persistence false"),
            ("persistence_location /var/lib/mosquitto/\n",
             "persistence_location %s/\n" % self.persist_dir if self.persistence else ""),
            ("listener 8883\n", "listener %d 127.0.0.1\n" % self.bootstrap_port),
            ("listener 8884\n", "listener %d 127.0.0.1\n" % self.services_port),
        ]
        for old, new in subst:
            if old not in text:
                raise RuntimeError("example configuration changed: %r not found" % old)
            text = text.replace(old, new)
        # Options follow the plugin's own lines; replace the example's value
        # where it sets one. conf_extra lines replace the example's lines of
        # the same setting (autosave_interval).
        lines = []
        extra_keys = {line.split()[0] for line in self.conf_extra if line.strip()}
        for line in text.splitlines():
            if line.startswith("plugin_opt_") and line.split()[0][11:] in options:
                continue
            if line.split()[:1] and line.split()[0] in extra_keys:
                continue
            lines.append(line)
            if line.startswith("plugin_opt_grants_file"):
                lines += ["plugin_opt_%s %s" % kv for kv in options.items()]
        user = pwd.getpwuid(os.getuid()).pw_name
        header = ["user " + user, "log_dest file " + self.log] + \
            (["log_type all"] if self.debug_log else []) + self.conf_extra
        if self.persistence:
            os.makedirs(self.persist_dir, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write("\n".join(header + lines) + "\n")

    def start(self, attempts=3):
        """Start and wait until every listener accepts connections. Another
        test may take a port between free_port() and the bind: then try
        again on new ports."""
        for attempt in range(attempts):
            try:
                return self._start_once()
            except RuntimeError as e:
                if "Address already in use" not in str(e) or attempt == attempts - 1:
                    raise
                self.bootstrap_port, self.services_port = free_port(), free_port()
                if self.operational_port is not None:
                    self.operational_port = free_port()
                self._write_conf(self.options, self.services_cafile)

    def _broker_env(self):
        env = dict(os.environ)
        # the broker's OpenSSL settings, as deployed (broker-plugins/README.md)
        env["OPENSSL_CONF"] = BROKER_OPENSSL_CONF
        if BROKER_PRELOAD:
            env["LD_PRELOAD"] = BROKER_PRELOAD
            # Mosquitto itself is not instrumented: leaks at exit are its own.
            env["ASAN_OPTIONS"] = "detect_leaks=0:halt_on_error=1:log_path=" + \
                os.path.join(self.dir, "asan")
            env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1:log_path=" + \
                os.path.join(self.dir, "ubsan")
        return env

    def sanitizer_reports(self):
        """What AddressSanitizer / UBSan reported from the broker, if anything."""
        return sanitizer_reports(self.dir, ("asan.", "ubsan."))

    def _start_once(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], env=self._broker_env(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        for port in self._ports():
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("mosquitto exited (%d): %s\n%s" % (
                        self.proc.returncode, self.proc.stderr.read().decode(),
                        self.log_tail()))
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("mosquitto does not listen on %d:\n%s" % (
                            port, self.log_tail()))
                    time.sleep(0.05)
        self._past_start_second(time.time())
        return self

    @staticmethod
    def _past_start_second(ready):
        """The plugin refuses proofs of possession made before it started or
        in the second it started in (the previous run may have admitted
        them: proto/SPEC.md section 10); a device then makes a fresh one.
        Wait for the next second, so a proof made after start() returns is
        one the plugin admits. The next second by C's time(), which the
        plugin and the proof tools read: the kernel's coarse clock, a tick
        or more (on a busy VM) behind time.time(); a proof made just past
        the second by the precise clock was refused as stale."""
        target = math.floor(ready) + 1
        while time.clock_gettime(CLOCK_REALTIME_COARSE) < target:
            time.sleep(0.005)

    def stop(self):
        """Stop by PID; fail if a sanitizer reported anything meanwhile."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reaped()

    def _reaped(self):
        """The process has ended: forget it; fail on sanitizer reports."""
        self.proc.stderr.close()
        self.proc = None
        reports = self.sanitizer_reports()
        if reports:
            raise AssertionError("sanitizer report from the broker:\n" + reports)

    def restart(self):
        self.stop()
        return self.start()

    def assert_refuses_to_start(self, test, why):
        """For `test` (a TestCase): the broker must not start, and its log
        must say `why`."""
        try:
            with test.assertRaises(RuntimeError):
                self.start(attempts=1)
        finally:
            self.stop()
        test.assertIn(why, self.log_text())

    def kill(self):
        """Power cut: SIGKILL by PID, no chance to save anything. start()
        brings it back on the same ports."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self._reaped()

    def log_tail(self, lines=30):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    # -- clients --

    def service(self, role, svc, client_id=None, cert=None, **kwargs):
        """A raw MQTT v5 client for a service or monitor certificate
        (role: the OU), connected; the CONNACK reason in .connack. kwargs
        go to connect() (clean=False, session_expiry=... for a persistent
        session, as Onramp's services keep)."""
        short = {"manufacturer": "mfr", "operator": "op", "provider": "prov",
                 "monitor": "monitor", "control": "ctl"}.get(role, role)
        cert = cert or self.pki.client(role, svc)
        c = mqtt5.Client(self.services_port, client_id or "%s.%s" % (short, svc),
                         self.pki.ca[0], cert[0], cert[1])
        c.connack = c.connect(**kwargs)
        return c

    def watching(self, test, topic, name):
        """A monitor client `name` subscribed to `topic`, disconnected when
        `test` ends."""
        c = self.service("monitor", name)
        test.addCleanup(c.disconnect)
        test.assertEqual(c.subscribe(topic), 1)
        return c

    def speaking_as(self, test, role, svc, client_id):
        """A client with service `svc`'s certificate under its own client id
        (beside the service's), disconnected when `test` ends."""
        c = self.service(role, svc, client_id=client_id)
        test.addCleanup(c.disconnect)
        test.assertEqual(c.connack, 0)
        return c

    def operational(self, prov_id, dev_id, cert=None, client_id=None, **kwargs):
        """A raw MQTT v5 client on the operational listener with the
        certificate provider `prov_id` issued device `dev_id` (or `cert`,
        a (cert, key) pair), client id `dev_id` unless given; .connack holds
        the CONNACK reason, None if the TLS layer or the broker closed the
        connection first. kwargs go to connect() (will=..., clean=...)."""
        cert = cert or self.pki.operational(prov_id, dev_id)
        c = mqtt5.Client(self.operational_port, dev_id if client_id is None else client_id,
                         self.pki.ca[0], cert[0], cert[1])
        try:
            c.connack = c.connect(**kwargs)
        except OSError:  # ssl.SSLError included: a certificate refused by TLS
            c.connack = None
            c.drop()
        return c


# LeakSanitizer's word that it could not stop one thread for its leak
# check at exit (the thread was ending): a note about the check, not a
# finding; any leak it then finds is reported on lines of its own.
LSAN_THREAD_NOTE = re.compile(r"^==\d+==Unable to get registers from thread \d+\.\n?", re.M)


def sanitizer_reports(directory, prefixes):
    """The sanitizers' reports in the files of `directory` whose names start
    with one of `prefixes` (their log_path), joined; "" for none."""
    reports = []
    for name in sorted(os.listdir(directory)):
        if name.startswith(prefixes):
            with open(os.path.join(directory, name)) as f:
                text = LSAN_THREAD_NOTE.sub("", f.read())
            if text.strip():
                reports.append(text)
    return "\n".join(reports)


class Device:
    """A device identity: a key file and its device id."""

    def __init__(self, directory, name):
        self.key = os.path.join(directory, name + ".key")
        self.id = run(TEST_POP, "new-key", self.key).strip()

    def proof(self, broker_name, client_id=None, timestamp=None):
        args = [TEST_POP, "proof", self.key, broker_name]
        if client_id is not None or timestamp is not None:
            args.append(client_id or self.id)
        if timestamp is not None:
            args.append(str(timestamp))
        return bytes.fromhex(run(*args).strip())

    def up(self, role, svc):
        return "onr/1/d/%s/up/%s/%s" % (self.id, role, svc)

    @property
    def down(self):
        return "onr/1/d/%s/down" % self.id

    def connect(self, broker, proof=None, client_id=None, **kwargs):
        """A raw MQTT v5 client connected with a proof; .connack holds the
        CONNACK reason code."""
        c = mqtt5.Client(broker.bootstrap_port, client_id or self.id, broker.pki.ca[0])
        c.connack = c.connect(auth_method="onramp-pop-v1",
                              auth_data=proof if proof is not None else self.proof(broker.NAME),
                              **kwargs)
        return c


# -- msgpack, just enough for envelopes (proto/SPEC.md sections 3, 4) ---------


def pack(obj):
    if obj is None:
        return b"\xc0"
    if isinstance(obj, bool):
        return b"\xc3" if obj else b"\xc2"
    if isinstance(obj, int):
        if 0 <= obj < 128:
            return bytes([obj])
        return b"\xcf" + struct.pack(">Q", obj)
    if isinstance(obj, str):
        b = obj.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(obj, bytes):
        if len(obj) < 256:
            return b"\xc4" + bytes([len(obj)]) + obj
        return b"\xc5" + struct.pack(">H", len(obj)) + obj
    if isinstance(obj, list):
        return bytes([0x90 | len(obj)]) + b"".join(pack(x) for x in obj)
    if isinstance(obj, dict):
        return bytes([0x80 | len(obj)]) + b"".join(pack(k) + pack(v) for k, v in obj.items())
    raise TypeError(type(obj))


def unpack(data):
    obj, pos = _unpack(data, 0)
    if pos != len(data):
        raise ValueError("trailing bytes")
    return obj


def _unpack(d, p):
    t = d[p]
    p += 1
    if t < 0x80:
        return t, p
    if 0x80 <= t <= 0x8F or t in (0xDE, 0xDF):
        n = t & 0x0F if t <= 0x8F else struct.unpack(">H" if t == 0xDE else ">I",
                                                      d[p:p + (2 if t == 0xDE else 4)])[0]
        p += 0 if t <= 0x8F else (2 if t == 0xDE else 4)
        out = {}
        for _ in range(n):
            k, p = _unpack(d, p)
            v, p = _unpack(d, p)
            out[k] = v
        return out, p
    if 0x90 <= t <= 0x9F:
        out = []
        for _ in range(t & 0x0F):
            v, p = _unpack(d, p)
            out.append(v)
        return out, p
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return d[p:p + n].decode(), p + n
    if t == 0xC0:
        return None, p
    if t in (0xC2, 0xC3):
        return t == 0xC3, p
    sizes = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
    if t in sizes:
        n = sizes[t]
        return int.from_bytes(d[p:p + n], "big"), p + n
    if t in (0xC4, 0xD9):
        n = d[p]
        raw = d[p + 1:p + 1 + n]
        return (raw if t == 0xC4 else raw.decode()), p + 1 + n
    if t in (0xC5, 0xDA):
        n = struct.unpack(">H", d[p:p + 2])[0]
        raw = d[p + 2:p + 2 + n]
        return (raw if t == 0xC5 else raw.decode()), p + 2 + n
    raise ValueError("msgpack type %#x not expected" % t)


GRANT, REVOKE, CONTROL_RESULT, BROKER_STATS, CERT_REVOKE = 20, 21, 22, 23, 27
ROLE_OPERATOR, ROLE_PROVIDER, ROLE_BROKER = 3, 4, 6
CONTROL_TOPIC = "$CONTROL/onramp/v1"


def envelope(msg_type, role, sender, body, msg_id=None, timestamp=None):
    """An unauthenticated envelope (authenticator nil), SPEC section 4."""
    msg_id = msg_id or os.urandom(16)
    return msg_id, pack([1, msg_type, msg_id, timestamp or int(time.time()), role, sender,
                         body, None])


def decode_envelope(data):
    env = unpack(data)
    return {"type": env[1], "id": env[2], "time": env[3], "role": env[4],
            "sender": env[5], "body": env[6]}


def control_result(client, msg_type, role, sender, body, timeout=5.0):
    """Publish a request to $CONTROL/onramp/v1 as `client` and wait for the
    plugin's answer to it: the control result's body (re, code, reason,
    epoch); None if the publish was refused or no answer came. A request
    the plugin could not decode is answered with an all-zero `re`: send one
    request at a time."""
    msg_id, env = envelope(msg_type, role, sender, body)
    client.messages.clear()
    if client.publish(CONTROL_TOPIC, env) != 0:
        return None
    while True:
        answer = client.wait_message(CONTROL_TOPIC + "/response", timeout)
        if answer is None:
            return None
        result = decode_envelope(answer[1])
        if result["type"] == CONTROL_RESULT and result["body"]["re"] in (msg_id, bytes(16)):
            return result["body"]


def control(client, msg_type, role, sender, body, timeout=5.0):
    """control_result's code; None if the publish was refused or no answer
    came."""
    result = control_result(client, msg_type, role, sender, body, timeout)
    return None if result is None else result["code"]


# -- counters -----------------------------------------------------------------


class Counters:
    """The plugin's counters as a monitor reads them (broker_stats envelopes
    on onr/1/s/broker/{name}/ev), through one subscription kept open.

    After an action has completed (its answer arrived on another
    connection), what the monitor's socket holds was published before the
    broker handled it: the broker runs on one thread and loopback delivers
    at once. So `after_action` drains the socket and takes the next
    publication, which reflects the action."""

    def __init__(self, broker):
        self.broker = broker
        self.monitor = None

    def _connect(self):
        self.monitor = self.broker.service("monitor", "counters")
        if self.monitor.connack != 0:
            raise AssertionError("monitor refused: %r\n%s" % (self.monitor.connack,
                                                              self.broker.log_tail()))
        self.monitor.subscribe("onr/1/s/broker/+/ev")

    def _next(self, drain):
        if self.monitor is None or not self.monitor.alive(0):
            self._connect()
        if drain:
            self.monitor.collect(0.05)
        seen = len(self.monitor.messages)
        # published every second; a broker busy with a flood on a loaded
        # machine can be late by many (returns at the first one)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for topic, payload, _ in self.monitor.collect(0.2)[seen:]:
                env = decode_envelope(payload)
                if env["type"] == BROKER_STATS:
                    self.monitor.messages.clear()
                    return env["body"]
        raise AssertionError("no counters published\n" + self.broker.log_tail())

    def read(self):
        """Counters that reflect every action completed before the call."""
        return self._next(drain=True)

    def wait_for(self, name, at_least):
        """Wait until counter `name` reaches `at_least`; the counters."""
        deadline = time.monotonic() + 10
        stats = self.read()
        while stats[name] < at_least:
            if time.monotonic() > deadline:
                raise AssertionError("counter %s stayed at %d, wanted >= %d\n%s" % (
                    name, stats[name], at_least, self.broker.log_tail()))
            stats = self._next(drain=False)
        return stats

    def close(self):
        if self.monitor is not None:
            self.monitor.disconnect()
            self.monitor = None


class Fabric:
    """A temp directory, a PKI and a started broker; use as a context.

    providers: ids whose CAs (Pki.provider_ca) the plugin takes operational
    devices from, on broker.operational_port. foreign_ca_trusted: the TLS
    layer of the listeners that ask for certificates also trusts the
    foreign CA (and, with providers, the operational listener trusts every
    CA of the PKI): only the plugin then tells good certificates from bad."""

    def __init__(self, options=None, foreign_ca_trusted=False, providers=(), persistence=False,
                 broker_conf=(), broker_debug_log=True):
        self.dir = tempfile.mkdtemp(prefix="onr-it-")
        self.pki = Pki(self.dir)
        cafile = None
        if foreign_ca_trusted:
            cafile = os.path.join(self.dir, "both-cas.pem")
            with open(cafile, "w") as out:
                for ca in (self.pki.ca[0], self.pki.foreign_ca[0]):
                    with open(ca) as f:
                        out.write(f.read())
        provider_cas = {prov: self.pki.provider_ca(prov)[0] for prov in providers}
        operational_cafile = None
        if provider_cas and foreign_ca_trusted:
            operational_cafile = bundle(os.path.join(self.dir, "all-cas.pem"),
                                        list(provider_cas.values()) +
                                        [self.pki.ca[0], self.pki.foreign_ca[0]])
        self.broker = Broker(self.pki, self.dir, options, cafile, provider_cas,
                             operational_cafile, persistence, broker_conf,
                             broker_debug_log).start()
        self.counters = Counters(self.broker)
        self._devices = 0

    def device(self):
        self._devices += 1
        return Device(self.dir, "device%d" % self._devices)

    def close(self):
        try:
            self.counters.close()
            self.broker.stop()
        finally:
            remove_tree(self.dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FabricTestCase(unittest.TestCase):
    """Tests sharing one fabric per class; `options` configure its plugin,
    `providers` and `foreign_ca_trusted` are passed to Fabric."""

    options = None
    providers = ()
    foreign_ca_trusted = False

    @classmethod
    def setUpClass(cls):
        cls.fabric = Fabric(options=cls.options, foreign_ca_trusted=cls.foreign_ca_trusted,
                            providers=cls.providers)
        cls.broker = cls.fabric.broker
        cls.pki = cls.fabric.pki
        cls.counters = cls.fabric.counters

    @classmethod
    def tearDownClass(cls):
        cls.fabric.close()
