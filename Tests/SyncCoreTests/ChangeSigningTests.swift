import Foundation
import SyncCore
import Testing

struct ChangeSigningTests {
    let change = Fixture.change(
        1, at: 1_732_500_000_000,
        fields: ["started": "2024-11-24", "sites": ["femur-right"], "pain": 5, "notes": "nachts \"schlimmer\", 🦴\n"])

    @Test func flippingAnyByteOfTheCanonicalFormFailsVerification() {
        let signed = ChangeSigner.sign(change, with: Fixture.key)
        let bytes = change.canonicalBytes
        #expect(ChangeSigner.isValid(signature: signed.signature, for: bytes, key: Fixture.key))
        for index in bytes.indices {
            var tampered = bytes
            tampered[index] ^= 0x01
            #expect(!ChangeSigner.isValid(signature: signed.signature, for: tampered, key: Fixture.key), "byte \(index) flipped")
        }
    }

    @Test func anotherKeyFailsVerification() {
        let signed = ChangeSigner.sign(change, with: Fixture.key)
        #expect(!ChangeSigner.isValid(signed, key: Fixture.otherKey))
        #expect(!ChangeSigner.isValid(signed, key: DeviceKey.generate()))
    }

    @Test func changedFieldValueFailsVerification() {
        let signed = ChangeSigner.sign(change, with: Fixture.key)
        var fields = change.fields
        fields["pain"] = 6
        let forged = Change(
            id: change.id, diary: change.diary, record: change.record, type: change.type, hlc: change.hlc, author: change.author,
            fields: fields, seen: change.seen)
        #expect(!ChangeSigner.isValid(SignedChange(change: forged, signature: signed.signature), key: Fixture.key))
    }

    @Test func wireFormRoundTripsAndStillVerifies() throws {
        let signed = ChangeSigner.sign(change, with: Fixture.key)
        let wire = signed.wireValue.canonicalString
        let parsed = try SignedChange(wireValue: try JSONValue(parsing: wire))
        #expect(parsed == signed)
        #expect(ChangeSigner.isValid(parsed, key: Fixture.key))
    }

    @Test func generatedKeysAreFreshAndRoundTripThroughHex() throws {
        let first = DeviceKey.generate()
        let second = DeviceKey.generate()
        #expect(first.hexForStorage != second.hexForStorage)
        #expect(first.hexForStorage.count == 64)
        let reread = try #require(DeviceKey(hex: first.hexForStorage))
        #expect(ChangeSigner.isValid(ChangeSigner.sign(change, with: first), key: reread))
        #expect(!"\(first)".contains(first.hexForStorage), "printing a key must not reveal it")
    }

    @Test(arguments: [
        ("{\"v\":1}", "change: change is required"),
        ("[1]", "change: change must be a JSON object"),
    ])
    func malformedChangesAreRefusedWithAReason(json: String, expected: String) throws {
        let error = #expect(throws: ValidationError.self) { try SignedChange(wireValue: try JSONValue(parsing: json)) }
        #expect(error?.description.hasPrefix(expected) == true, "\(String(describing: error))")
    }

    /// Every way a wire change can be malformed is refused, naming the member.
    @Test(arguments: [
        ("sig", JSONValue.string("zz"), "sig must be 64 lowercase hex digits"),
        ("v", .int(2), "v must be 1"),
        ("hlc", .string("0193610C0D000000"), "hlc must be 16 lowercase hex digits"),
        ("author", .string("0193A5C0-0000-7000-8000-000000000001"), "author must be a lowercase hyphenated UUID"),
        ("type", .string("Lab"), "type must be a record type name"),
        ("extra", .int(1), "extra is not a member of a change"),
        ("seen", .object(["notes": []]), "seen must have exactly one entry for each field"),
        ("seen", .object(["pain": ["7fffffffffffffff@0193a5c0-0000-7000-8000-000000000001"]]), "not older than the change itself"),
        ("seen", .object(["pain": ["0193610c0d000000", "x"]]), "which is not a stamp"),
    ])
    func wireChangeWithABadMemberIsRefused(member: String, value: JSONValue, expected: String) {
        let base = Fixture.change(9, at: 1_732_500_000_000, fields: ["pain": 3])
        guard case .object(var members) = ChangeSigner.sign(base, with: Fixture.key).wireValue else { return }
        members[member] = value
        do {
            _ = try SignedChange(wireValue: .object(members))
            Issue.record("accepted a change with \(member) = \(value.canonicalString)")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
            #expect(error.description.contains(member), "the message names the member: \(error)")
        }
    }
}

struct CanonicalJSONTests {
    @Test func membersAreSortedAndWhiteSpaceRemoved() {
        let value: JSONValue = ["b": [1, true, .null], "a": "x", "A": ["z": 1, "y": -2]]
        #expect(value.canonicalString == #"{"A":{"y":-2,"z":1},"a":"x","b":[1,true,null]}"#)
    }

