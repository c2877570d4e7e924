import Foundation
import Logging
import NIOCore
import PostgresNIO
import SyncCore

/// Stores one push's verified changes in a transaction holding its diary's row lock: a few statements
/// whatever the batch's size. It decides each change in Swift by the rules SQLite's `ChangeWriter` keeps
/// (a duplicate is skipped; an id reused with other content, a reused stamp or a change of type refuses
/// the batch), then inserts the new changes at the diary's next ordinals and writes their records back.
///
/// A push mostly brings changes the server has never seen, so the writer first assumes so
/// (`checksStored` false) and leaves it to the log's unique constraints to say otherwise; the store then
/// writes the batch again with `checksStored`, reading the stored ids and stamps the batch could collide
/// with, which tells duplicates from refusals. It assumes the same of records: a new record's row is
/// inserted without reading first, and only the records the diary already holds are read and merged.
/// A record made by one change names that change (`sole_ordinal`) rather than listing its fields.
///
/// Each lookup of a batch's keys is one index probe per key, a `LATERAL` subquery that `OFFSET 0` keeps
/// from being flattened into a join: as `= ANY(…)` or a join, a diary that grew faster than PostgreSQL's
/// statistics was read whole, record by record, for every batch.
struct PostgresChangeWriter {
    let connection: PostgresConnection
    let diary: String
    let batch: StorableBatch
    let checksStored: Bool
    let logger: Logger

    /// The constraints whose violation sends a batch back to be written with `checksStored`.
    static let collisions: Set<String> = ["change_id_unique", "change_stamp_unique"]

    mutating func write() async throws -> PushOutcome {
        // The lock orders this diary's pushes: the next one reads `last_ordinal` after this one commits.
        guard
            let previous = try await connection.query("SELECT last_ordinal FROM diary WHERE id = \(diary) FOR UPDATE", logger: logger).decode(
                Int64.self
            ).first(where: { _ in true })
        else { throw PostgresRowError("no diary \(diary)") }
        let changes = batch.changes
        var storedBodies: [String: [UInt8]] = [:]
        var stampOwners: [Int64: String] = [:]
        if checksStored {
            for try await (id, body) in try await connection.query(
                "SELECT k.id, c.body FROM unnest(\(changes.map(\.id))) AS k(id) CROSS JOIN LATERAL (SELECT body FROM change WHERE id = k.id OFFSET 0) c",
                logger: logger
            ).decode((String, ByteBuffer).self) {
                storedBodies[id] = Array(body.readableBytesView)
            }
            for try await (hlc, id) in try await connection.query(
                """
                SELECT k.hlc, c.id FROM unnest(\(changes.map { $0.change.hlc.packed })) AS k(hlc)
                CROSS JOIN LATERAL (SELECT id FROM change WHERE author = \(batch.author) AND hlc = k.hlc OFFSET 0) c
                """, logger: logger
            ).decode((Int64, String).self) {
                stampOwners[hlc] = id
            }
        }
        // A push mostly creates records, so its records are first taken as new; the ones the diary already
        // holds are read and merged again after the insert says which they are. A refusal among records taken
        // as new could stand behind an earlier one in a stored record, so it is decided again knowing them all.
        var decision: Decision
        do {
            decision = try decide(previous: previous, storedBodies: storedBodies, stampOwners: stampOwners, records: [:])
        } catch StoreRefusal.typeChanged {
            decision = try decide(
                previous: previous, storedBodies: storedBodies, stampOwners: stampOwners,
                records: try await storedRecords(Array(Set(changes.map(\.record)))))
        }
        guard !decision.inserted.isEmpty else { return decision.outcome }

        let inserted = decision.inserted
        try await connection.query(
            """
            INSERT INTO change (diary_id, ordinal, id, record_id, type, hlc, author, body, received_at)
            SELECT \(diary), n.ordinal, n.id, n.record_id, n.type, n.hlc, \(batch.author), n.body, \(batch.receivedAt)
            FROM unnest(\(Array(previous + 1...decision.outcome.latest)), \(inserted.map(\.id)), \(inserted.map(\.record)),
                        \(inserted.map(\.change.type.rawValue)), \(inserted.map { $0.change.hlc.packed }),
                        \(inserted.map { ByteBuffer(bytes: $0.body) })) AS n(ordinal, id, record_id, type, hlc, body)
            """, logger: logger)
        let touched = decision.records.values.filter(\.touched)
        let created = try await write(touched, overwriting: false)
        let existing = touched.map(\.id).filter { !created.contains($0) }
        if !existing.isEmpty {
            decision = try decide(
                previous: previous, storedBodies: storedBodies, stampOwners: stampOwners, records: try await storedRecords(existing))
            try await write(decision.records.values.filter { $0.touched && $0.exists }, overwriting: true)
        }
        try await connection.query("UPDATE diary SET last_ordinal = \(decision.outcome.latest) WHERE id = \(diary)", logger: logger)
        return decision.outcome
    }

