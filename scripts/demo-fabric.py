#!/usr/bin/python3
"""The onboarding demo: a throwaway local fabric, devices minted, paired and
powered on at once, their progress shown live, and an honest summary.

Run through scripts/demo (the README's first command), which builds first.
The fabric is deployed as the README's "Deploying Onramp" says, on one
machine: the topology below is given to onramp-admin --local, which writes
every host's keys, certificates and configuration; mosquitto with the
onramp plugin (bootstrap, services and operational listeners on free
loopback ports; with --brokers N, N such brokers sharing nothing, each
with its own country, every service connected to each), onramp-manufacturer for two manufacturers,
onramp-provider for two providers and onramp-operator for three operators
run from those files (tests/integration/deployment.py); onramp-factory
mints on the manufacturers' material, onrampctl pairs with the control
tool's files, onramp-device runs the devices. Everything runs in a
temporary directory on 127.0.0.1 and is stopped at the end (or on Ctrl-C
with --keep).
"""

import argparse
import os
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import deployment  # noqa: E402
import onboarding  # noqa: E402

# The demo's fabric: three hosts, all of them this machine.
TOPOLOGY = """# scripts/demo's fabric (onramp-admin --help: the format)
host gateway address=127.0.0.1
host services address=127.0.0.1
host ops
broker demo host=gateway bind=127.0.0.1 bootstrap_port={bootstrap} services_port={services} \
service_port={service} plugin={plugin}
manufacturer acme host=services
manufacturer globex host=services
provider prov-a host=services
provider prov-b host=services default_operator=op-2
operator op-1 host=services plmn=00101 apn=iot.onramp.demo \
imsi=001010000000001-001010000099999 iccid=894900100000000001-894900100000099999
operator op-2 host=services plmn=00102 apn=iot.onramp.demo \
imsi=001020000000001-001020000099999 iccid=894900200000000001-894900200000099999
operator op-3 host=services plmn=00103 apn=iot.onramp.demo \
imsi=001030000000001-001030000099999 iccid=894900300000000001-894900300000099999
contract prov-a op-1
contract prov-b op-2
contract prov-b op-3
plan prov-a * 5 standard 0
plan prov-b * 3 basic 500000000
control admin host=ops
"""
# A device that enrolls before its operator's key reached the provider asks
# again after retry_after seconds: the demo's providers ask sooner.
QUICK = ["retry_after=1", "resend=2"]

DONE = "OPERATIONAL"
# The steps a device's output reports, in journey order, and what shows
# each one (the latest found wins).
STEPS = [("hello", "hello"), ("pending", "pending"), ("state=VOUCHED", "VOUCHED"),
         ("state=PROFILED", "PROFILED"), ("state=NETWORK_ATTACHED", "NETWORK_ATTACHED"),
         ("state=ENROLLED", "ENROLLED"), ("state=OPERATIONAL", DONE)]
TIMED = ["VOUCHED", "PROFILED", "NETWORK_ATTACHED", "ENROLLED", DONE]


def parse():
    p = argparse.ArgumentParser(
        description="Onboard blank devices on a throwaway local Onramp fabric: two "
                    "manufacturers mint them, two providers pair them (one device only "
                    "after it is powered on: its voucher is pushed while it waits), three "
                    "operators give them network profiles; every device attaches, enrolls "
                    "and says it is operational on its provider's broker (mutual TLS).")
    p.add_argument("--devices", type=int, default=20, help="devices to mint (default 20)")
    p.add_argument("--keep", action="store_true",
                   help="leave the fabric running until Ctrl-C, to explore it with onrampctl")
    p.add_argument("--timeout", type=int, default=180,
                   help="seconds the devices get to onboard (default 180)")
    p.add_argument("--brokers", type=int, default=1,
                   help="bootstrap brokers, 1..8 (default 1): demo, demo-2, ... each on a "
                        "host of its own with its own country (region); every service "
                        "connects to each, devices list them all and start at a random one")
    args = p.parse_args()
    if args.devices < 2 or args.devices > 500:
        p.error("--devices: 2..500")
    if not 1 <= args.brokers <= 8:
        p.error("--brokers: 1..8")
    return args


