/// A strict RFC 8259 parser for the JSON CareSync reads: whole numbers only (decimals travel as text),
/// no duplicate member names, valid UTF-8, at most 64 levels deep. It reads bytes directly; pushes,
/// pulls and every stored record pass through it, so it avoids `JSONDecoder`'s cost per value.
///
/// This file reads trees and notes, as it goes, whether the bytes were canonical. Push bodies add two
/// readers on top, each in a file of its own and each handing anything it does not expect back to this
/// one, so that all three fail alike: the list mode (`JSONParser+Elements.swift`) and the fixed-order
/// reader of signed changes (`JSONParser+SignedChange.swift`).
struct JSONParser {
    static let maxDepth = 64

    let bytes: UnsafeBufferPointer<UInt8>
    /// Whether a number with a fraction or exponent is read as its text (documents written by people)
    /// rather than refused (the protocol, where decimals travel as strings).
    private let decimalsAsText: Bool
    var index = 0
    var depth = 0
    /// Whether the bytes read so far (since the last reset) are in canonical form (RFC 8785 as
    /// `JSONValue.canonicalBytes` writes it): no whitespace, members in order, canonical escapes.
    var canonical = true
    /// The top-level member whose list elements are recorded in `elements`, if any: the list mode of
    /// `JSONParser+Elements.swift`, the one place `parseObject` steps aside for.
    var listMember: String?
    /// The elements of that list, when it has been read: they are not also put in the returned tree.
    var elements: [JSONElementSource]?

    init(_ bytes: UnsafeBufferPointer<UInt8>, decimalsAsText: Bool) {
        self.bytes = bytes
        self.decimalsAsText = decimalsAsText
    }

    static func parse(_ input: some Collection<UInt8>, decimalsAsText: Bool = false) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError>? = input.withContiguousStorageIfAvailable { buffer in
            var parser = JSONParser(buffer, decimalsAsText: decimalsAsText)
            return Result { () throws(JSONParseError) in try parser.document() }
        }
        if let result { return try result.get() }
        let copy = Array(input)
        return try copy.withUnsafeBufferPointer { buffer throws(JSONParseError) in
            var parser = JSONParser(buffer, decimalsAsText: decimalsAsText)
            return try parser.document()
        }
    }

    mutating func document() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw fail("empty input") }
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected text after the JSON value") }
        return value
    }

    private func fail(_ reason: String) -> JSONParseError {
        JSONParseError("malformed JSON: \(reason) at byte \(index)")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09:
                index += 1
                canonical = false
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end of input") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw fail("unexpected character")
        }
        index += count
        return value
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw fail("nested more than \(Self.maxDepth) levels deep") }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        // Room for a change's ten members at once, instead of growing the table four times on the way:
        // a push spent a noticeable part of its time growing dictionaries.
        members.reserveCapacity(12)
        var previousKey: String?
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            let key = try parseString()
            if let previousKey, !JSONValue.isCanonicallyOrdered(previousKey, key) { canonical = false }
            previousKey = key
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':' after a member name") }
            index += 1
            skipWhitespace()
            if depth == 1, let listMember, key == listMember, index < bytes.count, bytes[index] == UInt8(ascii: "[") {
                guard elements == nil, members[key] == nil else { throw fail("duplicate member \"\(key)\"") }
                elements = try recordedElements()
            } else {
                let value = try parseValue()
                guard members.updateValue(value, forKey: key) == nil, elements == nil || key != listMember else {
                    throw fail("duplicate member \"\(key)\"")
                }
            }
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input in an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in an object") }
            index += 1
            depth -= 1
            return .object(members)
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        var items: [JSONValue] = []
        try readArray { parser throws(JSONParseError) in items.append(try parser.parseValue()) }
        return .array(items)
    }

    /// Reads an array at `[`, calling `element` with the parser at the start of each element.
    mutating func readArray(_ element: (inout JSONParser) throws(JSONParseError) -> Void) throws(JSONParseError) {
        try enter()
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input in an array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in an array") }
            index += 1
            depth -= 1
            return
        }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { throw fail("expected a digit") }
        if bytes[index] == UInt8(ascii: "0"), index + 1 < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index + 1]) {
            throw fail("numbers must not start with 0")
        }
        var magnitude: UInt64 = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw fail("number too large") }
            magnitude = sum
            index += 1
        }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            canonical = false
            guard decimalsAsText else {
                index = start
                throw fail("fractional numbers are not accepted here; send decimals as strings such as \"37.5\"")
            }
            while index < bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
                    || [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-")].contains(bytes[index])
            {
                index += 1
            }
            return .string(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
        }
        if negative {
            if magnitude == 0 { canonical = false }
            guard magnitude <= UInt64(Int64.max) + 1 else { throw fail("number too large") }
            return .int(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
        }
        guard magnitude <= UInt64(Int64.max) else { throw fail("number too large") }
        return .int(Int64(magnitude))
    }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Every byte OR-ed together: below 0x80, the text is ASCII.
        var highBits: UInt8 = 0
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                // ASCII is valid UTF-8 as it is, and most of what CareSync reads is ASCII: names, ids,
                // dates. `String(validating:as:)` is generic and, unspecialized, looks up type metadata
                // for every string.
                if highBits < 0x80 { return String(decoding: slice, as: UTF8.self) }
                guard let text = String(validating: slice, as: UTF8.self) else { throw fail("text that is not valid UTF-8") }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw fail("a control character inside a string") }
            highBits |= byte
            index += 1
        }
        var scratch = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: scratch, as: UTF8.self) else { throw fail("text that is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unexpected end of input in a string") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): scratch.append(escape)
                case UInt8(ascii: "/"):
                    scratch.append(escape)
                    canonical = false
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    let escapeStart = index
                    var scalar = try hex4()
                    // Canonical form escapes only control characters without a short escape, as \u00xx.
                    if scalar >= 0x20 || [0x08, 0x09, 0x0A, 0x0C, 0x0D].contains(scalar)
                        || bytes[escapeStart..<index].contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) })
                    {
                        canonical = false
                    }
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("a lone surrogate in a \\u escape")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("a lone surrogate in a \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("a lone surrogate in a \\u escape")
                    }
                    scratch.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default:
                    throw fail("an unknown escape in a string")
                }
            default:
                guard byte >= 0x20 else { throw fail("a control character inside a string") }
                scratch.append(byte)
                index += 1
            }
        }
        throw fail("unexpected end of input in a string")
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("unexpected end of input in a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("a bad \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