    /// What storing the batch over `records` (the stored ones it names; the rest are new) comes to.
    struct Decision {
        var outcome: PushOutcome
        var inserted: [StorableChange] = []
        var records: [UUID: CurrentRecord]
    }

    /// Decides each change in order: a duplicate is skipped; a reused id or stamp, or a change of a
    /// record's type, refuses the batch at its index.
    func decide(previous: Int64, storedBodies: [String: [UInt8]], stampOwners: [Int64: String], records: [UUID: CurrentRecord]) throws
        -> Decision
    {
        var storedBodies = storedBodies
        var stampOwners = stampOwners
        var decision = Decision(outcome: PushOutcome(latest: previous, previous: previous), records: records)
        for (index, storable) in batch.changes.enumerated() {
            if let body = storedBodies[storable.id] {
                guard body == storable.body else { throw StoreRefusal.changeIDReused(index: index, change: storable.id) }
                decision.outcome.duplicates += 1
                continue
            }
            let hlc = storable.change.hlc.packed
            if let owner = stampOwners[hlc] { throw StoreRefusal.stampReused(index: index, change: storable.id, storedChange: owner) }
            decision.outcome.latest += 1
            do {
                try decision.records[storable.change.record, default: CurrentRecord(id: storable.record, type: nil, fields: [:], exists: false)]
                    .store(storable, seq: decision.outcome.latest)
            } catch {
                throw StoreRefusal.typeChanged(index: index, reason: error.description)
            }
            // Later changes of the batch meet this one as stored.
            storedBodies[storable.id] = storable.body
            stampOwners[hlc] = storable.id
            decision.inserted.append(storable)
        }
        decision.outcome.stored = decision.inserted.count
        return decision
    }

    /// Writes the records' current state: as new rows, leaving a record the diary holds as it was, or
    /// over the stored ones. A record one change made names it (`sole_ordinal`), any other lists its fields.
    /// Returns the ids of the rows it wrote.
    @discardableResult
    func write(_ records: [CurrentRecord], overwriting: Bool) async throws -> Set<String> {
        // Arrays cannot hold a null here: 0 is no ordinal (they start at 1), and stored fields are never empty.
        let stored = records.map(\.stored)
        let soles = stored.map { $0.sole ?? 0 }
        let fields = stored.map { ByteBuffer(bytes: $0.fields ?? []) }
        var written: Set<String> = []
        for try await id in try await connection.query(
            """
            INSERT INTO record (diary_id, id, type, sole_ordinal, fields)
            SELECT \(diary), r.id, r.type, NULLIF(r.sole_ordinal, 0), NULLIF(r.fields, '')
            FROM unnest(\(records.map(\.id)), \(records.map { $0.type?.rawValue ?? "" }), \(soles), \(fields)) AS r(id, type, sole_ordinal, fields)
            ON CONFLICT (diary_id, id) DO \(unescaped: overwriting ? "UPDATE SET sole_ordinal = EXCLUDED.sole_ordinal, fields = EXCLUDED.fields" : "NOTHING")
            RETURNING id
            """, logger: logger
        ).decode(String.self) {
            written.insert(id)
        }
        return written
    }

    /// The stored records of this diary among `ids`, each read by one probe of the primary key.
    func storedRecords(_ ids: [String]) async throws -> [UUID: CurrentRecord] {
        var records: [UUID: CurrentRecord] = [:]
        for try await (id, type, fields, soleBody) in try await connection.query(
            """
            SELECT k.id, r.type, r.fields, c.body FROM unnest(\(ids)) AS k(id)
            CROSS JOIN LATERAL (SELECT type, fields, sole_ordinal FROM record WHERE diary_id = \(diary) AND id = k.id OFFSET 0) r
            LEFT JOIN change c ON c.diary_id = \(diary) AND c.ordinal = r.sole_ordinal
            """, logger: logger
        ).decode((String, String, ByteBuffer?, ByteBuffer?).self) {
            guard let uuid = UUID(canonical: id) else { continue }
            records[uuid] = CurrentRecord(
                id: id, type: RecordType(rawValue: type), fields: try PostgresStore.entries(fields: fields, soleBody: soleBody),
                exists: true)
        }
        return records
    }
}
