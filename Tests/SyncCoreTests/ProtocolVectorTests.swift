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

    static let document: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/PROTOCOL.md")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    static let vectors: [Vector] = {
        document.components(separatedBy: "\n#### Vector ").dropFirst().map { section in
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

    /// A row of the table "Values at the edges of the rules": one member of vector 1's change, a value
    /// for it, and whether a server accepts the change.
    struct EdgeValue: CustomTestStringConvertible, Sendable {
        let member: String
        let value: JSONValue
        let accepted: Bool
        let row: String
        var testDescription: String { row }
    }

    static let edgeValues: [EdgeValue] = {
        let table =
            document.components(separatedBy: "#### Values at the edges of the rules").dropFirst().first?
            .components(separatedBy: "\n#### ").first ?? ""
        return table.split(separator: "\n").compactMap { line -> EdgeValue? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 3, cells[0].hasPrefix("`"), let valueEnd = cells[1].dropFirst().firstIndex(of: "`"),
                let value = try? JSONValue(parsing: String(cells[1].dropFirst()[..<valueEnd]))
            else { return nil }
            let repeats = cells[1].components(separatedBy: "` × ").dropFirst().first.flatMap { Int($0) }
            let member = String(cells[0].dropFirst().dropLast())
            let repeated: JSONValue = repeats.map { .string(String(repeating: value.stringValue ?? "", count: $0)) } ?? value
            return EdgeValue(member: member, value: repeated, accepted: cells[2].hasPrefix("accepted"), row: String(line.prefix(90)))
        }
    }()

    @Test func documentHoldsTheTableOfValuesAtTheEdgesOfTheRules() {
        #expect(Self.edgeValues.count >= 20)
        #expect(Self.edgeValues.contains { $0.accepted } && Self.edgeValues.contains { !$0.accepted })
    }

    @Test(arguments: edgeValues)
    func valueAtTheEdgeOfTheRulesIsAcceptedOrRefusedAsTheDocumentSays(_ row: EdgeValue) throws {
        guard case .object(var change) = try JSONValue(parsing: try #require(Self.vectors.first).wireJSON) else {
            Issue.record("vector 1 is not an object")
            return
        }
        if row.member.hasPrefix("fields.") {
            let field = String(row.member.dropFirst("fields.".count))
            change["fields"] = .object([field: row.value])
            change["seen"] = .object([field: []])
            change["type"] = .string(field == "name" ? "treatment" : "flare")
        } else {
            change[row.member] = row.value
        }
        do {
            try SignedChange(wireValue: .object(change)).change.validate()
            #expect(row.accepted, "accepted, but the document says refused")
        } catch {
            #expect(!row.accepted, "refused, but the document says accepted: \(error)")
            #expect(error.field == row.member.split(separator: ".").last.map(String.init), "\(error)")
        }
    }
}

extension ProtocolVectorTests {
    /// The rows of section 2's "Check-in ids" table: diary, date, record id.
    static let checkinIDs: [[String]] = {
        guard let table = document.components(separatedBy: "#### Check-in ids").dropFirst().first?.components(separatedBy: "\n**").first
        else { return [] }
        return table.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            return cells.count == 3 ? cells : nil
        }
    }()

    @Test func aCheckinIdIsDerivedFromTheDiaryAndTheDateAsTheDocumentSays() throws {
        try #require(!Self.checkinIDs.isEmpty, "docs/PROTOCOL.md has no check-in id table")
        for row in Self.checkinIDs {
            #expect(CheckinID.record(diary: try #require(UUID(canonical: row[0])), date: row[1]).canonical == row[2])
        }
    }
}
