import Foundation

/// The stored form of a merged record, so that a replica on disk keeps exactly what the in-memory
/// model keeps (winners, open conflicts, seen stamps) and merges the next change the same way.
///
/// ```json
/// {"id": "…", "type": "flare",
///  "fields": {"pain": {"winner": {"value": 6, "stamp": "…@…", "change": "…"},
///                      "heads": [entry, …], "superseded": ["…@…", …]}}}
/// ```
extension RecordState {
    public var storedValue: JSONValue {
        var fields: [String: JSONValue] = [:]
        for name in Set(registers.keys).union(superseded.keys) {
            var member: [String: JSONValue] = [:]
            if let register = registers[name] {
                member["winner"] = Self.stored(register.winner)
                member["heads"] = .array(register.heads.map(Self.stored))
            }
            if let stamps = superseded[name], !stamps.isEmpty {
                member["superseded"] = .array(stamps.sorted().map { .string($0.text) })
            }
            fields[name] = .object(member)
        }
        return .object(["id": .string(id.canonical), "type": .string(type.rawValue), "fields": .object(fields)])
    }

    /// Reads the stored form back; throws if it is not one `storedValue` wrote.
    public init(storedValue value: JSONValue) throws(JSONParseError) {
        guard let members = value.objectValue, let id = members["id"]?.stringValue.flatMap(UUID.init(canonical:)),
            let type = members["type"]?.stringValue.flatMap(RecordType.init(rawValue:)), let fields = members["fields"]?.objectValue
        else { throw JSONParseError("a stored record needs id, type and fields") }
        self.init(id: id, type: type)
        for (name, member) in fields {
            guard let member = member.objectValue else { throw JSONParseError("stored field \(name) is not an object") }
            if let winner = member["winner"] {
                let heads = try (member["heads"]?.arrayValue ?? []).map(Self.entry)
                registers[name] = FieldRegister(winner: try Self.entry(winner), heads: heads)
            }
            if let stamps = member["superseded"]?.arrayValue {
                superseded[name] = Set(
                    try stamps.map { (item: JSONValue) throws(JSONParseError) -> Stamp in
                        guard let stamp = item.stringValue.flatMap(Stamp.init(text:)) else {
                            throw JSONParseError("stored field \(name) has a bad seen stamp")
                        }
                        return stamp
                    })
            }
        }
    }

    private static func stored(_ entry: FieldEntry) -> JSONValue {
        .object(["value": entry.value, "stamp": .string(entry.stamp.text), "change": .string(entry.change.canonical)])
    }

    private static func entry(_ value: JSONValue) throws(JSONParseError) -> FieldEntry {
        guard let members = value.objectValue, let stored = members["value"],
            let stamp = members["stamp"]?.stringValue.flatMap(Stamp.init(text:)),
            let change = members["change"]?.stringValue.flatMap(UUID.init(canonical:))
        else { throw JSONParseError("a stored field value needs value, stamp and change") }
        return FieldEntry(value: stored, stamp: stamp, change: change)
    }
}

extension RecordState {
    /// `storedValue.canonicalBytes`, written directly: a replica stores a record on every merge, and
    /// building the JSON tree first costs more than the merge itself.
    public var storedBytes: [UInt8] {
        let names = Set(registers.keys).union(superseded.keys)
        // Field names are ASCII schema names; anything else takes the general path.
        guard names.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) else { return storedValue.canonicalBytes }
        var out: [UInt8] = []
        out.reserveCapacity(256 + 160 * names.count)
        var stamps: [(Stamp, [UInt8])] = []
        func append(_ stamp: Stamp) {
            if let known = stamps.first(where: { $0.0 == stamp }) {
                out.append(contentsOf: known.1)
                return
            }
            let text = Array("\"\(stamp.text)\"".utf8)
            stamps.append((stamp, text))
            out.append(contentsOf: text)
        }
        func append(_ entry: FieldEntry) {
            out.append(contentsOf: Array(#"{"change":""#.utf8))
            out.append(contentsOf: Array(entry.change.canonical.utf8))
            out.append(contentsOf: Array(#"","stamp":"#.utf8))
            append(entry.stamp)
            out.append(contentsOf: Array(#","value":"#.utf8))
            entry.value.appendCanonical(to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: Array(#"{"fields":{"#.utf8))
        for (index, name) in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.appendCanonicalString(name, to: &out)
            out.append(contentsOf: Array(":{".utf8))
            var needsComma = false
            var winnerBytes: [UInt8]? = nil
            if let register = registers[name] {
                let start = out.count
                append(register.winner)
                winnerBytes = Array(out[start...])
                out.removeSubrange(start...)
                out.append(contentsOf: Array(#""heads":["#.utf8))
                for (position, head) in register.heads.enumerated() {
                    if position > 0 { out.append(UInt8(ascii: ",")) }
                    if head.change == register.winner.change, head.stamp == register.winner.stamp {
                        out.append(contentsOf: winnerBytes!)
                    } else {
                        append(head)
                    }
                }
                out.append(UInt8(ascii: "]"))
                needsComma = true
            }
            if let seen = superseded[name], !seen.isEmpty {
                if needsComma { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: Array(#""superseded":["#.utf8))
                for (position, stamp) in seen.sorted().enumerated() {
                    if position > 0 { out.append(UInt8(ascii: ",")) }
                    append(stamp)
                }
                out.append(UInt8(ascii: "]"))
                needsComma = true
            }
            if let winnerBytes {
                if needsComma { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: Array(#""winner":"#.utf8))
                out.append(contentsOf: winnerBytes)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: Array(#"},"id":""#.utf8))
        out.append(contentsOf: Array(id.canonical.utf8))
        out.append(contentsOf: Array(#"","type":""#.utf8))
        out.append(contentsOf: Array(type.rawValue.utf8))
        out.append(contentsOf: Array(#""}"#.utf8))
        return out
    }
}
