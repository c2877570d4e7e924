import Foundation
import SyncCore

/// The current state of a record, as the server keeps it in `record.fields`: for each field, the change
/// whose value wins, grouped by change, with that change's stamp (canonical JSON):
/// `{"<change id>": {"fields": ["notes", "pain", …], "stamp": "<HLC@device>"}, …}`. The values themselves
/// are in the changes' signed bodies.
///
/// A record whose every field was set by the one change the log holds for it (a push mostly creates
/// records) names that change in a column instead, with a foreign key to the log (SQLite's
/// `record.soleSeq`, PostgreSQL's `record.sole_ordinal`), and `fields` is NULL: its fields and stamp
/// are in the change's signed body, where `entries(ofSoleChange:)` takes them from. The record's next
/// change writes it out in full. `CurrentRecord.stored` writes both forms for both engines, and
/// `entries(fields:soleBody:)` reads them.
///
/// Migration v4 of the SQLite store wrote the values too, `{"<change id>": {"stamp": "…", "values": {"pain": 6, …}}, …}`;
/// `read` reads that form for its migration v5.
enum CurrentFields {
    struct Entry: Equatable {
        let stamp: String
        let change: String
    }

    /// Whether a value written with (`stamp`, `change`) wins over the stored entry: SyncCore's rule
    /// (`FieldEntry.wins`), on the texts the server keeps.
    static func wins(stamp: String, change: String, over entry: Entry) -> Bool {
        FieldEntry.wins(stamp: stamp, change: change, over: entry.stamp, entry.change)
    }

    /// The entries of a record of one change (`{"sole": seq}`), from that change's stored body: it wins every field it sets.
    static func entries(ofSoleChange body: some Collection<UInt8>) throws -> [String: Entry] {
        let change = try SignedChange(wireValue: try JSONValue(parsing: Array(body))).change
        let entry = Entry(stamp: change.stamp.text, change: change.id.canonical)
        return change.fields.mapValues { _ in entry }
    }

    /// A stored record's entries: its `fields`, or those of the change its sole column names.
    static func entries(fields: Data?, soleBody: Data?) throws -> [String: Entry] {
        if let fields { return try read(fields) }
        guard let soleBody else { throw JSONParseError("stored current state names a change the log does not hold") }
        return try entries(ofSoleChange: soleBody)
    }

    /// The entries of a record stored in full.
    static func read(_ data: Data) throws -> [String: Entry] {
        try read(try JSONValue(parsing: data))
    }

    private static func read(_ stored: JSONValue) throws -> [String: Entry] {
        var entries: [String: Entry] = [:]
        for (change, member) in stored.objectValue ?? [:] {
            guard let members = member.objectValue, let stamp = members["stamp"]?.stringValue,
                let names = members["fields"]?.arrayValue ?? members["values"]?.objectValue?.keys.map(JSONValue.string)
            else { throw JSONParseError("stored current state of change \(change) needs its fields and stamp") }
            for name in names {
                guard let name = name.stringValue else {
                    throw JSONParseError("stored current state of change \(change) lists a field that is not a name")
                }
                guard entries.updateValue(Entry(stamp: stamp, change: change), forKey: name) == nil else {
                    throw JSONParseError("stored current state of \(name) is listed under two changes")
                }
            }
        }
        return entries
    }

    /// The canonical bytes of the entries, written directly rather than through a JSON tree: a push
    /// writes them once for every record it touches.
    static func bytes(_ entries: [String: Entry]) -> [UInt8] {
        // Grouped in a list, not a dictionary: a record's fields are won by a few changes at most (one,
        // for a record never edited), and comparing ids costs less than hashing them.
        var groups: [(entry: Entry, names: [String])] = []
        for (name, entry) in entries {
            if let index = groups.firstIndex(where: { $0.entry.change == entry.change }) {
                groups[index].names.append(name)
            } else {
                groups.append((entry, [name]))
            }
        }
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(64 + 128 * groups.count)
        // Change ids are lowercase hex: their bytes' order is the canonical order of the keys.
        for (index, group) in groups.sorted(by: { $0.entry.change.utf8.lexicographicallyPrecedes($1.entry.change.utf8) }).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            append(change: group.entry.change, stamp: group.entry.stamp, names: group.names, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `"<change>":{"fields":[…],"stamp":"<stamp>"}`, the names in the order of their bytes.
    private static func append(change: String, stamp: String, names: [String], to out: inout [UInt8]) {
        JSONValue.appendCanonicalString(change, to: &out)
        out.append(contentsOf: #":{"fields":["#.utf8)
        for (position, name) in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.appendCanonicalString(name, to: &out)
        }
        out.append(contentsOf: #"],"stamp":"#.utf8)
        JSONValue.appendCanonicalString(stamp, to: &out)
        out.append(contentsOf: "}".utf8)
    }
}

/// A record a push touches, while the push is stored: which change wins each field, kept by SyncCore's
/// rule (`CurrentFields.wins`). Both engines' writers load the stored records a batch names, store each
/// new change into its record, then write back `stored` of every record `touched`.
struct CurrentRecord {
    let id: String
    var type: RecordType?
    var fields: [String: CurrentFields.Entry]
    let exists: Bool
    /// Whether a change of this batch was stored into it.
    var touched = false
    /// A new record's first change and its position in the log (SQLite's seq, PostgreSQL's ordinal),
    /// while it is the only one: it wins every field, and the row names it. Moved into `fields` when a
    /// second change comes.
    var sole: (change: StorableChange, seq: Int64)?

    /// Applies a change stored into this record; refuses one of another type.
    mutating func store(_ storable: StorableChange, seq: Int64) throws(MergeError) {
        let change = storable.change
        if let type, type != change.type {
            throw MergeError.typeChanged(record: change.record, existing: type, attempted: change.type)
        }
        type = change.type
        if !exists, !touched, !change.fields.isEmpty {
            sole = (storable, seq)
        } else {
            if let sole {
                apply(sole.change)
                self.sole = nil
            }
            apply(storable)
        }
        touched = true
    }

    mutating func apply(_ change: StorableChange) {
        fields.reserveCapacity(change.change.fields.count)
        for field in change.change.fields.keys
        where fields[field].map({ CurrentFields.wins(stamp: change.stamp, change: change.id, over: $0) }) ?? true {
            fields[field] = CurrentFields.Entry(stamp: change.stamp, change: change.id)
        }
    }

    /// The record's current state as both engines store it: the position of the one change that made
    /// it, or else its entries in full.
    var stored: (sole: Int64?, fields: [UInt8]?) { sole.map { ($0.seq, nil) } ?? (nil, CurrentFields.bytes(fields)) }
}
