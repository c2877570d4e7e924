import Foundation
import Hummingbird
import NIOCore
import SyncCore

/// `POST /v1/enroll`: the one unauthenticated endpoint. It exchanges an invite code for a device id and
/// a fresh key — the only time the key crosses the wire.
struct EnrollmentController {
    let store: any ServerStore
    let limiter: EnrollmentLimiter

    func addRoutes(to group: RouterGroup<CareSyncRequestContext>) {
        group.post("enroll", use: enroll)
    }

    /// An enrollment body is a code and a name: far below this.
    static let maxBodyBytes = 16 * 1024

    @Sendable func enroll(_ request: Request, context: CareSyncRequestContext) async throws -> Response {
        let now = Date()
        let address = context.remoteAddress ?? "unknown"
        guard try await !limiter.isBlocked(address, now: now) else {
            throw APIError(.tooManyRequests, "too_many_attempts", "too many failed enrollments from this address; wait a minute")
        }
        let bytes: [UInt8]
        do {
            bytes = Array(try await request.body.collect(upTo: Self.maxBodyBytes).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "the request body is larger than \(Self.maxBodyBytes) bytes")
        }
        _ = try RequestShape(request, body: bytes)
        let body = try RequestBody(bytes, allowed: ["code", "device_name"])
        let code = try body.string("code")!
        let name = RecordSchema.trimmingWhiteSpace(try body.string("device_name", required: false) ?? "")
        do {
            try RecordSchema.validate(.string(name), against: RecordSchema.deviceName, record: "enrollment")
        } catch {
            throw APIError(
                .badRequest, "bad_request",
                "\"device_name\" must be one line of 1 to \(RecordSchema.deviceNameLimit) characters without control characters: it \(error.rule)",
                details: ["field": .string(error.field), "rule": .string(error.rule)])
        }
        guard let (device, diaryName) = try await store.enroll(code: code, deviceName: name, now: now) else {
            try await limiter.recordFailure(address, now: now)
            throw APIError(.unauthorized, "invalid_invite", "this invite code is unknown, already used or expired")
        }
        let response: JSONValue = [
            "diary": .string(device.diaryId), "diary_name": .string(diaryName), "device": .string(device.id),
            "role": .string(device.role.rawValue), "key": .string(Hex.encode(device.key)),
            "epoch": .string(store.epoch), "server_time": .int(Int64(now.timeIntervalSince1970)),
        ]
        return response.response(status: .created)
    }
}
