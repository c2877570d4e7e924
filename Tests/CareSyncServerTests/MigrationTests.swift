import Foundation
import GRDB
import SyncCore
import Testing

@testable import CareSyncServer

/// A database written by an earlier server version opens in this one with nothing lost.
@Suite struct MigrationTests {
    /// A database file as a server whose last migration was `migration` left it.
    static func database(in harness: ServerHarness, upTo migration: String) throws -> (path: String, queue: DatabaseQueue) {
        let path = harness.directory.appendingPathComponent("old.sqlite").path
        let queue = try DatabaseQueue(path: path)
        try ServerSchema.migrator.migrate(queue, upTo: migration)
        return (path, queue)
    }

    @Test func aVersion1DatabaseMigratesWithItsChangesOrdinalsAndCurrentValues() async throws {
        let harness = try ServerHarness()
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

        let database = try ServerDatabase(path: path)
        let report = try ServerAudit(database: database).run()
        #expect(report.changesChecked == 2)
        #expect(report.faults.isEmpty, "\(report.faults)")
        let page = try database.pull(diary: diary.canonical, after: 0, limit: 1)
        #expect(page.bodies.count == 1 && page.remaining == 1, "ordinals were given to the old changes")
        let fields = try await database.pool.read { db in
            try CurrentFields.read(Data.fetchOne(db, sql: "SELECT fields FROM record")!)
        }
        #expect(fields["pain"]?.value == 8 && fields["pain"]?.change == edited.change.id.canonical)
        #expect(fields["sites"]?.value == ["tibia-left"] && fields["sites"]?.change == created.change.id.canonical)
        #expect(fields["pain"]?.stamp == edited.change.stamp.text && fields["sites"]?.stamp == created.change.stamp.text)
    }

    /// Version 4 regroups every record's current values by change, a page of rows at a time: more
    /// records than fit in a page are all converted, each exactly once.
    @Test func version4RegroupsTheCurrentValuesOfEveryRecordPageByPage() async throws {
        let harness = try ServerHarness()
        defer { harness.remove() }
        let (path, queue) = try Self.database(in: harness, upTo: "v3: each record's current field values in one row instead of one row per field")
        let diary = UUID.version7().canonical
        let count = ServerSchema.migrationPageRows * 2 + 500
        let change = UUID.version7().canonical
        let stamp = "0193610c0d000000@" + UUID.version7().canonical
        let records = (0..<count).map { _ in UUID.version7().canonical }
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO diary (id, name, createdAt) VALUES (?, 'Mia', ?)", arguments: [diary, Date()])
            for (index, record) in records.enumerated() {
                let firstForm: JSONValue = [
                    "pain": ["change": .string(change), "stamp": .string(stamp), "value": .int(Int64(index))],
                    "notes": ["change": .string(change), "stamp": .string(stamp), "value": .string("row \(index)")],
                ]
                try db.execute(
                    sql: "INSERT INTO record (diaryId, id, type, fields) VALUES (?, ?, 'flare', ?)",
                    arguments: [diary, record, Data(firstForm.canonicalBytes)])
            }
        }
        try queue.close()

        let database = try ServerDatabase(path: path)
        let stored = try await database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, fields FROM record").map { ($0["id"] as String, try CurrentFields.read($0["fields"])) }
        }
        #expect(stored.count == count)
        let expected = Dictionary(uniqueKeysWithValues: records.enumerated().map { ($1, Int64($0)) })
        for (record, fields) in stored {
            let index = try #require(expected[record])
            #expect(fields["pain"]?.value == .int(index) && fields["notes"]?.value == .string("row \(index)"), "record \(record)")
            #expect(fields.values.allSatisfy { $0.change == change && $0.stamp == stamp })
        }
    }

    /// The current values are written directly in canonical form, grouped by change, and read back the same.
    @Test func currentValuesAreWrittenCanonicallyAndReadBack() throws {
        let (first, second) = (UUID.version7().canonical, UUID.version7().canonical)
        let stamps = ["0193610c0d000000@" + first, "0193610c0d000001@" + second]
        let entries: [String: CurrentFields.Entry] = [
            "pain": .init(value: 8, stamp: stamps[1], change: second),
            "notes": .init(value: "é \"quoted\"\n", stamp: stamps[0], change: first),
            "sites": .init(value: ["tibia-left"], stamp: stamps[0], change: first),
        ]
        let bytes = CurrentFields.bytes(entries)
        let tree: JSONValue = [
            first: ["stamp": .string(stamps[0]), "values": ["notes": "é \"quoted\"\n", "sites": ["tibia-left"]]],
            second: ["stamp": .string(stamps[1]), "values": ["pain": 8]],
        ]
        #expect(bytes == tree.canonicalBytes)
        let read = try CurrentFields.read(Data(bytes))
        #expect(
            read.mapValues { [$0.value.canonicalString, $0.stamp, $0.change] }
                == entries.mapValues { [$0.value.canonicalString, $0.stamp, $0.change] })
    }
}
