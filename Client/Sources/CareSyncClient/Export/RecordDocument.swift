import Foundation
import SyncCore

/// The shape in which people and scripts see a record (`list --json`, docs/USAGE.md): `id`, `type`,
/// `deleted` and every set field under its name. Two differences from the wire: a treatment's `dose`
/// and `unit` and a lab's `value` and `unit` appear as two fields (on the wire each pair merges as one,
/// `dosage` and `result`), and decimals are JSON numbers (on the wire they are exact text). A record of
/// a type this version does not know shows its fields as they are on the wire.
public enum RecordDocument {
    /// A wire field that people see as an amount and a unit.
    struct Pair {
        let wire: String
        let amount: String
    }

    static func pair(_ type: RecordType) -> Pair? {
        switch type {
        case .treatment: Pair(wire: "dosage", amount: "dose")
        case .lab: Pair(wire: "result", amount: "value")
        default: nil
        }
    }

    /// The document names of the amount and unit that merge as one wire field, for a treatment or a lab.
    public static func pairedFields(_ type: RecordType) -> (amount: String, unit: String)? {
        pair(type).map { ($0.amount, "unit") }
    }

    /// The fields a person sets for a record type, in display order.
    public static func fieldNames(_ type: RecordType) -> [String] {
        let pair = pair(type)
        return type.fields.flatMap { rule -> [String] in
            switch rule.name {
            case RecordSchema.deleted.name: []
            case pair?.wire: [pair!.amount, "unit"]
            default: [rule.name]
            }
        }
    }

    /// The fields a record shows: those of its type, or for a type this version does not know, every field it holds.
    public static func fieldNames(of record: DiaryRecord) -> [String] {
        record.type.isKnown ? fieldNames(record.type) : record.values.keys.filter { $0 != RecordSchema.deleted.name }.sorted()
    }

    /// The value a person sees for a field, by its document name, or nil if unset.
    public static func value(_ field: String, of record: DiaryRecord) -> JSONValue? {
        if let pair = pair(record.type), field == pair.amount || field == "unit" {
            return record.values[pair.wire]?.objectValue?[field == "unit" ? "unit" : pair.amount]
        }
        return record.values[field]
    }

    /// Whether a field holds a decimal, written as a JSON number in documents.
    static func isDecimal(_ field: String, of type: RecordType) -> Bool {
        if pair(type)?.amount == field { return true }
        if case .decimal = type.rule(for: field)?.kind { return true }
        return false
    }

    /// One record as a JSON object, keys in display order.
    public static func json(_ record: DiaryRecord) -> String { document(record).text }

    public static func document(_ record: DiaryRecord) -> JSONDocument {
        var members: [(String, JSONDocument)] = [
            ("id", .string(record.id.canonical)), ("type", .string(record.type.rawValue)), ("deleted", .bool(record.isDeleted)),
        ]
        for field in fieldNames(of: record) {
            guard let value = value(field, of: record) else { continue }
            let decimal = isDecimal(field, of: record.type) ? value.stringValue.map(JSONDocument.number) : nil
            members.append((field, decimal ?? JSONDocument(value)))
        }
        return .object(members)
    }

    /// Turns fields named as in a document into the fields a change sets: `dose` and `unit` become
    /// `dosage` (`value` and `unit` become `result`), decimals become their exact text. Unknown names are
    /// passed on, so that validation names them. A null clears a field.
    public static func wireFields(_ type: RecordType, _ fields: [String: JSONValue]) throws(ClientError) -> [String: JSONValue] {
        guard let pair = pair(type) else {
            return fields.reduce(into: [:]) { wire, field in
                wire[field.key] = isDecimal(field.key, of: type) ? decimalText(field.value) : field.value
            }
        }
        var wire: [String: JSONValue] = [:]
        for (name, value) in fields where name != pair.amount && name != "unit" {
            wire[name] = isDecimal(name, of: type) ? decimalText(value) : value
        }
        let amount = fields[pair.amount]
        let unit = fields["unit"]
        if amount != nil || unit != nil {
            switch (amount ?? .null, unit ?? .null) {
            case (.null, .null):
                wire[pair.wire] = .null
            case (.null, _):
                throw .invalid("\(type.rawValue): unit is given without a \(pair.amount)")
            case (let amount, let unit):
                var members: [String: JSONValue] = [pair.amount: decimalText(amount)]
                if !unit.isNull { members["unit"] = unit }
                wire[pair.wire] = .object(members)
            }
        }
        return wire
    }

    /// A decimal as exact text: numbers and numeric strings are normalized ("38.40" → "38.4"); anything
    /// else is left for validation to refuse with the field's rule.
    private static func decimalText(_ value: JSONValue) -> JSONValue {
        switch value {
        case .int(let number): .string(String(number))
        case .string(let text): DecimalText(parsing: text).map { .string($0.text) } ?? value
        default: value
        }
    }
}
