import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import SyncCore
import Testing

@testable import CareSyncServer

/// The health check, the metrics, the request log and the refusals of requests no route takes, through
/// the router.
struct OperatorEndpointTests {
    @Test func healthSaysTheDatabaseTakesWritesAndItsSchemaVersion() async throws {
        try await withServer { harness, client in
            let healthy = try await client.send(.get, "/health")
            #expect(healthy.status == .ok)
            #expect(healthy["status"] == "ok" && healthy["database"] == "writable")
            let migrations = TestEngine.current.isSQLite ? SQLiteSchema.migrator.migrations.count : PostgresSchema.migrations.count
            #expect(healthy["schema_version"]?.intValue == Int64(migrations))
            // A database that refuses writes is reported, not hidden behind a 200.
            try await harness.sql(
                sqlite: "CREATE TRIGGER refuse BEFORE INSERT ON healthCheck BEGIN SELECT RAISE(ABORT, 'disk full'); END",
                postgres: #"ALTER TABLE health_check ADD CONSTRAINT "disk full" CHECK (checked_at < 0) NOT VALID"#)
            let unhealthy = try await client.send(.get, "/health")
            #expect(unhealthy.status == .serviceUnavailable)
            #expect(unhealthy.errorCode == "unhealthy" && unhealthy.errorMessage.contains("disk full"), "\(unhealthy.json.canonicalString)")
        }
    }

    @Test func aKnownPathWithAnotherMethodIs405NamingTheMethodsItTakes() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let diary = "/v1/diaries/\(owner.diary.canonical)"
            try await client.execute(uri: "\(diary)/changes", method: .delete) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, POST")
                let error = try JSONValue(parsing: Array(response.body.readableBytesView)).objectValue?["error"]?.objectValue
                #expect(error?["code"] == "method_not_allowed")
                #expect(error?["message"]?.stringValue?.contains("DELETE") == true)
            }
            for (method, path, allowed) in [
                (HTTPRequest.Method.get, "\(diary)/invites", "POST"), (.post, diary, "GET"), (.put, "/health", "GET"),
                (.get, "\(diary)/devices/\(owner.id.canonical)/revoke", "POST"),
            ] {
                try await client.execute(uri: path, method: method) { response in
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.headers[.allow] == allowed, "\(method) \(path)")
                }
            }
            let unknown = try await client.send(.get, "/v1/diaries/\(owner.diary.canonical)/flares")
            #expect(unknown.status == .notFound && unknown.errorCode == "not_found")
        }
    }

    /// docs/openapi.yaml names exactly the routes the router serves, so a client generated from it
    /// neither misses an endpoint nor calls one that is not there.
    @Test func theOpenAPIDocumentListsExactlyTheRoutesServed() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let router = buildRouter(configuration: harness.configuration, store: harness.store, metrics: ServerMetrics())
        let served = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
        let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi.yaml")
        var documented: Set<String> = []
        var path: String?
        for line in try String(contentsOf: document, encoding: .utf8).split(separator: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if !line.hasPrefix("   ") {
                path = nil
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"),
                let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" })
            {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(!documented.isEmpty)
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served))")
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented))")
    }

    @Test func metricsAreOffWithoutATokenAndAskForItWithOne() async throws {
        try await withServer { _, client in
            let off = try await client.send(.get, "/metrics")
            #expect(off.status == .notFound && off.errorCode == "not_found" && off.errorMessage.contains("--metrics-token-file"))
        }
        var withToken = try await ServerHarness()
        withToken.configuration.metricsToken = "a-token-of-some-length"
        let harness = withToken
        defer { harness.remove() }
        try await harness.app().test(.router) { client in
            let (owner, _, _) = try await client.family(harness)
            var (device, pushed) = (owner, [SignedChange]())
            pushed = [device.change(), device.change()]
            #expect(try await client.push(pushed, by: device).status == .ok)
            #expect(try await client.push(pushed, by: device).status == .ok)
            #expect(try await client.pull(by: device).status == .ok)
            let wrong = try await client.send(.get, "/metrics", headers: [.authorization: "Bearer a-token-of-some-lengtX"])
            #expect(wrong.status == .unauthorized && wrong.errorCode == "bad_metrics_token")
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer a-token-of-some-length"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                for expected in [
                    #"caresync_push_changes_total{outcome="stored"} 2"#, #"caresync_push_changes_total{outcome="duplicate"} 2"#,
                    #"caresync_pull_changes_total 2"#, #"caresync_refusals_total{code="bad_metrics_token"} 1"#,
                    #"caresync_http_requests_total{method="POST",route="/v1/diaries/{diary}/changes",status="200"} 2"#,
                    #"caresync_push_seconds_count 2"#, #"caresync_pull_seconds_count 1"#, "caresync_db_commit_seconds_count",
                ] {
                    #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
                }
            }
        }
    }

    @Test func everyRequestIsLoggedOnceWithoutSecretsOrRecordFields() async throws {
        let lines = LogLines()
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let logger = Logger(label: "caresync-tests") { _ in lines.handler() }
        try await harness.app(logger: logger).test(.router) { client in
            let (diary, code) = try await harness.store.createDiary(name: "Mia")
            var owner = try await client.enroll(code: code)
            let change = owner.change(fields: ["started": "2026-11-20", "sites": ["tibia-left"], "pain": 6, "notes": "limping since Tuesday"])
            #expect(try await client.push([change], by: owner).status == .ok)
            let refused = try await client.send(.get, "/v1/diaries/\(diary)/changes")
            #expect(refused.status == .unauthorized)
            let requests = lines.all.filter { $0.message == "request" }
            #expect(requests.count == 3, "\(requests)")  // the enrollment, the push and the unsigned pull
            let push = requests.first { $0.metadata["method"] == "POST" && $0.metadata["route"] == "/v1/diaries/{diary}/changes" }
            #expect(push?.metadata["status"] == "200" && push?.metadata["device"] == owner.id.canonical)
            #expect(push?.metadata["diary"] == diary && push?.metadata["duration_ms"] != nil)
            let unsigned = requests.last
            #expect(unsigned?.metadata["status"] == "401" && unsigned?.metadata["error"] == "missing_signature")
            let everything = lines.all.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
            for secret in [
                code, Hex.encode(owner.key.symmetricKey.withUnsafeBytes { Array($0) }), "limping since Tuesday",
                change.wireValue.objectValue?["sig"]?.stringValue ?? "no signature",
            ] {
                #expect(!everything.contains(secret), "the log holds \(secret)")
            }
        }
    }

    /// Failed enrollments are counted in the database: a restart does not give a code guesser ten more tries.
    @Test func failedEnrollmentsAreStillCountedAfterARestart() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let wrong = JSONValue.object(["code": "aaaa-bbbb-cccc-dddd-eeee-ffff-gggg-hhhh", "device_name": "guesser"]).canonicalBytes
        try await harness.app().test(.router) { client in
            for _ in 0..<10 {
                let refused = try await client.send(.post, "/v1/enroll", body: wrong)
                #expect(refused.errorCode == "invalid_invite")
            }
        }
        let restarted = try await harness.reopen()
        try await buildApplication(configuration: harness.configuration, store: restarted, logger: .quiet).test(.router) { client in
            let refused = try await client.send(.post, "/v1/enroll", body: wrong)
            #expect(refused.status == .tooManyRequests && refused.errorCode == "too_many_attempts")
        }
        try await restarted.close()
    }

    @Test func theJSONLogIsOneObjectALine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("caresync-log-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        var logger = Logger(label: "caresync-server") { JSONLogHandler(label: $0, stream: handle) }
        logger[metadataKey: "instance"] = "a"
        logger.info("request", metadata: ["route": "/health", "status": "200"])
        logger.warning("two\nlines \"quoted\"")
        try handle.close()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONValue(parsing: Array(lines[0].utf8)).objectValue
        #expect(first?["message"] == "request" && first?["level"] == "info" && first?["route"] == "/health" && first?["instance"] == "a")
        #expect(first?["label"] == "caresync-server" && first?["time"]?.stringValue?.hasSuffix("Z") == true)
        #expect(try JSONValue(parsing: Array(lines[1].utf8)).objectValue?["message"] == "two\nlines \"quoted\"")
    }
}

/// Log records kept in memory, for a test to read.
final class LogLines: Sendable {
    struct Line: Sendable {
        let message: String
        let metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }

    func append(_ line: Line) { lines.withLock { $0.append(line) } }

    func handler() -> some LogHandler { Handler(lines: self) }

    private struct Handler: LogHandler {
        let lines: LogLines
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            lines.append(Line(message: event.message.description, metadata: merged.mapValues { "\($0)" }))
        }
    }
}
