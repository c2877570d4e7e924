import ArgumentParser
import CareSyncClient
import Foundation
import SyncCore

/// The flare fields a person can give on the command line, by their SPEC names.
struct FlareFields: ParsableArguments {
    @Option(help: "The day it started, YYYY-MM-DD.") var started: String?
    @Option(help: "The day it ended, YYYY-MM-DD.") var ended: String?
    @Option(name: .customLong("site"), help: "A body site such as tibia-left or spine (repeat for several).") var sites: [String] = []
    @Option(help: "Pain on the 0–10 numeric rating scale.") var pain: Int?
    @Flag(inversion: .prefixedNo, help: "Whether the site was swollen.") var swelling: Bool?
    @Flag(inversion: .prefixedNo, help: "Whether the skin over it was red.") var redness: Bool?
    @Flag(inversion: .prefixedNo, help: "Whether it felt warm.") var warmth: Bool?
    @Flag(inversion: .prefixedNo, help: "Whether the child limped.") var limp: Bool?
    @Option(name: .customLong("fever-c"), help: "The highest temperature, °C (34.0–43.0).") var feverC: String?
    @Option(help: "Free text, at most 4,000 characters.") var notes: String?

    var document: [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["started"] = started.map(JSONValue.string)
        fields["ended"] = ended.map(JSONValue.string)
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

/// The treatment fields a person can give on the command line, by their SPEC names.
struct TreatmentFields: ParsableArguments {
    @Option(help: "nsaid, steroid, antibiotic, bisphosphonate, biologic, dmard, analgesic, surgery, physiotherapy or other.")
    var kind: String?
    @Option(help: "What was given or done, e.g. naproxen or curettage.") var name: String?
    @Option(help: "The dose, a number greater than 0 (needs --unit).") var dose: String?
    @Option(help: "mg, mg/kg, g, ml, IU or tablet.") var unit: String?
    @Option(help: "oral, iv, sc, im, topical or other.") var route: String?
    @Option(help: "When it started or was given: YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS+01:00.") var started: String?
    @Option(help: "When the course ended, same forms as --started.") var ended: String?
    @Option(help: "The id (or a unique start of it) of the flare it treats.") var flare: String?
    @Option(help: "Free text, at most 4,000 characters.") var notes: String?

    func document(resolving device: DiaryDevice) throws -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["kind"] = kind.map(JSONValue.string)
        fields["name"] = name.map(JSONValue.string)
        fields["dose"] = dose.map(JSONValue.string)
        fields["unit"] = unit.map(JSONValue.string)
        fields["route"] = route.map(JSONValue.string)
        fields["started"] = started.map(JSONValue.string)
        fields["ended"] = ended.map(JSONValue.string)
        fields["flare"] = try flare.map { .string(try device.resolve($0).canonical) }
        fields["notes"] = notes.map(JSONValue.string)
        return fields
    }
}

/// `syncctl flare …` and `syncctl treatment …` share these subcommands; only the fields differ.
protocol RecordKind {
    static var type: RecordType { get }
    /// The start of a record's id, as the examples in the help give it.
    static var exampleID: String { get }
}

enum FlareKind: RecordKind {
    static let type = RecordType.flare
    static let exampleID = "01a1fa54-6f80"
}

enum TreatmentKind: RecordKind {
    static let type = RecordType.treatment
    static let exampleID = "01a1fa59-b360"
}

struct FlareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flare", abstract: "Record and list flares: painful, inflamed bone lesions.",
        discussion: helpExamples("syncctl flare add --started 2026-11-20 --site tibia-left --pain 6 --swelling", "syncctl flare list"),
        subcommands: [
            AddFlare.self, UpdateFlare.self, DeleteRecord<FlareKind>.self, RestoreRecord<FlareKind>.self, ListRecords<FlareKind>.self,
            ShowRecord<FlareKind>.self,
        ])
}

