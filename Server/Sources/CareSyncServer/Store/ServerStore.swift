import Foundation
import SyncCore

/// What the server's HTTP side needs of its database, and all it may know of it: the controllers and
/// the authenticator talk to this protocol only. `SQLiteStore` (Store/SQLite) keeps a family's or a
/// clinic's server in one file; `PostgresStore` (Store/PostgreSQL) lets several instances share one
/// database. No state of a request's security lives in an instance's memory: nonces, failed enrollments,
/// revocations and expiries are rows.
///
/// A store throws `StoreRefusal` for what it refuses to store (the controllers answer with an
/// `APIError`), and its engine's own errors for failures.
public protocol ServerStore: AnyObject, Sendable {
    /// The server's identity, sent with every pull: fixed for the life of a database, new in a copy
    /// that `backup` writes, so that devices recognise a restored server.
    var epoch: String { get }
    /// Where the database is, for the log and `/health`: a path, or a URL without its password.
    var location: String { get }

    /// Stores a new diary and its owner's invite, in one transaction.
    func insert(diary: Diary, ownerInvite: Invite) async throws
    func insert(invite: Invite) async throws
    /// Exchanges the invite whose code hashes to `codeHash`, if unused and unexpired at `now`, for the
    /// device `makeDevice` makes of it, marking the invite used in the same transaction: a code is never
    /// used twice. Returns the device and its diary's name, or nil.
    func enroll(codeHash: String, now: Date, makeDevice: @Sendable (Invite) -> Device) async throws -> (device: Device, diaryName: String)?

    /// The device of a signed request; every request reads it, so it is the store's fastest read.
    func device(id: String) async throws -> Device?
    /// A diary's devices in the order they enrolled.
    func devices(diary: String) async throws -> [Device]
    func diaryName(_ id: String) async throws -> String?
    /// Revokes a device of the diary at `now` (once: a second revocation keeps the first time);
    /// returns it, or nil if the diary has no such device.
    func revoke(device: String, diary: String, now: Date) async throws -> Device?

    /// How many enrollments failed from `address` since `since`.
    func enrollmentFailures(from address: String, since: Date) async throws -> Int
    /// Records a failed enrollment from `address`, and forgets those before `forgetBefore`.
    func recordEnrollmentFailure(from address: String, at now: Date, forgetBefore: Date) async throws

    /// Writes the health-check row; returns the number of schema migrations applied.
    func checkHealth(now: Date) async throws -> Int

    /// Stores a batch of verified changes of one diary, whole or not at all, durably before it returns.
    /// A change stored before with the same bytes is counted a duplicate; a refusal
    /// (`StoreRefusal.stampReused`, `.changeIDReused`, `.typeChanged`) undoes the whole batch. `nonce`,
    /// the push request's, is spent in the same transaction: a replayed push stores nothing and throws
    /// `StoreRefusal.replayedNonce`.
    func store(_ batch: StorableBatch, diary: String, nonce: SeenNonce?) async throws -> PushOutcome
    /// Spends a request's nonce: true if its device had not used it within the window, false for a
    /// replay. Kept in the database before the request goes on, so that neither a restart nor another
    /// instance accepts the request again.
    func spend(_ nonce: SeenNonce) async throws -> Bool
    /// The changes of a diary after a cursor, in the order they were stored, and the counts of one
    /// consistent read. The cursor is the engine's position of a change in the diary's log (PROTOCOL.md
    /// section 9): it only grows, and a position once visible has every smaller one visible before it.
    func pull(diary: String, after cursor: Int64, limit: Int) async throws -> PullPage

    /// Re-checks every stored change's signature and that the stored current state equals a replay of
    /// the log (`caresync-server verify`).
    func audit() async throws -> AuditReport
    /// Writes a consistent copy to `destination` while the server may be writing; the copy gets a new
    /// epoch. Throws `StoreRefusal.backupUnsupported` where the engine has its own tool.
    func backup(to destination: String) async throws
    /// Counts this store's commits in `metrics` from now on.
    func report(to metrics: ServerMetrics)
    /// The size of the write-ahead log in bytes, for `/metrics`; nil where the engine does not show it.
    func logBytes() -> Int?
    /// Closes every connection, once the service has stopped.
    func close() async throws
    /// What an error of this engine says, for the log and `/health`: the database's own message,
    /// without the query or its values.
    func describe(_ error: any Error) -> String
}

