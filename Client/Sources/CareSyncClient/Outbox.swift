import Foundation
import GRDB
import SQLiteSupport
import SyncCore

/// The changes this device made that the server has not acknowledged yet. They leave the outbox only
/// when a push of them succeeds; an unreachable server, a refusal or a crash leaves them queued.
extension Replica {
    /// The oldest queued changes after an outbox position, as their signed wire bytes. A short read,
    /// made on the caller's thread: handing it to GRDB's reader queue and back costs more.
    func outboxBatch(after position: Int64, limit: Int) throws(ClientError) -> [QueuedChange] {
        try readOneStatement { db in
            var queued: [QueuedChange] = []
            // The outbox is keyed by the changes' seq, the order they were made in: reading it in that order
            // touches only the rows returned.
            try BoundStatement(
                db,
                sql: """
                    SELECT outbox.seq, change.body FROM outbox JOIN change ON change.seq = outbox.seq
                    WHERE outbox.seq > :after ORDER BY outbox.seq LIMIT :limit
                    """
            ).forEachRow { values in
                values.integer(":after", position)
                values.integer(":limit", Int64(limit))
            } _: { row in
                queued.append(QueuedChange(position: row.integer(0), body: row.blob(1)))
            }
            return queued
        }
    }

    func outboxCount() throws(ClientError) -> Int {
        try readOneStatement { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM outbox")) ?? 0 }
    }

    /// Removes what the server acknowledged. Without an fsync: if a power failure undoes it, the changes
    /// are pushed again and the server counts them as duplicates.
    ///
    /// The pull cursor moves past the push's own changes when nothing else lies before them: a batch
    /// that stored changes after the diary's `previous` change, up to its `latest`, made every change of
    /// the diary in between, and the replica holds them. So from a cursor at one batch's `previous`, it
    /// moves to that batch's `latest`, then on through any batch stored right after it (two batches in
    /// flight may be acknowledged in either order), and the next pull does not bring them back. If
    /// another device's change lies between, the cursor stays and the pull brings it with the rest.
    /// - Parameters:
    ///   - positions: the outbox positions (`QueuedChange.position`) of the changes acknowledged.
    ///   - stored: the `latest` of each batch this push stored changes with, by its `previous`.
    func acknowledge(_ positions: [Int64], stored: [Int64: Int64] = [:], at date: Date = Date()) async throws(ClientError) {
        try await asyncWriteWithoutFsync { db in
            let statement = try BoundStatement(db, sql: "DELETE FROM outbox WHERE seq = :seq")
            for position in positions { try statement.run { values in values.integer(":seq", position) } }
            try db.cachedStatement(sql: "UPDATE identity SET lastPushAt = ? WHERE id = 1").execute(arguments: [date])
            guard !stored.isEmpty else { return }
            let cursor = try Int64.fetchOne(db.cachedStatement(sql: "SELECT cursor FROM identity WHERE id = 1"))!
            var moved = cursor
            while let latest = stored[moved], latest > moved { moved = latest }
            if moved != cursor {
                try db.cachedStatement(sql: "UPDATE identity SET cursor = ? WHERE id = 1").execute(arguments: [moved])
            }
        }
    }

    /// Prepares for a server restored from a backup: every change this device ever made goes back in
    /// the outbox (the server stores again what it lacks and counts the rest as duplicates), and the
    /// cursor returns to 0 under the server's new epoch.
    func prepareForRestoredServer(epoch: String) throws(ClientError) -> Int {
        try write { db in
            let device = try String.fetchOne(db, sql: "SELECT device FROM identity WHERE id = 1")!
            try db.execute(
                sql: "INSERT INTO outbox (seq) SELECT seq FROM change WHERE author = ? ORDER BY seq ON CONFLICT (seq) DO NOTHING",
                arguments: [device])
            try db.execute(sql: "UPDATE identity SET epoch = ?, cursor = 0 WHERE id = 1", arguments: [epoch])
            return try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM outbox")) ?? 0
        }
    }
}

/// A change waiting in the outbox: its place in the queue (its seq in the log) and its signed wire bytes.
struct QueuedChange: Sendable {
    let position: Int64
    let body: [UInt8]
}