    /// RFC 8785 orders members by UTF-16 code units: a character above U+FFFF (a surrogate pair, from
    /// 0xD800) sorts before U+E000 and U+FFFD, though its UTF-8 bytes sort after theirs. The parser
    /// accepts exactly that order as canonical.
    @Test func membersAreSortedByUTF16CodeUnitsAboveTheBasicPlane() throws {
        let keys = ["\u{FFFD}", "z", "\u{E000}", "𝄞", "é", "a", "\u{E000}a", "🦴"]
        let value = JSONValue.object(Dictionary(uniqueKeysWithValues: keys.map { ($0, JSONValue.int(1)) }))
        let order = ["a", "z", "é", "𝄞", "🦴", "\u{E000}", "\u{E000}a", "\u{FFFD}"]
        #expect(value.canonicalString == "{" + order.map { "\"\($0)\":1" }.joined(separator: ",") + "}")
        #expect(try Self.isCanonical(value.canonicalBytes))
        let byUTF8 = "{" + ["a", "z", "é", "\u{E000}", "𝄞"].map { "\"\($0)\":1" }.joined(separator: ",") + "}"
        #expect(try !Self.isCanonical(Array(byUTF8.utf8)))
    }

    /// Whether the parser finds `bytes`, listed as the one element of a list, in canonical form.
    static func isCanonical(_ bytes: [UInt8]) throws -> Bool {
        let (_, elements) = try JSONValue.parsing(Array(#"{"changes":["#.utf8) + bytes + Array("]}".utf8), listing: "changes")
        return try #require(elements?.first).isCanonical
    }

    @Test func stringsAreEscapedMinimallyAndNonASCIIIsKept() {
        let value = JSONValue.string("\"\\/\u{08}\u{0C}\n\r\t\u{01}\u{1F}é🦴\u{7F}")
        #expect(value.canonicalString == "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001fé🦴\u{7F}\"")
    }

    @Test(arguments: [RecordType.flare, .treatment])
    func wireBytesSplicedFromTheCanonicalFormEqualTheEncodedWireForm(type: RecordType) throws {
        let fields: [String: JSONValue] =
            type == .flare ? Fixture.flareFields.merging(["notes": "type\":\"x \"v\":1}"]) { $1 } : ["kind": "nsaid", "name": "naproxen"]
        let change = Fixture.change(7, type: type, at: 1_732_500_000_000, fields: fields)
        let (signed, wire) = ChangeSigner.signWithWireBytes(change, with: Fixture.key)
        #expect(wire == signed.wireValue.canonicalBytes)
        #expect(try SignedChange(wireValue: JSONValue(parsing: wire)) == signed)
    }

    @Test func parsingThenEncodingIsTheIdentityOnCanonicalText() throws {
        let text = #"{"fields":{"notes":"a\nb \"c\" ü","pain":10},"v":1}"#
        #expect(try JSONValue(parsing: text).canonicalString == text)
    }

    @Test(arguments: ["37.5", "0.5", "-2.25", "1.25e-1"])
    func fractionalNumbersAreRefusedSoDecimalsTravelAsText(number: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: "{\"fever_c\":\(number)}") }
    }

    @Test(arguments: [
        "{", "{\"a\":}", "\"unterminated", "nul", "", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "1e3", "01", "{\"a\":1,\"a\":2}",
        "\"\\ud800\"", "\"tab\there\"", "9223372036854775808", "[1] 2", String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
    ])
    func malformedJSONIsRefused(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func parsingReadsEscapesNumbersAndNestingAsWritten() throws {
        let value = try JSONValue(parsing: #" {"a": [true, false, null, -9223372036854775808, 0, 42], "b": "\u00e9\ud83d\ude00\n\"\/", "c": {}} "#)
        #expect(value == ["a": [true, false, .null, .int(Int64.min), 0, 42], "b": "é😀\n\"/", "c": .object([:])])
        let nested = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONValue(parsing: nested) }
    }

    /// Strings are read as UTF-8: ASCII as it is, anything else validated, with invalid bytes refused.
    @Test func textMustBeValidUTF8() throws {
        #expect(try JSONValue(parsing: Array(#"["plain ascii ~","é🦴 at night"]"#.utf8)) == ["plain ascii ~", "é🦴 at night"])
        for bytes: [UInt8] in [[0x61, 0xFF, 0x62], [0xC3], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0xA6], [0x80]] {
            let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22] + bytes + [0x22]) }
            #expect(error?.description.contains("not valid UTF-8") == true, "\(bytes)")
        }
    }

    @Test func equalityIsByteEqualityNotUnicodeEquivalence() {
        #expect(JSONValue.string("é") != JSONValue.string("e\u{301}"))
        #expect(JSONValue.string("é") == JSONValue.string("é"))
    }
}
