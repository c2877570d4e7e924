import Foundation
import GRDB
import SQLiteSupport
import SyncCore

/// Who a device is in one diary, as enrollment told it.
public struct DeviceIdentity: Sendable, Equatable {
    public let server: String
    /// A PEM file of certificates to trust for an HTTPS server with its own certificate authority.
    public let caFile: String?
    public let diary: UUID
    public let diaryName: String
    public let device: UUID
    public let deviceName: String
    public let role: DeviceRole
    public let joinedAt: Date
}

/// One record as the diary shows it: its current values after the merge.
public struct DiaryRecord: Sendable, Equatable {
    public let id: UUID
    public let type: RecordType
    public let isDeleted: Bool
    /// Current values by wire field name (`dosage` holds dose and unit together).
    public let values: [String: JSONValue]
    /// When it last changed (the greatest stamp among its values).
    public let updated: HLC
    /// How many overridden concurrent edits are open on it.
    public let conflicts: Int

    /// Cross-field oddities a merge can produce, such as an end before the start.
    public var warnings: [String] { RecordSchema.warnings(type: type, fields: values) }
}

/// A device's local replica of one diary in SQLite: identity, clock, change log, outbox, merged records,
/// pull cursor. Every write is one transaction, so an edit, a merge or a cursor move is whole or absent.
final class Replica: Sendable {
    let pool: DatabasePool
    /// Copies the log into the database file on a thread of its own, so that no merge waits for it.
    let checkpointer: WALCheckpointer
    /// The connection of the one-statement reads of every sync (`readOneStatement`), beside the pool.
    private let syncReader: DatabaseQueue

