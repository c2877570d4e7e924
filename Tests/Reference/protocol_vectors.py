#!/usr/bin/env python3
"""An independent implementation of CareSync's change canonical form and signature, and of the
rules of the values the document's table "Values at the edges of the rules" tries, written from
docs/PROTOCOL.md with the Python standard library only.

    python3 Tests/Reference/protocol_vectors.py docs/PROTOCOL.md   # check every vector in the document
    python3 Tests/Reference/protocol_vectors.py --generate          # print the vectors the document holds

It is the evidence that the protocol can be implemented without reading the Swift sources; the Swift
tests check the same vectors (Tests/SyncCoreTests/ProtocolVectorTests.swift).
"""
import hashlib
import hmac
import json
import re
import sys


def canonical_bytes(value):
    """RFC 8785 (JCS) for JSON without fractional numbers: sorted keys, no white space, minimal escapes.
    With ASCII keys and integers only, this is exactly Python's json.dumps with these options."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(change, key_hex):
    """HMAC-SHA256 over the canonical bytes of the change without its "sig" member."""
    unsigned = {k: v for k, v in change.items() if k != "sig"}
    return hmac.new(bytes.fromhex(key_hex), canonical_bytes(unsigned), hashlib.sha256).hexdigest()


def hlc(millis, counter=0):
    return format(millis << 16 | counter, "016x")


def stamp(millis, counter, device):
    return f"{hlc(millis, counter)}@{device}"


PARENT = "0193a5c0-0000-7000-8000-000000000001"
OTHER_PARENT = "0193a5c0-0000-7000-8000-000000000002"
DIARY = "0193a5b0-0000-7000-8000-00000000000d"
FLARE = "0193a5c3-1d2e-7a40-9f00-2b7c4d5e6f70"
KEY_1 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
KEY_2 = "c0ffee00" * 8

VECTORS = [
    ("A new flare", KEY_1, {
        "v": 1, "change": "0193a5c3-1d2f-7b00-8a00-000000000001", "diary": DIARY, "record": FLARE,
        "type": "flare", "hlc": hlc(1732500000000), "author": PARENT,
        "fields": {
            "started": "2024-11-24", "sites": ["tibia-left", "clavicle-right"], "pain": 7,
            "swelling": True, "fever_c": "38.4",
            "notes": "Woke at 3 a.m. \"it hurts\" –\nlimping, Knöchel warm\tno ibuprofen yet",
        },
        "seen": {"started": [], "sites": [], "pain": [], "swelling": [], "fever_c": [], "notes": []},
    }),
    ("A treatment linked to the flare, with a dose", KEY_2, {
        "v": 1, "change": "0193a5c4-0000-7c00-8b00-000000000002", "diary": DIARY,
        "record": "0193a5c4-0000-7000-8000-0000000000a1", "type": "treatment", "hlc": hlc(1732500060000, 3),
        "author": OTHER_PARENT,
        "fields": {
            "kind": "nsaid", "name": "naproxen", "dosage": {"dose": "250", "unit": "mg"}, "route": "oral",
            "started": "2024-11-24T08:30:00+01:00", "flare": FLARE,
        },
        "seen": {"kind": [], "name": [], "dosage": [], "route": [], "started": [], "flare": []},
    }),
    ("An edit that resolves a conflict, clears a field and deletes the record", KEY_1, {
        "v": 1, "change": "0193a5c5-0000-7d00-8c00-000000000003", "diary": DIARY, "record": FLARE,
        "type": "flare", "hlc": hlc(1732500120000, 0), "author": PARENT,
        "fields": {"pain": 4, "ended": None, "deleted": True},
        "seen": {
            "pain": [stamp(1732500000000, 0, PARENT), stamp(1732500050000, 1, OTHER_PARENT)],
            "ended": [stamp(1732500050000, 1, OTHER_PARENT)],
            "deleted": [],
        },
    }),
]


HLC_TEXT = re.compile(r"[0-9a-f]{16}")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WHITE_SPACE = {*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}
# name: (required, multiline, at most this many characters)
TEXT_FIELDS = {"notes": (False, True, 4000), "name": (True, False, 200)}


def refused_control(code_point, multiline):
    if multiline and code_point in (0x09, 0x0A, 0x0D):
        return False
    if not multiline and code_point in (0x2028, 0x2029):
        return True
    return code_point < 0x20 or code_point == 0x7F or 0x80 <= code_point < 0xA0


def accepts(member, value):
    """Whether a server accepts a change with this one member changed (section 1, "Text"; sections 2 and 3).
    Covers the members the table of section 6 names."""
    if member == "hlc":
        return isinstance(value, str) and bool(HLC_TEXT.fullmatch(value)) and 1 <= int(value, 16) <= 0x7FFFFFFFFFFFFFFF
    if member in ("record", "change", "diary", "author"):
        return isinstance(value, str) and bool(UUID_TEXT.fullmatch(value))
    field = member.removeprefix("fields.")
    if field == "deleted":
        return value is None or isinstance(value, bool)
    required, multiline, limit = TEXT_FIELDS[field]
    if value is None:
        return not required
    if not isinstance(value, str) or len(value) > limit:  # len counts code points
        return False
    if any(refused_control(ord(c), multiline) for c in value):
        return False
    return not (required and all(ord(c) in WHITE_SPACE for c in value))


def check_values(text):
    """The table "Values at the edges of the rules": each row's verdict against accepts()."""
    table = text.split("#### Values at the edges of the rules", 1)[1].split("\n#### ", 1)[0]
    rows = re.findall(r"^\| `([a-z_.]+)` \| `(.+?)`(?: × (\d+))? \| (accepted|refused)", table, re.M)
    if len(rows) < 10:
        sys.exit(f"expected the table of values at the edges of the rules, found {len(rows)} rows")
    for member, value_json, repeat, verdict in rows:
        value = json.loads(value_json) * int(repeat) if repeat else json.loads(value_json)
        assert accepts(member, value) == (verdict == "accepted"), f"{member} = {value_json} × {repeat or 1}: not {verdict}"
    return len(rows)


