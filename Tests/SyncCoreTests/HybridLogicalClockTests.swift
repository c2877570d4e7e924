import Foundation
import SyncCore
import Testing

struct HybridLogicalClockTests {
    @Test func wallClockSteppingBackNeverMovesTheClockBackwards() {
        var clock = HybridLogicalClock()
        let first = clock.tick(wallMillis: 1_000_000)
        let afterStepBack = clock.tick(wallMillis: 400_000)
        let later = clock.tick(wallMillis: 400_001)
        #expect(first < afterStepBack)
        #expect(afterStepBack < later)
        #expect(afterStepBack.millis == 1_000_000 && afterStepBack.counter == 1)
    }

    @Test func sameMillisecondIncrementsTheCounterAndANewOneResetsIt() {
        var clock = HybridLogicalClock()
        #expect(clock.tick(wallMillis: 5) == HLC(millis: 5, counter: 0))
        #expect(clock.tick(wallMillis: 5) == HLC(millis: 5, counter: 1))
        #expect(clock.tick(wallMillis: 6) == HLC(millis: 6, counter: 0))
    }

    @Test func exhaustedCounterBorrowsTheNextMillisecond() {
        var clock = HybridLogicalClock(last: HLC(millis: 9, counter: .max))
        #expect(clock.tick(wallMillis: 9) == HLC(millis: 10, counter: 0))
    }

    @Test func receivingAFarAheadTimestampAdvancesEveryLaterEditPastIt() {
        var clock = HybridLogicalClock()
        _ = clock.tick(wallMillis: 1_000)
        let remote = HLC(millis: 9_000_000, counter: 42)
        clock.receive(remote)
        let next = clock.tick(wallMillis: 1_001)
        #expect(next > remote)
        #expect(next == HLC(millis: 9_000_000, counter: 43))
        // A remote timestamp from the past changes nothing.
        clock.receive(HLC(millis: 5, counter: 0))
        #expect(clock.tick(wallMillis: 1_002) > next)
    }

    @Test func equalClocksAreOrderedByDeviceId() {
        let hlc = HLC(millis: 1_732_500_000_000, counter: 0)
        let low = Stamp(hlc: hlc, device: Fixture.parent)
        let high = Stamp(hlc: hlc, device: Fixture.otherParent)
        #expect(low < high)
        #expect(!(high < low))
        #expect(Stamp(hlc: HLC(millis: hlc.millis, counter: 1), device: Fixture.parent) > high, "the clock decides before the device")
    }

    @Test func textFormsRoundTripAndSortLikeTheValues() throws {
        let stamps = [
            Stamp(hlc: HLC(millis: 0, counter: 0), device: Fixture.otherParent),
            Stamp(hlc: HLC(millis: 1_732_500_000_000, counter: 0), device: Fixture.parent),
            Stamp(hlc: HLC(millis: 1_732_500_000_000, counter: 0), device: Fixture.otherParent),
            Stamp(hlc: HLC(millis: 1_732_500_000_000, counter: 17), device: Fixture.parent),
            Stamp(hlc: HLC(millis: HLC.maxMillis, counter: .max), device: Fixture.parent),
        ]
        #expect(stamps == stamps.sorted())
        #expect(stamps.map(\.text) == stamps.map(\.text).sorted())
        for stamp in stamps {
            #expect(Stamp(text: stamp.text) == stamp)
            #expect(HLC(text: stamp.hlc.text) == stamp.hlc)
        }
        #expect(HLC(millis: 1_732_500_000_000, counter: 3).text == "0193610c0d000003")
    }

    /// Stamps are compared by their device ids' bytes, not their texts; the two orders must agree, or
    /// two replicas could pick different winners from the same values.
    @Test func stampsWithEqualClocksSortLikeTheirTexts() {
        var generator = ConvergencePropertyTests.SplitMix64(state: 0xD1CE)
        let hlc = HLC(millis: 1_732_500_000_000, counter: 3)
        for _ in 0..<500 {
            let (first, second) = (UUID(uuid: Self.randomBytes(&generator)), UUID(uuid: Self.randomBytes(&generator)))
            let (a, b) = (Stamp(hlc: hlc, device: first), Stamp(hlc: hlc, device: second))
            #expect((a < b) == (a.text < b.text), "\(a.text) against \(b.text)")
            #expect((b < a) == (b.text < a.text), "\(b.text) against \(a.text)")
        }
    }

