/// The date and date-time texts of the diary, checked without a calendar library so that client and
/// server (and a third-party client following docs/PROTOCOL.md) agree to the character.
///
/// A date is `YYYY-MM-DD` (years 1900–2199). A date-time is `YYYY-MM-DDTHH:MM:SS` followed by `Z` or
/// an offset `+HH:MM` / `-HH:MM`: the offset keeps "the dose at 8 in the morning" true wherever it is read.
public enum CalendarText {
    public static func isDate(_ text: String) -> Bool {
        dateParts(Array(text.utf8)) != nil
    }

    public static func isDateTime(_ text: String) -> Bool {
        instant(text) != nil
    }

    /// Whether `a` is strictly earlier than `b`. If either is a plain date, only the calendar dates
    /// as written are compared; two date-times are compared as instants.
    public static func isBefore(_ a: String, _ b: String) -> Bool {
        if let first = instant(a), let second = instant(b) { return first < second }
        return a.prefix(10) < b.prefix(10)
    }

    /// Seconds since 1970-01-01T00:00:00Z of a date-time text, or nil if the text is not one.
    public static func instant(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20 || bytes.count == 25, bytes[10] == UInt8(ascii: "T"),
            let (year, month, day) = dateParts(Array(bytes[0..<10])),
            let hour = number(bytes, 11, 2), bytes[13] == UInt8(ascii: ":"),
            let minute = number(bytes, 14, 2), bytes[16] == UInt8(ascii: ":"),
            let second = number(bytes, 17, 2),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var offsetSeconds: Int64 = 0
        if bytes.count == 20 {
            guard bytes[19] == UInt8(ascii: "Z") else { return nil }
        } else {
            guard bytes[19] == UInt8(ascii: "+") || bytes[19] == UInt8(ascii: "-"),
                let offsetHour = number(bytes, 20, 2), bytes[22] == UInt8(ascii: ":"), let offsetMinute = number(bytes, 23, 2),
                offsetHour <= 14, offsetMinute < 60
            else { return nil }
            offsetSeconds = (offsetHour * 3600 + offsetMinute * 60) * (bytes[19] == UInt8(ascii: "+") ? 1 : -1)
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
    }

    /// Days since 1970-01-01 of a date text (`YYYY-MM-DD`), or nil if the text is not a valid date.
    public static func dayNumber(_ text: String) -> Int64? {
        dateParts(Array(text.utf8)).map { daysSinceEpoch(year: $0.0, month: $0.1, day: $0.2) }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    public static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func dateParts(_ bytes: [UInt8]) -> (Int64, Int64, Int64)? {
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let year = number(bytes, 0, 4), let month = number(bytes, 5, 2), let day = number(bytes, 8, 2),
            (1900...2199).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        return (year, month, day)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func number(_ bytes: [UInt8], _ start: Int, _ length: Int) -> Int64? {
        guard start + length <= bytes.count else { return nil }
        var value: Int64 = 0
        for byte in bytes[start..<start + length] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
