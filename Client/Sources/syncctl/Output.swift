import CareSyncClient
import Foundation
import SyncCore

/// How syncctl writes: tables and sentences for people, JSON for programs, progress on a terminal.
enum Output {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("syncctl: \(message)\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// What a person is told of records of a type this version cannot show, or nil if there are none.
    static func newerKindNote(_ count: Int) -> String? {
        count == 0 ? nil : "\(count) record\(count == 1 ? "" : "s") of a newer kind: upgrade syncctl to see \(count == 1 ? "it" : "them")"
    }

    /// Prints rows under a header, each column as wide as its widest cell.
    static func table(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            let line = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            print(line.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }

    /// One JSON object, members in the order given: what `--json` prints.
    static func object(_ members: [(String, JSONDocument)]) -> String {
        JSONDocument.object(members).text
    }

    /// A moment as people read it, in local time.
    static func local(_ date: Date?) -> String {
        guard let date else { return "never" }
        return localFormatter.string(from: date)
    }

    /// A moment as programs read it: ISO 8601 in UTC.
    static func iso(_ date: Date?) -> JSONDocument {
        .optional(date.map(isoFormatter.string(from:)))
    }

    private static let localFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter
    }()

    nonisolated(unsafe) private static let isoFormatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()

    /// A value as a table cell.
    static func cell(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: ""
        case .string(let text)?: text
        case .int(let number)?: String(number)
        case .bool(let flag)?: flag ? "yes" : "no"
        case .array(let items)?: items.map { cell($0) }.joined(separator: ", ")
        case .object(let members)?:
            // An amount with its unit, a dosage or a lab result: "250 mg"; any other object as JSON.
            if let amount = members["dose"] ?? members["value"], let unit = members["unit"] {
                "\(cell(amount)) \(cell(unit))"
            } else {
                value?.canonicalString ?? ""
            }
        }
    }

    static func shortened(_ text: String, to length: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > length ? String(flat.prefix(length - 1)) + "…" : flat
    }

    /// A progress bar on stderr when it is a terminal; nothing otherwise.
    static func progressBar() -> ProgressHandler? {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        return { progress in
            let width = 30
            let fraction = progress.total > 0 ? Double(progress.done) / Double(progress.total) : 1
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let verb = progress.phase == .push ? "pushing" : "pulling"
            var line = "\r\(verb) \(bar) \(progress.done)/\(progress.total)"
            if progress.done >= progress.total { line += "\r\u{1B}[K" }
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

/// Durations as people write them: 90s, 30m, 48h, 7d, or plain seconds.
struct DurationText {
    let seconds: Int

    init?(_ text: String) {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        var number = Substring(text)
        var multiplier = 1
        if let last = text.last, let unit = units[last] {
            number = text.dropLast()
            multiplier = unit
        }
        guard let value = Int(number), value > 0 else { return nil }
        seconds = value * multiplier
    }
}
