import Crypto
import Foundation
import SyncCore

/// The diary as one FHIR R4 Bundle of type `collection`, the mapping of docs/FHIR.md: a Patient for the
/// child, a Condition for CRMO (text only: no code we could confirm from a citable source), per flare an
/// Observation of pain severity (LOINC 72514-3) and one of body temperature (LOINC 8310-5) where fever was
/// recorded, per treatment a MedicationStatement or, for surgery and physiotherapy, a Procedure; per
/// check-in, lab result, imaging study and growth measurement the resources of FHIRCheckins.swift,
/// FHIRLabResults.swift, FHIRImaging.swift and FHIRGrowth.swift.
///
/// Resource ids are derived from record ids, so exporting again gives the same ids and a receiving system
/// updates rather than duplicates. Deleted records are left out, and so are records of a type this
/// version does not know: it cannot say what they mean.
public enum FHIRExport {
    static let loinc = "http://loinc.org"
    static let ucum = "http://unitsofmeasure.org"
    static let observationCategorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"
    /// The body-site vocabulary of docs/PROTOCOL.md section 2, as a CareSync code system.
    public static let bodySiteSystem = "https://caresync.invalid/fhir/CodeSystem/body-site"
    static let crmoText = "Chronic recurrent multifocal osteomyelitis (CRMO), also called chronic nonbacterial osteomyelitis (CNO)"

    public static func bundle(records: [DiaryRecord], identity: DeviceIdentity, exportedAt: Date = Date()) -> JSONDocument {
        let live = records.filter { !$0.isDeleted }
        func ofType(_ type: RecordType, by field: String) -> [DiaryRecord] {
            live.filter { $0.type == type }.sorted {
                ($0.values[field]?.stringValue ?? "", $0.id.canonical) < ($1.values[field]?.stringValue ?? "", $1.id.canonical)
            }
        }
        let flares = ofType(.flare, by: "started")
        let treatments = ofType(.treatment, by: "started")
        let patientID = identity.diary.canonical
        let patient: JSONDocument = .object([("reference", .string("urn:uuid:\(patientID)"))])
        var entries: [JSONDocument] = [
            entry(
                patientID,
                .object([
                    ("resourceType", .string("Patient")), ("id", .string(patientID)),
                    ("name", .array([.object([("text", .string(identity.diaryName))])])),
                ]))
        ]

        var condition: [(String, JSONDocument)] = [
            ("resourceType", .string("Condition")), ("id", .string(derivedID(identity.diary, "condition"))),
            ("code", .object([("text", .string(crmoText))])), ("subject", patient),
        ]
        let sites = Array(Set(flares.flatMap(siteNames))).sorted()
        if !sites.isEmpty { condition.append(("bodySite", .array(sites.map(bodySite)))) }
        if let first = flares.first { condition.append(("onsetDateTime", .string(started(first)))) }
        condition.append(("note", .array([.object([("text", .string("Recorded by the family in the CareSync diary \"\(identity.diaryName)\"."))])])))
        entries.append(entry(derivedID(identity.diary, "condition"), .object(condition)))

        for flare in flares {
            entries.append(entry(flare.id.canonical, painObservation(flare, patient: patient)))
            if let fever = flare.values["fever_c"]?.stringValue {
                let id = derivedID(flare.id, "temperature")
                entries.append(entry(id, temperatureObservation(flare, id: id, celsius: fever, patient: patient)))
            }
        }
        let flareIDs = Set(flares.map(\.id.canonical))
        for treatment in treatments {
            entries.append(entry(treatment.id.canonical, treatmentResource(treatment, patient: patient, flares: flareIDs)))
        }
        for checkin in ofType(.checkin, by: "date") { entries += checkinResources(checkin, patient: patient) }
        for lab in ofType(.lab, by: "taken") { entries.append(entry(lab.id.canonical, labObservation(lab, patient: patient))) }
        for imaging in ofType(.imaging, by: "date") { entries += imagingResources(imaging, patient: patient) }
        for growth in ofType(.growth, by: "date") { entries += growthObservations(growth, patient: patient) }
        return .object([
            ("resourceType", .string("Bundle")), ("id", .string(derivedID(identity.diary, "bundle"))), ("type", .string("collection")),
            ("timestamp", .string(iso(exportedAt))), ("entry", .array(entries)),
        ])
    }

