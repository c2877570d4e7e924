import Crypto
import Foundation
import GRDB
import SyncCore

/// A diary: one child's record, shared by its devices.
struct Diary: Codable, FetchableRecord, PersistableRecord, Sendable {
    var id: String
    var name: String
    var createdAt: Date
}

/// An enrolled device and its key. The key never leaves the server after enrollment.
struct Device: Codable, FetchableRecord, PersistableRecord, Sendable {
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

extension Device {
    /// Read column by column rather than through `Decodable`, which cost about as much as running
    /// the query: every signed request reads its device. A value that does not convert throws, as decoding did.
    init(row: Row) throws {
        id = try row.decode(forColumn: "id")
        diaryId = try row.decode(forColumn: "diaryId")
        name = try row.decode(forColumn: "name")
        role = try row.decode(forColumn: "role")
        key = try row.decode(forColumn: "key")
        createdAt = try row.decode(forColumn: "createdAt")
        accessExpiresAt = try row.decode(forColumn: "accessExpiresAt")
        revokedAt = try row.decode(forColumn: "revokedAt")
    }
}

/// A single-use, expiring invitation to join a diary with a role.
struct Invite: Codable, FetchableRecord, PersistableRecord, Sendable {
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

extension DeviceRole: DatabaseValueConvertible {}
