#!/usr/bin/python3
"""The benchmark of issue 8: the crypto floor, then a fleet onboarded by
onramp-loadgen on a throwaway local fabric, then the device library's
footprint; one table at the end.

Run through scripts/bench, which builds first. The fabric is deployed as a
user deploys one: a topology (tests/integration/deployment.py's FLEET: one
manufacturer, one provider, one operator, a control tool) given to
onramp-admin --local, then mosquitto with the onramp plugin (on free
loopback ports) and onramp-manufacturer, -provider and -operator started
from the files it wrote, with the services' default timers. Devices are
minted by onramp-factory and paired by onrampctl before the clock starts.
onramp-loadgen then powers them on and reports; the servers' CPU comes
from /proc. With --store postgres --instances N the same fleet is then
onboarded again with every party's state in a database and role of its own
in a private PostgreSQL cluster and N instances of every service sharing
it, and both are printed side by side (the postgres processes' CPU, from
/proc, added to the servers'). With --brokers N the same fleet is then onboarded again on a
fabric of N brokers (deployment.more_brokers: the services on each, the
devices listing all), and the servers' CPU per onboarding of the two runs
is printed side by side. Everything is stopped at the end.
"""

import argparse
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import deployment  # noqa: E402
import fabric  # noqa: E402
import onboarding  # noqa: E402
import postgres  # noqa: E402


# Issue 8's target rate, load generator included (printed against the floors).
TARGET_RATE = 300


def parse():
    p = argparse.ArgumentParser(
        description="Measure Onramp on this machine: the server side's and the device "
                    "side's floor per onboarding (onramp-floor-bench and the TLS "
                    "handshakes; the floor again after the fleet), a fleet onboarded on a local "
                    "fabric (onramp-loadgen: rate, latency per step, server CPU per "
                    "onboarding against the floor), and the device library's footprint "
                    "(code size, heap of one device run to OPERATIONAL under valgrind "
                    "massif). Prints one table; asserts nothing.")
    p.add_argument("--devices", type=int, default=1000,
                   help="devices in the fleet (default 1000)")
    p.add_argument("--rate", type=float, default=0,
                   help="devices powered on per second (default 0: all at once)")
    p.add_argument("--concurrency", type=int, default=0,
                   help="devices running at once at most (default 0: no cap)")
    p.add_argument("--timeout", type=int, default=900,
                   help="seconds the fleet gets (default 900)")
    p.add_argument("--fleet-on-disk", action="store_true",
                   help="keep the devices' state directories with the fabric on disk; by "
                        "default they are in /dev/shm (tmpfs): every device fsyncs each step "
                        "it stores, and thousands of devices on this one disk would measure "
                        "the disk, where real devices each have their own flash")
    p.add_argument("--no-footprint", action="store_true",
                   help="skip the valgrind massif run of one device")
    p.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                   help="with postgres, the same fleet is then onboarded again with every "
                        "party's state in a database and role of its own in a private "
                        "PostgreSQL cluster, and both are printed side by side (the servers' "
                        "CPU with the postgres processes' included)")
    p.add_argument("--instances", type=int, default=1,
                   help="instances of every service sharing its database on PostgreSQL "
                        "(default 1)")
    p.add_argument("--brokers", type=int, default=1,
                   help="bootstrap brokers (default 1): with more, the fleet is onboarded "
                        "twice, on one broker and then on this many (the services on each, "
                        "devices spread over them), and the servers' CPU per onboarding of "
                        "both runs is printed side by side")
    args = p.parse_args()
    if not 1 <= args.devices <= 100000:
        p.error("--devices: 1..100000")
    if not 1 <= args.brokers <= 8:
        p.error("--brokers: 1..8")
    if not 1 <= args.instances <= 4:
        p.error("--instances: 1..4")
    if args.instances > 1 and args.store != "postgres":
        p.error("--instances: several instances share a PostgreSQL database (--store postgres)")
    return args


