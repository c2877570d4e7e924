import Foundation
import SyncCore

/// A calendar day, as days since 1970-01-01: the report's arithmetic of periods and windows, and the
/// days `TypedTime` turns `today` and `yesterday` into.
public struct CalendarDay: Comparable, Hashable, Sendable {
    public let number: Int64

    public init(number: Int64) { self.number = number }

    /// Reads `YYYY-MM-DD`.
    public init?(_ text: String) {
        guard let number = CalendarText.dayNumber(text) else { return nil }
        self.number = number
    }

    /// The day of a date (`YYYY-MM-DD`) or of a date-time as written (its first ten characters: the
    /// day where it was recorded, not in UTC).
    public init?(dayOf text: String) { self.init(String(text.prefix(10))) }

    /// Today in the local time zone.
    public static func today(_ date: Date = Date()) -> CalendarDay {
        let local = date.addingTimeInterval(TimeInterval(TimeZone.current.secondsFromGMT(for: date)))
        return CalendarDay(number: Int64((local.timeIntervalSince1970 / 86_400).rounded(.down)))
    }

    /// Year, month, day (Howard Hinnant's civil_from_days).
    public var parts: (year: Int64, month: Int64, day: Int64) {
        let z = number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public var text: String {
        let (year, month, day) = parts
        return String(format: "%04d-%02d-%02d", Int(year), Int(month), Int(day))
    }

    public var month: Int64 { parts.month }

    public var firstOfMonth: CalendarDay {
        let (year, month, _) = parts
        return CalendarDay(number: CalendarText.daysSinceEpoch(year: year, month: month, day: 1))
    }

    public func adding(days count: Int64) -> CalendarDay { CalendarDay(number: number + count) }

    /// Days from `other` to this day: 0 for the same day, 1 for the day after.
    public func days(since other: CalendarDay) -> Int64 { number - other.number }

    /// The same day of the month `count` months later (clamped to the month's last day).
    public func addingMonths(_ count: Int64) -> CalendarDay {
        let (year, month, day) = parts
        let index = year * 12 + (month - 1) + count
        let newYear = index / 12
        let newMonth = index % 12 + 1
        var result = CalendarText.daysSinceEpoch(year: newYear, month: newMonth, day: 1)
        let nextMonth = CalendarText.daysSinceEpoch(year: (index + 1) / 12, month: (index + 1) % 12 + 1, day: 1)
        result += min(day, nextMonth - result) - 1
        return CalendarDay(number: result)
    }

    func monthLabel(withYear: Bool) -> String {
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let (year, month, _) = parts
        return names[Int(month) - 1] + (withYear ? " \(year)" : "")
    }

    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool { lhs.number < rhs.number }
}