    static func randomBytes(_ generator: inout ConvergencePropertyTests.SplitMix64) -> uuid_t {
        let (high, low) = (generator.next(), generator.next())
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { bytes in
            for index in 0..<8 { bytes[index] = UInt8(truncatingIfNeeded: high >> (8 * index)) }
            for index in 0..<8 { bytes[8 + index] = UInt8(truncatingIfNeeded: low >> (8 * index)) }
        }
        return uuid
    }

    @Test(arguments: [
        "0193610c0d000003@0193A5C0-0000-7000-8000-000000000001", "0193610c0d000003-0193a5c0-0000-7000-8000-000000000001",
        "0193610c0d000003@0193a5c0-0000-7000-8000-0000000000011", "193610c0d000003@0193a5c0-0000-7000-8000-000000000001",
        "0193610c0d000003@0193a5c000000-7000-8000-000000000001",
    ])
    func malformedStampTextIsRefused(text: String) {
        #expect(Stamp(text: text) == nil)
    }

    @Test(arguments: ["0193610C0D000003", "193610c0d000003", "0193610c0d00000g", "ffffffffffffffff"])
    func malformedHLCTextIsRefused(text: String) {
        #expect(HLC(text: text) == nil)
    }

    /// A text of 16 lowercase hex digits past 7fffffffffffffff is well formed but out of range, and the
    /// refusal says so rather than blaming the digits.
    @Test(arguments: ["8000000000000000", "ffffffffffffffff"])
    func anHLCPastTheGreatestIsRefusedAsOutOfRange(text: String) throws {
        let wire = ChangeSigner.sign(Fixture.change(1, at: 1_732_500_000_000, fields: ["pain": 3]), with: Fixture.key).wireValue
        let edited = wire.canonicalString.replacingOccurrences(of: "\"hlc\":\"0193610c0d000000\"", with: "\"hlc\":\"\(text)\"")
        #expect(edited != wire.canonicalString)
        let error = #expect(throws: ValidationError.self) { try SignedChange(wireValue: JSONValue(parsing: Array(edited.utf8))) }
        #expect(error?.field == "hlc")
        #expect(
            error?.rule
                == "must be from 0000000000000001 to 7fffffffffffffff, a positive signed 64-bit value in 16 lowercase hex digits (got \"\(text)\")")
        #expect(HLC.last.text == "7fffffffffffffff")
    }

    /// Zero is where every clock starts, so no edit is stamped with it: a push of one is refused. A change
    /// at zero that an earlier server stored is still read, so that every replica can pull and merge it.
    @Test func aChangeAtHLCZeroIsRefusedAtPushButStillRead() throws {
        let atZero = Fixture.change(1, at: 0, fields: ["pain": 3])
        let read = try SignedChange(wireValue: ChangeSigner.sign(atZero, with: Fixture.key).wireValue)
        #expect(read.change.hlc.packed == 0)
        let error = #expect(throws: ValidationError.self) { try read.change.validate() }
        #expect(error?.field == "hlc")
        #expect(error?.rule.hasPrefix("must be from 0000000000000001 to 7fffffffffffffff") == true)
        let atFirst = Change(
            id: Fixture.id(2), diary: Fixture.diary, record: Fixture.id(1000), type: .flare, hlc: HLC.first, author: Fixture.parent,
            fields: ["pain": 3], seen: ["pain": []])
        try atFirst.validate()
    }

    @Test func skewCheckRefusesOnlyTimestampsBeyondTheAllowance() {
        let now: Int64 = 1_732_500_000_000
        let fiveMinutes = Duration.seconds(300)
        #expect(!HybridLogicalClock.isTooFarAhead(HLC(millis: now + 300_000, counter: 9), wallMillis: now, maxSkew: fiveMinutes))
        #expect(HybridLogicalClock.isTooFarAhead(HLC(millis: now + 300_001, counter: 0), wallMillis: now, maxSkew: fiveMinutes))
        #expect(!HybridLogicalClock.isTooFarAhead(HLC(millis: now - 86_400_000, counter: 0), wallMillis: now, maxSkew: fiveMinutes))
    }

    @Test func version7IdsCarryTheirTimeAndSortByIt() {
        var generator = SystemRandomNumberGenerator()
        let early = UUID.version7(millis: 1_732_500_000_000, using: &generator)
        let late = UUID.version7(millis: 1_732_500_000_001, using: &generator)
        #expect(early.canonical < late.canonical)
        #expect(early.canonical.hasPrefix("0193610c-0d00-7"))
        #expect(["8", "9", "a", "b"].contains(early.canonical[early.canonical.index(early.canonical.startIndex, offsetBy: 19)]))
        #expect(UUID(canonical: early.canonical) == early)
        #expect(UUID(canonical: early.canonical.uppercased()) == nil)
    }
}
