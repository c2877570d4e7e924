import Foundation
import SyncCore

/// A day's check-in as FHIR Observations: the pain of the day (LOINC 72514-3, as for a flare) and, when
/// given, the child's well-being, which no code we could confirm names (text only).
extension FHIRExport {
    static let wellbeingText = "Well-being, parent-reported (0 = very well, 10 = very poor)"

    static func checkinResources(_ checkin: DiaryRecord, patient: JSONDocument) -> [JSONDocument] {
        let values = checkin.values
        let date = values["date"]?.stringValue ?? ""
        var pain: [(String, JSONDocument)] = [
            ("resourceType", .string("Observation")), ("id", .string(checkin.id.canonical)), ("status", .string("final")),
            ("code", coded(loinc, "72514-3", text: "Pain severity (0-10 numeric rating scale)")), ("subject", patient),
            ("effectiveDateTime", .string(date)), ("valueInteger", .int(values["pain"]?.intValue ?? 0)),
        ]
        if let site = bodySite(of: siteNames(checkin)) { pain.append(("bodySite", site)) }
        // What else the day held has no code either: it goes with the pain, in words a clinician reads.
        var notes = ["Daily check-in."]
        if let limp = values["limp"]?.boolValue { notes.append(limp ? "Limping." : "No limp.") }
        switch values["school_missed"]?.stringValue {
        case "part": notes.append("Missed part of the school day.")
        case "whole": notes.append("Missed the whole school day.")
        case "none": notes.append("Missed no school.")
        default: break
        }
        if let sleep = values["sleep_disturbed"]?.boolValue { notes.append(sleep ? "Sleep disturbed." : "Slept undisturbed.") }
        if let text = values["notes"]?.stringValue { notes.append(text) }
        pain.append(("note", annotations(notes)))
        var resources = [entry(checkin.id.canonical, .object(pain))]

        if let wellbeing = values["wellbeing"]?.intValue {
            let id = derivedID(checkin.id, "wellbeing")
            resources.append(
                entry(
                    id,
                    .object([
                        ("resourceType", .string("Observation")), ("id", .string(id)), ("status", .string("final")),
                        ("code", textOnly(wellbeingText)), ("subject", patient), ("effectiveDateTime", .string(date)),
                        ("valueInteger", .int(wellbeing)), ("derivedFrom", .array([reference(checkin.id.canonical)])),
                    ])))
        }
        return resources
    }
}
