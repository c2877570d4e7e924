import Foundation
import GRDB
import SyncCore

/// `caresync-server verify`: re-checks every stored change's signature against its author's key and
/// that the stored current state (which change wins each field) equals a replay of the whole log through
/// SyncCore's merge.
///
/// The log is replayed one record at a time (a record's state depends only on its own changes, in log
/// order), and each record is compared as soon as its changes are applied, so memory holds one record
/// rather than every diary's, and SQLite's sort spills to temporary files (measured, release build, one
/// diary of 100,000 flares: 40 MB, against 702 MB when every record was held; docs/PERFORMANCE.md).
public struct ServerAudit: Sendable {
    public struct Report: Sendable {
        public var changesChecked = 0
        public var faults: [String] = []
    }

    let database: ServerDatabase

    public init(database: ServerDatabase) {
        self.database = database
    }

    public func run() throws -> Report {
        try database.pool.read { db in
            var report = Report()
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

    /// Replays one diary's log record by record (SQLite sorts it by record, then log order) and compares
    /// each record's replayed state with the stored one, then looks for stored records with no change.
    private static func check(diary: String, keys: [String: DeviceKey], in db: Database, into report: inout Report) throws {
        let storedFields = try db.cachedStatement(sql: "SELECT fields FROM record WHERE diaryId = ? AND id = ?")
        var compared = 0
        func compare(record: String, replayed: RecordState?) throws {
            let label = "record \(diary)/\(record)"
            var stored: [String: String]?
            if let data = try Data.fetchOne(storedFields, arguments: [diary, record]) {
                compared += 1
                guard let fields = try? CurrentFields.read(data, in: db) else {
                    report.faults.append("\(label): stored current state cannot be read")
                    return
                }
                stored = fields.mapValues { $0.change + " " + $0.stamp }
            }
            let replayedFields = replayed?.registers.mapValues { $0.winner.change.canonical + " " + $0.winner.stamp.text }
            guard let stored else {
                if replayedFields != nil { report.faults.append("\(label): written by the log, but not stored") }
                return
            }
            guard let replayedFields else {
                report.faults.append("\(label): stored, but no verified change of the log writes it")
                return
            }
            guard stored != replayedFields else { return }
            let fields = Set(stored.keys).union(replayedFields.keys).filter { stored[$0] != replayedFields[$0] }
            report.faults.append("\(label): stored state differs from a replay of the log in \(fields.sorted().joined(separator: ", "))")
        }

        // Only the keys are sorted (SQLite's sort spills to temporary files past its memory); each
        // change's row is then read by its sequence number.
        let changeBySeq = try db.cachedStatement(sql: "SELECT id, author, body FROM change WHERE seq = ?")
        var current: (record: String, state: RecordState?)?
        let order = try Row.fetchCursor(db, sql: "SELECT seq, recordId FROM change WHERE diaryId = ? ORDER BY recordId, seq", arguments: [diary])
        while let next = try order.next() {
            report.changesChecked += 1
            let seq: Int64 = next["seq"]
            let record: String = next["recordId"]
            if let previous = current, previous.record != record { try compare(record: previous.record, replayed: previous.state) }
            if current?.record != record { current = (record, nil) }
            guard let row = try Row.fetchOne(changeBySeq, arguments: [seq]) else {
                report.faults.append("change seq \(seq): listed for record \(record) but not readable")
                continue
            }
            let id: String = row["id"]
            let signed: SignedChange
            do {
                signed = try SignedChange(wireValue: try JSONValue(parsing: row["body"] as Data))
            } catch {
                report.faults.append("change \(id) (seq \(seq)): stored body cannot be read: \(error)")
                continue
            }
            let change = signed.change
            guard change.id.canonical == id, change.diary.canonical == diary, change.record.canonical == record,
                change.author.canonical == row["author"] as String
            else {
                report.faults.append("change \(id) (seq \(seq)): stored columns disagree with the signed body")
                continue
            }
            guard let key = keys[change.author.canonical], ChangeSigner.isValid(signed, key: key) else {
                report.faults.append("change \(id) (seq \(seq)): signature does not verify with the author's key")
                continue
            }
            do {
                var state = current?.state ?? RecordState(id: change.record, type: change.type)
                try state.apply(change)
                current?.state = state
            } catch {
                report.faults.append("change \(id) (seq \(seq)): \(error)")
            }
        }
        if let last = current { try compare(record: last.record, replayed: last.state) }

        let storedCount = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record WHERE diaryId = ?", arguments: [diary]) ?? 0
        guard storedCount > compared else { return }
        let orphans = try String.fetchAll(
            db, sql: "SELECT id FROM record WHERE diaryId = ? AND id NOT IN (SELECT recordId FROM change WHERE diaryId = ?) ORDER BY id",
            arguments: [diary, diary])
        for record in orphans { try compare(record: record, replayed: nil) }
    }
}

extension ServerDatabase {
    /// Copies the database with SQLite's online backup while the server may be writing, then gives the
    /// copy a new epoch: a server restored from it is recognised by its devices as one that may have
    /// forgotten changes. Refuses to overwrite an existing file.
    public func backup(to destination: String) throws {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw APIError.badRequest("\(destination) exists already; choose a new file for the backup")
        }
        let copy = try DatabaseQueue(path: destination)
        try pool.backup(to: copy)
        try copy.write { db in
            try db.execute(sql: "UPDATE serverIdentity SET epoch = ?", arguments: [UUID.version7().canonical])
        }
        try copy.close()
    }
}
