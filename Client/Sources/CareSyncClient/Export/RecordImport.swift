import Foundation
import SyncCore

/// One record of an import file, before validation.
struct ImportRow {
    /// How errors name it: "row 12" (CSV) or "record 12" (JSON).
    let label: String
    let type: RecordType
    var id: String? = nil
    var deleted: Bool? = nil
    /// Fields by their document names (`dose`, `unit`, …).
    var fields: [String: JSONValue] = [:]
}

/// The formats `syncctl import` reads.
public enum ImportFormat: String, Sendable, CaseIterable {
    case json
    case csv
}

extension DiaryDevice {
    /// Brings records in from a file: all of them, or none if any is invalid (the error names its row
    /// and field). Every record becomes one signed change in the outbox, in one transaction.
    /// - Returns: the ids of the new records, in file order.
    @discardableResult
    public func importRecords(_ data: Data, format: ImportFormat) throws(ClientError) -> [UUID] {
        guard let text = String(data: data, encoding: .utf8) else { throw .invalid("the file is not UTF-8 text") }
        let rows =
            switch format {
            case .csv: try RecordCSV.read(text)
            case .json: try Self.jsonRows(data)
            }
        var requests: [EditRequest] = []
        requests.reserveCapacity(rows.count)
        var ids: Set<UUID> = []
        for row in rows {
            var id = UUID.version7()
            if let text = row.id {
                guard let parsed = UUID(canonical: text.lowercased()) else { throw .invalid("\(row.label): id \(text) is not a record id") }
                id = parsed
            }
            if row.type == .checkin, let date = row.fields["date"]?.stringValue, CalendarText.isDate(date) {
                // A day has one check-in, whose id is derived from this diary and the date: one exported
                // from another diary carries that diary's id, and takes this one's.
                id = CheckinID.record(diary: identity.diary, date: date)
            }
            guard ids.insert(id).inserted else { throw .invalid("\(row.label): id \(id.canonical) appears twice in the file") }
            var fields = try prefixed(row.label) { () throws(ClientError) in try RecordDocument.wireFields(row.type, row.fields) }
            if row.deleted == true { fields[RecordSchema.deleted.name] = true }
            requests.append(EditRequest(target: .new(row.type, id), fields: fields))
        }
        guard !requests.isEmpty else { throw .invalid("the file holds no records") }
        try replica.edit(requests, by: identity, key: key) { rows[$0].label }
        return requests.map {
            guard case .new(_, let id) = $0.target else { preconditionFailure("imports only create records") }
            return id
        }
    }

    private func prefixed<T>(_ label: String, _ body: () throws(ClientError) -> T) throws(ClientError) -> T {
        do {
            return try body()
        } catch .invalid(let message) {
            throw .invalid("\(label): \(message)")
        }
    }

    /// A JSON array of records in the shape `list --json` prints (`id` optional).
    static func jsonRows(_ data: Data) throws(ClientError) -> [ImportRow] {
        let parsed: JSONValue
        do {
            parsed = try JSONValue(parsingDocument: data)
        } catch {
            throw .invalid("the file is not JSON: \(error.description)")
        }
        guard let items = parsed.arrayValue else { throw .invalid("the file must hold a JSON array of records (got \(parsed.typeName))") }
        return try items.enumerated().map { (offset, item) throws(ClientError) -> ImportRow in
            let label = "record \(offset + 1)"
            guard var members = item.objectValue else { throw .invalid("\(label): is not a JSON object") }
            guard let typeName = members.removeValue(forKey: "type")?.stringValue, let type = RecordType(rawValue: typeName) else {
                throw .invalid("\(label): type must be \(RecordType.known.map(\.rawValue).joined(separator: ", ")) or a newer record type's name")
            }
            var row = ImportRow(label: label, type: type)
            if let id = members.removeValue(forKey: "id"), !id.isNull {
                guard let text = id.stringValue else { throw .invalid("\(label): id must be text") }
                row.id = text
            }
            if let deleted = members.removeValue(forKey: "deleted"), !deleted.isNull {
                guard let flag = deleted.boolValue else { throw .invalid("\(label): deleted must be true or false") }
                row.deleted = flag
            }
            row.fields = members.filter { !$0.value.isNull }
            return row
        }
    }
}
