import Foundation

/// What a field holds and which values it accepts.
public enum FieldKind: Sendable, Equatable {
    /// A calendar date, `YYYY-MM-DD`.
    case date
    /// A date, or a date and time with seconds and a UTC offset (`2026-03-04T08:30:00+01:00`).
    case dateOrDateTime
    /// A non-empty list of distinct body sites.
    case siteList
    /// A whole number within the range.
    case integer(ClosedRange<Int64>)
    case boolean
    /// A decimal (sent as canonical text, such as "37.5") within the range.
    case decimal(ClosedRange<DecimalText>)
    /// Text of at most `maxLength` characters (Unicode scalar values); single-line text refuses line breaks.
    case text(maxLength: Int, multiline: Bool)
    /// One of a fixed list of words.
    case choice([String])
    /// The id of another record (a canonical UUID).
    case recordID
    /// A treatment's dose and unit, which merge as one value: `{"dose": "250", "unit": "mg"}`.
    case dosage
    /// A lab result's value and unit, which merge as one value: `{"unit": "mg/L", "value": "12.5"}`.
    case labResult
}

/// One field of a record type: its wire name, what it accepts and whether a record must have it.
public struct FieldRule: Sendable, Equatable {
    public let name: String
    public let kind: FieldKind
    public let required: Bool

    public init(_ name: String, _ kind: FieldKind, required: Bool = false) {
        self.name = name
        self.kind = kind
        self.required = required
    }
}

/// A value refused by the diary's rules, naming the record, the field and the rule in plain words.
/// The CLI prints it as it is and the server returns it in its JSON error.
public struct ValidationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The record, as a person would name it: "flare 0193a5c3-…" or "new treatment".
    public let record: String
    public let field: String
    /// The rule that was broken, worded to follow the field name: "must be a whole number from 0 to 10 (got 11)".
    public let rule: String

    public init(record: String, field: String, rule: String) {
        self.record = record
        self.field = field
        self.rule = rule
    }

    public var description: String { "\(record): \(field) \(rule)" }
}

/// The record rules of docs/PROTOCOL.md, written once for client and server.
public enum RecordSchema {
    /// Deletion is a field like any other: a tombstone that syncs, and that `false` restores.
    public static let deleted = FieldRule("deleted", .boolean)

    public static let notesLimit = 4_000
    public static let nameLimit = 200
    public static let deviceNameLimit = 100

    /// The name a device enrolls with, once trimmed: one line, like a treatment's name.
    public static let deviceName = FieldRule("device_name", .text(maxLength: deviceNameLimit, multiline: false), required: true)
    static let notes = FieldRule("notes", .text(maxLength: notesLimit, multiline: true))

    public static let treatmentKinds = [
        "nsaid", "steroid", "antibiotic", "bisphosphonate", "biologic", "dmard", "analgesic", "surgery", "physiotherapy", "other",
    ]
    public static let doseUnits = ["mg", "mg/kg", "g", "ml", "IU", "tablet"]
    public static let routes = ["oral", "iv", "sc", "im", "topical", "other"]

    static let flareFields: [FieldRule] = [
        FieldRule("started", .date, required: true),
        FieldRule("ended", .date),
        FieldRule("sites", .siteList, required: true),
        FieldRule("pain", .integer(0...10), required: true),
        FieldRule("swelling", .boolean),
        FieldRule("redness", .boolean),
        FieldRule("warmth", .boolean),
        FieldRule("limp", .boolean),
        FieldRule("fever_c", .decimal(DecimalText(canonical: "34")!...DecimalText(canonical: "43")!)),
        notes,
        deleted,
    ]

    /// Where a check-in's school day went.
    public static let schoolMissed = ["none", "part", "whole"]
    public static let imagingModalities = ["mri", "whole-body-mri", "xray", "bone-scan", "ct", "ultrasound"]

