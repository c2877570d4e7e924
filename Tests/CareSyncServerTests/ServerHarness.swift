import CareSyncServer
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SyncCore
import Testing

/// A server on a store of its own (a temporary SQLite file, or a fresh PostgreSQL database when the
/// suite runs on PostgreSQL: `TestEngine`), and a client that signs requests the way syncctl will.
struct ServerHarness {
    let directory: URL
    let store: any ServerStore
    var configuration = ServerConfiguration()

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("caresync-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try await TestEngine.current.openStore(in: directory)
        configuration.port = 0
    }

    /// The same database opened again, as a restarted server (or another instance) would.
    func reopen() async throws -> any ServerStore { try await CareSyncServer.openStore(store.location, logger: .quiet) }

    /// The store as SQLite, for the tests of what only the SQLite engine has (its file, its migrations).
    var sqlite: SQLiteStore {
        get throws {
            guard let store = store as? SQLiteStore else { throw TestEngine.NotThisEngine() }
            return store
        }
    }

    func app(metrics: ServerMetrics = ServerMetrics(), logger: Logger = .quiet) throws -> some ApplicationProtocol {
        try buildApplication(configuration: configuration, store: store, metrics: metrics, logger: logger)
    }

    /// Runs SQL on the server's database behind its back: the way tests tamper with stored data. Each
    /// engine has its own statement (its own column names and functions); `?` marks an argument in both.
    func sql(sqlite: String, postgres: String, _ arguments: [SQLArgument] = []) async throws {
        if let store = store as? SQLiteStore {
            let queue = try DatabaseQueue(path: store.path)
            try await queue.write { db in try db.execute(sql: sqlite, arguments: StatementArguments(arguments.map(\.sqlite))) }
            try queue.close()
        } else {
            try await TestEngine.execute(postgres, arguments, on: store.location)
        }
    }

    /// Removes the harness's files, and closes its store in the background (a `defer` cannot wait).
    func remove() {
        let store = store
        Task { try? await store.close() }
        try? FileManager.default.removeItem(at: directory)
    }
}

extension Logger {
    /// The server's log in tests: warnings and errors only, not a line per request.
    static var quiet: Logger {
        var logger = Logger(label: "caresync-tests")
        logger.logLevel = .warning
        return logger
    }
}

/// A device enrolled through the API, holding what `syncctl join` stores.
struct TestDevice: Sendable {
    let id: UUID
    let diary: UUID
    let key: DeviceKey
    let role: String
    var clock = HybridLogicalClock()

    /// A signed change by this device that creates or edits a record.
    mutating func change(
        record: UUID = UUID.version7(), type: RecordType = .flare,
        fields: [String: JSONValue] = ["started": "2024-11-24", "sites": ["tibia-left"], "pain": 6],
        millis: Int64? = nil
    ) -> SignedChange {
        let hlc = millis.map { HLC(millis: $0, counter: 0) } ?? clock.tick(wallMillis: HybridLogicalClock.wallMillisNow())
        let change = Change(
            id: UUID.version7(), diary: diary, record: record, type: type, hlc: hlc, author: id, fields: fields,
            seen: fields.mapValues { _ in [] })
        return ChangeSigner.sign(change, with: key)
    }
}

struct TestResponse: Sendable {
    let status: HTTPResponse.Status
    let json: JSONValue

    var errorCode: String? { json.objectValue?["error"]?.objectValue?["code"]?.stringValue }
    var errorMessage: String { json.objectValue?["error"]?.objectValue?["message"]?.stringValue ?? "" }
    subscript(_ member: String) -> JSONValue? { json.objectValue?[member] }
}

extension TestClientProtocol {
    func send(_ method: HTTPRequest.Method, _ uri: String, body: [UInt8] = [], headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: uri, method: method, headers: headers, body: ByteBuffer(bytes: body)) { response in
            let bytes = Array(response.body.readableBytesView)
            let json = bytes.isEmpty ? JSONValue.object([:]) : try JSONValue(parsing: bytes)
            return TestResponse(status: response.status, json: json)
        }
    }

    func enroll(code: String, name: String = "kitchen laptop") async throws -> TestDevice {
        let response = try await send(
            .post, "/v1/enroll", body: JSONValue.object(["code": .string(code), "device_name": .string(name)]).canonicalBytes)
        #expect(response.status == .created, "\(response.json.canonicalString)")
        return TestDevice(
            id: UUID(canonical: response["device"]!.stringValue!)!, diary: UUID(canonical: response["diary"]!.stringValue!)!,
            key: DeviceKey(hex: response["key"]!.stringValue!)!, role: response["role"]!.stringValue!)
    }

    /// A request signed by `device`; `created`, `nonce` and `signingKey` can be overridden to attack.
    func signed(
        _ method: HTTPRequest.Method, _ uri: String, by device: TestDevice, body: [UInt8] = [], created: Int64? = nil, nonce: String? = nil,
        signingKey: DeviceKey? = nil, sentBody: [UInt8]? = nil
    ) async throws -> TestResponse {
        let target = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let signature = RequestSignature.sign(
            method: method.rawValue, path: String(target[0]), query: target.count > 1 ? String(target[1]) : "", body: body,
            key: signingKey ?? device.key, keyID: device.id, created: created ?? Int64(Date().timeIntervalSince1970),
            nonce: nonce ?? RequestSignature.makeNonce())
        var headers = HTTPFields()
        headers[HTTPField.Name("Content-Digest")!] = signature.contentDigest
        headers[HTTPField.Name("Signature-Input")!] = signature.signatureInput
        headers[HTTPField.Name("Signature")!] = signature.signature
        headers[.contentType] = "application/json"
        return try await send(method, uri, body: sentBody ?? body, headers: headers)
    }

    func push(_ changes: [SignedChange], by device: TestDevice, diary: UUID? = nil) async throws -> TestResponse {
        let body = JSONValue.object(["changes": .array(changes.map(\.wireValue))]).canonicalBytes
        return try await signed(.post, "/v1/diaries/\((diary ?? device.diary).canonical)/changes", by: device, body: body)
    }

    func pull(by device: TestDevice, after: Int64 = 0, limit: Int = 500) async throws -> TestResponse {
        try await signed(.get, "/v1/diaries/\(device.diary.canonical)/changes?after=\(after)&limit=\(limit)", by: device)
    }

    func invite(_ role: String, by owner: TestDevice, extra: [String: JSONValue] = [:]) async throws -> TestResponse {
        var body = extra
        body["role"] = .string(role)
        return try await signed(.post, "/v1/diaries/\(owner.diary.canonical)/invites", by: owner, body: JSONValue.object(body).canonicalBytes)
    }

    /// Enrolls an owner of a new diary, and optionally a caregiver and a clinician.
    func family(_ harness: ServerHarness) async throws -> (owner: TestDevice, caregiver: TestDevice, clinician: TestDevice) {
        let (_, code) = try await harness.store.createDiary(name: "Mia")
        let owner = try await enroll(code: code, name: "mum's laptop")
        let caregiver = try await enroll(code: try await invite("caregiver", by: owner)["code"]!.stringValue!, name: "dad's desktop")
        let clinician = try await enroll(code: try await invite("clinician", by: owner)["code"]!.stringValue!, name: "Dr Okafor")
        return (owner, caregiver, clinician)
    }
}

/// Runs `body` against a fresh server through the router (no sockets), then removes its files.
func withServer(_ body: @escaping @Sendable (ServerHarness, any TestClientProtocol) async throws -> Void) async throws {
    let harness = try await ServerHarness()
    defer { harness.remove() }
    try await harness.app().test(.router) { client in try await body(harness, client) }
}
