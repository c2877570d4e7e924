import GRDB

extension DatabaseQueue {
    /// A connection of its own, beside a database's `DatabasePool`, for the short reads run on every
    /// request or sync: the server's device lookup, a device's outbox batch and pull position. Each is one
    /// statement, which SQLite runs on a snapshot of its own without a transaction around it, seeing every
    /// commit made before it starts. Through the pool, even without a transaction, each read also checked
    /// out a reader and ran `PRAGMA schema_version` for GRDB's schema cache: with many devices syncing at
    /// once, a sizeable part of the CPU, on the server and on the devices.
    ///
    /// Run single statements of plain SQL on it; a body of several statements belongs in the pool's `read`.
    public static func oneStatementReader(path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return try DatabaseQueue(path: path, configuration: configuration)
    }
}
