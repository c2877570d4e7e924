import ArgumentParser
import CareSyncClient
import Foundation
import SyncCore

// Each record type's options and examples. Dates take `today` and `yesterday`; times without an offset
// (`2026-11-20 08:00`) are this machine's local time (`TypedTime`).

private let dateHelp = "YYYY-MM-DD, today or yesterday"
private let timeHelp = "YYYY-MM-DD, today, yesterday, now, or a local time such as \"2026-11-20 08:00\""
private let notesHelp = "Free text, at most 4,000 characters."

// MARK: Flares

struct FlareFields: RecordFields {
    @Option(help: "The day it started: \(dateHelp).") var started: String?
    @Option(help: "The day it ended: \(dateHelp).") var ended: String?
    @Option(name: .customLong("site"), help: "A body site such as tibia-left or spine (repeat for several).") var sites: [String] = []
    @Option(help: "Pain on the 0–10 numeric rating scale (10 is the worst).") var pain: Int?
    @Flag(inversion: .prefixedNo, help: "Whether the site was swollen.") var swelling: Bool?
    @Flag(inversion: .prefixedNo, help: "Whether the skin over it was red.") var redness: Bool?
    @Flag(inversion: .prefixedNo, help: "Whether it felt warm.") var warmth: Bool?
    @Flag(inversion: .prefixedNo, help: "Whether the child limped.") var limp: Bool?
    @Option(name: .customLong("fever-c"), help: "The highest temperature, °C (34.0–43.0).") var feverC: String?
    @Option(help: ArgumentHelp(notesHelp)) var notes: String?

    func document(resolving device: DiaryDevice, time: TypedTime) throws -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["started"] = started.map { .string(time.date($0)) }
        fields["ended"] = ended.map { .string(time.date($0)) }
        if !sites.isEmpty { fields["sites"] = .array(sites.map(JSONValue.string)) }
        fields["pain"] = pain.map { .int(Int64($0)) }
        fields["swelling"] = swelling.map(JSONValue.bool)
        fields["redness"] = redness.map(JSONValue.bool)
        fields["warmth"] = warmth.map(JSONValue.bool)
        fields["limp"] = limp.map(JSONValue.bool)
        fields["fever_c"] = feverC.map(JSONValue.string)
        fields["notes"] = notes.map(JSONValue.string)
        return fields
    }
}

enum FlareKind: RecordKind {
    typealias Fields = FlareFields
    static let type = RecordType.flare
    static let exampleID = "01a1fa54-6f80"
    static let addExamples = [
        "syncctl flare add --started 2026-11-20 --site tibia-left --pain 6 --swelling",
        "syncctl flare add --started today --site tibia-left --site femur-right --pain 7 --limp --fever-c 38.2 --notes \"woke at night, limping\"",
    ]
    static let updateExamples = [
        "syncctl flare update 01a1fa54-6f80 --pain 3 --ended 2026-11-25", "syncctl flare update 01a1fa54-6f80 --no-swelling --clear fever_c",
    ]
    static let listColumns = ["started", "ended", "pain", "sites", "fever_c", "notes"]
}

struct FlareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flare", abstract: "Record and list flares: painful, inflamed bone lesions.",
        discussion: helpExamples("syncctl flare add --started 2026-11-20 --site tibia-left --pain 6 --swelling", "syncctl flare list"),
        subcommands: recordSubcommands(FlareKind.self))
}

// MARK: Treatments

struct TreatmentFields: RecordFields {
    @Option(help: "nsaid, steroid, antibiotic, bisphosphonate, biologic, dmard, analgesic, surgery, physiotherapy or other.")
    var kind: String?
    @Option(help: "What was given or done, e.g. naproxen or curettage.") var name: String?
    @Option(help: "The dose, a number greater than 0 (needs --unit).") var dose: String?
    @Option(help: "mg, mg/kg, g, ml, IU or tablet.") var unit: String?
    @Option(help: "oral, iv, sc, im, topical or other.") var route: String?
    @Option(help: "When it started or was given: \(timeHelp).") var started: String?
    @Option(help: "When the course ended, same forms as --started.") var ended: String?
    @Option(help: "The id (or a unique start of it) of the flare it treats.") var flare: String?
    @Option(help: ArgumentHelp(notesHelp)) var notes: String?

