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
