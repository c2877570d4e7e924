import ArgumentParser
import CareSyncClient
import Foundation
import SyncCore

struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send the changes made here to the server.", discussion: helpExamples("syncctl push", "syncctl push --json"))
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let result = try await global.device().push(progress: global.json ? nil : Output.progressBar())
        if global.json {
            print(Output.object([("pushed", .int(Int64(result.sent))), ("duplicates", .int(Int64(result.duplicates)))]))
        } else {
            print(result.sent == 0 ? "Nothing to push." : "Pushed \(result.sent) change(s).")
        }
    }
}

struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring in the changes other devices made.",
        discussion: helpExamples("syncctl pull", "syncctl pull --diary 019e848e-9f80-7c4b-9f2a-3b6c1d8e4a57"))
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let result = try await global.device().pull(progress: global.json ? nil : Output.progressBar())
        if global.json {
            print(Output.object([("pulled", .int(Int64(result.received))), ("server_restored", .bool(result.serverWasRestored))]))
        } else {
            if result.serverWasRestored { print("The server was restored from a backup: this device sent it everything it had made again.") }
            print(result.received == 0 ? "Up to date." : "Pulled \(result.received) new change(s).")
            if let note = Output.newerKindNote(try global.device().status().newerKind) { Output.note(note) }
        }
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push, then pull.", discussion: helpExamples("syncctl sync", "syncctl sync --json"))
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let result = try await global.device().sync(progress: global.json ? nil : Output.progressBar())
        if global.json {
            print(
                Output.object([
                    ("pushed", .int(Int64(result.push.sent))), ("pulled", .int(Int64(result.pull.received))),
                    ("server_restored", .bool(result.pull.serverWasRestored)),
                ]))
        } else {
            if result.pull.serverWasRestored { print("The server was restored from a backup: this device sent it everything it had made again.") }
            print("Pushed \(result.push.sent) change(s), pulled \(result.pull.received) new change(s).")
            if let note = Output.newerKindNote(try global.device().status().newerKind) { Output.note(note) }
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this device, its diary and what is waiting to be pushed.",
        discussion: helpExamples("syncctl status", "syncctl status --json"))
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let status = try global.device().status()
        let identity = status.identity
        if global.json {
            print(
                Output.object([
                    ("diary", .optional(identity.diary.canonical)), ("diary_name", .optional(identity.diaryName)),
                    ("device", .optional(identity.device.canonical)), ("device_name", .optional(identity.deviceName)),
                    ("role", .optional(identity.role.rawValue)), ("server", .optional(identity.server)), ("pending", .int(Int64(status.pending))),
                    ("records", .int(Int64(status.records))), ("deleted", .int(Int64(status.deleted))), ("conflicts", .int(Int64(status.conflicts))),
                    ("newer_kind", .int(Int64(status.newerKind))), ("epoch", .optional(status.epoch)), ("cursor", .int(status.cursor)),
                    ("last_push_at", Output.iso(status.lastPushAt)),
                    ("last_pull_at", Output.iso(status.lastPullAt)),
                ]))
            return
        }
        print("Diary:     \(identity.diaryName) (\(identity.diary.canonical))")
        print("Server:    \(identity.server)")
        print("Device:    \(identity.deviceName) (\(identity.role.rawValue), \(identity.device.canonical))")
        print("Pending:   \(status.pending) change(s) not pushed yet")
        print("Records:   \(status.records - status.deleted) (\(status.deleted) deleted), \(status.conflicts) open conflict(s)")
        if let note = Output.newerKindNote(status.newerKind) { print("           \(note)") }
        print("Last push: \(Output.local(status.lastPushAt))")
        print("Last pull: \(Output.local(status.lastPullAt))")
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Who changed what and when, newest first.",
        discussion: helpExamples("syncctl log --limit 20", "syncctl log 01a1fa54-6f80"))
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only this record (its id or a unique start of it).") var id: String?
    @Option(help: "Show at most this many changes.") var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let device = try global.device()
        let entries = try device.history(of: id.map { try device.resolve($0) }, limit: limit)
        if global.json {
            let items = entries.map { entry in
                Output.object([
                    ("change", .optional(entry.change.canonical)), ("record", .optional(entry.record.canonical)),
                    ("type", .optional(entry.type.rawValue)), ("time", Output.iso(entry.time)),
                    ("author", .optional(entry.author.id.canonical)), ("author_name", .optional(entry.author.name)),
                    ("author_role", .optional(entry.author.role?.rawValue)), ("fields", JSONDocument(.object(entry.fields))),
                ])
            }
            print("[" + items.joined(separator: ",") + "]")
            return
        }
        guard !entries.isEmpty else {
            print("No changes yet.")
            return
        }
        let rows = entries.map { entry in
            [
                Output.local(entry.time), entry.author.label, "\(entry.type.rawValue) \(entry.record.canonical.prefix(13))",
                Output.shortened(describe(entry.fields), to: 70),
            ]
        }
        Output.table(["WHEN", "WHO", "RECORD", "WHAT"], rows)
    }

    private func describe(_ fields: [String: JSONValue]) -> String {
        fields.keys.sorted().map { field in
            switch (field, fields[field]!) {
            case ("deleted", .bool(true)): "deleted"
            case ("deleted", .bool(false)): "restored"
            case (_, .null): "cleared \(field)"
            case (_, let value): "\(field)=\(Output.cell(value))"
            }
        }.joined(separator: ", ")
    }
}

