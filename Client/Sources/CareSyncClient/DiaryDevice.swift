import Foundation
import SyncCore

/// This device's membership of one diary: its replica, its key and its server. Everything `syncctl`
/// does goes through it, and other Swift programs can use it the same way.
///
/// Local edits work offline; `push`, `pull` and `sync` talk to the server.
public final class DiaryDevice: Sendable {
    public let identity: DeviceIdentity
    let replica: Replica
    let key: DeviceKey
    let connection: ServerConnection

    /// Opens the device of a diary this home has joined (`diary` may be nil when it has joined one).
    public convenience init(home: ClientHome, diary: String? = nil) throws(ClientError) {
        let diary = try home.selectDiary(diary)
        let replica = try Replica(path: home.replicaPath(diary: diary))
        try self.init(replica: replica, key: home.loadKey(diary: diary))
    }

    init(replica: Replica, key: DeviceKey, server: String? = nil) throws(ClientError) {
        identity = try replica.identity()
        self.replica = replica
        self.key = key
        connection = try ServerConnection(server: server ?? identity.server, caFile: identity.caFile)
    }

    /// This device talking, for as long as the returned value lives, to another instance of its server:
    /// another address in front of the same database (PostgreSQL), as when one instance is down. The
    /// address the replica keeps is not changed.
    public func through(server: String) throws(ClientError) -> DiaryDevice {
        try DiaryDevice(replica: replica, key: key, server: server.hasSuffix("/") ? String(server.dropLast()) : server)
    }

    /// Joins a diary with an invite code: the server returns this device's id and key (the only time the
    /// key crosses the wire), which are kept in the home, the key in a file only its owner can read.
    public static func join(
        server: String, code: String, deviceName: String, home: ClientHome, caFile: String? = nil
    ) async throws(ClientError) -> DiaryDevice {
        let name = deviceName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw .invalid("the device needs a name, such as \"kitchen laptop\"") }
        let server = server.hasSuffix("/") ? String(server.dropLast()) : server
        let connection = try ServerConnection(server: server, caFile: caFile)
        let answer = try await connection.enroll(code: code, deviceName: name)
        guard let members = answer.objectValue, let device = members["device"]?.stringValue.flatMap(UUID.init(canonical:)),
            let diary = members["diary"]?.stringValue.flatMap(UUID.init(canonical:)),
            let role = members["role"]?.stringValue.flatMap(DeviceRole.init(rawValue:)),
            let key = members["key"]?.stringValue.flatMap(DeviceKey.init(hex:))
        else { throw .server(status: 201, code: "bad_response", message: "the enrollment answer lacks device, diary, role or key") }
        try home.storeKey(key, diary: diary.canonical)
        let identity = DeviceIdentity(
            server: server, caFile: caFile, diary: diary, diaryName: members["diary_name"]?.stringValue ?? "", device: device,
            deviceName: name, role: role, joinedAt: Date())
        do {
            return try DiaryDevice(replica: Replica.create(path: home.replicaPath(diary: diary.canonical), identity: identity), key: key)
        } catch {
            try? FileManager.default.removeItem(atPath: home.folder(diary: diary.canonical))
            throw error
        }
    }

    // MARK: Local edits

    /// Records a new record of any type; returns its id.
    @discardableResult
    public func add(_ type: RecordType, fields: [String: JSONValue], id: UUID = UUID.version7()) throws(ClientError) -> UUID {
        try replica.edit([EditRequest(target: .new(type, id), fields: fields)], by: identity, key: key)
        return id
    }

    /// Records the check-in of `fields["date"]`: the day's one record, created here, or updated (and
    /// restored, if it was deleted) when this device already holds it. Two devices that check in on the
    /// same day before syncing both create it; their fields then merge as any concurrent edits do.
    /// - Returns: the day's record id, and whether this call created it.
    @discardableResult
    public func checkIn(_ fields: [String: JSONValue]) throws(ClientError) -> (id: UUID, created: Bool) {
        guard let date = fields["date"]?.stringValue, CalendarText.isDate(date) else {
            let given = fields["date"].map(\.canonicalString) ?? "none"
            throw .invalid("new checkin: date must be a date written YYYY-MM-DD, today or yesterday (got \(given))")
        }
        let id = CheckinID.record(diary: identity.diary, date: date)
        guard let existing = try record(id) else { return (try add(.checkin, fields: fields, id: id), true) }
        var changes = fields
        changes["date"] = nil
        if existing.isDeleted { changes[RecordSchema.deleted.name] = false }
        guard !changes.isEmpty else { throw .invalid("checkin of \(date): give at least one field to record (see --help)") }
        try update(id, fields: changes)
        return (id, false)
    }

    /// Sets (or, with null, clears) fields of a record.
    public func update(_ id: UUID, fields: [String: JSONValue]) throws(ClientError) {
        try replica.edit([EditRequest(target: .existing(id), fields: fields)], by: identity, key: key)
    }

    /// Deletes a record: a tombstone that syncs like any other field, and can be undone by `restore`.
    public func delete(_ id: UUID) throws(ClientError) {
        try update(id, fields: [RecordSchema.deleted.name: true])
    }

    public func restore(_ id: UUID) throws(ClientError) {
        try update(id, fields: [RecordSchema.deleted.name: false])
    }

    // MARK: Reading

    public func records(_ type: RecordType? = nil, includeDeleted: Bool = false) throws(ClientError) -> [DiaryRecord] {
        try replica.records(type: type, includeDeleted: includeDeleted)
    }

    public func record(_ id: UUID) throws(ClientError) -> DiaryRecord? {
        try replica.record(id)
    }

    /// Finds a record by its id or a unique prefix of it.
    public func resolve(_ text: String) throws(ClientError) -> UUID {
        try replica.resolve(text)
    }

    /// What this device holds and has not pushed yet.
    public func status() throws(ClientError) -> DeviceStatus {
        let position = try replica.pullPosition()
        let counts = try replica.read { db in try RecordCounts.fetch(db) }
        let times = try replica.read { db in try SyncTimes.fetch(db) }
        return DeviceStatus(
            identity: identity, pending: try replica.outboxCount(), records: counts.records, deleted: counts.deleted,
            conflicts: counts.conflicts, newerKind: counts.newerKind, epoch: position.epoch, cursor: position.cursor, lastPushAt: times.push,
            lastPullAt: times.pull)
    }
}

/// A summary of the device's replica, for `syncctl status`.
public struct DeviceStatus: Sendable {
    public let identity: DeviceIdentity
    /// Changes made here that the server has not acknowledged yet.
    public let pending: Int
    public let records: Int
    public let deleted: Int
    public let conflicts: Int
    /// Records of a type this version does not know: kept and synced, shown once syncctl is upgraded.
    public let newerKind: Int
    public let epoch: String?
    public let cursor: Int64
    public let lastPushAt: Date?
    public let lastPullAt: Date?
}
