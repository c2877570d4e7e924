import Foundation
import SyncCore

/// The diary as a spreadsheet: one row per record, a header row, a `type` column and one column per
/// document field of every type (sites joined with `;`, booleans `true`/`false`, decimals and dates as
/// written), UTF-8, RFC 4180 quoting so notes may hold commas, quotes and line breaks. A record of a type
/// this version does not know keeps its wire fields, as one JSON object, in the last column, `fields`.
/// `import --format csv` reads exactly what `export --format csv` writes.
public enum RecordCSV {
    public static let columns: [String] = {
        var names = ["id", "type", "deleted"]
        for type in RecordType.known { for name in RecordDocument.fieldNames(type) where !names.contains(name) { names.append(name) } }
        return names + [unknownFields]
    }()

    /// The column of a newer kind of record's fields.
    static let unknownFields = "fields"

    // MARK: Writing

    public static func write(_ records: [DiaryRecord]) -> String {
        var text = columns.joined(separator: ",") + "\r\n"
        for record in records {
            let cells = columns.map { column -> String in
                switch column {
                case "id": return record.id.canonical
                case "type": return record.type.rawValue
                case "deleted": return record.isDeleted ? "true" : "false"
                case unknownFields:
                    guard !record.type.isKnown else { return "" }
                    return quoted(JSONValue.object(record.values.filter { $0.key != RecordSchema.deleted.name }).canonicalString)
                default:
                    guard record.type.isKnown else { return "" }
                    guard let value = RecordDocument.value(column, of: record) else { return "" }
                    return quoted(cell(value))
                }
            }
            text += cells.joined(separator: ",") + "\r\n"
        }
        return text
    }

    private static func cell(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .array(let items): items.map { $0.stringValue ?? $0.canonicalString }.joined(separator: ";")
        default: value.canonicalString
        }
    }

    private static func quoted(_ cell: String) -> String {
        let needsQuotes =
            cell.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" } || cell.hasPrefix(" ")
            || cell.hasSuffix(" ")
        return needsQuotes ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
    }

    // MARK: Reading

    /// Reads a CSV file into import rows, naming rows as a spreadsheet does (the header is row 1).
    static func read(_ text: String) throws(ClientError) -> [ImportRow] {
        let rows = try split(text)
        guard let header = rows.first else { throw .invalid("the CSV file is empty: it needs a header row") }
        let names = header.map { $0.trimmingCharacters(in: .whitespaces) }
        if let unknown = names.first(where: { !columns.contains($0) }) {
            throw .invalid("row 1: column \"\(unknown)\" is not a CareSync field (columns: \(columns.joined(separator: ", ")))")
        }
        guard let typeColumn = names.firstIndex(of: "type") else { throw .invalid("row 1: the header has no type column") }
        var result: [ImportRow] = []
        for (offset, cells) in rows.dropFirst().enumerated() {
            let label = "row \(offset + 2)"
            if cells.allSatisfy(\.isEmpty) { continue }
            guard cells.count == names.count else {
                throw .invalid("\(label): has \(cells.count) cells but the header has \(names.count) columns")
            }
            guard let type = RecordType(rawValue: cells[typeColumn]) else {
                throw .invalid(
                    "\(label): type must be \(RecordType.known.map(\.rawValue).joined(separator: ", ")) or a newer record type's name (got \"\(cells[typeColumn])\")"
                )
            }
            var row = ImportRow(label: label, type: type)
            for (name, cell) in zip(names, cells) where !cell.isEmpty && name != "type" {
                switch name {
                case "id": row.id = cell
                case "deleted": row.deleted = try boolean(cell, field: name, label: label)
                case unknownFields:
                    guard !type.isKnown else {
                        throw .invalid("\(label): the fields column is for newer kinds of records; a \(type) has a column per field")
                    }
                    guard let object = try? JSONValue(parsing: Array(cell.utf8)).objectValue else {
                        throw .invalid("\(label): fields must be a JSON object of the record's fields")
                    }
                    row.fields.merge(object) { $1 }
                default:
                    guard type.isKnown else { throw .invalid("\(label): a \(type) record keeps its fields in the fields column, not in \(name)") }
                    row.fields[name] = value(cell, field: name, of: type)
                }
            }
            result.append(row)
        }
        return result
    }

    /// A cell as the value its field takes; a cell that does not fit is passed on as text, so that
    /// validation refuses it naming the field and the rule.
    private static func value(_ cell: String, field: String, of type: RecordType) -> JSONValue {
        let trimmed = cell.trimmingCharacters(in: .whitespaces)
        switch type.rule(for: field)?.kind {
        case .siteList: return .array(cell.split(separator: ";").map { .string($0.trimmingCharacters(in: .whitespaces)) })
        case .integer: return Int64(trimmed).map(JSONValue.int) ?? .string(cell)
        case .boolean: return parseBoolean(cell).map(JSONValue.bool) ?? .string(cell)
        default: return .string(cell)
        }
    }

    private static func parseBoolean(_ cell: String) -> Bool? {
        switch cell.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "1": true
        case "false", "no", "0": false
        default: nil
        }
    }

    private static func boolean(_ cell: String, field: String, label: String) throws(ClientError) -> Bool {
        guard let flag = parseBoolean(cell) else { throw .invalid("\(label): \(field) must be true or false (got \"\(cell)\")") }
        return flag
    }

    /// RFC 4180: fields separated by commas, rows by CRLF or LF; a quoted field may hold commas, line
    /// breaks and doubled quotes.
    static func split(_ text: String) throws(ClientError) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = String.UnicodeScalarView()
        var inQuotes = false
        var afterQuote = false
        var scalars = text.unicodeScalars[...]
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        var iterator = scalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endField() {
            row.append(String(field))
            field = String.UnicodeScalarView()
            afterQuote = false
        }
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if inQuotes {
                if scalar == "\"" {
                    let next = iterator.next()
                    if next == "\"" {
                        field.append("\"")
                    } else {
                        inQuotes = false
                        afterQuote = true
                        pending = next
                    }
                } else {
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    throw .invalid("row \(rows.count + 1): a quote inside an unquoted cell; quote the whole cell and double inner quotes")
                }
                inQuotes = true
            case ",":
                endField()
            case "\r":
                let next = iterator.next()
                if next != "\n" { pending = next }
                endField()
                rows.append(row)
                row = []
            case "\n":
                endField()
                rows.append(row)
                row = []
            default:
                guard !afterQuote else { throw .invalid("row \(rows.count + 1): text after a closing quote") }
                field.append(scalar)
            }
        }
        guard !inQuotes else { throw .invalid("row \(rows.count + 1): a quoted cell is never closed") }
        if !field.isEmpty || !row.isEmpty || afterQuote {
            endField()
            rows.append(row)
        }
        return rows
    }
}
