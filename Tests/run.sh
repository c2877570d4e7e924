#!/usr/bin/env bash
# Every test of CareSync, on a fresh machine: installs what the tests need, then runs them.
# README.md's test command and CI's (.ci/run) are both exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_DETERMINISTIC_HASHING=1

# The FHIR export test validates bundles with fhir.resources (R4B models); the API test runs schemathesis.
python3 -m pip install --quiet --disable-pip-version-check -r Tests/Reference/requirements.txt

# The completion test has zsh and fish read syncctl's scripts.
command -v zsh > /dev/null && command -v fish > /dev/null || { apt-get update -q && apt-get install -y -q zsh fish; }

# The report test prints the clinician's report with headless chromium and counts its pages with pdfinfo.
command -v chromium > /dev/null && command -v pdfinfo > /dev/null || { apt-get update -q && apt-get install -y -q chromium poppler-utils; }

# The server tests run a second time on PostgreSQL, and the multi-instance test runs three servers
# over it: a cluster of this run's own (Debian's postgresql, installed if missing), on 127.0.0.1 and a
# free port, stopped at the end. If it cannot start, the run fails.
pg_dir=$(mktemp -d /tmp/caresync-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash Tests/Reference/postgres_cluster.sh start "$pg_dir" "$pg_port"
trap 'bash Tests/Reference/postgres_cluster.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
export CARESYNC_TEST_POSTGRES="postgres://postgres@127.0.0.1:$pg_port"

swift format lint --strict -r Package.swift Sources Server Client Tests Benchmarks
python3 Tests/Reference/protocol_vectors.py docs/PROTOCOL.md
swift test
CARESYNC_TEST_ENGINE=postgresql swift test --skip-build --filter CareSyncServerTests

# docs/openapi.yaml against the live server that swift test built, every request signed as a device would.
bash Tests/Reference/run_schemathesis.sh .build/debug/caresync-server

# The systemd unit, read as systemd reads it: any key it does not know or value it cannot take is named.
command -v systemd-analyze > /dev/null || { apt-get update -q && apt-get install -y -q systemd; }
unit=$(mktemp -d)
sed "s|/usr/local/bin/caresync-server|$PWD/.build/debug/caresync-server|" deploy/caresync-server.service > "$unit/caresync-server.service"
complaints=$(systemd-analyze verify "$unit/caresync-server.service" 2>&1)
rm -rf "$unit"
if [ -n "$complaints" ]; then echo "deploy/caresync-server.service: $complaints"; exit 1; fi

# The benchmark with a small N, so that it keeps working (it asserts nothing about time; the debug
# build that swift test made is reused).
swift run caresync-bench --changes 2000 --memory-changes 5000 --devices 5 --rounds 3 --sync-calls 20
