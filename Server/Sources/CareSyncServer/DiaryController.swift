import Foundation
import Hummingbird
import SyncCore

/// `GET /v1/diaries/{diary}` (who am I), the device list, invites and revocation.
/// Every member may read the device list (the log shows who changed what); only owners invite and revoke.
struct DiaryController {
    let store: any ServerStore
    let configuration: ServerConfiguration

    func addRoutes(to group: RouterGroup<CareSyncRequestContext>) {
        group.get(use: show)
        group.get("devices", use: devices)
        group.post("devices/:device/revoke", use: revoke)
        group.post("invites", use: invite)
    }

    @Sendable func show(_ request: Request, context: CareSyncRequestContext) async throws -> JSONValue {
        _ = try RequestShape(request, body: context.body)
        let device = try context.requireDevice()
        return [
            "diary": .string(device.diaryId), "name": .string(try await store.diaryName(device.diaryId) ?? ""),
            "device": .string(device.id), "role": .string(device.role.rawValue), "epoch": .string(store.epoch),
            "server_time": .int(Int64(Date().timeIntervalSince1970)),
        ]
    }

    @Sendable func devices(_ request: Request, context: CareSyncRequestContext) async throws -> JSONValue {
        _ = try RequestShape(request, body: context.body)
        let device = try context.requireDevice()
        return ["devices": .array(try await store.devices(diary: device.diaryId).map(\.json))]
    }

    @Sendable func revoke(_ request: Request, context: CareSyncRequestContext) async throws -> JSONValue {
        _ = try RequestShape(request, body: context.body)
        let owner = try Self.requireOwner(context)
        let target = try context.parameters.require("device")
        guard target != owner.id else {
            throw APIError(.conflict, "cannot_revoke_self", "a device cannot revoke itself; revoke it from another owner device")
        }
        guard let device = try await store.revoke(device: target, diary: owner.diaryId, now: Date()) else {
            throw APIError(.notFound, "not_found", "this diary has no device \(target)")
        }
        return device.json
    }

    @Sendable func invite(_ request: Request, context: CareSyncRequestContext) async throws -> Response {
        _ = try RequestShape(request, body: context.body)
        let owner = try Self.requireOwner(context)
        let body = try RequestBody(context.body, allowed: ["role", "expires_in_seconds", "access_expires_in_seconds"])
        let roleText = try body.string("role")!
        guard let role = DeviceRole(rawValue: roleText), role != .owner else {
            throw APIError.badRequest("\"role\" must be caregiver or clinician (got \"\(roleText)\")")
        }
        let lifetime = try body.int("expires_in_seconds") ?? Int64(configuration.inviteLifetime.seconds)
        guard (60...(90 * 86_400)).contains(lifetime) else {
            throw APIError.badRequest("\"expires_in_seconds\" must be from 60 (a minute) to 7776000 (90 days)")
        }
        let accessLifetime = try body.int("access_expires_in_seconds")
        // Ten years at most: a clinician's access that outlives any care plan is a mistake, and a date past
        // the year 9999 could not be stored.
        if let accessLifetime, !(60...315_360_000).contains(accessLifetime) {
            throw APIError.badRequest("\"access_expires_in_seconds\" must be from 60 (a minute) to 315360000 (ten years)")
        }
        if accessLifetime != nil, role != .clinician {
            throw APIError.badRequest("only a clinician's access can expire")
        }
        let (code, expiresAt) = try await store.createInvite(
            diary: owner.diaryId, role: role, lifetime: .seconds(lifetime), accessLifetime: accessLifetime.map { .seconds($0) }, createdBy: owner.id)
        let response: JSONValue = [
            "code": .string(code), "diary": .string(owner.diaryId), "role": .string(role.rawValue),
            "expires_at": .string(ISO8601DateFormatter().string(from: expiresAt)),
        ]
        return response.response(status: .created)
    }

    static func requireOwner(_ context: CareSyncRequestContext) throws -> Device {
        let device = try context.requireDevice()
        guard device.role.canAdminister else {
            throw APIError(.forbidden, "owner_only", "only an owner device may do this (this device is a \(device.role.rawValue))")
        }
        return device
    }
}
