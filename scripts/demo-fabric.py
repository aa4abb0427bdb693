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
(one per country: Germany 262, the United States 310, Brazil 724) run from
those files (tests/integration/deployment.py); onramp-factory mints on the
manufacturers' material, onrampctl pairs with the control tool's files,
onramp-device runs the devices, each switched on in one of the three
countries: the providers' roaming policies choose their operators there.
One operational device is then moved live from Germany to the United
States and relocated to the operator there. Everything runs in a
temporary directory on 127.0.0.1 and is stopped at the end (or on Ctrl-C
with --keep). --json prints the summary as one JSON object (README,
"The demo's JSON summary").
"""

import argparse
import json
import os
import re
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
operator op-1 host=services plmn=26201 apn=iot.onramp.demo serves=262 \
imsi=262010000000001-262010000099999 iccid=894900100000000001-894900100000099999
operator op-2 host=services plmn=310410 apn=iot.onramp.demo serves=310,262 \
imsi=310410000000001-310410000099999 iccid=894900200000000001-894900200000099999
operator op-3 host=services plmn=72405 apn=iot.onramp.demo serves=724 \
imsi=724050000000001-724050000099999 iccid=894900300000000001-894900300000099999
contract prov-a op-1
contract prov-a op-2
contract prov-a op-3
contract prov-b op-2
contract prov-b op-3
plan prov-a * 5 standard 0
plan prov-b * 3 basic 500000000
roaming prov-a * 262:op-1;310:op-2;724:op-3
roaming prov-b * 310:op-2;724:op-3;*:op-2
control admin host=ops
"""
# Where the devices are switched on, in turn: the network each reports.
COUNTRIES = [("26201", "DE"), ("310410", "US"), ("72405", "BR")]
# The device moved live, and where to.
MOVE_TO = "310410"
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
# A relocation's steps, after OPERATIONAL (the device's state lines).
MOVES = ["RELOCATING", "RELOCATION_PROFILED", "RELOCATED"]
STATE_LINE = re.compile(r"^state=(\S+) (.*)$", re.M)


