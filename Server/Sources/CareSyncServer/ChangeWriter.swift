import Foundation
import GRDB
import SyncCore

/// Appends verified changes of one diary to the log inside a write transaction, and keeps current which
/// change wins each field. Refusals (an id reused with other content, a reused stamp, a record changing
/// type) throw, which rolls back the whole batch.
struct ChangeWriter {
    private let db: Database
    private let diary: String
    /// When the batch arrived, converted for SQLite once rather than for every change (GRDB formats a
    /// `Date` as text each time it is bound).
    private let receivedAt: DatabaseValue
    private(set) var latestSeq: Int64
    private var ordinal: Int64
    /// Records touched by this batch, written back once by `finish()`.
    private var records: [UUID: PendingRecord] = [:]

    private struct PendingRecord {
        var type: RecordType?
        var fields: [String: CurrentFields.Entry]
        let exists: Bool
        /// Whether a change of this batch was stored into it.
        var touched = false
        /// A new record's first change, while it is the only one: it wins every field, and its field
        /// names are written without making an entry for each (a push mostly creates records). Moved into
        /// `fields` when a second change comes.
        var sole: Change?

        mutating func apply(_ change: Change) {
            let id = change.id.canonical
            let stamp = change.stamp.text
            fields.reserveCapacity(change.fields.count)
            for field in change.fields.keys where fields[field].map({ CurrentFields.wins(stamp: stamp, change: id, over: $0) }) ?? true {
                fields[field] = CurrentFields.Entry(stamp: stamp, change: id)
            }
        }

        /// The stored form of the record's current state.
        var bytes: [UInt8] {
            guard let sole else { return CurrentFields.bytes(fields) }
            return CurrentFields.bytes(change: sole.id.canonical, stamp: sole.stamp.text, names: sole.fields.keys)
        }
    }

    /// A writer for changes of `records` (every record the changes to be inserted belong to).
    init(db: Database, diary: String, now: Date, records: Set<UUID>) throws {
        self.db = db
        self.diary = diary
        receivedAt = now.databaseValue
        let last = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, ordinal FROM change WHERE diaryId = ? ORDER BY seq DESC LIMIT 1"), arguments: [diary])
        latestSeq = last?["seq"] ?? 0
        ordinal = last?["ordinal"] ?? 0
        try loadRecords(records)
    }

    /// Reads, in one statement, the stored records of `ids`, so that `insert` needs no statement of its
    /// own to learn that a record is new (a push mostly creates records).
    private mutating func loadRecords(_ ids: Set<UUID>) throws {
        let list = "[" + ids.map { "\"\($0.canonical)\"" }.joined(separator: ",") + "]"
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT id, type, fields FROM record WHERE diaryId = ? AND id IN (SELECT value FROM json_each(?))"),
            arguments: [diary, list])
        while let row = try rows.next() {
            guard let id = UUID(canonical: row["id"]) else { continue }
            records[id] = PendingRecord(type: RecordType(rawValue: row["type"]), fields: try CurrentFields.read(row["fields"]), exists: true)
        }
        for id in ids where records[id] == nil { records[id] = PendingRecord(type: nil, fields: [:], exists: false) }
    }

    /// Writes every record this batch touched: its type and current state.
    mutating func finish() throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO record (diaryId, id, type, fields) VALUES (?, ?, ?, ?)")
        let update = try db.cachedStatement(sql: "UPDATE record SET fields = ? WHERE diaryId = ? AND id = ?")
        for (id, pending) in records where pending.touched {
            let fields = Data(pending.bytes)
            if pending.exists {
                try update.execute(arguments: [fields, diary, id.canonical])
            } else {
                try insert.execute(arguments: [diary, id.canonical, pending.type?.rawValue, fields])
            }
        }
        records.removeAll()
    }

    /// Stores one change; returns false if the same change was stored before.
    mutating func insert(_ received: ReceivedChange, index: Int) throws -> Bool {
        let change = received.change
        let body = received.wireBytes
        let id = change.id.canonical
        let details: [String: JSONValue] = ["index": .int(Int64(index))]
        let record = change.record.canonical
        do {
            try db.cachedStatement(
                sql: """
                    INSERT INTO change (id, diaryId, recordId, type, hlc, author, body, receivedAt, ordinal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO NOTHING
                    """
            ).execute(arguments: [
                id, diary, record, change.type.rawValue, change.hlc.packed, change.author.canonical, Data(body), receivedAt, ordinal + 1,
            ])
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            // UNIQUE (author, hlc): another change with this stamp.
            let other = try String.fetchOne(
                db, sql: "SELECT id FROM change WHERE author = ? AND hlc = ?", arguments: [change.author.canonical, change.hlc.packed])
            throw APIError(
                .conflict, "stamp_reused",
                "change #\(index) (\(id)) has the same clock and author as stored change \(other ?? "?"): a device's clock must move forward",
                details: details)
        }
        guard db.changesCount > 0 else {
            let existing = try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM change WHERE id = ?"), arguments: [id])
            guard existing.map(Array.init) == body else {
                throw APIError(
                    .conflict, "change_id_reused", "change #\(index) (\(id)) reuses the id of a stored change with different content",
                    details: details)
            }
            return false
        }
        ordinal += 1
        latestSeq = db.lastInsertedRowID

        guard var pending = records[change.record] else { preconditionFailure("the writer was not given record \(record)") }
        if let type = pending.type, type != change.type {
            throw APIError(
                .conflict, "type_changed",
                "change #\(index): " + MergeError.typeChanged(record: change.record, existing: type, attempted: change.type).description,
                details: details)
        }
        pending.type = change.type
        if !pending.exists, !pending.touched, !change.fields.isEmpty {
            pending.sole = change
        } else {
            if let sole = pending.sole {
                pending.apply(sole)
                pending.sole = nil
            }
            pending.apply(change)
        }
        pending.touched = true
        records[change.record] = pending
        return true
    }
}
