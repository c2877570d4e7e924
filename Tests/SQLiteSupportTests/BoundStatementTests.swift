import Foundation
import GRDB
import SQLiteSupport
import Testing

/// A push's and a pull's inserts bind values through SQLite's C interface: what they store must be what GRDB
/// would have stored, and SQLite's refusals must come out as GRDB's errors.
@Suite struct BoundStatementTests {
    @Test func storesTextBlobIntegerAndNullAsGiven() throws {
        let queue = try DatabaseQueue()
        let row = try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (a TEXT, b BLOB NOT NULL, c INTEGER, d TEXT, e BLOB NOT NULL)")
            let insert = try BoundStatement(db, sql: "INSERT INTO t (a, b, c, d, e) VALUES (?, ?, ?, ?, ?)")
            try insert.run { values in
                values.text("Schmerz „stark“ 😢")
                values.blob([0, 1, 2, 255])
                values.integer(Int64.min)
                values.null()
                values.blob([])
            }
            return try Row.fetchOne(db, sql: "SELECT a, b, c, d, e, typeof(e) AS eType FROM t")
        }
        #expect(row?["a"] == "Schmerz „stark“ 😢")
        #expect(row?["b"] == Data([0, 1, 2, 255]))
        #expect(row?["c"] == Int64.min)
        #expect(row?["d"] == DatabaseValue.null)
        // An empty blob, not NULL (which the column would refuse).
        #expect(row?["eType"] == "blob")
        #expect(row?["e"] == Data())
    }

    @Test func aRefusalIsGRDBsErrorAndTheStatementRunsAgain() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            let insert = try BoundStatement(db, sql: "INSERT INTO t (id, n) VALUES (?, ?)")
            try insert.run { values in
                values.text("a")
                values.integer(1)
            }
            #expect {
                try insert.run { values in
                    values.text("a")
                    values.integer(2)
                }
            } throws: { error in
                (error as? DatabaseError)?.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
            }
            try insert.run { values in
                values.text("b")
                values.integer(3)
            }
            #expect(try Int.fetchAll(db, sql: "SELECT n FROM t ORDER BY id") == [1, 3])
        }
    }

    @Test func readsEachRowsColumnsAsStored() throws {
        let queue = try DatabaseQueue()
        let rows = try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (n INTEGER, a TEXT, b BLOB)")
            try db.execute(sql: "INSERT INTO t VALUES (1, 'Schmerz „stark“ 😢', x'00ff'), (2, '', x''), (3, NULL, NULL)")
            var rows: [(Int64, String, [UInt8])] = []
            try BoundStatement(db, sql: "SELECT n, a, b FROM t WHERE n >= ? ORDER BY n").forEachRow { values in
                values.integer(1)
            } _: { row in
                rows.append((row.integer(0), row.text(1), row.blob(2)))
            }
            return rows
        }
        #expect(rows.map(\.0) == [1, 2, 3])
        #expect(rows.map(\.1) == ["Schmerz „stark“ 😢", "", ""])
        #expect(rows.map(\.2) == [[0, 255], [], []])
    }

    /// A local edit reads the record it changes, if there is one, and the device's clock this way.
    @Test func firstRowIsTheFirstRowsValueOrNilWhenThereIsNone() throws {
        let queue = try DatabaseQueue()
        let (found, missing, unbound) = try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id TEXT PRIMARY KEY, b BLOB NOT NULL)")
            try db.execute(sql: "INSERT INTO t VALUES ('a', x'0102'), ('b', x'03')")
            let select = try BoundStatement(db, sql: "SELECT b FROM t WHERE id = ?")
            return (
                try select.firstRow({ values in values.text("b") }, { $0.blob(0) }),
                try select.firstRow({ values in values.text("c") }, { $0.blob(0) }),
                try BoundStatement(db, sql: "SELECT count(*) FROM t").firstRow { $0.integer(0) }
            )
        }
        #expect(found == [3])
        #expect(missing == nil)
        #expect(unbound == 2)
    }
}
