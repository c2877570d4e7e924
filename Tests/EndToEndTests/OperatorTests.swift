import Foundation
import GRDB
import SyncCore
import Testing

@testable import CareSyncClient

/// What the operator of a real `caresync-server` relies on: replays refused across a restart, a JSON
/// refusal for every request it will not serve, connections that cannot be held open by a stalled
/// client, and the health check, metrics and request log.
@Suite struct OperatorTests {
    /// A signed request whose exact bytes are sent again after the server restarted.
    @Test func aSignedRequestReplayedAfterARestartIsRefused() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let device = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            let path = "/v1/diaries/\(device.identity.diary.canonical)/invites"
            let body = Array(#"{"role":"caregiver"}"#.utf8)
            let signature = RequestSignature.sign(
                method: "POST", path: path, query: "", body: body, key: device.key, keyID: device.identity.device,
                created: Int64(Date().timeIntervalSince1970))
            let request =
                Array(
                    ("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
                        + "Content-Digest: \(signature.contentDigest)\r\nSignature-Input: \(signature.signatureInput)\r\n"
                        + "Signature: \(signature.signature)\r\nConnection: close\r\n\r\n").utf8) + body
            let first = try exchange(request, port: family.server.port)
            #expect(first.status == 201, "\(first)")
            let invites = try inviteCount(family.database)
            #expect(await family.server.stop() == 0)
            try await family.restartServer()
            let replay = try exchange(request, port: family.server.port)
            #expect(replay.status == 401, "\(replay)")
            #expect(replay.code == "replayed_nonce", "\(replay)")
            #expect(try inviteCount(family.database) == invites, "the replay made no second invite")
        }
    }

    /// Every request the server will not serve gets a JSON body that names the problem.
    @Test func everyRefusalCarriesAJSONErrorThatNamesIt() async throws {
        try await withFamily({ try await Family.start() }) { family in
            let port = family.server.port
            let changes = "/v1/diaries/0193a5b0-0000-7000-8000-00000000000d/changes"
            for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
                let answer = try exchange(Array("\(method) \(changes) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
                #expect(answer.status == 405 && answer.code == "method_not_allowed", "\(method): \(answer)")
                #expect(answer.header("Allow") == "GET, POST", "\(method): \(answer)")
            }
            let enroll = try exchange(Array("GET /v1/enroll HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
            #expect(enroll.status == 405 && enroll.header("Allow") == "POST" && enroll.code == "method_not_allowed", "\(enroll)")
            for target in ["/", "/v2", "/v1/diaries", "/v1/enroll/x"] {
                let answer = try exchange(Array("GET \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
                #expect(answer.status == 404 && answer.code == "not_found", "\(target): \(answer)")
                #expect(answer.message.contains(target), "\(target): \(answer)")
            }
            for line in ["FOO / HTTP/1.1", "get /health HTTP/1.1"] {
                let answer = try exchange(Array("\(line)\r\nHost: x\r\n\r\n".utf8), port: port)
                #expect(answer.status == 400 && answer.code == "bad_request", "\(line): \(answer)")
            }
            let large = Array(repeating: UInt8(ascii: " "), count: 17 * 1024)
            let enrollment = try exchange(
                Array(
                    "POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(large.count)\r\nConnection: close\r\n\r\n"
                        .utf8) + large,
                port: port)
            #expect(enrollment.status == 413 && enrollment.code == "body_too_large", "\(enrollment)")
        }
    }

    /// A client that stops half way through a request's head or body is answered 408 and let go; one
    /// that opens a connection and sends nothing is let go quietly.
    @Test func aStalledRequestIsAnswered408AndClosed() async throws {
        let arguments = ["--request-head-timeout", "1", "--request-body-timeout", "1"]
        try await withFamily({ try await Family.start(serverArguments: arguments) }) { family in
            let port = family.server.port
            let head = try exchange(Array("GET /health HTTP/1.1\r\nHost: x\r\n".utf8), port: port)
            #expect(head.status == 408 && head.code == "request_timeout", "\(head)")
            let body = try exchange(
                Array("POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\":".utf8),
                port: port)
            #expect(body.status == 408 && body.code == "request_timeout", "\(body)")
            #expect(body.message.contains("body"), "\(body)")
            let idle = try exchange([], port: port)
            #expect(idle.raw.isEmpty && idle.closed, "\(idle)")
            // A connection that keeps its request coming is served.
            let healthy = try exchange(Array("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
            #expect(healthy.status == 200, "\(healthy)")
        }
    }

    /// Past `--max-connections`, a connection waits for one to close instead of being served at once.
    @Test func connectionsPastTheLimitWaitForOneToClose() async throws {
        try await withFamily({ try await Family.start(serverArguments: ["--max-connections", "1"]) }) { family in
            let port = family.server.port
            let holder = try RawConnection(port: port)
            try holder.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let first = holder.receive(timeout: .seconds(2))
            #expect(String(decoding: first.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            let waiting = try RawConnection(port: port)
            defer { waiting.close() }
            try waiting.send(Array("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            let meanwhile = waiting.receive(timeout: .seconds(1))
            #expect(meanwhile.bytes.isEmpty, "served while the one connection allowed was open")
            holder.close()
            let later = waiting.receive(timeout: .seconds(10))
            #expect(String(decoding: later.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        }
    }

    /// `/health`, `/metrics` behind its token, and one JSON log line per request that names the route,
    /// status, device and diary but no secret and no medical record.
    @Test func healthMetricsAndTheRequestLog() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let tokenFile = folder.path("metrics-token")
        let token = "s3cret-metrics-token-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        let arguments = ["--log-format", "json", "--metrics-token-file", tokenFile]
        try await withFamily({ try await Family.parents(serverArguments: arguments) }) { family in
            let port = family.server.port
            let health = try exchange(Array("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
            #expect(health.status == 200, "\(health)")
            #expect(health.json?["status"] as? String == "ok" && health.json?["database"] as? String == "writable")
            #expect(health.json?["schema_version"] as? Int == 9, "the schema this version migrates to: \(health)")

            try await family.ok(
                "mum", "flare", "add", "--started", "2026-11-20", "--site", "tibia-left", "--pain", "6", "--notes", "limping since Tuesday")
            try await family.ok("mum", "sync")
            try await family.ok("dad", "pull")

            let refused = try exchange(Array("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
            #expect(refused.status == 401 && refused.code == "bad_metrics_token", "\(refused)")
            let metrics = try exchange(
                Array("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n".utf8), port: port)
            #expect(metrics.status == 200, "\(metrics)")
            let text = metrics.body
            for expected in [
                #"caresync_http_requests_total{method="POST",route="/v1/diaries/{diary}/changes",status="200"} 1"#,
                #"caresync_push_changes_total{outcome="stored"} 1"#,
                #"caresync_pull_changes_total"#,
                #"caresync_refusals_total{code="bad_metrics_token"} 1"#,
                #"caresync_push_seconds_bucket"#, #"caresync_pull_seconds_bucket"#,
                #"caresync_db_commit_seconds_count"#, #"caresync_open_connections"#, #"caresync_db_wal_bytes"#,
            ] {
                #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
            }

            let lines = family.server.logText.split(separator: "\n")
            let parsed = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(parsed.count == lines.count, "every log line is one JSON object:\n\(family.server.logText)")
            let requests = parsed.filter { $0["message"] as? String == "request" }
            let push = requests.first { $0["method"] as? String == "POST" && $0["route"] as? String == "/v1/diaries/{diary}/changes" }
            #expect(push?["status"] as? String == "200" && push?["device"] as? String == device(family, "mum").device.canonical)
            #expect(push?["diary"] as? String == device(family, "mum").diary.canonical && push?["duration_ms"] != nil)
            let secrets = [
                token, "limping since Tuesday",
                Hex.encode(try DiaryDevice(home: ClientHome(path: family.home("mum"))).key.symmetricKey.withUnsafeBytes { Array($0) }),
            ]
            for secret in secrets {
                #expect(!family.server.logText.contains(secret), "the log holds a secret or a record field")
            }
            #expect(!family.server.logText.contains("Signature"), "the log holds a request's signature")
        }
    }

    private func inviteCount(_ database: String) throws -> Int {
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        return try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM invite") ?? 0 }
    }

    private func device(_ family: Family, _ name: String) -> (device: UUID, diary: UUID) {
        let device = try? DiaryDevice(home: ClientHome(path: family.home(name)))
        return (device?.identity.device ?? UUID(), device?.identity.diary ?? UUID())
    }
}

/// An HTTP answer read off a raw connection.
struct RawAnswer: CustomStringConvertible {
    let raw: [UInt8]
    /// Whether the server closed the connection (rather than the read timing out).
    let closed: Bool

    private var text: String { String(decoding: raw, as: UTF8.self) }
    var status: Int { Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0 }
    var body: String { text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n") }
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
    var error: [String: Any]? { json?["error"] as? [String: Any] }
    var code: String? { error?["code"] as? String }
    var message: String { error?["message"] as? String ?? "" }
    var description: String { text + (closed ? "" : " (still open)") }

    func header(_ name: String) -> String? {
        let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
        return head.split(separator: "\r\n").dropFirst().first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }
}

/// Sends the bytes on a new connection and reads until the server closes it (or 15 s pass).
func exchange(_ bytes: [UInt8], port: Int) throws -> RawAnswer {
    let connection = try RawConnection(port: port)
    defer { connection.close() }
    if !bytes.isEmpty { try connection.send(bytes) }
    let answer = connection.receive(timeout: .seconds(15))
    return RawAnswer(raw: answer.bytes, closed: answer.closed)
}

extension RawConnection {
    /// What the server sends until it closes the connection or `timeout` passes with nothing more.
    func receive(timeout: Duration) -> (bytes: [UInt8], closed: Bool) {
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return (received, true) }
            if count < 0 { return (received, false) }
            received += buffer[..<count]
        }
    }
}
