import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import SyncCore

/// The server's store in PostgreSQL, which several stateless instances share: every fact a request
/// needs (devices, revocations, expiries, nonces, failed enrollments) is a row, so any instance answers
/// as any other would. Commits are durable (`synchronous_commit` on) before a push is acknowledged.
///
/// The pull cursor is a change's position in its diary (`change.ordinal`). A push takes its diary's row
/// lock (`SELECT … FOR UPDATE`), reads the diary's last ordinal, inserts its changes at the next ones and
/// moves `last_ordinal` in the same transaction: pushes to one diary commit one after another, in
/// ordinal order, so a pull that sees an ordinal sees every smaller one, and can never skip a change
/// that commits later (docs/ARCHITECTURE.md).
public final class PostgresStore: ServerStore {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger: Logger
    public let epoch: String
    public let location: String
    private let metrics = Mutex<ServerMetrics?>(nil)
    /// When this instance last removed nonces older than their window.
    private let noncesPrunedAt = Mutex(Date.distantPast)

    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`), migrates
    /// it, and reads or sets the server's epoch.
    public init(url: String, maximumConnections: Int = 20, logger: Logger) async throws {
        let configuration = try Self.configuration(url: url, maximumConnections: maximumConnections)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        location = StoreLocation(url).display
        runner = Task { await client.run() }
        await Self.letRun()
        do {
            epoch = try await client.withConnection { connection in
                try await PostgresSchema.migrate(connection, location: StoreLocation(url).display, logger: logger)
                try await connection.query(
                    "INSERT INTO server_identity (id, epoch) VALUES (1, \(UUID.version7().canonical)) ON CONFLICT (id) DO NOTHING", logger: logger)
                return try await connection.query("SELECT epoch FROM server_identity", logger: logger).decode(String.self).first { _ in true }
                    ?? ""
            }
        } catch {
            runner.cancel()
            await runner.value
            throw error
        }
    }

    /// Lets a client's `run()`, just started in a task of its own, begin before the first query, which
    /// postgres-nio would otherwise warn about.
    static func letRun() async {
        for _ in 0..<3 { await Task.yield() }
    }

    /// The client configuration a `postgres://` URL gives (no TLS: the database is on the same network).
    public static func configuration(url: String, maximumConnections: Int) throws -> PostgresClient.Configuration {
        guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty else {
            throw PostgresURLError(url: StoreLocation(url).display)
        }
        let database = String(parts.path.drop { $0 == "/" })
        var configuration = PostgresClient.Configuration(
            host: host, port: parts.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: parts.password?.removingPercentEncoding, database: database.isEmpty ? nil : database, tls: .disable)
        configuration.options.maximumConnections = maximumConnections
        return configuration
    }

