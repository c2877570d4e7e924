import Foundation

/// A hybrid logical clock timestamp: wall-clock milliseconds since the Unix epoch and a counter that
/// orders events within one millisecond (and keeps the clock moving when the wall clock steps back).
///
/// Its text form is the 64-bit value `millis << 16 | counter` as 16 lowercase hex digits, so that
/// comparing the text compares the timestamps.
public struct HLC: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let millis: Int64
    public let counter: UInt16

    /// The largest wall time that fits the 48 bits of the packed form (year 10889).
    public static let maxMillis: Int64 = (1 << 47) - 1

    /// The least HLC a change may carry: zero is where every clock starts, before any event.
    public static let first = HLC(packed: 1)
    /// The greatest HLC: the packed form is a positive signed 64-bit integer.
    public static let last = HLC(packed: .max)

    /// The rule an HLC text outside `first...last` breaks, worded to follow the member's name.
    static func outOfRange(_ text: String) -> String {
        "must be from \(first.text) to \(last.text), a positive signed 64-bit value in 16 lowercase hex digits (got \"\(text)\")"
    }

    public init(millis: Int64, counter: UInt16) {
        precondition((0...Self.maxMillis).contains(millis), "HLC millis out of range")
        self.millis = millis
        self.counter = counter
    }

    public init(packed: Int64) {
        self.init(millis: packed >> 16, counter: UInt16(truncatingIfNeeded: packed & 0xFFFF))
    }

    /// The 64-bit packed form: wall milliseconds in the high 48 bits, the counter in the low 16.
    public var packed: Int64 { millis << 16 | Int64(counter) }

    /// The 16-hex-digit text form.
    public var text: String {
        String(unsafeUninitializedCapacity: 16) { out in
            writeText(to: out.baseAddress!)
            return 16
        }
    }

    /// Writes the 16 bytes of the text form at `out`.
    func writeText(to out: UnsafeMutablePointer<UInt8>) {
        let packed = UInt64(packed)
        for index in 0..<16 { out[index] = UUID.hexDigits[Int(packed >> (60 - 4 * index) & 0x0F)] }
    }

    /// Parses the 16-hex-digit text form only.
    public init?(text: String) {
        var text = text
        guard let parsed = text.withUTF8({ HLC(textUTF8: $0) }) else { return nil }
        self = parsed
    }

    /// Parses the 16-hex-digit text form from its UTF-8 bytes.
    init?(textUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var packed: UInt64 = 0
        for byte in bytes {
            guard let digit = UUID.nibble(byte) else { return nil }
            packed = packed << 4 | UInt64(digit)
        }
        guard packed <= UInt64(Self.maxMillis) << 16 | 0xFFFF else { return nil }
        self.init(packed: Int64(packed))
    }

    public var date: Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    public var description: String { text }

    public static func < (lhs: HLC, rhs: HLC) -> Bool { lhs.packed < rhs.packed }
}

/// Who wrote a value and when: the total order of last-writer-wins. Ties of the clock are broken by
/// the author's device id, so two devices never produce equal stamps.
///
/// Text form: `<hlc text>@<device uuid>`; comparing texts compares stamps.
public struct Stamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let hlc: HLC
    public let device: UUID

    public init(hlc: HLC, device: UUID) {
        self.hlc = hlc
        self.device = device
    }

    public var text: String {
        String(unsafeUninitializedCapacity: 53) { out in
            hlc.writeText(to: out.baseAddress!)
            out[16] = UInt8(ascii: "@")
            device.writeCanonical(to: out.baseAddress! + 17)
            return 53
        }
    }

    /// Appends the text form's 53 bytes, without making a string of them first.
    public func appendText(to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 53))
        out.withUnsafeMutableBufferPointer { buffer in
            hlc.writeText(to: buffer.baseAddress! + start)
            buffer[start + 16] = UInt8(ascii: "@")
            device.writeCanonical(to: buffer.baseAddress! + start + 17)
        }
    }

    public init?(text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Stamp(textUTF8: $0) }) else { return nil }
        self = parsed
    }

    /// Parses the text form from its UTF-8 bytes: 16 hex digits, `@`, a canonical UUID.
    init?(textUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 53, bytes[16] == UInt8(ascii: "@"), let hlc = HLC(textUTF8: UnsafeBufferPointer(rebasing: bytes[..<16])),
            let device = UUID(canonicalUTF8: UnsafeBufferPointer(rebasing: bytes[17...]))
        else { return nil }
        self.init(hlc: hlc, device: device)
    }

    public var description: String { text }

    public static func < (lhs: Stamp, rhs: Stamp) -> Bool {
        if lhs.hlc != rhs.hlc { return lhs.hlc < rhs.hlc }
        return lhs.device.canonicallyPrecedes(rhs.device)
    }
}

/// The hybrid logical clock of one device (Kulkarni et al., 2014).
///
/// It never goes backwards, even when the wall clock does, and after `receive(_:)` every timestamp it
/// issues is greater than the one received: an edit made after seeing another edit wins over it.
public struct HybridLogicalClock: Sendable, Equatable {
    /// The latest timestamp issued or received.
    public private(set) var last: HLC

    public init(last: HLC = HLC(millis: 0, counter: 0)) {
        self.last = last
    }

    /// The timestamp of a new local event, given the wall clock in Unix milliseconds.
    public mutating func tick(wallMillis: Int64) -> HLC {
        last = Self.successor(of: last, wallMillis: wallMillis)
        return last
    }

    /// Advances past a timestamp seen in a change from another device.
    public mutating func receive(_ remote: HLC) {
        if remote > last { last = remote }
    }

    private static func successor(of last: HLC, wallMillis: Int64) -> HLC {
        let wall = min(max(wallMillis, 0), HLC.maxMillis)
        if wall > last.millis { return HLC(millis: wall, counter: 0) }
        if last.counter < UInt16.max { return HLC(millis: last.millis, counter: last.counter + 1) }
        // Counter exhausted within one millisecond: borrow the next millisecond rather than repeat.
        return HLC(millis: last.millis + 1, counter: 0)
    }

    /// Whether a timestamp lies more than `maxSkew` seconds ahead of the wall clock: the sign of a device
    /// whose clock is wrong. Such a change would win every later edit, so the server refuses it.
    public static func isTooFarAhead(_ hlc: HLC, wallMillis: Int64, maxSkew: Duration) -> Bool {
        let skewMillis = maxSkew.components.seconds * 1000 + maxSkew.components.attoseconds / 1_000_000_000_000_000
        return hlc.millis - wallMillis > skewMillis
    }

    /// The wall clock now, in Unix milliseconds.
    public static func wallMillisNow() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1000)
    }
}
