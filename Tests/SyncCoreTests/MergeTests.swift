import Foundation
import SyncCore
import Testing

struct MergeTests {
    let record = Fixture.id(1000)
    let base = Fixture.change(1, at: 1_000, fields: Fixture.flareFields)

    func replica(_ changes: [Change]) throws -> ReplicaState {
        var state = ReplicaState()
        for change in changes { try state.apply(change) }
        return state
    }

    func seen(_ change: Change) -> [Stamp] { [change.stamp] }

    @Test func concurrentEditsOfDifferentFieldsBothSurvive() throws {
        let painByParent = Fixture.change(2, at: 2_000, fields: ["pain": 4], seen: ["pain": seen(base)])
        let notesByOther = Fixture.change(3, at: 2_000, by: Fixture.otherParent, fields: ["notes": "limping less"])
        for order in [[base, painByParent, notesByOther], [notesByOther, painByParent, base]] {
            let values = try replica(order).records[record]!.values
            #expect(values["pain"] == 4)
            #expect(values["notes"] == "limping less")
            #expect(values["sites"] == ["tibia-left"])
        }
        #expect(try replica([base, painByParent, notesByOther]).conflicts.isEmpty)
    }

    @Test func concurrentEditsOfOneFieldAreReportedIdenticallyOnEveryReplica() throws {
        let byParent = Fixture.change(2, at: 2_000, fields: ["pain": 4], seen: ["pain": seen(base)])
        let byOther = Fixture.change(3, at: 2_500, by: Fixture.otherParent, fields: ["pain": 8], seen: ["pain": seen(base)])
        let first = try replica([base, byParent, byOther])
        let second = try replica([byOther, base, byParent, byOther])
        #expect(first == second)
        #expect(first.records[record]!.values["pain"] == 8, "the later stamp wins")
        let conflicts = first.conflicts
        #expect(conflicts.count == 1)
        #expect(conflicts.first?.field == "pain")
        #expect(conflicts.first?.winner.value == 8)
        #expect(conflicts.first?.winner.stamp.device == Fixture.otherParent)
        #expect(conflicts.first?.overridden.value == 4)
        #expect(conflicts.first?.overridden.stamp.device == Fixture.parent)
        #expect(conflicts == second.conflicts)
    }

    @Test func sequentialEditsAreNotConflicts() throws {
        let byParent = Fixture.change(2, at: 2_000, fields: ["pain": 4], seen: ["pain": seen(base)])
        let byOtherAfterSeeing = Fixture.change(3, at: 3_000, by: Fixture.otherParent, fields: ["pain": 2], seen: ["pain": seen(byParent)])
        let state = try replica([base, byParent, byOtherAfterSeeing])
        #expect(state.records[record]!.values["pain"] == 2)
        #expect(state.conflicts.isEmpty)
        #expect(try replica([byOtherAfterSeeing, byParent, base]) == state, "late arrival of a value already seen is no conflict")
    }

    @Test func editingTheFieldAgainAfterSeeingTheConflictResolvesIt() throws {
        let byParent = Fixture.change(2, at: 2_000, fields: ["pain": 4], seen: ["pain": seen(base)])
        let byOther = Fixture.change(3, at: 2_500, by: Fixture.otherParent, fields: ["pain": 8], seen: ["pain": seen(base)])
        var state = try replica([base, byParent, byOther])
        let resolution = Fixture.change(
            4, at: 3_000, fields: ["pain": 6], seen: ["pain": state.stampsToSee(record: record, field: "pain")])
        try state.apply(resolution)
        #expect(state.conflicts.isEmpty)
        #expect(state.records[record]!.values["pain"] == 6)
    }