    /// The lab tests a CRMO diary follows, and the units each may be written in (`other` takes any unit).
    public static let labUnits: KeyValuePairs<String, [String]> = [
        "crp": ["mg/L", "mg/dL"], "esr": ["mm/h"], "wbc": ["10^9/L"], "ferritin": ["ng/mL", "ug/L"], "hb": ["g/dL", "g/L"],
        "platelets": ["10^9/L"], "ana": ["titer"], "rf": ["IU/mL"], "alp": ["U/L"], "other": [],
    ]
    public static let labTests = labUnits.map(\.key)
    /// The units a test may be written in, or nil where any unit goes (`other`).
    public static func units(ofTest test: String) -> [String]? {
        labUnits.first { $0.key == test }.flatMap { $0.value.isEmpty ? nil : $0.value }
    }
    public static let unitLimit = 20

    static func decimalRange(_ low: String, _ high: String) -> FieldKind {
        .decimal(DecimalText(canonical: low)!...DecimalText(canonical: high)!)
    }

    static let checkinFields: [FieldRule] = [
        FieldRule("date", .date, required: true),
        FieldRule("pain", .integer(0...10), required: true),
        FieldRule("wellbeing", .integer(0...10)),
        FieldRule("sites", .siteList),
        FieldRule("limp", .boolean),
        FieldRule("school_missed", .choice(schoolMissed)),
        FieldRule("sleep_disturbed", .boolean),
        notes,
        deleted,
    ]

    static let labFields: [FieldRule] = [
        FieldRule("taken", .dateOrDateTime, required: true),
        FieldRule("test", .choice(labTests), required: true),
        FieldRule("name", .text(maxLength: nameLimit, multiline: false)),
        FieldRule("result", .labResult, required: true),
        FieldRule("ref_low", decimalRange("0", "9999999.9999")),
        FieldRule("ref_high", decimalRange("0", "9999999.9999")),
        notes,
        deleted,
    ]

    static let imagingFields: [FieldRule] = [
        FieldRule("date", .date, required: true),
        FieldRule("modality", .choice(imagingModalities), required: true),
        FieldRule("sites", .siteList),
        FieldRule("active_lesions", .integer(0...99)),
        FieldRule("findings", .text(maxLength: notesLimit, multiline: true)),
        notes,
        deleted,
    ]

    /// Heights and weights a child (or a grown one still followed) can have.
    static let growthFields: [FieldRule] = [
        FieldRule("date", .date, required: true),
        FieldRule("height_cm", decimalRange("30", "230")),
        FieldRule("weight_kg", decimalRange("1", "250")),
        notes,
        deleted,
    ]

    static let treatmentFields: [FieldRule] = [
        FieldRule("kind", .choice(treatmentKinds), required: true),
        FieldRule("name", .text(maxLength: nameLimit, multiline: false), required: true),
        FieldRule("dosage", .dosage),
        FieldRule("route", .choice(routes)),
        FieldRule("started", .dateOrDateTime, required: true),
        FieldRule("ended", .dateOrDateTime),
        FieldRule("flare", .recordID),
        notes,
        deleted,
    ]

    /// Checks the fields one change sets: every name known for the type, every value valid, no required
    /// field cleared. A change may set any subset of fields; see `validateNewRecord` for creation.
    public static func validateChange(type: RecordType, fields: [String: JSONValue], record: String) throws(ValidationError) {
        guard !fields.isEmpty else {
            throw ValidationError(record: record, field: "fields", rule: "must set at least one field")
        }
        guard type.isKnown else {
            try validateUnknownType(type, fields: fields, record: record)
            return
        }
        func check(_ name: String, _ value: JSONValue) throws(ValidationError) {
            guard let rule = type.rule(for: name) else {
                throw ValidationError(
                    record: record, field: name,
                    rule: "is not a field of a \(type.rawValue) (fields: \(type.fields.map(\.name).joined(separator: ", ")))"
                )
            }
            try validate(value, against: rule, record: record)
        }
        // Checked in any order; if one is refused, again in name order, so that the error names the
        // same field whatever order the fields came in.
        for (name, value) in fields where (try? check(name, value)) == nil {
            for name in fields.keys.sorted() { try check(name, fields[name]!) }
        }
        if let problem = recordProblems(type: type, fields: fields, wholeRecord: false).first {
            throw ValidationError(record: record, field: problem.field, rule: problem.rule)
        }
    }

