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
/// with, which tells duplicates from refusals.
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
        var records: [UUID: CurrentRecord] = [:]
        for try await (id, type, fields) in try await connection.query(
            """
            SELECT k.id, r.type, r.fields FROM unnest(\(Array(Set(changes.map(\.record))))) AS k(id)
            CROSS JOIN LATERAL (SELECT type, fields FROM record WHERE diary_id = \(diary) AND id = k.id OFFSET 0) r
            """, logger: logger
        ).decode((String, String, ByteBuffer).self) {
            guard let uuid = UUID(canonical: id) else { continue }
            records[uuid] = CurrentRecord(
                id: id, type: RecordType(rawValue: type), fields: try CurrentFields.read(Data(fields.readableBytesView)), exists: true)
        }

        var outcome = PushOutcome(latest: previous, previous: previous)
        var inserted: [StorableChange] = []
        for (index, storable) in changes.enumerated() {
            if let body = storedBodies[storable.id] {
                guard body == storable.body else { throw StoreRefusal.changeIDReused(index: index, change: storable.id) }
                outcome.duplicates += 1
                continue
            }
            let hlc = storable.change.hlc.packed
            if let owner = stampOwners[hlc] { throw StoreRefusal.stampReused(index: index, change: storable.id, storedChange: owner) }
            outcome.latest += 1
            do {
                try records[storable.change.record, default: CurrentRecord(id: storable.record, type: nil, fields: [:], exists: false)].store(
                    storable, seq: outcome.latest)
            } catch {
                throw StoreRefusal.typeChanged(index: index, reason: error.description)
            }
            // Later changes of the batch meet this one as stored.
            storedBodies[storable.id] = storable.body
            stampOwners[hlc] = storable.id
            inserted.append(storable)
        }
        outcome.stored = inserted.count
        guard !inserted.isEmpty else { return outcome }

        try await connection.query(
            """
            INSERT INTO change (diary_id, ordinal, id, record_id, type, hlc, author, body, received_at)
            SELECT \(diary), n.ordinal, n.id, n.record_id, n.type, n.hlc, \(batch.author), n.body, \(batch.receivedAt)
            FROM unnest(\(Array(previous + 1...outcome.latest)), \(inserted.map(\.id)), \(inserted.map(\.record)),
                        \(inserted.map(\.change.type.rawValue)), \(inserted.map { $0.change.hlc.packed }),
                        \(inserted.map { ByteBuffer(bytes: $0.body) })) AS n(ordinal, id, record_id, type, hlc, body)
            """, logger: logger)
        let touched = records.values.filter(\.touched)
        try await connection.query(
            """
            INSERT INTO record (diary_id, id, type, fields)
            SELECT \(diary), r.id, r.type, r.fields FROM unnest(\(touched.map(\.id)), \(touched.map { $0.type?.rawValue ?? "" }),
                                                            \(touched.map { ByteBuffer(bytes: $0.fullBytes) })) AS r(id, type, fields)
            ON CONFLICT (diary_id, id) DO UPDATE SET fields = EXCLUDED.fields
            """, logger: logger)
        try await connection.query("UPDATE diary SET last_ordinal = \(outcome.latest) WHERE id = \(diary)", logger: logger)
        return outcome
    }
}
