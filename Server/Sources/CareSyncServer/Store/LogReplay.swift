import Foundation
import SyncCore

/// The check `caresync-server verify` makes of one diary, whatever the engine: each change's signature
/// against its author's key, and each record's stored current state against a replay of its changes
/// through SyncCore's merge. The engine feeds it the diary's changes sorted by record, then log order (a
/// record's state depends only on its own changes), so memory holds one record, not the diary.
struct LogReplay {
    /// A record's stored current state, as the engine read it.
    enum Stored {
        case missing
        case unreadable
        case fields([String: CurrentFields.Entry])
    }

    let diary: String
    let keys: [String: DeviceKey]
    /// Reads the stored state of a record of this diary.
    let stored: (String) throws -> Stored
    /// Stored records compared so far: fewer than the diary's stored records means some have no change.
    private(set) var compared = 0
    private var current: (record: String, state: RecordState?)?

    init(diary: String, keys: [String: DeviceKey], stored: @escaping (String) throws -> Stored) {
        self.diary = diary
        self.keys = keys
        self.stored = stored
    }

    /// Checks and applies one change stored at `position`; `body` nil when the row cannot be read.
    mutating func add(position: Int64, record: String, id: String?, author: String?, body: [UInt8]?, into report: inout AuditReport) throws {
        report.changesChecked += 1
        if let previous = current, previous.record != record { try compare(record: previous.record, replayed: previous.state, into: &report) }
        if current?.record != record { current = (record, nil) }
        guard let body, let id, let author else {
            report.faults.append("change at \(position): listed for record \(record) but not readable")
            return
        }
        let signed: SignedChange
        do {
            signed = try SignedChange(wireValue: try JSONValue(parsing: body))
        } catch {
            report.faults.append("change \(id) (at \(position)): stored body cannot be read: \(error)")
            return
        }
        let change = signed.change
        guard change.id.canonical == id, change.diary.canonical == diary, change.record.canonical == record, change.author.canonical == author
        else {
            report.faults.append("change \(id) (at \(position)): stored columns disagree with the signed body")
            return
        }
        guard let key = keys[change.author.canonical], ChangeSigner.isValid(signed, key: key) else {
            report.faults.append("change \(id) (at \(position)): signature does not verify with the author's key")
            return
        }
        do {
            var state = current?.state ?? RecordState(id: change.record, type: change.type)
            try state.apply(change)
            current?.state = state
        } catch {
            report.faults.append("change \(id) (at \(position)): \(error)")
        }
    }

    /// Compares the last record fed.
    mutating func finish(into report: inout AuditReport) throws {
        if let last = current { try compare(record: last.record, replayed: last.state, into: &report) }
        current = nil
    }

    /// Reports stored records that no change of the log writes.
    mutating func compareOrphans(_ records: [String], into report: inout AuditReport) throws {
        for record in records { try compare(record: record, replayed: nil, into: &report) }
    }

    private mutating func compare(record: String, replayed: RecordState?, into report: inout AuditReport) throws {
        let label = "record \(diary)/\(record)"
        let storedFields: [String: String]?
        switch try stored(record) {
        case .missing:
            storedFields = nil
        case .unreadable:
            compared += 1
            report.faults.append("\(label): stored current state cannot be read")
            return
        case .fields(let fields):
            compared += 1
            storedFields = fields.mapValues { $0.change + " " + $0.stamp }
        }
        let replayedFields = replayed?.registers.mapValues { $0.winner.change.canonical + " " + $0.winner.stamp.text }
        guard let storedFields else {
            if replayedFields != nil { report.faults.append("\(label): written by the log, but not stored") }
            return
        }
        guard let replayedFields else {
            report.faults.append("\(label): stored, but no verified change of the log writes it")
            return
        }
        guard storedFields != replayedFields else { return }
        let fields = Set(storedFields.keys).union(replayedFields.keys).filter { storedFields[$0] != replayedFields[$0] }
        report.faults.append("\(label): stored state differs from a replay of the log in \(fields.sorted().joined(separator: ", "))")
    }
}
