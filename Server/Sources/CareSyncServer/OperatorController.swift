import Crypto
import Foundation
import Hummingbird
import SyncCore

/// `GET /health` and `GET /metrics`: what the operator's monitoring asks, outside any diary.
///
/// `/health` needs no signature and says only whether the server can serve. `/metrics` is served only
/// when the operator gives a token, and only to requests that carry it: its counts tell how busy each
/// route is and how many refusals of each kind came, which is nobody else's business, and a token (rather
/// than a listening address) still works when a reverse proxy forwards every path.
struct OperatorController {
    let store: any ServerStore
    let metrics: ServerMetrics
    /// The bearer token `/metrics` asks for; nil leaves it off.
    let metricsToken: String?

    func addRoutes(to router: Router<CareSyncRequestContext>) {
        router.get("health", use: health)
        router.get("metrics", use: serveMetrics)
    }

    @Sendable func health(_ request: Request, context: CareSyncRequestContext) async throws -> Response {
        _ = try RequestShape(request, body: [UInt8]())
        let schemaVersion: Int
        do {
            schemaVersion = try await store.checkHealth(now: Date())
        } catch {
            context.logger.error("health check failed", metadata: ["error": "\(store.describe(error))"])
            throw APIError(.serviceUnavailable, "unhealthy", "the database cannot be written: \(store.describe(error))")
        }
        let answer: JSONValue = ["status": "ok", "database": "writable", "schema_version": .int(Int64(schemaVersion))]
        return answer.response(status: .ok)
    }

    @Sendable func serveMetrics(_ request: Request, context: CareSyncRequestContext) async throws -> Response {
        _ = try RequestShape(request, body: [UInt8]())
        guard let metricsToken else {
            throw APIError(.notFound, "not_found", "metrics are off: the operator turns them on with --metrics-token-file")
        }
        let given = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        // Compared as digests, byte by byte without stopping early, so that neither the token's length nor
        // how much of it a guess got right shows in the time of the answer.
        let difference = zip(SHA256.hash(data: Data(given.utf8)), SHA256.hash(data: Data(metricsToken.utf8))).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) }
        guard difference == 0 else {
            throw APIError(.unauthorized, "bad_metrics_token", "GET /metrics needs the header Authorization: Bearer <the metrics token>")
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition(logBytes: store.logBytes()))))
    }
}
