import Foundation
import SyncCore
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
        let element = try #require(elements.first)
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

    @Test func negativeZeroIsNotCanonical() throws {
        let (_, elements) = try JSONValue.parsing(Array(#"{"changes":[-0,0,-1]}"#.utf8), listing: "changes")
        #expect(elements.map(\.isCanonical) == [false, true, true])
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
            #expect(elements.count == 1)
            #expect(elements[0].isCanonical, "\(value.canonicalString)")
            #expect(Array(elements[0].bytes) == bytes)
        }
    }

    static func randomValue(depth: Int, using generator: inout ConvergencePropertyTests.SplitMix64) -> JSONValue {
        let pieces = ["a", "B", "é", "\u{E000}", "\u{FFFD}", "𝄞", "\"", "\\", "/", "\n", "\u{1}", "\u{7F}", " ", "z"]
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
