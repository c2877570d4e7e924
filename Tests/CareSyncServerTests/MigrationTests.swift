import Foundation
import GRDB
import SQLiteSupport
import SyncCore
import Testing

@testable import CareSyncServer

/// A database written by an earlier server version opens in this one with nothing lost.
@Suite struct MigrationTests {
    /// A database file as a server whose last migration was `migration` left it.
    static func database(in harness: ServerHarness, upTo migration: String) throws -> (path: String, queue: DatabaseQueue) {
        let path = harness.directory.appendingPathComponent("old.sqlite").path
        let queue = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(queue, upTo: migration)
        return (path, queue)
    }

    @Test func aVersion1DatabaseMigratesWithItsChangesOrdinalsAndCurrentValues() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let (path, queue) = try Self.database(in: harness, upTo: "v1: diaries, devices, invites, change log, field values")

        // What the first server stored: one diary, one device, a flare and an edit of its pain.
        let diary = UUID.version7()
        let key = DeviceKey.generate()
        var device = TestDevice(id: UUID.version7(), diary: diary, key: key, role: "owner")
        let record = UUID.version7()
        let created = device.change(record: record)
        let edited = device.change(record: record, fields: ["pain": 8])
        let deviceID = device.id.canonical
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO diary (id, name, createdAt) VALUES (?, 'Mia', ?)", arguments: [diary.canonical, Date()])
            try db.execute(
                sql: "INSERT INTO device (id, diaryId, name, role, key, createdAt) VALUES (?, ?, 'laptop', 'owner', ?, ?)",
                arguments: [deviceID, diary.canonical, key.symmetricKey.withUnsafeBytes { Data($0) }, Date()])
            try db.execute(sql: "INSERT INTO record (diaryId, id, type) VALUES (?, ?, 'flare')", arguments: [diary.canonical, record.canonical])
            for signed in [created, edited] {
                let change = signed.change
                try db.execute(
                    sql: "INSERT INTO change (id, diaryId, recordId, type, hlc, author, body, receivedAt) VALUES (?, ?, ?, 'flare', ?, ?, ?, ?)",
                    arguments: [
                        change.id.canonical, diary.canonical, record.canonical, change.hlc.packed, deviceID,
                        Data(signed.wireValue.canonicalBytes), Date(),
                    ])
                for (field, value) in change.fields {
                    try db.execute(
                        sql: """
                            INSERT INTO fieldValue (diaryId, recordId, field, value, stamp, changeId) VALUES (?, ?, ?, ?, ?, ?)
                            ON CONFLICT (diaryId, recordId, field) DO UPDATE SET value = excluded.value, stamp = excluded.stamp, changeId = excluded.changeId
                            """,
                        arguments: [diary.canonical, record.canonical, field, value.canonicalString, change.stamp.text, change.id.canonical])
                }
            }
        }
        try queue.close()

        let database = try SQLiteStore(path: path)
        let report = try await database.audit()
        #expect(report.changesChecked == 2)
        #expect(report.faults.isEmpty, "\(report.faults)")
        let page = try database.pull(diary: diary.canonical, after: 0, limit: 1)
        #expect(page.bodies.count == 1 && page.remaining == 1, "ordinals were given to the old changes")
        // Paged by ordinal since v6, which drops the index by diary and sequence number.
        let second = try database.pull(diary: diary.canonical, after: page.next, limit: 1)
        #expect(second.bodies.map(Array.init) == [edited.wireValue.canonicalBytes] && second.remaining == 0)
        let indexes = try await database.pool.read { db in try db.indexes(on: "change").map(\.name) }
        #expect(indexes.contains("change_ordinal") && !indexes.contains("change_by_diary"))
        let fields = try await database.pool.read { db in
            try CurrentFields.read(Data.fetchOne(db, sql: "SELECT fields FROM record")!)
        }
        #expect(fields["pain"] == CurrentFields.Entry(stamp: edited.change.stamp.text, change: edited.change.id.canonical))
        #expect(fields["sites"] == CurrentFields.Entry(stamp: created.change.stamp.text, change: created.change.id.canonical))
    }

    /// Version 8 loosens the record-type CHECK of the log and of the current state in place: the rows a
    /// version-7 server kept stay as they were, a record of a newer kind can be stored, and a type that is
    /// not a type name is still refused by the schema.
    @Test func version8KeepsEveryRowAndStoresANewerKindButNoMalformedType() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let (path, queue) = try Self.database(
            in: harness, upTo: "v7: request nonces and failed enrollments are kept in the database, and a row for the health check")
        let diary = UUID.version7().canonical
        let records = (0..<50).map { _ in UUID.version7().canonical }
        @Sendable func insert(_ db: Database, id: String, type: String) throws {
            try db.execute(sql: "INSERT INTO record (diaryId, id, type, fields) VALUES (?, ?, ?, '{}')", arguments: [diary, id, type])
        }
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO diary (id, name, createdAt) VALUES (?, 'Mia', ?)", arguments: [diary, Date()])
            for (index, record) in records.enumerated() { try insert(db, id: record, type: index % 2 == 0 ? "flare" : "treatment") }
        }
        #expect(throws: DatabaseError.self, "version 7 knows two types") {
            try queue.write { db in try insert(db, id: UUID.version7().canonical, type: "checkin") }
        }
        try queue.close()

        let database = try SQLiteStore(path: path)
        let newer = UUID.version7().canonical
        try await database.pool.write { db in try insert(db, id: newer, type: "sleep-log") }
        for malformed in ["Sleep", "sleep log", "9lives", "", String(repeating: "a", count: 33)] {
            #expect(throws: DatabaseError.self, "\(malformed)") {
                try database.pool.write { db in try insert(db, id: UUID.version7().canonical, type: malformed) }
            }
        }
        let (kept, schemas) = try await database.pool.read { db in
            (
                try Row.fetchAll(db, sql: "SELECT id, type FROM record WHERE id != ?", arguments: [newer]).map {
                    "\($0["id"] as String) \($0["type"] as String)"
                },
                try String.fetchAll(db, sql: "SELECT sql FROM sqlite_schema WHERE name IN ('change', 'record')")
            )
        }
        #expect(Set(kept) == Set(records.enumerated().map { "\($1) \($0 % 2 == 0 ? "flare" : "treatment")" }))
        #expect(schemas.count == 2 && schemas.allSatisfy { $0.contains(recordTypeCheck) && !$0.contains(listedRecordTypesCheck) }, "\(schemas)")
    }

    /// Version 9 moves the change a record of one change names out of its `fields` and into a column the
    /// schema checks: a foreign key to the log, and exactly one of the two forms.
    @Test func version9NamesASoleChangeInAColumnTheSchemaChecks() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let (path, queue) = try Self.database(in: harness, upTo: "v8: a record's type is checked for its form, so records of a newer kind are kept")
        let (diary, device) = (UUID.version7().canonical, UUID.version7().canonical)
        let (sole, full) = (UUID.version7().canonical, UUID.version7().canonical)
        let fullFields = Data(#"{"0193610c-0d00-7000-8000-000000000001":{"fields":["pain"],"stamp":"0193610c0d000000@x"}}"#.utf8)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO diary (id, name, createdAt) VALUES (?, 'Mia', ?)", arguments: [diary, Date()])
            try db.execute(
                sql: "INSERT INTO device (id, diaryId, name, role, key, createdAt) VALUES (?, ?, 'Mum', 'owner', ?, ?)",
                arguments: [device, diary, Data(count: 32), Date()])
            try db.execute(
                sql: """
                    INSERT INTO change (seq, id, diaryId, recordId, type, hlc, author, body, receivedAt, ordinal)
                    VALUES (7, ?, ?, ?, 'flare', 1, ?, x'7b7d', ?, 1)
                    """, arguments: [UUID.version7().canonical, diary, sole, device, Date()])
            try db.execute(
                sql: "INSERT INTO record (diaryId, id, type, fields) VALUES (?, ?, 'flare', ?), (?, ?, 'flare', ?)",
                arguments: [diary, sole, Data(#"{"sole":7}"#.utf8), diary, full, fullFields])
        }
        try queue.close()

        let database = try SQLiteStore(path: path)
        let rows = try await database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, soleSeq, fields FROM record").map {
                ($0["id"] as String, $0["soleSeq"] as Int64?, $0["fields"] as Data?)
            }
        }
        #expect(rows.count == 2)
        #expect(rows.contains { $0.0 == sole && $0.1 == 7 && $0.2 == nil }, "\(rows)")
        #expect(rows.contains { $0.0 == full && $0.1 == nil && $0.2 == fullFields }, "\(rows)")
        for (statement, arguments) in [
            ("UPDATE record SET soleSeq = 8 WHERE id = ?", [sole]), ("UPDATE record SET fields = NULL WHERE id = ?", [full]),
            ("UPDATE record SET fields = x'7b7d' WHERE id = ?", [sole]),
        ] {
            #expect(throws: DatabaseError.self, "\(statement)") {
                try database.pool.write { db in try db.execute(sql: statement, arguments: StatementArguments(arguments)) }
            }
        }
    }

    /// Versions 4 and 5 rewrite every record's current state, a page of rows at a time: more records
    /// than fit in a page are all converted, each exactly once. Version 4 groups the values by change;
    /// version 5 keeps only which change wins each field, in a table without rowids.
    @Test func versions4And5ConvertTheCurrentStateOfEveryRecordPageByPage() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let (path, queue) = try Self.database(in: harness, upTo: "v3: each record's current field values in one row instead of one row per field")
        let diary = UUID.version7().canonical
        let count = SQLiteSchema.migrationPageRows * 2 + 500
        let (first, second) = (UUID.version7().canonical, UUID.version7().canonical)
        let stamps = [first: "0193610c0d000000@" + UUID.version7().canonical, second: "0193610c0d000001@" + UUID.version7().canonical]
        let records = (0..<count).map { _ in UUID.version7().canonical }
        // Odd records had their notes written by a second change.
        @Sendable func notesChange(_ index: Int) -> String { index % 2 == 0 ? first : second }
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO diary (id, name, createdAt) VALUES (?, 'Mia', ?)", arguments: [diary, Date()])
            for (index, record) in records.enumerated() {
                let firstForm: JSONValue = [
                    "pain": ["change": .string(first), "stamp": .string(stamps[first]!), "value": .int(Int64(index))],
                    "notes": [
                        "change": .string(notesChange(index)), "stamp": .string(stamps[notesChange(index)]!), "value": .string("row \(index)"),
                    ],
                ]
                try db.execute(
                    sql: "INSERT INTO record (diaryId, id, type, fields) VALUES (?, ?, 'flare', ?)",
                    arguments: [diary, record, Data(firstForm.canonicalBytes)])
            }
        }
        let expected = Dictionary(uniqueKeysWithValues: records.enumerated().map { ($1, $0) })

        try SQLiteSchema.migrator.migrate(queue, upTo: "v4: a record's current values grouped by the change that wrote them")
        let groupedByChange = try await queue.read { db in
            try Row.fetchAll(db, sql: "SELECT id, fields FROM record").map { ($0["id"] as String, try JSONValue(parsing: $0["fields"] as Data)) }
        }
        #expect(groupedByChange.count == count)
        for (record, fields) in groupedByChange {
            let index = try #require(expected[record])
            let (pain, notes): (JSONValue, JSONValue) = (.int(Int64(index)), .string("row \(index)"))
            let grouped: JSONValue =
                index % 2 == 0
                ? [first: ["stamp": .string(stamps[first]!), "values": ["notes": notes, "pain": pain]]]
                : [
                    first: ["stamp": .string(stamps[first]!), "values": ["pain": pain]],
                    second: ["stamp": .string(stamps[second]!), "values": ["notes": notes]],
                ]
            #expect(fields == grouped, "record \(record)")
        }
        try queue.close()

        let database = try SQLiteStore(path: path)
        let (stored, schema) = try await database.pool.read { db in
            (
                try Row.fetchAll(db, sql: "SELECT id, fields FROM record").map { ($0["id"] as String, try CurrentFields.read($0["fields"])) },
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_schema WHERE name = 'record'") ?? ""
            )
        }
        #expect(schema.contains("WITHOUT ROWID"), "\(schema)")
        #expect(stored.count == count)
        for (record, fields) in stored {
            let index = try #require(expected[record])
            #expect(fields["pain"] == CurrentFields.Entry(stamp: stamps[first]!, change: first), "record \(record)")
            #expect(fields["notes"] == CurrentFields.Entry(stamp: stamps[notesChange(index)]!, change: notesChange(index)), "record \(record)")
            #expect(fields.count == 2)
        }
    }

    /// The current state is written directly in canonical form, grouped by change, and read back the same.
    @Test func currentStateIsWrittenCanonicallyAndReadBack() throws {
        let (first, second) = (UUID.version7().canonical, UUID.version7().canonical)
        let stamps = ["0193610c0d000000@" + first, "0193610c0d000001@" + second]
        let entries: [String: CurrentFields.Entry] = [
            "pain": .init(stamp: stamps[1], change: second),
            "notes": .init(stamp: stamps[0], change: first),
            "sites": .init(stamp: stamps[0], change: first),
        ]
        let bytes = CurrentFields.bytes(entries)
        let tree: JSONValue = [
            first: ["fields": ["notes", "sites"], "stamp": .string(stamps[0])],
            second: ["fields": ["pain"], "stamp": .string(stamps[1])],
        ]
        #expect(bytes == tree.canonicalBytes)
        #expect(try CurrentFields.read(Data(bytes)) == entries)
    }

    /// On PostgreSQL the log takes no change whose author is not a device of its diary, no device is
    /// ever deleted from under its changes, and no record names a change its diary's log lacks.
    @Test(.enabled(if: !TestEngine.current.isSQLite)) func thePostgreSQLLogRefusesAnAuthorFromAnotherDiary() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let (stranger, _, _) = try await client.family(harness)
            let flare = owner.change()
            _ = try await client.push([flare], by: owner)
            let copy = """
                INSERT INTO change (diary_id, ordinal, id, record_id, type, hlc, author, body, received_at)
                SELECT diary_id, ordinal + 1, ?, record_id, type, hlc + 1, ?, body, received_at FROM change WHERE id = ?
                """
            let (original, location) = (flare.change.id.canonical, harness.store.location)
            for author in [stranger.id.canonical, UUID.version7().canonical] {
                await #expect {
                    try await TestEngine.execute(copy, [.text(UUID.version7().canonical), .text(author), .text(original)], on: location)
                } throws: { error in harness.store.describe(error).contains("not a device of its diary") }
            }
            try await TestEngine.execute(copy, [.text(UUID.version7().canonical), .text(owner.id.canonical), .text(original)], on: location)
            await #expect {
                try await TestEngine.execute("DELETE FROM device WHERE id = ?", [.text(stranger.id.canonical)], on: location)
            } throws: { error in harness.store.describe(error).contains("never deleted") }
            // A record of one change names a change of its own diary's log, on insert and on update.
            for (diary, ordinal) in [(owner.diary.canonical, 999), (stranger.diary.canonical, 1)] {
                await #expect {
                    try await TestEngine.execute(
                        "INSERT INTO record (diary_id, id, type, sole_ordinal) VALUES (?, ?, 'flare', \(ordinal))",
                        [.text(diary), .text(UUID.version7().canonical)], on: location)
                } throws: { error in harness.store.describe(error).contains("log does not hold") }
            }
            await #expect {
                try await TestEngine.execute(
                    "UPDATE record SET sole_ordinal = 999 WHERE id = ?", [.text(flare.change.record.canonical)], on: location)
            } throws: { error in harness.store.describe(error).contains("log does not hold") }
        }
    }

    /// A server refuses a database that a newer server migrated further, on either engine, saying so.
    @Test func aDatabaseMigratedByANewerServerIsRefusedSayingSo() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        try await harness.sql(
            sqlite: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')",
            postgres: "INSERT INTO schema_migration (version, name) VALUES (99, 'v99: from the future')")
        await #expect {
            _ = try await harness.reopen()
        } throws: { error in
            let text = "\(error)"
            return error is SchemaTooNew && text.contains("newer caresync-server") && text.contains("v99: from the future")
        }
    }
}
