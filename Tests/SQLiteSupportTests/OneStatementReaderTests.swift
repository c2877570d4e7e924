import Foundation
import GRDB
import SQLiteSupport
import Testing

/// The server reads each request's device, and a device its outbox, on a connection beside the pool: a
/// read there must see every commit made through the pool before it, so that a revoked device is refused
/// at its next request and a change just made is in the next push, even while a reader of the pool holds
/// an older snapshot.
@Suite struct OneStatementReaderTests {
    @Test func seesEveryCommitOfThePoolMadeBeforeIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pool = try DatabasePool(path: folder + "/db.sqlite")
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE device (id TEXT PRIMARY KEY, revoked INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO device (id, revoked) VALUES ('a', 0)")
        }
        let reader = try DatabaseQueue.oneStatementReader(path: folder + "/db.sqlite")
        let revoked = { try reader.inDatabase { db in try Int.fetchOne(db, sql: "SELECT revoked FROM device WHERE id = 'a'") } }
        #expect(try revoked() == 0)
        try pool.read { db in
            // A read transaction of the pool keeps its snapshot; the reader is not held to it.
            #expect(try Int.fetchOne(db, sql: "SELECT revoked FROM device") == 0)
            try pool.write { db in try db.execute(sql: "UPDATE device SET revoked = 1 WHERE id = 'a'") }
            #expect(try Int.fetchOne(db, sql: "SELECT revoked FROM device") == 0)
            #expect(try revoked() == 1)
        }
        #expect(try reader.inDatabase { db in db.isInsideTransaction } == false)
    }
}
