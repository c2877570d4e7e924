import Foundation
import SyncCore
import Testing

/// The vectors of docs/PROTOCOL.md, read from the document itself so that code and document cannot drift.
struct ProtocolVectorTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let title: String
        let key: String
        let wireJSON: String
        let canonicalHex: String
        let signature: String
        var testDescription: String { title }
    }

    static let vectors: [Vector] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/PROTOCOL.md")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.components(separatedBy: "\n#### Vector ").dropFirst().map { section in
            func between(_ start: String, _ end: String) -> String {
                guard let lower = section.range(of: start), let upper = section.range(of: end, range: lower.upperBound..<section.endIndex) else {
                    return ""
                }
                return String(section[lower.upperBound..<upper.lowerBound])
            }
            return Vector(
                title: String(section.prefix { $0 != "\n" }),
                key: between("Key: `", "`"),
                wireJSON: between("```json\n", "\n```"),
                canonicalHex: between("```hex\n", "\n```"),
                signature: between("Signature: `", "`"))
        }
    }()

    @Test func documentHoldsAtLeastThreeVectors() {
        #expect(Self.vectors.count >= 3)
    }

    @Test(arguments: vectors)
    func vectorCanonicalBytesAndSignatureMatch(_ vector: Vector) throws {
        let signed = try SignedChange(wireValue: try JSONValue(parsing: vector.wireJSON))
        try signed.change.validate()
        #expect(Hex.encode(signed.change.canonicalBytes) == vector.canonicalHex)
        let key = try #require(DeviceKey(hex: vector.key))
        #expect(Hex.encode(ChangeSigner.sign(signed.change, with: key).signature) == vector.signature)
        #expect(ChangeSigner.isValid(signed, key: key))
    }
}