    /// Runs `body` in one transaction on a connection of the pool; any error rolls it back and is
    /// thrown as it was (a `StoreRefusal` stays one).
    func transaction<Result: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await client.withConnection { connection in try await Self.transaction(on: connection, logger: logger, body) }
    }

    static func transaction<Result: Sendable>(
        on connection: PostgresConnection, logger: Logger, _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await connection.query("BEGIN", logger: logger)
        do {
            let result = try await body(connection)
            try await connection.query("COMMIT", logger: logger)
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    public func close() async throws {
        runner.cancel()
        await runner.value
    }

    public func report(to metrics: ServerMetrics) { self.metrics.withLock { $0 = metrics } }

    public func logBytes() -> Int? { nil }

    /// postgres-nio's errors print a placeholder; the server's message (and its SQLSTATE) says what went wrong.
    public func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        guard let message = error.serverInfo?[.message] else { return "PostgreSQL: \(error.code)" }
        return "PostgreSQL: \(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
    }

    // MARK: Diaries, invites, devices

    public func insert(diary: Diary, ownerInvite: Invite) async throws {
        try await transaction { connection in
            try await connection.query(
                "INSERT INTO diary (id, name, created_at) VALUES (\(diary.id), \(diary.name), \(diary.createdAt))", logger: logger)
            try await Self.insert(ownerInvite, on: connection, logger: logger)
        }
    }

    public func insert(invite: Invite) async throws {
        try await client.withConnection { connection in try await Self.insert(invite, on: connection, logger: logger) }
    }

    private static func insert(_ invite: Invite, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO invite (code_hash, diary_id, role, created_at, expires_at, access_expires_at, created_by)
            VALUES (\(invite.codeHash), \(invite.diaryId), \(invite.role.rawValue), \(invite.createdAt), \(invite.expiresAt),
                    \(invite.accessExpiresAt), \(invite.createdBy))
            """, logger: logger)
    }

    public func enroll(codeHash: String, now: Date, makeDevice: @Sendable (Invite) -> Device) async throws -> (
        device: Device, diaryName: String
    )? {
        try await transaction { connection -> (Device, String)? in
            // FOR UPDATE: two instances given the same code at once take turns, and the second finds it used.
            let rows = try await connection.query(
                """
                SELECT i.diary_id, i.role, i.created_at, i.expires_at, i.access_expires_at, i.created_by, i.used_at, d.name
                FROM invite i JOIN diary d ON d.id = i.diary_id WHERE i.code_hash = \(codeHash) FOR UPDATE OF i
                """, logger: logger
            ).decode((String, String, Date, Date, Date?, String?, Date?, String).self)
            guard let row = try await rows.first(where: { _ in true }), row.6 == nil, row.3 > now, let role = DeviceRole(rawValue: row.1) else {
                return nil
            }
            let invite = Invite(
                codeHash: codeHash, diaryId: row.0, role: role, createdAt: row.2, expiresAt: row.3, accessExpiresAt: row.4, createdBy: row.5)
            let device = makeDevice(invite)
            try await connection.query(
                """
                INSERT INTO device (id, diary_id, name, role, key, created_at, access_expires_at)
                VALUES (\(device.id), \(device.diaryId), \(device.name), \(device.role.rawValue), \(device.key), \(device.createdAt),
                        \(device.accessExpiresAt))
                """, logger: logger)
            try await connection.query("UPDATE invite SET used_at = \(now), used_by = \(device.id) WHERE code_hash = \(codeHash)", logger: logger)
            return (device, row.7)
        }
    }

    private static let deviceColumns = "id, diary_id, name, role, key, created_at, access_expires_at, revoked_at"

    private func devices(_ query: PostgresQuery, on connection: PostgresConnection? = nil) async throws -> [Device] {
        let rows =
            if let connection { try await connection.query(query, logger: logger) } else { try await client.query(query, logger: logger) }
        var devices: [Device] = []
        for try await row in rows.decode((String, String, String, String, ByteBuffer, Date, Date?, Date?).self) {
            guard let role = DeviceRole(rawValue: row.3) else { throw PostgresRowError("device \(row.0) has the unknown role \(row.3)") }
            devices.append(
                Device(
                    id: row.0, diaryId: row.1, name: row.2, role: role, key: Data(row.4.readableBytesView), createdAt: row.5, accessExpiresAt: row.6,
                    revokedAt: row.7))
        }
        return devices
    }

    public func device(id: String) async throws -> Device? {
        try await devices("SELECT \(unescaped: Self.deviceColumns) FROM device WHERE id = \(id)").first
    }

    public func devices(diary: String) async throws -> [Device] {
        try await devices("SELECT \(unescaped: Self.deviceColumns) FROM device WHERE diary_id = \(diary) ORDER BY created_at, id")
    }

    public func diaryName(_ id: String) async throws -> String? {
        try await client.query("SELECT name FROM diary WHERE id = \(id)", logger: logger).decode(String.self).first { _ in true }
    }

    public func revoke(device id: String, diary: String, now: Date) async throws -> Device? {
        try await devices(
            """
            UPDATE device SET revoked_at = COALESCE(revoked_at, \(now)) WHERE id = \(id) AND diary_id = \(diary)
            RETURNING \(unescaped: Self.deviceColumns)
            """
        ).first
    }

    public func enrollmentFailures(from address: String, since: Date) async throws -> Int {
        try await client.query(
            "SELECT COUNT(*) FROM enrollment_failure WHERE address = \(address) AND failed_at >= \(since.timeIntervalSince1970)", logger: logger
        ).decode(Int.self).first { _ in true } ?? 0
    }

    public func recordEnrollmentFailure(from address: String, at now: Date, forgetBefore: Date) async throws {
        try await transaction { connection in
            try await connection.query("DELETE FROM enrollment_failure WHERE failed_at < \(forgetBefore.timeIntervalSince1970)", logger: logger)
            try await connection.query(
                "INSERT INTO enrollment_failure (address, failed_at) VALUES (\(address), \(now.timeIntervalSince1970))", logger: logger)
        }
    }

    public func checkHealth(now: Date) async throws -> Int {
        try await client.withConnection { connection in
            try await connection.query(
                """
                INSERT INTO health_check (id, checked_at) VALUES (1, \(now.timeIntervalSince1970))
                ON CONFLICT (id) DO UPDATE SET checked_at = EXCLUDED.checked_at
                """, logger: logger)
            return try await connection.query("SELECT COUNT(*) FROM schema_migration", logger: logger).decode(Int.self).first { _ in true } ?? 0
        }
    }

    // MARK: Nonces

    public func spend(_ nonce: SeenNonce) async throws -> Bool {
        pruneNoncesNowAndThen(window: nonce.window)
        return try await transaction { connection in
            // Not waited onto disk: it survives the end of any instance, which is what refusing replays
            // needs, and only a crash of the database server itself within a fraction of a second could
            // lose it (a push's nonce is spent in the push's own durable commit).
            try await connection.query("SET LOCAL synchronous_commit = off", logger: logger)
            return try await Self.insert(nonce, on: connection, logger: logger)
        }
    }

    /// Records the nonce unless its device used it within the window; a use older than the window is
    /// replaced, since its request would be refused as stale.
    private static func insert(_ nonce: SeenNonce, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let at = nonce.at.timeIntervalSince1970
        let rows = try await connection.query(
            """
            INSERT INTO seen_nonce (device_id, nonce, seen_at) VALUES (\(nonce.device), \(nonce.nonce), \(at))
            ON CONFLICT (device_id, nonce) DO UPDATE SET seen_at = EXCLUDED.seen_at WHERE seen_nonce.seen_at < \(at - nonce.window)
            RETURNING 1
            """, logger: logger)
        return try await rows.decode(Int.self).first { _ in true } != nil
    }

    /// Removes, at most once a minute per instance and in the background, the nonces no request window
    /// can still hold: an indexed delete that no request waits for.
    private func pruneNoncesNowAndThen(window: TimeInterval) {
        let now = Date()
        let due = noncesPrunedAt.withLock { last in
            guard now.timeIntervalSince(last) > 60 else { return false }
            last = now
            return true
        }
        guard due else { return }
        let (client, logger) = (client, logger)
        Task {
            do {
                try await client.query("DELETE FROM seen_nonce WHERE seen_at < \(now.timeIntervalSince1970 - window)", logger: logger)
            } catch {
                logger.warning("could not remove expired nonces", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }

    // MARK: Changes

    public func store(_ batch: StorableBatch, diary: String, nonce: SeenNonce?) async throws -> PushOutcome {
        if let nonce { pruneNoncesNowAndThen(window: nonce.window) }
        let started = ContinuousClock.now
        func write(checksStored: Bool) async throws -> PushOutcome {
            try await transaction { connection in
                if let nonce, try await !Self.insert(nonce, on: connection, logger: logger) { throw StoreRefusal.replayedNonce }
                var writer = PostgresChangeWriter(connection: connection, diary: diary, batch: batch, checksStored: checksStored, logger: logger)
                return try await writer.write()
            }
        }
        let outcome: PushOutcome
        do {
            outcome = try await write(checksStored: false)
        } catch let error as PSQLError
            where error.serverInfo?[.sqlState] == "23505"
            && PostgresChangeWriter.collisions.contains(error.serverInfo?[.constraintName] ?? "")
        {
            outcome = try await write(checksStored: true)
        }
        metrics.withLock { $0 }?.committed(in: ContinuousClock.now - started)
        return outcome
    }

    public func pull(diary: String, after cursor: Int64, limit: Int) async throws -> PullPage {
        // One statement, so one snapshot: the page and the diary's last ordinal agree while pushes commit.
        // Ordinals run without a gap, so the page is a range of them: bounded on both sides, the scan reads
        // the page's rows alone, where `ORDER BY … LIMIT` let the planner read and sort the rest of the log.
        let (end, overflow) = cursor.addingReportingOverflow(Int64(limit))
        let through = overflow ? Int64.max : end
        let rows = try await client.query(
            """
            SELECT d.last_ordinal, c.ordinal, c.body FROM diary d
            LEFT JOIN LATERAL (
                SELECT ordinal, body FROM change WHERE diary_id = d.id AND ordinal > \(cursor) AND ordinal <= \(through)
                ORDER BY ordinal
            ) c ON true
            WHERE d.id = \(diary)
            """, logger: logger)
        var page = PullPage(bodies: [], next: cursor, remaining: 0, latest: 0)
        page.bodies.reserveCapacity(limit)
        for try await (last, ordinal, body) in rows.decode((Int64, Int64?, ByteBuffer?).self) {
            page.latest = last
            guard let ordinal, let body else { continue }
            page.bodies.append(Array(body.readableBytesView))
            page.next = ordinal
        }
        // Ordinals run without a gap: what remains after the page is a subtraction.
        page.remaining = page.bodies.isEmpty ? 0 : max(0, page.latest - page.next)
        return page
    }

    // MARK: Operator

    public func audit() async throws -> AuditReport {
        try await client.withConnection { connection in
            var report = AuditReport()
            var keys: [String: DeviceKey] = [:]
            for device in try await devices("SELECT \(unescaped: Self.deviceColumns) FROM device", on: connection) {
                keys[device.id] = device.deviceKey
            }
            let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT id FROM diary ORDER BY id"), logger: logger)
            var diaries: [String] = []
            for try await diary in rows.decode(String.self) { diaries.append(diary) }
            for diary in diaries { try await check(diary: diary, keys: keys, on: connection, into: &report) }
            let strays =
                try await connection.query(
                    """
                    SELECT (SELECT COUNT(*) FROM change WHERE diary_id NOT IN (SELECT id FROM diary)),
                           (SELECT COUNT(*) FROM record WHERE diary_id NOT IN (SELECT id FROM diary))
                    """, logger: logger
                ).decode((Int, Int).self).first { _ in true } ?? (0, 0)
            if strays.0 > 0 { report.faults.append("\(strays.0) stored changes belong to no diary of this server") }
            if strays.1 > 0 { report.faults.append("\(strays.1) stored records belong to no diary of this server") }
            return report
        }
    }

    /// Replays one diary: its stored records are read first (one connection cannot read a second
    /// query while streaming the log), then its log streams in record order.
    private func check(diary: String, keys: [String: DeviceKey], on connection: PostgresConnection, into report: inout AuditReport) async throws {
        var stored: [String: LogReplay.Stored] = [:]
        for try await (id, fields, soleBody) in try await connection.query(
            """
            SELECT r.id, r.fields, c.body FROM record r LEFT JOIN change c ON c.diary_id = r.diary_id AND c.ordinal = r.sole_ordinal
            WHERE r.diary_id = \(diary)
            """, logger: logger
        ).decode((String, ByteBuffer?, ByteBuffer?).self) {
            stored[id] = (try? Self.entries(fields: fields, soleBody: soleBody)).map { .fields($0) } ?? .unreadable
        }
        let frozen = stored
        var replay = LogReplay(diary: diary, keys: keys) { record in frozen[record] ?? .missing }
        var written: Set<String> = []
        let log = try await connection.query(
            "SELECT ordinal, record_id, id, author, body FROM change WHERE diary_id = \(diary) ORDER BY record_id, ordinal", logger: logger)
        for try await (ordinal, record, id, author, body) in log.decode((Int64, String, String, String, ByteBuffer).self) {
            written.insert(record)
            try replay.add(position: ordinal, record: record, id: id, author: author, body: Array(body.readableBytesView), into: &report)
        }
        try replay.finish(into: &report)
        try replay.compareOrphans(stored.keys.filter { !written.contains($0) }.sorted(), into: &report)
    }

    /// `CurrentFields.entries(fields:soleBody:)` of the columns as PostgreSQL returns them.
    static func entries(fields: ByteBuffer?, soleBody: ByteBuffer?) throws -> [String: CurrentFields.Entry] {
        try CurrentFields.entries(fields: fields.map { Data($0.readableBytesView) }, soleBody: soleBody.map { Data($0.readableBytesView) })
    }

    public func backup(to destination: String) async throws {
        throw StoreRefusal.backupUnsupported(
            "backup copies a SQLite file; copy a PostgreSQL database with pg_dump (pg_dump -Fc -f caresync.dump DATABASE_URL), "
                + "and after restoring a copy give it a new epoch (UPDATE server_identity SET epoch = gen_random_uuid()) so devices know it was restored"
        )
    }
}

/// A `--db` or `CARESYNC_DATABASE_URL` that is not a usable PostgreSQL URL.
struct PostgresURLError: Error, CustomStringConvertible {
    let url: String
    var description: String { "\(url) is not a PostgreSQL URL of the form postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE" }
}

/// A row the schema should have refused.
struct PostgresRowError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension PostgresStore {
    /// Creates a new, empty database on the PostgreSQL server at `server` (`postgres://USER@HOST:PORT`)
    /// and returns its URL: each test harness and benchmark run gets one of its own.
    public static func createDatabase(server: String, prefix: String = "caresync_test") async throws -> String {
        let name = prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        try await administer(base, "CREATE DATABASE \(name)")
        return base + "/" + name
    }

    /// Drops the database at `url` that `createDatabase` made, closing any connection still open to it.
    public static func dropDatabase(url: String) async throws {
        guard let slash = url.lastIndex(of: "/") else { throw PostgresURLError(url: StoreLocation(url).display) }
        let name = url[url.index(after: slash)...]
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw PostgresURLError(url: StoreLocation(url).display)
        }
        try await administer(String(url[..<slash]), "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs one statement on the server's `postgres` database.
    private static func administer(_ server: String, _ statement: String) async throws {
        var logger = Logger(label: "caresync-administer-database")
        logger.logLevel = .warning
        let client = PostgresClient(configuration: try configuration(url: server + "/postgres", maximumConnections: 1), backgroundLogger: logger)
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        await letRun()
        try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
    }
}
