import Foundation
import GRDB
import SyncCore
import Testing

@testable import CareSyncClient

/// Two replicas that hold the same changes store the same records, byte for byte, whichever way each
/// came by them: one by local edits and an import, the other by pulls that store a record made by a
/// single change as `{"sole": seq}` of that change and merge the others, on a thread of their own for a
/// large page and in place for a small one.
@Suite struct ReplicaAgreementTests {
    @Test func aPulledReplicaStoresEveryRecordAsTheReplicaThatMadeThem() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            for (index, note) in ["plain", #"she said "it hurts" {twice}"#, "line one\nline two", "Schmerz „stark“ — 痛い 😢 ]"].enumerated() {
                try mum.add(
                    .flare,
                    fields: [
                        "started": .string("2026-03-0\(index + 1)"), "sites": ["spine", "clavicle-left"], "pain": .int(Int64(index)),
                        "fever_c": "37.5", "redness": true, "notes": .string(note),
                    ])
            }
            let treatment = try mum.add(
                .treatment,
                fields: ["kind": "biologic", "name": "adalimumab", "dosage": ["dose": "40", "unit": "mg"], "started": "2026-03-02"])
            let edited = try mum.add(.flare, fields: ["started": "2026-03-05", "sites": ["femur-right"], "pain": 7, "notes": "at night"])
            try mum.update(edited, fields: ["pain": 4, "notes": .null])
            try mum.delete(try mum.add(.flare, fields: ["started": "2026-03-09", "sites": ["rib-left"], "pain": 1]))
            let imported = (0..<120).map { #"{"type":"flare","started":"2026-04-01","sites":["tibia-left"],"pain":\#($0 % 11)}"# }
            try mum.importRecords(Data(("[" + imported.joined(separator: ",") + "]").utf8), format: .json)
            try await mum.push()

            let dad = try DiaryDevice(home: ClientHome(path: family.home("dad")))
            #expect(try await dad.pull().received == 129)
            let made = try Self.storedRecords(home: family.home("mum"))
            #expect(made.records.count == 127)
            #expect(made.sole == 0, "local edits and imports store records merged")
            let pulled = try Self.storedRecords(home: family.home("dad"))
            #expect(pulled.records == made.records)
            // All but the edited and the deleted flare were made by one change.
            #expect(pulled.sole == 125)
            #expect(try dad.records(includeDeleted: true) == mum.records(includeDeleted: true))

            // A record of one change takes its next change pulled, and a local edit, as any other.
            try mum.update(edited, fields: ["pain": 2])
            try mum.update(treatment, fields: ["dosage": ["dose": "20", "unit": "mg"]])
            try mum.add(.flare, fields: ["started": "2026-05-01", "sites": ["spine"], "pain": 3])
            try await mum.push()
            #expect(try await dad.pull().received == 3)
            let importedFlare = try #require(try dad.records().first { $0.values["started"] == "2026-04-01" })
            try dad.update(importedFlare.id, fields: ["pain": 10, "notes": "worse"])
            try await dad.push()
            #expect(try await mum.pull().received == 1)
            let again = try Self.storedRecords(home: family.home("dad"))
            #expect(again.records == (try Self.storedRecords(home: family.home("mum"))).records)
            #expect(again.sole == 124)
            #expect(try dad.records(includeDeleted: true) == mum.records(includeDeleted: true))
            #expect(try dad.record(treatment)?.values["dosage"] == ["dose": "20", "unit": "mg"])

            // Changes the replica holds that come back, its own or every one after a lost cursor, are
            // neither counted nor merged again.
            #expect(try await dad.pull().received == 0)
            try await DatabaseQueue(path: Self.replicaPath(home: family.home("dad"))).write { db in
                try db.execute(sql: "UPDATE identity SET cursor = 0")
            }
            #expect(try await dad.pull().received == 0)
            let repulled = try Self.storedRecords(home: family.home("dad"))
            #expect(repulled.records == again.records)
            #expect(repulled.sole == again.sole)
        }
    }

    /// A push moves the pull cursor past the device's own changes when no other device's change lies
    /// between, so the next pull does not bring them back; past another device's change it never moves.
    @Test func aPushMovesTheCursorPastItsOwnChangesButNotPastAnotherDevices() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            let dad = try DiaryDevice(home: ClientHome(path: family.home("dad")))
            let cursor = { (device: DiaryDevice) throws(ClientError) in try device.replica.pullPosition().cursor }
            for pain in 1...3 { try mum.add(.flare, fields: ["started": "2026-03-01", "sites": ["spine"], "pain": .int(Int64(pain))]) }
            try await mum.push()
            #expect(try await dad.pull().received == 3)
            #expect(try cursor(mum) == cursor(dad), "mum's cursor is past her own 3 changes without a pull")
            #expect(try cursor(mum) > 0)

            // Dad's changes land between mum's cursor and her next push: her cursor stays, and her pull
            // brings his.
            for pain in 4...5 { try dad.add(.flare, fields: ["started": "2026-03-02", "sites": ["rib-left"], "pain": .int(Int64(pain))]) }
            try await dad.push()
            let before = try cursor(mum)
            try mum.add(.treatment, fields: ["kind": "nsaid", "name": "naproxen", "started": "2026-03-02"])
            try await mum.push()
            #expect(try cursor(mum) == before)
            #expect(try await mum.pull().received == 2)
            #expect(try await dad.pull().received == 1)
            #expect(try mum.records() == dad.records())
            #expect(try mum.records().count == 6)
            #expect(try cursor(mum) == cursor(dad))
        }
    }

    /// Two batches in flight may be stored in one order and acknowledged in the other: the cursor moves
    /// through every batch stored right after it, whichever answer came first, and stops at a gap.
    @Test func theCursorMovesThroughBatchesAcknowledgedInEitherOrderAndStopsAtAGap() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            let cursor = { () throws(ClientError) in try mum.replica.pullPosition().cursor }
            try await mum.replica.acknowledge([], stored: [40: 50])
            #expect(try cursor() == 0, "the batch stored after 40 says nothing of the changes up to 40")
            try await mum.replica.acknowledge([], stored: [40: 50, 0: 40])
            #expect(try cursor() == 50)
            try await mum.replica.acknowledge([], stored: [60: 70])
            #expect(try cursor() == 50, "another device's changes may lie between 50 and 60")
            try await mum.replica.acknowledge([], stored: [50: 40])
            #expect(try cursor() == 50, "a cursor never moves back")
        }
    }

    /// A record a pulled change makes alone is stored with the columns and read back as the state that
    /// merging the change into a new record gives, whatever the change holds: seen stamps, a cleared
    /// field, a deletion, no field at all, either record type.
    @Test func aRecordOfOnePulledChangeIsWhatMergingThatChangeGives() throws {
        let key = DeviceKey.generate()
        let (author, other, diary) = (UUID.version7(), UUID.version7(), UUID.version7())
        let earlier = [Stamp(hlc: HLC(millis: 1_732_400_000_000, counter: 0), device: other)]
        let changes: [(RecordType, [String: JSONValue], [String: [Stamp]])] = [
            (.flare, ["started": "2026-03-01", "sites": ["spine"], "pain": 4, "notes": "at night"], [:]),
            (.flare, ["pain": 3, "notes": "better"], ["pain": earlier]),
            (.flare, ["pain": 5, "notes": .null], [:]),
            (.flare, ["started": "2026-03-02", "deleted": true], [:]),
            (.flare, [:], [:]),
            (.treatment, ["kind": "nsaid", "name": "naproxen", "dosage": ["dose": "250", "unit": "mg"], "started": "2026-03-01"], [:]),
        ]
        for (index, (type, fields, seen)) in changes.enumerated() {
            let change = Change(
                id: UUID.version7(), diary: diary, record: UUID.version7(), type: type,
                hlc: HLC(millis: 1_732_500_000_000 + Int64(index), counter: 0), author: author, fields: fields,
                seen: fields.keys.reduce(into: [:]) { $0[$1] = seen[$1] ?? [] })
            let (_, wire) = ChangeSigner.signWithWireBytes(change, with: key)
            var alone = RecordMerger()
            try alone.applyPulled(change)
            var merged = RecordMerger()
            try merged.apply(change)
            let (sole, full) = (try #require(alone.encoded().first), try #require(merged.encoded().first))
            guard case .sole(change.id) = sole.stored, case .merged(let bytes) = full.stored else {
                Issue.record("\(fields): stored \(sole.stored) and \(full.stored)")
                continue
            }
            #expect(sole.id == full.id && sole.type == full.type, "\(fields)")
            #expect(sole.deleted == full.deleted && sole.conflicts == full.conflicts && sole.updatedHLC == full.updatedHLC, "\(fields)")
            let stored = RecordMerger.StoredRecord.sole(body: Data(wire), record: change.record)
            #expect(try stored.state().storedBytes == bytes, "\(fields)")
            #expect(try stored.currentValues() == RecordState.currentValues(stored: bytes), "\(fields)")
        }
    }

    /// A record of one change names its change by a foreign key, so the replica refuses a record naming
    /// a change the log lacks; one naming another record's change cannot be read, the error naming the
    /// record, and the other records still list.
    @Test func aRecordNamingAChangeTheLogLacksOrOfAnotherRecordIsRefused() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            let first = try mum.add(.flare, fields: ["started": "2026-03-01", "sites": ["spine"], "pain": 2])
            let second = try mum.add(.flare, fields: ["started": "2026-03-02", "sites": ["rib-left"], "pain": 3])
            let third = try mum.add(.flare, fields: ["started": "2026-03-03", "sites": ["femur-left"], "pain": 4])
            try await mum.push()
            let dad = try DiaryDevice(home: ClientHome(path: family.home("dad")))
            #expect(try await dad.pull().received == 3)
            let replica = try DatabaseQueue(path: try Self.replicaPath(home: family.home("dad")))
            #expect(throws: DatabaseError.self) {
                try replica.write { db in try db.execute(sql: "UPDATE record SET soleSeq = 987654 WHERE id = ?", arguments: [first.canonical]) }
            }
            try await replica.write { db in
                try db.execute(
                    sql: "UPDATE record SET soleSeq = (SELECT soleSeq FROM record WHERE id = ?) WHERE id = ?",
                    arguments: [third.canonical, first.canonical])
            }
            try replica.close()
            #expect(throws: ClientError.self) { try dad.records() }
            do {
                _ = try dad.record(first)
                Issue.record("a record naming another record's change was read")
            } catch {
                #expect("\(error)".contains(first.canonical) && "\(error)".contains("another record"), "\(error)")
            }
            #expect(try dad.record(second)?.values["pain"] == 3)
        }
    }

    /// A replica made before version 2 of its schema kept each record's current values in a column of
    /// their own as well; it opens without it and lists the same records, values read from the state.
    @Test func aReplicaThatKeptTheValuesTwiceListsTheSameRecordsWithoutTheCopy() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let home = family.home("mum")
            let before: [DiaryRecord]
            do {
                let mum = try DiaryDevice(home: ClientHome(path: home))
                let edited = try mum.add(.flare, fields: ["started": "2026-03-05", "sites": ["femur-right"], "pain": 7, "notes": "at night"])
                try mum.update(edited, fields: ["pain": 4, "notes": .null])
                try mum.delete(try mum.add(.flare, fields: ["started": "2026-03-09", "sites": ["rib-left"], "pain": 1]))
                try mum.add(
                    .treatment,
                    fields: ["kind": "biologic", "name": "adalimumab", "dosage": ["dose": "40", "unit": "mg"], "started": "2026-03-02"])
                before = try mum.records(includeDeleted: true)
                #expect(before.count == 3)
                #expect(before.first { $0.id == edited }?.values == ["started": "2026-03-05", "sites": ["femur-right"], "pain": 4])
            }
            // As version 1 left it: the column, filled with what the code must no longer read.
            let file = try Self.replicaPath(home: home)
            try DatabaseQueue(path: file).write { db in
                try db.execute(sql: "ALTER TABLE record ADD COLUMN fieldValues BLOB NOT NULL DEFAULT x'7b7d'")
                try db.execute(sql: #"UPDATE record SET fieldValues = CAST('{"pain":99}' AS BLOB)"#)
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v2:%'")
            }
            let mum = try DiaryDevice(home: ClientHome(path: home))
            #expect(try mum.records(includeDeleted: true) == before)
            let columns = try DatabaseQueue(path: file).read { db in try db.columns(in: "record").map(\.name) }
            #expect(!columns.contains("fieldValues"), "\(columns)")
        }
    }

    /// A replica that a newer syncctl migrated further is refused with a message naming the newer
    /// migration, and left as it was.
    @Test func aReplicaANewerSyncctlMigratedIsRefusedSayingSo() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let home = family.home("mum")
            try DiaryDevice(home: ClientHome(path: home)).add(.flare, fields: ["started": "2026-03-01", "sites": ["spine"], "pain": 2])
            let file = try Self.replicaPath(home: home)
            try await DatabaseQueue(path: file).write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
            }
            #expect {
                try DiaryDevice(home: ClientHome(path: home)).records()
            } throws: { error in
                "\(error)".contains("newer syncctl") && "\(error)".contains("v99: from the future")
            }
            let records = try await DatabaseQueue(path: file).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM record") }
            #expect(records == 1)
        }
    }

    /// Until version 5 of its schema a replica named a record's one change inside its state, as
    /// `{"sole": seq}`; it opens with the change named in `soleSeq` and lists the same records.
    @Test func aReplicaThatNamedSoleChangesInsideTheStateListsTheSameRecords() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            let edited = try mum.add(.flare, fields: ["started": "2026-03-05", "sites": ["femur-right"], "pain": 7])
            try mum.update(edited, fields: ["pain": 4])
            for day in 1...4 { try mum.add(.flare, fields: ["started": .string("2026-04-0\(day)"), "sites": ["spine"], "pain": .int(Int64(day))]) }
            try await mum.push()
            let home = family.home("dad")
            let before: (records: [DiaryRecord], stored: [[DatabaseValue]], sole: Int)
            do {
                let dad = try DiaryDevice(home: ClientHome(path: home))
                #expect(try await dad.pull().received == 6)
                let stored = try Self.storedRecords(home: home)
                before = (try dad.records(includeDeleted: true), stored.records, stored.sole)
                #expect(before.sole == 4)
            }
            // As version 4 left it: no column, the change's seq inside the state.
            let file = try Self.replicaPath(home: home)
            try await DatabaseQueue(path: file).write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE oldRecord (id TEXT PRIMARY KEY, type TEXT NOT NULL, deleted BOOLEAN NOT NULL, conflicts INTEGER NOT NULL,
                                                updatedHLC INTEGER NOT NULL, state BLOB NOT NULL);
                        INSERT INTO oldRecord SELECT id, type, deleted, conflicts, updatedHLC,
                            COALESCE(state, CAST('{"sole":' || soleSeq || '}' AS BLOB)) FROM record;
                        DROP TABLE record;
                        ALTER TABLE oldRecord RENAME TO record;
                        DELETE FROM grdb_migrations WHERE identifier LIKE 'v5:%';
                        """)
            }
            let dad = try DiaryDevice(home: ClientHome(path: home))
            #expect(try dad.records(includeDeleted: true) == before.records)
            let after = try Self.storedRecords(home: home)
            #expect(after.records == before.stored)
            #expect(after.sole == before.sole)
        }
    }

    /// Until version 3 of its schema a replica queued changes by their text id; it opens with every one
    /// still queued, pushes each once, and the other parent pulls exactly those.
    @Test func aReplicaThatQueuedByChangeIdPushesEveryQueuedChangeOnce() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let home = family.home("mum")
            do {
                let mum = try DiaryDevice(home: ClientHome(path: home))
                try mum.add(.flare, fields: ["started": "2026-03-01", "sites": ["spine"], "pain": 2])
                try await mum.push()
                for day in 2...4 {
                    try mum.add(.flare, fields: ["started": .string("2026-03-0\(day)"), "sites": ["rib-left"], "pain": .int(Int64(day))])
                }
            }
            let file = try Self.replicaPath(home: home)
            try Self.queueByChangeId(file)
            let mum = try DiaryDevice(home: ClientHome(path: home))
            #expect(try mum.status().pending == 3)
            let columns = try await DatabaseQueue(path: file).read { db in try db.columns(in: "outbox").map(\.name) }
            #expect(columns == ["seq"])
            let pushed = try await mum.push()
            #expect(pushed.sent == 3 && pushed.duplicates == 0, "\(pushed)")
            #expect(try await mum.push().sent == 0)
            let dad = try DiaryDevice(home: ClientHome(path: family.home("dad")))
            #expect(try await dad.pull().received == 4)
            #expect(try dad.records().map(\.id).sorted() == mum.records().map(\.id).sorted())
        }
    }

    /// A queued change missing from the log (only possible with foreign keys off) stops the upgrade
    /// with an error naming it, and the replica stays as it was: nothing queued is dropped.
    @Test func anOutboxRowWithoutItsChangeStopsTheUpgradeAndIsKept() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let home = family.home("mum")
            do {
                let mum = try DiaryDevice(home: ClientHome(path: home))
                try mum.add(.flare, fields: ["started": "2026-03-01", "sites": ["spine"], "pain": 2])
            }
            let file = try Self.replicaPath(home: home)
            try Self.queueByChangeId(file)
            var unchecked = Configuration()
            unchecked.foreignKeysEnabled = false
            try await DatabaseQueue(path: file, configuration: unchecked).write { db in
                try db.execute(sql: "INSERT INTO outbox (changeId) VALUES ('0193a5c0-0000-7000-8000-000000000099')")
            }
            #expect {
                try DiaryDevice(home: ClientHome(path: home))
            } throws: { error in
                "\(error)".contains("the outbox queues 2 changes, 1 of them missing from the change log; the replica was left as it was")
            }
            let queued = try await DatabaseQueue(path: file).read { db in try String.fetchAll(db, sql: "SELECT changeId FROM outbox") }
            #expect(queued.count == 2)
        }
    }

    /// A local edit is stamped after every change the replica holds, pulled ones included, and after the
    /// clock a replica kept in its identity row until version 3.
    @Test func anEditIsStampedAfterEveryChangeHeldAndAfterTheClockKept() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            // Dad's clock, as an older replica kept it, is two minutes ahead of the wall clock.
            let ahead = HLC(millis: HybridLogicalClock.wallMillisNow() + 120_000, counter: 0)
            try await DatabaseQueue(path: try Self.replicaPath(home: family.home("dad"))).write { db in
                try db.execute(sql: "UPDATE identity SET clock = ?", arguments: [ahead.packed])
            }
            let dad = try DiaryDevice(home: ClientHome(path: family.home("dad")))
            let dadsFlare = try dad.add(.flare, fields: ["started": "2026-03-01", "sites": ["spine"], "pain": 2])
            let dadsStamp = try #require(try dad.record(dadsFlare)).updated
            #expect(dadsStamp > ahead)
            try await dad.push()

            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            #expect(try await mum.pull().received == 1)
            let mumsFlare = try mum.add(.flare, fields: ["started": "2026-03-02", "sites": ["rib-left"], "pain": 3])
            #expect(try #require(try mum.record(mumsFlare)).updated > dadsStamp)
            try mum.update(dadsFlare, fields: ["pain": 4])
            #expect(try #require(try mum.record(dadsFlare)).values["pain"] == 4)
        }
    }

    /// Rewrites a replica's outbox as version 2 of the schema kept it: keyed by the change's text id.
    static func queueByChangeId(_ file: String) throws {
        try DatabaseQueue(path: file).write { db in
            try db.execute(
                sql: """
                    CREATE TABLE oldOutbox (changeId TEXT PRIMARY KEY REFERENCES change(id));
                    INSERT INTO oldOutbox (changeId) SELECT change.id FROM outbox JOIN change USING (seq) ORDER BY seq;
                    DROP TABLE outbox;
                    ALTER TABLE oldOutbox RENAME TO outbox;
                    DELETE FROM grdb_migrations WHERE identifier LIKE 'v3:%';
                    """)
        }
    }

    static func replicaPath(home: String) throws -> String {
        let files = try #require(FileManager.default.enumerator(atPath: home)).compactMap { $0 as? String }
        return home + "/" + (try #require(files.first { $0.hasSuffix("replica.sqlite") }))
    }

    /// Every column of every record a replica stores, in id order, the state of a record that names its
    /// one change read as the merged state it stands for; and how many were stored so.
    static func storedRecords(home: String) throws -> (records: [[DatabaseValue]], sole: Int) {
        try DatabaseQueue(path: try replicaPath(home: home)).read { db in
            var sole = 0
            let records = try Row.fetchAll(
                db, sql: "SELECT id, type, deleted, conflicts, updatedHLC, state, \(RecordMerger.soleBody) FROM record ORDER BY id"
            ).map { row in
                var columns = Array(row.databaseValues.prefix(6))
                let stored = try RecordMerger.StoredRecord(row, of: try #require(UUID(canonical: row["id"])))
                if case .sole = stored {
                    sole += 1
                    columns[5] = Data(try stored.state().storedBytes).databaseValue
                }
                return columns
            }
            return (records, sole)
        }
    }
}
