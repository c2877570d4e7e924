import Foundation

/// The stored form of a merged record, so that a replica on disk keeps exactly what the in-memory
/// model keeps (winners, open conflicts, seen stamps) and merges the next change the same way.
///
/// Each value, each change's id and each change's stamp is written once: a record made by one change
/// and never edited since stores its values, and that change's id twice.
///
/// ```json
/// {"id": "…", "type": "flare",
///  "values": {"pain": 6, …},                        // each field's winning value (null when cleared)
///  "winners": {"change id": ["notes", "pain"], …},   // the fields whose winning value each change wrote
///  "stamps": {"change id": "HLC@device", …},          // the stamp of every change named here
///  "heads": {"pain": [{"change": "…", "value": 5}, …]},  // only where the heads are not just the winner
///  "superseded": {"pain": ["HLC@device", …]}}        // only where some change listed stamps as seen
/// ```
///
/// Earlier forms are still read, and records are written anew in this one: the second named each
/// field's winning change (`"winners": {"pain": "change id", …}`, a change's id once per field); the
/// first (`"fields": {name: {"winner": …, "heads": […], "superseded": […]}}`) wrote each entry's value
/// and stamp in full.
extension RecordState {
    public var storedValue: JSONValue {
        var values: [String: JSONValue] = [:]
        var winners: [String: [String]] = [:]
        var stamps: [String: JSONValue] = [:]
        var heads: [String: JSONValue] = [:]
        for (name, register) in registers {
            values[name] = register.winner.value
            winners[register.winner.change.canonical, default: []].append(name)
            stamps[register.winner.change.canonical] = .string(register.winner.stamp.text)
            guard !register.hasOnlyTheWinnerAsHead else { continue }
            heads[name] = .array(
                register.heads.map { head in
                    stamps[head.change.canonical] = .string(head.stamp.text)
                    return .object(["change": .string(head.change.canonical), "value": head.value])
                })
        }
        var members: [String: JSONValue] = [
            "id": .string(id.canonical), "type": .string(type.rawValue), "values": .object(values),
            "winners": .object(winners.mapValues { .array($0.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map(JSONValue.string)) }),
            "stamps": .object(stamps),
        ]
        if !heads.isEmpty { members["heads"] = .object(heads) }
        let seen = superseded.filter { !$0.value.isEmpty }
        if !seen.isEmpty { members["superseded"] = .object(seen.mapValues { .array($0.sorted().map { .string($0.text) }) }) }
        return .object(members)
    }

    /// Reads the stored form back (either version); throws if it is not one `storedValue` wrote.
    public init(storedValue value: JSONValue) throws(JSONParseError) {
        guard let members = value.objectValue, let id = members["id"]?.stringValue.flatMap(UUID.init(canonical:)),
            let type = members["type"]?.stringValue.flatMap(RecordType.init(rawValue:))
        else { throw JSONParseError("a stored record needs id and type") }
        self.init(id: id, type: type)
        if let fields = members["fields"]?.objectValue {
            try readFirstVersion(fields)
            return
        }
        guard let values = members["values"]?.objectValue, let winnersMember = members["winners"]?.objectValue,
            let stamps = members["stamps"]?.objectValue
        else { throw JSONParseError("a stored record needs values, winners and stamps") }
        // Each field's winning change: listed by change, or, in the second form, by field.
        var winners: [String: JSONValue] = [:]
        for (key, member) in winnersMember {
            guard let names = member.arrayValue else {
                winners[key] = member
                continue
            }
            for name in names {
                guard let name = name.stringValue else { throw JSONParseError("stored winners of change \(key) are not field names") }
                winners[name] = .string(key)
            }
        }
        func entry(change: JSONValue?, value: JSONValue?, field: String) throws(JSONParseError) -> FieldEntry {
            guard let changeText = change?.stringValue, let change = UUID(canonical: changeText), let value,
                let stamp = stamps[changeText]?.stringValue.flatMap(Stamp.init(text:))
            else { throw JSONParseError("stored field \(field) names a change without a stamp") }
            return FieldEntry(value: value, stamp: stamp, change: change)
        }
        let storedHeads = members["heads"]?.objectValue ?? [:]
        for (name, value) in values {
            let winner = try entry(change: winners[name], value: value, field: name)
            guard let heads = storedHeads[name] else {
                registers[name] = FieldRegister(winner: winner, heads: [winner])
                continue
            }
            guard let items = heads.arrayValue else { throw JSONParseError("stored heads of \(name) are not a list") }
            var entries: [FieldEntry] = []
            for item in items {
                entries.append(try entry(change: item.objectValue?["change"], value: item.objectValue?["value"], field: name))
            }
            registers[name] = FieldRegister(winner: winner, heads: entries)
        }
        for (name, list) in members["superseded"]?.objectValue ?? [:] {
            superseded[name] = try Self.stamps(list, field: name)
        }
    }

    private mutating func readFirstVersion(_ fields: [String: JSONValue]) throws(JSONParseError) {
        func entry(_ value: JSONValue) throws(JSONParseError) -> FieldEntry {
            guard let members = value.objectValue, let stored = members["value"],
                let stamp = members["stamp"]?.stringValue.flatMap(Stamp.init(text:)),
                let change = members["change"]?.stringValue.flatMap(UUID.init(canonical:))
            else { throw JSONParseError("a stored field value needs value, stamp and change") }
            return FieldEntry(value: stored, stamp: stamp, change: change)
        }
        for (name, member) in fields {
            guard let member = member.objectValue else { throw JSONParseError("stored field \(name) is not an object") }
            if let winner = member["winner"] {
                var heads: [FieldEntry] = []
                for head in member["heads"]?.arrayValue ?? [] { heads.append(try entry(head)) }
                registers[name] = FieldRegister(winner: try entry(winner), heads: heads)
            }
            if let stamps = member["superseded"] {
                superseded[name] = try Self.stamps(stamps, field: name)
            }
        }
    }

    private static func stamps(_ list: JSONValue, field: String) throws(JSONParseError) -> Set<Stamp> {
        var stamps: Set<Stamp> = []
        for item in list.arrayValue ?? [] {
            guard let stamp = item.stringValue.flatMap(Stamp.init(text:)) else {
                throw JSONParseError("stored field \(field) has a bad seen stamp")
            }
            stamps.insert(stamp)
        }
        return stamps
    }
}

extension FieldRegister {
    /// Whether the heads are the winner alone: no open conflict, nothing to store beyond the winner.
    var hasOnlyTheWinnerAsHead: Bool {
        heads.count == 1 && heads[0].isSameWrite(as: winner)
    }
}

extension RecordState {
    /// The stored form's canonical bytes, as a replica keeps them.
    public var storedBytes: [UInt8] { storedValue.canonicalBytes }

    /// The current values of a stored record, cleared fields left out (`values`), as a listing shows
    /// them: read from the stored `"values"` member where the form has one (every form but the first),
    /// without reading the rest of the record back.
    public static func currentValues(stored data: some Collection<UInt8>) throws(JSONParseError) -> [String: JSONValue] {
        let value = try JSONValue(parsing: data)
        if let values = value.objectValue?["values"]?.objectValue { return values.filter { !$0.value.isNull } }
        return try RecordState(storedValue: value).values
    }
}
