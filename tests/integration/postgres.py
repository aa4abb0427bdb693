"""A private PostgreSQL cluster for the tests and the demo: initdb into a new
temporary directory, the server listening only on a Unix socket there (no
TCP), one database and role per party (each with its own password, kept in
a 0600 file the services read through database_password_file), stopped by
its PID. PostgreSQL refuses to run as root: as root the cluster belongs to
the `postgres` system user and its programs run through `runuser`.

ONR_TEST_STORE=postgres makes onboarding.py's services use such a cluster
(store() says which store is in use). Debian's own `main` cluster on port
5432 is never touched: every connection names this cluster's socket.
"""

import glob
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import fabric

PORT = 5432  # only the socket's name: the cluster listens on no TCP port
SUPERUSER = "onramp"


def store():
    """The store the service tests run on: "sqlite" (default) or "postgres"."""
    value = os.environ.get("ONR_TEST_STORE", "sqlite")
    if value not in ("sqlite", "postgres"):
        raise ValueError("ONR_TEST_STORE: want sqlite or postgres, not %r" % value)
    return value


def bin_dir():
    """Debian's PostgreSQL programs (initdb, pg_ctl), the newest installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: scripts/deps.sh installs it")
    return os.path.dirname(found[-1])


def _as_owner(argv):
    """`argv` as the cluster's owner: `postgres` through runuser when root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def _sql_literal(text):
    return "'" + text.replace("'", "''") + "'"


class Cluster:
    """A private cluster; start() it, party() per service, stop() by PID."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="onramp-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.password = secrets.token_hex(16)
        self.pid = None
        self.parties = {}
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o755)  # the socket must be reachable by the services
        pwfile = os.path.join(self.dir, "superuser.pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        os.chmod(pwfile, 0o600)
        # passwords everywhere (scram), so a wrong one is refused
        subprocess.run(_as_owner([os.path.join(bin_dir(), "initdb"), "-D", self.data,
                                  "-U", SUPERUSER, "--pwfile", pwfile, "-A", "scram-sha-256",
                                  "-E", "UTF8", "--no-instructions", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.unlink(pwfile)

    def start(self):
        if os.geteuid() == 0:
            open(self.log, "a").close()
            shutil.chown(self.log, "postgres", "postgres")
        subprocess.run(_as_owner([os.path.join(bin_dir(), "pg_ctl"), "-D", self.data,
                                  "-l", self.log, "-w", "-t", "60", "-o",
                                  "-k %s -c listen_addresses='' -p %d -c fsync=on"
                                  " -c max_connections=200 -c deadlock_timeout=100ms"
                                  % (self.dir, PORT), "start"]),
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())
        return self

    def stop(self, how=signal.SIGINT, timeout=60):
        """Stop the server by its PID (SIGINT: fast shutdown; SIGKILL: a
        crash) and wait until it is gone."""
        if self.pid is None:
            return
        try:
            os.kill(self.pid, how)
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.pid = None
        if how == signal.SIGKILL:
            # its children go with the postmaster's shared memory: wait for them
            time.sleep(0.5)
            pidfile = os.path.join(self.data, "postmaster.pid")
            if os.path.exists(pidfile):
                os.unlink(pidfile)

    def restart(self, how=signal.SIGINT):
        self.stop(how)
        return self.start()

    def cpu_seconds(self):
        """{pid: user + system CPU seconds} of the server's processes (the
        postmaster with what its ended children used, and each child)."""
        tick = os.sysconf("SC_CLK_TCK")
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry), int(fields[1])
            if pid == self.pid:
                found[pid] = sum(int(v) for v in fields[11:15]) / tick
            elif ppid == self.pid:
                found[pid] = (int(fields[11]) + int(fields[12])) / tick
        return found

    def close(self):
        self.stop()
        if fabric.KEEP:
            # a kept cluster can be started again and read: the superuser's
            # password (user onramp; random, in memory until now) beside it
            fd = os.open(os.path.join(self.dir, "superuser.pw"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.password + "\n")
        fabric.remove_tree(self.dir)

    def connect(self, dbname="postgres", user=SUPERUSER, password=None):
        import psycopg2  # only the PostgreSQL runs need it (scripts/deps.sh --tests)
        return psycopg2.connect(host=self.dir, port=PORT, dbname=dbname, user=user,
                                password=password or self.password, connect_timeout=10)

    def admin(self, *statements, dbname="postgres"):
        db = self.connect(dbname)
        try:
            db.autocommit = True
            with db.cursor() as cur:
                for s in statements:
                    cur.execute(s)
        finally:
            db.close()

    def party(self, name, password_dir):
        """A database and a role, both `name`, the role owning the database
        and nothing else; its password in password_dir/database.pw (0600).
        Returns (the service's `database` value, the password file)."""
        password = secrets.token_hex(16)
        self.admin("CREATE ROLE %s LOGIN PASSWORD %s" % (name, _sql_literal(password)),
                   "CREATE DATABASE %s OWNER %s" % (name, name),
                   "REVOKE ALL ON DATABASE %s FROM PUBLIC" % name)
        # the tests' checks read certificates' serials as SQLite's hex() does
        self.admin("CREATE FUNCTION hex(bytea) RETURNS text IMMUTABLE LANGUAGE sql"
                   " AS $$ SELECT upper(encode($1, 'hex')) $$", dbname=name)
        path = os.path.join(password_dir, "database.pw")
        with open(path, "w") as f:
            f.write(password + "\n")
        os.chmod(path, 0o600)
        self.parties[name] = password
        return self.conninfo(name), path

    def conninfo(self, name, user=None):
        return "postgresql:host=%s port=%d dbname=%s user=%s" % (self.dir, PORT, name,
                                                                 user or name)

    def rows(self, name, sql, *args):
        """Rows of `sql` (SQLite's ? placeholders) in party `name`'s
        database, as the sqlite3 module gives them (bytea as bytes)."""
        db = self.connect(name)
        try:
            with db.cursor() as cur:
                cur.execute(sql.replace("%", "%%").replace("?", "%s"), args)
                rows = cur.fetchall() if cur.description else []
            db.commit()
        finally:
            db.close()
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]

    def execute(self, name, sql, *args):
        db = self.connect(name)
        try:
            with db.cursor() as cur:
                cur.execute(sql.replace("%", "%%").replace("?", "%s"), args)
            db.commit()
        finally:
            db.close()


_shared = None


def shared():
    """One cluster per test process, started on first use, stopped at exit."""
    global _shared
    if _shared is None:
        import atexit
        _shared = Cluster().start()
        atexit.register(_shared.close)
    return _shared


_serial = [0]


def new_party(kind, password_dir):
    """A fresh database and role in the shared cluster for a `kind` of
    service (mfr, prov, op): (database value, password file, name)."""
    _serial[0] += 1
    name = "%s_%d_%d" % (kind, os.getpid(), _serial[0])
    where, pwfile = shared().party(name, password_dir)
    return where, pwfile, name
