import Dispatch
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies a database's write-ahead log back into the database file on a connection and a thread of
/// its own, so that no commit waits for it.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the log past 1,000 pages, and that
/// commit waits for it: on the server every push of the group commit waits with it, and in a replica
/// pulled pages commit much more slowly on average. `watch(_:)` replaces that automatic checkpoint on a
/// connection: past the same 1,000 pages, a commit only wakes this checkpointer and returns.
///
/// A passive checkpoint never blocks a writer. While writes never pause, though, the log cannot start
/// again from its beginning, so past `restartPages` one checkpoint waits for the writer (RESTART): the
/// log stays bounded whatever the load. Checkpoints keep the database's durability; a crash in the
/// middle of one loses nothing, and the next one finishes the copy.
public final class WALCheckpointer: Sendable {
    /// SQLite's own threshold for its automatic checkpoint.
    public static let logPages: Int32 = 1_000
    /// About 64 MiB of 4 KiB pages.
    public static let restartPages = 16_000

    private let path: String
    private let queue = DispatchQueue(label: "caresync.wal-checkpoint", qos: .utility)
    private let state = Mutex(State())

    private struct State {
        var connection: DatabaseQueue?
        var running = false
        var again = false
        var checkpoints = 0
    }

    public init(path: String) {
        self.path = path
    }

    /// Installs the commit hook on a connection (call it from `Configuration.prepareDatabase`). The
    /// checkpointer must outlive the connection.
    public func watch(_ db: Database) {
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, _, _, pages in
                if pages >= WALCheckpointer.logPages, let context {
                    Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue().logDidGrow()
                }
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// How many checkpoints have run (for tests).
    public var checkpoints: Int { state.withLock { $0.checkpoints } }

    /// Waits until no checkpoint runs or is asked for (for tests).
    public func waitUntilIdle() {
        queue.sync {}
    }

    /// For a database about to close: waits for a checkpoint that runs, then copies the rest of the log
    /// into the database file and empties it (TRUNCATE), and closes the checkpointer's connection; so
    /// the file alone holds the whole database once the process exits. SQLite's own last-connection
    /// checkpoint does not do it for a `DatabasePool`, whose readers, read-only, close last. It runs on
    /// the checkpointer's own queue and connection, never on the database's (whose queues may be the
    /// ones releasing it). Nothing is lost if it fails: the log is left for the next connection.
    public func close() {
        queue.sync {
            let log = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int ?? 0
            if log > 0 {
                _ = try? connection().inDatabase { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            }
            let connection = state.withLock { state in
                defer { state.connection = nil }
                return state.connection
            }
            try? connection?.close()
        }
    }

    /// Starts a checkpoint unless one runs; one that runs goes again when it is done.
    private func logDidGrow() {
        let starts = state.withLock { state in
            defer { state.running = true }
            state.again = state.running
            return !state.running
        }
        if starts { queue.async { self.run() } }
    }

    private func run() {
        repeat {
            // A failure (the file gone, a full disk) leaves the log as it is, intact; the next commit
            // past the threshold tries again.
            try? checkpoint()
        } while state.withLock { state in
            defer { state.again = false }
            state.checkpoints += 1
            state.running = state.again
            return state.again
        }
    }

    /// The checkpointer's own connection, opened when it is first needed.
    private func connection() throws -> DatabaseQueue {
        try state.withLock { state in
            if let connection = state.connection { return connection }
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            // FULL: each checkpoint syncs the log before copying it, and the database file after.
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            let connection = try DatabaseQueue(path: path, configuration: configuration)
            state.connection = connection
            return connection
        }
    }

    private func checkpoint() throws {
        try connection().inDatabase { db in
            let pages = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)").map { $0[1] as Int } ?? 0
            if pages >= Self.restartPages { try db.execute(sql: "PRAGMA wal_checkpoint(RESTART)") }
        }
    }
}