struct Conflicts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List concurrent edits that last-writer-wins overrode, until someone edits the field again.",
        discussion: helpExamples("syncctl conflicts", "syncctl conflicts --json"))
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let conflicts = try global.device().conflicts()
        if global.json {
            func side(_ side: OpenConflict.Side) -> JSONDocument {
                .object([
                    ("value", JSONDocument(side.value)), ("author", .optional(side.author.id.canonical)),
                    ("author_name", .optional(side.author.name)), ("time", Output.iso(side.time)),
                ])
            }
            let items = conflicts.map { conflict in
                Output.object([
                    ("record", .optional(conflict.record.canonical)), ("type", .optional(conflict.type.rawValue)),
                    ("field", .optional(conflict.field)), ("kept", side(conflict.kept)), ("overridden", side(conflict.overridden)),
                ])
            }
            print("[" + items.joined(separator: ",") + "]")
            return
        }
        guard !conflicts.isEmpty else {
            print("No open conflicts.")
            return
        }
        for conflict in conflicts {
            print("\(conflict.type.rawValue) \(conflict.record.canonical) \(conflict.field):")
            print("  kept:       \(Output.cell(conflict.kept.value))  by \(conflict.kept.author.label) at \(Output.local(conflict.kept.time))")
            print(
                "  overridden: \(Output.cell(conflict.overridden.value))  by \(conflict.overridden.author.label) at \(Output.local(conflict.overridden.time))"
            )
        }
        print("Edit a field again to resolve its conflict.")
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring in records from a JSON or CSV file: all of them, or none if one is invalid.",
        discussion: helpExamples("syncctl import --format json docs/examples/diary.json", "syncctl import --format csv diary.csv"))
    @OptionGroup var global: GlobalOptions
    @Option(help: "json (an array shaped like `list --json`) or csv (as `export --format csv` writes).") var format: String
    @Argument(help: "The file to read.") var file: String

    func validate() throws {
        guard ImportFormat(rawValue: format) != nil else { throw ValidationError("--format must be json or csv") }
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw ClientError.invalid("cannot read \(file)") }
        let ids = try global.device().importRecords(data, format: ImportFormat(rawValue: format)!)
        if global.json {
            print(Output.object([("imported", .int(Int64(ids.count))), ("ids", .array(ids.map { .string($0.canonical) }))]))
        } else {
            print("Imported \(ids.count) record(s); `syncctl push` sends them to the server.")
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the diary as CSV, JSON or a FHIR R4 Bundle.",
        discussion: helpExamples(
            "syncctl export --format fhir --output diary-fhir.json",
            "syncctl export --format csv --output diary.csv --include-deleted"))
    @OptionGroup var global: GlobalOptions
    @Option(help: "csv (a spreadsheet), json (as `list --json`, all records) or fhir (a FHIR R4 Bundle).") var format: String
    @Option(help: "The file to write (default: standard output).") var output: String?
    @Flag(name: .customLong("include-deleted"), help: "CSV and JSON: also write deleted records (marked deleted).")
    var includeDeleted = false

    func validate() throws {
        guard ["csv", "json", "fhir"].contains(format) else { throw ValidationError("--format must be csv, json or fhir") }
    }

    func run() throws {
        let device = try global.device()
        let records = try device.records(includeDeleted: includeDeleted && format != "fhir")
        let text: String
        switch format {
        case "csv": text = RecordCSV.write(records)
        case "json": text = JSONDocument.array(records.map(RecordDocument.document)).prettyText
        default: text = FHIRExport.bundle(records: records, identity: device.identity).prettyText
        }
        try write(text, to: output)
    }
}

