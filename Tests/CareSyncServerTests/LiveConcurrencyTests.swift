import CareSyncServer
import Foundation
import Hummingbird
import HummingbirdTesting
import SyncCore
import Testing

/// Over real sockets on 127.0.0.1: pushes from many devices at once and a pull paging through them meanwhile.
struct LiveConcurrencyTests {
    @Test func twentyConcurrentPushersAndAPagingPullerSeeEveryChangeExactlyOnce() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        try await harness.app().test(.ahc(.http)) { client in
            let (owner, _, clinician) = try await client.family(harness)
            var pushers: [TestDevice] = []
            for index in 0..<20 {
                let code = try await client.invite("caregiver", by: owner)["code"]!.stringValue!
                pushers.append(try await client.enroll(code: code, name: "device \(index)"))
            }
            let batches = 10
            let perBatch = 5
            let expected = pushers.count * batches * perBatch
            let received = try await withThrowingTaskGroup(of: [String].self) { group in
                for pusher in pushers {
                    group.addTask {
                        var device = pusher
                        var ids: [String] = []
                        for _ in 0..<batches {
                            let batch = (0..<perBatch).map { _ in device.change() }
                            let response = try await client.push(batch, by: device)
                            #expect(response.status == .ok, "\(response.json.canonicalString)")
                            ids += batch.map(\.change.id.canonical)
                        }
                        return ids
                    }
                }
                var pushed: [String] = []
                for try await ids in group { pushed += ids }
                return pushed
            }
            // The puller ran alongside: page with a small limit until it has caught up.
            var cursor: Int64 = 0
            var pulled: [String] = []
            for _ in 0..<(expected / 7 + 10) {
                let page = try await client.pull(by: clinician, after: cursor, limit: 7)
                pulled += page["changes"]!.arrayValue!.map { $0.objectValue!["change"]!.stringValue! }
                cursor = page["next"]!.intValue!
                if page["more"] == .bool(false) { break }
            }
            #expect(pulled.count == expected)
            #expect(Set(pulled).count == expected, "no change repeated")
            #expect(Set(pulled) == Set(received), "no change skipped")
        }
    }

    /// Pushes that arrive together are committed together; a batch refused while it is stored must roll
    /// back only itself, whole, and leave the others stored.
    @Test func aBatchRefusedInAGroupCommitRollsBackAloneAndWhole() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        try await harness.app().test(.ahc(.http)) { client in
            let (owner, _, clinician) = try await client.family(harness)
            var pushers: [(device: TestDevice, earlier: SignedChange)] = []
            for index in 0..<20 {
                let code = try await client.invite("caregiver", by: owner)["code"]!.stringValue!
                var device = try await client.enroll(code: code, name: "device \(index)")
                let earlier = device.change()
                #expect(try await client.push([earlier], by: device)["stored"] == 1)
                pushers.append((device, earlier))
            }
            let outcomes = try await withThrowingTaskGroup(of: (refused: Bool, ids: [String], response: TestResponse).self) { group in
                for (index, pusher) in pushers.enumerated() {
                    group.addTask {
                        var device = pusher.device
                        var batch = (0..<4).map { _ in device.change() }
                        let refused = index % 2 == 1
                        if refused {
                            // The earlier change's id with other content: refused only when it is stored.
                            let reuse = Change(
                                id: pusher.earlier.change.id, diary: device.diary, record: pusher.earlier.change.record, type: .flare,
                                hlc: device.clock.tick(wallMillis: HybridLogicalClock.wallMillisNow()), author: device.id, fields: ["pain": 2],
                                seen: ["pain": []])
                            batch.append(ChangeSigner.sign(reuse, with: device.key))
                        } else {
                            batch.append(device.change())
                        }
                        return (refused, batch.map(\.change.id.canonical), try await client.push(batch, by: device))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            var expected = Set(pushers.map(\.earlier.change.id.canonical))
            for outcome in outcomes {
                if outcome.refused {
                    #expect(outcome.response.status == .conflict)
                    #expect(outcome.response.errorCode == "change_id_reused")
                } else {
                    #expect(outcome.response.status == .ok)
                    #expect(outcome.response["stored"] == 5)
                    expected.formUnion(outcome.ids)
                }
            }
            let page = try await client.pull(by: clinician, limit: 1_000)
            let pulled = page["changes"]!.arrayValue!.map { $0.objectValue!["change"]!.stringValue! }
            #expect(pulled.count == 20 + 10 * 5, "the 20 earlier changes and the 10 accepted batches, nothing of a refused one")
            #expect(Set(pulled) == expected)
            #expect(try await harness.store.audit().faults.isEmpty)
        }
    }

    @Test func pagesPulledWhilePushesCommitNeverSkipOrRepeat() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        try await harness.app().test(.ahc(.http)) { client in
            let (_, caregiver, clinician) = try await client.family(harness)
            let rounds = 30
            async let pushing: Void = {
                var writer = caregiver
                for _ in 0..<rounds { _ = try await client.push([writer.change(), writer.change()], by: writer) }
            }()
            var cursor: Int64 = 0
            var pulled: [String] = []
            // Bounded: a broken server fails the test instead of hanging it.
            for _ in 0..<2_000 where pulled.count < rounds * 2 {
                let page = try await client.pull(by: clinician, after: cursor, limit: 3)
                pulled += page["changes"]!.arrayValue!.map { $0.objectValue!["change"]!.stringValue! }
                cursor = page["next"]!.intValue!
                if page["more"] == .bool(false) { try await Task.sleep(for: .milliseconds(5)) }
            }
            try await pushing
            #expect(Set(pulled).count == pulled.count)
            #expect(pulled.count == rounds * 2)
        }
    }
}
