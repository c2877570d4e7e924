import Foundation

/// The merged state of one record: its type and one register per field ever set.
public struct RecordState: Hashable, Sendable {
    public let id: UUID
    public let type: RecordType
    public internal(set) var registers: [String: FieldRegister]

    /// The current value of every field that has one (cleared fields, set to null, are left out).
    public var values: [String: JSONValue] {
        registers.compactMapValues { $0.winner.value.isNull ? nil : $0.winner.value }
    }

    public var isDeleted: Bool { registers[RecordSchema.deleted.name]?.winner.value.boolValue ?? false }
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
    /// Per record and field, every stamp some applied change has listed as seen.
    private var superseded: [FieldKey: Set<Stamp>] = [:]

    struct FieldKey: Hashable, Sendable {
        let record: UUID
        let field: String
    }

    public init() {}

    /// Merges one change. Refuses (and changes nothing) if the change would alter the record's type.
    public mutating func apply(_ change: Change) throws(MergeError) {
        var record = records[change.record] ?? RecordState(id: change.record, type: change.type, registers: [:])
        guard record.type == change.type else {
            throw .typeChanged(record: change.record, existing: record.type, attempted: change.type)
        }
        for (field, value) in change.fields {
            let key = FieldKey(record: change.record, field: field)
            let seen = change.seen[field] ?? []
            let entry = FieldEntry(value: value, stamp: change.stamp, change: change.id)
            let isSuperseded = superseded[key]?.contains(entry.stamp) ?? false
            if !seen.isEmpty { superseded[key, default: []].formUnion(seen) }
            if var register = record.registers[field] {
                register.apply(entry, seen: seen, superseded: isSuperseded)
                record.registers[field] = register
            } else {
                record.registers[field] = FieldRegister(entry, superseded: isSuperseded)
            }
        }
        records[change.record] = record
    }

    /// Every open conflict, ordered by record, field and the overridden value's stamp.
    public var conflicts: [Conflict] {
        records.values.sorted { $0.id.canonical < $1.id.canonical }.flatMap { record in
            record.registers.keys.sorted().flatMap { field in
                let register = record.registers[field]!
                return register.overridden.map {
                    Conflict(record: record.id, type: record.type, field: field, winner: register.winner, overridden: $0)
                }
            }
        }
    }

    /// The stamps a new edit of `field` must list as seen.
    public func stampsToSee(record: UUID, field: String) -> [Stamp] {
        records[record]?.registers[field]?.stampsToSee ?? []
    }
}
