import Foundation
import SyncCore

/// A growth record as the vital-signs Observations of FHIR's body height (LOINC 8302-2, cm) and body
/// weight (LOINC 29463-7, kg) profiles, one for each measurement it holds.
extension FHIRExport {
    static func growthObservations(_ growth: DiaryRecord, patient: JSONDocument) -> [JSONDocument] {
        let measures = [("height_cm", "height", "8302-2", "Body height", "cm"), ("weight_kg", "weight", "29463-7", "Body weight", "kg")]
        return measures.compactMap { field, role, code, text, unit in
            guard let amount = growth.values[field]?.stringValue else { return nil }
            let id = derivedID(growth.id, role)
            var members: [(String, JSONDocument)] = [
                ("resourceType", .string("Observation")), ("id", .string(id)), ("status", .string("final")),
                ("category", observationCategory("vital-signs")), ("code", coded(loinc, code, text: text)), ("subject", patient),
                ("effectiveDateTime", .string(growth.values["date"]?.stringValue ?? "")), ("valueQuantity", quantity(amount, unit: unit, code: unit)),
            ]
            if let notes = growth.values["notes"]?.stringValue { members.append(("note", annotations([notes]))) }
            return entry(id, .object(members))
        }
    }
}
