import CareSyncServer
import Foundation
import SyncCore
import Testing

struct PushPullTests {
    @Test func pushedChangesArePulledByAnotherDeviceExactlyOnceAcrossPages() async throws {
        try await withServer { harness, client in
            var (owner, caregiver, clinician) = try await client.family(harness)
            let changes = (0..<25).map { _ in owner.change() }
            let pushed = try await client.push(changes, by: owner)
            #expect(pushed.status == .ok)
            #expect(pushed["stored"] == 25)
            var cursor: Int64 = 0
            var received: [String] = []
            var pages = 0
            while true {
                let page = try await client.pull(by: clinician, after: cursor, limit: 10)
                #expect(page.status == .ok)
                received += page["changes"]!.arrayValue!.map { $0.objectValue!["change"]!.stringValue! }
                cursor = page["next"]!.intValue!
                pages += 1
                if page["more"] == .bool(false) { break }
                #expect(page["remaining"]!.intValue! == Int64(25 - received.count))
            }
            #expect(pages == 3)
            #expect(received == changes.map(\.change.id.canonical))
            // Pulled changes arrive exactly as signed: the server verified them at push, and a holder of
            // the author's key (the author itself, or the server) can check them again.
            let first = try await client.pull(by: caregiver, limit: 1)["changes"]!.arrayValue![0]
            #expect(ChangeSigner.isValid(try SignedChange(wireValue: first), key: owner.key))
            #expect(try await client.pull(by: caregiver, after: cursor)["changes"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func pullCarriesTheEpochAndTheLatestCursor() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            _ = try await client.push([owner.change(), owner.change()], by: owner)
            let page = try await client.pull(by: owner, after: 1_000)
            #expect(page["epoch"]?.stringValue == (harness.store.epoch))
            #expect(page["changes"]?.arrayValue?.isEmpty == true)
            #expect(page["latest"] == 2, "a device whose cursor is ahead of latest is talking to a restored server")
            // The largest cursor a query can name pages nowhere, without the page's end overflowing.
            let farthest = try await client.pull(by: owner, after: .max)
            #expect(farthest["changes"]?.arrayValue?.isEmpty == true)
            #expect(farthest["latest"] == 2)
        }
    }

    /// A diary's changes are paged by their ordinal in the diary, which a device's cursor (a sequence
    /// number of the whole log) is mapped to. A cursor that is no change of this diary, one of another
    /// diary's between this one's, still gives exactly the changes stored after it.
    @Test func aCursorBetweenADiarysChangesGivesExactlyTheChangesAfterIt() async throws {
        try await withServer { harness, client in
            var (mia, _, _) = try await client.family(harness)
            var (leo, _, _) = try await client.family(harness)
            var seqs: [(diary: String, seq: Int64, id: String)] = []
            for device in [0, 1, 0, 1, 0] {
                let change = device == 0 ? mia.change() : leo.change()
                let pushed = try await client.push([change], by: device == 0 ? mia : leo)
                // `previous` is the diary's last change before the push, not the log's.
                let diary = device == 0 ? "mia" : "leo"
                #expect(pushed["previous"]?.intValue == seqs.last { $0.diary == diary }?.seq ?? 0)
                seqs.append((diary, pushed["latest"]!.intValue!, change.change.id.canonical))
            }
            let mias = seqs.filter { $0.diary == "mia" }
            for cursor in [0] + seqs.map(\.seq) + [seqs.last!.seq + 10] {
                let after = mias.filter { $0.seq > cursor }
                let page = try await client.pull(by: mia, after: cursor, limit: 1)
                let ids = page["changes"]!.arrayValue!.map { $0.objectValue!["change"]!.stringValue! }
                #expect(ids == after.prefix(1).map(\.id), "after \(cursor)")
                #expect(page["next"]!.intValue! == after.first?.seq ?? cursor, "after \(cursor)")
                #expect(page["remaining"]!.intValue! == Int64(max(after.count - 1, 0)), "after \(cursor)")
                #expect(page["latest"]!.intValue! == mias.last!.seq)
            }
        }
    }