struct TreatmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "treatment", abstract: "Record and list treatments: medicines, courses, procedures, sessions.",
        discussion: helpExamples(
            "syncctl treatment add --kind nsaid --name naproxen --dose 250 --unit mg --route oral --started 2026-11-20",
            "syncctl treatment list"),
        subcommands: [
            AddTreatment.self, UpdateTreatment.self, DeleteRecord<TreatmentKind>.self, RestoreRecord<TreatmentKind>.self,
            ListRecords<TreatmentKind>.self, ShowRecord<TreatmentKind>.self,
        ])
}

struct AddFlare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Record a flare; prints its id alone.",
        discussion: helpExamples(
            "syncctl flare add --started 2026-11-20 --site tibia-left --pain 6 --swelling",
            "syncctl flare add --started 2026-11-20 --site tibia-left --site femur-right --pain 7 --limp --fever-c 38.2 "
                + "--notes \"woke at night, limping\""))
    @OptionGroup var global: GlobalOptions
    @OptionGroup var fields: FlareFields

    func run() throws {
        let device = try global.device()
        print(try device.add(.flare, fields: RecordDocument.wireFields(.flare, fields.document)).canonical)
    }
}

struct AddTreatment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Record a treatment; prints its id alone.",
        discussion: helpExamples(
            "syncctl treatment add --kind nsaid --name naproxen --dose 250 --unit mg --route oral --started 2026-11-20 --flare 01a1fa54-6f80",
            "syncctl treatment add --kind bisphosphonate --name pamidronate --dose 1 --unit mg/kg --route iv --started 2026-12-03",
            "syncctl treatment add --kind physiotherapy --name hydrotherapy --started 2026-12-01T16:30:00+01:00"))
    @OptionGroup var global: GlobalOptions
    @OptionGroup var fields: TreatmentFields

    func run() throws {
        let device = try global.device()
        print(try device.add(.treatment, fields: RecordDocument.wireFields(.treatment, fields.document(resolving: device))).canonical)
    }
}

/// Fields to clear in an update, checked against the record type.
struct ClearOption: ParsableArguments {
    @Option(name: .customLong("clear"), help: "Clear an optional field, e.g. --clear ended (repeat for several).")
    var fields: [String] = []

    func document(_ type: RecordType) throws -> [String: JSONValue] {
        var cleared: [String: JSONValue] = [:]
        for field in fields {
            guard RecordDocument.fieldNames(type).contains(field) else {
                throw ValidationError(
                    "--clear \(field): a \(type.rawValue) has no such field (\(RecordDocument.fieldNames(type).joined(separator: ", ")))")
            }
            cleared[field] = .null
        }
        return cleared
    }
}

struct UpdateFlare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change fields of a flare.",
        discussion: helpExamples(
            "syncctl flare update 01a1fa54-6f80 --pain 3 --ended 2026-11-25", "syncctl flare update 01a1fa54-6f80 --no-swelling --clear fever_c"))
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The flare's id, or a unique start of it.") var id: String
    @OptionGroup var fields: FlareFields
    @OptionGroup var clear: ClearOption

    func run() throws {
        let device = try global.device()
        try update(device: device, type: .flare, id: id, document: fields.document.merging(try clear.document(.flare)) { $1 })
    }
}

struct UpdateTreatment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change fields of a treatment.",
        discussion: helpExamples(
            "syncctl treatment update 01a1fa59-b360 --ended 2026-12-04",
            "syncctl treatment update 01a1fa59-b360 --dose 375 --notes \"twice a day with food\""))
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The treatment's id, or a unique start of it.") var id: String
    @OptionGroup var fields: TreatmentFields
    @OptionGroup var clear: ClearOption

    func run() throws {
        let device = try global.device()
        var document = try fields.document(resolving: device).merging(try clear.document(.treatment)) { $1 }
        // Dose and unit change together: a new dose keeps the unit unless a new one is given.
        if let record = try device.record(try device.resolve(id)), document["dose"] != nil || document["unit"] != nil {
            document["dose"] = document["dose"] ?? RecordDocument.value("dose", of: record) ?? .null
            document["unit"] = document["unit"] ?? RecordDocument.value("unit", of: record) ?? .null
        }
        try update(device: device, type: .treatment, id: id, document: document)
    }
}

