import Foundation
import GRDB
import Synchronization
import SQLiteSupport
import SyncCore

/// The server's store in one SQLite file: a WAL `DatabasePool` with `synchronous=FULL`, so that a change
/// is on disk before its push is acknowledged. Every write is one transaction: a push batch commits
/// whole or not at all. One process serves a file; several instances need `PostgresStore`.
public final class SQLiteStore: ServerStore {
    let pool: DatabasePool
    public let path: String
    public var location: String { path }
    /// The server's identity, sent with every pull. It is fixed for the life of a database file:
    /// only the copy that `backup` writes gets a new one.
    public let epoch: String
    /// Copies the log into the database file on a thread of its own, so that no push waits for it.
    let checkpointer: WALCheckpointer
    /// The connection that reads the device of every request (`device(id:)`), beside the pool.
    private let deviceReader: DatabaseQueue

    public init(path: String) throws {
        let checkpointer = WALCheckpointer(path: path)
        self.checkpointer = checkpointer
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // Durable on acknowledgement: a kill -9 or power loss right after a push loses nothing.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            checkpointer.watch(db)
        }
        self.path = path
        pool = try DatabasePool(path: path, configuration: configuration)
        try SQLiteSchema.migrate(pool, location: path)
        // A push's savepoint journals the pages it changes; past 64 KiB, SQLite would spill that journal,
        // medical records included, to a file in the system's temporary folder (/var/tmp), created and
        // deleted for every push. On the writer, after the migrations (whose index builds may sort more
        // than memory should hold), it is kept in memory and freed as the savepoint ends. The readers keep
        // SQLite's default, so that `verify` sorts a large diary in temporary files, in flat memory.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA temp_store = MEMORY") }
        deviceReader = try DatabaseQueue.oneStatementReader(path: path)
        epoch = try pool.write { db in
            if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM serverIdentity") == 0 {
                try db.execute(sql: "INSERT INTO serverIdentity (id, epoch) VALUES (1, ?)", arguments: [UUID.version7().canonical])
            }
            return try String.fetchOne(db, sql: "SELECT epoch FROM serverIdentity")!
        }
    }

    /// Leaves the whole database in its file, the log emptied and removed, and closes every connection.
    /// `serve` calls it once the service has stopped, rather than leaving it to `deinit`: in some stops
    /// right after a push on a busy machine, the log stayed beside the file, not even emptied, so `deinit`
    /// had not run before the process ended (safe, as SQLite replays the log at the next open, but not
    /// what an operator expects).
    public func close() throws {
        checkpointer.close()
        try deviceReader.close()
        try pool.close()
    }

    public func logBytes() -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
    }

    /// Leaves the whole database in its file, the log emptied, when the last reference goes
    /// (`WALCheckpointer.close`), if `close()` did not already.
    deinit { checkpointer.close() }

    // MARK: Diaries, invites, devices

    public func insert(diary: Diary, ownerInvite: Invite) async throws {
        try await pool.write { db in
            try diary.insert(db)
            try ownerInvite.insert(db)
        }
    }

    public func insert(invite: Invite) async throws {
        try await pool.write { db in try invite.insert(db) }
    }

    public func enroll(codeHash: String, now: Date, makeDevice: @Sendable (Invite) -> Device) async throws -> (device: Device, diaryName: String)? {
        try await pool.write { db -> (Device, String)? in
            guard var invite = try Invite.fetchOne(db, key: codeHash), invite.usedAt == nil, invite.expiresAt > now,
                let diary = try Diary.fetchOne(db, key: invite.diaryId)
            else { return nil }
            let device = makeDevice(invite)
            try device.insert(db)
            invite.usedAt = now
            invite.usedBy = device.id
            try invite.update(db)
            return (device, diary.name)
        }
    }

    /// Read on the caller's thread, as `pull` is: a short indexed read in WAL mode never waits for a
    /// writer, and costs less than handing it to GRDB's reader queues and back (with many devices syncing
    /// at once, it waited there far longer than it took), on a connection of its own
    /// (`DatabaseQueue.oneStatementReader`).
    public func device(id: String) throws -> Device? {
        try deviceReader.inDatabase { db in
            try Device.fetchOne(db.cachedStatement(sql: "SELECT * FROM device WHERE id = ?"), arguments: [id])
        }
    }

    public func devices(diary: String) async throws -> [Device] {
        try await pool.read { db in
            try Device.filter(Column("diaryId") == diary).order(Column("createdAt"), Column("id")).fetchAll(db)
        }
    }

    public func diaryName(_ id: String) async throws -> String? {
        try await pool.read { db in try Diary.fetchOne(db, key: id)?.name }
    }

    /// Revokes a device of the diary; returns it, or nil if the diary has no such device.
    public func revoke(device id: String, diary: String, now: Date) async throws -> Device? {
        try await pool.write { db -> Device? in
            guard var device = try Device.fetchOne(db, key: id), device.diaryId == diary else { return nil }
            if device.revokedAt == nil {
                device.revokedAt = now
                try device.update(db)
            }
            return device
        }
    }

    /// How many enrollments failed from `address` since `since`.
    public func enrollmentFailures(from address: String, since: Date) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM enrollmentFailure WHERE address = ? AND failedAt >= ?",
                arguments: [address, since.timeIntervalSince1970]) ?? 0
        }
    }

    /// Records a failed enrollment from `address`, and forgets those before `forgetBefore`.
    public func recordEnrollmentFailure(from address: String, at now: Date, forgetBefore: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM enrollmentFailure WHERE failedAt < ?", arguments: [forgetBefore.timeIntervalSince1970])
            try db.execute(
                sql: "INSERT INTO enrollmentFailure (address, failedAt) VALUES (?, ?)", arguments: [address, now.timeIntervalSince1970])
        }
    }

    /// Writes the health-check row and returns the number of schema migrations applied; throws if the
    /// database cannot be read or written.
    public func checkHealth(now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO healthCheck (id, checkedAt) VALUES (1, ?)", arguments: [now.timeIntervalSince1970])
            return try SQLiteSchema.migrator.appliedIdentifiers(db).count
        }
    }

    // MARK: Changes

    /// A write waiting for the next commit: a push, or a request's nonce to spend.
    private enum PendingWrite: Sendable {
        case push(StorableBatch, diary: String, nonce: SeenNonce?, CheckedContinuation<PushOutcome, any Error>)
        case nonce(SeenNonce, CheckedContinuation<Bool, any Error>)

        var isNonce: Bool {
            if case .nonce = self { return true }
            return false
        }

        var nonceWindow: TimeInterval {
            switch self {
            case .nonce(let nonce, _): nonce.window
            case .push(_, _, let nonce, _): nonce?.window ?? 0
            }
        }
    }

    private struct CommitQueue: Sendable {
        var waiting: [PendingWrite] = []
        /// Whether a commit loop is running; it takes every write that waits before it stops.
        var committing = false
        /// When the commit loop last removed nonces older than their window.
        var noncesPrunedAt = Date.distantPast
    }

    private let commitQueue = Mutex(CommitQueue())

    /// Where commits are counted, once a server serves this database.
    private let metrics = Mutex<ServerMetrics?>(nil)

    public func report(to metrics: ServerMetrics) {
        self.metrics.withLock { $0 = metrics }
    }

    /// Stores a batch of verified changes, whole or not at all. A change already stored with the same
    /// bytes is skipped; any refusal undoes the whole batch. The reply waits for the commit, which is
    /// on disk (`synchronous=FULL`) before `store` returns.
    ///
    /// Batches that arrive while a commit is running are committed together in the next one (group
    /// commit), each in a savepoint of its own: one fsync for many devices' pushes, and a refused batch
    /// rolls back only itself. Every statement is prepared once per connection (`cachedStatement`).
    ///
    /// `nonce`, the push request's, is spent in the batch's savepoint: a replayed push stores nothing
    /// and is refused as `replayed_nonce`.
    public func store(_ batch: StorableBatch, diary: String, nonce: SeenNonce?) async throws -> PushOutcome {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(.push(batch, diary: diary, nonce: nonce, continuation))
        }
    }

    /// Spends a request's nonce: true if its device had not used it within the window, false for a replay.
    /// Kept in the database, durably before the request goes on, so that neither a restart nor another
    /// server over the same file accepts the request again. It rides the pushes' group commit, so many
    /// devices' requests share one fsync.
    public func spend(_ nonce: SeenNonce) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(.nonce(nonce, continuation))
        }
    }

    private func enqueue(_ write: PendingWrite) {
        let leads = commitQueue.withLock { queue in
            queue.waiting.append(write)
            defer { queue.committing = true }
            return !queue.committing
        }
        if leads { commitWaitingWrites() }
    }

    /// Commits the waiting writes, then any that arrived meanwhile, until none is left.
    private func commitWaitingWrites() {
        pool.asyncWriteWithoutTransaction { db in
            while true {
                var (writes, prune) = self.commitQueue.withLock { queue in
                    defer { queue.waiting = [] }
                    if queue.waiting.isEmpty { queue.committing = false }
                    let now = Date()
                    let prune = now.timeIntervalSince(queue.noncesPrunedAt) > 60
                    if prune && !queue.waiting.isEmpty { queue.noncesPrunedAt = now }
                    return (queue.waiting, prune)
                }
                guard !writes.isEmpty else { return }
                var outcomes: [Result<PendingOutcome, any Error>] = []
                let started = ContinuousClock.now
                // A commit of nonces alone is not synced to disk: it survives a crash or restart of the
                // server, which is what refusing replays needs, and a pull does not wait for an fsync. Only a
                // power cut could lose it, and a request older than the window is refused as stale anyway.
                // Set before every commit, so that no push is committed at NORMAL: if setting it fails, the
                // commit is not tried.
                let noncesOnly = writes.allSatisfy(\.isNonce)
                do {
                    try db.execute(sql: noncesOnly ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL")
                    try db.inTransaction {
                        if prune { try Self.pruneNonces(olderThan: writes.map(\.nonceWindow).max() ?? 0, in: db) }
                        outcomes = writes.map { write in
                            Result {
                                switch write {
                                case .push(let batch, let diary, let nonce, _):
                                    var outcome = PushOutcome()
                                    try db.inSavepoint {
                                        if let nonce, try !Self.insert(nonce, in: db) { throw StoreRefusal.replayedNonce }
                                        outcome = try Self.write(batch, diary: diary, in: db)
                                        return .commit
                                    }
                                    return .push(outcome)
                                case .nonce(let nonce, _):
                                    return .nonce(try Self.insert(nonce, in: db))
                                }
                            }
                        }
                        return .commit
                    }
                } catch {
                    outcomes = writes.map { _ in .failure(error) }
                }
                if noncesOnly {
                    // Every other write on this connection (invites, enrollments, revocations) must be durable.
                    do {
                        try db.execute(sql: "PRAGMA synchronous = FULL")
                    } catch {
                        fatalError("cannot set synchronous = FULL again after a commit of nonces: \(error)")
                    }
                }
                self.metrics.withLock { $0 }?.committed(in: ContinuousClock.now - started)
                // Let go of the batches before any push goes on, so that each is freed by its push's
                // handler, which holds it too, rather than on this thread, which every push waits for.
                let continuations = writes.map(PendingContinuation.init)
                writes = []
                for (continuation, outcome) in zip(continuations, outcomes) { continuation.resume(with: outcome) }
            }
        }
    }

    private enum PendingOutcome {
        case push(PushOutcome)
        case nonce(Bool)
    }

    private enum PendingContinuation {
        case push(CheckedContinuation<PushOutcome, any Error>)
        case nonce(CheckedContinuation<Bool, any Error>)

        init(_ write: PendingWrite) {
            switch write {
            case .push(_, _, _, let continuation): self = .push(continuation)
            case .nonce(_, let continuation): self = .nonce(continuation)
            }
        }

        func resume(with outcome: Result<PendingOutcome, any Error>) {
            switch (self, outcome) {
            case (.push(let continuation), .success(.push(let pushed))): continuation.resume(returning: pushed)
            case (.nonce(let continuation), .success(.nonce(let fresh))): continuation.resume(returning: fresh)
            case (.push(let continuation), .failure(let error)): continuation.resume(throwing: error)
            case (.nonce(let continuation), .failure(let error)): continuation.resume(throwing: error)
            case (.push(let continuation), .success(.nonce)): continuation.resume(throwing: DatabaseError(message: "a push got a nonce's outcome"))
            case (.nonce(let continuation), .success(.push)): continuation.resume(throwing: DatabaseError(message: "a nonce got a push's outcome"))
            }
        }
    }

    /// Records the nonce unless its device used it within the window; a use older than the window is
    /// replaced, since its request would be refused as stale.
    private static func insert(_ nonce: SeenNonce, in db: Database) throws -> Bool {
        let at = nonce.at.timeIntervalSince1970
        try db.cachedStatement(sql: "DELETE FROM seenNonce WHERE deviceId = ? AND nonce = ? AND seenAt < ?")
            .execute(arguments: [nonce.device, nonce.nonce, at - nonce.window])
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO seenNonce (deviceId, nonce, seenAt) VALUES (?, ?, ?)")
            .execute(arguments: [nonce.device, nonce.nonce, at])
        return db.changesCount == 1
    }

    /// Removes the nonces that no request window can still hold (none when no nonce is being spent).
    private static func pruneNonces(olderThan window: TimeInterval, in db: Database) throws {
        guard window > 0 else { return }
        try db.cachedStatement(sql: "DELETE FROM seenNonce WHERE seenAt < ?").execute(arguments: [Date().timeIntervalSince1970 - window])
    }

    private static func write(_ batch: StorableBatch, diary: String, in db: Database) throws -> PushOutcome {
        var outcome = PushOutcome()
        var writer = try ChangeWriter(db: db, diary: diary, batch: batch)
        for (index, change) in batch.changes.enumerated() {
            if try writer.insert(change, index: index) {
                outcome.stored += 1
            } else {
                outcome.duplicates += 1
            }
        }
        try writer.finish()
        outcome.latest = writer.latestSeq
        outcome.previous = writer.previousSeq
        return outcome
    }

    /// The changes of a diary after a cursor, in the order they were stored. One read transaction, so
    /// the page and the counts agree even while pushes commit. Read on the caller's thread (see `device(id:)`).
    ///
    /// The log is indexed by diary and ordinal, not by diary and sequence number (migration v6: one
    /// index fewer for every change pushed). Ordinals rise with sequence numbers within a diary, so the
    /// changes after a cursor are those after its ordinal, which the cursor's own row gives.
    public func pull(diary: String, after cursor: Int64, limit: Int) throws -> PullPage {
        try pool.read { db in
            let start = try Self.ordinal(after: cursor, diary: diary, in: db)
            // Read without GRDB's rows, which were most of the server's part of a pull.
            var bodies: [[UInt8]] = []
            bodies.reserveCapacity(limit)
            var end: (seq: Int64, ordinal: Int64)?
            try BoundStatement(
                db, sql: "SELECT seq, ordinal, body FROM change WHERE diaryId = :diaryId AND ordinal > :after ORDER BY ordinal LIMIT :limit"
            )
            .forEachRow({ values in
                values.text(":diaryId", diary)
                values.integer(":after", start)
                values.integer(":limit", Int64(limit))
            }) { row in
                bodies.append(row.blob(2))
                end = (row.integer(0), row.integer(1))
            }
            let last = try ChangeWriter.lastChange(of: diary, in: db)
            // Ordinals count a diary's changes in seq order: what remains after this page is a subtraction.
            return PullPage(bodies: bodies, next: end?.seq ?? cursor, remaining: end.map { last.ordinal - $0.ordinal } ?? 0, latest: last.seq)
        }
    }

    /// The greatest ordinal of the diary's changes up to sequence number `cursor`: the cursor's own, as
    /// a device's cursor is the last change of its diary it pulled (or 0). Any other cursor, one from a
    /// restored server or another diary, is placed by walking back from the diary's last change, which
    /// costs what it then gives to pull.
    private static func ordinal(after cursor: Int64, diary: String, in db: Database) throws -> Int64 {
        guard cursor > 0 else { return 0 }
        if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT diaryId, ordinal FROM change WHERE seq = ?"), arguments: [cursor]),
            row["diaryId"] as String == diary
        {
            return row["ordinal"]
        }
        return try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT ordinal FROM change WHERE diaryId = ? AND seq <= ? ORDER BY ordinal DESC LIMIT 1"),
            arguments: [diary, cursor]) ?? 0
    }
}
