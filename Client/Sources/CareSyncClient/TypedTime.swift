import Foundation
import SyncCore

/// Dates and times as a person types them, turned into the diary's texts (docs/PROTOCOL.md, "Dates and
/// times"): `today` and `yesterday` where a date is asked for, and a time without an offset
/// (`2026-11-20 08:00`, `2026-11-20T08:00`, seconds optional) read as this machine's local time, so
/// the offset it had then is written with it. Anything else is passed on as typed, for validation to
/// refuse naming the field and the forms it takes.
public struct TypedTime: Sendable {
    public let now: Date
    public let timeZone: TimeZone

    public init(now: Date = Date(), timeZone: TimeZone = .current) {
        self.now = now
        self.timeZone = timeZone
    }

    /// A calendar date: `today`, `yesterday` or `YYYY-MM-DD`.
    public func date(_ text: String) -> String {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "today": CalendarDay(number: today).text
        case "yesterday": CalendarDay(number: today - 1).text
        default: text
        }
    }

    /// Today on this machine's calendar, as days since 1970-01-01.
    private var today: Int64 {
        let seconds = Int64(now.timeIntervalSince1970.rounded(.down))
        return (seconds + Int64(timeZone.secondsFromGMT(for: now))).floorDivided(by: 86_400)
    }

    /// A date, or a date and time: as `date(_:)`, `now`, a time with an offset as written, or a local time.
    public func dateOrDateTime(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "now" { return Self.text(instant: Int64(now.timeIntervalSince1970.rounded(.down)), in: timeZone) }
        let asDate = date(trimmed)
        guard asDate == trimmed, !CalendarText.isDate(trimmed), !CalendarText.isDateTime(trimmed) else { return asDate }
        return localTime(trimmed) ?? text
    }

    /// `YYYY-MM-DD HH:MM[:SS]` or with `T`, no offset: the instant it names on this machine's clock.
    private func localTime(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16 || bytes.count == 19, bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T") else { return nil }
        let seconds = bytes.count == 19 ? String(decoding: bytes[16...], as: UTF8.self) : ":00"
        let asUTC = String(decoding: bytes[0..<10], as: UTF8.self) + "T" + String(decoding: bytes[11..<16], as: UTF8.self) + seconds + "Z"
        guard let wall = CalendarText.instant(asUTC) else { return nil }
        // The offset in force at that wall-clock time: looked up at the instant the wall time would be
        // with the offset of the moment before, which differs from it only across a clock change.
        let guess = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall)))
        let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall - Int64(guess))))
        return Self.text(instant: wall - Int64(offset), in: timeZone)
    }

    /// An instant as `YYYY-MM-DDTHH:MM:SS±HH:MM` in the time zone's offset at that instant.
    static func text(instant: Int64, in timeZone: TimeZone) -> String {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
        let local = instant + offset
        let day = CalendarDay(number: local.floorDivided(by: 86_400))
        let secondOfDay = local - day.number * 86_400
        let magnitude = abs(offset) / 60
        return day.text
            + String(
                format: "T%02d:%02d:%02d%@%02d:%02d", Int(secondOfDay / 3600), Int(secondOfDay / 60 % 60), Int(secondOfDay % 60),
                offset < 0 ? "-" : "+", Int(magnitude / 60), Int(magnitude % 60))
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return self % divisor < 0 ? quotient - 1 : quotient
    }
}