/// What a store refuses to do, in its own terms: the controllers map each to the HTTP answer
/// (`APIError(_:)`), so that no HTTP type is below the seam.
public enum StoreRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// Change #`index` of the batch has the clock and author of another stored change.
    case stampReused(index: Int, change: String, storedChange: String?)
    /// Change #`index` reuses the id of a stored change with different content.
    case changeIDReused(index: Int, change: String)
    /// Change #`index` writes a record of another type.
    case typeChanged(index: Int, reason: String)
    /// The request's nonce was spent before, within the window.
    case replayedNonce
    /// A diary needs a name that is not only white space.
    case emptyDiaryName
    /// `backup` writes no file over an existing one.
    case backupExists(String)
    /// The engine is copied by its own tool (`pg_dump`): the reason says which.
    case backupUnsupported(String)

    public var description: String {
        switch self {
        case .stampReused(let index, let change, let stored):
            "change #\(index) (\(change)) has the same clock and author as stored change \(stored ?? "?"): a device's clock must move forward"
        case .changeIDReused(let index, let change): "change #\(index) (\(change)) reuses the id of a stored change with different content"
        case .typeChanged(let index, let reason): "change #\(index): \(reason)"
        case .replayedNonce: "this nonce was used before: every request needs a fresh one"
        case .emptyDiaryName: "the diary needs a name"
        case .backupExists(let path): "\(path) exists already; choose a new file for the backup"
        case .backupUnsupported(let reason): reason
        }
    }
}

/// The outcome of a push that was stored.
public struct PushOutcome: Sendable {
    var stored = 0
    var duplicates = 0
    /// The diary's last cursor position once the batch is stored.
    var latest: Int64 = 0
    /// The diary's last cursor position before the batch stored anything: the diary's changes after
    /// it, up to `latest`, are exactly the batch's newly stored ones.
    var previous: Int64 = 0
}

/// A request's nonce, spent once its signature verified.
public struct SeenNonce: Sendable {
    let device: String
    let nonce: String
    let at: Date
    /// How long the nonce stays refused: beyond it, the request's timestamp is refused as stale anyway.
    let window: TimeInterval
}

/// One page of a pull.
public struct PullPage: Sendable {
    /// The stored changes, each in its canonical wire form as received.
    var bodies: [[UInt8]]
    /// The cursor to ask from next: the last change's position, or `after` if none.
    var next: Int64
    /// How many changes remain after this page.
    var remaining: Int64
    /// The diary's last position; a device holding a greater cursor talks to a restored server.
    var latest: Int64
}

/// What `caresync-server verify` found.
public struct AuditReport: Sendable {
    public var changesChecked = 0
    public var faults: [String] = []
}

extension ServerStore {
    public func describe(_ error: any Error) -> String { "\(error)" }

    /// Creates a diary and its one-time owner invite; returns the diary's id and the invite code.
    public func createDiary(name: String, inviteLifetime: Duration = .seconds(7 * 86_400), now: Date = Date()) async throws -> (
        diary: String, code: String
    ) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw StoreRefusal.emptyDiaryName }
        let diary = Diary(id: UUID.version7(now: now).canonical, name: trimmed, createdAt: now)
        let code = InviteCode.generate()
        try await insert(
            diary: diary,
            ownerInvite: Invite(
                codeHash: InviteCode.hash(code.text), diaryId: diary.id, role: .owner, createdAt: now,
                expiresAt: now.addingTimeInterval(inviteLifetime.seconds), accessExpiresAt: nil, createdBy: nil))
        return (diary.id, code.text)
    }

    /// Creates an invite to the diary for `role`; returns its code and when it expires.
    func createInvite(
        diary: String, role: DeviceRole, lifetime: Duration, accessLifetime: Duration?, createdBy: String, now: Date = Date()
    ) async throws -> (code: String, expiresAt: Date) {
        let code = InviteCode.generate()
        let invite = Invite(
            codeHash: InviteCode.hash(code.text), diaryId: diary, role: role, createdAt: now, expiresAt: now.addingTimeInterval(lifetime.seconds),
            accessExpiresAt: accessLifetime.map { now.addingTimeInterval($0.seconds) }, createdBy: createdBy)
        try await insert(invite: invite)
        return (code.text, invite.expiresAt)
    }

    /// Exchanges an unused, unexpired invite code for a new device with a fresh key; nil if the code is
    /// unknown, used or expired.
    func enroll(code: String, deviceName: String, now: Date = Date()) async throws -> (device: Device, diaryName: String)? {
        let key = DeviceKey.generate().symmetricKey.withUnsafeBytes { Data($0) }
        let id = UUID.version7(now: now).canonical
        return try await enroll(codeHash: InviteCode.hash(code), now: now) { invite in
            Device(enrolling: invite, id: id, name: deviceName, key: key, at: now)
        }
    }
}

extension Duration {
    var seconds: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}

/// A store refuses to open a database whose schema is newer than this server knows: it cannot tell
/// what the newer migrations mean, and must not write a row they would refuse.
public struct SchemaTooNew: Error, CustomStringConvertible {
    public let location: String
    /// The migrations applied to the database that this server does not know, by name.
    public let unknown: [String]

    public var description: String {
        "the database \(location) was migrated by a newer caresync-server (\(unknown.sorted().joined(separator: "; "))): "
            + "run that version or a later one, or restore a backup made before it"
    }
}