private func update(device: DiaryDevice, type: RecordType, id text: String, document: [String: JSONValue]) throws {
    let id = try device.resolve(text)
    guard let record = try device.record(id), record.type == type else { throw ClientError.invalid("no \(type.rawValue) with id \(text)") }
    guard !document.isEmpty else { throw ValidationError("give at least one field to change (see --help)") }
    try device.update(id, fields: RecordDocument.wireFields(type, document))
}

struct DeleteRecord<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "delete", abstract: "Delete a \(Kind.type.rawValue) (it can be restored).",
            discussion: helpExamples("syncctl \(Kind.type.rawValue) delete \(Kind.exampleID)"))
    }
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The record's id, or a unique start of it.") var id: String

    func run() throws {
        let device = try global.device()
        try device.delete(try resolve(id, Kind.type, device))
    }
}

struct RestoreRecord<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "restore", abstract: "Restore a deleted \(Kind.type.rawValue).",
            discussion: helpExamples("syncctl \(Kind.type.rawValue) restore \(Kind.exampleID)"))
    }
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The record's id, or a unique start of it.") var id: String

    func run() throws {
        let device = try global.device()
        try device.restore(try resolve(id, Kind.type, device))
    }
}

private func resolve(_ text: String, _ type: RecordType, _ device: DiaryDevice) throws -> UUID {
    let id = try device.resolve(text)
    guard try device.record(id)?.type == type else { throw ClientError.invalid("no \(type.rawValue) with id \(text)") }
    return id
}

struct ListRecords<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "list", abstract: "List \(Kind.type.rawValue)s, latest start first.",
            discussion: helpExamples("syncctl \(Kind.type.rawValue) list", "syncctl \(Kind.type.rawValue) list --include-deleted --json"))
    }
    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("include-deleted"), help: "Also list deleted records.") var includeDeleted = false

    func run() throws {
        let records = try global.device().records(Kind.type, includeDeleted: includeDeleted)
        if global.json {
            print("[" + records.map(RecordDocument.json).joined(separator: ",") + "]")
            return
        }
        guard !records.isEmpty else {
            print("No \(Kind.type.rawValue)s recorded\(includeDeleted ? "" : " (deleted ones are shown with --include-deleted)").")
            return
        }
        let columns: [String] =
            Kind.type == .flare
            ? ["started", "ended", "pain", "sites", "fever_c", "notes"] : ["kind", "name", "dosage", "route", "started", "ended"]
        let rows = records.map { record in
            var flags = record.isDeleted ? "deleted" : ""
            if record.conflicts > 0 { flags += (flags.isEmpty ? "" : ", ") + "\(record.conflicts) conflict(s)" }
            return [record.id.canonical] + columns.map { Output.shortened(Output.cell(record.values[$0]), to: 40) } + [flags]
        }
        Output.table(["ID"] + columns.map { $0.uppercased() } + [""], rows)
    }
}

struct ShowRecord<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "show", abstract: "Show one \(Kind.type.rawValue) in full.",
            discussion: helpExamples(
                "syncctl \(Kind.type.rawValue) show \(Kind.exampleID)", "syncctl \(Kind.type.rawValue) show \(Kind.exampleID) --json"))
    }
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The record's id, or a unique start of it.") var id: String

    func run() throws {
        let device = try global.device()
        guard let record = try device.record(try resolve(id, Kind.type, device)) else { return }
        if global.json {
            print(RecordDocument.json(record))
            return
        }
        print("\(record.type.rawValue) \(record.id.canonical)\(record.isDeleted ? " (deleted)" : "")")
        for field in RecordDocument.fieldNames(record.type) {
            guard let value = RecordDocument.value(field, of: record) else { continue }
            print("  \(field): \(Output.cell(value))")
        }
        print("  last changed: \(Output.local(record.updated.date))")
        for warning in record.warnings { print("  warning: \(warning)") }
        if record.conflicts > 0 { print("  \(record.conflicts) open conflict(s): see `syncctl conflicts`") }
    }
}
