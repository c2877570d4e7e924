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

    /// When it happened, as written: a flare's or treatment's start, a lab's time taken, or the day of
    /// a check-in, an imaging study or a growth measurement.
    public var when: String? { (values["started"] ?? values["taken"] ?? values["date"])?.stringValue }

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
            let migrator = ReplicaSchema.migrator
            // A replica a newer syncctl migrated further holds forms this one cannot read.
            let unknown = try migrator.unknownMigrations(in: pool)
            guard unknown.isEmpty else {
                throw ClientError.setup(
                    "the replica \(path) was upgraded by a newer syncctl (\(unknown.joined(separator: "; "))); "
                        + "upgrade syncctl, or restore a copy of this home made before")
            }
            try migrator.migrate(pool)
            syncReader = try DatabaseQueue.oneStatementReader(path: path)
        } catch let error as ClientError {
            throw error
        } catch {
            throw .setup("cannot open the replica \(path): \(error)")
        }
    }

    /// Leaves the whole replica in its database file, the log emptied (`WALCheckpointer.close`). Before,
    /// a command could exit in the middle of a background copy (`syncctl import` left its log behind);
    /// the next command, a push, finished it on the import's behalf, and the replica file alone lacked
    /// what had been imported.
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
    /// one costs more than running it.
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
        let records = try read { db in try Row.fetchAll(db, sql: sql, arguments: arguments).map { try Self.record($0, in: db) } }
        return records.sorted {
            let left = $0.when ?? ""
            let right = $1.when ?? ""
            return left != right ? left > right : $0.id.canonical > $1.id.canonical
        }
    }

    func record(_ id: UUID) throws(ClientError) -> DiaryRecord? {
        try read { db in
            try Row.fetchOne(db, sql: Self.selectRecords + " WHERE id = ?", arguments: [id.canonical]).map { try Self.record($0, in: db) }
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
    private static let selectRecords = "SELECT id, type, deleted, conflicts, updatedHLC, state, \(RecordMerger.soleBody) FROM record"

    private static func record(_ row: Row, in db: Database) throws -> DiaryRecord {
        let id = UUID(canonical: row["id"])!
        let values = try RecordMerger.StoredRecord(row, of: id).currentValues()
        return DiaryRecord(
            id: id, type: RecordType(rawValue: row["type"])!, isDeleted: row["deleted"], values: values,
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
    /// New records made by one pulled change so far, not merged: each row names its change by its seq
    /// in the log (`soleSeq`; a fresh device's pull is mostly such records), and is merged as usual once
    /// a second change comes.
    private var soles: [UUID: Change] = [:]

    init() {}

    /// A merger holding the given stored records (as `storedStates(of:in:)` read them), parsed here.
    init(stored: [UUID: StoredRecord]) throws {
        for (id, record) in stored { states[id] = try record.state() }
    }

    /// The record's merged state, or nil if the replica has never seen it.
    mutating func state(of id: UUID, in db: Database) throws -> RecordState? {
        if let state = states[id] { return state }
        let select = try BoundStatement(db, sql: "SELECT state, \(Self.soleBody) FROM record WHERE id = :id")
        guard
            let stored = try select.firstRow(
                { values in values.text(":id", id.canonical) },
                { row in try StoredRecord(state: row.optionalBlob(0).map { Data($0) }, soleBody: row.optionalBlob(1).map { Data($0) }, of: id) })
        else { return nil }
        let state = try stored.state()
        states[id] = state
        return state
    }

    /// The stored records of those of `ids` the replica holds, read in one statement.
    static func storedStates(of ids: some Collection<UUID>, in db: Database) throws -> [UUID: StoredRecord] {
        var stored: [UUID: StoredRecord] = [:]
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT id, state, \(soleBody) FROM record WHERE id IN (SELECT value FROM json_each(?))"),
            arguments: [jsonList(ids.map(\.canonical))])
        while let row = try rows.next() {
            if let id = UUID(canonical: row["id"]) { stored[id] = try StoredRecord(row, of: id) }
        }
        return stored
    }

    /// The column a query of `record` adds for `StoredRecord`: the body of the change `soleSeq` names.
    static let soleBody = "(SELECT body FROM change WHERE change.seq = record.soleSeq) AS soleBody"

    /// A record as stored: a merged state (`RecordState.storedBytes`) in `state`, or, for a record one
    /// pulled change made alone, the signed body of the change its `soleSeq` names.
    enum StoredRecord: Sendable {
        case merged(Data)
        case sole(body: Data, record: UUID)

        /// From a row holding `state` and `soleBody`.
        init(_ row: Row, of record: UUID) throws {
            try self.init(state: row["state"], soleBody: row["soleBody"], of: record)
        }

        init(state: Data?, soleBody: Data?, of record: UUID) throws {
            if let state {
                self = .merged(state)
            } else if let soleBody {
                self = .sole(body: soleBody, record: record)
            } else {
                throw ClientError.setup("the replica is damaged: record \(record.canonical) has no state and names no change of its log")
            }
        }

        /// The merged state: a record of one change is that change merged into a new record.
        func state() throws -> RecordState {
            switch self {
            case .merged(let data):
                return try RecordState(storedValue: JSONValue(parsing: data))
            case .sole(let body, let record):
                let change = try SignedChange(wireValue: JSONValue(parsing: body)).change
                guard change.record == record else {
                    throw ClientError.setup(
                        "the replica is damaged: record \(record.canonical) names change \(change.id.canonical), which is of another record")
                }
                var state = RecordState(id: record, type: change.type)
                try state.apply(change)
                return state
            }
        }

        /// The current values, cleared fields left out, as a listing shows them. A record of one change
        /// holds that change's fields: they are read from its body, which was checked when it was
        /// logged, without reading it into a change and merging it, which made `syncctl export` slower.
        func currentValues() throws -> [String: JSONValue] {
            switch self {
            case .merged(let data):
                return try RecordState.currentValues(stored: data)
            case .sole(let body, let record):
                let members = try JSONValue(parsing: body).objectValue
                guard members?["record"]?.stringValue == record.canonical, let fields = members?["fields"]?.objectValue else {
                    throw ClientError.setup("the replica is damaged: record \(record.canonical) names a change of another record")
                }
                return fields.filter { !$0.value.isNull }
            }
        }
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
            db,
            sql: """
                INSERT INTO change (id, recordId, type, hlc, author, body) VALUES (:id, :recordId, :type, :hlc, :author, :body)
                ON CONFLICT (id) DO NOTHING
                """
        ).run { values in
            values.text(":id", change.id.canonical)
            values.text(":recordId", change.record.canonical)
            values.text(":type", change.type.rawValue)
            values.integer(":hlc", change.hlc.packed)
            values.text(":author", change.author.canonical)
            values.blob(":body", body)
        }
        return db.changesCount > 0 ? db.lastInsertedRowID : nil
    }

    /// Merges a pulled change into its record as loaded (a record not loaded is new). A new record's
    /// first change is kept aside instead (`soles`), until a second one comes.
    mutating func applyPulled(_ change: Change) throws(ClientError) {
        if states[change.record] == nil {
            guard let first = soles.removeValue(forKey: change.record) else {
                soles[change.record] = change
                return
            }
            try apply(first)
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
        let stored: Stored

        enum Stored: Sendable {
            /// The merged state (`RecordState.storedBytes`).
            case merged([UInt8])
            /// A record of one change, whose row names the change by its seq in the log.
            case sole(change: UUID)
        }
    }

    /// The stored form of every touched record.
    func encoded() -> [EncodedRecord] {
        soles.values.map { change in
            // What merging the one change into a new record gives: its `deleted` value, no conflict,
            // and its stamp if it sets any field.
            EncodedRecord(
                id: change.record.canonical, type: change.type.rawValue,
                deleted: change.fields[RecordSchema.deleted.name]?.boolValue ?? false, conflicts: 0,
                updatedHLC: change.fields.isEmpty ? 0 : change.hlc.packed, stored: .sole(change: change.id))
        }
            + touched.map { id in
                let state = states[id]!
                return EncodedRecord(
                    id: id.canonical, type: state.type.rawValue, deleted: state.isDeleted, conflicts: state.conflictCount,
                    updatedHLC: state.lastStamp?.hlc.packed ?? 0, stored: .merged(state.storedBytes))
            }
    }

    /// Writes every touched record back.
    mutating func flush(to db: Database) throws {
        try Self.write(encoded(), to: db)
        touched.removeAll()
        soles.removeAll()
    }

    /// - Parameter seqs: the log's seq of each change that a record of one change names.
    static func write(_ records: [EncodedRecord], seqs: [UUID: Int64] = [:], to db: Database) throws {
        let statement = try BoundStatement(
            db,
            sql: """
                INSERT INTO record (id, type, deleted, conflicts, updatedHLC, soleSeq, state)
                VALUES (:id, :type, :deleted, :conflicts, :updatedHLC, :soleSeq, :state)
                ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, conflicts = excluded.conflicts,
                    updatedHLC = excluded.updatedHLC, soleSeq = excluded.soleSeq, state = excluded.state
                """)
        for record in records {
            var (sole, state): (Int64?, [UInt8]?) = (nil, nil)
            switch record.stored {
            case .merged(let bytes):
                state = bytes
            case .sole(let change):
                guard let seq = seqs[change] else { throw ClientError.setup("change \(change.canonical) was not logged before its record") }
                sole = seq
            }
            try statement.run { values in
                values.text(":id", record.id)
                values.text(":type", record.type)
                values.integer(":deleted", record.deleted ? 1 : 0)
                values.integer(":conflicts", Int64(record.conflicts))
                values.integer(":updatedHLC", record.updatedHLC)
                values.integer(":soleSeq", sole)
                values.blob(":state", state)
            }
        }
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
