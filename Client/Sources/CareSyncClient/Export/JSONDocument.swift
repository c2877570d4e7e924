import Foundation
import SyncCore

/// JSON written for people and other programs (listings, exports): members keep the order given, and
/// decimals are JSON numbers. Changes are never written with it; they use SyncCore's canonical form.
public indirect enum JSONDocument: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// A decimal number, written as given (it must be valid JSON number text, such as "38.4").
    case number(String)
    case string(String)
    case array([JSONDocument])
    case object([(String, JSONDocument)])

    public static func == (lhs: JSONDocument, rhs: JSONDocument) -> Bool { lhs.text == rhs.text }

    /// A SyncCore value as a document (objects in key order).
    public init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .int(let number): self = .int(number)
        case .string(let text): self = .string(text)
        case .array(let items): self = .array(items.map(JSONDocument.init))
        case .object(let members): self = .object(members.keys.sorted().map { ($0, JSONDocument(members[$0]!)) })
        }
    }

    /// A string, or null when absent.
    public static func optional(_ text: String?) -> JSONDocument { text.map(JSONDocument.string) ?? .null }

    public var text: String {
        var out: [UInt8] = []
        append(to: &out, indent: nil)
        return String(decoding: out, as: UTF8.self)
    }

    /// Indented by two spaces per level, for files people may open.
    public var prettyText: String {
        var out: [UInt8] = []
        append(to: &out, indent: 0)
        out.append(UInt8(ascii: "\n"))
        return String(decoding: out, as: UTF8.self)
    }

    private func append(to out: inout [UInt8], indent: Int?) {
        func newline(_ level: Int) {
            guard let indent else { return }
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * (indent + level)))
        }
        switch self {
        case .null, .bool, .int, .string:
            out.append(contentsOf: scalarValue.canonicalBytes)
        case .number(let text):
            out.append(contentsOf: Array(text.utf8))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(1)
                item.append(to: &out, indent: indent.map { $0 + 1 })
            }
            if !items.isEmpty { newline(0) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(1)
                out.append(contentsOf: JSONValue.string(key).canonicalBytes)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                value.append(to: &out, indent: indent.map { $0 + 1 })
            }
            if !members.isEmpty { newline(0) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private var scalarValue: JSONValue {
        switch self {
        case .bool(let flag): .bool(flag)
        case .int(let number): .int(number)
        case .string(let text): .string(text)
        default: .null
        }
    }
}