def raise_fd_limit(devices):
    """The broker and the load generator hold a few descriptors per device:
    the soft limit up to the hard one, inherited by both."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * devices + 1024))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def process_cpu(pid):
    """User + system CPU seconds of process `pid` (/proc, clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tls_handshake_us(pki, mutual, seconds=3):
    """The server's CPU per full TLS handshake, as the broker makes them:
    OpenSSL (Mosquitto's TLS library) with the broker's P-256 certificate
    and OpenSSL settings (broker-plugins/openssl-broker.cnf),
    and for the operational listener a client certificate checked against
    a provider CA. Measured with openssl s_server (its CPU from /proc) and
    openssl s_time -new on loopback; (server microseconds, client
    microseconds, handshakes): the client's CPU is s_time's own."""
    port = fabric.free_port()
    cert, key = pki.server
    server_argv = ["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:%d" % port,
                   "-cert", cert, "-key", key]
    client_argv = ["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new",
                   "-time", str(seconds)]
    if mutual:
        dev_cert, dev_key = pki.operational("prov-a", "floor-bench-device")
        server_argv += ["-Verify", "1", "-CAfile", pki.provider_ca("prov-a")[0]]
        client_argv += ["-cert", dev_cert, "-key", dev_key]
    # with the broker's own OpenSSL settings (no session tickets)
    env = dict(os.environ, OPENSSL_CONF=fabric.BROKER_OPENSSL_CONF)
    server = subprocess.Popen(server_argv, stdin=subprocess.DEVNULL, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        onboarding.wait_until(lambda: _listening(port), timeout=10, what="openssl s_server")
        before = process_cpu(server.pid)
        client_before = children_cpu()
        out = subprocess.run(client_argv, capture_output=True, text=True, timeout=60).stdout
        client_used = children_cpu() - client_before
        used = process_cpu(server.pid) - before
    finally:
        server.kill()
        server.wait()
    m = re.search(r"(\d+) connections in [0-9.]+s", out)
    if m is None or int(m.group(1)) == 0:
        raise SystemExit("openssl s_time measured nothing:\n" + out)
    n = int(m.group(1))
    return used * 1e6 / n, client_used * 1e6 / n, n


def children_cpu():
    """User + system CPU seconds of this process's waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def floor_us():
    out = subprocess.run([onboarding.program("onramp-floor-bench")], check=True,
                         capture_output=True, text=True).stdout
    m = re.search(r"floor per onboarding\s+([0-9.]+)", out)
    d = re.search(r"device side per onboarding\s+([0-9.]+)", out)
    if m is None or d is None:
        raise SystemExit("onramp-floor-bench printed no floor:\n" + out)
    return float(m.group(1)), float(d.group(1)), out


def footprint(fleet):
    """(library text+data bytes, peak heap bytes of one device run to
    OPERATIONAL under massif, or None)."""
    lib = os.path.join(onboarding.BIN_DIR, "..", "device", "libonramp-device.so")
    size = None
    if os.path.exists(lib):
        out = subprocess.run(["size", "-A", os.path.realpath(lib)], capture_output=True,
                             text=True).stdout
        size = sum(int(m.group(2)) for m in re.finditer(r"^(\.text|\.rodata|\.data\S*)\s+(\d+)",
                                                        out, re.M))
    peak = None
    if subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode == 0:
        d = fleet.mint_and_pair(1)[0]
        massif = os.path.join(fleet.onb.dir, "massif.out")
        run = subprocess.run(["valgrind", "--tool=massif", "--massif-out-file=" + massif,
                              onboarding.program("onramp-device"), "--state", d, "--quiet"],
                             capture_output=True, text=True, timeout=300)
        if run.returncode == 0 and os.path.exists(massif):
            with open(massif) as f:
                text = f.read()
            peak = max((int(a) + int(b)) for a, b in re.findall(
                r"mem_heap_B=(\d+)\nmem_heap_extra_B=(\d+)", text))
    return size, peak


def floors(pki):
    """(servers' floor, device side's floor, their table), both with the
    two TLS handshakes a device makes, measured now."""
    crypto, device_crypto, floor_text = floor_us()
    anon, anon_client, n_anon = tls_handshake_us(pki, mutual=False)
    mutual, mutual_client, n_mutual = tls_handshake_us(pki, mutual=True)
    floor = crypto + anon + mutual
    device_floor = device_crypto + anon_client + mutual_client
    text = floor_text.rstrip() + "\n" + (
        "TLS handshake, CPU per handshake (OpenSSL, openssl s_server + s_time):\n"
        "  %-36s %8s %8s\n"
        "  %-36s %8.1f %8.1f us  (%d handshakes)\n"
        "  %-36s %8.1f %8.1f us  (%d handshakes)\n"
        "floor per onboarding with the two handshakes a device makes: %.1f us\n"
        "device side with its two handshakes:                         %.1f us" % (
            "", "broker", "device",
            "bootstrap (server certificate only)", anon, anon_client, n_anon,
            "operational (mutual TLS)", mutual, mutual_client, n_mutual,
            floor, device_floor))
    return floor, device_floor, text


def onboard_fleet(fleet, args, floor, shm, during=None):
    """The fleet minted, paired and onboarded by onramp-loadgen, its output
    printed; (loadgen's exit status, the servers' CPU per onboarding in us
    or None). during.start() and during.stop() (if given) bracket
    loadgen's run alone, the window it measures the servers' CPU in."""
    t = time.monotonic()
    out = None
    if shm is not None:
        out = os.path.join(shm, "devices-%d-%s" % (len(fleet.onb.brokers), fleet.onb.store))
    dirs = fleet.mint_and_pair(args.devices, out=out)
    print("\nfabric in %s (%d broker%s); %d devices minted and paired in %.1f s" % (
        fleet.onb.dir, len(fleet.onb.brokers), "s" if len(fleet.onb.brokers) > 1 else "",
        len(dirs), time.monotonic() - t))
    argv = fleet.loadgen_argv(dirs, "--rate", str(args.rate),
                              "--concurrency", str(args.concurrency),
                              "--timeout", str(args.timeout), "--floor-us", "%.1f" % floor)
    print("$ onramp-loadgen " + " ".join(argv[1:]))
    sys.stdout.flush()
    if during is not None:
        during.start()
    loadgen = subprocess.run(argv, text=True, capture_output=True)
    if during is not None:
        during.stop()
    print(loadgen.stdout.rstrip())
    if loadgen.stderr:
        print(loadgen.stderr.rstrip(), file=sys.stderr)
    m = re.search(r"server_us=(\d+)", loadgen.stdout)
    lines = [line for line in loadgen.stdout.splitlines() if line.startswith("result ")]
    result = dict(kv.split("=", 1) for kv in lines[0].split()[1:]) if lines else {}
    return loadgen.returncode, int(m.group(1)) if m is not None else None, result


class PostgresCpu:
    """The postgres processes' CPU while loadgen runs (minting and pairing
    the fleet before it are not in the services' figures either)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.before = {}
        self.seconds = 0.0

    def start(self):
        self.before = self.cluster.cpu_seconds()

    def stop(self):
        after = self.cluster.cpu_seconds()
        self.seconds = sum(v - self.before.get(k, 0.0) for k, v in after.items())


def on_postgres(args, floor, shm, one):
    """The same fleet on PostgreSQL with args.instances instances of every
    service; both printed side by side. loadgen's exit status."""
    fleet = deployment.DeployedFleet(quick_timers=False, store="postgres",
                                     instances=args.instances)
    try:
        pg = PostgresCpu(postgres.shared())
        rc, us, result = onboard_fleet(fleet, args, floor, shm, during=pg)
    finally:
        fleet.onb.close()
    completed = int(result.get("completed", "0"))
    pg_us = pg.seconds * 1e6 / completed if completed else 0
    runs = [("SQLite", one[1], 0), ("PostgreSQL x%d" % args.instances, result, pg_us)]
    print("\n%-40s" % "same run, both stores" + "".join("%22s" % r[0] for r in runs))
    for key, name in (("completed", "completed"), ("failed", "failed"),
                      ("unfinished", "unfinished"), ("retries", "retries"),
                      ("wall_s", "wall s"), ("rate", "onboardings/s"),
                      ("server_us", "services + broker, us/onboarding")):
        print("%-40s" % name + "".join("%22s" % r[1].get(key, "-") for r in runs))
    print("%-40s%22s%22.0f" % ("postgres processes, us/onboarding", "-", pg_us))
    totals = [float(r[1].get("server_us", 0)) + r[2] for r in runs]
    print("%-40s" % "server CPU per onboarding, us" + "".join("%22.0f" % t for t in totals))
    if totals[0] > 0:
        print("%-40s%22s%22s" % ("PostgreSQL / SQLite", "", "%.2f x" % (totals[1] / totals[0])))
    return rc


def several_brokers(args, floor, shm, one_us):
    """The same fleet on args.brokers brokers; the comparison printed.
    loadgen's exit status."""
    fleet = deployment.DeployedFleet(quick_timers=False, brokers=args.brokers)
    try:
        rc, us, _ = onboard_fleet(fleet, args, floor, shm)
    finally:
        fleet.onb.close()
    if us is not None and one_us:
        print("\nservers' CPU per onboarding: %d us on 1 broker, %d us on %d brokers "
              "(%.2f x; the same run, the same fleet size)" % (
                  one_us, us, args.brokers, us / one_us))
    return rc


def main():
    args = parse()
    shm = None
    raise_fd_limit(args.devices)
    print("onramp bench, %s, %d cores" % (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count()))
    # the services with their default timers, the broker as onramp-admin
    # configures it (logging as the example does, not every packet)
    fleet = deployment.DeployedFleet(quick_timers=False)
    onb = fleet.onb
    try:
        floor, device_floor, text = floors(onb.pki)
        print(text)
        # What N onboardings/s on this machine's cores, load generator
        # included, leave the servers: the bound the floors set.
        budget = os.cpu_count() * 1e6 / TARGET_RATE
        print("%d onboardings/s on %d cores, load generator included: %.0f us of CPU per\n"
              "  onboarding; minus the device side's floor, the servers may spend %.0f us,\n"
              "  %.2f x their floor" % (TARGET_RATE, os.cpu_count(), budget,
                                       budget - device_floor,
                                       (budget - device_floor) / floor))
        if not args.fleet_on_disk and os.path.isdir("/dev/shm"):
            shm = tempfile.TemporaryDirectory(prefix="onr-fleet-", dir="/dev/shm")
        rc, one_us, one = onboard_fleet(fleet, args, floor, shm.name if shm else None)
        # A shared machine's speed drifts: the floor again, right after.
        after, _, _ = floors(onb.pki)
        if one_us is not None:
            print("floor again after the fleet: %.1f us (before: %.1f); servers / floor "
                  "%.2f to %.2f" % (after, floor, one_us / max(floor, after),
                                    one_us / min(floor, after)))
        if not args.no_footprint:
            size, peak = footprint(fleet)
            print("device library            %s bytes of code and data (libonramp-device.so: "
                  ".text + .rodata + .data)" % (size if size is not None else "-"))
            print("device heap               %s bytes at the peak of one onramp-device run "
                  "to OPERATIONAL (valgrind massif, heap + malloc overhead)" % (
                      peak if peak is not None else "-"))
        onb.close()
        if args.brokers > 1:
            rc = several_brokers(args, floor, shm.name if shm else None, one_us) or rc
        if args.store == "postgres":
            rc = on_postgres(args, floor, shm.name if shm else None, (one_us, one)) or rc
        return rc
    finally:
        onb.close()
        if shm is not None:
            shm.cleanup()


if __name__ == "__main__":
    sys.exit(main())
