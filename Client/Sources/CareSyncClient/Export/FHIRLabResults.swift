import Foundation
import SyncCore

/// Lab results as FHIR Observations of category `laboratory`: the LOINC code of each test we could
/// confirm (docs/FHIR.md, "Codes"), the result as a UCUM quantity, the reference range the lab gave.
extension FHIRExport {
    /// A lab test's LOINC code (nil where none could be confirmed) and the words a reader sees.
    struct LabCode {
        let loinc: String?
        let text: String
    }

    /// The tests of `RecordSchema.labUnits`. The codes name no method where LOINC has such a code: a
    /// family copies a number from a report and seldom knows how the lab measured it.
    static let labCodes: [String: LabCode] = [
        "crp": LabCode(loinc: "1988-5", text: "C reactive protein [Mass/volume] in Serum or Plasma"),
        "esr": LabCode(loinc: "30341-2", text: "Erythrocyte sedimentation rate"),
        "wbc": LabCode(loinc: "6690-2", text: "Leukocytes [#/volume] in Blood by Automated count"),
        "ferritin": LabCode(loinc: "2276-4", text: "Ferritin [Mass/volume] in Serum or Plasma"),
        "hb": LabCode(loinc: "718-7", text: "Hemoglobin [Mass/volume] in Blood"),
        "platelets": LabCode(loinc: "777-3", text: "Platelets [#/volume] in Blood by Automated count"),
        "rf": LabCode(loinc: "11572-5", text: "Rheumatoid factor [Units/volume] in Serum or Plasma"),
        "alp": LabCode(loinc: "6768-6", text: "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma"),
        // No ANA titer code could be confirmed from a source we can cite: text only.
        "ana": LabCode(loinc: nil, text: "Antinuclear antibodies (ANA) titer"),
    ]

    /// The UCUM code of each unit `RecordSchema.labUnits` allows; a unit of an `other` test has none.
    static let labUCUM: [String: String] = [
        "mg/L": "mg/L", "mg/dL": "mg/dL", "mm/h": "mm/h", "10^9/L": "10*9/L", "ng/mL": "ng/mL", "ug/L": "ug/L",
        "g/dL": "g/dL", "g/L": "g/L", "IU/mL": "[IU]/mL", "U/L": "U/L",
    ]

    static func labObservation(_ lab: DiaryRecord, patient: JSONDocument) -> JSONDocument {
        let values = lab.values
        let test = values["test"]?.stringValue ?? "other"
        let code: JSONDocument
        if let known = labCodes[test] {
            code = known.loinc.map { coded(loinc, $0, text: known.text) } ?? textOnly(known.text)
        } else {
            code = textOnly(values["name"]?.stringValue ?? test)
        }
        var members: [(String, JSONDocument)] = [
            ("resourceType", .string("Observation")), ("id", .string(lab.id.canonical)), ("status", .string("final")),
            ("category", observationCategory("laboratory")), ("code", code), ("subject", patient),
            ("effectiveDateTime", .string(values["taken"]?.stringValue ?? "")),
        ]
        let result = values["result"]?.objectValue
        let amount = result?["value"]?.stringValue
        let unit = result?["unit"]?.stringValue ?? ""
        let low = values["ref_low"]?.stringValue
        let high = values["ref_high"]?.stringValue
        if test == "ana" {
            // A titer is a dilution: the value is its reciprocal, 160 for 1:160, and FHIR's Ratio is the type for titers.
            if let amount {
                members.append(
                    ("valueRatio", .object([("numerator", .object([("value", .int(1))])), ("denominator", .object([("value", .number(amount))]))])))
            }
            let range = [low.map { "from 1:\($0)" }, high.map { "to 1:\($0)" }].compactMap(\.self)
            if !range.isEmpty { members.append(("referenceRange", .array([.object([("text", .string(range.joined(separator: " ")))])]))) }
        } else {
            func measured(_ number: String) -> JSONDocument {
                guard let ucumCode = labUCUM[unit] else { return .object([("value", .number(number)), ("unit", .string(unit))]) }
                return quantity(number, unit: unit, code: ucumCode)
            }
            if let amount { members.append(("valueQuantity", measured(amount))) }
            var range: [(String, JSONDocument)] = []
            if let low { range.append(("low", measured(low))) }
            if let high { range.append(("high", measured(high))) }
            if !range.isEmpty { members.append(("referenceRange", .array([.object(range)]))) }
        }
        if let text = values["notes"]?.stringValue { members.append(("note", annotations([text]))) }
        return .object(members)
    }
}
