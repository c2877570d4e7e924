import Foundation
import GRDB
import SyncCore

/// Where the next pull starts: the server epoch the cursor belongs to and the last sequence number merged.
struct PullPosition: Sendable, Equatable {
    var epoch: String?
    var cursor: Int64
}

extension Replica {
    func pullPosition() throws(ClientError) -> PullPosition {
        try readOneStatement { db in
            let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT epoch, cursor FROM identity WHERE id = 1"))!
            return PullPosition(epoch: row["epoch"], cursor: row["cursor"])
        }
    }

    /// Merges one pulled page and moves the cursor to `next` in the same transaction, so a pull that is
    /// interrupted resumes after the last page merged: nothing missing, nothing twice. Changes the
    /// replica already holds (its own, or a page merged before a lost reply) are skipped. The server
    /// holds every change of the page, so the commit does not wait for the disk: a power failure may
    /// undo the last pages merged, cursor and all, and the next pull brings them again.
    /// - Returns: how many changes were new to this replica, and whether one came from a device the
    ///   replica cannot name yet.
    @discardableResult
    func merge(_ page: [ReceivedChange], next: Int64, epoch: String, at date: Date = Date()) async throws(ClientError) -> (
        new: Int, unknownAuthor: Bool
    ) {
        try await asyncWriteWithoutFsync { db in
            let fresh = try RecordMerger.unheld(page, in: db)
            let stored = try RecordMerger.storedStates(of: Set(fresh.map(\.change.record)), in: db)
            let merge = { @Sendable () throws -> [RecordMerger.EncodedRecord] in
                var merger = try RecordMerger(stored: stored)
                for received in fresh { try merger.applyPulled(received.change) }
                return merger.encoded()
            }
            // The records of a large page are merged and encoded on another thread while this one logs
            // the changes. A small one, such as the device's own changes coming back, is merged here:
            // handing it over would cost two thread switches for less work than they take.
            let merged = fresh.count >= Self.changesMergedOffThread ? OffThread(merge) : nil
            var authors: Set<UUID> = []
            // Where each change went in the log, for the records of one change, which name it.
            var seqs: [UUID: Int64] = [:]
            seqs.reserveCapacity(fresh.count)
            for received in fresh {
                seqs[received.change.id] = try RecordMerger.log(received.change, body: received.wireBytes, in: db)
                authors.insert(received.change.author)
            }
            let new = fresh.count
            let known = try authors.allSatisfy { author in
                try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM member WHERE id = ?)"), arguments: [author.canonical])
                    ?? false
            }
            try RecordMerger.write(try merged?.value() ?? merge(), seqs: seqs, to: db)
            // The changes logged move the clock past their stamps (`lastStamp`), so a later local edit
            // wins over them.
            try db.cachedStatement(sql: "UPDATE identity SET epoch = ?, cursor = ?, lastPullAt = ? WHERE id = 1").execute(
                arguments: [epoch, next, date])
            return (new, !known)
        }
    }

    /// From how many new changes a page's records are merged on a thread of their own.
    static let changesMergedOffThread = 100

    /// Notes a pull that brought nothing; nothing changed that a crash could lose.
    func notePullWithoutChanges(at date: Date = Date()) async throws(ClientError) {
        try await asyncWriteWithoutFsync { db in
            try db.cachedStatement(sql: "UPDATE identity SET lastPullAt = ? WHERE id = 1").execute(arguments: [date])
        }
    }

    /// Replaces the list of the diary's devices.
    func storeMembers(_ members: [DiaryMember]) throws(ClientError) {
        try write { db in
            try db.execute(sql: "DELETE FROM member")
            for member in members {
                try db.execute(
                    sql: "INSERT INTO member (id, name, role, revoked) VALUES (?, ?, ?, ?)",
                    arguments: [member.id.canonical, member.name, member.role.rawValue, member.revoked])
            }
        }
    }

    func members() throws(ClientError) -> [UUID: DiaryMember] {
        try read { db in
            var members: [UUID: DiaryMember] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM member") {
                guard let id = UUID(canonical: row["id"]), let role = DeviceRole(rawValue: row["role"]) else { continue }
                members[id] = DiaryMember(id: id, name: row["name"], role: role, revoked: row["revoked"])
            }
            return members
        }
    }
}

/// A device of the diary, as the server lists it.
public struct DiaryMember: Sendable, Equatable {
    public let id: UUID
    public let name: String
    public let role: DeviceRole
    public let revoked: Bool
    public var createdAt: String? = nil
    public var accessExpiresAt: String? = nil
}
