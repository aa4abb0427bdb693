"""Run a unit test program of the PostgreSQL backend (tests/unit/
test_svc_db_pg.c) against a private cluster (postgres.py): one database and
role made for it, given as ONR_TEST_PG (connection string) and
ONR_TEST_PG_PASSWORD; the cluster stopped by its PID at the end.

usage: pg_unit.py PROGRAM
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postgres  # noqa: E402


def main():
    cluster = postgres.Cluster().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            where, pwfile = cluster.party("unit", tmp)
            with open(pwfile) as f:
                password = f.read().strip()
            env = dict(os.environ, ONR_TEST_PG=where, ONR_TEST_PG_PASSWORD=password)
            return subprocess.run([sys.argv[1]], env=env).returncode
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
