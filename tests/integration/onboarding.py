"""Onboarding fabrics for integration tests: the broker and plugin of
fabric.py plus real Onramp services (onramp-manufacturer, onramp-provider),
devices minted by onramp-factory and run by onramp-device, and pairing by
onrampctl. Every process is started here and stopped by its PID.

Environment (tests/integration/CMakeLists.txt): ONR_BIN_DIR, the build
tree's bin directory with the programs; ONR_TEST_STORE=postgres keeps every
service's state in a database and role of its own in a private PostgreSQL
cluster (postgres.py) instead of a SQLite file; plus fabric.py's variables.
"""

import os
import re
import signal
import sqlite3
import subprocess
import time
import unittest

import fabric
import mqtt5
import postgres

BIN_DIR = os.environ.get("ONR_BIN_DIR", "")


def program(name):
    return os.path.join(BIN_DIR, name)


def new_key(path):
    """A new P-256 private key (PEM, 0600) at `path`: an attacker's (the
    fabric's own keys are onramp-admin's, fabric.Pki)."""
    fabric.run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
               "ec_paramgen_curve:P-256", "-out", path)
    os.chmod(path, 0o600)
    return path


def new_sealing_key(path):
    """A new X25519 private key (PKCS#8 PEM, 0600) at `path`: test material
    (integration.examples), as new_key's."""
    fabric.run("openssl", "genpkey", "-algorithm", "X25519", "-out", path)
    os.chmod(path, 0o600)
    return path


def public_key(key, pub):
    """The PEM public key of a P-256 or X25519 key file, at `pub`."""
    fabric.run("openssl", "pkey", "-in", key, "-pubout", "-out", pub)
    return pub


def field(text, key):
    """The last value of key= in a program's key=value output."""
    found = re.findall(r"\b%s=(\S+)" % re.escape(key), text)
    return found[-1] if found else None


# What the tests check in the services' databases, as SQL expressions over
# a row of the operator's subscribers or of the provider's claims and
# certificates: the subscription's state (services/operator/lifecycle.h),
# the claim's (services/provider/lifecycle.h), and whether a confirmed
# delivery is still in flight (the table pending: <onramp/svc_delivery.h>).
OP_ATTACHED = "(state IN (1, 2))"  # attached, or attached and aligned
OP_SUSPENDED = "(state = 3)"
OP_GRANTED = ("(state IN (1, 2) AND NOT EXISTS (SELECT 1 FROM pending"
              " WHERE pending.key = 'grant/' || subscribers.dev))")  # and confirmed
OP_KEY_STORED = ("(state IN (1, 2) AND NOT EXISTS (SELECT 1 FROM pending"
                 " WHERE pending.key = 'app_key/' || subscribers.dev))")  # and confirmed
PROV_CLAIMED = "(state >= 2)"  # the manufacturer confirmed it
PROV_REVOKE_CONFIRMED = ("(revoked_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pending"
                         " WHERE pending.key = 'cert/' || lower(hex(certificates.serial))))")


def wait_until(predicate, timeout=20, what="condition"):
    """Poll `predicate` until it holds; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class Store:
    """Where one service keeps its state: the SQLite file `filename` in
    `directory`, or (ONR_TEST_STORE=postgres) a database and role of its
    own in the shared private cluster. rows() and execute() take SQL with
    SQLite's ? placeholders on either."""

    def __init__(self, kind, directory, filename, store=None):
        """store: "sqlite" or "postgres" (default: ONR_TEST_STORE's)."""
        self.path = os.path.join(directory, filename)
        self.name = None
        if (store or postgres.store()) == "postgres":
            self.where, self.password_file, self.name = postgres.new_party(kind, directory)

    def conf_lines(self):
        if self.name is None:
            return ["database " + self.path]
        return ["database " + self.where, "database_password_file " + self.password_file]

    def rows(self, sql, *args):
        if self.name is not None:
            return postgres.shared().rows(self.name, sql, *args)
        with sqlite3.connect("file:%s?mode=ro" % self.path, uri=True) as db:
            return db.execute(sql, args).fetchall()

    def execute(self, sql, *args):
        if self.name is not None:
            return postgres.shared().execute(self.name, sql, *args)
        with sqlite3.connect(self.path) as db:
            db.execute(sql, args)

    def files(self):
        """The files that hold the state (none of ours for PostgreSQL)."""
        return [] if self.name is not None else [self.path]

    def integrity_errors(self):
        """What SQLite's checks find wrong (PostgreSQL checks its own
        constraints and pages as it writes)."""
        if self.name is not None:
            return []
        errors = [r for r in self.rows("PRAGMA integrity_check") if r != ("ok",)]
        return errors + self.rows("PRAGMA foreign_key_check")


