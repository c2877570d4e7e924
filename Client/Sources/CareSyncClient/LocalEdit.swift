import Foundation
import GRDB
import SQLiteSupport
import SyncCore

/// What one local edit does to one record.
struct EditRequest: Sendable {
    enum Target: Sendable {
        case new(RecordType, UUID)
        case existing(UUID)
    }

    let target: Target
    let fields: [String: JSONValue]
}

extension Replica {
    /// Makes local edits: each is validated by SyncCore, stamped by the device's clock, signed with its
    /// key, merged into the replica and queued in the outbox, all in one transaction. Nothing is queued
    /// for an edit that is refused, and a batch (an import) is refused whole if one edit is.
    ///
    /// - Parameters:
    ///   - identity: the device's identity, as the replica holds it (its role, diary and id do not change).
    ///   - label: how a refusal names the edit, e.g. "row 12" for an import.
    /// - Returns: the changes made, in order.
    @discardableResult
    func edit(
        _ requests: [EditRequest], by identity: DeviceIdentity, key: DeviceKey, label: (Int) -> String? = { _ in nil }
    ) throws(ClientError) -> [Change] {
        guard identity.role.canWrite else {
            throw .notAllowed(
                "this device joined diary \"\(identity.diaryName)\" as a clinician, which is read-only: edits are made on the family's devices; nothing was recorded"
            )
        }
        return try write { db -> [Change] in
            var clock = HybridLogicalClock(last: try Self.lastStamp(in: db))
            var merger = RecordMerger()
            var changes: [Change] = []
            changes.reserveCapacity(requests.count)
            let outbox = try db.cachedStatement(sql: "INSERT INTO outbox (seq) VALUES (?)")
            for (index, request) in requests.enumerated() {
                let prefix = label(index).map { "\($0): " } ?? ""
                let recordID: UUID
                let type: RecordType
                let existing: RecordState?
                switch request.target {
                case .new(let newType, let id):
                    guard try merger.state(of: id, in: db) == nil else {
                        throw ClientError.invalid("\(prefix)record \(id.canonical) is already in this diary")
                    }
                    (recordID, type, existing) = (id, newType, nil)
                    do {
                        try RecordSchema.validateNewRecord(type: type, fields: request.fields, record: "new \(type.rawValue)")
                        try RecordSchema.validateRecordID(
                            type: type, record: id, diary: identity.diary, fields: request.fields, label: "new \(type.rawValue)")
                    } catch let error as ValidationError {
                        throw ClientError.invalid(prefix + error.description)
                    }
                case .existing(let id):
                    guard let state = try merger.state(of: id, in: db) else {
                        throw ClientError.invalid("\(prefix)no record with id \(id.canonical) in this diary")
                    }
                    (recordID, type, existing) = (id, state.type, state)
                    let label = "\(type.rawValue) \(id.canonical)"
                    do {
                        try RecordSchema.validateChange(type: type, fields: request.fields, record: label)
                        try RecordSchema.validateEdit(type: type, current: state.values, fields: request.fields, record: label)
                        try RecordSchema.validateRecordID(type: type, record: id, diary: identity.diary, fields: request.fields, label: label)
                    } catch let error as ValidationError {
                        throw ClientError.invalid(prefix + error.description)
                    }
                }
                // The author saw every value the replica shows for each field it sets, conflicts included:
                // this edit resolves them.
                var seen: [String: [Stamp]] = [:]
                for field in request.fields.keys {
                    seen[field] = Array((existing?.stampsToSee(field: field) ?? []).suffix(Change.maxSeenPerField))
                }
                let change = Change(
                    id: UUID.version7(), diary: identity.diary, record: recordID, type: type,
                    hlc: clock.tick(wallMillis: HybridLogicalClock.wallMillisNow()), author: identity.device, fields: request.fields, seen: seen)
                let (signed, wire) = ChangeSigner.signWithWireBytes(change, with: key)
                guard let seq = try RecordMerger.log(signed.change, body: wire, in: db) else {
                    throw ClientError.setup("the new change \(change.id.canonical) is already in the log; nothing was recorded")
                }
                // `state(of:in:)` above loaded the record, or found it new: no need to look again.
                try merger.apply(change)
                try outbox.execute(arguments: [seq])
                changes.append(change)
            }
            try merger.flush(to: db)
            return changes
        }
    }

    /// The device's clock as the replica leaves it: the greatest stamp among the changes it holds, its own
    /// and pulled ones, so that an edit is stamped after everything this device has made or seen; or
    /// `identity.clock`, where edits and pulls kept it until schema v3, if that is greater. One seek to
    /// the end of the log's `hlc` index, and nothing to write back: the change logged carries its stamp.
    static func lastStamp(in db: Database) throws -> HLC {
        HLC(
            packed: try BoundStatement(db, sql: "SELECT max(clock, COALESCE((SELECT max(hlc) FROM change), 0)) FROM identity WHERE id = 1")
                .firstRow { $0.integer(0) } ?? 0)
    }
}
