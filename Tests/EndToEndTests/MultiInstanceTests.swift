import AsyncHTTPClient
import CareSyncClient
import CareSyncServer
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SyncCore
import Testing

/// Three `caresync-server serve` processes over one PostgreSQL database behave as one server: six
/// devices, two bound to each instance, edit, push and pull at once for twenty rounds, and one instance
/// is killed in the middle of pushes. Needs a PostgreSQL server in `CARESYNC_TEST_POSTGRES`
/// (`postgres://USER@127.0.0.1:PORT`; Tests/run.sh starts one); under CI its absence is a failure.
@Suite(.serialized) struct MultiInstanceTests {
    static let postgres = ProcessInfo.processInfo.environment["CARESYNC_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let rounds = 20
    /// The round at whose pushes the third instance is killed.
    static let crashRound = 10

    @Test(.enabled(if: isCI || postgres != nil, "needs CARESYNC_TEST_POSTGRES=postgres://USER@127.0.0.1:PORT (Tests/run.sh starts one)"))
    func threeInstancesOverOneDatabaseBehaveAsOneServer() async throws {
        let server = try #require(Self.postgres, "CARESYNC_TEST_POSTGRES must name a PostgreSQL server: Tests/run.sh starts one")
        let database = try await PostgresStore.createDatabase(server: server, prefix: "caresync_multi")
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var quiet = Logger(label: "caresync-tests")
        quiet.logLevel = .warning
        let setup = try await openStore(database, logger: quiet)
        let ownerCode = try await setup.createDiary(name: "Mia").code
        try await setup.close()

        // Three instances started at once: they migrate the empty database once between them.
        let instances = try await withThrowingTaskGroup(of: (Int, ServerProcess).self) { group in
            for index in 0..<3 {
                let port = try LoopbackPort.free()
                group.addTask { (index, try await ServerProcess(database: database, port: port, log: folder.path("server-\(index).log"))) }
            }
            var started: [Int: ServerProcess] = [:]
            for try await (index, process) in group { started[index] = process }
            return (0..<3).map { started[$0]! }
        }
        defer { for instance in instances { instance.process.terminate() } }

        // Six devices, two on each instance; the owner invites the others through its own.
        let owner = try await DiaryDevice.join(
            server: instances[0].url, code: ownerCode, deviceName: "device 0", home: ClientHome(path: folder.path("home-0")))
        var devices = [owner]
        for index in 1..<6 {
            let invitation = try await owner.invite(role: .caregiver)
            devices.append(
                try await DiaryDevice.join(
                    server: instances[index % 3].url, code: invitation.code, deviceName: "device \(index)",
                    home: ClientHome(path: folder.path("home-\(index)"))))
        }

        // A nonce used on one instance is refused on another, and a device revoked through one is
        // refused at once by the others.
        let http = HTTPClient.shared
        let raw = try await RawDevice.enroll(code: try await owner.invite(role: .caregiver).code, at: instances[0].url, http: http)
        let replay = raw.signedRequest(.GET, "/v1/diaries/\(raw.diary)")
        #expect(try await raw.send(replay, to: instances[1].url, http: http).status == 200)
        let replayed = try await raw.send(replay, to: instances[2].url, http: http)
        #expect(replayed.status == 401 && replayed.code == "replayed_nonce", "\(replayed)")
        _ = try await owner.revoke(raw.device)
        for instance in instances[1...] {
            let refused = try await raw.send(raw.signedRequest(.GET, "/v1/diaries/\(raw.diary)"), to: instance.url, http: http)
            #expect(refused.status == 401 && refused.code == "device_revoked", "\(refused)")
        }

        var pulledBefore: [[UUID]] = Array(repeating: [], count: 6)
        // Three records every device edits, so that concurrent edits meet and conflict.
        let shared = try (0..<3).map { index in
            try owner.add(.flare, fields: ["started": .string("2026-0\(index + 1)-01"), "sites": ["tibia-left"], "pain": .int(Int64(index))])
        }
        try await owner.push()
        for index in 1..<6 { pulledBefore[index] = try await devices[index].pull().pulledChangeIDs }

        var pulled = pulledBefore
        var crashed = false
        for round in 0..<Self.rounds {
            let crash = round == Self.crashRound
            let current = devices
            let results = await withTaskGroup(of: (Int, Result<[UUID], any Error>).self) { group in
                for (index, device) in current.enumerated() {
                    group.addTask {
                        do {
                            try device.update(shared[(round + index) % 3], fields: ["pain": .int(Int64((round * 7 + index) % 11))])
                            try device.add(
                                .flare,
                                fields: [
                                    "started": "2026-06-01", "sites": ["femur-right"], "pain": .int(Int64(index)), "notes": .string("round \(round)"),
                                ])
                            // The killed instance's devices only push in that round: a pull cut short would
                            // take with it the count of what its pages brought.
                            guard !(crash && index % 3 == 2) else {
                                try await device.push()
                                return (index, .success([]))
                            }
                            return (index, .success(try await device.sync().pull.pulledChangeIDs))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                if crash {
                    // Killed once it has answered one push of this round: its other device's push is then
                    // in flight or just acknowledged.
                    let pushesBefore = Self.pushesAnswered(instances[2])
                    group.addTask {
                        let deadline = ContinuousClock.now + .seconds(5)
                        while Self.pushesAnswered(instances[2]) == pushesBefore && ContinuousClock.now < deadline {
                            try? await Task.sleep(for: .milliseconds(1))
                        }
                        await instances[2].crash()
                        return (-1, .success([]))
                    }
                }
                var results: [(Int, Result<[UUID], any Error>)] = []
                for await result in group where result.0 >= 0 { results.append(result) }
                return results
            }
            if crash { crashed = true }
            for (index, result) in results {
                switch result {
                case .success(let ids): pulled[index] += ids
                case .failure(let error):
                    // Only the devices of the killed instance may fail, and only from the round it died.
                    #expect(crashed && index % 3 == 2, "device \(index), round \(round): \(error)")
                }
            }
            if crash {
                // The devices of the killed instance carry on through the first, pushing again what was not
                // acknowledged.
                for index in [2, 5] {
                    devices[index] = try devices[index].through(server: instances[0].url)
                    pulled[index] += try await devices[index].sync().pull.pulledChangeIDs
                }
            }
        }
        // Two quiet rounds: everyone has everything.
        for _ in 0..<2 {
            for (index, device) in devices.enumerated() { pulled[index] += try await device.sync().pull.pulledChangeIDs }
        }

        // Nothing acknowledged is lost, and every replica holds the same changes, records and conflicts.
        let histories = try devices.map { try $0.history() }
        let everyChange = Set(histories[0].map(\.change))
        #expect(everyChange.count == 3 + 6 * 2 * Self.rounds, "every edit of every round is in the log")
        for (index, device) in devices.enumerated() {
            #expect(try device.status().pending == 0, "device \(index) has nothing left to push")
            #expect(Set(histories[index].map(\.change)) == everyChange, "device \(index) holds every change")
            #expect(try device.records() == owner.records(), "device \(index) shows the same records")
            #expect(try Self.conflicts(device) == Self.conflicts(owner), "device \(index) shows the same conflicts")
        }
        #expect(try !Self.conflicts(owner).isEmpty, "concurrent edits of the shared records left conflicts")

        // Every device's pulls brought every other device's change exactly once.
        for (index, device) in devices.enumerated() {
            let others = histories[index].filter { $0.author.id != device.identity.device }.map(\.change)
            var counts: [UUID: Int] = [:]
            for id in pulled[index] { counts[id, default: 0] += 1 }
            let wrong = others.filter { counts[$0] != 1 }
            #expect(wrong.isEmpty, "device \(index): \(wrong.count) of \(others.count) other devices' changes were not pulled exactly once")
        }

        // The database agrees with itself: every signature verifies and every record matches the log.
        let check = try await openStore(database, logger: quiet)
        let audit = try await check.audit()
        try await check.close()
        #expect(audit.faults.isEmpty, "\(audit.faults)")
        #expect(audit.changesChecked == everyChange.count)
        for instance in instances[0..<2] { #expect(await instance.stop() == 0, "\(instance.logText)") }
    }

    /// Pushes the instance has logged an answer to.
    static func pushesAnswered(_ instance: ServerProcess) -> Int {
        instance.logText.split(separator: "\n").filter { $0.contains("POST") && $0.contains("/changes") }.count
    }

    static func conflicts(_ device: DiaryDevice) throws -> [String] {
        try device.conflicts().map { conflict in
            "\(conflict.record) \(conflict.field) \(conflict.kept.value.canonicalString)@\(conflict.kept.hlc) over "
                + "\(conflict.overridden.value.canonicalString)@\(conflict.overridden.hlc)"
        }.sorted()
    }
}

/// A device that speaks the protocol by hand, to send the same signed request to two instances.
struct RawDevice {
    let device: String
    let diary: String
    let key: DeviceKey

    struct Request {
        let method: HTTPMethod
        let path: String
        let headers: [(String, String)]
    }

    static func enroll(code: String, at server: String, http: HTTPClient) async throws -> RawDevice {
        var request = HTTPClientRequest(url: server + "/v1/enroll")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: JSONValue.object(["code": .string(code), "device_name": "by hand"]).canonicalBytes))
        let response = try await http.execute(request, timeout: .seconds(10))
        let answer = try JSONValue(parsing: Array(try await response.body.collect(upTo: 1 << 20).readableBytesView))
        guard let device = answer.objectValue?["device"]?.stringValue, let diary = answer.objectValue?["diary"]?.stringValue,
            let key = answer.objectValue?["key"]?.stringValue.flatMap(DeviceKey.init(hex:))
        else { throw HarnessError(description: "enrollment failed: \(answer.canonicalString)") }
        return RawDevice(device: device, diary: diary, key: key)
    }

    func signedRequest(_ method: HTTPMethod, _ path: String) -> Request {
        let signature = RequestSignature.sign(
            method: method.rawValue, path: path, query: "", body: [], key: key, keyID: UUID(canonical: device)!,
            created: Int64(Date().timeIntervalSince1970), nonce: RequestSignature.makeNonce())
        return Request(
            method: method, path: path,
            headers: [
                ("Content-Digest", signature.contentDigest), ("Signature-Input", signature.signatureInput), ("Signature", signature.signature),
            ])
    }

    func send(_ request: Request, to server: String, http: HTTPClient) async throws -> (status: Int, code: String?) {
        var sent = HTTPClientRequest(url: server + request.path)
        sent.method = request.method
        for (name, value) in request.headers { sent.headers.add(name: name, value: value) }
        let response = try await http.execute(sent, timeout: .seconds(10))
        let bytes = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        let code = (try? JSONValue(parsing: bytes))?.objectValue?["error"]?.objectValue?["code"]?.stringValue
        return (Int(response.status.code), code)
    }
}