    /// A record of a type this version does not know: its field names well formed and `deleted`, which
    /// every version understands, a boolean. Its values are kept as they came, for the version that knows them.
    private static func validateUnknownType(_ type: RecordType, fields: [String: JSONValue], record: String) throws(ValidationError) {
        for name in fields.keys.sorted() {
            guard RecordType.isWellFormed(name, maxLength: 64, allowing: UInt8(ascii: "_")) else {
                throw ValidationError(
                    record: record, field: name, rule: "is not a field name (1 to 64 of a-z, 0-9 and _, starting with a letter)")
            }
        }
        if let value = fields[deleted.name] { try validate(value, against: deleted, record: record) }
    }

    /// A rule between fields of one record that one edit broke: refused when an edit breaks it, shown
    /// as a warning when a merge of edits made apart does.
    public struct RecordProblem: Equatable, Sendable {
        public let field: String
        public let rule: String
    }

    /// The rules between fields of a record. With `wholeRecord` false only those whose fields are all
    /// present are checked, as for one change, which may set any subset of fields.
    public static func recordProblems(type: RecordType, fields: [String: JSONValue], wholeRecord: Bool) -> [RecordProblem] {
        var problems: [RecordProblem] = []
        func present(_ name: String) -> JSONValue? { fields[name].flatMap { $0.isNull ? nil : $0 } }
        switch type {
        case .lab:
            let test = present("test")?.stringValue
            if let test, let unit = present("result")?.objectValue?["unit"]?.stringValue, let units = units(ofTest: test),
                !units.contains(unit)
            {
                problems.append(RecordProblem(field: "result", rule: "unit must be \(listed(units)) for \(test) (got \"\(unit)\")"))
            }
            if wholeRecord, test == "other", present("name") == nil {
                problems.append(RecordProblem(field: "name", rule: "is required when test is other: say which test it was"))
            }
            if let low = present("ref_low")?.stringValue.flatMap(DecimalText.init(canonical:)),
                let high = present("ref_high")?.stringValue.flatMap(DecimalText.init(canonical:)), high < low
            {
                problems.append(RecordProblem(field: "ref_high", rule: "must not be below ref_low (\(high) < \(low))"))
            }
        case .growth:
            if wholeRecord, present("height_cm") == nil, present("weight_kg") == nil {
                problems.append(RecordProblem(field: "height_cm", rule: "or weight_kg is required: a growth record holds at least one of them"))
            }
        default:
            break
        }
        return problems
    }

    private static func listed(_ options: [String]) -> String {
        options.count == 1 ? options[0] : options.dropLast().joined(separator: ", ") + " or " + options.last!
    }

    /// Checks the fields of a record being created: as `validateChange`, and every required field present.
    public static func validateNewRecord(type: RecordType, fields: [String: JSONValue], record: String) throws(ValidationError) {
        for rule in type.fields where rule.required && (fields[rule.name] ?? .null).isNull {
            throw ValidationError(record: record, field: rule.name, rule: "is required")
        }
        try validateChange(type: type, fields: fields, record: record)
        if let problem = recordProblems(type: type, fields: fields, wholeRecord: true).first {
            throw ValidationError(record: record, field: problem.field, rule: problem.rule)
        }
    }

    /// Checks an edit of an existing record against the rules between its fields: refuses a problem the
    /// edit makes, not one the record already had (which a merge may have made).
    public static func validateEdit(
        type: RecordType, current: [String: JSONValue], fields: [String: JSONValue], record: String
    ) throws(ValidationError) {
        let before = recordProblems(type: type, fields: current, wholeRecord: true)
        let after = recordProblems(type: type, fields: current.merging(fields) { $1 }, wholeRecord: true)
        if let problem = after.first(where: { !before.contains($0) }) {
            throw ValidationError(record: record, field: problem.field, rule: problem.rule)
        }
    }

    /// A check-in's `date` must be the one its id is derived from (`CheckinID`), so that a day has one check-in.
    public static func validateRecordID(type: RecordType, record: UUID, diary: UUID, fields: [String: JSONValue], label: String)
        throws(ValidationError)
    {
        guard type == .checkin, let date = fields["date"]?.stringValue, CalendarText.isDate(date),
            record != CheckinID.record(diary: diary, date: date)
        else { return }
        throw ValidationError(
            record: label, field: "date",
            rule: "must be the day this check-in's id is derived from: a day has one check-in, whose id is CheckinID(diary, date) (got \(date))")
    }

