import Foundation
import GRDB
import Testing
import WALCheckpoint

@Suite("Checkpoints on a thread of their own")
struct WALCheckpointerTests {
    /// Writes `transactions` commits of 200 rows of about a page each through a pool whose connections
    /// the checkpointer watches; returns the pool, still open, and the rows it holds.
    private func write(transactions: Int, to path: String, checkpointer: WALCheckpointer) throws -> (DatabasePool, Int) {
        var configuration = Configuration()
        configuration.prepareDatabase { db in checkpointer.watch(db) }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in try db.execute(sql: "CREATE TABLE entry (id INTEGER PRIMARY KEY, body BLOB NOT NULL)") }
        let body = Data(repeating: 0x2A, count: 3_900)
        for _ in 0..<transactions {
            try pool.write { db in
                for _ in 0..<200 { try db.execute(sql: "INSERT INTO entry (body) VALUES (?)", arguments: [body]) }
            }
        }
        checkpointer.waitUntilIdle()
        return (pool, try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entry")! })
    }

    private func temporaryPath() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("db.sqlite").path
    }

    @Test("past 1,000 log pages, a checkpoint copies the log into the database file itself")
    func copiesTheLog() throws {
        let path = try temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let checkpointer = WALCheckpointer(path: path)
        let (pool, written) = try write(transactions: 30, to: path, checkpointer: checkpointer)
        #expect(written == 6_000)
        #expect(checkpointer.checkpoints > 0)

        // The database file alone, without its log, holds all but what the last 1,000 pages of log
        // (plus one commit) may still hold: that is what the checkpoints copied. The pool stays open,
        // so that closing it cannot checkpoint instead.
        let copy = (path as NSString).deletingLastPathComponent + "/copy.sqlite"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let inFile = try DatabaseQueue(path: copy).read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entry")! }
        #expect(inFile >= written - 1_300, "the database file holds \(inFile) of \(written) rows")
        try pool.close()
    }

    @Test("below 1,000 log pages nothing is checkpointed, as with SQLite's own threshold")
    func waitsForTheThreshold() throws {
        let path = try temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let checkpointer = WALCheckpointer(path: path)
        let (pool, written) = try write(transactions: 2, to: path, checkpointer: checkpointer)
        #expect(written == 400)
        #expect(checkpointer.checkpoints == 0)
        try pool.close()
    }
}
