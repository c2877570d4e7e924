/// The list mode of the parser, for push bodies: the elements of one top-level list are kept apart from
/// the tree, each with where its bytes lie and whether they are canonical, and a signed change in
/// canonical wire form is read straight into a `SignedChange` (`JSONParser+SignedChange.swift`). Any
/// other element is read by the general parser, so both fail alike.
extension JSONParser {
    /// Parses a JSON object and returns the elements of the list under its top-level member `member`
    /// apart from the tree (nil if there is no such list), each with where its bytes lie in `input`
    /// and whether they are already canonical. A receiver of signed changes can then keep and check the
    /// bytes it received instead of encoding them again. An element that is a signed change in canonical
    /// wire form is read straight into a `SignedChange`, without a tree (see `canonicalSignedChange()`).
    static func parse(_ input: [UInt8], elementsOf member: String) throws(JSONParseError) -> (JSONValue, [JSONElementSource]?) {
        try input.withUnsafeBufferPointer { buffer throws(JSONParseError) in
            var parser = JSONParser(buffer, decimalsAsText: false)
            parser.listMember = member
            let value = try parser.document()
            return (value, parser.elements)
        }
    }

    /// Reads the listed array: each element with its bytes, and whether they are canonical.
    mutating func recordedElements() throws(JSONParseError) -> [JSONElementSource] {
        var elements: [JSONElementSource] = []
        try readArray { parser throws(JSONParseError) in
            let wasCanonical = parser.canonical
            let start = parser.index
            parser.canonical = true
            let content: JSONElementSource.Content
            if let signed = parser.canonicalSignedChange() {
                content = .signedChange(signed)
            } else {
                content = .value(try parser.parseValue())
            }
            elements.append(JSONElementSource(range: start..<parser.index, isCanonical: parser.canonical, content: content))
            parser.canonical = wasCanonical && parser.canonical
        }
        return elements
    }
}

/// Where one element of a parsed list lies in the input, whether its bytes are canonical, and what was read.
struct JSONElementSource: Sendable {
    enum Content: Sendable {
        case value(JSONValue)
        case signedChange(SignedChange)
    }

    let range: Range<Int>
    let isCanonical: Bool
    let content: Content
}