    @Test func anEditByADeviceThatNeverSawTheOverriddenValueKeepsTheConflictOpen() throws {
        let byParent = Fixture.change(2, at: 2_000, fields: ["pain": 4], seen: ["pain": seen(base)])
        let byOther = Fixture.change(3, at: 2_500, by: Fixture.otherParent, fields: ["pain": 8], seen: ["pain": seen(base)])
        // The grandparent had only received the other parent's edit.
        let byGrandparent = Fixture.change(4, at: 3_000, by: Fixture.grandparent, fields: ["pain": 7], seen: ["pain": seen(byOther)])
        let state = try replica([base, byParent, byOther, byGrandparent])
        #expect(state.conflicts.map(\.overridden.value) == [4])
        #expect(state.conflicts.map(\.winner.value) == [7])
    }

    @Test func doseAndUnitMergeAsOneValue() throws {
        let treatment = Fixture.id(2000)
        let create = Fixture.change(
            1, record: treatment, type: .treatment, at: 1_000,
            fields: ["kind": "nsaid", "name": "naproxen", "started": "2024-11-24", "dosage": ["dose": "250", "unit": "mg"]])
        let doseByParent = Fixture.change(
            2, record: treatment, type: .treatment, at: 2_000, fields: ["dosage": ["dose": "5", "unit": "ml"]],
            seen: ["dosage": seen(create)])
        let doseByOther = Fixture.change(
            3, record: treatment, type: .treatment, at: 1_500, by: Fixture.otherParent, fields: ["dosage": ["dose": "500", "unit": "mg"]],
            seen: ["dosage": seen(create)])
        let state = try replica([create, doseByOther, doseByParent])
        #expect(state.records[treatment]!.values["dosage"] == ["dose": "5", "unit": "ml"])
        #expect(state.conflicts.map(\.overridden.value) == [["dose": "500", "unit": "mg"]])
    }

    @Test func aChangeThatWouldChangeARecordsTypeIsRefusedAndChangesNothing() throws {
        var state = try replica([base])
        let before = state
        let asTreatment = Fixture.change(2, type: .treatment, at: 2_000, fields: ["name": "naproxen"])
        let error = #expect(throws: MergeError.self) { try state.apply(asTreatment) }
        #expect(error == .typeChanged(record: record, existing: .flare, attempted: .treatment))
        #expect(state == before)
    }

    @Test func deleteAndRestoreAreFieldsThatMergeLikeAnyOther() throws {
        let delete = Fixture.change(2, at: 2_000, fields: ["deleted": true])
        let concurrentEdit = Fixture.change(3, at: 2_100, by: Fixture.otherParent, fields: ["pain": 9], seen: ["pain": seen(base)])
        var state = try replica([base, concurrentEdit, delete])
        #expect(state.records[record]!.isDeleted)
        #expect(state.records[record]!.values["pain"] == 9, "the edit made while it was being deleted is kept")
        try state.apply(Fixture.change(4, at: 3_000, fields: ["deleted": false], seen: ["deleted": seen(delete)]))
        #expect(!state.records[record]!.isDeleted)
        #expect(state.conflicts.isEmpty)
    }

    /// `"deleted": null` is accepted (docs/PROTOCOL.md section 2): it clears the field, and a record whose
    /// `deleted` is cleared is as one whose `deleted` was never set, not deleted.
    @Test func deletedNullLeavesTheRecordNotDeletedAsIfNeverSet() throws {
        let clearedAtCreation = Fixture.change(2, record: Fixture.id(2000), at: 2_000, fields: Fixture.flareFields.merging(["deleted": .null]) { $1 })
        try clearedAtCreation.validate()
        #expect(try replica([clearedAtCreation]).records[Fixture.id(2000)]!.isDeleted == false)
        let delete = Fixture.change(3, at: 2_000, fields: ["deleted": true])
        let clear = Fixture.change(4, at: 3_000, by: Fixture.otherParent, fields: ["deleted": .null], seen: ["deleted": seen(delete)])
        try clear.validate()
        for order in [[base, delete, clear], [clear, base, delete]] {
            let state = try replica(order)
            #expect(!state.records[record]!.isDeleted, "cleared after it was deleted: restored")
            #expect(state.records[record]!.values["deleted"] == nil, "a cleared field has no value")
        }
    }

