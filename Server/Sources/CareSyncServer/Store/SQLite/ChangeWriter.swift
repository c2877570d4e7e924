import Foundation
import GRDB
import SQLiteSupport
import SyncCore

/// Appends verified changes of one diary to the log inside a write transaction, and keeps current which
/// change wins each field. Refusals (an id reused with other content, a reused stamp, a record changing
/// type) throw, which rolls back the whole batch.
struct ChangeWriter {
    private let db: Database
    private let diary: String
    private let author: String
    /// When the push arrived, as the log stores it.
    private let receivedAt: String
    /// Looked up once per batch rather than by its text for every change.
    private let insertChange: BoundStatement
    /// The diary's last sequence number before this batch stored anything: the batch's new changes are
    /// all of the diary's changes after it, up to `latestSeq`.
    let previousSeq: Int64
    private(set) var latestSeq: Int64
    private var ordinal: Int64
    /// Records touched by this batch, written back once by `finish()`.
    private var records: [UUID: CurrentRecord] = [:]

    /// A writer for the changes of `batch`.
    init(db: Database, diary: String, batch: StorableBatch) throws {
        self.db = db
        self.diary = diary
        author = batch.author
        receivedAt = String.fromDatabaseValue(batch.receivedAt.databaseValue)!
        insertChange = try BoundStatement(
            db,
            sql: """
                INSERT INTO change (id, diaryId, recordId, type, hlc, author, body, receivedAt, ordinal)
                VALUES (:id, :diaryId, :recordId, :type, :hlc, :author, :body, :receivedAt, :ordinal)
                ON CONFLICT (id) DO NOTHING
                """)
        (latestSeq, ordinal) = try Self.lastChange(of: diary, in: db)
        previousSeq = latestSeq
        try loadRecords(batch.recordList)
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
            db.cachedStatement(
                sql: """
                    SELECT record.id, record.type, record.fields, change.body FROM record LEFT JOIN change ON change.seq = record.soleSeq
                    WHERE record.diaryId = ? AND record.id IN (SELECT value FROM json_each(?))
                    """),
            arguments: [diary, list])
        while let row = try rows.next() {
            let id: String = row["id"]
            guard let uuid = UUID(canonical: id) else { continue }
            records[uuid] = CurrentRecord(
                id: id, type: RecordType(rawValue: row["type"]), fields: try CurrentFields.entries(fields: row["fields"], soleBody: row["body"]),
                exists: true)
        }
    }

    /// Writes every record this batch touched: its type and current state.
    mutating func finish() throws {
        let insert = try BoundStatement(
            db, sql: "INSERT INTO record (diaryId, id, type, soleSeq, fields) VALUES (:diaryId, :id, :type, :soleSeq, :fields)")
        let update = try BoundStatement(
            db, sql: "UPDATE record SET soleSeq = :soleSeq, fields = :fields WHERE diaryId = :diaryId AND id = :id")
        for pending in records.values where pending.touched {
            let stored = pending.stored
            if pending.exists {
                try update.run { values in
                    values.integer(":soleSeq", stored.sole)
                    values.blob(":fields", stored.fields)
                    values.text(":diaryId", diary)
                    values.text(":id", pending.id)
                }
            } else {
                try insert.run { values in
                    values.text(":diaryId", diary)
                    values.text(":id", pending.id)
                    // Known once a change was stored into the record; NULL would break the NOT NULL.
                    values.text(":type", pending.type?.rawValue)
                    values.integer(":soleSeq", stored.sole)
                    values.blob(":fields", stored.fields)
                }
            }
        }
        records.removeAll()
    }

    /// Stores one change; returns false if the same change was stored before.
    mutating func insert(_ storable: StorableChange, index: Int) throws -> Bool {
        let change = storable.change
        do {
            try insertChange.run { values in
                values.text(":id", storable.id)
                values.text(":diaryId", diary)
                values.text(":recordId", storable.record)
                values.text(":type", change.type.rawValue)
                values.integer(":hlc", change.hlc.packed)
                values.text(":author", author)
                values.blob(":body", storable.body)
                values.text(":receivedAt", receivedAt)
                values.integer(":ordinal", ordinal + 1)
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            // UNIQUE (author, hlc): another change with this stamp.
            let other = try String.fetchOne(
                db, sql: "SELECT id FROM change WHERE author = ? AND hlc = ?", arguments: [change.author.canonical, change.hlc.packed])
            throw StoreRefusal.stampReused(index: index, change: storable.id, storedChange: other)
        }
        guard db.changesCount > 0 else {
            let existing = try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM change WHERE id = ?"), arguments: [storable.id])
            guard existing.map(Array.init) == storable.body else {
                throw StoreRefusal.changeIDReused(index: index, change: storable.id)
            }
            return false
        }
        ordinal += 1
        latestSeq = db.lastInsertedRowID

        // One lookup, the record changed where it lies in `records` rather than copied out and back.
        do {
            try records[change.record, default: CurrentRecord(id: storable.record, type: nil, fields: [:], exists: false)].store(
                storable, seq: latestSeq)
        } catch {
            throw StoreRefusal.typeChanged(index: index, reason: error.description)
        }
        return true
    }
}