    func document(resolving device: DiaryDevice, time: TypedTime) throws -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["kind"] = kind.map(JSONValue.string)
        fields["name"] = name.map(JSONValue.string)
        fields["dose"] = dose.map(JSONValue.string)
        fields["unit"] = unit.map(JSONValue.string)
        fields["route"] = route.map(JSONValue.string)
        fields["started"] = started.map { .string(time.dateOrDateTime($0)) }
        fields["ended"] = ended.map { .string(time.dateOrDateTime($0)) }
        fields["flare"] = try flare.map { .string(try device.resolve($0).canonical) }
        fields["notes"] = notes.map(JSONValue.string)
        return fields
    }
}

enum TreatmentKind: RecordKind {
    typealias Fields = TreatmentFields
    static let type = RecordType.treatment
    static let exampleID = "01a1fa59-b360"
    static let addExamples = [
        "syncctl treatment add --kind nsaid --name naproxen --dose 250 --unit mg --route oral --started 2026-11-20 --flare 01a1fa54-6f80",
        "syncctl treatment add --kind bisphosphonate --name pamidronate --dose 1 --unit mg/kg --route iv --started \"2026-12-03 09:30\"",
        "syncctl treatment add --kind physiotherapy --name hydrotherapy --started 2026-12-01T16:30:00+01:00",
    ]
    static let updateExamples = [
        "syncctl treatment update 01a1fa59-b360 --ended 2026-12-04",
        "syncctl treatment update 01a1fa59-b360 --dose 375 --notes \"twice a day with food\"",
    ]
    static let listColumns = ["kind", "name", "dose", "unit", "route", "started", "ended"]
}

struct TreatmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "treatment", abstract: "Record and list treatments: medicines, courses, procedures, sessions.",
        discussion: helpExamples(
            "syncctl treatment add --kind nsaid --name naproxen --dose 250 --unit mg --route oral --started 2026-11-20",
            "syncctl treatment list"),
        subcommands: recordSubcommands(TreatmentKind.self))
}

// MARK: Check-ins

struct CheckinFields: RecordFields {
    @Option(help: "The day: \(dateHelp) (default for a new check-in: today).") var date: String?
    @Option(help: "Pain today on the 0–10 numeric rating scale (0 none, 10 the worst).") var pain: Int?
    @Option(help: "How well overall, 0–10: 0 is very well, 10 very poor (the parent's or child's global rating).") var wellbeing: Int?
    @Option(name: .customLong("site"), help: "A site that hurt today, such as tibia-left (repeat for several).") var sites: [String] = []
    @Flag(inversion: .prefixedNo, help: "Whether the child limped today.") var limp: Bool?
    @Option(name: .customLong("school-missed"), help: "School missed today: none, part or whole.") var schoolMissed: String?
    @Flag(name: .customLong("sleep-disturbed"), inversion: .prefixedNo, help: "Whether pain woke the child or kept them awake.")
    var sleepDisturbed: Bool?
    @Option(help: ArgumentHelp(notesHelp)) var notes: String?

    func document(resolving device: DiaryDevice, time: TypedTime) throws -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["date"] = date.map { .string(time.date($0)) }
        fields["pain"] = pain.map { .int(Int64($0)) }
        fields["wellbeing"] = wellbeing.map { .int(Int64($0)) }
        if !sites.isEmpty { fields["sites"] = .array(sites.map(JSONValue.string)) }
        fields["limp"] = limp.map(JSONValue.bool)
        fields["school_missed"] = schoolMissed.map(JSONValue.string)
        fields["sleep_disturbed"] = sleepDisturbed.map(JSONValue.bool)
        fields["notes"] = notes.map(JSONValue.string)
        return fields
    }
}