class Process:
    """A program started with its output in a log file; stopped by PID."""

    def __init__(self, name, argv, directory):
        self.name = name
        self.argv = argv
        self.dir = directory
        self.log = os.path.join(directory, name + ".log")
        self.proc = None
        self.offset = 0
        self.env_extra = {}  # more environment for the next start()

    def _env(self):
        env = dict(os.environ)
        env.update(self.env_extra)
        # In the sanitizer run our programs carry ASan/UBSan: reports go to
        # files next to the log and fail the test at stop().
        env["ASAN_OPTIONS"] = "log_path=" + os.path.join(self.dir, self.name + ".asan")
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:log_path=" + \
            os.path.join(self.dir, self.name + ".ubsan")
        return env

    def start(self):
        out = open(self.log, "ab")
        # a restarted program appends: text() is what this run wrote
        self.offset = out.tell()
        self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                     env=self._env())
        out.close()
        return self

    def text(self):
        with open(self.log, "rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")

    def wait_for(self, needle, timeout=15, count=1):
        """Wait until the log holds `needle` `count` times; the log."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if text.count(needle) >= count:
                return text
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("%s exited (%d) before '%s':\n%s" % (
                    self.name, self.proc.returncode, needle, text[-3000:]))
            if time.monotonic() > deadline:
                raise AssertionError("%s: no '%s' within %d s:\n%s" % (
                    self.name, needle, timeout, text[-3000:]))
            time.sleep(0.05)

    def sanitizer_reports(self):
        return fabric.sanitizer_reports(self.dir, (self.name + ".asan.", self.name + ".ubsan."))

    def pause(self):
        """SIGSTOP: the program stands still, its connections open."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        """SIGCONT after pause()."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self):
        """Power cut: SIGKILL, no chance to clean up."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def exit_status(self, timeout=15):
        """Wait for the program to end by itself; its exit status."""
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError("%s still running after %d s:\n%s" % (
                    self.name, timeout, self.text()[-3000:]))
        return self.stop()

    def stop(self, timeout=10):
        """SIGTERM and wait; the exit status. Fails on sanitizer reports."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        reports = self.sanitizer_reports()
        if reports:
            raise AssertionError("sanitizer report from %s:\n%s" % (self.name, reports))
        return rc


def add_instances(onb, svc, count):
    """Make `svc` (a Manufacturer, Provider or Operator not yet started)
    `count` instances sharing its database: its process becomes instance
    1, the others run the same configuration as instances 2.. (client ids
    {role}.{id}.{n}, $share subscriptions). svc.instances lists them all."""
    base = svc.process
    svc.instances = [base]
    if count < 2:
        return
    base.argv = base.argv + ["-o", "instance=1"]
    for n in range(2, count + 1):
        p = Process("%s.%d" % (base.name, n), base.argv[:-1] + ["instance=%d" % n], base.dir)
        svc.instances.append(onb.track(p))


def start_instances(svc):
    """Start the instances after the first (started by svc.start())."""
    for p in getattr(svc, "instances", [])[1:]:
        p.start()
        p.wait_for("subscribed")


def restart_armed(service, die_after=None):
    """Stop `service` (a Manufacturer, Provider or Operator), start it
    again, armed to die (SIGKILL) right after committing a message of type
    `die_after` (None: not armed; ONR_TEST_DIE_AFTER_COMMIT, test builds
    only)."""
    service.process.stop()
    service.process.env_extra = ({"ONR_TEST_DIE_AFTER_COMMIT": str(die_after)}
                                 if die_after else {})
    service.start()


def stop_all(processes):
    """Stop each (Process, broker) by its PID; what their sanitizers
    reported, as a list of messages."""
    errors = []
    for p in processes:
        try:
            p.stop()
        except AssertionError as e:
            errors.append(str(e))
    return errors


