import Foundation
import GRDB
import NIOHTTP1
import SyncCore

/// How far a push or a pull has come, for a progress bar.
public struct SyncProgress: Sendable, Equatable {
    public enum Phase: String, Sendable { case push, pull }
    public let phase: Phase
    public let done: Int
    public let total: Int
}

public typealias ProgressHandler = @Sendable (SyncProgress) -> Void

public struct PushResult: Sendable, Equatable {
    /// Changes sent and acknowledged.
    public var sent = 0
    /// Of those, how many the server already held.
    public var duplicates = 0
}

public struct PullResult: Sendable, Equatable {
    /// Changes new to this replica.
    public var received = 0
    /// The id of every change the pages brought, in order, whether new to this replica or not.
    public var pulledChangeIDs: [UUID] = []
    /// Whether the server turned out to be restored from a backup, so this device pushed again
    /// everything it had made and pulled from the start.
    public var serverWasRestored = false
}

/// Push sends the outbox in batches and clears only what the server acknowledged; pull pages from the
/// cursor and merges each page in the transaction that moves the cursor (docs/PROTOCOL.md section 9).
extension DiaryDevice {
    /// The most changes, and about the most bytes, in one push request: all the server takes (1,000 and
    /// 4 MiB). Each batch costs a request, a commit on both sides and the server's lookup of its records,
    /// so batches of 1,000 cost less CPU per change pushed than batches of 500.
    static let pushBatchChanges = 1_000
    static let pushBatchBytes = 3 * 1024 * 1024
    /// Push requests in flight at once: the server verifies one batch while it stores the one before.
    static let pushesInFlight = 2
    static let pullPageSize = 1_000

    var diaryPath: String { "/v1/diaries/\(identity.diary.canonical)" }

    /// Sends every queued change. Two batches travel at once, so that this device reads and the server
    /// verifies one batch while the server stores the other; each batch leaves the outbox only when its
    /// own acknowledgement arrives. After a refusal no new batch is sent; the ones in flight finish, what
    /// they delivered is acknowledged, and the refusal is thrown.
    @discardableResult
    public func push(progress: ProgressHandler? = nil) async throws(ClientError) -> PushResult {
        var result = PushResult()
        // The count is only for the progress bar: a caller without one does not pay a read for it.
        let total = progress == nil ? 0 : try replica.outboxCount()
        var failure: ClientError?
        var after: Int64 = 0
        var exhausted = false
        // The diary's changes each batch stored, as (previous, latest], by previous (`Replica.acknowledge`).
        var stored: [Int64: Int64] = [:]
        await withTaskGroup(of: (PushBatch, Result<JSONValue, ClientError>).self) { group in
            var inFlight = 0
            while true {
                while failure == nil, !exhausted, inFlight < Self.pushesInFlight {
                    do {
                        guard let batch = try nextPushBatch(after: after) else {
                            exhausted = true
                            break
                        }
                        after = batch.lastPosition
                        group.addTask { (batch, await self.send(batch)) }
                        inFlight += 1
                    } catch {
                        failure = Replica.failure(error, "read")
                    }
                }
                guard let (batch, answer) = await group.next() else { break }
                inFlight -= 1
                do {
                    let members = try answer.get().objectValue
                    // A server older than the answer's `previous` leaves the cursor where it is.
                    if let previous = members?["previous"]?.intValue, let latest = members?["latest"]?.intValue, latest > previous {
                        stored[previous] = latest
                    }
                    try await replica.acknowledge(batch.positions, stored: stored)
                    result.sent += batch.positions.count
                    result.duplicates += Int(members?["duplicates"]?.intValue ?? 0)
                    progress?(SyncProgress(phase: .push, done: result.sent, total: max(total, result.sent)))
                } catch {
                    failure = failure ?? Replica.failure(error, "written")
                }
            }
        }
        if let failure { throw failure }
        return result
    }

