import GRDB
import SQLiteSupport

/// The replica's schema, one named migration per change; a migration is never edited once shipped.
enum ReplicaSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: identity, change log, outbox, records, members") { db in
            // Who this device is. The key is not here: it lives in its own 0600 file.
            try db.create(table: "identity") { t in
                t.primaryKey("id", .integer).check(sql: "id = 1")
                t.column("server", .text).notNull()
                t.column("caFile", .text)
                t.column("diary", .text).notNull().check(sql: "length(diary) = 36")
                t.column("diaryName", .text).notNull()
                t.column("device", .text).notNull().check(sql: "length(device) = 36")
                t.column("deviceName", .text).notNull()
                t.column("role", .text).notNull().check(sql: "role IN ('owner', 'caregiver', 'clinician')")
                t.column("joinedAt", .datetime).notNull()
                // The hybrid logical clock, packed; it never goes back. From v3 only a lower bound: the
                // clock is the greater of it and the log's greatest stamp (`Replica.lastStamp`).
                t.column("clock", .integer).notNull().defaults(to: 0)
                // The pull cursor and the server epoch it belongs to.
                t.column("epoch", .text)
                t.column("cursor", .integer).notNull().defaults(to: 0).check(sql: "cursor >= 0")
                t.column("lastPushAt", .datetime)
                t.column("lastPullAt", .datetime)
            }
            // Every change this replica holds, its own and pulled ones, as signed.
            try db.create(table: "change") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("id", .text).notNull().unique()
                t.column("recordId", .text).notNull().indexed()
                t.column("type", .text).notNull().check(sql: "type IN ('flare', 'treatment')")
                t.column("hlc", .integer).notNull().indexed()
                t.column("author", .text).notNull()
                // The canonical wire form, with "sig".
                t.column("body", .blob).notNull()
            }
            // The changes not yet acknowledged by the server, pushed in `seq` order (keyed by seq from v3).
            try db.create(table: "outbox") { t in
                t.primaryKey("changeId", .text).references("change", column: "id")
            }
            // Each record's merged state (the stored form of SyncCore's RecordState) and, for listing,
            // its current values (until v2).
            try db.create(table: "record") { t in
                t.primaryKey("id", .text).check(sql: "length(id) = 36")
                t.column("type", .text).notNull().check(sql: "type IN ('flare', 'treatment')")
                t.column("deleted", .boolean).notNull()
                t.column("conflicts", .integer).notNull()
                t.column("updatedHLC", .integer).notNull()
                t.column("fieldValues", .blob).notNull()
                t.column("state", .blob).notNull()
            }
            // The diary's devices, as last listed by the server: the names the history shows.
            try db.create(table: "member") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("role", .text).notNull()
                t.column("revoked", .boolean).notNull()
            }
        }
        migrator.registerMigration("v2: a record's current values read from its merged state, not kept twice") { db in
            // The state's "values" member holds them already: the copy only added to the bytes a pulled
            // flare took. SQLite rewrites the table without the column.
            try db.alter(table: "record") { t in t.drop(column: "fieldValues") }
        }
        migrator.registerMigration("v3: the outbox keyed by the change's seq; local edits leave the identity row alone") { db in
            // A local edit is its own durable commit, and every page it changes is written to the log and
            // synced: committing was most of an edit's CPU. Keyed by the change's seq, the outbox is one
            // b-tree instead of a table and an index on the change's text id; and an edit reads its clock
            // from the log's greatest stamp (`Replica.lastStamp`) instead of writing it into `identity`. A
            // new flare's edit writes fewer pages to the log.
            try db.create(table: "queue") { t in
                t.primaryKey("seq", .integer).references("change", column: "seq")
            }
            try db.execute(sql: "INSERT INTO queue (seq) SELECT change.seq FROM outbox JOIN change ON change.id = outbox.changeId")
            let (queued, moved) = try (
                Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0, Int.fetchOne(db, sql: "SELECT COUNT(*) FROM queue") ?? 0
            )
            // The foreign key makes them equal; a queued change is never dropped on the way, though.
            guard queued == moved else {
                throw ClientError.setup(
                    "the outbox queues \(queued) changes, \(queued - moved) of them missing from the change log; the replica was left as it was")
            }
            try db.drop(table: "outbox")
            try db.rename(table: "queue", to: "outbox")
        }
        migrator.registerMigration("v4: a record's type is checked for its form, so records of a newer kind are kept") { db in
            // The definitions change in place (`loosenCheck`): no row is rewritten.
            for table in ["change", "record"] { try db.loosenCheck(table: table, from: listedRecordTypesCheck, to: recordTypeCheck) }
        }
        migrator.registerMigration("v5: a record one pulled change made names that change in a column with a foreign key to the log") { db in
            // `{"sole": seq}` inside `state` named a change where the schema could not check it: the column's
            // foreign key does, and the check keeps exactly one of the two forms.
            try db.create(table: "newRecord") { t in
                t.primaryKey("id", .text).check(sql: "length(id) = 36")
                t.column("type", .text).notNull().check(sql: recordTypeCheck)
                t.column("deleted", .boolean).notNull()
                t.column("conflicts", .integer).notNull()
                t.column("updatedHLC", .integer).notNull()
                t.column("soleSeq", .integer).references("change", column: "seq")
                t.column("state", .blob)
                t.check(sql: "(soleSeq IS NULL) <> (state IS NULL)")
            }
            try db.execute(
                sql: """
                    INSERT INTO newRecord (id, type, deleted, conflicts, updatedHLC, soleSeq, state)
                    SELECT id, type, deleted, conflicts, updatedHLC, sole, CASE WHEN sole IS NULL THEN state END
                    FROM (SELECT *, CASE WHEN json_type(CAST(state AS TEXT), '$.sole') = 'integer'
                                         THEN json_extract(CAST(state AS TEXT), '$.sole') END AS sole FROM record)
                    """)
            try db.drop(table: "record")
            try db.rename(table: "newRecord", to: "record")
        }
        return migrator
    }
}