class Manufacturer:
    """onramp-factory new-manufacturer plus a running onramp-manufacturer."""

    def __init__(self, onb, mfr_id, providers=(), extra=None):
        self.onb = onb
        self.id = mfr_id
        self.dir = os.path.join(onb.dir, "mfr-" + mfr_id)
        fabric.run(program("onramp-factory"), "new-manufacturer", "--id", mfr_id,
                   "--dir", self.dir)
        cert, key = onb.pki.client("manufacturer", mfr_id)
        self.conf = os.path.join(self.dir, "manufacturer.conf")
        lines = onb.broker_lines() + ["broker_ca " + onb.pki.ca[0], "cert " + cert,
                                      "key " + key]
        for prov in providers:
            lines.append("provider %s %s" % (prov.id, prov.signing_pub))
        for k, v in (extra or {}).items():
            lines.append("%s %s" % (k, v))
        self.store = Store("mfr", self.dir, "manufacturer.db")
        if self.store.name is not None:  # else the factory's "database manufacturer.db"
            lines += self.store.conf_lines()
        with open(self.conf, "a") as f:
            f.write("\n".join(lines) + "\n")
        self.process = Process("manufacturer-" + mfr_id,
                               [program("onramp-manufacturer"), "--config", self.conf],
                               onb.dir)

    @property
    def signing_pub(self):
        return os.path.join(self.dir, "service.pub")

    @property
    def sealing_pub(self):
        return os.path.join(self.dir, "sealing.pub")

    def start(self):
        self.process.start()
        # subscribed on every broker
        self.process.wait_for("subscribed", count=len(self.onb.brokers))
        return self

    def mint(self, count, out=None, brokers=None):
        """Mint `count` devices (in `out`, default DIR/devices-ID) for
        `brokers` (fabric.Broker objects, in device.conf's order; default
        the fabric's broker); their state directories."""
        out = out or os.path.join(self.onb.dir, "devices-" + self.id)
        args = []
        for b in brokers or self.onb.brokers:
            args += ["--broker", b.NAME, "127.0.0.1", str(b.bootstrap_port)]
        text = fabric.run(program("onramp-factory"), "mint", "--manufacturer", self.dir,
                          "--out", out, "--count", str(count), *args,
                          "--broker-ca", self.onb.pki.ca[0])
        return [os.path.join(out, line.split()[0]) for line in text.splitlines() if line]

    def factory_kit(self, devs, out=None):
        """onramp-factory kit of the device ids `devs` (kit directories in
        `out`, default DIR/kits-ID); (exit status, stdout, stderr)."""
        out = out or os.path.join(self.onb.dir, "kits-" + self.id)
        proc = subprocess.run([program("onramp-factory"), "kit", "--manufacturer", self.dir,
                               "--out", out] + list(devs), capture_output=True, text=True)
        return proc.returncode, proc.stdout, proc.stderr

    def kit(self, state_dirs):
        """The minted devices of `state_dirs` grouped in a new kit: (kit id,
        kit label)."""
        rc, out, err = self.factory_kit([os.path.basename(d) for d in state_dirs])
        if rc != 0:
            raise AssertionError("onramp-factory kit failed (%d): %s" % (rc, out + err))
        kit, label = out.split()
        return kit, label

    def rows(self, sql, *args):
        return self.store.rows(sql, *args)

    def execute(self, sql, *args):
        return self.store.execute(sql, *args)