enum CheckinKind: RecordKind {
    typealias Fields = CheckinFields
    static let type = RecordType.checkin
    static let exampleID = "yesterday"
    static let addExamples = [
        "syncctl checkin --pain 2 --wellbeing 1", "syncctl checkin --date yesterday --pain 5 --site tibia-left --limp --school-missed part",
    ]
    static let updateExamples = ["syncctl checkin update today --pain 4 --sleep-disturbed", "syncctl checkin update 2026-11-20 --clear sites"]
    static let listColumns = ["date", "pain", "wellbeing", "sites", "limp", "school_missed", "notes"]
}

struct CheckinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkin",
        abstract: "The day's check-in, good days too: pain, well-being, school. One per day, shared by the whole family.",
        discussion: helpExamples("syncctl checkin --pain 2 --wellbeing 1", "syncctl checkin list"),
        subcommands: [CheckIn.self] + Array(recordSubcommands(CheckinKind.self).dropFirst()), defaultSubcommand: CheckIn.self)
}

/// `syncctl checkin [record]`: records the day's check-in, or adds to it if the day has one.
struct CheckIn: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record today's (or --date's) check-in; if the day has one, change it. Prints its id alone.",
        discussion: helpExamples(CheckinKind.addExamples))
    @OptionGroup var global: GlobalOptions
    @OptionGroup var fields: CheckinFields

    func run() throws {
        let device = try global.device()
        let time = TypedTime()
        var document = try fields.document(resolving: device, time: time)
        document["date"] = document["date"] ?? .string(time.date("today"))
        print(try device.checkIn(RecordDocument.wireFields(.checkin, document)).id.canonical)
    }
}

// MARK: Labs

struct LabFields: RecordFields {
    @Option(help: "When the sample was taken: \(timeHelp).") var taken: String?
    @Option(help: "crp, esr, wbc, ferritin, hb, platelets, ana, rf, alp or other (with --name).") var test: String?
    @Option(help: "The test's name, when --test is other.") var name: String?
    @Option(help: "The result, a number such as 12.5 (needs --unit).") var value: String?
    @Option(
        help:
            "crp mg/L or mg/dL, esr mm/h, wbc and platelets 10^9/L, ferritin ng/mL or ug/L, hb g/dL or g/L, ana titer (160 for 1:160), rf IU/mL, alp U/L; other: as the lab wrote it."
    )
    var unit: String?
    @Option(name: .customLong("ref-low"), help: "The lab's reference range, lower end.") var refLow: String?
    @Option(name: .customLong("ref-high"), help: "The lab's reference range, upper end.") var refHigh: String?
    @Option(help: ArgumentHelp(notesHelp)) var notes: String?

    func document(resolving device: DiaryDevice, time: TypedTime) throws -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["taken"] = taken.map { .string(time.dateOrDateTime($0)) }
        fields["test"] = test.map(JSONValue.string)
        fields["name"] = name.map(JSONValue.string)
        fields["value"] = value.map(JSONValue.string)
        fields["unit"] = unit.map(JSONValue.string)
        fields["ref_low"] = refLow.map(JSONValue.string)
        fields["ref_high"] = refHigh.map(JSONValue.string)
        fields["notes"] = notes.map(JSONValue.string)
        return fields
    }
}

enum LabKind: RecordKind {
    typealias Fields = LabFields
    static let type = RecordType.lab
    static let exampleID = "01a1fb02-77c0"
    static let addExamples = [
        "syncctl lab add --test crp --value 12.5 --unit mg/L --ref-high 5 --taken \"2026-11-20 08:00\"",
        "syncctl lab add --test esr --value 38 --unit mm/h --ref-high 15 --taken 2026-11-20",
        "syncctl lab add --test other --name calprotectin --value 40 --unit ug/g --taken yesterday",
    ]
    static let updateExamples = ["syncctl lab update 01a1fb02-77c0 --value 11.8", "syncctl lab update 01a1fb02-77c0 --ref-low 0 --ref-high 5"]
    static let listColumns = ["taken", "test", "name", "value", "unit", "ref_low", "ref_high"]
}

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab", abstract: "Record and list lab results: CRP, ESR, blood counts and others.",
        discussion: helpExamples("syncctl lab add --test crp --value 12.5 --unit mg/L --taken today", "syncctl lab list"),
        subcommands: recordSubcommands(LabKind.self))
}

