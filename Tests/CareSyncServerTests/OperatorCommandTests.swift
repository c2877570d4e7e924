@testable import CareSyncServer
import Foundation
import GRDB
import SyncCore
import Testing

struct OperatorCommandTests {
    @Test func verifyPassesOnAnHonestLogAndNamesAnEditedChange() async throws {
        try await withServer { harness, client in
            var (owner, caregiver, _) = try await client.family(harness)
            let flare = owner.change()
            _ = try await client.push([flare], by: owner)
            var edit = caregiver
            _ = try await client.push([edit.change(record: flare.change.record, fields: ["pain": 3])], by: caregiver)
            let clean = try await harness.store.audit()
            #expect(clean.changesChecked == 2)
            #expect(clean.faults.isEmpty, "\(clean.faults)")

            let id = flare.change.id.canonical
            try await harness.sql(
                sqlite: #"UPDATE change SET body = CAST(replace(CAST(body AS TEXT), '"pain":6', '"pain":9') AS BLOB) WHERE id = ?"#,
                postgres: #"UPDATE change SET body = convert_to(replace(convert_from(body, 'UTF8'), '"pain":6', '"pain":9'), 'UTF8') WHERE id = ?"#,
                [.text(id)])
            let report = try await harness.store.audit()
            #expect(report.faults.contains { $0.contains("change \(id)") && $0.contains("signature does not verify") }, "\(report.faults)")
        }
    }

