import Crypto
import Foundation
import SyncCore

/// A diary: one child's record, shared by its devices.
public struct Diary: Codable, Sendable {
    var id: String
    var name: String
    var createdAt: Date
}

/// An enrolled device and its key. The key never leaves the server after enrollment.
public struct Device: Codable, Sendable {
    var id: String
    var diaryId: String
    var name: String
    var role: DeviceRole
    var key: Data
    var createdAt: Date
    var accessExpiresAt: Date?
    var revokedAt: Date?

    var deviceKey: DeviceKey { DeviceKey(symmetricKey: SymmetricKey(data: key)) }

    /// The public view of a device, for `GET …/devices`; no key.
    var json: JSONValue {
        [
            "id": .string(id), "name": .string(name), "role": .string(role.rawValue), "revoked": .bool(revokedAt != nil),
            "created_at": .string(ISO8601DateFormatter().string(from: createdAt)),
            "access_expires_at": accessExpiresAt.map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null,
        ]
    }
}

/// A single-use, expiring invitation to join a diary with a role.
public struct Invite: Codable, Sendable {
    var codeHash: String
    var diaryId: String
    var role: DeviceRole
    var createdAt: Date
    var expiresAt: Date
    var accessExpiresAt: Date?
    var createdBy: String?
    var usedAt: Date?
    var usedBy: String?
}

extension Device {
    /// The device an invite makes: the invite's diary, role and access expiry, with its own id, name and key.
    init(enrolling invite: Invite, id: String, name: String, key: Data, at now: Date) {
        self.init(
            id: id, diaryId: invite.diaryId, name: name, role: invite.role, key: key, createdAt: now, accessExpiresAt: invite.accessExpiresAt,
            revokedAt: nil)
    }
}
