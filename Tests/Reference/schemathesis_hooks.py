"""Schemathesis hooks for CareSync: sign every request to a diary as docs/PROTOCOL.md section 8 says.

Loaded by schemathesis through SCHEMATHESIS_HOOKS (Tests/Reference/run_schemathesis.sh sets it up).
The device comes from the JSON file named by CARESYNC_AUTH_FILE:

    {"device": "<device id>", "key": "<64 hex digits>", "diary": "<diary id>", "metrics_token": null,
     "revoke_target": "<device id>", "invite_codes": ["<code>", ...]}

(`--setup` below writes it) or from the variables CARESYNC_DEVICE, CARESYNC_KEY, CARESYNC_DIARY and
CARESYNC_METRICS_TOKEN.

Where the signing happens. The signature covers the method, the path and query as sent, and a
Content-Digest of the exact body bytes, so it must be made after schemathesis has serialised the body
and built the URL. schemathesis's `auth.set_from_requests` takes a `requests` auth object, which
`requests` calls on the final PreparedRequest (after `prepare_body`, so `r.body` holds the bytes that
go on the wire and `r.path_url` the request target). Nothing changes the request after that.

Positive enrollments. The run script makes live invite codes; positive enrollments get one of them in
place of the generated code, so that `201` is checked too, until they run out; a code taken from
createInvite's answer through the document's link is kept unless it was sent before. The rest keep
their generated code (`401 invalid_invite`, and after 10 of those within a minute from one address
`429 too_many_attempts`, which then stops every enrollment of the run for that minute).

Positive pushes. Changes that schemathesis generates from the schema cannot carry a valid signature,
so every push would end in `422`. For a push whose body was generated as valid data (not a negative
case), `before_call` turns each generated change into an authentic one of this device: a fresh id, its
author, diary, a fresh HLC, a `seen` with the keys of its fields, and its HMAC under the device key
(PROTOCOL.md section 4). Its record, type and field values stay as generated. That is what lets the 200
answer of a push, and changes in pulled pages, be checked against the document too.

Integers. JSON Schema counts 10.0 as an integer, which CareSync refuses as malformed (no number has a
fraction); a body generated as valid data is sent with its integers as digits only.

    python3 Tests/Reference/schemathesis_hooks.py --self-test   # checks the signer against PROTOCOL.md's worked example
    python3 Tests/Reference/schemathesis_hooks.py --setup BASE_URL OWNER_CODE AUTH_FILE   # enrolls the devices
"""
import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import secrets
import sys
import threading
import time
from urllib.parse import urlsplit

LABEL = "caresync"
COVERED = '("@method" "@path" "@query" "content-digest")'


# ---- PROTOCOL.md section 8, with the standard library only ----

def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def signature_params(created: int, nonce: str, keyid: str) -> str:
    return f'{COVERED};created={created};nonce="{nonce}";keyid="{keyid}";alg="hmac-sha256"'


def signature_base(method: str, path: str, query: str, digest: str, params: str) -> str:
    """`query` without its `?`; RFC 9421 writes an absent or empty query as `?`."""
    return "\n".join([
        f'"@method": {method.upper()}',
        f'"@path": {path}',
        f'"@query": ?{query}',
        f'"content-digest": {digest}',
        f'"@signature-params": {params}',
    ])


def sign_headers(method, path, query, body, key_hex, keyid, created=None, nonce=None):
    """The three headers of a signed request."""
    created = int(time.time()) if created is None else created
    nonce = secrets.token_hex(16) if nonce is None else nonce
    digest = content_digest(body)
    params = signature_params(created, nonce, keyid)
    base = signature_base(method, path, query, digest, params)
    mac = hmac.new(bytes.fromhex(key_hex), base.encode("utf-8"), hashlib.sha256).digest()
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:" + base64.b64encode(mac).decode("ascii") + ":",
    }


# ---- PROTOCOL.md sections 3-5: making a generated change authentic ----

def canonical_bytes(value) -> bytes:
    """RFC 8785 for JSON without fractional numbers, as in Tests/Reference/protocol_vectors.py."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_counter = itertools.count()
_counter_lock = threading.Lock()


def fresh_hlc() -> str:
    """Now, with a counter that makes every HLC of this run distinct (so no stamp is reused)."""
    with _counter_lock:
        tick = next(_counter)
    millis = int(time.time() * 1000)
    return format(millis << 16 | (tick & 0xFFFF), "016x")


def uuid7() -> str:
    """A UUIDv7 (RFC 9562) in canonical text, as CareSync clients make change ids."""
    value = int(time.time() * 1000) << 80 | 0x7 << 76 | secrets.randbits(12) << 64 | 0b10 << 62 | secrets.randbits(62)
    text = format(value, "032x")
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def integral(value):
    """`10.0` as `10`: JSON Schema counts 10.0 as an integer, but CareSync refuses a number with a fraction."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {name: integral(item) for name, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