class Provider:
    """A running onramp-provider with its keys and configuration."""

    def __init__(self, onb, prov_id):
        self.onb = onb
        self.id = prov_id
        self.dir = os.path.join(onb.dir, "prov-" + prov_id)
        os.makedirs(self.dir, mode=0o700)
        keys = onb.pki.keys("provider", prov_id)
        self.signing_key = os.path.join(keys, "service.key")
        self.signing_pub = os.path.join(keys, "service.pub")
        self.sealing_key = os.path.join(keys, "sealing.key")
        self.sealing_pub = os.path.join(keys, "sealing.pub")
        self.conf = os.path.join(self.dir, "provider.conf")
        self.store = Store("prov", self.dir, "provider.db")
        self.process = None

    def configure(self, manufacturers, operators, default_operator, controllers, plans=None,
                  quick_timers=True, extra=None):
        """plans: account -> (qos, charging group, cap); "*" for the others.
        quick_timers: retry_after 1 and resend 2 (tests), else the defaults.
        extra: more configuration lines, key -> value."""
        cert, key = self.onb.pki.client("provider", self.id)
        ca_cert, ca_key = self.onb.pki.provider_ca(self.id)
        self.plans = plans or {"*": (0, "default", 0)}
        port = getattr(self.onb.broker, "operational_port", None) or 1
        lines = ["id " + self.id] + self.onb.broker_lines() + [
                 "broker_ca " + self.onb.pki.ca[0], "cert " + cert, "key " + key,
                 "signing_key " + self.signing_key, "sealing_key " + self.sealing_key,
                 *self.store.conf_lines(),
                 "default_operator " + default_operator,
                 "ca_cert " + ca_cert, "ca_key " + ca_key,
                 "endpoint mqtts://127.0.0.1:%d" % port,
                 "service_broker_ca " + self.onb.pki.ca[0]]
        if quick_timers:
            lines += ["retry_after 1", "resend 2"]
        for account, (qos, charging, cap) in self.plans.items():
            lines.append("plan %s %d %s %d" % (account, qos, charging, cap))
        for m in manufacturers:
            lines.append("manufacturer %s %s %s" % (m.id, m.signing_pub, m.sealing_pub))
        for op_id, pub in operators.items():
            lines.append("operator %s %s" % (op_id, pub))
        for ctl in controllers:
            lines.append("controller %s %s" % (ctl.id, ctl.pub))
        for k, v in (extra or {}).items():
            lines.append("%s %s" % (k, v))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.process = Process("provider-" + self.id,
                               [program("onramp-provider"), "--config", self.conf],
                               self.onb.dir)

    def start(self):
        self.process.start()
        # subscribed on every broker
        self.process.wait_for("subscribed", count=len(self.onb.brokers))
        return self

    def rows(self, sql, *args):
        return self.store.rows(sql, *args)

    def execute(self, sql, *args):
        return self.store.execute(sql, *args)