    // MARK: Resources

    private static func painObservation(_ flare: DiaryRecord, patient: JSONDocument) -> JSONDocument {
        var members: [(String, JSONDocument)] = [
            ("resourceType", .string("Observation")), ("id", .string(flare.id.canonical)), ("status", .string("final")),
            ("code", coded(loinc, "72514-3", text: "Pain severity (0-10 numeric rating scale)")), ("subject", patient),
            ("effectiveDateTime", .string(started(flare))),
            ("valueInteger", .int(flare.values["pain"]?.intValue ?? 0)),
        ]
        // Observation.bodySite holds one concept; several sites are named in text.
        if let site = bodySite(of: siteNames(flare)) { members.append(("bodySite", site)) }
        var notes: [String] = []
        let signs = ["swelling", "redness", "warmth", "limp"].filter { flare.values[$0]?.boolValue == true }
        if !signs.isEmpty { notes.append("Signs: \(signs.joined(separator: ", ")).") }
        if let ended = flare.values["ended"]?.stringValue { notes.append("Flare ended \(ended).") }
        if let text = flare.values["notes"]?.stringValue { notes.append(text) }
        if !notes.isEmpty { members.append(("note", annotations(notes))) }
        return .object(members)
    }

    private static func temperatureObservation(_ flare: DiaryRecord, id: String, celsius: String, patient: JSONDocument) -> JSONDocument {
        .object([
            ("resourceType", .string("Observation")), ("id", .string(id)), ("status", .string("final")),
            ("category", observationCategory("vital-signs")),
            ("code", coded(loinc, "8310-5", text: "Body temperature")), ("subject", patient), ("effectiveDateTime", .string(started(flare))),
            ("valueQuantity", quantity(celsius, unit: "Cel", code: "Cel")),
            ("derivedFrom", .array([.object([("reference", .string("urn:uuid:\(flare.id.canonical)"))])])),
        ])
    }

    private static func treatmentResource(_ treatment: DiaryRecord, patient: JSONDocument, flares: Set<String>) -> JSONDocument {
        let values = treatment.values
        let kind = values["kind"]?.stringValue ?? "other"
        let isProcedure = kind == "surgery" || kind == "physiotherapy"
        let start = started(treatment)
        let end = values["ended"]?.stringValue
        var members: [(String, JSONDocument)] = [
            ("resourceType", .string(isProcedure ? "Procedure" : "MedicationStatement")), ("id", .string(treatment.id.canonical)),
        ]
        let timing: (String, JSONDocument)
        let prefix = isProcedure ? "performed" : "effective"
        if let end {
            timing = ("\(prefix)Period", .object([("start", .string(start)), ("end", .string(end))]))
        } else if CalendarText.isDateTime(start) {
            timing = ("\(prefix)DateTime", .string(start))
        } else {
            timing = ("\(prefix)Period", .object([("start", .string(start))]))
        }
        let ongoing = end == nil && !CalendarText.isDateTime(start)
        if isProcedure {
            members += [
                ("status", .string(ongoing ? "in-progress" : "completed")),
                ("category", .object([("text", .string(kind))])), ("code", .object([("text", .string(values["name"]?.stringValue ?? kind))])),
                ("subject", patient), timing,
            ]
        } else {
            members += [
                ("status", .string(ongoing ? "active" : "completed")),
                ("medicationCodeableConcept", .object([("text", .string(values["name"]?.stringValue ?? kind))])), ("subject", patient), timing,
            ]
        }
        if let flare = values["flare"]?.stringValue, flares.contains(flare) {
            members.append(("reasonReference", .array([.object([("reference", .string("urn:uuid:\(flare)"))])])))
        }
        if !isProcedure, let dosage = dosage(values) { members.append(("dosage", .array([dosage]))) }
        var notes = ["Kind: \(kind)."]
        if let text = values["notes"]?.stringValue { notes.append(text) }
        members.append(("note", annotations(notes)))
        return .object(members)
    }