def make_authentic(change, device, diary, key_hex):
    """Turns a change generated from the schema into one this device could have made and signed: a fresh
    id (a generated one is mostly one already stored, `409 change_id_reused`), this device as author, the
    diary of the path, a fresh HLC, a `seen` with exactly the keys of `fields`, and the signature. The
    record, its type and the field values stay as generated (integers written without a fraction)."""
    if not isinstance(change, dict) or not isinstance(change.get("fields"), dict):
        return change
    change["fields"] = integral(change["fields"])
    change["v"] = integral(change.get("v"))
    change["change"] = uuid7()
    change["author"] = device
    change["diary"] = diary
    change["hlc"] = fresh_hlc()
    change["seen"] = {name: [] for name in change["fields"]}
    unsigned = {name: value for name, value in change.items() if name != "sig"}
    change["sig"] = hmac.new(bytes.fromhex(key_hex), canonical_bytes(unsigned), hashlib.sha256).hexdigest()
    return change


# ---- the device ----

def load_device():
    path = os.environ.get("CARESYNC_AUTH_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    else:
        data = {
            "device": os.environ.get("CARESYNC_DEVICE"),
            "key": os.environ.get("CARESYNC_KEY"),
            "diary": os.environ.get("CARESYNC_DIARY"),
            "metrics_token": os.environ.get("CARESYNC_METRICS_TOKEN"),
        }
    for name in ("device", "key", "diary"):
        if not data.get(name):
            raise RuntimeError(f"CareSync hooks: no {name}; set CARESYNC_AUTH_FILE or CARESYNC_{name.upper()}")
    return data


# ---- self-test against the worked example of PROTOCOL.md section 8 ----

def self_test():
    headers = sign_headers(
        "POST", "/v1/diaries/0193a5b0-0000-7000-8000-00000000000d/changes", "", b'{"changes":[]}',
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "0193a5c0-0000-7000-8000-000000000001", created=1732500000, nonce="5f1c0a9e2b7d4c31a8e6f0b2d9c4e7a1")
    expected = {
        "Content-Digest": "sha-256=:HHsL58/LUp1h33x7ULqpHmkZ3PDrpA5oZpZTqyiAxxE=:",
        "Signature-Input": 'caresync=("@method" "@path" "@query" "content-digest");created=1732500000;'
        'nonce="5f1c0a9e2b7d4c31a8e6f0b2d9c4e7a1";keyid="0193a5c0-0000-7000-8000-000000000001";alg="hmac-sha256"',
        "Signature": "caresync=:Pdf0dXKajNuZ45ep+yNatKwU8aAEGWTHHojT+mTpays=:",
    }
    if headers != expected:
        print("signer does not reproduce PROTOCOL.md's worked example:", headers, file=sys.stderr)
        return 1
    print("signer reproduces PROTOCOL.md's worked example")
    return 0


# ---- setting up the run: the devices the hooks sign as ----

INVITE_POOL = 150

def http(base_url, method, path, payload=None, device=None):
    """One request with the standard library; signed when `device` (a dict with device and key) is given."""
    import urllib.error
    import urllib.request

    body = b"" if payload is None else json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    if device is not None:
        target = urlsplit(path)
        headers.update(sign_headers(method, target.path, target.query, body, device["key"], device["device"]))
    request = urllib.request.Request(base_url + path, data=body if payload is not None else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def setup(base_url, owner_code, out_path):
    """Enrolls the owner device the hooks sign as, and a second device (a caregiver) for the revoke
    endpoint to revoke, so that the run never revokes the device it signs with; writes the JSON file
    that CARESYNC_AUTH_FILE names, with the metrics token of CARESYNC_METRICS_TOKEN if set."""
    status, owner = http(base_url, "POST", "/v1/enroll", {"code": owner_code, "device_name": "schemathesis owner"})
    if status != 201:
        raise SystemExit(f"enrolling the owner: {status} {owner}")
    status, invite = http(base_url, "POST", f"/v1/diaries/{owner['diary']}/invites", {"role": "caregiver"}, device=owner)
    if status != 201:
        raise SystemExit(f"inviting the device to revoke: {status} {invite}")
    status, target = http(base_url, "POST", "/v1/enroll", {"code": invite["code"], "device_name": "schemathesis revoke target"})
    if status != 201:
        raise SystemExit(f"enrolling the device to revoke: {status} {target}")
    # Live codes for positive enrollments, so that the 201 answer is checked too (see `before_call`).
    codes = []
    for index in range(INVITE_POOL):
        request = {"role": "caregiver"} if index % 2 else {"role": "clinician", "access_expires_in_seconds": 86400}
        status, invite = http(base_url, "POST", f"/v1/diaries/{owner['diary']}/invites", request, device=owner)
        if status != 201:
            raise SystemExit(f"inviting: {status} {invite}")
        codes.append(invite["code"])
    data = {
        "device": owner["device"], "key": owner["key"], "diary": owner["diary"], "revoke_target": target["device"],
        "metrics_token": os.environ.get("CARESYNC_METRICS_TOKEN") or None, "invite_codes": codes,
    }
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.chmod(out_path, 0o600)
    print(f"owner {owner['device']}, revoke target {target['device']}, diary {owner['diary']}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) == 5 and sys.argv[1] == "--setup":
        setup(*sys.argv[2:])
        sys.exit(0)
    print(__doc__ + "\n    python3 Tests/Reference/schemathesis_hooks.py --setup BASE_URL OWNER_CODE AUTH_FILE")
    sys.exit(2)


# ---- schemathesis ----

import requests  # noqa: E402
import schemathesis  # noqa: E402
from schemathesis.core.parameters import ParameterLocation  # noqa: E402

DEVICE = load_device()


class CareSyncSignature(requests.auth.AuthBase):
    """Signs the final request: `requests` calls this after the body and URL are prepared."""

    def __init__(self, device, key_hex):
        self.device = device
        self.key_hex = key_hex

    def __call__(self, r):
        body = r.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, (bytes, bytearray)):
            raise TypeError(f"cannot sign a streamed request body ({type(body).__name__})")
        target = urlsplit(r.path_url)
        for name in ("Content-Digest", "Signature-Input", "Signature"):
            r.headers.pop(name, None)
        r.headers.update(sign_headers(r.method, target.path, target.query, bytes(body), self.key_hex, self.device))
        return r


class BearerToken(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


schemathesis.auth.set_from_requests(CareSyncSignature(DEVICE["device"], DEVICE["key"])).apply_to(path_regex="^/v1/diaries/")
if DEVICE.get("metrics_token"):
    schemathesis.auth.set_from_requests(BearerToken(DEVICE["metrics_token"])).apply_to(path="/metrics")


# Codes handed out are noted beside the auth file, so that a later schemathesis run of the same
# script does not offer them again.
USED_CODES_FILE = (os.environ.get("CARESYNC_AUTH_FILE") or "caresync-auth") + ".used-codes"
try:
    with open(USED_CODES_FILE, encoding="utf-8") as handle:
        _used = set(handle.read().split())
except FileNotFoundError:
    _used = set()
INVITE_CODES = [code for code in DEVICE.get("invite_codes") or [] if code not in _used]
CODE_FORM = re.compile(r"^[a-z2-7]{4}(-[a-z2-7]{4}){7}$")
INVITE_LOCK = threading.Lock()


@schemathesis.hook
def before_call(context, case, kwargs):
    """For a body generated as valid data: writes its integers without a fraction, makes a push's
    changes authentic, and gives an enrollment a live code (see the module's docstring). Negative
    cases go out as generated."""
    if case.operation.method.upper() != "POST":
        return
    meta = case.meta
    if meta is not None and meta.is_negative_at(ParameterLocation.BODY):
        return
    if not isinstance(case.body, dict):
        return
    # JSON Schema counts 10.0 as an integer, but CareSync reads a number with a fraction as malformed
    # (400): a valid body is sent with its integers as digits only.
    case.body = body = integral(case.body)
    if case.operation.path == "/v1/enroll" and isinstance(body.get("code"), str):
        with INVITE_LOCK:
            # A code of the form of a real one came from a link (createInvite's answer) and is kept, the
            # first time: a stateful scenario may send the same answer's code again, which is refused
            # as used (401) and counts as a failed enrollment; ten of those block enrolling from
            # 127.0.0.1 for a minute (429), which would leave the rest of the run's chains untested.
            if (not CODE_FORM.match(body["code"]) or body["code"] in _used) and INVITE_CODES:
                body["code"] = INVITE_CODES.pop()
            _used.add(body["code"])
            with open(USED_CODES_FILE, "a", encoding="utf-8") as handle:
                handle.write(body["code"] + "\n")
    elif case.operation.path.endswith("/changes") and isinstance(body.get("changes"), list):
        for change in body["changes"]:
            make_authentic(change, DEVICE["device"], DEVICE["diary"], DEVICE["key"])
