import Foundation
import PropertyBased
import SyncCore
import Testing

/// Random schedules of devices that edit, delete and restore records while offline and exchange changes
/// in random order, with duplicates. PropertyBased prints the failing seed and how to replay it.
struct ConvergencePropertyTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Device {
        let id: UUID
        let clockOffset: Int64
        var clock = HybridLogicalClock()
        var state = ReplicaState()
        var received: [Change] = []
        var latestReceived = HLC(millis: 0, counter: 0)

        mutating func receive(_ change: Change) throws {
            try state.apply(change)
            clock.receive(change.hlc)
            received.append(change)
            latestReceived = max(latestReceived, change.hlc)
        }
    }

    struct Outcome {
        var conflicts = 0
        var deletions = 0
    }

    /// Plays one schedule; records an issue for every broken property.
    static func play(seed: UInt64, deviceCount: Int, outcome: inout Outcome) throws {
        var random = SplitMix64(state: seed)
        var devices = (0..<deviceCount).map { _ in
            Device(id: UUID.version7(millis: 1_732_000_000_000, using: &random), clockOffset: Int64.random(in: -90_000...90_000, using: &random))
        }
        var log: [Change] = []
        var now: Int64 = 1_732_500_000_000

        for _ in 0..<40 {
            now += Int64.random(in: 0...1_500, using: &random)
            let index = Int.random(in: 0..<deviceCount, using: &random)
            if Bool.random(using: &random) {
                // The wall clock jitters and sometimes steps back.
                let wall = now + devices[index].clockOffset + Int64.random(in: -2_000...500, using: &random)
                let change = makeEdit(by: &devices[index], wall: wall, random: &random)
                #expect(change.hlc > devices[index].latestReceived, "an edit is stamped after every change its device has seen")
                try devices[index].receive(change)
                log.append(change)
            } else if !log.isEmpty {
                for _ in 0..<Int.random(in: 1...6, using: &random) {
                    try devices[index].receive(log.randomElement(using: &random)!)
                }
            }
        }

        // The state is a function of the set of changes: replaying exactly what a device received,
        // shuffled and repeated, gives the same state.
        for device in devices {
            var twin = ReplicaState()
            for change in (device.received + device.received.prefix(3)).shuffled(using: &random) { try twin.apply(change) }
            #expect(twin == device.state, "seed \(seed): replay of the same set differs")
        }

        // A replica on disk keeps each record in its stored form and reads it back before every merge:
        // merging through that round trip gives the same state as merging in memory. (One schedule in
        // eight: parsing dominates the cost, and the property does not depend on the schedule's shape.)
        if seed % 8 == 0, let device = devices.first {
            var stored: [UUID: [UInt8]] = [:]
            for change in device.received {
                var record =
                    try stored[change.record].map { try RecordState(storedValue: JSONValue(parsing: $0)) }
                    ?? RecordState(id: change.record, type: change.type)
                try record.apply(change)
                let bytes = record.storedBytes
                stored[change.record] = bytes
                #expect(try RecordState.currentValues(stored: bytes) == record.values, "the listed values are the current ones")
            }
            for (id, bytes) in stored {
                #expect(try RecordState(storedValue: JSONValue(parsing: bytes)) == device.state.records[id], "seed \(seed): stored record differs")
            }
        }

        // Everyone receives everything, shuffled with duplicates: all replicas converge.
        for index in devices.indices {
            for change in (log + log.shuffled(using: &random).prefix(5)).shuffled(using: &random) { try devices[index].receive(change) }
        }
        var reference = ReplicaState()
        for change in log.reversed() { try reference.apply(change) }
        for device in devices {
            #expect(device.state == reference, "seed \(seed): replica \(device.id) diverged")
            #expect(device.state.conflicts == reference.conflicts)
        }

        // Last writer wins: each field holds the value of the greatest stamp that set it.
        for (recordID, record) in reference.records {
            for (field, register) in record.registers {
                let writes = log.filter { $0.record == recordID && $0.fields[field] != nil }
                let newest = writes.max {
                    FieldEntry(value: .null, stamp: $0.stamp, change: $0.id) < FieldEntry(value: .null, stamp: $1.stamp, change: $1.id)
                }!
                #expect(register.winner.change == newest.id && register.winner.value == newest.fields[field]!)
            }
        }
        outcome.conflicts += reference.conflicts.count
        outcome.deletions += reference.records.values.filter(\.isDeleted).count
    }

    /// A new record of each type, and of a type this version does not know.
    static let creations: [(type: RecordType, fields: [String: JSONValue])] = [
        (.flare, ["started": "2024-11-24", "sites": ["tibia-left"], "pain": 4]),
        (.treatment, ["kind": "nsaid", "name": "naproxen", "started": "2024-11-24"]),
        (.checkin, ["pain": 2]),
        (.lab, ["taken": "2024-11-24", "test": "crp", "result": ["value": "12.5", "unit": "mg/L"]]),
        (.imaging, ["date": "2024-11-24", "modality": "mri"]),
        (.growth, ["date": "2024-11-24", "height_cm": "132.5"]),
        (RecordType(rawValue: "symptom-score")!, ["score": 3]),
    ]

    /// The fields each type's edits set, beside deletion and notes.
    static let edits: [RecordType: [(String, [JSONValue])]] = [
        .flare: [("pain", (0...10).map { .int($0) }), ("sites", [["femur-right"], ["tibia-left", "tibia-right"]]), ("fever_c", ["38.5", .null])],
        .treatment: [("dosage", [["dose": "250", "unit": "mg"], ["dose": "5", "unit": "ml"], .null]), ("route", ["oral", "iv"])],
        .checkin: [("pain", (0...10).map { .int($0) }), ("wellbeing", [0, 5, .null]), ("school_missed", ["none", "part", "whole"])],
        .lab: [("result", [["value": "3", "unit": "mg/L"], ["value": "0.4", "unit": "mg/dL"]]), ("ref_high", ["5", .null])],
        .imaging: [("active_lesions", [0, 2, 3]), ("findings", ["oedema of the left distal tibia", .null])],
        .growth: [("height_cm", ["132.5", "133"]), ("weight_kg", ["28.4", .null])],
    ]

    static func makeEdit(by device: inout Device, wall: Int64, random: inout SplitMix64) -> Change {
        let hlc = device.clock.tick(wallMillis: wall)
        let known = device.state.records.values.sorted { $0.id.canonical < $1.id.canonical }
        let fields: [String: JSONValue]
        let record: UUID
        let type: RecordType
        if known.isEmpty || Int.random(in: 0..<5, using: &random) == 0 {
            let creation = creations.randomElement(using: &random)!
            type = creation.type
            // Check-ins of one of three days: devices create the same record (its id derived from the
            // date) without having seen each other's.
            let day = "2024-11-2\(Int.random(in: 4...6, using: &random))"
            record =
                type == .checkin ? CheckinID.record(diary: Fixture.diary, date: day) : UUID.version7(millis: UInt64(hlc.millis), using: &random)
            fields = type == .checkin ? creation.fields.merging(["date": .string(day)]) { $1 } : creation.fields
        } else {
            let target = known.randomElement(using: &random)!
            record = target.id
            type = target.type
            let choices: [(String, [JSONValue])] =
                [
                    ("deleted", [true, false]),
                    ("notes", ["better today", "woke at night", .null]),
                ] + (edits[type] ?? [("score", [1, 2, ["nested": true]])])
            var edit: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                let (field, values) = choices.randomElement(using: &random)!
                edit[field] = values.randomElement(using: &random)!
            }
            fields = edit
        }
        let seen = fields.keys.reduce(into: [String: [Stamp]]()) { $0[$1] = device.state.stampsToSee(record: record, field: $1) }
        return Change(
            id: UUID.version7(millis: UInt64(hlc.millis), using: &random), diary: Fixture.diary, record: record, type: type,
            hlc: hlc, author: device.id, fields: fields, seen: seen)
    }

    @Test func replicasThatSawTheSameChangesConvergeWhateverTheOrder() async {
        var outcome = Outcome()
        await propertyCheck(count: 1_000, input: Gen.uint64(), Gen.int(in: 3...5)) { seed, deviceCount in
            try Self.play(seed: seed, deviceCount: deviceCount, outcome: &outcome)
        }
        // The schedules must actually exercise conflicts and tombstones, or the property proves little.
        #expect(outcome.conflicts > 100)
        #expect(outcome.deletions > 100)
    }
}
