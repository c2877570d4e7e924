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
