import ArgumentParser
import CareSyncClient
import Foundation
import SyncCore

/// A record type's fields as options: what `add` and `update` take.
protocol RecordFields: ParsableArguments {
    /// The fields given, by their document names (docs/USAGE.md); dates and times as a person typed
    /// them are read by `time`.
    func document(resolving device: DiaryDevice, time: TypedTime) throws -> [String: JSONValue]
}

/// What `syncctl flare …`, `treatment …`, `checkin …`, `lab …`, `imaging …` and `growth …` share;
/// only the fields and the examples differ.
protocol RecordKind {
    associatedtype Fields: RecordFields
    static var type: RecordType { get }
    /// The start of a record's id, as the examples in the help give it.
    static var exampleID: String { get }
    static var addExamples: [String] { get }
    static var updateExamples: [String] { get }
    /// The columns `list` shows, by document name.
    static var listColumns: [String] { get }
}

extension RecordKind {
    static var name: String { type.rawValue }
}

/// Every record kind's subcommands: add, update, delete, restore, list, show.
func recordSubcommands<Kind: RecordKind>(_ kind: Kind.Type) -> [ParsableCommand.Type] {
    [AddRecord<Kind>.self, UpdateRecord<Kind>.self, DeleteRecord<Kind>.self, RestoreRecord<Kind>.self, ListRecords<Kind>.self, ShowRecord<Kind>.self]
}

struct AddRecord<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "add", abstract: "Record a \(Kind.name); prints its id alone.", discussion: helpExamples(Kind.addExamples))
    }
    @OptionGroup var global: GlobalOptions
    @OptionGroup var fields: Kind.Fields

    func run() throws {
        let device = try global.device()
        let document = try fields.document(resolving: device, time: TypedTime())
        print(try device.add(Kind.type, fields: RecordDocument.wireFields(Kind.type, document)).canonical)
    }
}

/// Fields to clear in an update, checked against the record type.
struct ClearOption: ParsableArguments {
    @Option(name: .customLong("clear"), help: "Clear an optional field, e.g. --clear notes (repeat for several).")
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

struct UpdateRecord<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "update", abstract: "Change fields of a \(Kind.name).", discussion: helpExamples(Kind.updateExamples))
    }
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The record's id, or a unique start of it\(Kind.type == .checkin ? ", or its date (today, yesterday)" : "").")
    var id: String
    @OptionGroup var fields: Kind.Fields
    @OptionGroup var clear: ClearOption

    func run() throws {
        let device = try global.device()
        let id = try resolve(id, Kind.type, device)
        var document = try fields.document(resolving: device, time: TypedTime()).merging(try clear.document(Kind.type)) { $1 }
        // An amount and its unit change together: a new dose keeps the unit unless a new one is given.
        if let pair = RecordDocument.pairedFields(Kind.type), let record = try device.record(id),
            document[pair.amount] != nil || document[pair.unit] != nil
        {
            for field in [pair.amount, pair.unit] { document[field] = document[field] ?? RecordDocument.value(field, of: record) ?? .null }
        }
        guard !document.isEmpty else { throw ValidationError("give at least one field to change (see --help)") }
        try device.update(id, fields: RecordDocument.wireFields(Kind.type, document))
    }
}

struct DeleteRecord<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "delete", abstract: "Delete a \(Kind.name) (it can be restored).",
            discussion: helpExamples("syncctl \(Kind.name) delete \(Kind.exampleID)"))
    }
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The record's id, or a unique start of it\(Kind.type == .checkin ? ", or its date" : "").") var id: String

    func run() throws {
        let device = try global.device()
        try device.delete(try resolve(id, Kind.type, device))
    }
}

struct RestoreRecord<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "restore", abstract: "Restore a deleted \(Kind.name).",
            discussion: helpExamples("syncctl \(Kind.name) restore \(Kind.exampleID)"))
    }
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The record's id, or a unique start of it\(Kind.type == .checkin ? ", or its date" : "").") var id: String

    func run() throws {
        let device = try global.device()
        try device.restore(try resolve(id, Kind.type, device))
    }
}

/// A record of `type` by its id or a unique start of it; a check-in also by its date.
private func resolve(_ text: String, _ type: RecordType, _ device: DiaryDevice) throws -> UUID {
    let date = TypedTime().date(text)
    let id =
        type == .checkin && CalendarText.isDate(date) ? CheckinID.record(diary: device.identity.diary, date: date) : try device.resolve(text)
    guard try device.record(id)?.type == type else { throw ClientError.invalid("no \(type.rawValue) with id \(text)") }
    return id
}

struct ListRecords<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "list", abstract: "List \(Kind.name)s, latest first.",
            discussion: helpExamples("syncctl \(Kind.name) list", "syncctl \(Kind.name) list --include-deleted --json"))
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
            print("No \(Kind.name)s recorded\(includeDeleted ? "" : " (deleted ones are shown with --include-deleted)").")
            return
        }
        let rows = records.map { record in
            var flags = record.isDeleted ? "deleted" : ""
            if record.conflicts > 0 { flags += (flags.isEmpty ? "" : ", ") + "\(record.conflicts) conflict(s)" }
            return [record.id.canonical]
                + Kind.listColumns.map { Output.shortened(Output.cell(RecordDocument.value($0, of: record)), to: 40) } + [flags]
        }
        Output.table(["ID"] + Kind.listColumns.map { $0.uppercased() } + [""], rows)
    }
}

struct ShowRecord<Kind: RecordKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "show", abstract: "Show one \(Kind.name) in full.",
            discussion: helpExamples("syncctl \(Kind.name) show \(Kind.exampleID)", "syncctl \(Kind.name) show \(Kind.exampleID) --json"))
    }
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The record's id, or a unique start of it\(Kind.type == .checkin ? ", or its date" : "").") var id: String

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
