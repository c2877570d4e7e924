import Foundation
import SyncCore

/// The shape in which people and scripts see a record (SPEC section 5, `list --json`): `id`, `type`,
/// `deleted` and every set field under its name of SPEC section 2. Two differences from the wire: a
/// treatment's `dose` and `unit` appear as two fields (on the wire they merge as one, `dosage`), and
/// decimals (`fever_c`, `dose`) are JSON numbers (on the wire they are exact text).
public enum RecordDocument {
    /// The fields a person sets for a record type, in display order.
    public static func fieldNames(_ type: RecordType) -> [String] {
        type.fields.flatMap { rule -> [String] in
            switch rule.name {
            case RecordSchema.deleted.name: []
            case "dosage": ["dose", "unit"]
            default: [rule.name]
            }
        }
    }

    /// The value a person sees for a field, by its SPEC name, or nil if unset.
    public static func value(_ field: String, of record: DiaryRecord) -> JSONValue? {
        switch field {
        case "dose", "unit": record.values["dosage"]?.objectValue?[field]
        default: record.values[field]
        }
    }

    /// Whether a field holds a decimal, written as a JSON number in documents.
    static func isDecimal(_ field: String) -> Bool { field == "fever_c" || field == "dose" }

    /// One record as a JSON object, keys in display order.
    public static func json(_ record: DiaryRecord) -> String { document(record).text }

    public static func document(_ record: DiaryRecord) -> JSONDocument {
        var members: [(String, JSONDocument)] = [
            ("id", .string(record.id.canonical)), ("type", .string(record.type.rawValue)), ("deleted", .bool(record.isDeleted)),
        ]
        for field in fieldNames(record.type) {
            guard let value = value(field, of: record) else { continue }
            members.append((field, isDecimal(field) ? value.stringValue.map(JSONDocument.number) ?? JSONDocument(value) : JSONDocument(value)))
        }
        return .object(members)
    }

    /// Turns fields named as in a document into the fields a change sets: `dose` and `unit` become
    /// `dosage`, decimals become their exact text. Unknown names are passed on, so that validation
    /// names them. A null clears a field.
    public static func wireFields(_ type: RecordType, _ fields: [String: JSONValue]) throws(ClientError) -> [String: JSONValue] {
        var wire: [String: JSONValue] = [:]
        for (name, value) in fields where name != "dose" && name != "unit" {
            wire[name] = isDecimal(name) ? decimalText(value) : value
        }
        let dose = fields["dose"]
        let unit = fields["unit"]
        if type == .treatment, dose != nil || unit != nil {
            switch (dose ?? .null, unit ?? .null) {
            case (.null, .null):
                wire["dosage"] = .null
            case (.null, _):
                throw .invalid("\(type.rawValue): unit is given without a dose")
            case (let dose, let unit):
                var dosage: [String: JSONValue] = ["dose": decimalText(dose)]
                if !unit.isNull { dosage["unit"] = unit }
                wire["dosage"] = .object(dosage)
            }
        } else {
            if let dose { wire["dose"] = dose }
            if let unit { wire["unit"] = unit }
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
