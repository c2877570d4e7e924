import Foundation

/// A JSON value restricted to what CareSync exchanges: no floating-point numbers.
///
/// Decimals travel as strings (see `DecimalText`) so that the canonical form of a change never depends
/// on how a language prints a float. Two values are equal only if their canonical bytes are equal:
/// Swift's `String ==` treats canonically equivalent Unicode as equal, a signature does not.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue: Hashable {
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        lhs.canonicalBytes == rhs.canonicalBytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(canonicalBytes)
    }
}

// MARK: - Canonical encoding (RFC 8785, JCS, for the integer-only subset)

extension JSONValue {
    /// The RFC 8785 (JSON Canonicalization Scheme) bytes of this value: no insignificant white space,
    /// object members sorted by key, strings escaped minimally, integers in plain decimal.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        appendCanonical(to: &out)
        return out
    }

    /// The canonical bytes as a string, for logs, files and tests.
    public var canonicalString: String {
        String(decoding: canonicalBytes, as: UTF8.self)
    }

    /// Appends the canonical bytes, for writers that assemble a larger canonical document directly.
    public func appendCanonical(to out: inout [UInt8]) {
        switch self {
        case .null:
            out.append(contentsOf: Array("null".utf8))
        case .bool(let value):
            out.append(contentsOf: Array((value ? "true" : "false").utf8))
        case .int(let value):
            out.append(contentsOf: Array(String(value).utf8))
        case .string(let value):
            Self.appendCanonicalString(value, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.appendCanonical(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted(by: Self.isCanonicallyOrdered).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.appendCanonicalString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.appendCanonical(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Whether `first` comes strictly before `second` in canonical member order. JCS sorts keys by their
    /// UTF-16 code units. Below U+E000, UTF-8 byte order is the same order and much cheaper to compare;
    /// only keys with higher characters take the UTF-16 path.
    static func isCanonicallyOrdered(_ first: String, _ second: String) -> Bool {
        utf8Order(first, second) ?? first.utf16.lexicographicallyPrecedes(second.utf16)
    }

    /// Whether `first` sorts before `second` by their UTF-8 bytes, or nil where that order is not JCS's.
    /// The bytes are read in the strings' own storage: iterating a `String.UTF8View` called a protocol
    /// witness for every byte, which a push pays for every change.
    private static func utf8Order(_ first: String, _ second: String) -> Bool? {
        var (first, second) = (first, second)
        return first.withUTF8 { first in
            second.withUTF8 { second in
                first.allSatisfy { $0 < 0xEE } && second.allSatisfy { $0 < 0xEE } ? first.lexicographicallyPrecedes(second) : nil
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends a string in canonical form: quoted, with only the escapes RFC 8785 requires.
    public static func appendCanonicalString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them whole (scanning the bytes in place where they are contiguous).
        let needsNoEscape = { (byte: UInt8) in byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") }
        let copied =
            string.utf8.withContiguousStorageIfAvailable { bytes in
                guard bytes.allSatisfy(needsNoEscape) else { return false }
                out.append(contentsOf: bytes)
                return true
            } ?? false
        if copied || string.utf8.allSatisfy(needsNoEscape) {
            if !copied { out.append(contentsOf: string.utf8) }
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Parsing

/// One element of a parsed list, with the bytes it was read from.
public struct JSONElement: Sendable {
    public let bytes: ArraySlice<UInt8>
    /// Whether `bytes` are exactly `value.canonicalBytes`.
    public let isCanonical: Bool
    let content: JSONElementSource.Content

    /// The element's value. An element read straight into a signed change gives the same tree again.
    public var value: JSONValue {
        switch content {
        case .value(let value): value
        case .signedChange(let signed): signed.wireValue
        }
    }
}

/// Why a byte string is not acceptable JSON for CareSync.
public struct JSONParseError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "fractional numbers are not accepted here; send decimals as strings such as \"37.5\""
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses JSON text strictly (RFC 8259: no trailing commas, no duplicate member names, valid UTF-8).
    /// Numbers with a fraction or an exponent are refused: CareSync sends decimals as strings.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        self = try JSONParser.parse(bytes)
    }

    /// Parses a JSON object as `init(parsing:)` does, and returns the elements of the list under its
    /// top-level member `member` apart from the rest: each with its value, the bytes it was read from and
    /// whether those bytes are already its canonical form. The returned object holds every other member;
    /// `elements` is nil if `member` is missing or not a list (then the object holds it).
    public static func parsing(_ bytes: [UInt8], listing member: String) throws(JSONParseError) -> (
        value: JSONValue, elements: [JSONElement]?
    ) {
        let (value, sources) = try JSONParser.parse(bytes, elementsOf: member)
        return (value, sources?.map { JSONElement(bytes: bytes[$0.range], isCanonical: $0.isCanonical, content: $0.content) })
    }

    /// Parses JSON written by people (import files): as `init(parsing:)`, but a number with a fraction
    /// or an exponent is read as its text (`38.4` → `"38.4"`), for the record rules to check as a decimal.
    public init(parsingDocument bytes: some Collection<UInt8>) throws(JSONParseError) {
        self = try JSONParser.parse(bytes, decimalsAsText: true)
    }

    /// Parses JSON text given as a string.
    public init(parsing text: String) throws(JSONParseError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// A one-line reason for a decoding failure, without Swift type names.
    public static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            let underlying = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.keyNotFound(_, let context):
            return context.debugDescription
        default:
            return "\(error)"
        }
    }
}

// MARK: - Convenience accessors

extension JSONValue {
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "a whole number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
