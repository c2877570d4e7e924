import Foundation
import GRDB
import SyncCore
import Testing

@testable import CareSyncClient

/// Two replicas that hold the same changes store the same records, byte for byte, whichever way each
/// came by them: one by local edits and an import, the other by pulls that store a record made by a
/// single change from that change's bytes and merge the others, on a thread of their own for a large
/// page and in place for a small one.
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
            try mum.add(
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
            #expect(made.count == 127)
            #expect(try Self.storedRecords(home: family.home("dad")) == made)

            try mum.update(edited, fields: ["pain": 2])
            try mum.add(.flare, fields: ["started": "2026-05-01", "sites": ["spine"], "pain": 3])
            try await mum.push()
            #expect(try await dad.pull().received == 2)
            #expect(try Self.storedRecords(home: family.home("dad")) == Self.storedRecords(home: family.home("mum")))
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

    static func replicaPath(home: String) throws -> String {
        let files = try #require(FileManager.default.enumerator(atPath: home)).compactMap { $0 as? String }
        return home + "/" + (try #require(files.first { $0.hasSuffix("replica.sqlite") }))
    }

    /// Every column of every record a replica stores, in id order.
    static func storedRecords(home: String) throws -> [[DatabaseValue]] {
        try DatabaseQueue(path: try replicaPath(home: home)).read { db in
            try Row.fetchAll(db, sql: "SELECT id, type, deleted, conflicts, updatedHLC, state FROM record ORDER BY id").map {
                Array($0.databaseValues)
            }
        }
    }
}