def checkin_id(diary, date):
    """Section 2, "Check-in ids": a version 8 UUID from SHA-256 of caresync-checkin:<diary>:<date>."""
    raw = bytearray(hashlib.sha256(f"caresync-checkin:{diary}:{date}".encode("utf-8")).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def check_checkin_ids(text):
    table = text.split("#### Check-in ids", 1)[1].split("\n**", 1)[0]
    rows = re.findall(r"^\| `([0-9a-f-]{36})` \| `(\d{4}-\d{2}-\d{2})` \| `([0-9a-f-]{36})` \|", table, re.M)
    if not rows:
        sys.exit("expected the table of check-in ids")
    for diary, date, record in rows:
        assert checkin_id(diary, date) == record, f"check-in id of {diary} {date}: {checkin_id(diary, date)}, not {record}"
    return len(rows)


def generate():
    for index, (title, key, change) in enumerate(VECTORS, start=1):
        signed = dict(change, sig=sign(change, key))
        unsigned_bytes = canonical_bytes(change)
        print(f"#### Vector {index}: {title}\n")
        print(f"Key: `{key}`\n")
        print("The change as sent (wire form, with `sig`):\n")
        print("```json\n" + json.dumps(signed, indent=2, ensure_ascii=False) + "\n```\n")
        print("Canonical bytes (UTF-8 text, then hex):\n")
        print("```text\n" + unsigned_bytes.decode("utf-8").replace("\n", "\\n") + "\n```\n")
        print("```hex\n" + unsigned_bytes.hex() + "\n```\n")
        print(f"Signature: `{signed['sig']}`\n")


def check(path):
    text = open(path, encoding="utf-8").read()
    sections = re.split(r"^#### Vector \d+", text, flags=re.M)[1:]
    if len(sections) < 3:
        sys.exit(f"{path}: expected at least 3 vectors, found {len(sections)}")
    for number, section in enumerate(sections, start=1):
        key = re.search(r"^Key: `([0-9a-f]{64})`", section, re.M).group(1)
        change = json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))
        canonical_hex = re.search(r"```hex\n([0-9a-f]+)\n```", section).group(1)
        signature = re.search(r"^Signature: `([0-9a-f]{64})`", section, re.M).group(1)
        unsigned = {k: v for k, v in change.items() if k != "sig"}
        assert canonical_bytes(unsigned).hex() == canonical_hex, f"vector {number}: canonical bytes differ"
        assert sign(change, key) == signature == change["sig"], f"vector {number}: signature differs"
        tampered = dict(unsigned, hlc=format(int(unsigned["hlc"], 16) + 1, "016x"))
        assert sign(tampered, key) != signature, f"vector {number}: tampering went unnoticed"
    values = check_values(text)
    checkins = check_checkin_ids(text)
    print(
        f"protocol vectors: {len(sections)} passed, 0 failed; values at the edges of the rules: {values} passed, 0 failed; "
        f"check-in ids: {checkins} passed, 0 failed"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--generate"]:
        generate()
    elif len(sys.argv) == 2:
        check(sys.argv[1])
    else:
        sys.exit(__doc__)
