import Foundation
import SyncCore

/// Deterministic ids and keys for tests, so that failures are reproducible.
enum Fixture {
    static let diary = UUID(canonical: "0193a5b0-0000-7000-8000-00000000000d")!
    static let parent = UUID(canonical: "0193a5c0-0000-7000-8000-000000000001")!
    static let otherParent = UUID(canonical: "0193a5c0-0000-7000-8000-000000000002")!
    static let grandparent = UUID(canonical: "0193a5c0-0000-7000-8000-000000000003")!
    static let key = DeviceKey(hex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")!
    static let otherKey = DeviceKey(hex: String(repeating: "c0ffee00", count: 8))!

    static func id(_ n: Int) -> UUID {
        let hex = String(n, radix: 16)
        return UUID(canonical: "0193a5c3-0000-7000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex)!
    }

    static func hlc(_ millis: Int64, _ counter: UInt16 = 0) -> HLC { HLC(millis: millis, counter: counter) }

    static let flareFields: [String: JSONValue] = [
        "started": "2024-11-24", "sites": ["tibia-left"], "pain": 7,
    ]

    static func change(
        _ id: Int, record: UUID = Fixture.id(1000), type: RecordType = .flare, at millis: Int64, by author: UUID = parent,
        fields: [String: JSONValue], seen: [String: [Stamp]] = [:]
    ) -> Change {
        Change(
            id: Fixture.id(id), diary: diary, record: record, type: type, hlc: hlc(millis), author: author,
            fields: fields, seen: fields.keys.reduce(into: [:]) { $0[$1] = seen[$1] ?? [] })
    }
}
