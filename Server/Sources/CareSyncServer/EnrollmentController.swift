import Foundation
import Hummingbird
import SyncCore

/// `POST /v1/enroll`: the one unauthenticated endpoint. It exchanges an invite code for a device id and
/// a fresh key — the only time the key crosses the wire.
struct EnrollmentController {
    let database: ServerDatabase
    let limiter: EnrollmentLimiter

    func addRoutes(to group: RouterGroup<CareSyncRequestContext>) {
        group.post("enroll", use: enroll)
    }

    @Sendable func enroll(_ request: Request, context: CareSyncRequestContext) async throws -> Response {
        let now = Date()
        let address = context.remoteAddress ?? "unknown"
        guard await !limiter.isBlocked(address, now: now) else {
            throw APIError(.tooManyRequests, "too_many_attempts", "too many failed enrollments from this address; wait a minute")
        }
        let bytes = try await request.body.collect(upTo: 16 * 1024)
        let body = try RequestBody(Array(bytes.readableBytesView), allowed: ["code", "device_name"])
        let code = try body.string("code")!
        let name = (try body.string("device_name", required: false) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 100, !name.contains(where: { $0.isNewline }) else {
            throw APIError.badRequest("\"device_name\" must be one line of 1 to 100 characters")
        }
        guard let (device, diaryName) = try await database.enroll(code: code, deviceName: name, now: now) else {
            await limiter.recordFailure(address, now: now)
            throw APIError(.unauthorized, "invalid_invite", "this invite code is unknown, already used or expired")
        }
        let response: JSONValue = [
            "diary": .string(device.diaryId), "diary_name": .string(diaryName), "device": .string(device.id),
            "role": .string(device.role.rawValue), "key": .string(Hex.encode(device.key)),
            "epoch": .string(database.epoch), "server_time": .int(Int64(now.timeIntervalSince1970)),
        ]
        return response.response(status: .created)
    }
}