    /// Cross-field oddities that a field-by-field merge can produce. They are shown, never refused:
    /// refusing them would make a merge fail.
    public static func warnings(type: RecordType, fields: [String: JSONValue]) -> [String] {
        var warnings: [String] = []
        for rule in type.fields where rule.required && (fields[rule.name] ?? .null).isNull {
            warnings.append("\(rule.name) is missing (not all of this record's changes have arrived yet)")
        }
        if let started = fields["started"]?.stringValue, let ended = fields["ended"]?.stringValue,
            CalendarText.isBefore(ended, started)
        {
            warnings.append("ended (\(ended)) is before started (\(started))")
        }
        warnings += recordProblems(type: type, fields: fields, wholeRecord: true).map { "\($0.field) \($0.rule)" }
        return warnings
    }

    /// Checks one value against its rule. `null` clears an optional field.
    public static func validate(_ value: JSONValue, against rule: FieldRule, record: String) throws(ValidationError) {
        func refuse(_ text: String) -> ValidationError { ValidationError(record: record, field: rule.name, rule: text) }
        if value.isNull {
            if rule.required { throw refuse("is required and cannot be cleared") }
            return
        }
        switch rule.kind {
        case .date:
            guard let text = value.stringValue, CalendarText.isDate(text) else {
                throw refuse("must be a date written YYYY-MM-DD (got \(shown(value)))")
            }
        case .dateOrDateTime:
            guard let text = value.stringValue, CalendarText.isDate(text) || CalendarText.isDateTime(text) else {
                throw refuse("must be a date (YYYY-MM-DD) or a date and time with offset (YYYY-MM-DDTHH:MM:SS+01:00 or …Z) (got \(shown(value)))")
            }
        case .siteList:
            guard let items = value.arrayValue else { throw refuse("must be a list of body sites (got \(value.typeName))") }
            guard !items.isEmpty else { throw refuse("must name at least one body site") }
            var seen: [String] = []
            for item in items {
                guard let text = item.stringValue else { throw refuse("must be a list of body sites (got \(item.typeName) in it)") }
                guard BodySite(text) != nil else { throw refuse("has \(BodySite.explainInvalid(text))") }
                guard !seen.contains(text) else { throw refuse("lists \(text) twice") }
                seen.append(text)
            }
        case .integer(let range):
            guard let number = value.intValue, range.contains(number) else {
                throw refuse("must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \(shown(value)))")
            }
        case .boolean:
            guard value.boolValue != nil else { throw refuse("must be true or false (got \(shown(value)))") }
        case .decimal(let range):
            guard let text = value.stringValue, let number = DecimalText(canonical: text) else {
                throw refuse(
                    "must be a decimal number written as text, such as \"37.5\", with at most \(DecimalText.maxFractionDigits) decimals (got \(shown(value)))"
                )
            }
            guard range.contains(number) else {
                throw refuse("must be from \(range.lowerBound) to \(range.upperBound) (got \(number))")
            }
        case .text(let maxLength, let multiline):
            guard let text = value.stringValue else { throw refuse("must be text (got \(value.typeName))") }
            // Characters are Unicode scalar values (code points), so that the limit does not depend on
            // the Unicode version of either side, as a count of grapheme clusters would. A text has no
            // more scalars than UTF-8 bytes; only a long one needs counting.
            guard text.utf8.count <= maxLength || text.unicodeScalars.count <= maxLength else {
                throw refuse("must be at most \(maxLength) characters (got \(text.unicodeScalars.count))")
            }
            // Printable ASCII has no control character; anything else is checked scalar by scalar.
            if !isPrintableASCII(text),
                let bad = text.unicodeScalars.first(where: { isRefusedControl($0, multiline: multiline) })
            {
                throw refuse(
                    multiline
                        ? "must not contain control characters (found U+\(codePoint(bad)))"
                        : "must be a single line of text without control characters (found U+\(codePoint(bad)))")
            }
            if rule.required, text.unicodeScalars.allSatisfy(isWhiteSpace) { throw refuse("must not be empty") }
        case .choice(let options):
            guard let text = value.stringValue, options.contains(text) else {
                throw refuse("must be one of \(options.joined(separator: ", ")) (got \(shown(value)))")
            }
        case .recordID:
            guard let text = value.stringValue, UUID(canonical: text) != nil else {
                throw refuse("must be a record id (a lowercase UUID) (got \(shown(value)))")
            }
        case .dosage:
            try validateDosage(value, refuse: refuse)
        case .labResult:
            try validateLabResult(value, refuse: refuse)
        }
    }