    /// The next batch of the outbox after `position`, as one request body, or nil when none is left.
    private func nextPushBatch(after position: Int64) throws(ClientError) -> PushBatch? {
        var queued = try replica.outboxBatch(after: position, limit: Self.pushBatchChanges)
        guard !queued.isEmpty else { return nil }
        var size = 0
        if let cut = queued.indices.first(where: { index in
            size += queued[index].body.count + 1
            return size > Self.pushBatchBytes && index > 0
        }) {
            queued.removeSubrange(cut...)
        }
        var body = Array(#"{"changes":["#.utf8)
        body.reserveCapacity(size + 16)
        for (index, change) in queued.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: change.body)
        }
        body.append(contentsOf: Array("]}".utf8))
        return PushBatch(positions: queued.map(\.position), body: body)
    }

    private func send(_ batch: PushBatch) async -> Result<JSONValue, ClientError> {
        do {
            return .success(try await connection.signed(.POST, diaryPath + "/changes", body: batch.body, device: identity.device, key: key))
        } catch {
            return .failure(error)
        }
    }

    /// Brings in every change the server holds that this replica lacks. The next page is fetched while
    /// this one is merged; it is used only if the merge succeeds.
    @discardableResult
    public func pull(progress: ProgressHandler? = nil) async throws(ClientError) -> PullResult {
        var result = PullResult()
        var position = try replica.pullPosition()
        var pulled = 0
        var unknownAuthor = false
        var page = try await fetchPage(after: position.cursor).get()
        while true {
            if position.epoch.map({ $0 != page.epoch }) ?? false || position.cursor > page.latest {
                // A restored server: it forgot what was pushed after its backup. Push again everything
                // this device made, then pull from the start (merging is idempotent).
                guard !result.serverWasRestored else {
                    throw .server(status: 200, code: "epoch_unstable", message: "the server changed its epoch twice during one pull")
                }
                result.serverWasRestored = true
                _ = try replica.prepareForRestoredServer(epoch: page.epoch)
                try await push(progress: progress)
                position = PullPosition(epoch: page.epoch, cursor: 0)
                pulled = 0
                result.pulledChangeIDs = []
                page = try await fetchPage(after: 0).get()
                continue
            }
            async let following = page.more ? fetchPage(after: page.next) : nil
            if page.changes.isEmpty && position.epoch == page.epoch && position.cursor == page.next {
                try await replica.notePullWithoutChanges()
            } else {
                let merged = try await replica.merge(page.changes, next: page.next, epoch: page.epoch)
                result.received += merged.new
                unknownAuthor = unknownAuthor || merged.unknownAuthor
            }
            position = PullPosition(epoch: page.epoch, cursor: page.next)
            result.pulledChangeIDs.append(contentsOf: page.changes.map(\.change.id))
            pulled += page.changes.count
            progress?(SyncProgress(phase: .pull, done: pulled, total: pulled + Int(page.remaining)))
            guard let next = await following else { break }
            page = try next.get()
        }
        // The history names devices; learn the names of any new ones.
        if unknownAuthor { _ = try await devices() }
        return result
    }

    /// One page of changes after `cursor`, read and checked.
    private func fetchPage(after cursor: Int64) async -> Result<PulledPage, ClientError> {
        do {
            let answer = try await connection.signedBytes(
                .GET, diaryPath + "/changes", query: "after=\(cursor)&limit=\(Self.pullPageSize)", device: identity.device, key: key)
            return .success(try PulledPage(answer, connection: connection))
        } catch {
            return .failure(error)
        }
    }

    /// Push, then pull.
    public func sync(progress: ProgressHandler? = nil) async throws(ClientError) -> (push: PushResult, pull: PullResult) {
        let pushed = try await push(progress: progress)
        let pulled = try await pull(progress: progress)
        return (pushed, pulled)
    }

    // MARK: Membership

    /// The diary's devices, as the server lists them; the replica keeps the list for the history.
    public func devices() async throws(ClientError) -> [DiaryMember] {
        let answer = try await connection.signed(.GET, diaryPath + "/devices", device: identity.device, key: key)
        let members = (answer.objectValue?["devices"]?.arrayValue ?? []).compactMap(DiaryMember.init(json:))
        try replica.storeMembers(members)
        return members
    }

    /// Creates an invite for another device (owners only); `expiresIn` and `accessExpiresIn` in seconds.
    public func invite(role: DeviceRole, expiresIn: Int? = nil, accessExpiresIn: Int? = nil) async throws(ClientError) -> Invitation {
        var request: [String: JSONValue] = ["role": .string(role.rawValue)]
        if let expiresIn { request["expires_in_seconds"] = .int(Int64(expiresIn)) }
        if let accessExpiresIn { request["access_expires_in_seconds"] = .int(Int64(accessExpiresIn)) }
        let answer = try await connection.signed(
            .POST, diaryPath + "/invites", body: JSONValue.object(request).canonicalBytes, device: identity.device, key: key)
        guard let members = answer.objectValue, let code = members["code"]?.stringValue else {
            throw .server(status: 201, code: "bad_response", message: "the invite answer has no code")
        }
        return Invitation(code: code, diary: identity.diary, role: role, expiresAt: members["expires_at"]?.stringValue ?? "")
    }

    /// Revokes a device, named by its id, a unique id prefix or its exact name (owners only).
    public func revoke(_ device: String) async throws(ClientError) -> DiaryMember {
        let members = try await devices()
        let matches = members.filter { $0.id.canonical == device.lowercased() || $0.name == device }
        let byPrefix = members.filter { device.count >= 4 && $0.id.canonical.hasPrefix(device.lowercased()) }
        guard let target = matches.count == 1 ? matches[0] : (matches.isEmpty && byPrefix.count == 1 ? byPrefix[0] : nil) else {
            throw .invalid(
                matches.count + byPrefix.count == 0
                    ? "no device \(device) in this diary; `syncctl devices` lists them" : "\(device) names several devices; give its id")
        }
        let answer = try await connection.signed(
            .POST, diaryPath + "/devices/\(target.id.canonical)/revoke", device: identity.device, key: key)
        return DiaryMember(json: answer) ?? target
    }
}