    private static func dosage(_ values: [String: JSONValue]) -> JSONDocument? {
        let dose = values["dosage"]?.objectValue
        let route = values["route"]?.stringValue
        guard dose != nil || route != nil else { return nil }
        var members: [(String, JSONDocument)] = []
        var text: [String] = []
        if let amount = dose?["dose"]?.stringValue, let unit = dose?["unit"]?.stringValue {
            text.append("\(amount) \(unit)")
        }
        if let route { text.append(route) }
        members.append(("text", .string(text.joined(separator: " "))))
        if let route { members.append(("route", .object([("text", .string(route))]))) }
        if let amount = dose?["dose"]?.stringValue, let unit = dose?["unit"]?.stringValue {
            members.append(("doseAndRate", .array([.object([("doseQuantity", quantity(amount, unit: unit, code: ucumCode(unit)))])])))
        }
        return .object(members)
    }

    // MARK: Pieces

    static func entry(_ id: String, _ resource: JSONDocument) -> JSONDocument {
        .object([("fullUrl", .string("urn:uuid:\(id)")), ("resource", resource)])
    }

    static func coded(_ system: String, _ code: String, text: String) -> JSONDocument {
        .object([("coding", .array([.object([("system", .string(system)), ("code", .string(code))])])), ("text", .string(text))])
    }

    /// A concept no code system we could confirm names: text only (docs/FHIR.md, "Codes").
    static func textOnly(_ text: String) -> JSONDocument {
        .object([("text", .string(text))])
    }

    static func quantity(_ value: String, unit: String, code: String) -> JSONDocument {
        .object([("value", .number(value)), ("unit", .string(unit)), ("system", .string(ucum)), ("code", .string(code))])
    }

    /// `Observation.category` from the FHIR observation-category code system (vital-signs, laboratory, imaging, …).
    static func observationCategory(_ code: String) -> JSONDocument {
        .array([.object([("coding", .array([.object([("system", .string(observationCategorySystem)), ("code", .string(code))])]))])])
    }

    static func annotations(_ notes: [String]) -> JSONDocument {
        .array(notes.map { .object([("text", .string($0))]) })
    }

    static func reference(_ id: String) -> JSONDocument {
        .object([("reference", .string("urn:uuid:\(id)"))])
    }

    /// `bodySite` for one concept: one site coded with its label; several named together in text.
    static func bodySite(of sites: [String]) -> JSONDocument? {
        switch sites.count {
        case 0: nil
        case 1: bodySite(sites[0])
        default: .object([("text", .string(sites.map(BodySiteText.label).joined(separator: "; ")))])
        }
    }

    /// UCUM codes of the dose units of docs/PROTOCOL.md section 2.
    static func ucumCode(_ unit: String) -> String {
        switch unit {
        case "ml": "mL"
        case "IU": "[IU]"
        case "tablet": "{tablet}"
        default: unit
        }
    }

    private static func bodySite(_ site: String) -> JSONDocument {
        .object([
            ("coding", .array([.object([("system", .string(bodySiteSystem)), ("code", .string(site))])])),
            ("text", .string(BodySiteText.label(site))),
        ])
    }

    static func siteNames(_ record: DiaryRecord) -> [String] {
        record.values["sites"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    private static func started(_ record: DiaryRecord) -> String { record.values["started"]?.stringValue ?? "" }

    /// A stable id for a resource that has no record of its own: a name-based UUID (version 8) from the
    /// SHA-256 of the record id and the resource's role.
    static func derivedID(_ id: UUID, _ role: String) -> String {
        var bytes = Array(SHA256.hash(data: Array("caresync/\(role)/\(id.canonical)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Hex.encode(bytes)
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    private static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// Body sites as people read them: "tibia-left" → "Left tibia".
public enum BodySiteText {
    public static func label(_ site: String) -> String {
        let words = site.replacingOccurrences(of: "-", with: " ")
        for side in ["left", "right"] where site.hasSuffix("-\(side)") {
            let bone = String(words.dropLast(side.count + 1))
            return side.prefix(1).uppercased() + side.dropFirst() + " " + bone
        }
        return words.prefix(1).uppercased() + words.dropFirst()
    }
}