    init(path: String) throws(ClientError) {
        let checkpointer = WALCheckpointer(path: path)
        self.checkpointer = checkpointer
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // A local edit is a medical record: it must survive a crash right after syncctl returns.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            checkpointer.watch(db)
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try ReplicaSchema.migrator.migrate(pool)
            syncReader = try DatabaseQueue.oneStatementReader(path: path)
        } catch {
            throw .setup("cannot open the replica \(path): \(error)")
        }
    }

    /// Leaves the whole replica in its database file, the log emptied (`WALCheckpointer.close`). Before,
    /// a command could exit in the middle of a background copy (`syncctl import` of 3,000 flares left a
    /// 6.4 MB log behind); the next command, a push, finished it on the import's behalf, and the replica
    /// file alone lacked what had been imported.
    deinit { checkpointer.close() }

    /// Creates the replica of a device that has just enrolled.
    static func create(path: String, identity: DeviceIdentity) throws(ClientError) -> Replica {
        let replica = try Replica(path: path)
        try replica.write { db in
            try db.execute(
                sql: """
                    INSERT INTO identity (id, server, caFile, diary, diaryName, device, deviceName, role, joinedAt)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    identity.server, identity.caFile, identity.diary.canonical, identity.diaryName, identity.device.canonical,
                    identity.deviceName, identity.role.rawValue, identity.joinedAt,
                ])
        }
        return replica
    }

    /// Runs a write transaction, passing `ClientError`s through and naming any other failure.
    func write<T>(_ body: (Database) throws -> T) throws(ClientError) -> T {
        do { return try pool.write(body) } catch { throw Self.failure(error, "written") }
    }

    func read<T>(_ body: (Database) throws -> T) throws(ClientError) -> T {
        do { return try pool.read(body) } catch { throw Self.failure(error, "read") }
    }

    /// A read of one statement, for the reads of every sync, on a connection of its own
    /// (`DatabaseQueue.oneStatementReader`). A body of several statements must use `read`.
    func readOneStatement<T>(_ body: (Database) throws -> T) throws(ClientError) -> T {
        do { return try syncReader.inDatabase(body) } catch { throw Self.failure(error, "read") }
    }

    /// A write on GRDB's writer queue (sync traffic awaits the writer without holding one of Swift's few
    /// cooperative threads, so many devices in one process keep moving) whose loss in a power failure
    /// costs only a repeat, because the server holds what it records: a pulled page (pulled again) or an
    /// acknowledgement (pushed again and counted as a duplicate). It is one transaction, whole or absent
    /// like every other, but it does not wait for the disk: under `synchronous=NORMAL` a WAL commit is not
    /// fsynced, and the next durable commit (a local edit) flushes it with its own, in order. Its
    /// statements, like the other statements of every sync, are prepared once per connection: preparing
    /// one costs more than running it (5 % of the CPU of 50 devices syncing at once went to preparing).
    func asyncWriteWithoutFsync<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(ClientError) -> T {
        do {
            return try await pool.writeWithoutTransaction { db in
                try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute()
                defer { try? db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute() }
                var result: T?
                try db.inTransaction {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch {
            throw Self.failure(error, "written")
        }
    }

    static func failure(_ error: any Error, _ doing: String) -> ClientError {
        (error as? ClientError) ?? .setup("the local replica could not be \(doing): \(error)")
    }

    func identity() throws(ClientError) -> DeviceIdentity {
        try read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM identity WHERE id = 1")),
                let diary = UUID(canonical: row["diary"]), let device = UUID(canonical: row["device"]),
                let role = DeviceRole(rawValue: row["role"])
            else { throw ClientError.setup("the replica has no device identity: this device must join again") }
            return DeviceIdentity(
                server: row["server"], caFile: row["caFile"], diary: diary, diaryName: row["diaryName"], device: device,
                deviceName: row["deviceName"], role: role, joinedAt: row["joinedAt"])
        }
    }

    // MARK: Records

    /// The records of one type (or all), newest start first.
    func records(type: RecordType?, includeDeleted: Bool) throws(ClientError) -> [DiaryRecord] {
        var sql = Self.selectRecords + " WHERE 1 = 1"
        var arguments: StatementArguments = []
        if let type {
            sql += " AND type = ?"
            arguments += [type.rawValue]
        }
        if !includeDeleted { sql += " AND deleted = 0" }
        let records = try read { db in try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.record) }
        return records.sorted {
            let left = $0.values["started"]?.stringValue ?? ""
            let right = $1.values["started"]?.stringValue ?? ""
            return left != right ? left > right : $0.id.canonical > $1.id.canonical
        }
    }

    func record(_ id: UUID) throws(ClientError) -> DiaryRecord? {
        try read { db in
            try Row.fetchOne(
                db, sql: Self.selectRecords + " WHERE id = ?", arguments: [id.canonical]
            ).map(Self.record)
        }
    }

    /// Finds a record by its id or a unique prefix of it (at least 4 characters), as people type them.
    func resolve(_ text: String) throws(ClientError) -> UUID {
        let prefix = text.lowercased()
        if let id = UUID(canonical: prefix) { return id }
        guard prefix.count >= 4, prefix.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw .invalid("\(text) is not a record id")
        }
        let matches = try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM record WHERE id LIKE ? LIMIT 2", arguments: [prefix + "%"])
        }
        guard matches.count == 1, let id = UUID(canonical: matches[0]) else {
            throw .invalid(matches.isEmpty ? "no record with id \(text) in this diary" : "\(text) matches several records; give more of the id")
        }
        return id
    }

    /// The columns `record(_:)` reads.
    private static let selectRecords = "SELECT id, type, deleted, conflicts, updatedHLC, state FROM record"

    private static func record(_ row: Row) throws -> DiaryRecord {
        let values = try RecordState.currentValues(stored: row["state"] as Data)
        return DiaryRecord(
            id: UUID(canonical: row["id"])!, type: RecordType(rawValue: row["type"])!, isDeleted: row["deleted"], values: values,
            updated: HLC(packed: row["updatedHLC"]), conflicts: row["conflicts"])
    }
}

/// The merged records touched by one transaction: read once, merged in memory, written back once.
/// Local edits, imports and pulls all merge through it, so a record is merged one way only. Reading and
/// writing need the transaction's connection; merging and encoding (`apply(_:)`, `encoded()`) do not,
/// so a pull runs them on another thread while the writer logs the changes.
struct RecordMerger {
    private var states: [UUID: RecordState] = [:]
    private var touched: Set<UUID> = []
    /// New records made by one change so far, encoded from that change's bytes without merging (a
    /// fresh device's pull is mostly such records); merged as usual once a second change comes.
    private var soles: [UUID: (change: Change, encoded: EncodedRecord)] = [:]

    init() {}

    /// A merger holding the given stored states (as `storedStates(of:in:)` read them), parsed here.
    init(stored: [UUID: Data]) throws {
        for (id, data) in stored { states[id] = try RecordState(storedValue: JSONValue(parsing: data)) }
    }

    /// The record's merged state, or nil if the replica has never seen it.
    mutating func state(of id: UUID, in db: Database) throws -> RecordState? {
        if let state = states[id] { return state }
        guard
            let stored = try BoundStatement(db, sql: "SELECT state FROM record WHERE id = ?").firstRow(
                { values in values.text(id.canonical) }, { $0.blob(0) })
        else { return nil }
        let state = try RecordState(storedValue: JSONValue(parsing: stored))
        states[id] = state
        return state
    }

    /// The stored states of those of `ids` the replica holds, read in one statement.
    static func storedStates(of ids: some Collection<UUID>, in db: Database) throws -> [UUID: Data] {
        var stored: [UUID: Data] = [:]
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT id, state FROM record WHERE id IN (SELECT value FROM json_each(?))"),
            arguments: [jsonList(ids.map(\.canonical))])
        while let row = try rows.next() {
            if let id = UUID(canonical: row["id"]) { stored[id] = row["state"] }
        }
        return stored
    }

    /// Of `changes`, those the log does not hold yet, each once, in their order (one statement).
    static func unheld(_ changes: [ReceivedChange], in db: Database) throws -> [ReceivedChange] {
        var skip = try String.fetchSet(
            db.cachedStatement(sql: "SELECT id FROM change WHERE id IN (SELECT value FROM json_each(?))"),
            arguments: [jsonList(changes.map(\.change.id.canonical))])
        return changes.filter { skip.insert($0.change.id.canonical).inserted }
    }

    /// A JSON list of ids, for `json_each`: canonical UUIDs need no escaping.
    private static func jsonList(_ ids: [String]) -> String {
        "[" + ids.map { "\"\($0)\"" }.joined(separator: ",") + "]"
    }

    /// Stores a signed change in the log (a change the log holds already is left as it is).
    /// - Returns: the change's seq in the log, or nil if the log held it already.
    @discardableResult
    static func log(_ change: Change, body: [UInt8], in db: Database) throws -> Int64? {
        try BoundStatement(
            db, sql: "INSERT INTO change (id, recordId, type, hlc, author, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
        ).run { values in
            values.text(change.id.canonical)
            values.text(change.record.canonical)
            values.text(change.type.rawValue)
            values.integer(change.hlc.packed)
            values.text(change.author.canonical)
            values.blob(body)
        }
        return db.changesCount > 0 ? db.lastInsertedRowID : nil
    }

    /// Merges a received change into its record as loaded (a record not loaded is new).
    mutating func apply(_ received: ReceivedChange) throws(ClientError) {
        let change = received.change
        if states[change.record] == nil {
            if let first = soles.removeValue(forKey: change.record) {
                try apply(first.change)
            } else if let encoded = EncodedRecord(newRecordFrom: received) {
                soles[change.record] = (change, encoded)
                return
            }
        }
        try apply(change)
    }

    /// Merges a change into its record as loaded (a record not loaded is new).
    mutating func apply(_ change: Change) throws(ClientError) {
        var state = states[change.record] ?? RecordState(id: change.record, type: change.type)
        do {
            try state.apply(change)
        } catch {
            throw ClientError.invalid("change \(change.id.canonical) cannot be merged: \(error)")
        }
        states[change.record] = state
        touched.insert(change.record)
    }

    /// A touched record as the replica stores it.
    struct EncodedRecord: Sendable {
        let id: String
        let type: String
        let deleted: Bool
        let conflicts: Int
        let updatedHLC: Int64
        let stored: [UInt8]
    }

    /// The stored form of every touched record.
    func encoded() -> [EncodedRecord] {
        soles.values.map(\.encoded)
            + touched.map { id in
                let state = states[id]!
                return EncodedRecord(
                    id: id.canonical, type: state.type.rawValue, deleted: state.isDeleted, conflicts: state.conflictCount,
                    updatedHLC: state.lastStamp?.hlc.packed ?? 0, stored: state.storedBytes)
            }
    }

    /// Writes every touched record back.
    mutating func flush(to db: Database) throws {
        try Self.write(encoded(), to: db)
        touched.removeAll()
        soles.removeAll()
    }

    static func write(_ records: [EncodedRecord], to db: Database) throws {
        let statement = try BoundStatement(
            db,
            sql: """
                INSERT INTO record (id, type, deleted, conflicts, updatedHLC, state) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, conflicts = excluded.conflicts,
                    updatedHLC = excluded.updatedHLC, state = excluded.state
                """)
        for record in records {
            try statement.run { values in
                values.text(record.id)
                values.text(record.type)
                values.integer(record.deleted ? 1 : 0)
                values.integer(Int64(record.conflicts))
                values.integer(record.updatedHLC)
                values.blob(record.stored)
            }
        }
    }
}

extension RecordMerger.EncodedRecord {
    /// The stored form of the record `received` makes alone, where its bytes can be used as they are.
    init?(newRecordFrom received: ReceivedChange) {
        guard let stored = RecordState.storedBytes(ofNewRecordFrom: received) else { return nil }
        let change = received.change
        self.init(
            id: change.record.canonical, type: change.type.rawValue, deleted: change.fields[RecordSchema.deleted.name]?.boolValue ?? false,
            conflicts: 0, updatedHLC: change.hlc.packed, stored: stored)
    }
}

/// Work handed to another thread by a thread that does its own part meanwhile, then waits for it: the
/// replica's writer merges a pulled page's records this way while it logs the page's changes.
final class OffThread<Value: Sendable>: @unchecked Sendable {
    // Written once by the worker before `done` is signalled, read only after waiting for it.
    private var result: Result<Value, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.result = Result { try work() }
            self.done.signal()
        }
    }

    /// Waits for the work; call it once.
    func value() throws -> Value {
        done.wait()
        return try result!.get()
    }
}
