import Foundation
import GRDB
import SyncCore

/// One change in the history: who changed which fields of which record, and when.
public struct HistoryEntry: Sendable {
    public let change: UUID
    public let record: UUID
    public let type: RecordType
    public let author: Author
    public let fields: [String: JSONValue]
    public let hlc: HLC
    public var time: Date { hlc.date }
}

/// A device as people know it: its name and role when the replica knows them.
public struct Author: Sendable, Equatable {
    public let id: UUID
    public let name: String?
    public let role: DeviceRole?

    /// "mum's laptop (owner)", or the start of the id for a device the replica cannot name yet.
    public var label: String {
        guard let name else { return "device \(id.canonical.prefix(8))" }
        return role.map { "\(name) (\($0.rawValue))" } ?? name
    }
}

/// A concurrent edit that last-writer-wins overrode, open until someone edits the field again.
public struct OpenConflict: Sendable {
    public let record: UUID
    public let type: RecordType
    public let field: String
    public let kept: Side
    public let overridden: Side

    public struct Side: Sendable {
        public let value: JSONValue
        public let author: Author
        public let hlc: HLC
        public var time: Date { hlc.date }
    }
}

extension DiaryDevice {
    /// Who changed what and when, newest first: every change of one record, or of the whole diary.
    public func history(of record: UUID? = nil, limit: Int? = nil) throws(ClientError) -> [HistoryEntry] {
        let members = try replica.members()
        var sql = "SELECT body FROM change"
        var arguments: StatementArguments = []
        if let record {
            sql += " WHERE recordId = ?"
            arguments += [record.canonical]
        }
        sql += " ORDER BY hlc DESC, author DESC"
        if let limit {
            sql += " LIMIT ?"
            arguments += [limit]
        }
        let bodies = try replica.read { db in try Data.fetchAll(db, sql: sql, arguments: arguments) }
        return bodies.compactMap { body in
            guard let value = try? JSONValue(parsing: body), let change = try? SignedChange(wireValue: value).change else { return nil }
            return HistoryEntry(
                change: change.id, record: change.record, type: change.type, author: author(change.author, members), fields: change.fields,
                hlc: change.hlc)
        }
    }

    /// Every open conflict, by record and field.
    public func conflicts() throws(ClientError) -> [OpenConflict] {
        let members = try replica.members()
        let states = try replica.read { db in
            try Row.fetchAll(db, sql: "SELECT id, state, \(RecordMerger.soleBody) FROM record WHERE conflicts > 0 ORDER BY id").map {
                try RecordMerger.StoredRecord($0, of: UUID(canonical: $0["id"])!).state()
            }
        }
        return states.flatMap(\.conflicts).map { conflict in
            OpenConflict(
                record: conflict.record, type: conflict.type, field: conflict.field,
                kept: .init(value: conflict.winner.value, author: author(conflict.winner.stamp.device, members), hlc: conflict.winner.stamp.hlc),
                overridden: .init(
                    value: conflict.overridden.value, author: author(conflict.overridden.stamp.device, members),
                    hlc: conflict.overridden.stamp.hlc))
        }
    }

    private func author(_ id: UUID, _ members: [UUID: DiaryMember]) -> Author {
        if let member = members[id] { return Author(id: id, name: member.name, role: member.role) }
        if id == identity.device { return Author(id: id, name: identity.deviceName, role: identity.role) }
        return Author(id: id, name: nil, role: nil)
    }
}
