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
    """What the tests, the demo and the bench read of a deployment's PKI,
    as fabric.Pki offers it: the services CA, the broker's certificate,
    each party's client certificate and keys, provider CAs; and, made with
    the openssl CLI, operational devices' certificates (test material)."""

    def __init__(self, dep):
        self.dep = dep
        self.issued = {}

    def _key_dir(self, kind, name):
        return os.path.join(self.dep.out, "keys", kind, name)

    @property
    def ca(self):
        return (os.path.join(self.dep.out, "admin", "services-ca.pem"),
                os.path.join(self.dep.out, "admin", "services-ca.key"))

    @property
    def server(self):
        """The broker's TLS certificate and key."""
        d = self._key_dir("broker", self.dep.broker.NAME)
        return (os.path.join(d, "broker.pem"), os.path.join(d, "broker.key"))

    def keys(self, role, name):
        return self._key_dir(role, name)

    def client(self, role, name):
        d = self._key_dir(role, name)
        return (os.path.join(d, role + ".pem"), os.path.join(d, role + ".key"))

    def provider_ca(self, prov_id):
        d = self._key_dir("provider", prov_id)
        return (os.path.join(d, "provider-ca.pem"), os.path.join(d, "provider-ca.key"))

    def operational(self, prov_id, dev_id):
        """An operational device's certificate from provider `prov_id`'s CA
        (cert, key): made with openssl, as fabric.Pki.operational."""
        name = "operational-%s-%s" % (prov_id, dev_id)
        if name not in self.issued:
            self.issued[name] = fabric.openssl_leaf(
                self.dep.dir, name, "/O=%s/CN=%s" % (prov_id, dev_id),
                self.provider_ca(prov_id), "extendedKeyUsage=clientAuth\n")
        return self.issued[name]


def _deployed(svc, dep, host, role, svc_id, overrides):
    """What a service run from onramp-admin's files has: its directory in
    /var/lib/onramp, its configuration and its process (`overrides`:
    KEY=VALUE for -o options; the file stays as written)."""
    svc.onb = dep
    svc.id = svc_id
    svc.dir = dep.host_path(host, "/var/lib/onramp/" + svc_id)
    svc.conf = dep.host_path(host, "/etc/onramp/%s/%s.conf" % (svc_id, role))
    svc.store = onboarding.Store(role[:4], svc.dir, role + ".db", dep.store)
    argv = [onboarding.program("onramp-" + role), "--config", svc.conf]
    overrides = list(overrides)
    if svc.store.name is not None:
        # the party's own PostgreSQL database and role in place of its file
        lines = svc.store.conf_lines()
        overrides += [line.replace(" ", "=", 1) for line in lines]
        if role == "manufacturer":  # onramp-factory mint writes the same registry
            with open(os.path.join(svc.dir, "manufacturer.conf"), "a") as f:
                f.write("\n".join(lines) + "\n")
    for option in overrides:
        argv += ["-o", option]
    svc.process = dep.track(onboarding.Process("%s-%s" % (role, svc_id), argv, dep.dir))


class DeployedManufacturer(onboarding.Manufacturer):
    """onramp-manufacturer run from onramp-admin's files on `host` (its
    material in /var/lib/onramp/ID, where mint finds it)."""

    def __init__(self, dep, host, mfr_id, overrides=()):
        _deployed(self, dep, host, "manufacturer", mfr_id, overrides)


class DeployedProvider(onboarding.Provider):
    """onramp-provider run from onramp-admin's files (as above)."""

    def __init__(self, dep, host, prov_id, overrides=()):
        _deployed(self, dep, host, "provider", prov_id, overrides)
        keys = dep.pki.keys("provider", prov_id)
        self.signing_pub = os.path.join(keys, "service.pub")
        self.sealing_pub = os.path.join(keys, "sealing.pub")


class DeployedOperator(onboarding.Operator):
    """onramp-operator run from onramp-admin's files (as above)."""

    def __init__(self, dep, host, op_id, overrides=()):
        _deployed(self, dep, host, "operator", op_id, overrides)
        self.signing_pub = os.path.join(dep.pki.keys("operator", op_id), "service.pub")


