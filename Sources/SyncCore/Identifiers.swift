import Foundation

extension UUID {
    /// A new time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then random bits.
    ///
    /// Change and record ids are v7 so that SQLite appends them to the end of its indexes instead of
    /// scattering inserts across pages as random v4 ids do, which makes inserting much slower.
    public static func version7(now: Date = Date()) -> UUID {
        var generator = SystemRandomNumberGenerator()
        return version7(millis: UInt64(max(0, now.timeIntervalSince1970 * 1000)), using: &generator)
    }

    /// A version 7 UUID for the given Unix milliseconds, with random bits from `generator`.
    public static func version7(millis: UInt64, using generator: inout some RandomNumberGenerator) -> UUID {
        // Two draws of 64 bits rather than ten of 8: the system generator is a system call per draw.
        let high = generator.next()
        let low = generator.next()
        var uuid = UUID.zero
        withUnsafeMutableBytes(of: &uuid) { bytes in
            for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
            for index in 6..<8 { bytes[index] = UInt8(truncatingIfNeeded: high >> (8 * (index - 6))) }
            for index in 8..<16 { bytes[index] = UInt8(truncatingIfNeeded: low >> (8 * (index - 8))) }
            bytes[6] = 0x70 | (bytes[6] & 0x0F)
            bytes[8] = 0x80 | (bytes[8] & 0x3F)
        }
        return UUID(uuid: uuid)
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// Sixteen zero bytes to fill in (`UUID()` would draw random bits from the system first).
    private static let zero: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// The canonical text form used everywhere in CareSync: lowercase, hyphenated. (Written by hand:
    /// Foundation's `uuidString` goes through `sprintf`, and ids are formatted for every change.)
    public var canonical: String {
        String(unsafeUninitializedCapacity: 36) { out in
            writeCanonical(to: out.baseAddress!)
            return 36
        }
    }

    /// Appends the canonical text form's 36 bytes, without making a string of them first.
    public func appendCanonical(to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 36))
        out.withUnsafeMutableBufferPointer { writeCanonical(to: $0.baseAddress! + start) }
    }

    /// Writes the 36 bytes of the canonical text form at `out`.
    func writeCanonical(to out: UnsafeMutablePointer<UInt8>) {
        withUnsafeBytes(of: uuid) { bytes in
            var position = 0
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    out[position] = UInt8(ascii: "-")
                    position += 1
                }
                out[position] = Self.hexDigits[Int(byte >> 4)]
                out[position + 1] = Self.hexDigits[Int(byte & 0x0F)]
                position += 2
            }
        }
    }

    /// Parses the canonical text form only (lowercase, hyphenated), so that one id has one spelling.
    public init?(canonical text: String) {
        var text = text
        guard let parsed = text.withUTF8({ UUID(canonicalUTF8: $0) }) else { return nil }
        self = parsed
    }

    /// Parses the canonical text form from its UTF-8 bytes, as a reader of changes finds it in a request.
    init?(canonicalUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 36 else { return nil }
        var uuid = UUID.zero
        let valid = withUnsafeMutableBytes(of: &uuid) { out -> Bool in
            var position = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    guard bytes[position] == UInt8(ascii: "-") else { return false }
                    position += 1
                }
                guard let high = Self.nibble(bytes[position]), let low = Self.nibble(bytes[position + 1]) else { return false }
                out[index] = high << 4 | low
                position += 2
            }
            return true
        }
        guard valid else { return nil }
        self.init(uuid: uuid)
    }

    /// Whether this id's canonical text sorts before the other's. Lowercase hex digits sort as the
    /// values they stand for, so that is the order of the bytes, compared without writing the texts.
    func canonicallyPrecedes(_ other: UUID) -> Bool {
        withUnsafeBytes(of: uuid) { lhs in
            withUnsafeBytes(of: other.uuid) { rhs in lhs.lexicographicallyPrecedes(rhs) }
        }
    }

    /// The value of a lowercase hex digit. Comparisons rather than range patterns: a pattern was a call
    /// for every digit of the ids and signatures a push reads.
    static func nibble(_ byte: UInt8) -> UInt8? {
        if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") { return byte - UInt8(ascii: "0") }
        if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f") { return byte - UInt8(ascii: "a") + 10 }
        return nil
    }
}
