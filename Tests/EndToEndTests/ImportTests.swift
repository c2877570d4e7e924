import Foundation
import GRDB
import SyncCore
import Synchronization
import Testing

@testable import CareSyncClient

/// `syncctl import`: all or nothing, naming the bad row and field; CSV that survives awkward notes.
@Suite struct ImportTests {
    @Test func aJSONImportWithOneInvalidRecordRefusesTheWholeFileNamingRecordAndField() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let file = family.folder.path("diary.json")
            let records = [
                #"{"type":"flare","started":"2026-01-10","sites":["tibia-left"],"pain":5,"fever_c":38.2}"#,
                #"{"type":"treatment","kind":"nsaid","name":"naproxen","dose":7.5,"unit":"mg/kg","started":"2026-01-10T08:00:00+01:00"}"#,
                #"{"type":"flare","started":"2026-02-01","sites":["femur-right"],"pain":11}"#,
            ]
            try Data(("[" + records.joined(separator: ",") + "]").utf8).write(to: URL(fileURLWithPath: file))
            let refused = try await family.syncctl("mum", ["import", "--format", "json", file])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("record 3") && refused.stderr.contains("pain"), "\(refused.stderr)")
            #expect(try await family.status("mum")["pending"] as? Int == 0)
            #expect(try await family.records("mum").isEmpty)

            try Data(("[" + records.dropLast().joined(separator: ",") + "]").utf8).write(to: URL(fileURLWithPath: file))
            try await family.ok("mum", "import", "--format", "json", file)
            #expect(try await family.status("mum")["pending"] as? Int == 2)
            let treatment = try #require(try await family.records("mum", "treatment").first)
            #expect((treatment["dose"] as? NSNumber)?.doubleValue == 7.5 && treatment["unit"] as? String == "mg/kg")
            #expect((try await family.records("mum").first?["fever_c"] as? NSNumber)?.doubleValue == 38.2)
        }
    }

    @Test func aLargeImportIsInTheReplicaFileAloneOnceSyncctlHasExited() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            // 3,000 flares take the log past the 1,000 pages at which the replica copies it in the background.
            let notes = String(repeating: "woke at night with pain in the left shin, limping; ", count: 3)
            let rows = (0..<3_000).map { #"{"type":"flare","started":"2026-01-10","sites":["tibia-left"],"pain":\#($0 % 11),"notes":"\#(notes)"}"# }
            let file = family.folder.path("diary.json")
            try Data(("[" + rows.joined(separator: ",") + "]").utf8).write(to: URL(fileURLWithPath: file))
            try await family.ok("mum", "import", "--format", "json", file)

            let home = ClientHome(path: family.home("mum"))
            let replica = home.replicaPath(diary: try #require(home.diaries().first))
            let log = (try? FileManager.default.attributesOfItem(atPath: replica + "-wal"))?[.size] as? Int
            #expect(log ?? 0 == 0, "the replica's log holds \(log ?? 0) bytes")
            // A copy of the replica file alone, as a parent's backup of it would be, holds every record.
            let copy = family.folder.path("replica-copy.sqlite")
            try FileManager.default.copyItem(atPath: replica, toPath: copy)
            let copied = try DatabaseQueue(path: copy)
            let count = try await copied.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record") }
            #expect(count == 3_000)
            #expect(try await family.status("mum")["pending"] as? Int == 3_000)
        }
    }

    @Test func aCSVImportNamesTheRowAndFieldOfAnInvalidCell() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let file = family.folder.path("diary.csv")
            let csv = """
                type,started,sites,pain,notes
                flare,2026-01-10,tibia-left;tibia-right,5,"both shins, worse at night"
                flare,2026-02-01,knee-left,4,
                """
            try Data(csv.utf8).write(to: URL(fileURLWithPath: file))
            let refused = try await family.syncctl("mum", ["import", "--format", "csv", file])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("row 3") && refused.stderr.contains("sites") && refused.stderr.contains("knee"), "\(refused.stderr)")
            #expect(try await family.status("mum")["pending"] as? Int == 0)
        }
    }

    @Test func csvWrittenByTheDiaryIsReadBackExactlyWithAwkwardNotes() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            let notes = [
                "plain", "commas, and more, commas", #"she said "it hurts" twice"#, "line one\nline two\r\nline three",
                "Schmerz „stark“ — 痛い 😢", " leading and trailing spaces ", "a \"quoted\", comma\nand newline",
            ]
            for (index, note) in notes.enumerated() {
                try mum.add(
                    .flare,
                    fields: [
                        "started": .string("2026-03-0\(index + 1)"), "sites": ["spine", "clavicle-left"], "pain": .int(Int64(index)),
                        "fever_c": "37.5", "redness": true, "notes": .string(note),
                    ])
            }
            let flare = try #require(try mum.records(.flare).first).id
            try mum.add(
                .treatment,
                fields: [
                    "kind": "biologic", "name": "adalimumab", "dosage": ["dose": "40", "unit": "mg"], "route": "sc",
                    "started": "2026-03-02T09:30:00+01:00", "ended": "2026-06-01", "flare": .string(flare.canonical),
                    "notes": "every other week, \"pen\"",
                ])
            let deleted = try mum.add(.flare, fields: ["started": "2026-03-09", "sites": ["rib-left"], "pain": 1])
            try mum.delete(deleted)

            let original = try mum.records(includeDeleted: true)
            let csv = RecordCSV.write(original)
            let dad = try DiaryDevice(home: ClientHome(path: family.home("dad")))
            try dad.importRecords(Data(csv.utf8), format: .csv)
            let imported = try dad.records(includeDeleted: true)
            #expect(imported.map(RecordDocument.json) == original.map(RecordDocument.json))
            #expect(RecordCSV.write(imported) == csv)
        }
    }

    /// Twenty thousand rows keep CI's debug build quick; `caresync-bench` times 100,000 in release.
    @Test func twentyThousandRecordsImportInOneTransaction() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let count = 20_000
            var text = "type,started,sites,pain,swelling,notes\r\n"
            for index in 0..<count {
                text +=
                    "flare,2025-\(String(format: "%02d", index % 12 + 1))-15,femur-left;tibia-left,\(index % 11),true,\"entry \(index), imported\"\r\n"
            }
            let file = family.folder.path("big.csv")
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            let started = ContinuousClock.now
            let result = try await family.syncctl("mum", ["import", "--format", "csv", file, "--json"])
            let elapsed = ContinuousClock.now - started
            try #require(result.status == 0, "\(result)")
            print("imported \(count) records with syncctl in \(elapsed)")
            let status = try await family.status("mum")
            #expect(status["records"] as? Int == count)
            #expect(status["pending"] as? Int == count)
        }
    }

    /// A push of several batches (1,000 changes each, the last one partial, two in flight) leaves
    /// nothing queued, and another device pulls every record.
    @Test func aPushOfSeveralBatchesDeliversEveryChangeOnce() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let count = 2_345
            try await importNumberedFlares(count, into: family)
            let pushed = try JSONSerialization.jsonObject(with: Data(try await family.ok("mum", "push", "--json").utf8)) as? [String: Any]
            #expect(pushed?["pushed"] as? Int == count)
            #expect(pushed?["duplicates"] as? Int == 0)
            #expect(try await family.status("mum")["pending"] as? Int == 0)
            try await family.ok("dad", "pull")
            let notes = try await family.ok("dad", "flare", "list", "--json")
            for index in [0, 999, 1_000, 1_999, 2_000, count - 1] {
                #expect(notes.contains("\"entry \(index)\""), "entry \(index) is missing")
            }
            #expect(try await family.status("dad")["records"] as? Int == count)
        }
    }

    /// A push's progress counts against everything queued from its first batch on, so a progress bar
    /// knows its end before the last batch is acknowledged.
    @Test func aPushReportsItsProgressAgainstEverythingQueued() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            try await importNumberedFlares(1_500, into: family)
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            let reported = Mutex<[SyncProgress]>([])
            let pushed = try await mum.push { progress in reported.withLock { $0.append(progress) } }
            #expect(pushed.sent == 1_500)
            let steps = reported.withLock { $0 }
            #expect(steps.count == 2, "\(steps)")
            #expect(steps.allSatisfy { $0.phase == .push && $0.total == 1_500 }, "\(steps)")
            #expect(steps.map(\.done).sorted() == steps.map(\.done) && steps.last?.done == 1_500, "\(steps)")
        }
    }

    /// A refused batch stops the push: no new batch is sent after it, the batches already in flight
    /// finish and leave the outbox, and what was not stored stays queued. The server holds exactly what
    /// left the outbox, so nothing is lost and nothing is sent twice.
    @Test func aRefusedBatchStopsThePushAndKeepsEveryChangeNotStoredQueued() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            // Four batches: 1,000, 1,000, 1,000 and 500 changes.
            let count = 3_500
            try await importNumberedFlares(count, into: family)

            // The second batch's 500th change, altered after it was signed, stands for any change the
            // server refuses: its signature no longer verifies.
            let home = ClientHome(path: family.home("mum"))
            let replica = try DatabaseQueue(path: home.replicaPath(diary: try #require(home.diaries().first)))
            let altered = try await replica.write { db in
                let original = Array(#""entry 1499""#.utf8)
                let rows = try Row.fetchAll(db, sql: "SELECT id, body FROM change WHERE instr(body, ?) > 0", arguments: [Data(original)])
                for row in rows {
                    let body = Data(
                        String(decoding: row["body"] as Data, as: UTF8.self).replacingOccurrences(of: "entry 1499", with: "entry 1498").utf8)
                    try db.execute(sql: "UPDATE change SET body = ? WHERE id = ?", arguments: [body, row["id"] as String])
                }
                return rows.count
            }
            try replica.close()
            try #require(altered == 1)

            let refused = try await family.syncctl("mum", ["push"])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("#499") && refused.stderr.contains("signature"), "\(refused.stderr)")
            // The first batch was stored. The third was stored if it was sent before the refusal came
            // back; the fourth never was, since its turn comes after both answers.
            let pending = try #require(try await family.status("mum")["pending"] as? Int)
            #expect(pending == 2_500 || pending == 1_500, "\(pending) changes left queued")

            try await family.ok("dad", "pull")
            let stored = Set(try await family.records("dad").compactMap { $0["notes"] as? String })
            #expect(stored.count == count - pending)
            #expect(stored.contains("entry 0") && stored.contains("entry 999"))
            for index in [1_000, 1_499, 1_999, 3_000, count - 1] {
                #expect(!stored.contains("entry \(index)"), "entry \(index) was stored")
            }
        }
    }

    /// Mum imports `count` flares whose notes say "entry 0", "entry 1", … in that order.
    private func importNumberedFlares(_ count: Int, into family: Family) async throws {
        var text = "type,started,sites,pain,notes\r\n"
        for index in 0..<count { text += "flare,2025-03-15,tibia-left,\(index % 11),entry \(index)\r\n" }
        let file = family.folder.path("numbered.csv")
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        try await family.ok("mum", "import", "--format", "csv", file)
    }
}