    private static func validateLabResult(_ value: JSONValue, refuse: (String) -> ValidationError) throws(ValidationError) {
        guard let members = value.objectValue else { throw refuse("must be an object with value and unit (got \(value.typeName))") }
        if let extra = members.keys.sorted().first(where: { $0 != "value" && $0 != "unit" }) {
            throw refuse("has an unknown member \"\(extra)\" (only value and unit)")
        }
        guard let text = members["value"]?.stringValue else { throw refuse("needs a value, written as text such as \"12.5\"") }
        guard DecimalText(canonical: text) != nil else {
            throw refuse("value must be a decimal number such as \"12.5\" with at most \(DecimalText.maxFractionDigits) decimals (got \"\(text)\")")
        }
        guard let unit = members["unit"]?.stringValue else { throw refuse("needs a unit, such as mg/L") }
        let unitRule = FieldRule("unit", .text(maxLength: unitLimit, multiline: false), required: true)
        do {
            try validate(.string(unit), against: unitRule, record: "")
        } catch {
            throw refuse("unit \(error.rule)")
        }
    }

    private static func validateDosage(_ value: JSONValue, refuse: (String) -> ValidationError) throws(ValidationError) {
        guard let members = value.objectValue else { throw refuse("must be an object with dose and unit (got \(value.typeName))") }
        if let extra = members.keys.sorted().first(where: { $0 != "dose" && $0 != "unit" }) {
            throw refuse("has an unknown member \"\(extra)\" (only dose and unit)")
        }
        guard let doseText = members["dose"]?.stringValue else { throw refuse("needs a dose, written as text such as \"250\"") }
        guard let dose = DecimalText(canonical: doseText) else {
            throw refuse("dose must be a decimal number such as \"2.5\" with at most \(DecimalText.maxFractionDigits) decimals (got \"\(doseText)\")")
        }
        guard !dose.isZero else { throw refuse("dose must be greater than 0") }
        guard let unit = members["unit"]?.stringValue else {
            throw refuse("needs a unit when a dose is given (one of \(doseUnits.joined(separator: ", ")))")
        }
        guard doseUnits.contains(unit) else { throw refuse("unit must be one of \(doseUnits.joined(separator: ", ")) (got \"\(unit)\")") }
    }

    /// Whether every byte is printable ASCII, read in the string's own storage (iterating its
    /// `UTF8View` called a protocol witness for every byte).
    private static func isPrintableASCII(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F } }
    }

    /// The control characters text refuses: C0 (U+0000–U+001F) but for tab, line feed and carriage
    /// return in multi-line text, DEL (U+007F) and C1 (U+0080–U+009F); single-line text also refuses
    /// the line and paragraph separators U+2028 and U+2029, which break a line as a line feed does.
    private static func isRefusedControl(_ scalar: Unicode.Scalar, multiline: Bool) -> Bool {
        if multiline, scalar == "\n" || scalar == "\t" || scalar == "\r" { return false }
        if !multiline, scalar == "\u{2028}" || scalar == "\u{2029}" { return true }
        return scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
    }

    /// Unicode's White_Space characters, listed rather than read from the Unicode tables of whichever
    /// version the platform has, so that what counts as blank never differs between two machines.
    static func isWhiteSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// The text without White_Space at either end, as a device name is stored.
    public static func trimmingWhiteSpace(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isWhiteSpace($0) }), let last = scalars.lastIndex(where: { !isWhiteSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }

    private static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// A value as it should appear inside an error message: short and unambiguous.
    static func shown(_ value: JSONValue) -> String {
        let text = value.canonicalString
        return text.count > 60 ? String(text.prefix(57)) + "…" : text
    }
}
