"""Make the databases tests/unit/test_svc_migrations.c upgrades: one per
service, written by the services as built from a given commit (the schema
that commit deployed), with rows in every state a tiny onboarding leaves.

Run from tests/integration with the integration tests' environment
(ONR_BIN_DIR, ONR_PLUGIN, ONR_TEST_POP, ONR_SOURCE_DIR: see
tests/integration/CMakeLists.txt) pointing at a build of that commit:

  cd tests/integration && env ... python3 ../tools/make_migration_fixture.py OUT_DIR

What it leaves (acme, prov-a, op-1):
  d1  paired and OPERATIONAL (claim, assignment, subscription attached and
      aligned, key, certificate, operational mark)
  d2  OPERATIONAL, then released while op-1 was down (the release to the
      operator unconfirmed; certificate revoked; assignment cleared)
  d3  attached while prov-a was down, its key stored by prov-a while op-1
      was down (op-1: key unconfirmed; prov-a: alignment unconfirmed)
  d4  never paired: its hello waits at acme
  d5  paired while acme was down (a claim still registering)
"""

import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))

import onboarding  # noqa: E402


def main(out):
    onb = onboarding.Onboarding(providers=("prov-a",))
    try:
        fleet = onboarding.Fleet(onb)
        dirs = fleet.maker.mint(5)
        d1, d2, d3, d4, d5 = dirs
        labels = [onboarding.DeviceRun(onb, d).label() for d in dirs]

        def run(d, *args):
            r = onb.device(d, args)
            r.process.start()
            rc = r.process.exit_status(timeout=60)
            assert rc == 0, r.process.text()

        def pair(i):
            rc, text = fleet.ctl.pair(fleet.prov, labels[i], "fleet")
            assert rc == 0, text

        for i in (0, 1, 2):
            pair(i)
        run(d1)
        run(d2)
        # d2 released with the operator down: its leg stays unconfirmed
        fleet.op.process.stop()
        rc, text = fleet.ctl.release(fleet.prov, os.path.basename(d2), timeout=10)
        assert rc == 0, text
        fleet.op.start()
        # d3: attached while the provider is down; the provider stores the
        # key while the operator is down
        fleet.prov.process.stop()
        run(d3, "--until", "NETWORK_ATTACHED")
        fleet.op.process.stop()
        fleet.prov.start()
        onboarding.wait_until(lambda: fleet.prov.rows(
            "SELECT count(*) FROM app_keys WHERE dev = ?", os.path.basename(d3)) == [(1,)],
            what="d3's key at the provider")
        # d4: a hello nobody registered yet
        r = onb.device(d4, ("--until", "VOUCHED", "--timeout", "3", "--max-attempts", "1"))
        r.process.start()
        onboarding.wait_until(lambda: fleet.maker.rows(
            "SELECT count(*) FROM waiting WHERE dev = ?", os.path.basename(d4)) == [(1,)],
            what="d4 waiting")
        r.process.stop()
        # d5: paired while the manufacturer is down
        fleet.maker.process.stop()
        rc, text = fleet.ctl.pair(fleet.prov, labels[4], "fleet", timeout=3)
        assert rc != 0, text
        onboarding.wait_until(lambda: fleet.prov.rows(
            "SELECT state FROM claims WHERE dev = ?", os.path.basename(d5)) == [(0,)],
            what="d5 registering")
        fleet.prov.process.stop()
        os.makedirs(out, exist_ok=True)
        for name, path in (("manufacturer", os.path.join(fleet.maker.dir, "manufacturer.db")),
                           ("provider", os.path.join(fleet.prov.dir, "provider.db")),
                           ("operator", fleet.op.db_path)):
            # the write-ahead log folded into the file, which is then whole
            with sqlite3.connect(path) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(path, os.path.join(out, name + ".db"))
        print("devices: " + " ".join(os.path.basename(d) for d in dirs))
    finally:
        onb.close()


if __name__ == "__main__":
    main(sys.argv[1])
