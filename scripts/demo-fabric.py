#!/usr/bin/python3
"""The onboarding demo: a throwaway local fabric, devices minted, paired and
powered on, their progress shown live.

Run through scripts/demo (the README's first command), which builds first.
It uses the same fabric the integration tests build (tests/integration/
fabric.py and onboarding.py): a PKI made with openssl, mosquitto with the
onramp plugin on free loopback ports, onramp-manufacturer for two
manufacturers, onramp-provider, onramp-operator, onramp-factory, onrampctl
and onramp-device. Everything runs in a temporary directory on 127.0.0.1 and is
stopped at the end.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import onboarding  # noqa: E402


def parse():
    p = argparse.ArgumentParser(
        description="Onboard blank devices on a throwaway local Onramp fabric: two "
                    "manufacturers mint devices, a provider pairs them (all but one "
                    "at first), every device is powered on; the one paired late gets "
                    "its voucher pushed while it waits; then each gets its network "
                    "profile from the operator, attaches, enrolls with the provider and "
                    "says it is operational on the provider's broker (mutual TLS).")
    p.add_argument("--devices", type=int, default=6, help="devices to mint (default 6)")
    p.add_argument("--keep", action="store_true",
                   help="leave the fabric running until Ctrl-C (to explore it)")
    args = p.parse_args()
    if args.devices < 2 or args.devices > 200:
        p.error("--devices: 2..200")
    return args


DONE = "OPERATIONAL"
# What a device's output says, latest step first.
STEPS = [("state=OPERATIONAL", DONE), ("state=ENROLLED", "ENROLLED"),
         ("state=NETWORK_ATTACHED", "NETWORK_ATTACHED"), ("state=PROFILED", "PROFILED"),
         ("state=VOUCHED", "VOUCHED"), ("pending", "pending"), ("hello", "hello")]


def step_of(text):
    for needle, name in STEPS:
        if needle in text:
            return name
    return "FACTORY"


def show(rows, started):
    print("  %-34s %-8s %-16s %s" % ("device", "maker", "state", "elapsed"))
    for dev, (maker, state, at) in rows.items():
        print("  %-34s %-8s %-16s %s" % (dev, maker, state,
                                         "%.2f s" % (at - started) if at else "-"))


def main():
    args = parse()
    onb = onboarding.Onboarding(providers=("prov-1",))
    ok = False
    try:
        print("fabric: broker with the onramp plugin on 127.0.0.1:%d (devices), :%d "
              "(services) and :%d (operational devices, mutual TLS)" % (
                  onb.broker.bootstrap_port, onb.broker.services_port,
                  onb.broker.operational_port))
        ctl = onboarding.Controller(onb, "admin")
        prov = onb.provider("prov-1")
        makers = [onb.manufacturer("acme", providers=[prov]),
                  onb.manufacturer("globex", providers=[prov])]
        prov.configure(makers, {"op-1": onb.operator_key("op-1")}, "op-1", [ctl])
        onb.track(prov.process)
        op = onb.operator("op-1", makers, [prov])
        for svc in makers + [prov, op]:
            svc.start()
        print("services: onramp-manufacturer acme, globex; onramp-provider prov-1; "
              "onramp-operator op-1")

        devices = []
        for i, m in enumerate(makers):
            count = args.devices // 2 + (args.devices % 2 if i == 0 else 0)
            devices += [(m.id, d) for d in m.mint(count)]
        print("minted %d devices (state directories and labels under %s)" % (
            len(devices), onb.dir))
        late = devices[-1]
        for maker, d in devices[:-1]:
            rc, out = ctl.pair(prov, onboarding.DeviceRun(onb, d).label(), "demo-account")
            if rc != 0:
                raise SystemExit("pairing failed: " + out)
        print("paired %d devices with account demo-account; %s stays unpaired for now" % (
            len(devices) - 1, os.path.basename(late[1])))

        started = time.monotonic()
        runs = {}
        for maker, d in devices:
            r = onb.device(d, ["--until", DONE])
            r.process.start()
            runs[os.path.basename(d)] = (maker, r)
        rows = {dev: (maker, "FACTORY", None) for dev, (maker, _) in runs.items()}
        paired_late = False
        deadline = started + 120
        shown = None
        while time.monotonic() < deadline:
            for dev, (maker, r) in runs.items():
                text = r.process.text()
                state = step_of(text)
                if state != rows[dev][1]:
                    rows[dev] = (maker, state, time.monotonic())
            snapshot = [v[1] for v in rows.values()]
            if snapshot != shown:
                shown = snapshot
                print("\nprogress:")
                show(rows, started)
            if not paired_late and rows[os.path.basename(late[1])][1] == "pending":
                rc, out = ctl.pair(prov, onboarding.DeviceRun(onb, late[1]).label(),
                                   "demo-account")
                print("\npaired %s late: %s" % (os.path.basename(late[1]), out.strip()))
                paired_late = True
            if all(v[1] == DONE for v in rows.values()):
                break
            time.sleep(0.1)
        attached = sum(1 for v in rows.values() if v[1] == DONE)
        print("\nsummary: %d of %d devices %s in %.2f s (steps 1 to 5)" % (
            attached, len(rows), DONE, time.monotonic() - started))
        print("operator op-1: %d subscriptions, %d attached, %d aligned" % tuple(op.rows(
            "SELECT count(*), coalesce(sum(attached), 0), count(aligned_at)"
            " FROM subscribers")[0]))
        print("provider prov-1: %d certificates in force" % prov.rows(
            "SELECT count(*) FROM certificates WHERE revoked_at IS NULL")[0])
        print("fabric, services' databases and device state: %s (%s)" % (
            onb.dir, "kept while it runs" if args.keep else "removed now; --keep to explore"))
        ok = attached == len(rows)
        if args.keep:
            print("\nthe fabric keeps running (--keep); Ctrl-C stops it. Try:\n"
                  "  %s stats --host 127.0.0.1 --port %d --cafile %s --cert %s --key %s" % (
                      onboarding.program("onrampctl"), onb.broker.services_port,
                      onb.pki.ca[0], ctl.cert, ctl.key))
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    finally:
        onb.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
