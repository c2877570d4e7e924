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
            let insert = try BoundStatement(db, sql: "INSERT INTO t (a, b, c, d, e) VALUES (:a, :b, :c, :d, :e)")
            try insert.run { values in
                values.text(":a", "Schmerz „stark“ 😢")
                values.blob(":b", [0, 1, 2, 255])
                values.integer(":c", Int64.min)
                values.null(":d")
                values.blob(":e", [])
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
            let insert = try BoundStatement(db, sql: "INSERT INTO t (id, n) VALUES (:id, :n)")
            try insert.run { values in
                values.text(":id", "a")
                values.integer(":n", 1)
            }
            #expect {
                try insert.run { values in
                    values.text(":id", "a")
                    values.integer(":n", 2)
                }
            } throws: { error in
                (error as? DatabaseError)?.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
            }
            try insert.run { values in
                values.text(":id", "b")
                values.integer(":n", 3)
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
            try BoundStatement(db, sql: "SELECT n, a, b FROM t WHERE n >= :from ORDER BY n").forEachRow { values in
                values.integer(":from", 1)
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
            let select = try BoundStatement(db, sql: "SELECT b FROM t WHERE id = :id")
            return (
                try select.firstRow({ values in values.text(":id", "b") }, { $0.blob(0) }),
                try select.firstRow({ values in values.text(":id", "c") }, { $0.blob(0) }),
                try BoundStatement(db, sql: "SELECT count(*) FROM t").firstRow { $0.integer(0) }
            )
        }
        #expect(found == [3])
        #expect(missing == nil)
        #expect(unbound == 2)
    }

    /// Values go by name, in the statement's order: a misspelt name, a value bound under another
    /// parameter's name (two swapped columns) or a parameter left unbound is refused, naming it, and the
    /// statement stores nothing.
    @Test func aMisnamedSwappedOrUnboundParameterIsRefusedAndNothingIsStored() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id TEXT, name TEXT)")
            let insert = try BoundStatement(db, sql: "INSERT INTO t (id, name) VALUES (:id, :name)")
            let attempts: [(message: String, names: [StaticString])] = [
                ("parameter 2 is :name, not :nmae", [":id", ":nmae"]),
                ("parameter 1 is :id, not :name", [":name", ":id"]),
                ("parameter 2 is :name, not :id", [":id", ":id"]),
                ("parameter 3 is not there, not :extra", [":id", ":name", ":extra"]),
                ("parameter :name is not bound", [":id"]),
            ]
            for (message, names) in attempts {
                #expect {
                    try insert.run { values in for name in names { values.text(name, "x") } }
                } throws: { error in
                    (error as? DatabaseError)?.message?.contains(message) == true
                }
            }
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM t") == 0)
            try insert.run { values in
                values.text(":id", "a")
                values.text(":name", "Mia")
            }
            #expect(try Row.fetchOne(db, sql: "SELECT id, name FROM t").map { [$0["id"] as String, $0["name"] as String] } == ["a", "Mia"])
        }
    }
}