    @Test func samePushTwiceIsStoredOnce() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let change = owner.change()
            #expect(try await client.push([change], by: owner)["stored"] == 1)
            let again = try await client.push([change], by: owner)
            #expect(again.status == .ok)
            #expect(again["stored"] == 0)
            #expect(again["duplicates"] == 1)
            #expect(again["previous"] == again["latest"], "a push that stores nothing moves nobody's cursor")
            #expect(try await client.pull(by: owner)["changes"]?.arrayValue?.count == 1)
        }
    }

    @Test func reusedChangeIdWithOtherContentIsAConflict() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let original = owner.change()
            _ = try await client.push([original], by: owner)
            let reuse = Change(
                id: original.change.id, diary: owner.diary, record: original.change.record, type: .flare,
                hlc: owner.clock.tick(wallMillis: HybridLogicalClock.wallMillisNow()), author: owner.id, fields: ["pain": 2], seen: ["pain": []])
            let response = try await client.push([ChangeSigner.sign(reuse, with: owner.key)], by: owner)
            #expect(response.status == .conflict)
            #expect(response.errorCode == "change_id_reused")
        }
    }

    @Test func clinicianCannotPush() async throws {
        try await withServer { harness, client in
            var (_, _, clinician) = try await client.family(harness)
            let response = try await client.push([clinician.change()], by: clinician)
            #expect(response.status == .forbidden)
            #expect(response.errorCode == "read_only")
            #expect(try await client.pull(by: clinician)["changes"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func changeAuthoredByAnotherDeviceIsRefused() async throws {
        try await withServer { harness, client in
            var (owner, caregiver, _) = try await client.family(harness)
            let response = try await client.push([owner.change()], by: caregiver)
            #expect(response.status == .forbidden)
            #expect(response.errorCode == "author_mismatch")
        }
    }

    @Test func changeStampedTooFarInTheFutureIsRefusedAsAWrongClock() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let future = owner.change(millis: HybridLogicalClock.wallMillisNow() + 10 * 60_000)
            let response = try await client.push([future], by: owner)
            #expect(response.status == .unprocessableContent)
            #expect(response.errorCode == "clock_ahead")
            #expect(response.errorMessage.contains("clock is wrong"))
            let nearFuture = owner.change(millis: HybridLogicalClock.wallMillisNow() + 60_000)
            #expect(try await client.push([nearFuture], by: owner).status == .ok, "within the allowed skew")
        }
    }

    @Test func invalidFieldIsRefusedNamingChangeFieldAndRuleAndTheBatchIsNotStored() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let good = owner.change()
            let bad = owner.change(fields: ["started": "2024-11-24", "sites": ["tibia-left"], "pain": 11])
            let response = try await client.push([good, bad], by: owner)
            #expect(response.status == .unprocessableContent)
            #expect(response.errorCode == "invalid_field")
            #expect(response.errorMessage.contains("change #1"))
            #expect(response.errorMessage.contains("pain must be a whole number from 0 to 10 (got 11)"))
            #expect(try await client.pull(by: owner)["changes"]?.arrayValue?.isEmpty == true, "a batch commits whole or not at all")
        }
    }

    @Test func changeWithABadSignatureIsRefused() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let forged = ChangeSigner.sign(owner.change().change, with: DeviceKey.generate())
            let response = try await client.push([forged], by: owner)
            #expect(response.status == .unprocessableContent)
            #expect(response.errorCode == "invalid_change_signature")
        }
    }

    @Test func changingARecordsTypeIsRefused() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let flare = owner.change()
            _ = try await client.push([flare], by: owner)
            let asTreatment = owner.change(
                record: flare.change.record, type: .treatment, fields: ["kind": "nsaid", "name": "naproxen", "started": "2024-11-24"])
            let response = try await client.push([asTreatment], by: owner)
            #expect(response.status == .conflict)
            #expect(response.errorCode == "type_changed")
        }
    }

    /// A batch whose first refusal is a stored record's type, and whose later one is a type changed within
    /// the batch, is refused at the first, and stores nothing: new records before it included.
    @Test func theFirstTypeChangeOfABatchIsTheOneRefused() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let flare = owner.change()
            _ = try await client.push([flare], by: owner)
            let fresh = owner.change()
            let storedAsTreatment = owner.change(
                record: flare.change.record, type: .treatment, fields: ["kind": "nsaid", "name": "naproxen", "started": "2024-11-24"])
            let freshAsTreatment = owner.change(
                record: fresh.change.record, type: .treatment, fields: ["kind": "nsaid", "name": "naproxen", "started": "2024-11-24"])
            let response = try await client.push([fresh, storedAsTreatment, freshAsTreatment], by: owner)
            #expect(response.status == .conflict)
            #expect(response.errorCode == "type_changed")
            #expect(response["error"]?.objectValue?["index"]?.intValue == 1, "\(response.errorMessage)")
            #expect(try await client.pull(by: owner)["changes"]?.arrayValue?.count == 1)
        }
    }

    @Test func changeNamingAnotherDiaryIsRefused() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let elsewhere = UUID.version7()
            let own = owner.change().change
            let misplaced = Change(
                id: own.id, diary: elsewhere, record: own.record, type: own.type, hlc: own.hlc, author: own.author, fields: own.fields,
                seen: own.seen)
            let response = try await client.push([ChangeSigner.sign(misplaced, with: owner.key)], by: owner)
            #expect(response.status == .unprocessableContent)
            #expect(response.errorCode == "wrong_diary")
            #expect(response.errorMessage.contains(elsewhere.canonical))
            #expect(try await client.pull(by: owner)["changes"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func reusedStampIsAConflictAndTheWholeBatchIsUndone() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let first = owner.change()
            _ = try await client.push([first], by: owner)
            let fresh = owner.change()
            let sameStamp = Change(
                id: UUID.version7(), diary: owner.diary, record: UUID.version7(), type: .flare, hlc: first.change.hlc, author: owner.id,
                fields: ["started": "2024-11-25", "sites": ["femur-right"]], seen: ["started": [], "sites": []])
            let response = try await client.push([fresh, ChangeSigner.sign(sameStamp, with: owner.key)], by: owner)
            #expect(response.status == .conflict)
            #expect(response.errorCode == "stamp_reused")
            #expect(response.errorMessage.contains(first.change.id.canonical))
            let stored = try await client.pull(by: owner)["changes"]?.arrayValue ?? []
            #expect(stored.compactMap { $0.objectValue?["change"]?.stringValue } == [first.change.id.canonical])
        }
    }

    @Test func oversizedBodyIsRefused() async throws {
        var setup = try await ServerHarness()
        setup.configuration.maxBodyBytes = 2_000
        let harness = setup
        defer { harness.remove() }
        try await harness.app().test(.router) { client in
            var (owner, _, _) = try await client.family(harness)
            let notes = JSONValue.string(String(repeating: "x", count: 3_000))
            let response = try await client.push(
                [owner.change(fields: ["started": "2024-11-24", "sites": ["rib-left"], "pain": 1, "notes": notes])], by: owner)
            #expect(response.status == .contentTooLarge)
            #expect(response.errorCode == "body_too_large")
        }
    }

    @Test func tooManyChangesInOnePushAreRefused() async throws {
        var setup = try await ServerHarness()
        setup.configuration.maxChangesPerPush = 3
        let harness = setup
        defer { harness.remove() }
        try await harness.app().test(.router) { client in
            var (owner, _, _) = try await client.family(harness)
            let response = try await client.push((0..<4).map { _ in owner.change() }, by: owner)
            #expect(response.status == .contentTooLarge)
            #expect(response.errorCode == "too_many_changes")
        }
    }

    @Test(arguments: ["{not json", #"{"changes": 5}"#, #"{"changes": [], "extra": 1}"#, #"{"changes": [{"v": 1}]}"#, "[]"])
    func malformedPushIsRefusedWithAReason(body: String) async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let response = try await client.signed(.post, "/v1/diaries/\(owner.diary.canonical)/changes", by: owner, body: Array(body.utf8))
            #expect([400, 422].contains(response.status.code))
            #expect(!response.errorMessage.isEmpty)
        }
    }

    @Test(arguments: ["after=-1", "after=x", "limit=0", "limit=100000"])
    func badPullParametersAreRefused(query: String) async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let response = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes?\(query)", by: owner)
            #expect(response.status == .badRequest)
        }
    }
}