/// Writes to a file, or to standard output when no file is named.
func write(_ text: String, to path: String?) throws {
    guard let path else {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw ClientError.invalid("cannot write \(path): \(error.localizedDescription)")
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write the clinician's HTML report, at most two A4 pages: one timeline of pain, flares, treatments, labs, imaging and growth; sites; since the previous visit; pain before and after treatments; CDAS.",
        discussion: helpExamples(
            "syncctl report --output report.html",
            "syncctl report --output report.html --from 2026-06-01 --to 2026-11-25",
            "syncctl report --output report.html --since 2026-09-15 --json"))
    @OptionGroup var global: GlobalOptions
    @Option(help: "The HTML file to write, e.g. report.html.") var output: String
    @Option(help: "The first day of the period: YYYY-MM-DD, today or yesterday (default: six months before --to).") var from: String?
    @Option(help: "The last day of the period: YYYY-MM-DD, today or yesterday (default: today).") var to: String?
    @Option(help: "The day of the previous visit, which \"since the previous visit\" counts from: YYYY-MM-DD, today or yesterday (default: --from).")
    var since: String?

    /// A day as typed, or nil if it is not one.
    static func day(_ text: String) -> CalendarDay? { CalendarDay(TypedTime().date(text)) }

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to), ("--since", since)] {
            if let value, Self.day(value) == nil { throw ValidationError("\(name) \(value) is not a date: write YYYY-MM-DD, today or yesterday") }
        }
    }

    func run() throws {
        let report = try global.device().report(from: from.flatMap(Self.day), to: to.flatMap(Self.day), since: since.flatMap(Self.day))
        try write(report.html, to: output)
        let visit = report.sinceVisit
        if global.json {
            let responses = report.treatmentResponses.map { response -> JSONDocument in
                func mean(_ window: DiaryReport.WindowMean) -> JSONDocument { window.mean.map { .number(String(format: "%.2f", $0)) } ?? .null }
                return .object([
                    ("record", .string(response.record.id.canonical)), ("name", .string(response.name)), ("started", .string(response.started.text)),
                    ("pain_before", mean(response.before)), ("checkins_before", .int(Int64(response.before.count))),
                    ("pain_after", mean(response.after)), ("checkins_after", .int(Int64(response.after.count))),
                    ("enough_to_judge", .bool(response.canJudge)),
                ])
            }
            print(
                Output.object([
                    ("output", .optional(output)), ("flares", .int(Int64(report.flaresInPeriod.count))),
                    ("days_in_flare", .int(Int64(report.daysInFlare))),
                    (
                        "since_previous_visit",
                        .object([
                            ("from", .string(visit.first.text)), ("to", .string(visit.last.text)),
                            ("previous_visit_given", .bool(visit.isPreviousVisit)),
                            ("days", .int(Int64(visit.days))), ("flares", .int(Int64(visit.flares))),
                            ("days_with_pain_4_or_more", .int(Int64(visit.daysWithPain))),
                            ("school_days_missed", .number(String(format: "%g", visit.schoolDaysMissed))),
                            ("days_with_checkin", .int(Int64(visit.checkinDays))),
                        ])
                    ),
                    ("treatment_responses", .array(responses)), ("newer_kind", .int(Int64(report.newerKindCount))),
                ]))
        } else {
            print("Wrote \(output): \(report.flaresInPeriod.count) flare(s) from \(report.from.text) to \(report.to.text).")
            if let note = Output.newerKindNote(report.newerKindCount) { Output.note(note) }
        }
    }
}