class Operator:
    """A running onramp-operator: its keys, OP file and configuration."""

    def __init__(self, onb, op_id, manufacturers, providers, imsi_range=None,
                 iccid_range=None, extra=None, plmn="00101"):
        self.onb = onb
        self.id = op_id
        self.dir = os.path.join(onb.dir, "op-" + op_id)
        os.makedirs(self.dir, mode=0o700)
        self.store = Store("op", self.dir, "operator.db")
        onb.operator_key(op_id)  # the key providers already know
        self.signing_key = os.path.join(onb.pki.keys("operator", op_id), "service.key")
        self.op_file = os.path.join(self.dir, "op.hex")
        with open(self.op_file, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        os.chmod(self.op_file, 0o600)
        with open(self.op_file) as f:
            self.op_hex = f.read().strip()
        cert, key = onb.pki.client("operator", op_id)
        lines = ["id " + op_id] + onb.broker_lines() + [
                 "broker_ca " + onb.pki.ca[0], "cert " + cert, "key " + key,
                 "signing_key " + self.signing_key, *self.store.conf_lines(),
                 "op_file " + self.op_file, "plmn " + plmn, "apn iot.onramp.test",
                 "imsi_range " + " ".join(imsi_range or ("001010000000001",
                                                         "001010000099999")),
                 "iccid_range " + " ".join(iccid_range or ("894900100000000001",
                                                           "894900100000099999"))]
        for m in manufacturers:
            lines.append("manufacturer %s %s" % (m.id, os.path.join(m.dir, "voucher.pub")))
        for p in providers:
            lines.append("provider %s %s %s" % (p.id, p.signing_pub, p.sealing_pub))
        for k, v in (extra or {}).items():
            lines.append("%s %s" % (k, v))
        self.conf = os.path.join(self.dir, "operator.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.process = Process("operator-" + op_id,
                               [program("onramp-operator"), "--config", self.conf], onb.dir)


    def start(self):
        self.process.start()
        # subscribed on every broker
        self.process.wait_for("subscribed", count=len(self.onb.brokers))
        return self

    def rows(self, sql, *args):
        return self.store.rows(sql, *args)

    def execute(self, sql, *args):
        return self.store.execute(sql, *args)

    def unconfirm_key(self, dev, due=True):
        """As if the provider had never confirmed `dev`'s application key:
        it is pending again, due now (the resend tick sends it; not `due`:
        never resent, only waiting for an answer). The id it was "sent"
        with."""
        (kid, sealed, imsi, iccid, prov, sqn), = self.rows(
            "SELECT kid, app_key, imsi, iccid, prov, key_sqn FROM subscribers WHERE dev = ?",
            dev)
        body = fabric.pack({"dev": dev, "kid": kid, "sealed": sealed, "imsi": imsi,
                            "iccid": iccid, "sqn": sqn})
        msg_id = os.urandom(16)
        self.execute("INSERT INTO pending (peer, key, kind, topic, type, body, msg_id,"
                     " attempts, next_at, created_at) VALUES (?, ?, 'app_key', ?, 24, ?, ?,"
                     " 1, ?, 0)", prov, "app_key/" + dev, "onr/1/s/prov/%s/in" % prov,
                     body, msg_id, 0 if due else 2 ** 62)
        return msg_id


class Controller:
    """onrampctl with a control certificate (OU=control)."""

    def __init__(self, onb, ctl_id):
        self.onb = onb
        self.id = ctl_id
        self.cert, self.key = onb.pki.client("control", ctl_id)
        self.pub = os.path.join(onb.pki.keys("control", ctl_id), "control.pub")

    def pair(self, provider, label, account, operator=None, timeout=20):
        """onrampctl pair; (exit status, stdout + stderr)."""
        proc = subprocess.run(self._pair_argv(provider, label, account, operator, timeout),
                              capture_output=True, text=True)
        return proc.returncode, proc.stdout + proc.stderr

    def pair_many(self, provider, labels, account, parallel=16, timeout=60):
        """Pair every label, `parallel` onrampctl at a time; (the first
        failing exit status or 0, the outputs)."""
        status, outputs, pending = 0, [], list(labels)
        while pending:
            batch, pending = pending[:parallel], pending[parallel:]
            procs = [subprocess.Popen(self._pair_argv(provider, label, account, None, timeout),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True) for label in batch]
            for p in procs:
                out, _ = p.communicate()
                outputs.append(out)
                if p.returncode != 0 and status == 0:
                    status = p.returncode
        return status, "".join(outputs)

    def pair_labels(self, provider, path, account=None, operator=None, parallel=None,
                    timeout=60):
        """onrampctl pair --labels PATH; (exit status, stdout, stderr)."""
        argv = [program("onrampctl"), "pair", "--provider", provider.id,
                "--provider-key", provider.signing_pub, "--labels", path,
                "--host", "127.0.0.1", "--port", str(self.onb.broker.services_port),
                "--cafile", self.onb.pki.ca[0], "--cert", self.cert, "--key", self.key,
                "--timeout", str(timeout)]
        for flag, value in (("--account", account), ("--operator", operator),
                            ("--parallel", parallel)):
            if value is not None:
                argv += [flag, str(value)]
        proc = subprocess.run(argv, capture_output=True, text=True)
        return proc.returncode, proc.stdout, proc.stderr

    def release(self, provider, dev, timeout=20, command="release"):
        """onrampctl release (or revoke); (exit status, stdout + stderr)."""
        argv = [program("onrampctl"), command, "--provider", provider.id,
                "--provider-key", provider.signing_pub, "--dev", dev,
                "--host", "127.0.0.1", "--port", str(self.onb.broker.services_port),
                "--cafile", self.onb.pki.ca[0], "--cert", self.cert, "--key", self.key,
                "--timeout", str(timeout)]
        proc = subprocess.run(argv, capture_output=True, text=True)
        return proc.returncode, proc.stdout + proc.stderr

    def _pair_argv(self, provider, label, account, operator, timeout):
        argv = [program("onrampctl"), "pair", "--provider", provider.id,
                "--provider-key", provider.signing_pub, "--label", label,
                "--account", account, "--host", "127.0.0.1",
                "--port", str(self.onb.broker.services_port), "--cafile", self.onb.pki.ca[0],
                "--cert", self.cert, "--key", self.key, "--timeout", str(timeout)]
        if operator:
            argv += ["--operator", operator]
        return argv


class DeviceRun:
    """onramp-device --state DIR as a process."""

    def __init__(self, onb, state_dir, args=()):
        self.state = state_dir
        self.id = os.path.basename(state_dir)
        self.process = Process("device-" + self.id[:8],
                               [program("onramp-device"), "--state", state_dir] + list(args),
                               onb.dir)

    def label(self):
        with open(os.path.join(self.state, "label.txt")) as f:
            return f.read().strip()


class Onboarding(fabric.Fabric):
    """A fabric plus services; everything stops at close()."""

    def __init__(self, options=None, providers=(), persistence=False, broker_conf=(),
                 broker_debug_log=True, brokers=1, regions=None):
        """providers: the ids whose CAs the service broker trusts (their
        operational devices connect to broker.operational_port);
        persistence, broker_conf, broker_debug_log: as fabric.Broker's.
        brokers: how many bootstrap brokers (the fabric's, then
        test-broker-2, ...: each its own name, certificate and grants); the
        services connect to all (`broker` lines) and devices list all.
        regions: {broker name: MCC} for the services' broker lines."""
        super().__init__(options=options, providers=providers, persistence=persistence,
                         broker_conf=broker_conf, broker_debug_log=broker_debug_log)
        self.processes = []
        self.regions = dict(regions or {})
        self.brokers = [self.broker]
        for i in range(2, brokers + 1):
            directory = os.path.join(self.dir, "broker-%d" % i)
            os.makedirs(directory)
            b = fabric.Broker(self.pki, directory, options=options, persistence=persistence,
                              conf_extra=broker_conf, debug_log=broker_debug_log,
                              name="%s-%d" % (fabric.Broker.NAME, i))
            self.brokers.append(self.track(b))
            b.start()

    def service_broker_name(self, broker):
        """What the services call `broker` (in their log lines and pending
        rows): its name, or "@broker" for the one unnamed broker."""
        return broker.NAME if self.broker_lines()[0].startswith("broker ") else "@broker"

    def broker_lines(self):
        """The services' configuration lines for the brokers: broker_host
        and broker_port for the one unnamed broker, else a `broker` line
        for each."""
        if len(self.brokers) == 1 and not self.regions:
            return ["broker_host 127.0.0.1", "broker_port %d" % self.broker.services_port]
        return ["broker %s 127.0.0.1 %d%s" % (
            b.NAME, b.services_port,
            " region=" + self.regions[b.NAME] if b.NAME in self.regions else "")
            for b in self.brokers]

    def manufacturer(self, mfr_id, providers=(), extra=None):
        m = Manufacturer(self, mfr_id, providers, extra)
        self.processes.append(m.process)
        return m

    def provider(self, prov_id):
        p = Provider(self, prov_id)
        return p

    def operator_key(self, op_id):
        """An operator's signing public key (onramp-admin's; Operator uses
        the key)."""
        return os.path.join(self.pki.keys("operator", op_id), "service.pub")

    def operator(self, op_id, manufacturers, providers, **kwargs):
        o = Operator(self, op_id, manufacturers, providers, **kwargs)
        self.processes.append(o.process)
        return o

    def device(self, state_dir, args=()):
        d = DeviceRun(self, state_dir, args)
        self.processes.append(d.process)
        return d

    def raw_device(self, state_dir):
        """The device's own MQTT connection (its key proves it), subscribed
        to its down topic: to send what the device library never would.
        The caller disconnects it."""
        dev = os.path.basename(state_dir)
        key = os.path.join(state_dir, "identity.key")
        proof = bytes.fromhex(fabric.run(fabric.TEST_POP, "proof", key,
                                         fabric.Broker.NAME).strip())
        c = mqtt5.Client(self.broker.bootstrap_port, dev, self.pki.ca[0])
        connack = c.connect(auth_method="onramp-pop-v1", auth_data=proof)
        suback = c.subscribe("onr/1/d/%s/down" % dev) if connack == 0 else None
        if connack != 0 or suback != 1:
            c.drop()
            raise AssertionError("device %s: CONNACK %s, SUBACK %s" % (dev, connack, suback))
        return c

    def track(self, process):
        self.processes.append(process)
        return process

    def close(self):
        errors = stop_all(self.processes)
        super().close()
        if errors:
            raise AssertionError("\n".join(errors))


def loadgen_result(text):
    """onramp-loadgen's `result key=value ...` line, as a dict."""
    lines = [line for line in text.splitlines() if line.startswith("result ")]
    if len(lines) != 1:
        raise AssertionError("no single result line in:\n" + text[-5000:])
    return dict(kv.split("=", 1) for kv in lines[0].split()[1:])


class Fleet:
    """The smallest whole fabric, for many devices of one kind: manufacturer
    acme, provider prov-a (default operator op-1, one plan for every
    account) and operator op-1, started; plus onrampctl as `ctl`. The
    claim bucket is opened wide: a fleet is paired in a few seconds, which
    the manufacturer would otherwise take for a provider guessing claims.
    The Onboarding must trust prov-a's CA (providers=("prov-a",)).
    quick_timers: the provider's, as Provider.configure's, the operator's
    resend 2 and the manufacturer's retry_after 2: what a crash or a lost
    connection loses comes again in seconds, not at the defaults' 10 s
    (doubling) and 30 s (a benchmark wants the defaults: resending every
    2 s to a busy service is load)."""

    def __init__(self, onb, quick_timers=True, instances=1, options=()):
        """instances: of every service, sharing its database (add_instances;
        with ONR_TEST_STORE=postgres); options: KEY=VALUE overrides (-o)
        for every service."""
        self.onb = onb
        self.ctl = Controller(onb, "fleet")
        self.prov = onb.provider("prov-a")
        self.maker = onb.manufacturer("acme", providers=[self.prov], extra=dict(
            claim_rate=1000000, **({"retry_after": 2} if quick_timers else {})))
        self.prov.configure([self.maker], {"op-1": onb.operator_key("op-1")}, "op-1",
                            [self.ctl], plans={"*": (1, "fleet", 0)}, quick_timers=quick_timers)
        onb.track(self.prov.process)
        self.op = onb.operator("op-1", [self.maker], [self.prov],
                               extra={"resend": 2} if quick_timers else None)
        for svc in (self.maker, self.prov, self.op):
            for o in options:
                svc.process.argv += ["-o", o]
            add_instances(onb, svc, instances)
        for svc in (self.maker, self.prov, self.op):
            svc.start()
            start_instances(svc)

    def mint_and_pair(self, count, parallel=32, out=None, brokers=None):
        """`count` new devices for `brokers` (Manufacturer.mint's), paired
        with account "fleet"; their state directories (all in one
        directory, `out` if given: os.path.dirname of any)."""
        dirs = self.maker.mint(count, out, brokers)
        labels = [DeviceRun(self.onb, d).label() for d in dirs]
        rc, out = self.ctl.pair_many(self.prov, labels, "fleet", parallel=parallel, timeout=120)
        if rc != 0:
            raise AssertionError("pairing failed:\n" + out[-3000:])
        return dirs

    @staticmethod
    def journeys(dirs):
        """{device id: the state its journey file names} of state dirs."""
        states = {}
        for d in dirs:
            with open(os.path.join(d, "journey")) as f:
                states[os.path.basename(d)] = f.read().strip()
        return states

    def servers(self):
        """(name, PID) of every server-side process, for onramp-loadgen
        (every broker, every instance of each service)."""
        brokers = self.onb.brokers
        found = [("broker" if len(brokers) == 1 else "broker " + b.NAME, b.proc.pid)
                 for b in brokers]
        for name, svc in (("manufacturer", self.maker), ("provider", self.prov),
                          ("operator", self.op)):
            processes = getattr(svc, "instances", None) or [svc.process]
            for n, p in enumerate(processes):
                found.append((name + (".%d" % (n + 1) if len(processes) > 1 else ""),
                              p.proc.pid))
        return found

    def loadgen_argv(self, dirs, *extra):
        argv = [program("onramp-loadgen"), "--fleet", os.path.dirname(dirs[0]),
                "--count", str(len(dirs))]
        for name, pid in self.servers():
            argv += ["--server", "%s=%d" % (name, pid)]
        return argv + list(extra)


class FleetTestCase(unittest.TestCase):
    """Tests sharing one Onboarding (trusting prov-a's CA) and a Fleet
    started on it; a class adds to them in set_up_fleet() (a failure
    there stops everything, as tearDownClass does)."""

    brokers = 1   # bootstrap brokers (Onboarding's)
    regions = None

    @classmethod
    def setUpClass(cls):
        cls.onb = Onboarding(providers=("prov-a",), brokers=cls.brokers, regions=cls.regions)
        try:
            cls.fleet = Fleet(cls.onb)
            cls.set_up_fleet()
        except BaseException:
            cls.onb.close()
            raise

    @classmethod
    def set_up_fleet(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        cls.onb.close()
