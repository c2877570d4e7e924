import Foundation

/// The merged state of one record: its type, one register per field ever set, and per field the stamps
/// that applied changes listed as seen. It is self-contained, so a store can keep one per row and merge a
/// change into it without reading anything else.
public struct RecordState: Hashable, Sendable {
    public let id: UUID
    public let type: RecordType
    public internal(set) var registers: [String: FieldRegister]
    /// Per field, every stamp some applied change has listed as seen.
    public internal(set) var superseded: [String: Set<Stamp>]

    public init(id: UUID, type: RecordType) {
        self.id = id
        self.type = type
        registers = [:]
        superseded = [:]
    }

    /// The current value of every field that has one (cleared fields, set to null, are left out).
    public var values: [String: JSONValue] {
        registers.compactMapValues { $0.winner.value.isNull ? nil : $0.winner.value }
    }

    public var isDeleted: Bool { registers[RecordSchema.deleted.name]?.winner.value.boolValue ?? false }

    /// The greatest stamp of any value this record holds: when it was last changed.
    public var lastStamp: Stamp? { registers.values.map(\.winner.stamp).max() }

    /// Merges one change of this record. Refuses (and changes nothing) if the change would alter the
    /// record's type.
    public mutating func apply(_ change: Change) throws(MergeError) {
        precondition(change.record == id, "a change is applied to its own record")
        guard type == change.type else {
            throw .typeChanged(record: change.record, existing: type, attempted: change.type)
        }
        for (field, value) in change.fields {
            let seen = change.seen[field] ?? []
            let entry = FieldEntry(value: value, stamp: change.stamp, change: change.id)
            let isSuperseded = superseded[field]?.contains(entry.stamp) ?? false
            if !seen.isEmpty { superseded[field, default: []].formUnion(seen) }
            if var register = registers[field] {
                register.apply(entry, seen: seen, superseded: isSuperseded)
                registers[field] = register
            } else {
                registers[field] = FieldRegister(entry, superseded: isSuperseded)
            }
        }
    }

    /// This record's open conflicts, ordered by field and the overridden value's stamp.
    public var conflicts: [Conflict] {
        registers.keys.sorted().flatMap { field in
            let register = registers[field]!
            return register.overridden.map { Conflict(record: id, type: type, field: field, winner: register.winner, overridden: $0) }
        }
    }

    /// How many open conflicts the record has (`conflicts.count`, without building them).
    public var conflictCount: Int {
        registers.values.reduce(0) { count, register in count + register.heads.count(where: register.isOverridden) }
    }

    /// The stamps a new edit of `field` must list as seen.
    public func stampsToSee(field: String) -> [Stamp] {
        registers[field]?.stampsToSee ?? []
    }
}

/// A concurrent edit that last-writer-wins overrode, listed by `syncctl conflicts` until resolved.
public struct Conflict: Hashable, Sendable {
    public let record: UUID
    public let type: RecordType
    public let field: String
    /// The value the record holds.
    public let winner: FieldEntry
    /// The value it would have held had the other edit won.
    public let overridden: FieldEntry
}

/// Why a change cannot be merged.
public enum MergeError: Error, Equatable, CustomStringConvertible {
    case typeChanged(record: UUID, existing: RecordType, attempted: RecordType)

    public var description: String {
        switch self {
        case .typeChanged(let record, let existing, let attempted):
            "record \(record.canonical) is a \(existing.rawValue) and cannot become a \(attempted.rawValue): a record's type never changes"
        }
    }
}

/// A complete replica in memory: every record merged field by field from the changes applied to it.
///
/// Applying is idempotent, commutative and associative: two replicas that have applied the same set of
/// changes are equal, whatever the order or repetition. The SQLite stores of server and client persist
/// the same registers and call the same `FieldRegister.apply`; this type is their reference model.
public struct ReplicaState: Hashable, Sendable {
    public private(set) var records: [UUID: RecordState] = [:]

    public init() {}

    /// Merges one change. Refuses (and changes nothing) if the change would alter the record's type.
    public mutating func apply(_ change: Change) throws(MergeError) {
        var record = records[change.record] ?? RecordState(id: change.record, type: change.type)
        try record.apply(change)
        records[change.record] = record
    }

    /// Every open conflict, ordered by record, field and the overridden value's stamp.
    public var conflicts: [Conflict] {
        records.values.sorted { $0.id.canonical < $1.id.canonical }.flatMap(\.conflicts)
    }

    /// The stamps a new edit of `field` must list as seen.
    public func stampsToSee(record: UUID, field: String) -> [Stamp] {
        records[record]?.stampsToSee(field: field) ?? []
    }
}
