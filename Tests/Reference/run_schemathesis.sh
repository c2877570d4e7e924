#!/usr/bin/env bash
# Keeps docs/openapi.yaml true: runs schemathesis against a live caresync-server, every request to a
# diary signed as docs/PROTOCOL.md section 8 says (Tests/Reference/schemathesis_hooks.py). Fails on any
# 5xx and on any answer the document does not describe (status code, content type, headers, body).
#
#     Tests/Reference/run_schemathesis.sh PATH/TO/caresync-server
#
# Environment: SCHEMATHESIS_MAX_EXAMPLES (cases per operation and phase, default 40),
# SCHEMATHESIS_STATEFUL_EXAMPLES (scenarios of the stateful phase, default 60), SCHEMATHESIS_SEED
# (default: a fixed seed, so a run can be repeated), KEEP_TMP=1 to keep the temporary folder (server
# log, database, report) for a look afterwards.
set -euo pipefail

SCHEMATHESIS_VERSION='4.32.*'

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/caresync-server" >&2
    exit 2
fi
SERVER_BIN=$(realpath "$1")
[ -x "$SERVER_BIN" ] || { echo "$0: $1 is not an executable" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SPEC="$ROOT/docs/openapi.yaml"
HOOKS="$HERE/schemathesis_hooks.py"
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-40}
STATEFUL_EXAMPLES=${SCHEMATHESIS_STATEFUL_EXAMPLES:-60}
SEED=${SCHEMATHESIS_SEED:-24}

python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
python3 "$HOOKS" --self-test

TMP=$(mktemp -d "${TMPDIR:-/tmp}/caresync-schemathesis.XXXXXX")
SERVER_PID=
cleanup() {
    local status=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${KEEP_TMP:-0}" = 1 ] || [ $status -ne 0 ]; then
        echo "server log, database and report kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port on 127.0.0.1, below the kernel's range of ephemeral ports where there is room (as
# LoopbackPort.free() does), so that no outgoing connection takes it meanwhile.
PORT=$(python3 - <<'EOF'
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return None
        return s.getsockname()[1]
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
port = None
if low - 10000 >= 1000:
    for _ in range(200):
        port = free(random.randrange(10000, low))
        if port:
            break
print(port or free(0))
EOF
)
BASE_URL="http://127.0.0.1:$PORT"

SERVE_ARGS=(serve --db "$TMP/server.sqlite" --host 127.0.0.1 --port "$PORT" --log-level warning)
# Metrics on, behind a bearer token, where this server has them (so that GET /metrics answers 200).
METRICS_TOKEN=
if "$SERVER_BIN" serve --help 2>&1 | grep -q -- '--metrics-token-file'; then
    METRICS_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
    (umask 077 && printf '%s' "$METRICS_TOKEN" >"$TMP/metrics.token")
    SERVE_ARGS+=(--metrics-token-file "$TMP/metrics.token")
fi
"$SERVER_BIN" "${SERVE_ARGS[@]}" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

# Up when it answers anything over HTTP (a server without /health answers 404).
for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/health" || true)
    [ "$code" != 000 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "caresync-server exited:" >&2; cat "$TMP/server.log" >&2; exit 1; }
    sleep 0.1
done
[ "$code" != 000 ] || { echo "caresync-server did not answer on $BASE_URL" >&2; exit 1; }

OWNER_CODE=$("$SERVER_BIN" create-diary --db "$TMP/server.sqlite" --name "Schemathesis" | tail -1)
CARESYNC_METRICS_TOKEN="$METRICS_TOKEN" python3 "$HOOKS" --setup "$BASE_URL" "$OWNER_CODE" "$TMP/auth.json"

# The diary of every path is the owner's own, and the revoke endpoint revokes only the second device:
# revoking the device the hooks sign with would turn the rest of the run into 401 device_revoked (and
# revoking itself is refused anyway, 409 cannot_revoke_self).
python3 - "$TMP/auth.json" "$TMP/schemathesis.toml" <<'EOF'
import json, sys
auth = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as out:
    out.write("[parameters]\n")
    out.write(f'"path.diary" = "{auth["diary"]}"\n')
    out.write(f'"path.device" = "{auth["revoke_target"]}"\n')
    # Also send a query parameter twice, which must be 400 bad_request.
    out.write("[phases.coverage]\ngenerate-duplicate-query-parameters = true\n")
    out.write("[phases.stateful]\nmax-steps = 6\n")
EOF

export CARESYNC_AUTH_FILE="$TMP/auth.json"
export SCHEMATHESIS_HOOKS="$HOOKS"
# Server errors, and every answer held to the document: its status code, content type, headers and
# body; a method the path does not take must be 405 with Allow; a signed operation must refuse the
# request without its signature.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,ignored_auth
# One worker: with two, CPython 3.11's ast module, which hypothesis calls from both threads to describe
# strategies, now and then fails with "SystemError: AST constructor recursion depth mismatch".
COMMON=(--url "$BASE_URL" --checks "$CHECKS" --seed "$SEED" --workers 1 --request-timeout 10
    --generation-database none --suppress-health-check too_slow,filter_too_much,data_too_large --no-color)
status=0
# First the chains the document's links describe (an invite's code enrolls a device, which can be
# revoked; a push's `previous` and a page's `next` are cursors to pull after), with valid data only and
# while no failed enrollment has yet blocked enrolling from 127.0.0.1 (429 too_many_attempts).
(
    cd "$TMP"
    set -x
    schemathesis --config-file "$TMP/schemathesis.toml" run "$SPEC" "${COMMON[@]}" \
        --phases stateful --mode positive --max-examples "$STATEFUL_EXAMPLES" \
        --report junit,har --report-dir "$TMP/report-stateful"
) || status=$?
# Then every operation on its own: the document's examples, the coverage phase (each boundary, each
# missing or wrong member, each undeclared method) and random valid and invalid data.
(
    cd "$TMP"
    set -x
    schemathesis --config-file "$TMP/schemathesis.toml" run "$SPEC" "${COMMON[@]}" \
        --phases examples,coverage,fuzzing --max-examples "$MAX_EXAMPLES" \
        --report junit,har --report-dir "$TMP/report"
) || status=$?

# What the server answered, by request and status (from the run's HAR file).
python3 - "$TMP"/report*/har-*.json <<'EOF' || true
import collections, json, re, sys
counts = collections.defaultdict(collections.Counter)
for path in sys.argv[1:]:
    for entry in json.load(open(path))["log"]["entries"]:
        request, response = entry["request"], entry["response"]
        target = re.sub(r"^https?://[^/]+", "", request["url"]).split("?")[0]
        target = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "{id}", target)
        counts[f'{request["method"]} {target}'][response["status"]] += 1
only_405 = [key for key in counts if set(counts[key]) == {405}]
print("answers by request and status:")
for key in sorted(set(counts) - set(only_405)):
    print(f"  {key}: " + ", ".join(f"{code} x{n}" for code, n in sorted(counts[key].items())))
print(f"  and 405 to {len(only_405)} requests with a method their path does not take")
EOF

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "caresync-server died during the run:" >&2
    tail -50 "$TMP/server.log" >&2
    status=1
fi
# A fault answers 500, which fails the run above; one in an answer schemathesis did not judge (a probe
# of ignored_auth, say) fails it here.
if grep -q "request failed" "$TMP/server.log"; then
    echo "the server logged faults (internal_error):" >&2
    grep "request failed" "$TMP/server.log" | head -20 >&2
    status=1
fi
exit $status
