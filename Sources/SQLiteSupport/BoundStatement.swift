import GRDB
import GRDBSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// A statement of GRDB's cache, run through SQLite's C interface: values bound straight from Swift's own
/// storage, rows read straight into Swift values (GRDB's "Raw SQLite Pointers"; GRDB still owns the
/// statement and finalizes it).
///
/// For the statements run once per change: a push's two inserts on the server's one writer thread and
/// its outbox reads and deletions on the device, a pull's two inserts in a replica, a local edit's
/// reads of the device's clock and of the record it changes. GRDB's
/// `StatementArguments` box each value as an existential and copy it into an array before binding it:
/// both making the arguments and running the statement through them cost more per change than
/// binding directly.
///
/// Parameters are named (`VALUES (:id, :author)` in the SQL) and bound in that order under their names
/// (`values.text(":id", id)`), so that a reader matches each value with its column: a value bound under
/// another name than the statement has in its place, or a parameter left unbound, fails the run instead
/// of storing a value in the wrong column.
///
/// Use it only for statements that need nothing of GRDB's bookkeeping: run inside a transaction GRDB
/// began, observed by no region, changing neither the schema nor the transaction. A failure throws
/// GRDB's `DatabaseError`, with SQLite's extended result code, as GRDB would.
public struct BoundStatement {
    private let statement: Statement

    public init(_ db: Database, sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
    }

    /// Binds the values `bind` gives and runs the statement to its end.
    public func run(_ bind: (inout Values) -> Void) throws {
        try forEachRow(bind) { _ in }
    }

    /// Binds the values `bind` gives and runs the statement, handing `row` each row it
    /// returns. A row's columns are valid only during the call.
    public func forEachRow(_ bind: (inout Values) -> Void, _ row: (Columns) throws -> Void) throws {
        let handle = statement.sqliteStatement
        // Clears the last run, whatever it ended with; every binding is replaced below. Reset again when
        // done, so that no read stays open past the call, whether it ended or threw.
        sqlite3_reset(handle)
        defer { sqlite3_reset(handle) }
        var values = Values(handle: handle)
        bind(&values)
        if let failure = values.failure ?? values.unbound() {
            throw DatabaseError(resultCode: ResultCode(rawValue: failure.code), message: failure.message, sql: statement.sql)
        }
        var code = sqlite3_step(handle)
        while code == SQLITE_ROW {
            try row(Columns(handle: handle))
            code = sqlite3_step(handle)
        }
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))), sql: statement.sql)
        }
    }

    /// Binds the values `bind` gives, runs the statement, and returns what `read` makes of its first row,
    /// or nil if it returns none. For a statement of one row at most (it runs to its end).
    public func firstRow<T>(_ bind: (inout Values) -> Void = { _ in }, _ read: (Columns) throws -> T) throws -> T? {
        var first: T?
        try forEachRow(bind) { row in
            if first == nil { first = try read(row) }
        }
        return first
    }

    /// The columns of the current row, by their position in the statement's result (from 0), read
    /// into Swift values without a row of GRDB's in between. A NULL reads as 0, an empty text or an
    /// empty blob: read only columns that cannot hold one where the difference matters.
    public struct Columns {
        fileprivate let handle: SQLiteStatement

        public func integer(_ column: Int32) -> Int64 {
            sqlite3_column_int64(handle, column)
        }

        public func text(_ column: Int32) -> String {
            // The text first, then its length in bytes, as SQLite asks.
            guard let text = sqlite3_column_text(handle, column) else { return "" }
            return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, column))), as: UTF8.self)
        }

        /// The blob, or nil for NULL.
        public func optionalBlob(_ column: Int32) -> [UInt8]? {
            sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : blob(column)
        }

        public func blob(_ column: Int32) -> [UInt8] {
            guard let blob = sqlite3_column_blob(handle, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: blob, count: Int(sqlite3_column_bytes(handle, column))))
        }
    }

    /// The statement's parameters, bound one after the other, each under its name. Texts and blobs are
    /// copied by SQLite (`SQLITE_TRANSIENT`), so nothing here has to outlive the call.
    public struct Values {
        fileprivate let handle: SQLiteStatement
        private var bound: Int32 = 0
        /// The first binding that failed (a name that is not the next parameter's, a value over SQLite's
        /// size limit), thrown instead of running the statement.
        fileprivate private(set) var failure: (code: Int32, message: String)?

        fileprivate init(handle: SQLiteStatement) {
            self.handle = handle
        }

        public mutating func text(_ name: StaticString, _ value: String) {
            guard let index = index(of: name) else { return }
            var value = value
            check(value.withUTF8 { bytes in sqlite3_bind_text(handle, index, bytes.baseAddress, Int32(bytes.count), Self.transient) })
        }

        public mutating func blob(_ name: StaticString, _ value: [UInt8]) {
            guard let index = index(of: name) else { return }
            // An empty array may have no storage, and a null pointer would bind NULL, not an empty blob.
            check(
                value.isEmpty
                    ? sqlite3_bind_zeroblob(handle, index, 0)
                    : value.withUnsafeBytes { bytes in sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), Self.transient) })
        }

        public mutating func integer(_ name: StaticString, _ value: Int64) {
            guard let index = index(of: name) else { return }
            check(sqlite3_bind_int64(handle, index, value))
        }

        /// The value, or NULL for nil.
        public mutating func text(_ name: StaticString, _ value: String?) {
            if let value { text(name, value) } else { null(name) }
        }

        /// The value, or NULL for nil.
        public mutating func blob(_ name: StaticString, _ value: [UInt8]?) {
            if let value { blob(name, value) } else { null(name) }
        }

        /// The value, or NULL for nil.
        public mutating func integer(_ name: StaticString, _ value: Int64?) {
            if let value { integer(name, value) } else { null(name) }
        }

        public mutating func null(_ name: StaticString) {
            guard let index = index(of: name) else { return }
            check(sqlite3_bind_null(handle, index))
        }

        /// The next parameter's index, if `name` is its name: one comparison with the name SQLite holds
        /// at that place, rather than a search of them all for every value.
        private mutating func index(of name: StaticString) -> Int32? {
            bound += 1
            let expected = sqlite3_bind_parameter_name(handle, bound)
            guard let expected, strcmp(expected, UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)) == 0 else {
                fail(SQLITE_RANGE, "parameter \(bound) is \(expected.map { String(cString: $0) } ?? "not there"), not \(name)")
                return nil
            }
            return bound
        }

        /// The failure of a run that left a parameter unbound.
        fileprivate func unbound() -> (code: Int32, message: String)? {
            guard bound < sqlite3_bind_parameter_count(handle) else { return nil }
            let name = sqlite3_bind_parameter_name(handle, bound + 1).map { String(cString: $0) } ?? "?\(bound + 1)"
            return (SQLITE_MISUSE, "parameter \(name) is not bound")
        }

        private mutating func check(_ code: Int32) {
            if code != SQLITE_OK { fail(code, String(cString: sqlite3_errmsg(sqlite3_db_handle(handle)))) }
        }

        private mutating func fail(_ code: Int32, _ message: String) {
            if failure == nil { failure = (code, message) }
        }

        private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
    }
}