/// An invite code for another device.
public struct Invitation: Sendable {
    public let code: String
    public let diary: UUID
    public let role: DeviceRole
    public let expiresAt: String
}

/// Queued changes sent in one push request.
struct PushBatch: Sendable {
    /// Their outbox positions, in order.
    let positions: [Int64]
    let body: [UInt8]

    /// The outbox position of the last of them: the next batch starts after it.
    var lastPosition: Int64 { positions.last! }
}

/// One page of a pull, read from the server's answer.
struct PulledPage: Sendable {
    let changes: [ReceivedChange]
    let next: Int64
    let more: Bool
    let remaining: Int64
    let latest: Int64
    let epoch: String

    init(_ answer: ServerConnection.Answer, connection: ServerConnection) throws(ClientError) {
        guard let (value, items) = try? JSONValue.parsing(answer.bytes, listing: "changes") else { throw connection.notJSON(answer) }
        guard let members = value.objectValue, let items, let next = members["next"]?.intValue,
            let more = members["more"]?.boolValue, let latest = members["latest"]?.intValue, let epoch = members["epoch"]?.stringValue
        else { throw .server(status: 200, code: "bad_response", message: "a pull page lacks changes, next, more, latest or epoch") }
        var changes: [ReceivedChange] = []
        changes.reserveCapacity(items.count)
        for item in items {
            do {
                changes.append(try ReceivedChange(item))
            } catch {
                throw .server(status: 200, code: "bad_change", message: "the server sent a change this device cannot read: \(error)")
            }
        }
        self.changes = changes
        self.next = next
        self.more = more
        self.remaining = members["remaining"]?.intValue ?? 0
        self.latest = latest
        self.epoch = epoch
    }
}

extension DiaryMember {
    init?(json: JSONValue) {
        guard let members = json.objectValue, let id = members["id"]?.stringValue.flatMap(UUID.init(canonical:)),
            let name = members["name"]?.stringValue, let role = members["role"]?.stringValue.flatMap(DeviceRole.init(rawValue:))
        else { return nil }
        self.init(
            id: id, name: name, role: role, revoked: members["revoked"]?.boolValue ?? false, createdAt: members["created_at"]?.stringValue,
            accessExpiresAt: members["access_expires_at"]?.stringValue)
    }
}

struct RecordCounts {
    var records = 0
    var deleted = 0
    var conflicts = 0
    /// Records (not deleted) of a type this version does not know.
    var newerKind = 0

    static func fetch(_ db: Database) throws -> RecordCounts {
        let known = RecordType.known.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT COUNT(*) AS records, COALESCE(SUM(deleted), 0) AS deleted, COALESCE(SUM(conflicts), 0) AS conflicts,
                    COALESCE(SUM(deleted = 0 AND type NOT IN (\(known))), 0) AS newerKind FROM record
                """)!
        return RecordCounts(records: row["records"], deleted: row["deleted"], conflicts: row["conflicts"], newerKind: row["newerKind"])
    }
}

struct SyncTimes {
    var push: Date?
    var pull: Date?

    static func fetch(_ db: Database) throws -> SyncTimes {
        let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT lastPushAt, lastPullAt FROM identity WHERE id = 1"))!
        return SyncTimes(push: row["lastPushAt"], pull: row["lastPullAt"])
    }
}
