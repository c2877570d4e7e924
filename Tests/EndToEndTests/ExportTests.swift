import Foundation
import SyncCore
import Testing

@testable import CareSyncClient

/// What the clinician takes away: CSV, JSON and FHIR R4 exports of a realistic diary.
@Suite struct ExportTests {
    /// The example diary of docs/examples: 10 flares and 6 treatments over six months.
    static let exampleDiary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/examples/diary.json").path
    static let validator = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reference/validate_fhir.py").path

    /// Mum imports the example diary and syncs; the clinic joins and pulls it.
    static func familyWithExampleDiary() async throws -> Family {
        let family = try await Family.parents()
        try await family.ok("mum", "import", "--format", "json", exampleDiary)
        try await family.ok("mum", "sync")
        try await family.invite("clinic", role: "clinician")
        try await family.ok("clinic", "pull")
        return family
    }

    @Test func theFHIRBundleOfARealisticDiaryValidatesAndHoldsTheCodes() async throws {
        try await withFamily({ try await Self.familyWithExampleDiary() }) { family in
            let file = family.folder.path("bundle.json")
            try await family.ok("clinic", "export", "--format", "fhir", "--output", file)
            let validation = try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Self.validator, file])
            #expect(validation.status == 0, "fhir.resources (R4B models) accepts the bundle: \(validation)")

