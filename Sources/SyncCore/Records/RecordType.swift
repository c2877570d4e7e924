import Crypto
import Foundation

/// The kind of a diary record. A record's type is fixed when it is created and never changes.
///
/// This version knows six types (`known`). A change of any other well-formed type name is a record of a
/// newer kind: it is read, stored, synced and merged like any other, its fields checked only for their
/// form, so that a device or server of this version keeps what a newer one writes.
public struct RecordType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts any type name of 1 to 32 of `a–z 0–9 -`, starting with a letter.
    public init?(rawValue: String) {
        guard Self.isWellFormed(rawValue, maxLength: 32, allowing: UInt8(ascii: "-")) else { return nil }
        self.rawValue = rawValue
    }

    private init(known: String) { rawValue = known }

    public static let flare = RecordType(known: "flare")
    public static let treatment = RecordType(known: "treatment")
    public static let checkin = RecordType(known: "checkin")
    public static let lab = RecordType(known: "lab")
    public static let imaging = RecordType(known: "imaging")
    public static let growth = RecordType(known: "growth")

    /// The types this version can validate, show and export, in display order.
    public static let known: [RecordType] = [.flare, .treatment, .checkin, .lab, .imaging, .growth]

    public var isKnown: Bool { Self.known.contains(self) }

    public var description: String { rawValue }

    /// The fields a record of this type may carry, in display order (none for a type this version does not know).
    public var fields: [FieldRule] {
        switch self {
        case .flare: RecordSchema.flareFields
        case .treatment: RecordSchema.treatmentFields
        case .checkin: RecordSchema.checkinFields
        case .lab: RecordSchema.labFields
        case .imaging: RecordSchema.imagingFields
        case .growth: RecordSchema.growthFields
        default: []
        }
    }

    public func rule(for field: String) -> FieldRule? {
        fields.first { $0.name == field }
    }

    /// Whether `text` is a lowercase ASCII name: a letter, then letters, digits or `extra`.
    static func isWellFormed(_ text: String, maxLength: Int, allowing extra: UInt8) -> Bool {
        let bytes = text.utf8
        guard let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), bytes.count <= maxLength else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == extra
        }
    }
}

/// A day's check-in has one record per diary and day, whoever makes it: its id is derived from the
/// diary and the date (docs/PROTOCOL.md, "Check-in ids"), so that two parents checking in on the same
/// day edit one record and their fields merge by the usual rule.
public enum CheckinID {
    /// The first 16 bytes of SHA-256 of `caresync-checkin:<diary>:<date>`, with the UUID version set to 8
    /// and the variant to RFC 9562's.
    public static func record(diary: UUID, date: String) -> UUID {
        var bytes = Array(SHA256.hash(data: Array("caresync-checkin:\(diary.canonical):\(date)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11],
                bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }
}