// MARK: Imaging

struct ImagingFields: RecordFields {
    @Option(help: "The day of the study: \(dateHelp).") var date: String?
    @Option(help: "mri, whole-body-mri, xray, bone-scan, ct or ultrasound.") var modality: String?
    @Option(name: .customLong("site"), help: "A site imaged or active, such as tibia-left (repeat for several).") var sites: [String] = []
    @Option(name: .customLong("active-lesions"), help: "How many active lesions the report counts.") var activeLesions: Int?
    @Option(help: "The report's findings, at most 4,000 characters.") var findings: String?
    @Option(help: ArgumentHelp(notesHelp)) var notes: String?

    func document(resolving device: DiaryDevice, time: TypedTime) throws -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["date"] = date.map { .string(time.date($0)) }
        fields["modality"] = modality.map(JSONValue.string)
        if !sites.isEmpty { fields["sites"] = .array(sites.map(JSONValue.string)) }
        fields["active_lesions"] = activeLesions.map { .int(Int64($0)) }
        fields["findings"] = findings.map(JSONValue.string)
        fields["notes"] = notes.map(JSONValue.string)
        return fields
    }
}

enum ImagingKind: RecordKind {
    typealias Fields = ImagingFields
    static let type = RecordType.imaging
    static let exampleID = "01a1fb10-2d40"
    static let addExamples = [
        "syncctl imaging add --date 2026-11-22 --modality whole-body-mri --site tibia-left --site clavicle-right --active-lesions 2 --findings \"bone marrow oedema, left distal tibia\""
    ]
    static let updateExamples = ["syncctl imaging update 01a1fb10-2d40 --active-lesions 3"]
    static let listColumns = ["date", "modality", "sites", "active_lesions", "findings"]
}

struct ImagingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imaging", abstract: "Record and list imaging: MRI, whole-body MRI, X-ray, bone scan, CT, ultrasound.",
        discussion: helpExamples("syncctl imaging add --date 2026-11-22 --modality mri --site tibia-left --active-lesions 1", "syncctl imaging list"),
        subcommands: recordSubcommands(ImagingKind.self))
}

// MARK: Growth

struct GrowthFields: RecordFields {
    @Option(help: "The day measured: \(dateHelp).") var date: String?
    @Option(name: .customLong("height-cm"), help: "Height in centimetres (30–230).") var heightCm: String?
    @Option(name: .customLong("weight-kg"), help: "Weight in kilograms (1–250).") var weightKg: String?
    @Option(help: ArgumentHelp(notesHelp)) var notes: String?

    func document(resolving device: DiaryDevice, time: TypedTime) throws -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["date"] = date.map { .string(time.date($0)) }
        fields["height_cm"] = heightCm.map(JSONValue.string)
        fields["weight_kg"] = weightKg.map(JSONValue.string)
        fields["notes"] = notes.map(JSONValue.string)
        return fields
    }
}

enum GrowthKind: RecordKind {
    typealias Fields = GrowthFields
    static let type = RecordType.growth
    static let exampleID = "01a1fb21-9a00"
    static let addExamples = ["syncctl growth add --date today --height-cm 132.5 --weight-kg 28.4"]
    static let updateExamples = ["syncctl growth update 01a1fb21-9a00 --weight-kg 28.6"]
    static let listColumns = ["date", "height_cm", "weight_kg", "notes"]
}

struct GrowthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "growth", abstract: "Record and list height and weight.",
        discussion: helpExamples("syncctl growth add --date today --height-cm 132.5 --weight-kg 28.4", "syncctl growth list"),
        subcommands: recordSubcommands(GrowthKind.self))
}
