import Foundation
import SyncCore

/// An imaging study as a FHIR DiagnosticReport of the Radiology section (HL7 table 0074, `RAD`): the
/// findings as its conclusion and the count of active lesions as an Observation in its results. The
/// modality is text: no LOINC code for a study of unknown body region could be confirmed.
extension FHIRExport {
    static let diagnosticServiceSectionSystem = "http://terminology.hl7.org/CodeSystem/v2-0074"
    static let lesionCountText = "Number of active lesions"

    static let modalityText: [String: String] = [
        "mri": "MRI", "whole-body-mri": "Whole-body MRI", "xray": "X-ray", "bone-scan": "Bone scan", "ct": "CT", "ultrasound": "Ultrasound",
    ]

    static func imagingResources(_ imaging: DiaryRecord, patient: JSONDocument) -> [JSONDocument] {
        let values = imaging.values
        let date = values["date"]?.stringValue ?? ""
        let modality = values["modality"]?.stringValue ?? ""
        let sites = siteNames(imaging)
        // DiagnosticReport has no bodySite in R4: the sites name the study ("MRI: Left tibia; Right femur")
        // and are coded on the lesion count.
        var title = modalityText[modality] ?? modality
        if !sites.isEmpty { title += ": " + sites.map(BodySiteText.label).joined(separator: "; ") }
        var report: [(String, JSONDocument)] = [
            ("resourceType", .string("DiagnosticReport")), ("id", .string(imaging.id.canonical)), ("status", .string("final")),
            (
                "category",
                .array([
                    .object([
                        ("coding", .array([.object([("system", .string(diagnosticServiceSectionSystem)), ("code", .string("RAD"))])])),
                        ("text", .string("Radiology")),
                    ])
                ])
            ),
            ("code", textOnly(title)), ("subject", patient), ("effectiveDateTime", .string(date)),
        ]
        var resources: [JSONDocument] = []
        if let lesions = values["active_lesions"]?.intValue {
            let id = derivedID(imaging.id, "lesions")
            var count: [(String, JSONDocument)] = [
                ("resourceType", .string("Observation")), ("id", .string(id)), ("status", .string("final")),
                ("category", observationCategory("imaging")), ("code", textOnly(lesionCountText)), ("subject", patient),
                ("effectiveDateTime", .string(date)), ("valueInteger", .int(lesions)),
            ]
            if let site = bodySite(of: sites) { count.append(("bodySite", site)) }
            resources.append(entry(id, .object(count)))
            report.append(("result", .array([reference(id)])))
        }
        // R4's DiagnosticReport has no note either: the family's notes follow the findings, marked as theirs.
        var conclusion = values["findings"]?.stringValue.map { [$0] } ?? []
        if let notes = values["notes"]?.stringValue { conclusion.append("Notes from the family: \(notes)") }
        if !conclusion.isEmpty { report.append(("conclusion", .string(conclusion.joined(separator: "\n\n")))) }
        return [entry(imaging.id.canonical, .object(report))] + resources
    }
}
