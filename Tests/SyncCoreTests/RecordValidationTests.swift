import Foundation
import SyncCore
import Testing

struct RecordValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let type: RecordType
        let field: String
        let value: JSONValue
        let message: String
        var testDescription: String { "\(type.rawValue).\(field) = \(value.canonicalString)" }
    }

    static let refused: [Case] = [
        Case(type: .flare, field: "pain", value: 11, message: "pain must be a whole number from 0 to 10 (got 11)"),
        Case(type: .flare, field: "pain", value: -1, message: "pain must be a whole number from 0 to 10 (got -1)"),
        Case(type: .flare, field: "pain", value: "7", message: "pain must be a whole number from 0 to 10 (got \"7\")"),
        Case(type: .flare, field: "pain", value: .null, message: "pain is required and cannot be cleared"),
        Case(type: .flare, field: "fever_c", value: "43.1", message: "fever_c must be from 34 to 43 (got 43.1)"),
        Case(type: .flare, field: "fever_c", value: "33.9", message: "fever_c must be from 34 to 43 (got 33.9)"),
        Case(type: .flare, field: "fever_c", value: "55", message: "fever_c must be from 34 to 43 (got 55)"),
        Case(type: .flare, field: "fever_c", value: "38.50", message: "fever_c must be a decimal number written as text"),
        Case(type: .flare, field: "fever_c", value: 38, message: "fever_c must be a decimal number written as text"),
        Case(type: .flare, field: "started", value: "2024-02-30", message: "started must be a date written YYYY-MM-DD"),
        Case(type: .flare, field: "started", value: "24-11-2024", message: "started must be a date written YYYY-MM-DD"),
        Case(type: .flare, field: "ended", value: "2024-11-24T10:00:00Z", message: "ended must be a date written YYYY-MM-DD"),
        Case(type: .flare, field: "sites", value: [], message: "sites must name at least one body site"),
        Case(type: .flare, field: "sites", value: ["tibia"], message: "sites has \"tibia\" needs a side: tibia-left or tibia-right"),
        Case(type: .flare, field: "sites", value: ["spine-left"], message: "sites has \"spine-left\" takes no side: use spine"),
        Case(type: .flare, field: "sites", value: ["knee-left"], message: "sites has \"knee-left\" is not a known body site"),
        Case(type: .flare, field: "sites", value: ["femur-left", "femur-left"], message: "sites lists femur-left twice"),
        Case(type: .flare, field: "sites", value: "femur-left", message: "sites must be a list of body sites (got a string)"),
        Case(type: .flare, field: "swelling", value: 1, message: "swelling must be true or false (got 1)"),
        Case(
            type: .flare, field: "notes", value: .string(String(repeating: "a", count: 4_001)),
            message: "notes must be at most 4000 characters (got 4001)"),
        Case(type: .flare, field: "notes", value: "bell\u{07}", message: "notes must not contain control characters (found U+0007)"),
        // Characters are code points: 2,001 grapheme clusters of an e and a combining accent are 4,002.
        Case(
            type: .flare, field: "notes", value: .string(String(repeating: "e\u{301}", count: 2_001)),
            message: "notes must be at most 4000 characters (got 4002)"),
        Case(type: .flare, field: "notes", value: "del\u{7F}", message: "notes must not contain control characters (found U+007F)"),
        Case(type: .flare, field: "notes", value: "next\u{85}line", message: "notes must not contain control characters (found U+0085)"),
        Case(type: .flare, field: "kind", value: "nsaid", message: "kind is not a field of a flare"),
        Case(type: .treatment, field: "kind", value: "vitamin", message: "kind must be one of nsaid, steroid"),
        Case(type: .treatment, field: "name", value: "", message: "name must not be empty"),
        Case(type: .treatment, field: "name", value: "naproxen\nibuprofen", message: "name must be a single line"),
        Case(
            type: .treatment, field: "name", value: "naproxen\t500",
            message: "name must be a single line of text without control characters (found U+0009)"),
        Case(
            type: .treatment, field: "name", value: "naproxen\u{2028}500",
            message: "name must be a single line of text without control characters (found U+2028)"),
        Case(type: .treatment, field: "name", value: "\u{A0}\u{3000} ", message: "name must not be empty"),
        Case(type: .treatment, field: "name", value: .string(String(repeating: "n", count: 201)), message: "name must be at most 200 characters"),
        Case(type: .treatment, field: "dosage", value: ["dose": "250"], message: "dosage needs a unit when a dose is given"),
        Case(type: .treatment, field: "dosage", value: ["unit": "mg"], message: "dosage needs a dose"),
        Case(type: .treatment, field: "dosage", value: ["dose": "0", "unit": "mg"], message: "dosage dose must be greater than 0"),
        Case(type: .treatment, field: "dosage", value: ["dose": "-5", "unit": "mg"], message: "dosage dose must be a decimal number"),
        Case(type: .treatment, field: "dosage", value: ["dose": "5", "unit": "drops"], message: "dosage unit must be one of mg, mg/kg"),
        Case(type: .treatment, field: "dosage", value: ["dose": "5", "unit": "mg", "per": "day"], message: "dosage has an unknown member \"per\""),
        Case(type: .treatment, field: "route", value: "nasal", message: "route must be one of oral, iv, sc, im, topical, other"),
        Case(type: .treatment, field: "started", value: "2024-11-24T08:30", message: "started must be a date (YYYY-MM-DD) or a date and time"),
        Case(type: .treatment, field: "started", value: "2024-11-24T24:00:00Z", message: "started must be a date (YYYY-MM-DD) or a date and time"),
        Case(type: .treatment, field: "flare", value: "not-an-id", message: "flare must be a record id"),
        Case(type: .treatment, field: "deleted", value: "yes", message: "deleted must be true or false"),
        Case(type: .checkin, field: "pain", value: 11, message: "pain must be a whole number from 0 to 10 (got 11)"),
        Case(type: .checkin, field: "pain", value: .null, message: "pain is required and cannot be cleared"),
        Case(type: .checkin, field: "wellbeing", value: -1, message: "wellbeing must be a whole number from 0 to 10 (got -1)"),
        Case(type: .checkin, field: "wellbeing", value: 11, message: "wellbeing must be a whole number from 0 to 10 (got 11)"),
        Case(type: .checkin, field: "date", value: "2026-11-20T08:00:00Z", message: "date must be a date written YYYY-MM-DD"),
        Case(type: .checkin, field: "school_missed", value: "half", message: "school_missed must be one of none, part, whole (got \"half\")"),
        Case(type: .checkin, field: "sleep_disturbed", value: "no", message: "sleep_disturbed must be true or false"),
        Case(type: .checkin, field: "sites", value: ["tibia"], message: "sites has \"tibia\" needs a side"),
        Case(type: .checkin, field: "fever_c", value: "38", message: "fever_c is not a field of a checkin"),
        Case(type: .lab, field: "test", value: "glucose", message: "test must be one of crp, esr, wbc, ferritin, hb, platelets, ana, rf, alp, other"),
        Case(type: .lab, field: "result", value: ["value": "12.5"], message: "result needs a unit, such as mg/L"),
        Case(type: .lab, field: "result", value: ["unit": "mg/L"], message: "result needs a value"),
        Case(type: .lab, field: "result", value: ["value": "-1", "unit": "mg/L"], message: "result value must be a decimal number"),
        Case(type: .lab, field: "result", value: ["value": 12, "unit": "mg/L"], message: "result needs a value, written as text"),
        Case(type: .lab, field: "result", value: ["value": "1", "unit": ""], message: "result unit must not be empty"),
        Case(
            type: .lab, field: "result", value: ["value": "1", "unit": .string(String(repeating: "u", count: 21))],
            message: "result unit must be at most 20 characters (got 21)"),
        Case(type: .lab, field: "result", value: ["value": "1", "unit": "mg/L", "flag": "H"], message: "result has an unknown member \"flag\""),
        Case(type: .lab, field: "taken", value: "2026-11-20 08:00", message: "taken must be a date (YYYY-MM-DD) or a date and time"),
        Case(type: .lab, field: "ref_low", value: "-0.5", message: "ref_low must be a decimal number written as text"),
        Case(
            type: .imaging, field: "modality", value: "pet", message: "modality must be one of mri, whole-body-mri, xray, bone-scan, ct, ultrasound"),
        Case(type: .imaging, field: "active_lesions", value: 100, message: "active_lesions must be a whole number from 0 to 99 (got 100)"),
        Case(type: .imaging, field: "active_lesions", value: -1, message: "active_lesions must be a whole number from 0 to 99 (got -1)"),
        Case(
            type: .imaging, field: "findings", value: .string(String(repeating: "f", count: 4_001)),
            message: "findings must be at most 4000 characters (got 4001)"),
        Case(type: .growth, field: "height_cm", value: "29.9", message: "height_cm must be from 30 to 230 (got 29.9)"),
        Case(type: .growth, field: "height_cm", value: "230.1", message: "height_cm must be from 30 to 230 (got 230.1)"),
        Case(type: .growth, field: "weight_kg", value: "0.9", message: "weight_kg must be from 1 to 250 (got 0.9)"),
        Case(type: .growth, field: "weight_kg", value: "250.5", message: "weight_kg must be from 1 to 250 (got 250.5)"),
        Case(type: .growth, field: "weight_kg", value: 28, message: "weight_kg must be a decimal number written as text"),
    ]

    @Test(arguments: refused)
    func invalidValueIsRefusedNamingRecordFieldAndRule(_ testCase: Case) {
        let error = #expect(throws: ValidationError.self) {
            try RecordSchema.validateChange(type: testCase.type, fields: [testCase.field: testCase.value], record: "flare 42")
        }
        #expect(error?.record == "flare 42")
        #expect(error?.field == testCase.field)
        #expect(error?.description.hasPrefix("flare 42: \(testCase.message)") == true, "\(String(describing: error))")
    }

    static let accepted: [(RecordType, String, JSONValue)] = [
        (.flare, "pain", 0), (.flare, "pain", 10),
        (.flare, "fever_c", "34"), (.flare, "fever_c", "43"), (.flare, "fever_c", "37.5"), (.flare, "fever_c", "38.1234"),
        (.flare, "fever_c", .null),
        (.flare, "started", "2024-02-29"), (.flare, "started", "1900-01-01"), (.flare, "started", "2199-12-31"),
        (.flare, "sites", ["tibia-left", "tibia-right", "spine", "other-foot-left", "spine-lumbar"]),
        (.flare, "notes", .string(String(repeating: "é", count: 4_000))), (.flare, "notes", "line one\nline two\ttabbed"),
        (.flare, "notes", .string(String(repeating: "e\u{301}", count: 2_000))), (.flare, "notes", .string(String(repeating: "🦴", count: 4_000))),
        (.flare, "notes", "line one\r\nline\u{2028}two"), (.flare, "deleted", .null),
        (.treatment, "name", " naproxen "),
        (.flare, "limp", false), (.flare, "deleted", true),
        (.treatment, "dosage", ["dose": "0.0001", "unit": "mg/kg"]), (.treatment, "dosage", ["dose": "1", "unit": "tablet"]),
        (.treatment, "dosage", .null),
        (.treatment, "started", "2024-11-24"), (.treatment, "started", "2024-11-24T08:30:00Z"),
        (.treatment, "started", "2024-11-24T08:30:00+01:00"), (.treatment, "ended", "2024-11-24T23:59:59-14:00"),
        (.treatment, "name", .string(String(repeating: "n", count: 200))),
        (.treatment, "flare", "0193a5c3-1d2e-7a40-9f00-2b7c4d5e6f70"),
        (.checkin, "pain", 0), (.checkin, "pain", 10), (.checkin, "wellbeing", 0), (.checkin, "wellbeing", 10), (.checkin, "wellbeing", .null),
        (.checkin, "school_missed", "whole"), (.checkin, "sleep_disturbed", true), (.checkin, "sites", ["clavicle-right"]),
        (.lab, "result", ["value": "0", "unit": "mg/L"]), (.lab, "result", ["value": "9999999.9999", "unit": "ug/g"]),
        (.lab, "result", ["value": "1", "unit": .string(String(repeating: "u", count: 20))]),
        (.lab, "taken", "2026-11-20"), (.lab, "taken", "2026-11-20T08:00:00+01:00"), (.lab, "ref_low", "0"), (.lab, "ref_high", .null),
        (.imaging, "active_lesions", 0), (.imaging, "active_lesions", 99), (.imaging, "modality", "whole-body-mri"),
        (.growth, "height_cm", "30"), (.growth, "height_cm", "230"), (.growth, "weight_kg", "1"), (.growth, "weight_kg", "250"),
        (.growth, "height_cm", "132.5"),
    ]

    @Test(arguments: accepted)
    func boundaryValueIsAccepted(type: RecordType, field: String, value: JSONValue) throws {
        try RecordSchema.validateChange(type: type, fields: [field: value], record: "r")
    }

    @Test func aNewRecordNeedsEveryRequiredField() {
        for (type, fields, missing) in [
            (RecordType.flare, ["started": "2024-11-24", "pain": 3] as [String: JSONValue], "sites"),
            (.treatment, ["kind": "nsaid", "started": "2024-11-24"], "name"),
        ] {
            let error = #expect(throws: ValidationError.self) { try RecordSchema.validateNewRecord(type: type, fields: fields, record: "new") }
            #expect(error?.description == "new: \(missing) is required")
        }
    }

    @Test func aCompleteNewRecordIsAccepted() throws {
        try RecordSchema.validateNewRecord(type: .flare, fields: Fixture.flareFields, record: "new flare")
        try RecordSchema.validateNewRecord(
            type: .treatment, fields: ["kind": "biologic", "name": "adalimumab", "started": "2024-11-24"], record: "new treatment")
    }

    @Test func aLabsUnitMustFitItsTestAndItsRangeBeInOrder() {
        let crp: [String: JSONValue] = ["taken": "2026-11-20", "test": "crp", "result": ["value": "12.5", "unit": "mm/h"]]
        let error = #expect(throws: ValidationError.self) { try RecordSchema.validateChange(type: .lab, fields: crp, record: "new lab") }
        #expect(error?.description == "new lab: result unit must be mg/L or mg/dL for crp (got \"mm/h\")")
        // One change without the test cannot be checked; the merged record shows the mismatch as a warning.
        #expect(throws: Never.self) {
            try RecordSchema.validateChange(type: .lab, fields: ["result": ["value": "3", "unit": "mm/h"]], record: "lab 1")
        }
        #expect(RecordSchema.warnings(type: .lab, fields: crp) == ["result unit must be mg/L or mg/dL for crp (got \"mm/h\")"])
        let range: [String: JSONValue] = ["ref_low": "5", "ref_high": "0.5"]
        let reversed = #expect(throws: ValidationError.self) { try RecordSchema.validateChange(type: .lab, fields: range, record: "lab 1") }
        #expect(reversed?.description == "lab 1: ref_high must not be below ref_low (0.5 < 5)")
        let other: [String: JSONValue] = ["taken": "2026-11-20", "test": "other", "result": ["value": "40", "unit": "ug/g"]]
        let unnamed = #expect(throws: ValidationError.self) { try RecordSchema.validateNewRecord(type: .lab, fields: other, record: "new lab") }
        #expect(unnamed?.description == "new lab: name is required when test is other: say which test it was")
        #expect(throws: Never.self) {
            try RecordSchema.validateNewRecord(type: .lab, fields: other.merging(["name": "calprotectin"]) { $1 }, record: "new lab")
        }
    }

    @Test func aGrowthRecordHoldsAHeightOrAWeight() throws {
        let error = #expect(throws: ValidationError.self) {
            try RecordSchema.validateNewRecord(type: .growth, fields: ["date": "2026-11-20"], record: "new growth")
        }
        #expect(error?.description == "new growth: height_cm or weight_kg is required: a growth record holds at least one of them")
        try RecordSchema.validateNewRecord(type: .growth, fields: ["date": "2026-11-20", "weight_kg": "28.4"], record: "new growth")
        // Clearing the one it holds is refused as an edit, but a record that has lost it in a merge is only a warning.
        let cleared = #expect(throws: ValidationError.self) {
            try RecordSchema.validateEdit(
                type: .growth, current: ["date": "2026-11-20", "weight_kg": "28.4"], fields: ["weight_kg": .null], record: "growth 1")
        }
        #expect(cleared?.field == "height_cm")
        try RecordSchema.validateEdit(type: .growth, current: ["date": "2026-11-20"], fields: ["notes": "after the clinic"], record: "growth 1")
    }

    @Test func aCheckinsDateMustBeTheOneItsIdIsDerivedFrom() throws {
        let diary = Fixture.diary
        let day = CheckinID.record(diary: diary, date: "2026-11-20")
        #expect(day == CheckinID.record(diary: diary, date: "2026-11-20"), "the same day of the same diary is the same record")
        #expect(day != CheckinID.record(diary: diary, date: "2026-11-21"))
        #expect(day != CheckinID.record(diary: UUID(canonical: "0193a5b0-0000-7000-8000-00000000000e")!, date: "2026-11-20"))
        #expect(day.canonical.dropFirst(14).first == "8", "a version 8 UUID")
        try RecordSchema.validateRecordID(type: .checkin, record: day, diary: diary, fields: ["date": "2026-11-20", "pain": 3], label: "c")
        let error = #expect(throws: ValidationError.self) {
            try RecordSchema.validateRecordID(type: .checkin, record: day, diary: diary, fields: ["date": "2026-11-21"], label: "checkin 1")
        }
        #expect(error?.field == "date")
        try RecordSchema.validateRecordID(type: .checkin, record: day, diary: diary, fields: ["pain": 3], label: "c")
    }

    @Test func aRecordOfANewerKindIsCheckedForItsFormOnly() throws {
        let newer = try #require(RecordType(rawValue: "symptom-score"))
        #expect(!newer.isKnown)
        try RecordSchema.validateNewRecord(type: newer, fields: ["score": 3, "detail": ["any": ["json", 1]]], record: "symptom-score 1")
        let badName = #expect(throws: ValidationError.self) { try RecordSchema.validateChange(type: newer, fields: ["Score": 3], record: "r") }
        #expect(badName?.field == "Score")
        let badDeleted = #expect(throws: ValidationError.self) { try RecordSchema.validateChange(type: newer, fields: ["deleted": 1], record: "r") }
        #expect(badDeleted?.description.contains("deleted must be true or false") == true)
        for name in ["", "Flare", "9lives", "symptom score", String(repeating: "a", count: 33)] {
            #expect(RecordType(rawValue: name) == nil, "\(name)")
        }
    }

    @Test func aChangeSettingNothingIsRefused() {
        #expect(throws: ValidationError.self) { try RecordSchema.validateChange(type: .flare, fields: [:], record: "r") }
    }

    @Test func crossFieldOdditiesAreWarningsNotRefusals() throws {
        let fields: [String: JSONValue] = ["started": "2024-11-24", "ended": "2024-11-20", "sites": ["rib-left"], "pain": 2]
        try RecordSchema.validateNewRecord(type: .flare, fields: fields, record: "r")
        #expect(RecordSchema.warnings(type: .flare, fields: fields) == ["ended (2024-11-20) is before started (2024-11-24)"])
        #expect(RecordSchema.warnings(type: .flare, fields: Fixture.flareFields).isEmpty)
        #expect(RecordSchema.warnings(type: .flare, fields: ["pain": 2]).count == 2, "started and sites not yet received")
        // A date-time course that ends the same day it started, in another time zone, is fine.
        #expect(
            RecordSchema.warnings(
                type: .treatment,
                fields: ["kind": "steroid", "name": "prednisolone", "started": "2024-11-24T08:00:00+01:00", "ended": "2024-11-24T07:30:00Z"]
            ).isEmpty)
    }

    @Test func decimalsTypedByAPersonAreNormalised() {
        #expect(DecimalText(parsing: "37.50")?.text == "37.5")
        #expect(DecimalText(parsing: "037")?.text == "37")
        #expect(DecimalText(parsing: ".5")?.text == "0.5")
        #expect(DecimalText(parsing: "250.")?.text == "250")
        #expect(DecimalText(parsing: "0.00")?.text == "0")
        for bad in ["", ".", "-1", "1e3", "37,5", "1.23456", "12345678", " 37"] {
            #expect(DecimalText(parsing: bad) == nil, "\(bad)")
        }
        #expect(DecimalText(canonical: "37.50") == nil)
        #expect(DecimalText(canonical: "9.99")! < DecimalText(canonical: "10")!)
        #expect(DecimalText(canonical: "0.0001")! < DecimalText(canonical: "0.001")!)
        #expect(!(DecimalText(canonical: "9999999.9999")! < DecimalText(canonical: "9999999.9998")!))
        // Order agrees with the numbers' order, for decimals of every length the rules allow.
        for _ in 0..<500 {
            let texts = (0..<2).map { _ in
                let integer = String(Int.random(in: 0..<10_000_000) / [1, 10, 1_000, 100_000].randomElement()!)
                let fraction = String(Int.random(in: 0..<10_000)).prefix(Int.random(in: 0...4))
                return DecimalText(parsing: fraction.isEmpty ? integer : "\(integer).\(fraction)")!
            }
            #expect((texts[0] < texts[1]) == (texts[0].doubleValue < texts[1].doubleValue), "\(texts)")
        }
    }

    /// A value is canonical exactly when normalising it leaves it as it is: every text of up to 8
    /// characters over "0", "1", ".", "x", and every digit count around the limits.
    @Test func aCanonicalDecimalIsOneThatNormalisingLeavesAsItIs() {
        var texts = [""]
        var previous = [""]
        for _ in 1...8 {
            previous = previous.flatMap { text in ["0", "1", ".", "x"].map { text + $0 } }
            texts += previous
        }
        for integer in 6...8 {
            for fraction in 0...5 {
                let digits = String(repeating: "9", count: integer)
                texts += [digits, "1" + String(repeating: "0", count: integer - 1)].map {
                    fraction == 0 ? $0 : $0 + "." + String(repeating: "5", count: fraction)
                }
            }
        }
        texts += ["0.5", "٣", "１", "3.٥", "+1", "1 "]
        for text in texts {
            #expect((DecimalText(canonical: text) != nil) == (DecimalText(parsing: text)?.text == text), "\(text)")
        }
    }

    @Test func everyVocabularySiteIsValidAndSidesAreOnlyOnPairedBones() {
        #expect(BodySite.allSites.count == BodySite.pairedBones.count * 2 + BodySite.unpairedBones.count)
        for site in BodySite.allSites { #expect(BodySite(site)?.text == site) }
        #expect(BodySite("tibia-left")?.side == .left)
        #expect(BodySite("sternum")?.side == nil)
        #expect(BodySite("sternum-left") == nil)
    }
}
