import Foundation
@testable import SyncCore
import Testing

/// A receiver keeps and checks the bytes a change arrived as when they are canonical, and encodes it
/// again when they are not; either way it stores the canonical form and the signature verifies.
struct ReceivedChangeTests {
    let change = Fixture.change(
        7, at: 1_732_500_000_000,
        fields: ["started": "2024-11-24", "sites": ["femur-right"], "pain": 5, "notes": "a/b A \"x\" \\ \u{1F}\n🦴"])

    /// The canonical wire text of `change`, signed with the fixture key.
    var wireText: String { ChangeSigner.sign(change, with: Fixture.key).wireValue.canonicalString }

    func received(_ elementText: String) throws -> (ReceivedChange, isCanonical: Bool) {
        let (_, elements) = try JSONValue.parsing(Array(#"{"changes":[\#(elementText)]}"#.utf8), listing: "changes")
        let element = try #require(elements?.first)
        return (try ReceivedChange(element), element.isCanonical)
    }

    @Test func canonicalBytesAreKeptAsReceived() throws {
        #expect(wireText.contains(#"a/b A \"x\" \\ \u001f\n🦴"#), "the fixture exercises every kind of escape")
        let (received, isCanonical) = try received(wireText)
        #expect(isCanonical)
        #expect(received.wireBytes == Array(wireText.utf8))
        #expect(received.canonicalBytes == change.canonicalBytes)
        #expect(received.isValid(key: Fixture.key))
        #expect(!received.isValid(key: Fixture.otherKey))
    }

    @Test(arguments: [
        ("whitespace", #"":"#, #"": "#),
        ("escaped solidus", "a/b", #"a\/b"#),
        ("escaped letter", " A ", #" \u0041 "#),
        ("uppercase hex escape", #"\u001f"#, #"\u001F"#),
        ("long form of a short escape", #"\n"#, #"\u000a"#),
        ("escaped emoji", "🦴", #"\ud83e\uddb4"#),
        ("members out of order", #"{"author""#, #"{"v":1,"author""#),
    ])
    func otherSpellingsAreStoredCanonically(spelling: String, find: String, replace: String) throws {
        var text = wireText.replacingOccurrences(of: find, with: replace)
        if spelling == "members out of order" { text = text.replacingOccurrences(of: #","v":1}"#, with: "}") }
        #expect(text != wireText, "\(spelling) changes the text")
        let (received, isCanonical) = try received(text)
        #expect(!isCanonical, "\(spelling)")
        #expect(received.wireBytes == Array(wireText.utf8), "\(spelling)")
        #expect(received.isValid(key: Fixture.key), "\(spelling)")
    }

    /// Changes with seen stamps, none, no fields at all and both record types.
    var variedChanges: [Change] {
        let earlier = [
            Stamp(hlc: Fixture.hlc(1_732_400_000_000), device: Fixture.otherParent),
            Stamp(hlc: Fixture.hlc(1_732_400_000_001), device: Fixture.parent),
        ]
        return [
            change,
            Fixture.change(8, at: 1_732_500_000_001, fields: ["pain": 3, "notes": "better"], seen: ["pain": earlier, "notes": [earlier[0]]]),
            Fixture.change(9, record: Fixture.id(2000), type: .treatment, at: 1_732_500_000_002, fields: ["name": "naproxen", "dose": "250 mg"]),
            Fixture.change(10, at: 1_732_500_000_003, fields: [:]),
        ]
    }

    /// A change in canonical wire form is read straight into a `SignedChange`, without a JSON tree; it
    /// must be exactly the change the general reading makes of the same bytes.
    @Test func canonicalChangesAreReadDirectlyAsTheGeneralReadingReadsThem() throws {
        for change in variedChanges {
            let text = ChangeSigner.sign(change, with: Fixture.key).wireValue.canonicalString
            let (_, elements) = try JSONValue.parsing(Array(#"{"changes":[\#(text)]}"#.utf8), listing: "changes")
            let element = try #require(elements?.first)
            guard case .signedChange(let direct) = element.content else {
                Issue.record("\(change.recordLabel) was not read directly")
                continue
            }
            let general = try SignedChange(wireValue: JSONValue(parsing: Array(text.utf8)))
            #expect(direct.change.canonicalBytes == general.change.canonicalBytes)
            #expect(direct.change.seen == general.change.seen)
            #expect(direct.change.fields == general.change.fields)
            #expect(direct.signature == general.signature)
            #expect(try element.value == JSONValue(parsing: Array(text.utf8)), "the element's value is the tree the bytes spell")
            let received = try ReceivedChange(element)
            #expect(received.wireBytes == Array(text.utf8))
            #expect(received.isValid(key: Fixture.key))
        }
    }

    /// Canonically spelled changes that break a rule of the change format are left to the general
    /// reading, which refuses each with the same words whichever way the bytes were read.
    @Test(arguments: [
        ("version 2", #""v":1}"#, #""v":2}"#),
        ("uppercase id", #""change":"0193a5c3-0000-7000-8000-000000000007""#, #""change":"0193A5C3-0000-7000-8000-000000000007""#),
        ("malformed type", #""type":"flare""#, #""type":"flare 2""#),
        ("short clock", #""hlc":"0"#, #""hlc":""#),
        ("seen stamp from the future", #""seen":{"notes":[]"#, #""seen":{"notes":["7fff610c0d000000@0193a5c0-0000-7000-8000-000000000001"]"#),
        ("seen entry missing", #""seen":{"notes":[],"#, #""seen":{"#),
        ("seen names a field not set", #""seen":{"notes":[]"#, #""seen":{"notes":[],"other":[]"#),
        ("signature of 65 digits", #"","type":"#, #"0","type":"#),
        ("signature not hex", #""sig":"c"#, #""sig":"g"#),  // the fixture's signature starts with c
        ("signature missing", #","sig":"#, #","zig":"#),
    ])
    func brokenChangesAreRefusedInTheSameWords(broken: String, find: String, replace: String) throws {
        let text = wireText.replacingOccurrences(of: find, with: replace)
        #expect(text != wireText, "\(broken) changes the text")
        let (_, elements) = try JSONValue.parsing(Array(#"{"changes":[\#(text)]}"#.utf8), listing: "changes")
        let element = try #require(elements?.first)
        let expected = #expect(throws: ValidationError.self) { try SignedChange(wireValue: JSONValue(parsing: Array(text.utf8))) }
        let got = #expect(throws: ValidationError.self) { try ReceivedChange(element) }
        #expect(got?.description == expected?.description, "\(broken)")
    }

    @Test func negativeZeroIsNotCanonical() throws {
        let (_, elements) = try JSONValue.parsing(Array(#"{"changes":[-0,0,-1]}"#.utf8), listing: "changes")
        #expect(elements?.map(\.isCanonical) == [false, true, true])
    }

    @Test func bytesChangedAfterSigningDoNotVerify() throws {
        let text = wireText.replacingOccurrences(of: #""pain":5"#, with: #""pain":6"#)
        let (received, isCanonical) = try received(text)
        #expect(isCanonical)
        #expect(!received.isValid(key: Fixture.key))
    }

    /// Random values: their canonical bytes are always recognised as canonical, and each element's bytes
    /// are exactly its value's canonical bytes whenever the parser says so.
    @Test func canonicalFormIsRecognisedForRandomValues() throws {
        var generator = ConvergencePropertyTests.SplitMix64(state: 0x5EED)
        for _ in 0..<500 {
            let value = Self.randomValue(depth: 0, using: &generator)
            let bytes = value.canonicalBytes
            let (_, elements) = try JSONValue.parsing(Array(#"{"changes":["#.utf8) + bytes + Array("]}".utf8), listing: "changes")
            let element = try #require(elements?.first)
            #expect(elements?.count == 1)
            #expect(element.isCanonical, "\(value.canonicalString)")
            #expect(Array(element.bytes) == bytes)
        }
    }

    static func randomValue(depth: Int, using generator: inout ConvergencePropertyTests.SplitMix64) -> JSONValue {
        let pieces = ["a", "B", "{", "]", "é", "\u{E000}", "\u{FFFD}", "𝄞", "\"", "\\", "/", "\n", "\u{1}", "\u{7F}", " ", "z"]
        func text() -> String { (0..<Int.random(in: 0...4, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined() }
        switch Int.random(in: 0...(depth < 3 ? 6 : 3), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .int(Int64.random(in: -1_000_000...1_000_000, using: &generator))
        case 3: return .string(text())
        case 4: return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in randomValue(depth: depth + 1, using: &generator) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &generator) { members[text()] = randomValue(depth: depth + 1, using: &generator) }
            return .object(members)
        }
    }
}
