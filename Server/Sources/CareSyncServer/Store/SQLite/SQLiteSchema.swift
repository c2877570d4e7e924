import Foundation
import GRDB
import SQLiteSupport
import SyncCore

/// The server's schema, one named migration per change; a migration is never edited once shipped.
///
/// Constraints do the refusing even where Swift code might be wrong: NOT NULL, CHECK, UNIQUE and
/// foreign keys. The change log is append-only: nothing in the server updates or deletes a change.
enum SQLiteSchema {
    /// Rows a migration that rewrites a table reads at a time.
    static let migrationPageRows = 1_000

    /// Migrates the database to this version's schema; refuses one that a newer server migrated further.
    static func migrate(_ pool: DatabasePool, location: String) throws {
        let migrator = migrator
        let unknown = try migrator.unknownMigrations(in: pool)
        guard unknown.isEmpty else { throw SchemaTooNew(location: location, unknown: unknown) }
        try migrator.migrate(pool)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: diaries, devices, invites, change log, field values") { db in
            try db.create(table: "serverIdentity") { t in
                t.primaryKey("id", .integer).check(sql: "id = 1")
                // Changes when a backup copy is made, so devices recognise a restored server.
                t.column("epoch", .text).notNull().check(sql: "length(epoch) = 36")
            }
            try db.create(table: "diary") { t in
                t.primaryKey("id", .text).check(sql: "length(id) = 36")
                t.column("name", .text).notNull().check(sql: "length(trim(name)) > 0")
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "device") { t in
                t.primaryKey("id", .text).check(sql: "length(id) = 36")
                t.column("diaryId", .text).notNull().indexed().references("diary")
                t.column("name", .text).notNull().check(sql: "length(trim(name)) > 0")
                t.column("role", .text).notNull().check(sql: "role IN ('owner', 'caregiver', 'clinician')")
                t.column("key", .blob).notNull().check(sql: "length(key) = 32")
                t.column("createdAt", .datetime).notNull()
                t.column("accessExpiresAt", .datetime)
                t.column("revokedAt", .datetime)
            }
            try db.create(table: "invite") { t in
                // The SHA-256 of the code: the code itself is a secret and is not kept.
                t.primaryKey("codeHash", .text).check(sql: "length(codeHash) = 64")
                t.column("diaryId", .text).notNull().indexed().references("diary")
                t.column("role", .text).notNull().check(sql: "role IN ('owner', 'caregiver', 'clinician')")
                t.column("createdAt", .datetime).notNull()
                t.column("expiresAt", .datetime).notNull()
                t.column("accessExpiresAt", .datetime)
                t.column("createdBy", .text).references("device")
                t.column("usedAt", .datetime)
                t.column("usedBy", .text).references("device")
                t.check(sql: "(usedAt IS NULL) = (usedBy IS NULL)")
            }
            try db.create(table: "change") { t in
                // The pull cursor: assigned in commit order because SQLite has one writer at a time.
                t.autoIncrementedPrimaryKey("seq")
                t.column("id", .text).notNull().unique()
                t.column("diaryId", .text).notNull().references("diary")
                t.column("recordId", .text).notNull()
                t.column("type", .text).notNull().check(sql: "type IN ('flare', 'treatment')")
                t.column("hlc", .integer).notNull()
                t.column("author", .text).notNull().references("device")
                // The signed change as received, in its canonical wire form (with "sig").
                t.column("body", .blob).notNull()
                t.column("receivedAt", .datetime).notNull()
                t.uniqueKey(["author", "hlc"])
            }
            try db.create(index: "change_by_diary", on: "change", columns: ["diaryId", "seq"])
            try db.create(table: "record") { t in
                t.column("diaryId", .text).notNull().references("diary")
                t.column("id", .text).notNull()
                t.column("type", .text).notNull().check(sql: "type IN ('flare', 'treatment')")
                t.primaryKey(["diaryId", "id"])
            }
            try db.create(table: "fieldValue") { t in
                t.column("diaryId", .text).notNull()
                t.column("recordId", .text).notNull()
                t.column("field", .text).notNull()
                // Canonical JSON of the winning value, its stamp text and the change that wrote it.
                t.column("value", .text).notNull()
                t.column("stamp", .text).notNull()
                t.column("changeId", .text).notNull().references("change", column: "id")
                t.primaryKey(["diaryId", "recordId", "field"])
                t.foreignKey(["diaryId", "recordId"], references: "record", columns: ["diaryId", "id"])
            }
        }
        migrator.registerMigration("v2: per-diary change ordinal, so a pull counts what remains without scanning it") { db in
            // ordinal = the change's position in its diary (1, 2, …), in seq order. `remaining` of a pull is
            // then the diary's last ordinal minus the page's, instead of a count over every later change.
            try db.alter(table: "change") { t in t.add(column: "ordinal", .integer).notNull().defaults(to: 0) }
            // One pass with a window function (SQLite 3.33+), not a count per row: linear in the log.
            try db.execute(
                sql: """
                    UPDATE change SET ordinal = numbered.position
                    FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY diaryId ORDER BY seq) AS position FROM change) AS numbered
                    WHERE numbered.seq = change.seq
                    """)
            try db.create(index: "change_ordinal", on: "change", columns: ["diaryId", "ordinal"], unique: true)
        }
        migrator.registerMigration("v3: each record's current field values in one row instead of one row per field") { db in
            // A push then writes one record row per change instead of one row per field: the per-field
            // upserts were most of the cost of storing a push.
            try db.alter(table: "record") { t in t.add(column: "fields", .blob).notNull().defaults(to: "{}") }
            var records: [String: [String: JSONValue]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT diaryId, recordId, field, value, stamp, changeId FROM fieldValue") {
                let key = (row["diaryId"] as String) + "/" + (row["recordId"] as String)
                // The form of v3 (`EarlierCurrentFields.readFirstForm`), which v4 regroups by change.
                records[key, default: [:]][row["field"]] = [
                    "change": .string(row["changeId"]), "stamp": .string(row["stamp"]),
                    "value": try JSONValue(parsing: Array((row["value"] as String).utf8)),
                ]
            }
            for (key, fields) in records {
                let parts = key.split(separator: "/").map(String.init)
                try db.execute(
                    sql: "UPDATE record SET fields = ? WHERE diaryId = ? AND id = ?",
                    arguments: [Data(JSONValue.object(fields).canonicalBytes), parts[0], parts[1]])
            }
            try db.drop(table: "fieldValue")
        }
        migrator.registerMigration("v4: a record's current values grouped by the change that wrote them") { db in
            // Each change id and stamp once per record instead of once per field: a new flare's row is much
            // smaller, and a push writes one for every change.
            // A page of rows at a time, so that memory stays flat however many records the server holds.
            try forEachRecordPage(in: db) { row in
                let entries = try EarlierCurrentFields.readFirstForm(row["fields"])
                try db.execute(
                    sql: "UPDATE record SET fields = ? WHERE rowid = ?",
                    arguments: [Data(EarlierCurrentFields.secondFormBytes(entries)), row["rowid"] as Int64])
            }
        }
        migrator.registerMigration("v5: a record's current state names the change that wrote each field, keyed by diary and id") { db in
            // The values are in the changes' signed bodies already: a record names, for each field, the
            // change whose value wins, and that change's stamp. A new flare's row is smaller, and without
            // a rowid its key is its only b-tree: one insert fewer for every change pushed.
            try db.create(table: "currentRecord", options: .withoutRowID) { t in
                t.column("diaryId", .text).notNull().references("diary")
                t.column("id", .text).notNull()
                t.column("type", .text).notNull().check(sql: "type IN ('flare', 'treatment')")
                t.column("fields", .blob).notNull()
                t.primaryKey(["diaryId", "id"])
            }
            try forEachRecordPage(in: db) { row in
                try db.execute(
                    sql: "INSERT INTO currentRecord (diaryId, id, type, fields) VALUES (?, ?, ?, ?)",
                    arguments: [
                        row["diaryId"] as DatabaseValue, row["id"] as DatabaseValue, row["type"] as DatabaseValue,
                        Data(CurrentFields.bytes(try CurrentFields.read(row["fields"]))),
                    ])
            }
            try db.drop(table: "record")
            try db.rename(table: "currentRecord", to: "record")
        }
        migrator.registerMigration("v6: the log is read in each diary by ordinal; its index by diary and sequence number goes") { db in
            // The (diaryId, ordinal) index, unique, finds a diary's changes in the same order: ordinals rise
            // with sequence numbers within a diary. One b-tree insert fewer for every change pushed.
            try db.drop(index: "change_by_diary")
        }
        migrator.registerMigration("v7: request nonces and failed enrollments are kept in the database, and a row for the health check") { db in
            // A nonce is refused if its device used it within the request window; the primary key does the
            // check, so neither a restart nor a second server over the same database lets a request be replayed.
            try db.create(table: "seenNonce", options: .withoutRowID) { t in
                t.column("deviceId", .text).notNull().references("device")
                t.column("nonce", .text).notNull().check(sql: "length(nonce) BETWEEN 16 AND 64")
                t.column("seenAt", .double).notNull()
                t.primaryKey(["deviceId", "nonce"])
            }
            try db.create(index: "seenNonce_by_time", on: "seenNonce", columns: ["seenAt"])
            // Failed invite codes per address, which slow guessing for a minute after too many.
            try db.create(table: "enrollmentFailure") { t in
                t.column("address", .text).notNull()
                t.column("failedAt", .double).notNull()
            }
            try db.create(index: "enrollmentFailure_by_address", on: "enrollmentFailure", columns: ["address", "failedAt"])
            // `GET /health` writes this row to show that the database takes writes.
            try db.create(table: "healthCheck") { t in
                t.primaryKey("id", .integer).check(sql: "id = 1")
                t.column("checkedAt", .double).notNull()
            }
        }
        migrator.registerMigration("v8: a record's type is checked for its form, so records of a newer kind are kept") { db in
            // The definitions change in place (`loosenCheck`): no row is rewritten, however long the log.
            for table in ["change", "record"] { try db.loosenCheck(table: table, from: listedRecordTypesCheck, to: recordTypeCheck) }
        }
        migrator.registerMigration("v9: a record one change made names that change in a column with a foreign key to the log") { db in
            // `{"sole": seq}` inside `fields` named a change where the schema could not check it: the column's
            // foreign key does, and the check keeps exactly one of the two forms. One statement copies every
            // row: SQLite streams it, so memory stays flat without paging.
            try db.create(table: "newRecord", options: .withoutRowID) { t in
                t.column("diaryId", .text).notNull().references("diary")
                t.column("id", .text).notNull()
                t.column("type", .text).notNull().check(sql: recordTypeCheck)
                t.column("soleSeq", .integer).references("change", column: "seq")
                t.column("fields", .blob)
                t.check(sql: "(soleSeq IS NULL) <> (fields IS NULL)")
                t.primaryKey(["diaryId", "id"])
            }
            try db.execute(
                sql: """
                    INSERT INTO newRecord (diaryId, id, type, soleSeq, fields)
                    SELECT diaryId, id, type, sole, CASE WHEN sole IS NULL THEN fields END
                    FROM (SELECT *, CASE WHEN json_type(CAST(fields AS TEXT), '$.sole') = 'integer'
                                         THEN json_extract(CAST(fields AS TEXT), '$.sole') END AS sole FROM record)
                    """)
            try db.drop(table: "record")
            try db.rename(table: "newRecord", to: "record")
        }
        return migrator
    }

    /// Calls `body` with every row of `record` (its rowid and every column), reading `migrationPageRows`
    /// rows at a time in rowid order.
    private static func forEachRecordPage(in db: Database, _ body: (Row) throws -> Void) throws {
        var last: Int64 = 0
        while true {
            let rows = try Row.fetchAll(
                db, sql: "SELECT rowid, * FROM record WHERE rowid > ? ORDER BY rowid LIMIT ?", arguments: [last, migrationPageRows])
            for row in rows { try body(row) }
            guard let next = rows.last?["rowid"] as Int64? else { return }
            last = next
        }
    }
}

