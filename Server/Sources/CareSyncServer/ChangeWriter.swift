import Foundation
import GRDB
import SQLiteSupport
import SyncCore

/// A verified change and the values storing it takes, made on the thread that verified it: the
/// database has one writer thread, which every push waits for, so it should bind and write, not format.
/// A class, so that keeping it costs the writer one reference rather than one for each of its parts.
final class StorableChange: Sendable {
    let change: Change
    /// The canonical wire form, as received (with `"sig"`).
    let body: [UInt8]
    let id: String
    let record: String
    let stamp: String

    init(_ received: ReceivedChange) {
        let change = received.change
        self.change = change
        body = received.wireBytes
        id = change.id.canonical
        record = change.record.canonical
        stamp = change.stamp.text
    }
}

/// The changes of one push, in order, with the records they write as a JSON list for `json_each`.
struct StorableBatch: Sendable {
    let changes: [StorableChange]
    let records: String
    /// The pushing device, the author of every change (checked).
    let author: String
    /// When the push arrived, as the log stores it.
    let receivedAt: String

    init(_ changes: [StorableChange], author: String, receivedAt: Date) {
        self.changes = changes
        self.author = author
        self.receivedAt = String.fromDatabaseValue(receivedAt.databaseValue)!
        records = "[" + changes.map { "\"" + $0.record + "\"" }.joined(separator: ",") + "]"
    }
}

/// Appends verified changes of one diary to the log inside a write transaction, and keeps current which
/// change wins each field. Refusals (an id reused with other content, a reused stamp, a record changing
/// type) throw, which rolls back the whole batch.
struct ChangeWriter {
    private let db: Database
    private let diary: String
    private let author: String
    private let receivedAt: String
    /// Looked up once per batch rather than by its text for every change.
    private let insertChange: BoundStatement
    /// The diary's last sequence number before this batch stored anything: the batch's new changes are
    /// all of the diary's changes after it, up to `latestSeq`.
    let previousSeq: Int64
    private(set) var latestSeq: Int64
    private var ordinal: Int64
    /// Records touched by this batch, written back once by `finish()`.
    private var records: [UUID: PendingRecord] = [:]

    private struct PendingRecord {
        let id: String
        var type: RecordType?
        var fields: [String: CurrentFields.Entry]
        let exists: Bool
        /// Whether a change of this batch was stored into it.
        var touched = false
        /// A new record's first change and its sequence number, while it is the only one: it wins every
        /// field, and the row names it (`SoleRecord`). Moved into `fields` when a second
        /// change comes.
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
    }

    /// A writer for the changes of `batch`.
    init(db: Database, diary: String, batch: StorableBatch) throws {
        self.db = db
        self.diary = diary
        author = batch.author
        receivedAt = batch.receivedAt
        insertChange = try BoundStatement(
            db,
            sql: """
                INSERT INTO change (id, diaryId, recordId, type, hlc, author, body, receivedAt, ordinal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO NOTHING
                """)
        (latestSeq, ordinal) = try Self.lastChange(of: diary, in: db)
        previousSeq = latestSeq
        try loadRecords(batch.records)
    }

    /// The sequence number and ordinal of the diary's last change, or zeros for a diary without one.
    static func lastChange(of diary: String, in db: Database) throws -> (seq: Int64, ordinal: Int64) {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, ordinal FROM change WHERE diaryId = ? ORDER BY ordinal DESC LIMIT 1"), arguments: [diary])
        return (row?["seq"] ?? 0, row?["ordinal"] ?? 0)
    }

    /// Reads, in one statement, the stored records among `list` (a JSON list of ids), so that `insert`
    /// knows a record it was not given is new without a statement of its own (a push mostly creates
    /// records).
    private mutating func loadRecords(_ list: String) throws {
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT id, type, fields FROM record WHERE diaryId = ? AND id IN (SELECT value FROM json_each(?))"),
            arguments: [diary, list])
        while let row = try rows.next() {
            let id: String = row["id"]
            guard let uuid = UUID(canonical: id) else { continue }
            records[uuid] = PendingRecord(
                id: id, type: RecordType(rawValue: row["type"]), fields: try CurrentFields.read(row["fields"], in: db), exists: true)
        }
    }

    /// Writes every record this batch touched: its type and current state.
    mutating func finish() throws {
        let insert = try BoundStatement(db, sql: "INSERT INTO record (diaryId, id, type, fields) VALUES (?, ?, ?, ?)")
        let update = try BoundStatement(db, sql: "UPDATE record SET fields = ? WHERE diaryId = ? AND id = ?")
        for pending in records.values where pending.touched {
            let fields = pending.sole.map { SoleRecord.bytes(seq: $0.seq) } ?? CurrentFields.bytes(pending.fields)
            if pending.exists {
                try update.run { values in
                    values.blob(fields)
                    values.text(diary)
                    values.text(pending.id)
                }
            } else {
                try insert.run { values in
                    values.text(diary)
                    values.text(pending.id)
                    // Known once a change was stored into the record; NULL would break the NOT NULL.
                    if let type = pending.type { values.text(type.rawValue) } else { values.null() }
                    values.blob(fields)
                }
            }
        }
        records.removeAll()
    }

    /// Stores one change; returns false if the same change was stored before.
    mutating func insert(_ storable: StorableChange, index: Int) throws -> Bool {
        let change = storable.change
        var details: [String: JSONValue] { ["index": .int(Int64(index))] }
        do {
            try insertChange.run { values in
                values.text(storable.id)
                values.text(diary)
                values.text(storable.record)
                values.text(change.type.rawValue)
                values.integer(change.hlc.packed)
                values.text(author)
                values.blob(storable.body)
                values.text(receivedAt)
                values.integer(ordinal + 1)
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            // UNIQUE (author, hlc): another change with this stamp.
            let other = try String.fetchOne(
                db, sql: "SELECT id FROM change WHERE author = ? AND hlc = ?", arguments: [change.author.canonical, change.hlc.packed])
            throw APIError(
                .conflict, "stamp_reused",
                "change #\(index) (\(storable.id)) has the same clock and author as stored change \(other ?? "?"): a device's clock must move forward",
                details: details)
        }
        guard db.changesCount > 0 else {
            let existing = try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM change WHERE id = ?"), arguments: [storable.id])
            guard existing.map(Array.init) == storable.body else {
                throw APIError(
                    .conflict, "change_id_reused", "change #\(index) (\(storable.id)) reuses the id of a stored change with different content",
                    details: details)
            }
            return false
        }
        ordinal += 1
        latestSeq = db.lastInsertedRowID

        // One lookup, the record changed where it lies in `records` rather than copied out and back.
        do {
            try records[change.record, default: PendingRecord(id: storable.record, type: nil, fields: [:], exists: false)].store(
                storable, seq: latestSeq)
        } catch {
            throw APIError(.conflict, "type_changed", "change #\(index): " + error.description, details: details)
        }
        return true
    }
}
