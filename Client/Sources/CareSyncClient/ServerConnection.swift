import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import SyncCore

/// Talks to a caresync-server: enrollment, and requests signed with RFC 9421 under the device key
/// (docs/PROTOCOL.md part 2). Turns every failure into a `ClientError` of the right kind.
struct ServerConnection: Sendable {
    let server: String
    private let scheme: String
    private let authority: String
    private let basePath: String
    private let client: HTTPClient
    /// The largest response accepted: a full page of a pull is far below it.
    static let maxResponseBytes = 64 * 1024 * 1024

    init(server: String, caFile: String? = nil) throws(ClientError) {
        guard let url = URL(string: server), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw .invalid("\(server) is not a server address; write it as http://HOST:PORT or https://HOST")
        }
        self.server = server
        self.scheme = scheme
        authority = url.port.map { "\(host):\($0)" } ?? host
        basePath = url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path
        client = try Self.httpClient(caFile: caFile)
    }

    // MARK: Requests

    /// Exchanges an invite code for a device id and key (the only unsigned request).
    func enroll(code: String, deviceName: String) async throws(ClientError) -> JSONValue {
        let body = JSONValue.object(["code": .string(code), "device_name": .string(deviceName)]).canonicalBytes
        return try json(await send(method: .POST, path: basePath + "/v1/enroll", query: "", body: body, headers: [:]))
    }

    /// Sends a request signed by the device; returns its JSON answer.
    func signed(
        _ method: HTTPMethod, _ path: String, query: String = "", body: [UInt8] = [], device: UUID, key: DeviceKey
    ) async throws(ClientError) -> JSONValue {
        try json(await signedBytes(method, path, query: query, body: body, device: device, key: key))
    }

    /// Sends a request signed by the device; returns its successful answer as bytes.
    func signedBytes(
        _ method: HTTPMethod, _ path: String, query: String = "", body: [UInt8] = [], device: UUID, key: DeviceKey
    ) async throws(ClientError) -> Answer {
        let fullPath = basePath + path
        let signature = RequestSignature.sign(
            method: method.rawValue, path: fullPath, query: query, body: body, key: key, keyID: device,
            created: Int64(Date().timeIntervalSince1970))
        var headers = HTTPHeaders()
        headers.add(name: "Content-Digest", value: signature.contentDigest)
        headers.add(name: "Signature-Input", value: signature.signatureInput)
        headers.add(name: "Signature", value: signature.signature)
        return try await send(method: method, path: fullPath, query: query, body: body, headers: headers)
    }

    /// A successful (2xx) answer: its status and body.
    struct Answer: Sendable {
        let status: Int
        let bytes: [UInt8]
    }

    /// A successful answer, read as JSON.
    func json(_ answer: Answer) throws(ClientError) -> JSONValue {
        guard let json = try? JSONValue(parsing: answer.bytes) else { throw notJSON(answer) }
        return json
    }

    func notJSON(_ answer: Answer) -> ClientError {
        .server(status: answer.status, code: "bad_response", message: "the server's answer is not JSON; is \(server) a CareSync server?")
    }

    /// Sends a request; returns a 2xx answer, and turns anything else into a `ClientError`.
    private func send(method: HTTPMethod, path: String, query: String, body: [UInt8], headers: HTTPHeaders) async throws(ClientError) -> Answer {
        var request = HTTPClientRequest(url: "\(scheme)://\(authority)\(path)\(query.isEmpty ? "" : "?" + query)")
        request.method = method
        request.headers = headers
        if !body.isEmpty {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let status: Int
        let bytes: [UInt8]
        do {
            let response = try await client.execute(request, timeout: .seconds(120))
            status = Int(response.status.code)
            var buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
            bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            throw .unreachable(server: server, reason: Self.describe(error))
        }
        guard (200..<300).contains(status) else { throw Self.refusal(status: status, body: try? JSONValue(parsing: bytes)) }
        return Answer(status: status, bytes: bytes)
    }

    /// The error a refusal stands for: 401 and 403 are about this device's rights (exit 4).
    private static func refusal(status: Int, body: JSONValue?) -> ClientError {
        let error = body?.objectValue?["error"]?.objectValue
        let code = error?["code"]?.stringValue ?? "http_\(status)"
        var message = error?["message"]?.stringValue ?? "no explanation given (is this a CareSync server?)"
        if code == "stale_signature", let serverTime = error?["server_time"]?.intValue {
            let offset = Int64(Date().timeIntervalSince1970) - serverTime
            message += " (this computer's clock is \(abs(offset)) s \(offset > 0 ? "ahead of" : "behind") the server's; set it right and try again)"
        }
        return status == 401 || status == 403
            ? .refused(status: status, code: code, message: message)
            : .server(status: status, code: code, message: message)
    }

    private static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("connectTimeout") { return "timed out connecting" }
        if text.contains("Connection refused") || text.contains("connectionRefused") || text.contains("ECONNREFUSED") {
            return "connection refused: is caresync-server running?"
        }
        if text.contains("deadlineExceeded") || text.contains("readTimeout") { return "no answer in time" }
        return text
    }

    // MARK: The process's HTTP clients

    /// One HTTP client per process (and per extra CA file), with explicit timeouts. They live as long
    /// as the process, like `HTTPClient.shared`, so nobody has to shut them down.
    private static let clients = Mutex<[String: HTTPClient]>([:])

    private static func httpClient(caFile: String?) throws(ClientError) -> HTTPClient {
        let cacheKey = caFile ?? ""
        if let client = clients.withLock({ $0[cacheKey] }) { return client }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else { throw .setup("cannot read the CA certificate file \(caFile)") }
            tls.trustRoots = .file(caFile)
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(120)))
        // Shorter than the server's wait for the next request on an open connection (30 s by default),
        // so that the client, not the server, closes an idle one and no request meets a closing connection.
        configuration.connectionPool.idleTimeout = .seconds(20)
        // A server that refuses the connection is down or not there: say so now, rather than try again
        // until the connect timeout. Nothing is lost, and the next sync tries again.
        configuration.connectionPool.retryConnectionEstablishment = false
        return clients.withLock { cache in
            if let client = cache[cacheKey] { return client }
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            cache[cacheKey] = client
            return client
        }
    }
}
