#!/bin/sh
# Install the Debian 12 packages Onramp needs that are not installed yet.
#
#   scripts/deps.sh          build and run dependencies (the demo's, with
#                            PostgreSQL 15 and psycopg2 for --store postgres)
#   scripts/deps.sh --tests  and what only the tests need (headless Chromium
#                            for the provider's pairing page; clang and its
#                            libFuzzer and sanitizer runtimes for fuzz.short;
#                            dpkg-dev and lintian for the packages test;
#                            Node.js and npm, unless a node and an npm are
#                            already installed, for integration.nfc, which
#                            installs npm's `ndef` into build/node itself;
#                            prometheus, with promtool, for integration.metrics)
#
# Runs apt-get as root (directly, or through sudo when run by another user).
# Prints what it installs; does nothing when everything is present.
set -eu

packages="
  gcc make libc6-dev cmake pkg-config
  libwolfssl-dev libmsgpack-dev libevent-dev libsqlite3-dev libpq-dev libqrencode-dev
  postgresql python3-psycopg2
  mosquitto mosquitto-dev libmosquitto-dev mosquitto-clients
  libcmocka-dev openssl libssl-dev python3 python3-paho-mqtt zbar-tools
"
if [ "${1:-}" = "--tests" ]; then
    packages="$packages chromium chromium-driver clang-14 libclang-rt-14-dev dpkg-dev lintian
              prometheus"
    # Node.js from elsewhere (NodeSource's nodejs bundles npm) is kept
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        packages="$packages nodejs npm"
    fi
elif [ $# -gt 0 ]; then
    echo "usage: scripts/deps.sh [--tests]" >&2
    exit 2
fi

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        "install ok installed") ;;
        *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "onramp: installing missing packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "onramp: need root to install:$missing" >&2
    echo "onramp: run as root: apt-get install -y$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$as_root apt-get install -y -q --no-install-recommends $missing

# Debian's prometheus package enables and starts a system-wide server (on
# port 9090, its data in /var/lib/prometheus), its postgresql package a
# `main` cluster on port 5432. Onramp never uses them: integration.metrics
# starts its own Prometheus on a free loopback port with a private data
# directory, the tests and the demo run private PostgreSQL clusters (initdb
# into their own directory, a Unix socket there). A server installed here
# only for that is stopped and disabled, so it does nothing meanwhile; a
# site's own servers are its operator's.
for server in prometheus postgresql; do
    case " $missing " in
        *" $server "*)
            if [ -d /run/systemd/system ]; then
                echo "onramp: stopping and disabling the $server service the package started" \
                     "(Onramp's tests and demo start their own)"
                $as_root systemctl disable --now "$server.service" || true
            fi
            ;;
    esac
done
