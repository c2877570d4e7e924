/// A non-negative decimal number kept as its canonical text ("37.5", "0.25", "250").
///
/// Doses and temperatures must survive every hop exactly as typed: no binary floating point is
/// involved in storing, signing or comparing them. The canonical text has no sign, no leading zeros
/// (but "0.5"), no trailing fractional zeros and no exponent.
public struct DecimalText: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let text: String

    /// At most this many digits after the point; more precision than that is a typing slip, not a dose.
    public static let maxFractionDigits = 4
    /// At most this many digits before the point.
    public static let maxIntegerDigits = 7

    /// Accepts the canonical text only: exactly the texts that `init(parsing:)` leaves as they are.
    /// Read byte by byte, since every decimal a push or a pull carries is checked with it.
    public init?(canonical text: String) {
        var integerDigits = 0
        var fractionDigits: Int?
        var last: UInt8 = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard fractionDigits == nil, integerDigits > 0 else { return nil }
                fractionDigits = 0
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                if let digits = fractionDigits {
                    fractionDigits = digits + 1
                } else {
                    // No leading zero, but the one of "0" or "0.5".
                    guard !(integerDigits == 1 && last == UInt8(ascii: "0")) else { return nil }
                    integerDigits += 1
                }
            }
            last = byte
        }
        guard integerDigits > 0, integerDigits <= Self.maxIntegerDigits else { return nil }
        if let fractionDigits {
            // No point without digits after it, and no trailing zero after them.
            guard fractionDigits > 0, fractionDigits <= Self.maxFractionDigits, last != UInt8(ascii: "0") else { return nil }
        }
        self.text = text
    }

    /// Accepts what a person types ("37,5" is not accepted, "37.50", "037.5" and ".5" are) and
    /// normalises it. Returns nil for anything else, including negative numbers.
    public init?(parsing input: String) {
        let parts = input.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        var integer = Substring(parts[0])
        var fraction = parts.count == 2 ? Substring(parts[1]) : ""
        guard !(integer.isEmpty && fraction.isEmpty) else { return nil }
        guard integer.allSatisfy({ $0.isASCIIDigit }), fraction.allSatisfy({ $0.isASCIIDigit }) else { return nil }
        while integer.count > 1, integer.first == "0" { integer = integer.dropFirst() }
        if integer.isEmpty { integer = "0" }
        while fraction.last == "0" { fraction = fraction.dropLast() }
        guard integer.count <= Self.maxIntegerDigits, fraction.count <= Self.maxFractionDigits else { return nil }
        text = fraction.isEmpty ? String(integer) : "\(integer).\(fraction)"
    }

    /// The value as a Double, for range checks and charts only (never for storage).
    public var doubleValue: Double { Double(text)! }

    public var isZero: Bool { text == "0" }

    public var description: String { text }

    public static func < (lhs: DecimalText, rhs: DecimalText) -> Bool {
        lhs.scaled < rhs.scaled
    }

    /// The value times 10^maxFractionDigits, exact, read from the canonical text's digits without
    /// splitting it into new strings (every decimal a push validates is compared twice with its range).
    private var scaled: Int64 {
        var value: Int64 = 0
        var fractionDigits: Int?
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                fractionDigits = 0
                continue
            }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            fractionDigits = fractionDigits.map { $0 + 1 }
        }
        for _ in (fractionDigits ?? 0)..<Self.maxFractionDigits { value *= 10 }
        return value
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