class Table:
    """The live table: redrawn in place on a terminal, else printed when
    it changes (at most once a second)."""

    def __init__(self, rows, started):
        self.rows = rows
        self.started = started
        self.tty = sys.stdout.isatty()
        self.drawn = 0
        self.last = None
        self.last_at = 0.0

    def lines(self):
        out = ["  %-32s %-7s %-7s %-17s %s" % ("device", "maker", "owner", "step", "elapsed")]
        for dev, r in self.rows.items():
            at = r["at"].get(r["step"])
            out.append("  %-32s %-7s %-7s %-17s %s" % (
                dev, r["maker"], r["prov"], r["step"],
                "%.2f s" % (at - self.started) if at else "-"))
        counts = {}
        for r in self.rows.values():
            counts[r["step"]] = counts.get(r["step"], 0) + 1
        out.append("  " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
        return out

    def show(self, final=False):
        lines = self.lines()
        if lines == self.last:
            return
        now = time.monotonic()
        if not self.tty and not final and now - self.last_at < 1.0:
            return
        if self.tty and self.drawn:
            sys.stdout.write("\x1b[%dF\x1b[J" % self.drawn)
        elif not self.tty:
            print("progress at %.1f s:" % (now - self.started))
        print("\n".join(lines))
        sys.stdout.flush()
        self.drawn, self.last, self.last_at = len(lines), lines, now


# The countries (MCC) of the demo's brokers: France, Germany, Spain, ...
REGIONS = ("208", "262", "214", "222", "234", "228", "204", "310")


def build_fabric(dep, ports, more):
    """The topology deployed by onramp-admin, and everything started from
    its files: the brokers, two manufacturers, two providers, three
    operators; the control tool."""
    dep.deploy()
    dep.start_broker("gateway", "demo", ports["bootstrap"], ports["services"], ports["service"])
    dep.start_brokers(more)
    makers = [dep.manufacturer("services", m) for m in ("acme", "globex")]
    provs = [dep.provider("services", p, QUICK) for p in ("prov-a", "prov-b")]
    ops = [dep.operator("services", o) for o in ("op-1", "op-2", "op-3")]
    for svc in makers + provs + ops:
        svc.start()
    return dep.controller("admin"), makers, provs, ops


def summary(rows, started, provs, ops, onb, keep):
    reported = sum(1 for r in rows.values() if r["step"] == DONE)
    failed = [dev for dev, r in rows.items() if r["exit"] not in (None, 0)]
    certs = sum(p.rows("SELECT count(*) FROM certificates WHERE revoked_at IS NULL")[0][0]
                for p in provs)
    attached = sum(o.rows("SELECT count(*) FROM subscribers WHERE " + onboarding.OP_ATTACHED)
                   [0][0] for o in ops)
    aligned = sum(o.rows("SELECT count(aligned_at) FROM subscribers")[0][0] for o in ops)
    print("\nsummary: %d of %d devices %s in %.2f s; %d failed%s" % (
        reported, len(rows), DONE, time.monotonic() - started, len(failed),
        (" (" + ", ".join(failed) + ")") if failed else ""))
    print("  the services report: %d subscriptions attached, %d aligned (operators); "
          "%d service certificates in force (providers)" % (attached, aligned, certs))
    print("  time per step over the devices, p50 / max (seen by polling their output every "
          "0.1 s):")
    prev = None
    for step in TIMED:
        spans = []
        for r in rows.values():
            begin = r["at"].get(prev) if prev else r["powered"]
            end = r["at"].get(step)
            if begin is not None and end is not None:
                spans.append(end - begin)
        if spans:
            print("    %-34s %6.2f s / %6.2f s  (%d devices)" % (
                "%s -> %s" % (prev or "power on", step), statistics.median(spans),
                max(spans), len(spans)))
        prev = step
    if len(onb.brokers) > 1:
        print("  %d bootstrap brokers (%s); every grant confirmed by every broker: %s" % (
            len(onb.brokers), ", ".join(b.NAME for b in onb.brokers),
            "yes" if all(o.rows("SELECT count(*) FROM pending WHERE kind = 'grant'")[0][0] == 0
                         for o in ops) else "not yet"))
    print("  state directories, labels (label.txt, label.png) and the services' databases "
          "and logs: %s%s" % (onb.dir, "" if keep else " (removed at exit; --keep to keep)"))
    return reported == len(rows) and not failed and certs >= len(rows)


def main():
    args = parse()
    ports = deployment.local_ports()
    topology = TOPOLOGY.format(**ports)
    more = []
    if args.brokers > 1:
        topology = topology.replace("plugin={plugin}\n".format(**ports),
                                    "plugin={plugin} region={0}\n".format(REGIONS[0], **ports))
        extra, more = deployment.more_brokers("demo", args.brokers, REGIONS)
        topology += extra
    onb = deployment.Deployment(topology)
    ok = False
    try:
        ctl, makers, provs, ops = build_fabric(onb, ports, more)
        print("topology %s: onramp-admin --local wrote every host's files in %s/hosts" % (
            onb.topology, onb.out))
        print("fabric: mosquitto with the onramp plugin on 127.0.0.1:%d (devices), "
              ":%d (services), :%d (operational devices, mutual TLS)" % (
                  ports["bootstrap"], ports["services"], ports["service"]))
        for b, region in zip(onb.brokers[1:], REGIONS[1:]):
            print("fabric: bootstrap broker %s (region %s) on 127.0.0.1:%d (devices), "
                  ":%d (services)" % (b.NAME, region, b.bootstrap_port, b.services_port))
        if len(onb.brokers) > 1:
            print("fabric: %d bootstrap brokers sharing nothing; every service connects to "
                  "each, devices list all %d" % (len(onb.brokers), len(onb.brokers)))
        print("services: manufacturers acme, globex; providers prov-a (operator op-1), "
              "prov-b (op-2, or op-3 on request); operators op-1, op-2, op-3")
        devices = []
        for i, m in enumerate(makers):
            count = args.devices // 2 + (args.devices % 2 if i == 0 else 0)
            devices += [(m.id, d) for d in m.mint(count)]
        # owners: alternate providers; every third prov-b customer asks for op-3
        plan = []
        for i, (maker, d) in enumerate(devices):
            prov = provs[i % 2]
            op = "op-3" if prov.id == "prov-b" and i % 3 == 0 else None
            plan.append((maker, d, prov, op))
        print("minted %d devices; labels in each state directory" % len(devices))
        late = plan[-1]
        for maker, d, prov, op in plan[:-1]:
            rc, out = ctl.pair(prov, onboarding.DeviceRun(onb, d).label(), "demo-" + prov.id,
                               operator=op)
            if rc != 0:
                raise SystemExit("pairing failed: " + out)
        print("paired %d devices; %s stays unpaired until it is waiting" % (
            len(plan) - 1, os.path.basename(late[1])))

        started = time.monotonic()
        rows, runs = {}, {}
        for maker, d, prov, op in plan:
            dev = os.path.basename(d)
            r = onb.device(d, ["--until", DONE])
            r.process.start()
            runs[dev] = r
            rows[dev] = {"maker": maker, "prov": prov.id, "step": "FACTORY", "at": {},
                         "powered": time.monotonic(), "exit": None}
        table = Table(rows, started)
        paired_late = False
        deadline = started + args.timeout
        while time.monotonic() < deadline:
            now = time.monotonic()
            for dev, r in runs.items():
                text = r.process.text()
                for needle, step in STEPS:
                    if needle in text and step not in rows[dev]["at"]:
                        rows[dev]["at"][step] = now
                        rows[dev]["step"] = step
                if r.process.proc is not None and r.process.proc.poll() is not None:
                    rows[dev]["exit"] = r.process.proc.returncode
            table.show()
            late_dev = os.path.basename(late[1])
            if not paired_late and rows[late_dev]["step"] == "pending":
                rc, out = ctl.pair(late[2], onboarding.DeviceRun(onb, late[1]).label(),
                                   "demo-" + late[2].id)
                paired_late = True
            if all(r["exit"] is not None for r in rows.values()):
                break
            time.sleep(0.1)
        table.show(final=True)
        ok = summary(rows, started, provs, ops, onb, args.keep)
        if args.keep:
            keep_running(onb, ctl, provs)
    finally:
        onb.close()
    return 0 if ok else 1


def keep_running(onb, ctl, provs):
    ctl_dir = onb.host_path("ops", "/etc/onramp/admin")
    ctl_args = "--host 127.0.0.1 --port %d --cafile %s/services-ca.pem --cert %s/control.pem " \
        "--key %s/control.key" % (onb.broker.services_port, ctl_dir, ctl_dir, ctl_dir)
    onrampctl = onboarding.program("onrampctl")
    print("\nthe fabric keeps running (--keep); Ctrl-C stops it. Try:\n"
          "  %s stats %s\n"
          "  %s release --provider prov-a --provider-key %s --dev DEVICE %s" % (
              onrampctl, ctl_args, onrampctl, ctl_dir + "/peers/prov-a.signing.pub", ctl_args))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