    @Test func applyingTheSameChangeAgainChangesNothing() throws {
        let edit = Fixture.change(2, at: 2_000, by: Fixture.otherParent, fields: ["pain": 1])
        let once = try replica([base, edit])
        #expect(try replica([base, edit, edit, base]) == once)
    }

    @Test func clearingAnOptionalFieldRemovesItsValue() throws {
        let withFever = Fixture.change(2, at: 2_000, fields: ["fever_c": "38.5"], seen: ["fever_c": []])
        let cleared = Fixture.change(3, at: 3_000, fields: ["fever_c": .null], seen: ["fever_c": seen(withFever)])
        let state = try replica([base, withFever, cleared])
        #expect(state.records[record]!.values["fever_c"] == nil)
        #expect(state.records[record]!.registers["fever_c"]?.winner.value == .null)
    }

    /// A record edited by two changes, with a conflict and seen stamps: everything the stored form keeps.
    private func conflictedRecord() throws -> RecordState {
        let byParent = Fixture.change(2, at: 2_000, fields: ["pain": 4, "notes": .null], seen: ["pain": seen(base)])
        let byOther = Fixture.change(3, at: 2_500, by: Fixture.otherParent, fields: ["pain": 8], seen: ["pain": seen(base)])
        let state = try replica([base, byParent, byOther]).records[record]!
        #expect(state.conflictCount == 1 && !state.superseded.isEmpty, "the record has a conflict and seen stamps to keep")
        return state
    }

    /// Replicas written before the stored form kept each value once still open and merge on.
    @Test func recordsStoredInTheFirstFormAreReadTheSame() throws {
        let state = try conflictedRecord()
        func entry(_ entry: FieldEntry) -> JSONValue {
            ["value": entry.value, "stamp": .string(entry.stamp.text), "change": .string(entry.change.canonical)]
        }
        // The first form, as version 1 of RecordState+Stored wrote it.
        var fields: [String: JSONValue] = [:]
        for name in Set(state.registers.keys).union(state.superseded.keys) {
            var member: [String: JSONValue] = [:]
            if let register = state.registers[name] {
                member["winner"] = entry(register.winner)
                member["heads"] = .array(register.heads.map(entry))
            }
            if let stamps = state.superseded[name] { member["superseded"] = .array(stamps.sorted().map { .string($0.text) }) }
            fields[name] = .object(member)
        }
        let first: JSONValue = ["id": .string(record.canonical), "type": "flare", "fields": .object(fields)]
        #expect(try RecordState(storedValue: JSONValue(parsing: first.canonicalBytes)) == state)
        #expect(try RecordState(storedValue: JSONValue(parsing: state.storedBytes)) == state)
        #expect(state.storedBytes.count < first.canonicalBytes.count)
        // Listing reads the current values of every form; the cleared notes are not among them.
        #expect(state.registers["notes"] != nil && state.values["notes"] == nil && state.values["pain"] != nil)
        #expect(try RecordState.currentValues(stored: first.canonicalBytes) == state.values)
        #expect(try RecordState.currentValues(stored: state.storedBytes) == state.values)
    }

    /// Replicas written before winners were listed by change (each field naming its change) still open.
    @Test func recordsStoredInTheSecondFormAreReadTheSame() throws {
        let state = try conflictedRecord()
        var second = try #require(try JSONValue(parsing: state.storedBytes).objectValue)
        #expect(second["winners"]?.objectValue?.count == 3, "winners are listed under the three changes")
        second["winners"] = .object(state.registers.mapValues { .string($0.winner.change.canonical) })
        let bytes = JSONValue.object(second).canonicalBytes
        #expect(try RecordState(storedValue: JSONValue(parsing: bytes)) == state)
        #expect(try RecordState.currentValues(stored: bytes) == state.values)
        #expect(state.storedBytes.count < bytes.count)
    }
}
