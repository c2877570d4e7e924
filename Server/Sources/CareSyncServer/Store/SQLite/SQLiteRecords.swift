import Foundation
import GRDB
import SyncCore

// The server's rows as GRDB reads and writes them; the tables are named for the types.
extension Diary: FetchableRecord, PersistableRecord {}
extension Device: FetchableRecord, PersistableRecord {}
extension Invite: FetchableRecord, PersistableRecord {}
extension DeviceRole: DatabaseValueConvertible {}

extension Device {
    /// Read column by column rather than through `Decodable`, which cost about as much as running
    /// the query: every signed request reads its device. A value that does not convert throws, as decoding did.
    public init(row: Row) throws {
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