            let bundle = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
            #expect(bundle["resourceType"] as? String == "Bundle" && bundle["type"] as? String == "collection")
            let resources = try #require(bundle["entry"] as? [[String: Any]]).compactMap { $0["resource"] as? [String: Any] }
            func all(_ type: String) -> [[String: Any]] { resources.filter { $0["resourceType"] as? String == type } }
            func loinc(_ resource: [String: Any]) -> String? {
                ((resource["code"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"] as? String
            }
            #expect(all("Patient").count == 1)
            let condition = try #require(all("Condition").first)
            let conditionCode = try #require(condition["code"] as? [String: Any])
            #expect(conditionCode["coding"] == nil, "no code we could not confirm")
            #expect((conditionCode["text"] as? String)?.contains("multifocal osteomyelitis") == true)

            let pain = all("Observation").filter { loinc($0) == "72514-3" }
            #expect(pain.count == 10)
            let first = try #require(pain.first { $0["id"] as? String == "0195f0a0-0000-7000-8000-000000000001" })
            #expect(first["valueInteger"] as? Int == 6 && first["effectiveDateTime"] as? String == "2026-06-03")
            let site = try #require(first["bodySite"] as? [String: Any])
            #expect(site["text"] as? String == "Left tibia")
            #expect(((site["coding"] as? [[String: Any]])?.first?["code"] as? String) == "tibia-left")

            let temperatures = all("Observation").filter { loinc($0) == "8310-5" }
            #expect(temperatures.count == 3, "flares 1, 3 and 7 recorded fever")
            let quantity = try #require(temperatures.first?["valueQuantity"] as? [String: Any])
            #expect(quantity["code"] as? String == "Cel" && quantity["system"] as? String == "http://unitsofmeasure.org")
            #expect(Set(temperatures.compactMap { ($0["valueQuantity"] as? [String: Any])?["value"] as? Double }) == [38.1, 38.6, 37.9])

            let medicines = all("MedicationStatement")
            #expect(medicines.count == 5)
            let naproxen = try #require(medicines.first { $0["id"] as? String == "0195f0a0-0000-7000-9000-000000000001" })
            let dosage = try #require((naproxen["dosage"] as? [[String: Any]])?.first)
            #expect((dosage["route"] as? [String: Any])?["text"] as? String == "oral")
            let dose = try #require(((dosage["doseAndRate"] as? [[String: Any]])?.first?["doseQuantity"]) as? [String: Any])
            #expect(dose["value"] as? Int == 250 && dose["code"] as? String == "mg")
            #expect(all("Procedure").count == 1, "the physiotherapy course")

            // Exporting again gives the same resource ids: a receiving system updates, it does not duplicate.
            let again = family.folder.path("bundle-again.json")
            try await family.ok("clinic", "export", "--format", "fhir", "--output", again)
            let ids = { (path: String) throws -> [String] in
                let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
                return (object?["entry"] as? [[String: Any]] ?? []).compactMap { ($0["resource"] as? [String: Any])?["id"] as? String }
            }
            #expect(try ids(file) == ids(again))
        }
    }

    /// A season of the newer record types, in the shape `list --json` prints, and one record of a type
    /// this version does not know.
    static let newerRecords = """
        [
          {"type": "checkin", "date": "2026-09-01", "pain": 3, "wellbeing": 4, "sites": ["tibia-left"], "limp": true,
           "school_missed": "part", "sleep_disturbed": true, "notes": "Tired after PE."},
          {"type": "checkin", "date": "2026-09-02", "pain": 1},
          {"id": "0195f0a0-0000-7000-a000-000000000001", "type": "lab", "taken": "2026-09-01T08:30:00+02:00", "test": "crp",
           "value": "12.5", "unit": "mg/L", "ref_low": "0", "ref_high": "5"},
          {"type": "lab", "taken": "2026-09-01", "test": "esr", "value": "38", "unit": "mm/h", "ref_high": "20"},
          {"type": "lab", "taken": "2026-09-01", "test": "wbc", "value": "9.8", "unit": "10^9/L"},
          {"type": "lab", "taken": "2026-09-01", "test": "ferritin", "value": "45", "unit": "ng/mL"},
          {"type": "lab", "taken": "2026-09-01", "test": "hb", "value": "12.1", "unit": "g/dL"},
          {"type": "lab", "taken": "2026-09-01", "test": "platelets", "value": "410", "unit": "10^9/L"},
          {"type": "lab", "taken": "2026-09-01", "test": "rf", "value": "8", "unit": "IU/mL"},
          {"type": "lab", "taken": "2026-09-01", "test": "alp", "value": "250", "unit": "U/L"},
          {"id": "0195f0a0-0000-7000-a000-000000000002", "type": "lab", "taken": "2026-09-01", "test": "ana", "value": "160",
           "unit": "titer", "ref_high": "80"},
          {"id": "0195f0a0-0000-7000-a000-000000000003", "type": "lab", "taken": "2026-09-01", "test": "other",
           "name": "Calprotectin (faecal)", "value": "30", "unit": "ug/g"},
          {"id": "0195f0a0-0000-7000-b000-000000000001", "type": "imaging", "date": "2026-09-10", "modality": "whole-body-mri",
           "sites": ["tibia-left", "clavicle-right"], "active_lesions": 3,
           "findings": "Three active lesions: left distal tibia, right medial clavicle.", "notes": "Sedation not needed."},
          {"id": "0195f0a0-0000-7000-c000-000000000001", "type": "growth", "date": "2026-09-10", "height_cm": "128.5",
           "weight_kg": "26.2"},
          {"id": "0195f0a0-0000-7000-d000-000000000001", "type": "sleep-log", "hours": "9"}
        ]
        """

    @Test func theFHIRBundleOfNewerRecordTypesValidatesAndHoldsConfirmedCodes() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let input = family.folder.path("newer.json")
            try Data(Self.newerRecords.utf8).write(to: URL(fileURLWithPath: input))
            try await family.ok("mum", "import", "--format", "json", input)
            try await family.ok("mum", "sync")
            try await family.invite("clinic", role: "clinician")
            try await family.ok("clinic", "pull")
            let file = family.folder.path("bundle.json")
            try await family.ok("clinic", "export", "--format", "fhir", "--output", file)
            let validation = try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Self.validator, file])
            #expect(validation.status == 0, "fhir.resources (R4B models) accepts the bundle: \(validation)")

            let bundle = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
            let resources = try #require(bundle["entry"] as? [[String: Any]]).compactMap { $0["resource"] as? [String: Any] }
            func all(_ type: String) -> [[String: Any]] { resources.filter { $0["resourceType"] as? String == type } }
            func code(_ resource: [String: Any]) -> [String: Any] { resource["code"] as? [String: Any] ?? [:] }
            func loinc(_ resource: [String: Any]) -> String? {
                let coding = (code(resource)["coding"] as? [[String: Any]])?.first
                return coding?["system"] as? String == "http://loinc.org" ? coding?["code"] as? String : nil
            }
            func category(_ resource: [String: Any]) -> String? {
                (((resource["category"] as? [[String: Any]])?.first?["coding"]) as? [[String: Any]])?.first?["code"] as? String
            }
            func quantity(_ resource: [String: Any]) -> (value: Double?, code: String?, system: String?) {
                let value = resource["valueQuantity"] as? [String: Any]
                return ((value?["value"] as? NSNumber)?.doubleValue, value?["code"] as? String, value?["system"] as? String)
            }
            let observations = all("Observation")

            // Labs: the LOINC code and UCUM unit of each test.
            let labs = observations.filter { category($0) == "laboratory" }
            #expect(labs.count == 10)
            let expected: [(loinc: String, ucum: String, value: Double)] = [
                ("1988-5", "mg/L", 12.5), ("30341-2", "mm/h", 38), ("6690-2", "10*9/L", 9.8), ("2276-4", "ng/mL", 45), ("718-7", "g/dL", 12.1),
                ("777-3", "10*9/L", 410), ("11572-5", "[IU]/mL", 8), ("6768-6", "U/L", 250),
            ]
            for test in expected {
                let lab = try #require(labs.first { loinc($0) == test.loinc }, "a lab Observation coded LOINC \(test.loinc)")
                let value = quantity(lab)
                #expect(value.code == test.ucum && value.system == "http://unitsofmeasure.org" && value.value == test.value, "\(test.loinc)")
            }
            let crp = try #require(labs.first { $0["id"] as? String == "0195f0a0-0000-7000-a000-000000000001" })
            #expect(crp["effectiveDateTime"] as? String == "2026-09-01T08:30:00+02:00")
            let range = try #require((crp["referenceRange"] as? [[String: Any]])?.first)
            #expect(((range["low"] as? [String: Any])?["value"] as? NSNumber)?.doubleValue == 0)
            #expect((range["high"] as? [String: Any])?["code"] as? String == "mg/L")
            let ana = try #require(labs.first { $0["id"] as? String == "0195f0a0-0000-7000-a000-000000000002" })
            #expect(code(ana)["coding"] == nil, "no ANA titer code could be confirmed: text only")
            let titer = try #require(ana["valueRatio"] as? [String: Any])
            #expect((titer["numerator"] as? [String: Any])?["value"] as? Int == 1)
            #expect((titer["denominator"] as? [String: Any])?["value"] as? Int == 160)
            let other = try #require(labs.first { $0["id"] as? String == "0195f0a0-0000-7000-a000-000000000003" })
            #expect(code(other)["coding"] == nil && code(other)["text"] as? String == "Calprotectin (faecal)")
            #expect(quantity(other).code == nil && (other["valueQuantity"] as? [String: Any])?["unit"] as? String == "ug/g")

            // Check-ins: one pain Observation per day, well-being text-coded.
            let pain = observations.filter { loinc($0) == "72514-3" }
            #expect(pain.count == 2)
            let monday = try #require(pain.first { $0["effectiveDateTime"] as? String == "2026-09-01" })
            #expect(monday["valueInteger"] as? Int == 3)
            #expect((monday["bodySite"] as? [String: Any])?["text"] as? String == "Left tibia")
            let notes = (monday["note"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
            #expect(notes.contains("Limping.") && notes.contains("Missed part of the school day.") && notes.contains("Sleep disturbed."))
            let wellbeing = observations.filter { (code($0)["text"] as? String)?.hasPrefix("Well-being") == true }
            #expect(wellbeing.count == 1 && wellbeing.first?["valueInteger"] as? Int == 4 && code(wellbeing[0])["coding"] == nil)

            // Growth: vital signs in cm and kg.
            let height = try #require(observations.first { loinc($0) == "8302-2" })
            #expect(category(height) == "vital-signs" && quantity(height).code == "cm" && quantity(height).value == 128.5)
            let weight = try #require(observations.first { loinc($0) == "29463-7" })
            #expect(category(weight) == "vital-signs" && quantity(weight).code == "kg" && quantity(weight).value == 26.2)

            // Imaging: a Radiology DiagnosticReport whose result is the lesion count.
            let report = try #require(all("DiagnosticReport").first)
            #expect(report["id"] as? String == "0195f0a0-0000-7000-b000-000000000001")
            let section = try #require((((report["category"] as? [[String: Any]])?.first?["coding"]) as? [[String: Any]])?.first)
            #expect(section["system"] as? String == "http://terminology.hl7.org/CodeSystem/v2-0074" && section["code"] as? String == "RAD")
            #expect((report["conclusion"] as? String)?.hasPrefix("Three active lesions: left distal tibia, right medial clavicle.") == true)
            #expect(report["effectiveDateTime"] as? String == "2026-09-10")
            let result = try #require(((report["result"] as? [[String: Any]])?.first?["reference"]) as? String)
            let lesions = try #require(observations.first { "urn:uuid:\($0["id"] as? String ?? "")" == result })
            #expect(code(lesions)["text"] as? String == "Number of active lesions" && lesions["valueInteger"] as? Int == 3)
            #expect((lesions["bodySite"] as? [String: Any])?["text"] as? String == "Left tibia; Right clavicle")

            // The record of a type this version does not know is left out, and the export still works.
            let ids = resources.compactMap { $0["id"] as? String }
            #expect(!ids.contains("0195f0a0-0000-7000-d000-000000000001"))
            #expect(Set(resources.compactMap { $0["resourceType"] as? String }) == ["Patient", "Condition", "Observation", "DiagnosticReport"])
        }
    }

    @Test func csvAndJSONExportsReadBackExactly() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            try await family.ok(
                "mum", "flare", "add", "--started", "2026-11-01", "--site", "rib-left", "--pain", "4", "--notes", "a, b \"c\"\nnext line — ü")
            try await family.ok(
                "mum", "treatment", "add", "--kind", "antibiotic", "--name", "azithromycin", "--dose", "12.5", "--unit", "mg/kg", "--started",
                "2026-11-01T08:00:00+01:00")
            let csv = try await family.ok("mum", "export", "--format", "csv")
            let json = try await family.ok("mum", "export", "--format", "json")
            let csvFile = family.folder.path("diary.csv")
            try Data(csv.utf8).write(to: URL(fileURLWithPath: csvFile))
            // Grandma starts her own diary from the file; the records come back field for field.
            let code = try await family.createDiaryCode()
            try await family.ok("grandma", "join", family.server.url, code)
            try await family.ok("grandma", "import", "--format", "csv", csvFile)
            #expect(try await family.ok("grandma", "export", "--format", "csv") == csv)
            #expect(try await family.ok("grandma", "export", "--format", "json") == json)
        }
    }
}
