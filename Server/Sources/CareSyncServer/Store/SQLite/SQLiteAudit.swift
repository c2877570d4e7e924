import Foundation
import GRDB
import SyncCore

extension SQLiteStore {
    /// `caresync-server verify` on SQLite: one read transaction, each diary's log fed to `LogReplay`.
    /// Only the keys are sorted (SQLite's sort spills to temporary files past its memory), and each
    /// change's row is then read by its sequence number, so that memory stays flat however large a diary.
    public func audit() throws -> AuditReport {
        try pool.read { db in
            var report = AuditReport()
            var keys: [String: DeviceKey] = [:]
            for device in try Device.fetchAll(db) { keys[device.id] = device.deviceKey }
            for diary in try String.fetchAll(db, sql: "SELECT id FROM diary ORDER BY id") {
                try Self.check(diary: diary, keys: keys, in: db, into: &report)
            }
            let strayChanges = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM change WHERE diaryId NOT IN (SELECT id FROM diary)") ?? 0
            if strayChanges > 0 { report.faults.append("\(strayChanges) stored changes belong to no diary of this server") }
            let strayRecords = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record WHERE diaryId NOT IN (SELECT id FROM diary)") ?? 0
            if strayRecords > 0 { report.faults.append("\(strayRecords) stored records belong to no diary of this server") }
            return report
        }
    }

    private static func check(diary: String, keys: [String: DeviceKey], in db: Database, into report: inout AuditReport) throws {
        let storedState = try db.cachedStatement(
            sql: """
                SELECT record.fields, change.body FROM record LEFT JOIN change ON change.seq = record.soleSeq
                WHERE record.diaryId = ? AND record.id = ?
                """)
        var replay = LogReplay(diary: diary, keys: keys) { record in
            guard let row = try Row.fetchOne(storedState, arguments: [diary, record]) else { return .missing }
            guard let fields = try? CurrentFields.entries(fields: row["fields"], soleBody: row["body"]) else { return .unreadable }
            return .fields(fields)
        }
        let changeBySeq = try db.cachedStatement(sql: "SELECT id, author, body FROM change WHERE seq = ?")
        let order = try Row.fetchCursor(db, sql: "SELECT seq, recordId FROM change WHERE diaryId = ? ORDER BY recordId, seq", arguments: [diary])
        while let next = try order.next() {
            let seq: Int64 = next["seq"]
            let row = try Row.fetchOne(changeBySeq, arguments: [seq])
            try replay.add(
                position: seq, record: next["recordId"], id: row?["id"], author: row?["author"], body: (row?["body"] as Data?).map(Array.init),
                into: &report)
        }
        try replay.finish(into: &report)

        let storedCount = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record WHERE diaryId = ?", arguments: [diary]) ?? 0
        guard storedCount > replay.compared else { return }
        let orphans = try String.fetchAll(
            db, sql: "SELECT id FROM record WHERE diaryId = ? AND id NOT IN (SELECT recordId FROM change WHERE diaryId = ?) ORDER BY id",
            arguments: [diary, diary])
        try replay.compareOrphans(orphans, into: &report)
    }
}

extension SQLiteStore {
    /// Copies the database with SQLite's online backup while the server may be writing, then gives the
    /// copy a new epoch: a server restored from it is recognised by its devices as one that may have
    /// forgotten changes. Refuses to overwrite an existing file.
    public func backup(to destination: String) throws {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw StoreRefusal.backupExists(destination)
        }
        let copy = try DatabaseQueue(path: destination)
        try pool.backup(to: copy)
        try copy.write { db in
            try db.execute(sql: "UPDATE serverIdentity SET epoch = ?", arguments: [UUID.version7().canonical])
        }
        try copy.close()
    }
}