class Deployment:
    """A topology and what onramp-admin made of it, in a temporary
    directory; the processes started from it stop at close()."""

    def __init__(self, topology, store=None):
        """store: where the services keep their state, "sqlite" or
        "postgres" (onboarding.Store; default ONR_TEST_STORE's)."""
        self.store = store
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

    @property
    def broker(self):
        """The first broker started."""
        return self.brokers[0]

    def start_broker(self, host, name, bootstrap_port, services_port, operational_port=None):
        b = DeployedBroker(self, host, name, bootstrap_port, services_port, operational_port)
        self.brokers.append(b)
        return b.start()

    def start_brokers(self, brokers):
        """more_brokers()'s brokers, started."""
        for host, name, ports in brokers:
            # bootstrap brokers: the providers' devices use the first one's
            # operational listener (their `endpoint`)
            self.start_broker(host, name, ports["bootstrap"], ports["services"])

    def manufacturer(self, host, mfr_id, overrides=()):
        return DeployedManufacturer(self, host, mfr_id, overrides)

    def provider(self, host, prov_id, overrides=()):
        return DeployedProvider(self, host, prov_id, overrides)

    def operator(self, host, op_id, overrides=()):
        return DeployedOperator(self, host, op_id, overrides)

    def controller(self, ctl_id):
        """onrampctl with control tool `ctl_id`'s certificate and key."""
        return onboarding.Controller(self, ctl_id)

    def device(self, state_dir, args=()):
        d = onboarding.DeviceRun(self, state_dir, args)
        self.track(d.process)
        return d

    def track(self, process):
        self.processes.append(process)
        return process

    def close(self):
        errors = onboarding.stop_all(self.processes + self.brokers)
        self.tmp.cleanup()
        if errors:
            raise AssertionError("\n".join(errors))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def local_ports():
    """Free loopback ports for a broker's three listeners, and the plugin
    built here: what a local topology's broker line needs."""
    return {"bootstrap": fabric.free_port(), "services": fabric.free_port(),
            "service": fabric.free_port(), "plugin": fabric.PLUGIN}


def more_brokers(name, count, regions=()):
    """Topology lines for brokers 2..`count` besides broker `name`: each
    NAME-i on a host of its own (NAME-i, 127.0.0.1: onramp-admin writes one
    mosquitto configuration per host), bootstrap and services listeners on
    free loopback ports, with
    regions[i - 1] if given; and [(host, broker, ports)] to start them."""
    lines, started = [], []
    for i in range(2, count + 1):
        ports = local_ports()
        broker = "%s-%d" % (name, i)
        region = " region=%s" % regions[i - 1] if len(regions) >= i else ""
        lines += ["host %s address=127.0.0.1" % broker,
                  "broker {0} host={0} bind=127.0.0.1 bootstrap_port={bootstrap} "
                  "services_port={services} plugin={plugin}{1}".format(
                      broker, region, **ports)]
        started.append((broker, broker, ports))
    return "".join(line + "\n" for line in lines), started


# onboarding.Fleet's fabric as a topology: one of each, on this machine.
FLEET = """# the fleet onramp-loadgen onboards (scripts/bench), on this machine
host local address=127.0.0.1
broker fleet host=local bind=127.0.0.1 bootstrap_port={bootstrap} services_port={services} \
service_port={service} plugin={plugin}
manufacturer acme host=local
provider prov-a host=local
operator op-1 host=local plmn=00101 apn=iot.onramp.test \
imsi=001010000000001-001010000099999 iccid=894900100000000001-894900100000099999
contract prov-a op-1
plan prov-a * 1 fleet 0
control fleet host=local
"""


class DeployedFleet(onboarding.Fleet):
    """onboarding.Fleet's fabric (manufacturer acme, provider prov-a,
    operator op-1, control tool fleet) deployed by onramp-admin from FLEET
    (with `brokers` brokers: fleet, fleet-2, ...; the services on each)
    and started; self.onb is the Deployment (close() stops everything).
    The claim bucket is opened wide with -o claim_rate (a fleet is paired
    in seconds); quick_timers: the provider's -o retry_after=1 resend=2."""

    def __init__(self, quick_timers=True, brokers=1, store=None, instances=1):
        """store, instances: Deployment's store, and how many instances of
        every service share its database (onboarding.add_instances)."""
        ports = local_ports()
        extra, more = more_brokers("fleet", brokers)
        self.onb = dep = Deployment(FLEET.format(**ports) + extra, store=store)
        try:
            dep.deploy()
            dep.start_broker("local", "fleet", ports["bootstrap"], ports["services"],
                             ports["service"])
            dep.start_brokers(more)
            self.ctl = dep.controller("fleet")
            self.maker = dep.manufacturer("local", "acme", ["claim_rate=1000000"])
            self.prov = dep.provider("local", "prov-a",
                                     ["retry_after=1", "resend=2"] if quick_timers else [])
            self.op = dep.operator("local", "op-1")
            for svc in (self.maker, self.prov, self.op):
                onboarding.add_instances(dep, svc, instances)
            for svc in (self.maker, self.prov, self.op):
                svc.start()
                onboarding.start_instances(svc)
        except BaseException:
            dep.close()
            raise