def parse():
    p = argparse.ArgumentParser(
        description="Onboard blank devices on a throwaway local Onramp fabric: two "
                    "manufacturers mint them, two providers pair them (one device only "
                    "after it is powered on: its voucher is pushed while it waits), the "
                    "devices are switched on in Germany, the United States and Brazil, "
                    "and three operators, one per country, give them network profiles "
                    "as the providers' roaming policies choose; every device attaches, "
                    "enrolls and says it is operational on its provider's broker (mutual "
                    "TLS). Then one operational device moves from Germany to the United "
                    "States and is relocated to the operator there, live.")
    p.add_argument("--json", action="store_true",
                   help="end with the summary as one JSON object on stdout (README, "
                        "\"The demo's JSON summary\"); the progress goes to stderr")
    p.add_argument("--devices", type=int, default=20, help="devices to mint (default 20)")
    p.add_argument("--keep", action="store_true",
                   help="leave the fabric running until Ctrl-C, to explore it with onrampctl")
    p.add_argument("--timeout", type=int, default=180,
                   help="seconds the devices get to onboard (default 180)")
    p.add_argument("--brokers", type=int, default=1,
                   help="bootstrap brokers, 1..8 (default 1): demo, demo-2, ... each on a "
                        "host of its own with its own country (region); every service "
                        "connects to each, devices list them all and start at a random one")
    p.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                   help="where the services keep their state: a SQLite file each (default) "
                        "or a database and role each in a private PostgreSQL cluster")
    p.add_argument("--instances", type=int, default=1,
                   help="instances of every service sharing its database (default 1; more "
                        "than 1 needs --store postgres)")
    args = p.parse_args()
    if args.devices < 2 or args.devices > 500:
        p.error("--devices: 2..500")
    if not 1 <= args.brokers <= 8:
        p.error("--brokers: 1..8")
    if args.instances < 1 or args.instances > 4:
        p.error("--instances: 1..4")
    if args.instances > 1 and args.store != "postgres":
        p.error("--instances: several instances share a PostgreSQL database (--store postgres)")
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
        out = ["  %-32s %-7s %-7s %-12s %-14s %-19s %s" % (
            "device", "maker", "owner", "country", "operator", "step", "elapsed")]
        for dev, r in self.rows.items():
            at = r["at"].get(r["step"])
            out.append("  %-32s %-7s %-7s %-12s %-14s %-19s %s" % (
                dev, r["maker"], r["prov"], r["country"],
                ("%s %s" % (r["op"], r["why"])) if r["op"] else "-", r["step"],
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


# The countries (MCC) of the demo's brokers: its three countries (Germany, the United
# States, Brazil) first, then France, Spain, ...
REGIONS = ("262", "310", "724", "208", "214", "222", "234", "228")  # the demo's countries first


def build_fabric(dep, ports, more, instances):
    """The topology deployed by onramp-admin, and everything started from
    its files: the brokers, two manufacturers, two providers, three
    operators (each `instances` times); the control tool."""
    dep.deploy()
    dep.start_broker("gateway", "demo", ports["bootstrap"], ports["services"], ports["service"])
    dep.start_brokers(more)
    makers = [dep.manufacturer("services", m) for m in ("acme", "globex")]
    provs = [dep.provider("services", p, QUICK) for p in ("prov-a", "prov-b")]
    ops = [dep.operator("services", o) for o in ("op-1", "op-2", "op-3")]
    for svc in makers + provs + ops:
        onboarding.add_instances(dep, svc, instances)
    for svc in makers + provs + ops:
        svc.start()
        onboarding.start_instances(svc)
    return dep.controller("admin"), makers, provs, ops


def last_state(text):
    """The device's last state line as a dict (state, and its key=value
    words), or {}."""
    found = STATE_LINE.findall(text)
    if not found:
        return {}
    state, rest = found[-1]
    words = dict(w.split("=", 1) for w in rest.split() if "=" in w)
    words["state"] = state
    return words


def follow(rows, runs):
    """Each device's progress from its output: the steps it reached (the
    first time each was seen), its operator and why, its exit status."""
    now = time.monotonic()
    for dev, r in runs.items():
        row = rows[dev]
        text = r.process.text()
        for needle, step in STEPS + [("state=" + m, m) for m in MOVES]:
            if needle in text and step not in row["at"]:
                row["at"][step] = now
                row["step"] = step
        last = last_state(text)
        if last.get("operator"):
            row["op"], row["why"] = last["operator"], last.get("reason", "")
        if DONE in row["at"] and not row["chosen"]:
            row["chosen"] = (row["op"], row["why"])  # where it was switched on
        if last.get("state") in MOVES + [DONE]:
            row["step"] = last["state"]
        if r.process.proc is not None and r.process.proc.poll() is not None:
            row["exit"] = r.process.proc.returncode


def relocate(rows, runs, mover, table, deadline):
    """The mover (operational, --stay) is told its modem is on MOVE_TO's
    network now (device.conf and SIGHUP, as onramp-device --help says): its
    provider relocates it. Followed until it is operational again with the
    operator there, then stopped. Whether it was relocated."""
    dev = os.path.basename(mover)
    row, run = rows[dev], runs[dev]
    path = os.path.join(mover, "device.conf")
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if not line.startswith("visited_plmn")]
    with open(path, "w") as f:
        f.write("\n".join(lines + ["visited_plmn " + MOVE_TO]) + "\n")
    before = row["op"]
    moved_at = time.monotonic()
    row["country"] = "DE->" + dict(COUNTRIES)[MOVE_TO]
    os.kill(run.process.proc.pid, signal.SIGHUP)
    while time.monotonic() < deadline:
        follow(rows, runs)
        table.show()
        text = run.process.text()
        tail = text[text.rindex("state=RELOCATED"):] if "state=RELOCATED" in text else ""
        if "state=" + DONE in tail or row["exit"] is not None:
            break
        time.sleep(0.1)
    follow(rows, runs)
    text = run.process.text()
    done = "state=RELOCATED" in text and \
        "state=" + DONE in text[text.rindex("state=RELOCATED"):] and row["op"] != before
    if done:
        row["relocations"].append({"from": before, "to": row["op"], "visited": MOVE_TO,
                                   "seconds": round(time.monotonic() - moved_at, 3)})
    run.process.stop()  # exit status 3: stopped by SIGTERM, as it was asked
    row["exit"] = 0 if done else 1
    return done


def summary(rows, started, provs, ops, onb, keep, relocated, args):
    reported = sum(1 for r in rows.values() if r["step"] == DONE)
    failed = [dev for dev, r in rows.items() if r["exit"] not in (None, 0)]
    certs = sum(p.rows("SELECT count(*) FROM certificates WHERE revoked_at IS NULL")[0][0]
                for p in provs)
    attached = sum(o.rows("SELECT count(*) FROM subscribers WHERE " + onboarding.OP_ATTACHED)
                   [0][0] for o in ops)
    suspended = sum(o.rows("SELECT count(*) FROM subscribers WHERE state = 3")[0][0]
                    for o in ops)
    aligned = sum(o.rows("SELECT count(aligned_at) FROM subscribers")[0][0] for o in ops)
    print("\nsummary: %d of %d devices %s in %.2f s; %d failed%s" % (
        reported, len(rows), DONE, time.monotonic() - started, len(failed),
        (" (" + ", ".join(failed) + ")") if failed else ""))
    print("  the services report: %d subscriptions attached, %d aligned, %d suspended (left "
          "by a relocation) (operators); %d service certificates in force (providers)" % (
              attached, aligned, suspended, certs))
    print("  store: %s; %d instance%s of every service%s" % (
        "PostgreSQL (a database and role per party, private cluster)"
        if args.store == "postgres" else "SQLite (a file per service)", args.instances,
        "s" if args.instances > 1 else "", " sharing its database" if args.instances > 1
        else ""))
    chosen = {}
    for r in rows.values():
        key = (r["visited"], r["prov"]) + (r["chosen"] or ("", ""))
        chosen[key] = chosen.get(key, 0) + 1
    print("  operators chosen where the devices were switched on (visited PLMN, provider, "
          "operator, why):")
    for (plmn, prov, op, why), n in sorted(chosen.items()):
        print("    %-7s %-7s %-5s %-9s %d device%s" % (plmn, prov, op or "-", why or "-", n,
                                                   "" if n == 1 else "s"))
    for dev, r in rows.items():
        for m in r["relocations"]:
            print("  relocated live: %s from %s to %s (visited %s) in %.2f s" % (
                dev, m["from"], m["to"], m["visited"], m["seconds"]))
    if not relocated:
        print("  the live relocation did not complete")
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
    return reported == len(rows) and not failed and certs >= len(rows) and relocated


STORE = ["sqlite", 1]  # the run's --store and --instances, for the JSON summary


def json_summary(rows, ok):
    """The summary as one JSON object (its format: README, "The demo's JSON
    summary")."""
    devices = []
    for dev, r in rows.items():
        devices.append({
            "dev": dev, "manufacturer": r["maker"], "provider": r["prov"],
            "visited": r["visited"], "operator": r["op"] or None, "reason": r["why"] or None,
            "state": r["step"], "exit": r["exit"],
            "steps": {step: round(r["at"][step] - r["powered"], 3)
                      for step in TIMED + MOVES if step in r["at"]},
            "relocations": r["relocations"],
        })
    return json.dumps({"ok": ok, "devices": devices, "store": STORE[0],
                       "instances": STORE[1]}, sort_keys=True)


def main():
    args = parse()
    STORE[:] = [args.store, args.instances]
    stdout = sys.stdout
    if args.json:
        sys.stdout = sys.stderr  # the progress; the JSON alone on stdout
    ports = deployment.local_ports()
    topology = TOPOLOGY.format(**ports)
    more = []
    if args.brokers > 1:
        topology = topology.replace("plugin={plugin}\n".format(**ports),
                                    "plugin={plugin} region={0}\n".format(REGIONS[0], **ports))
        extra, more = deployment.more_brokers("demo", args.brokers, REGIONS)
        topology += extra
    onb = deployment.Deployment(topology, store=args.store)
    ok = False
    rows = {}
    try:
        ctl, makers, provs, ops = build_fabric(onb, ports, more, args.instances)
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
        print("services: manufacturers acme, globex; operators op-1 (Germany, 262), op-2 "
              "(the United States, 310), op-3 (Brazil, 724); providers prov-a (roaming "
              "policy 262:op-1;310:op-2;724:op-3), prov-b (310:op-2;724:op-3;*:op-2)")
        devices = []
        for i, m in enumerate(makers):
            count = args.devices // 2 + (args.devices % 2 if i == 0 else 0)
            devices += [(m.id, d) for d in m.mint(count)]
        # owners: alternate providers; countries in turn; prov-b's customers
        # in the United States and Brazil prefer op-3 (its policy allows it
        # in Brazil only)
        plan = []
        for i, (maker, d) in enumerate(devices):
            prov = provs[i % 2]
            op = "op-3" if prov.id == "prov-b" and i % 3 != 0 else None
            plan.append((maker, d, prov, op, COUNTRIES[i % len(COUNTRIES)]))
        print("minted %d devices; labels in each state directory" % len(devices))
        late = plan[-1]
        # the device moved live: prov-a's first in Germany, kept running
        mover = next(d for _, d, prov, _, (plmn, _) in plan
                     if prov.id == "prov-a" and plmn == "26201" and d != late[1])
        for maker, d, prov, op, _ in plan[:-1]:
            rc, out = ctl.pair(prov, onboarding.DeviceRun(onb, d).label(), "demo-" + prov.id,
                               operator=op)
            if rc != 0:
                raise SystemExit("pairing failed: " + out)
        print("paired %d devices; %s stays unpaired until it is waiting" % (
            len(plan) - 1, os.path.basename(late[1])))

        started = time.monotonic()
        runs = {}
        for maker, d, prov, op, (plmn, country) in plan:
            dev = os.path.basename(d)
            until = ["--stay"] if d == mover else ["--until", DONE]
            r = onb.device(d, until + ["--visited-plmn", plmn])
            r.process.start()
            runs[dev] = r
            rows[dev] = {"maker": maker, "prov": prov.id, "step": "FACTORY", "at": {},
                         "powered": time.monotonic(), "exit": None, "visited": plmn,
                         "country": country, "op": "", "why": "", "chosen": None,
                         "relocations": []}
        table = Table(rows, started)
        paired_late = False
        deadline = started + args.timeout
        mover_dev = os.path.basename(mover)
        while time.monotonic() < deadline:
            follow(rows, runs)
            table.show()
            late_dev = os.path.basename(late[1])
            if not paired_late and rows[late_dev]["step"] == "pending":
                rc, out = ctl.pair(late[2], onboarding.DeviceRun(onb, late[1]).label(),
                                   "demo-" + late[2].id)
                paired_late = True
            if rows[mover_dev]["step"] == DONE and \
                    all(r["exit"] is not None for d, r in rows.items() if d != mover_dev):
                break
            time.sleep(0.1)
        relocated = False
        if rows[mover_dev]["step"] == DONE:
            print("\n%s (prov-a, in Germany with op-1) moves to the United States (%s): its "
                  "telemetry says so, and prov-a relocates it" % (mover_dev, MOVE_TO))
            relocated = relocate(rows, runs, mover, table, deadline)
        table.show(final=True)
        ok = summary(rows, started, provs, ops, onb, args.keep, relocated, args)
        if args.keep:
            keep_running(onb, ctl, provs)
    finally:
        onb.close()
        if args.json:
            stdout.write(json_summary(rows, ok) + "\n")
            stdout.flush()
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
