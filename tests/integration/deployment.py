"""Fabrics deployed by onramp-admin, for tests, the demo and the bench: a
topology is written, `onramp-admin --local` writes every host's files into
DIR/out, and the broker and the services run from those files as written.
The one change: mosquitto's configuration gets a `user` line first, so the
broker keeps this user's rights to read them (run as root, it would become
the `mosquitto` user). Everything runs on 127.0.0.1 and is stopped by PID.

Environment: as onboarding.py (ONR_BIN_DIR, ONR_PLUGIN, ...).
"""

import os
import pwd
import re
import subprocess
import tempfile

import fabric
import onboarding


def admin_argv(topology, out, *extra):
    return [onboarding.program("onramp-admin"), "--topology", topology, "--out", out] + \
        list(extra)


def parse_report(stdout):
    """onramp-admin's report: {path under OUT: created|updated|kept}."""
    report = {}
    for line in stdout.splitlines():
        m = re.match(r"^(created|updated|kept) +(\S+)$", line)
        if m:
            report[m.group(2)] = m.group(1)
    return report


class DeployedBroker(fabric.Broker):
    """mosquitto with the configuration onramp-admin rendered for broker
    `name` on `host` (its listeners on the topology's ports), with the
    OpenSSL settings its systemd drop-in names."""

    def __init__(self, dep, host, name, bootstrap_port, services_port, operational_port=None):
        self.NAME = name
        self.pki = dep.pki
        self.dir = os.path.join(dep.dir, "broker-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.rendered = dep.host_path(host, "/etc/mosquitto/mosquitto.conf")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log = dep.host_path(host, "/var/log/mosquitto/mosquitto.log")
        self.grants = dep.host_path(host, "/var/lib/mosquitto/onramp-grants")
        self.bootstrap_port = bootstrap_port
        self.services_port = services_port
        self.operational_port = operational_port
        self.proc = None
        with open(dep.host_path(host, "/etc/systemd/system/mosquitto.service.d/onramp.conf")) as f:
            self.openssl_conf = re.search(r"^Environment=OPENSSL_CONF=(\S+)$", f.read(),
                                          re.M).group(1)
        self._write_conf()

    def _write_conf(self, *unused):
        with open(self.rendered) as f:
            text = f.read()
        user = pwd.getpwuid(os.getuid()).pw_name
        with open(self.conf, "w") as f:
            f.write("user %s\n%s" % (user, text))

    def _broker_env(self):
        env = super()._broker_env()
        env["OPENSSL_CONF"] = self.openssl_conf
        return env

    def start(self, attempts=1):
        """The ports are the topology's: one attempt."""
        return self._start_once()


class DeployedPki:
    """What fabric.Broker's clients and the tests read of a deployment's
    PKI, as fabric.Pki offers it: the services CA, the broker's
    certificate, each party's client certificate and provider CAs."""

    def __init__(self, dep):
        self.dep = dep

    def _key_dir(self, kind, name):
        return os.path.join(self.dep.out, "keys", kind, name)

    @property
    def ca(self):
        return (os.path.join(self.dep.out, "admin", "services-ca.pem"),
                os.path.join(self.dep.out, "admin", "services-ca.key"))

    def broker(self, name):
        d = self._key_dir("broker", name)
        return (os.path.join(d, "broker.pem"), os.path.join(d, "broker.key"))

    def client(self, role, name):
        d = self._key_dir(role, name)
        return (os.path.join(d, role + ".pem"), os.path.join(d, role + ".key"))

    def provider_ca(self, prov_id):
        d = self._key_dir("provider", prov_id)
        return (os.path.join(d, "provider-ca.pem"), os.path.join(d, "provider-ca.key"))


class Deployment:
    """A topology and what onramp-admin made of it, in a temporary
    directory; the processes started from it stop at close()."""

    def __init__(self, topology):
        self.tmp = tempfile.TemporaryDirectory(prefix="onr-deploy-")
        self.dir = self.tmp.name
        self.topology = os.path.join(self.dir, "topology")
        self.out = os.path.join(self.dir, "out")
        self.pki = DeployedPki(self)
        self.processes = []
        self.brokers = []
        self.write(topology)

    def write(self, topology):
        with open(self.topology, "w") as f:
            f.write(topology)

    def admin(self, *extra, out=None):
        """Run onramp-admin --local on the topology; the CompletedProcess
        (stdout, stderr as text)."""
        return subprocess.run(admin_argv(self.topology, out or self.out, "--local", *extra),
                              capture_output=True, text=True, timeout=120)

    def deploy(self):
        """onramp-admin, which must succeed; its report."""
        proc = self.admin()
        if proc.returncode != 0:
            raise AssertionError("onramp-admin failed (%d):\n%s" % (proc.returncode,
                                                                  proc.stderr))
        return parse_report(proc.stdout)

    def host_path(self, host, path):
        """Host `host`'s file `path` (absolute on that host) under OUT."""
        return os.path.join(self.out, "hosts", host, path.lstrip("/"))

    def broker(self, host, name, bootstrap_port, services_port, operational_port=None):
        b = DeployedBroker(self, host, name, bootstrap_port, services_port, operational_port)
        self.brokers.append(b)
        return b.start()

    def service(self, host, role, svc_id):
        """onramp-ROLE started with its configuration, once it subscribed."""
        conf = self.host_path(host, "/etc/onramp/%s/%s.conf" % (svc_id, role))
        p = onboarding.Process("%s-%s" % (role, svc_id),
                               [onboarding.program("onramp-" + role), "--config", conf],
                               self.dir)
        self.processes.append(p)
        p.start()
        p.wait_for("subscribed")
        return p

    def track(self, process):
        self.processes.append(process)
        return process

    def close(self):
        errors = []
        for p in self.processes:
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        for b in self.brokers:
            try:
                b.stop()
            except AssertionError as e:
                errors.append(str(e))
        self.tmp.cleanup()
        if errors:
            raise AssertionError("\n".join(errors))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
