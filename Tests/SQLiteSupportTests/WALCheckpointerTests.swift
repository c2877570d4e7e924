import Foundation
import GRDB
import Testing
import SQLiteSupport

@Suite("Checkpoints on a thread of their own")
struct WALCheckpointerTests {
    /// A database in a folder of its own, written through a pool whose connections a checkpointer watches.
    private struct Written {
        let folder: String
        let path: String
        let checkpointer: WALCheckpointer
        let pool: DatabasePool
        /// The rows the pool holds once the checkpointer is idle.
        let rows: Int

        /// Writes `transactions` commits of 200 rows of about a page each; the pool stays open.
        init(transactions: Int) throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            path = folder + "/db.sqlite"
            let checkpointer = WALCheckpointer(path: path)
            self.checkpointer = checkpointer
            var configuration = Configuration()
            configuration.prepareDatabase { db in checkpointer.watch(db) }
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.write { db in try db.execute(sql: "CREATE TABLE entry (id INTEGER PRIMARY KEY, body BLOB NOT NULL)") }
            let body = Data(repeating: 0x2A, count: 3_900)
            for _ in 0..<transactions {
                try pool.write { db in
                    for _ in 0..<200 { try db.execute(sql: "INSERT INTO entry (body) VALUES (?)", arguments: [body]) }
                }
            }
            checkpointer.waitUntilIdle()
            rows = try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entry")! }
        }

        func remove() throws {
            try pool.close()
            try FileManager.default.removeItem(atPath: folder)
        }
    }

    @Test("past 1,000 log pages, a checkpoint copies the log into the database file itself")
    func copiesTheLog() throws {
        let written = try Written(transactions: 30)
        #expect(written.rows == 6_000)
        #expect(written.checkpointer.checkpoints > 0)

        // The database file alone, without its log, holds all but what the last 1,000 pages of log
        // (plus one commit) may still hold: that is what the checkpoints copied. The pool is still open,
        // so that closing it cannot checkpoint instead.
        let copy = written.folder + "/copy.sqlite"
        try FileManager.default.copyItem(atPath: written.path, toPath: copy)
        let inFile = try DatabaseQueue(path: copy).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entry")! }
        #expect(inFile >= written.rows - 1_300, "the database file holds \(inFile) of \(written.rows) rows")
        try written.remove()
    }

    @Test("closed, the checkpointer leaves the whole database in its file and the log empty")
    func closingLeavesTheWholeDatabaseInItsFile() throws {
        let written = try Written(transactions: 10)
        #expect(written.checkpointer.checkpoints > 0)
        written.checkpointer.close()
        let log = try FileManager.default.attributesOfItem(atPath: written.path + "-wal")[.size] as? Int
        #expect(log == 0)
        // The pool is still open, so that closing it cannot checkpoint instead.
        let copy = written.folder + "/copy.sqlite"
        try FileManager.default.copyItem(atPath: written.path, toPath: copy)
        let inFile = try DatabaseQueue(path: copy).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entry")! }
        #expect(inFile == written.rows)
        try written.remove()
    }

    @Test("below 1,000 log pages nothing is checkpointed, as with SQLite's own threshold")
    func waitsForTheThreshold() throws {
        let written = try Written(transactions: 2)
        #expect(written.rows == 400)
        #expect(written.checkpointer.checkpoints == 0)
        try written.remove()
    }
}