/// The forms of `record.fields` before migration v5, which the migrations v3 and v4 read and write.
enum EarlierCurrentFields {
    struct Entry {
        let value: JSONValue
        let stamp: String
        let change: String
    }

    /// Reads the form of migrations v3 to v4: one entry per field,
    /// `{"pain": {"change": "…", "stamp": "…", "value": 6}, …}`.
    static func readFirstForm(_ data: Data) throws -> [String: Entry] {
        var entries: [String: Entry] = [:]
        for (name, member) in try JSONValue(parsing: data).objectValue ?? [:] {
            guard let members = member.objectValue, let value = members["value"], let stamp = members["stamp"]?.stringValue,
                let change = members["change"]?.stringValue
            else { throw JSONParseError("stored current value of \(name) needs value, stamp and change") }
            entries[name] = Entry(value: value, stamp: stamp, change: change)
        }
        return entries
    }

    /// The form of migration v4: the values grouped by the change that wrote them,
    /// `{"<change id>": {"stamp": "…", "values": {"pain": 6, …}}, …}`.
    static func secondFormBytes(_ entries: [String: Entry]) -> [UInt8] {
        var groups: [String: (stamp: String, values: [String: JSONValue])] = [:]
        for (name, entry) in entries {
            groups[entry.change, default: (entry.stamp, [:])].values[name] = entry.value
        }
        return JSONValue.object(groups.mapValues { ["stamp": .string($0.stamp), "values": .object($0.values)] }).canonicalBytes
    }
}