    /// A record stored in full, and a record stored as the number of its one change, each disagreeing
    /// with the log in its own way, are each named.
    @Test func verifyNoticesStateThatDisagreesWithTheLog() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let flare = owner.change()
            let edit = owner.change(record: flare.change.record, fields: ["notes": "ice helped"])
            let (other, unread) = (owner.change(), owner.change())
            _ = try await client.push([flare, edit, other, unread], by: owner)
            #expect(try await harness.store.audit().faults.isEmpty)
            let records = (flare: flare.change.record.canonical, other: other.change.record.canonical, unread: unread.change.record.canonical)
            // The edited flare's state no longer names the change that wrote the pain; the others name
            // another record's change, and a change the log does not hold.
            try await harness.sql(
                sqlite: #"UPDATE record SET fields = CAST(replace(CAST(fields AS TEXT), '"pain",', '') AS BLOB) WHERE id = ?"#,
                postgres: #"UPDATE record SET fields = convert_to(replace(convert_from(fields, 'UTF8'), '"pain",', ''), 'UTF8') WHERE id = ?"#,
                [.text(records.flare)])
            try await harness.sql(
                sqlite: "UPDATE record SET soleSeq = (SELECT seq FROM change WHERE id = ?) WHERE id = ?",
                postgres: "UPDATE record SET sole_ordinal = (SELECT ordinal FROM change WHERE id = ?) WHERE id = ?",
                [.text(flare.change.id.canonical), .text(records.other)])
            // The foreign key refuses a record naming a change the log does not hold, so the unreadable
            // state is a number in place of the list of fields.
            await #expect(throws: (any Error).self) {
                try await harness.sql(
                    sqlite: "UPDATE record SET soleSeq = 999 WHERE id = ?", postgres: "UPDATE record SET sole_ordinal = 999 WHERE id = ?",
                    [.text(records.unread)])
            }
            try await harness.sql(
                sqlite: #"UPDATE record SET soleSeq = NULL, fields = CAST('{"sole":999}' AS BLOB) WHERE id = ?"#,
                postgres: #"UPDATE record SET sole_ordinal = NULL, fields = convert_to('{"sole":999}', 'UTF8') WHERE id = ?"#,
                [.text(records.unread)])
            let report = try await harness.store.audit()
            #expect(report.faults.count == 3, "\(report.faults)")
            #expect(report.faults.contains { $0.contains(records.flare) && $0.contains("differs") && $0.contains("pain") }, "\(report.faults)")
            #expect(report.faults.contains { $0.contains(records.other) && $0.contains("differs") }, "\(report.faults)")
            #expect(report.faults.contains { $0.contains(records.unread) && $0.contains("cannot be read") }, "\(report.faults)")
        }
    }

    /// `verify` replays the log one record at a time: records of several diaries, with their changes
    /// interleaved in the log, agree with it; a stored record no change writes, and a record the log
    /// writes that is not stored, are each named.
    @Test func verifyReplaysEveryRecordOfEveryDiary() async throws {
        try await withServer { harness, client in
            var (mum, dad, _) = try await client.family(harness)
            var (other, _, _) = try await client.family(harness)
            let first = mum.change()
            let second = mum.change(fields: ["started": "2024-12-01", "sites": ["clavicle-right"], "pain": 4])
            let elsewhere = other.change()
            #expect(try await client.push([first, second], by: mum).status == .ok)
            #expect(try await client.push([elsewhere], by: other).status == .ok)
            #expect(try await client.push([dad.change(record: first.change.record, fields: ["pain": 2])], by: dad).status == .ok)
            #expect(try await client.push([other.change(record: elsewhere.change.record, fields: ["pain": 1])], by: other).status == .ok)
            #expect(try await client.push([mum.change(record: second.change.record, fields: ["notes": "ice helped"])], by: mum).status == .ok)
            let clean = try await harness.store.audit()
            #expect(clean.changesChecked == 6)
            #expect(clean.faults.isEmpty, "\(clean.faults)")

            let stray = UUID.version7().canonical
            try await harness.sql(
                sqlite: "DELETE FROM record WHERE id = ?", postgres: "DELETE FROM record WHERE id = ?", [.text(second.change.record.canonical)])
            try await harness.sql(
                sqlite: "INSERT INTO record (diaryId, id, type, fields) VALUES (?, ?, 'flare', CAST('{}' AS BLOB))",
                postgres: "INSERT INTO record (diary_id, id, type, fields) VALUES (?, ?, 'flare', convert_to('{}', 'UTF8'))",
                [.text(other.diary.canonical), .text(stray)])
            let report = try await harness.store.audit()
            #expect(report.changesChecked == 6)
            #expect(report.faults.count == 2, "\(report.faults)")
            #expect(report.faults.contains { $0.contains(second.change.record.canonical) && $0.contains("not stored") }, "\(report.faults)")
            #expect(
                report.faults.contains { $0.contains("\(other.diary.canonical)/\(stray)") && $0.contains("no verified change") }, "\(report.faults)")
        }
    }

    /// A record created by one change of a batch is stored as that change's sequence number; one created
    /// and edited in the same batch, or edited later, through its entries. All must agree with a replay
    /// of the log and be stored in canonical form.
    @Test(.enabled(if: TestEngine.current.isSQLite)) func currentStateWrittenFromOneOrSeveralChangesAgreesWithTheLog() async throws {
        try await withServer { harness, client in
            var (owner, caregiver, _) = try await client.family(harness)
            let alone = owner.change(fields: [
                "started": "2024-11-24", "sites": ["tibia-left", "femur-right"], "notes": "é \"{quoted}\" ]\\", "pain": 6,
            ])
            let created = owner.change()
            let edited = owner.change(record: created.change.record, fields: ["pain": 3, "notes": "better"])
            let later = owner.change()
            #expect(try await client.push([alone, created, edited, later], by: owner).status == .ok)
            let laterEdit = caregiver.change(record: later.change.record, fields: ["pain": 2])
            #expect(try await client.push([laterEdit], by: caregiver).status == .ok)

            let report = try await harness.store.audit()
            #expect(report.changesChecked == 5)
            #expect(report.faults.isEmpty, "\(report.faults)")
            let (stored, winners) = try await harness.sqlite.pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT record.id, record.soleSeq, record.fields, change.body FROM record
                        LEFT JOIN change ON change.seq = record.soleSeq
                        """)
                let stored = Dictionary(uniqueKeysWithValues: rows.map { ($0["id"] as String, ($0["soleSeq"] as Int64?, $0["fields"] as Data?)) })
                let winners = try Dictionary(
                    uniqueKeysWithValues: rows.map {
                        ($0["id"] as String, try CurrentFields.entries(fields: $0["fields"], soleBody: $0["body"]).mapValues(\.change))
                    })
                return (stored, winners)
            }
            for (id, state) in stored {
                if let bytes = state.1 {
                    #expect(try JSONValue(parsing: bytes).canonicalBytes == Array(bytes), "record \(id) is stored in canonical form")
                }
            }
            // Only the record that one change made, and no later one edited, names its change alone.
            #expect(stored.filter { $0.value.0 != nil }.map(\.key) == [alone.change.record.canonical])
            #expect(winners[alone.change.record.canonical] == alone.change.fields.mapValues { _ in alone.change.id.canonical })
            let (first, second) = (created.change.id.canonical, edited.change.id.canonical)
            #expect(winners[created.change.record.canonical] == ["started": first, "sites": first, "pain": second, "notes": second])
            #expect(winners[later.change.record.canonical]?["pain"] == laterEdit.change.id.canonical)
            #expect(winners[later.change.record.canonical]?["sites"] == later.change.id.canonical)
        }
    }

    /// Pages of the diary stay in the server's own files: the writer keeps a push's savepoint journal in
    /// memory, never spilled to the system's temporary folder (SQLite's default, /var/tmp, past 64 KiB).
    /// The readers keep the default, so that `verify` sorts a large diary in temporary files, not memory.
    @Test(.enabled(if: TestEngine.current.isSQLite)) func theWriterKeepsTemporaryPagesInMemoryAndTheReadersSortInFiles() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let (fileOrDefault, memory) = (0, 2)
        #expect(try await harness.sqlite.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA temp_store") } == memory)
        #expect(try await harness.sqlite.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA temp_store") } == fileOrDefault)
    }

    /// `serve` closes the database as it stops: the log is copied into the file and removed, even while
    /// something else still holds the database, and everything is there when it opens again.
    @Test(.enabled(if: TestEngine.current.isSQLite)) func closingLeavesTheWholeDatabaseInItsFileAndNoLog() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let (diary, _) = try await harness.store.createDiary(name: "Before closing")
        let path = try harness.sqlite.path
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        try harness.sqlite.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        #expect(try await SQLiteStore(path: path).diaryName(diary) == "Before closing")
    }

    /// On PostgreSQL, `backup` refuses and says to use pg_dump (and `caresync-server backup` exits 2).
    @Test(.enabled(if: !TestEngine.current.isSQLite)) func backupOnPostgreSQLSaysToUsePgDump() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        await #expect {
            try await harness.store.backup(to: harness.directory.appendingPathComponent("backup").path)
        } throws: { error in
            guard case .backupUnsupported(let reason) = error as? StoreRefusal else { return false }
            return reason.contains("pg_dump") && reason.contains("epoch")
        }
    }

    @Test(.enabled(if: TestEngine.current.isSQLite)) func backupTakenDuringPushesIsConsistentAndHasANewEpoch() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let backupPath = harness.directory.appendingPathComponent("backup.sqlite").path
            let batches = (0..<20).map { _ in (0..<20).map { _ in owner.change() } }
            let pusher = owner
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for batch in batches {
                        let status = try await client.push(batch, by: pusher).status
                        #expect(status == .ok)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(20))
                    try harness.sqlite.backup(to: backupPath)
                }
                try await group.waitForAll()
            }
            let copy = try DatabaseQueue(path: backupPath)
            let (integrity, copiedEpoch) = try await copy.read { db in
                (try String.fetchOne(db, sql: "PRAGMA integrity_check"), try String.fetchOne(db, sql: "SELECT epoch FROM serverIdentity"))
            }
            #expect(integrity == "ok")
            #expect(copiedEpoch != (harness.store.epoch))
            try copy.close()
            let restored = try SQLiteStore(path: backupPath)
            #expect(try await restored.audit().faults.isEmpty)
            #expect(throws: (any Error).self) { try harness.sqlite.backup(to: backupPath) }
        }
    }
}
