import Foundation
import GRDB
import SyncCore

/// `caresync-server verify`: re-checks every stored change's signature against its author's key and
/// that the stored current state (which change wins each field) equals a replay of the whole log through
/// SyncCore's merge.
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
            var replicas: [String: ReplicaState] = [:]
            let cursor = try Row.fetchCursor(db, sql: "SELECT seq, id, diaryId, author, body FROM change ORDER BY seq")
            while let row = try cursor.next() {
                report.changesChecked += 1
                let id: String = row["id"]
                let seq: Int64 = row["seq"]
                let diary: String = row["diaryId"]
                let body: Data = row["body"]
                let signed: SignedChange
                do {
                    signed = try SignedChange(wireValue: try JSONValue(parsing: body))
                } catch {
                    report.faults.append("change \(id) (seq \(seq)): stored body cannot be read: \(error)")
                    continue
                }
                guard signed.change.id.canonical == id, signed.change.diary.canonical == diary,
                    signed.change.author.canonical == row["author"] as String
                else {
                    report.faults.append("change \(id) (seq \(seq)): stored columns disagree with the signed body")
                    continue
                }
                guard let key = keys[signed.change.author.canonical], ChangeSigner.isValid(signed, key: key) else {
                    report.faults.append("change \(id) (seq \(seq)): signature does not verify with the author's key")
                    continue
                }
                do {
                    try replicas[diary, default: ReplicaState()].apply(signed.change)
                } catch {
                    report.faults.append("change \(id) (seq \(seq)): \(error)")
                }
            }
            var stored: [String: [String: String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT diaryId, id, fields FROM record") {
                let key = row["diaryId"] as String + "/" + (row["id"] as String)
                guard let fields = try? CurrentFields.read(row["fields"]) else {
                    report.faults.append("record \(key): stored current state cannot be read")
                    continue
                }
                stored[key] = fields.mapValues { $0.change + " " + $0.stamp }
            }
            var replayed: [String: [String: String]] = [:]
            for (diary, replica) in replicas {
                for (id, record) in replica.records {
                    replayed[diary + "/" + id.canonical] = record.registers.mapValues { $0.winner.change.canonical + " " + $0.winner.stamp.text }
                }
            }
            for key in Set(stored.keys).union(replayed.keys).sorted() where stored[key] != replayed[key] {
                let fields = Set((stored[key] ?? [:]).keys).union((replayed[key] ?? [:]).keys).filter { stored[key]?[$0] != replayed[key]?[$0] }
                report.faults.append("record \(key): stored state differs from a replay of the log in \(fields.sorted().joined(separator: ", "))")
            }
            return report
        }
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
