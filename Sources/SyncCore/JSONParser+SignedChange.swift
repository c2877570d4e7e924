import Foundation

/// Reading a signed change straight from its canonical wire form.
///
/// Every CareSync device and server sends changes in that form, with their members in one known
/// order. Reading those bytes in order into `SignedChange` skips the tree of JSON values the general
/// path builds and then reads again, a large part of a push's CPU. Anything else
/// (another member order, whitespace, an escape, a value the rules refuse) is left to the general path,
/// which accepts other spellings and reports what is wrong in the same words as before.
extension JSONParser {
    /// Reads a signed change in canonical wire form at the current position, with the same checks as
    /// `SignedChange(wireValue:)`. Returns nil, with the parser where it was, for anything else.
    mutating func canonicalSignedChange() -> SignedChange? {
        let start = (index: index, depth: depth, canonical: canonical)
        if let signed = try? readCanonicalSignedChange(), canonical { return signed }
        (index, depth, canonical) = start
        return nil
    }

    private mutating func readCanonicalSignedChange() throws(JSONParseError) -> SignedChange? {
        guard skip(#"{"author":""#), let author = uuid(), skip(#"","change":""#), let id = uuid(), skip(#"","diary":""#),
            let diary = uuid(), skip(#"","fields":"#), index < bytes.count, bytes[index] == UInt8(ascii: "{")
        else { return nil }
        try enter()
        guard case .object(let fields) = try parseObject(), skip(#","hlc":""#), let hlc = hlc(), skip(#"","record":""#),
            let record = uuid(), skip(#"","seen":{"#), let seen = try seen(of: fields, before: Stamp(hlc: hlc, device: author)),
            skip(#","sig":""#), let signature = signature(), skip(#"","type":""#), let type = recordType(),
            skip(#"","v":1}"#)  // Change.formatVersion
        else { return nil }
        depth -= 1
        let change = Change(id: id, diary: diary, record: record, type: type, hlc: hlc, author: author, fields: fields, seen: seen)
        return SignedChange(change: change, signature: signature)
    }

    /// The members of `"seen"` after its `{`: one list of ascending stamps, each older than the change,
    /// for every field the change sets, in canonical order.
    private mutating func seen(of fields: [String: JSONValue], before stamp: Stamp) throws(JSONParseError) -> [String: [Stamp]]? {
        var seen: [String: [Stamp]] = [:]
        seen.reserveCapacity(fields.count)
        var previous: String?
        if !skip("}") {
            repeat {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
                let field = try parseString()
                guard fields[field] != nil, previous.map({ JSONValue.isCanonicallyOrdered($0, field) }) ?? true, skip(":[") else { return nil }
                var stamps: [Stamp] = []
                if !skip("]") {
                    repeat {
                        guard stamps.count < Change.maxSeenPerField, skip("\""), let seenStamp = self.stamp(), skip("\""), seenStamp < stamp,
                            stamps.last.map({ $0 < seenStamp }) ?? true
                        else { return nil }
                        stamps.append(seenStamp)
                    } while skip(",")
                    guard skip("]") else { return nil }
                }
                seen[field] = stamps
                previous = field
            } while skip(",")
            guard skip("}") else { return nil }
        }
        return seen.count == fields.count ? seen : nil
    }

    /// Moves past `text` if the input continues with it.
    private mutating func skip(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count, memcmp(bytes.baseAddress! + index, text.utf8Start, count) == 0 else { return false }
        index += count
        return true
    }

    /// The next `count` bytes, moving past them, if there are that many.
    private mutating func take(_ count: Int) -> UnsafeBufferPointer<UInt8>? {
        guard index + count <= bytes.count else { return nil }
        defer { index += count }
        return UnsafeBufferPointer(rebasing: bytes[index..<index + count])
    }

    private mutating func uuid() -> UUID? { take(36).flatMap(UUID.init(canonicalUTF8:)) }
    private mutating func hlc() -> HLC? { take(16).flatMap(HLC.init(textUTF8:)) }
    private mutating func stamp() -> Stamp? { take(53).flatMap(Stamp.init(textUTF8:)) }

    /// 64 lowercase hex digits, as 32 bytes.
    private mutating func signature() -> [UInt8]? {
        guard let digits = take(64) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for pair in stride(from: 0, to: 64, by: 2) {
            guard let high = UUID.nibble(digits[pair]), let low = UUID.nibble(digits[pair + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    private mutating func recordType() -> RecordType? {
        for type in RecordType.known {
            let name = type.rawValue.utf8
            guard index + name.count <= bytes.count, bytes[index..<index + name.count].elementsEqual(name) else { continue }
            index += name.count
            return type
        }
        return nil
    }
}
