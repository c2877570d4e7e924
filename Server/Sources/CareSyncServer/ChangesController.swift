import Foundation
import GRDB
import Hummingbird
import SyncCore

/// `POST` and `GET /v1/diaries/{diary}/changes`: push a batch of signed changes, pull pages after a cursor.
struct ChangesController {
    let store: any ServerStore
    let configuration: ServerConfiguration
    let metrics: ServerMetrics

    func addRoutes(to group: RouterGroup<CareSyncRequestContext>) {
        group.post("changes", use: push)
        group.get("changes", use: pull)
    }

    /// Verifies every change of the batch before storing any: the pushing device must be its author and
    /// may write, each value must follow the record rules, each signature must verify with the author's
    /// key, and no clock may run ahead of the server's by more than the allowed skew.
    @Sendable func push(_ request: Request, context: CareSyncRequestContext) async throws -> JSONValue {
        _ = try RequestShape(request, body: context.body)
        let device = try context.requireDevice()
        guard device.role.canWrite else {
            throw APIError(.forbidden, "read_only", "a \(device.role.rawValue) device can read the diary but not change it")
        }
        let body = try RequestBody(context.body, allowed: ["changes"], listing: "changes")
        guard let items = body.elements else { throw APIError.badRequest("\"changes\" must be a list of changes") }
        guard items.count <= configuration.maxChangesPerPush else {
            throw APIError(
                .contentTooLarge, "too_many_changes", "a push may carry at most \(configuration.maxChangesPerPush) changes (got \(items.count))")
        }
        let wallMillis = HybridLogicalClock.wallMillisNow()
        let receivedAt = Date()
        let verifier = ChangeVerifier(key: device.deviceKey)
        // Compared as ids, not as texts: formatting each change's ids would cost more than the check.
        let author = UUID(canonical: device.id)
        let diary = UUID(canonical: device.diaryId)
        var batch: [StorableChange] = []
        batch.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let received: ReceivedChange
            do {
                received = try ReceivedChange(item)
                try received.change.validate()
            } catch {
                throw APIError.invalid(error, index: index)
            }
            let change = received.change
            // Made only for a refusal.
            var label: String { "change #\(index) (\(change.id.canonical))" }
            var details: [String: JSONValue] { ["index": .int(Int64(index))] }
            guard change.author == author else {
                throw APIError(
                    .forbidden, "author_mismatch", "\(label) names \(change.author.canonical) as author, but \(device.id) pushed it", details: details
                )
            }
            guard change.diary == diary else {
                throw APIError(
                    .unprocessableContent, "wrong_diary", "\(label) belongs to diary \(change.diary.canonical), not this one", details: details)
            }
            guard !HybridLogicalClock.isTooFarAhead(change.hlc, wallMillis: wallMillis, maxSkew: configuration.maxClockSkew) else {
                let ahead = (change.hlc.millis - wallMillis) / 1000
                throw APIError(
                    .unprocessableContent, "clock_ahead",
                    "\(label) is stamped \(ahead) s ahead of the server's clock (allowed: \(Int(configuration.maxClockSkew.seconds)) s): this device's clock is wrong; set it right and edit again",
                    details: details.merging(["server_time_ms": .int(wallMillis)]) { $1 })
            }
            guard received.isValid(verifier) else {
                throw APIError(
                    .unprocessableContent, "invalid_change_signature", "\(label): the signature does not verify with the author's key",
                    details: details)
            }
            batch.append(StorableChange(received))
        }
        let storable = StorableBatch(batch, author: device.id, receivedAt: receivedAt)
        let outcome: PushOutcome
        do {
            outcome = try await store.store(storable, diary: device.diaryId, nonce: context.pushNonce)
        } catch let refusal as StoreRefusal {
            throw APIError(refusal)
        }
        metrics.pushed(stored: outcome.stored, duplicates: outcome.duplicates)
        // Held to here, so that the changes are freed on this thread rather than on the store's writer,
        // which every push waits for.
        withExtendedLifetime(storable) {}
        return [
            "stored": .int(Int64(outcome.stored)), "duplicates": .int(Int64(outcome.duplicates)), "latest": .int(outcome.latest),
            "previous": .int(outcome.previous),
        ]
    }

    /// `?after=CURSOR&limit=N`: the next page. The body is assembled from the stored change bytes. An
    /// empty page's `next` is the cursor sent, so a client may always send `next` back as `after`.
    @Sendable func pull(_ request: Request, context: CareSyncRequestContext) async throws -> Response {
        let query = try RequestShape(request, body: context.body, parameters: ["after", "limit"]).parameters
        let device = try context.requireDevice()
        let after = try Self.integer(query["after"], name: "after", default: 0, range: 0...Int64.max)
        let limit = try Self.integer(
            query["limit"], name: "limit", default: Int64(configuration.defaultPageSize), range: 1...Int64(configuration.maxPageSize))
        let page = try await store.pull(diary: device.diaryId, after: after, limit: Int(limit))
        metrics.pulled(page.bodies.count)
        var out: [UInt8] = []
        out.reserveCapacity(page.bodies.reduce(256) { $0 + $1.count + 1 })
        out.append(contentsOf: Array(#"{"changes":["#.utf8))
        for (index, body) in page.bodies.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: body)
        }
        let tail: JSONValue = [
            "epoch": .string(store.epoch), "latest": .int(page.latest), "more": .bool(page.remaining > 0), "next": .int(page.next),
            "remaining": .int(page.remaining),
        ]
        out.append(contentsOf: Array("],".utf8))
        out.append(contentsOf: tail.canonicalBytes.dropFirst())
        return Response.json(out)
    }

    static func integer(_ text: String?, name: String, default value: Int64, range: ClosedRange<Int64>) throws(APIError) -> Int64 {
        guard let text else { return value }
        guard let number = Int64(text), range.contains(number) else {
            throw APIError.badRequest("\"\(name)\" must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \"\(text)\")")
        }
        return number
    }
}
