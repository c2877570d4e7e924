import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// A refusal that reaches the client as JSON naming the problem:
/// `{"error": {"status": 422, "code": "invalid_field", "message": "...", ...}}`.
///
/// Every handler throws these (never a bare error, which Hummingbird would turn into a 500 without a reason).
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// A stable machine-readable word, listed in docs/PROTOCOL.md.
    public let code: String
    public let message: String
    /// Further members of the error object, such as the server's clock for a stale signature.
    public var details: [String: JSONValue] = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, details: [String: JSONValue] = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response.json(jsonBytes, status: status)
    }

    /// The refusal's JSON body, also written below the router (`ConnectionGuard`).
    var jsonBytes: [UInt8] {
        var members = details
        members["status"] = .int(Int64(status.code))
        members["code"] = .string(code)
        members["message"] = .string(message)
        return JSONValue.object(["error": .object(members)]).canonicalBytes
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }

    /// The answer to what the store refused.
    init(_ refusal: StoreRefusal) {
        switch refusal {
        case .stampReused(let index, _, _): self.init(.conflict, "stamp_reused", refusal.description, details: ["index": .int(Int64(index))])
        case .changeIDReused(let index, _):
            self.init(.conflict, "change_id_reused", refusal.description, details: ["index": .int(Int64(index))])
        case .typeChanged(let index, _): self.init(.conflict, "type_changed", refusal.description, details: ["index": .int(Int64(index))])
        case .replayedNonce: self.init(.unauthorized, "replayed_nonce", refusal.description)
        case .emptyDiaryName, .backupExists, .backupUnsupported: self.init(.badRequest, "bad_request", refusal.description)
        }
    }

    static func invalid(_ error: ValidationError, index: Int? = nil) -> APIError {
        var details: [String: JSONValue] = ["record": .string(error.record), "field": .string(error.field), "rule": .string(error.rule)]
        if let index { details["index"] = .int(Int64(index)) }
        let position = index.map { "change #\($0): " } ?? ""
        return APIError(.unprocessableContent, "invalid_field", position + error.description, details: details)
    }
}

extension JSONValue: ResponseGenerator {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(status: .ok)
    }

    func response(status: HTTPResponse.Status) -> Response {
        Response.json(canonicalBytes, status: status)
    }
}

extension Response {
    /// A JSON response from bytes that are JSON already (stored changes are sent as stored).
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// What every endpoint checks of a request before its own rules (docs/PROTOCOL.md, section 9): only the
/// query parameters it takes, each at most once, and a body, if there is one, declared as JSON. A
/// parameter the server ignored or a second value it dropped would leave the client believing it had
/// asked for something it had not.
struct RequestShape {
    /// The query's parameters by name, as sent (neither names nor values are percent-decoded).
    let parameters: [String: String]

    init(_ request: Request, body: some Collection<UInt8>, parameters allowed: Set<String> = []) throws(APIError) {
        if !body.isEmpty, let type = request.headers[.contentType], !Self.isJSON(type) {
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type", "the request body must be sent as Content-Type: application/json (got \"\(type)\")")
        }
        var parameters: [String: String] = [:]
        if let query = request.uri.query, !query.isEmpty {
            for pair in Array(query.utf8).split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false) {
                let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
                let name = String(decoding: pair[..<equals], as: UTF8.self)
                guard allowed.contains(name) else {
                    let takes = allowed.isEmpty ? "none" : allowed.sorted().joined(separator: ", ")
                    throw APIError.badRequest("unknown query parameter \"\(name)\" (this endpoint takes \(takes))")
                }
                guard parameters[name] == nil else { throw APIError.badRequest("query parameter \"\(name)\" is given more than once") }
                parameters[name] = String(decoding: pair[equals...].dropFirst(), as: UTF8.self)
            }
        }
        self.parameters = parameters
    }

    /// Whether a Content-Type names JSON: `application/json`, in any case, with any parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces)
        return mediaType.lowercased() == "application/json"
    }
}

/// Reading a JSON request body strictly: an object with known members only.
struct RequestBody {
    let members: [String: JSONValue]
    /// The elements of the list under the member named by `listing`, with the bytes each was read from
    /// (nil if that member is missing or not a list). They are not also in `members`.
    let elements: [JSONElement]?

    init(_ bytes: [UInt8], allowed: Set<String>, listing: String? = nil) throws(APIError) {
        let value: JSONValue
        do {
            if let listing {
                (value, elements) = try JSONValue.parsing(bytes, listing: listing)
            } else {
                value = try JSONValue(parsing: bytes)
                elements = nil
            }
        } catch {
            throw .badRequest("the request body is not valid JSON: \(error.description)")
        }
        guard let members = value.objectValue else { throw .badRequest("the request body must be a JSON object") }
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .badRequest("unknown member \"\(unknown)\" in the request body (expected: \(allowed.sorted().joined(separator: ", ")))")
        }
        self.members = members
    }

    func string(_ name: String, required: Bool = true) throws(APIError) -> String? {
        guard let value = members[name], !value.isNull else {
            if required { throw .badRequest("\"\(name)\" is required") }
            return nil
        }
        guard let text = value.stringValue else { throw .badRequest("\"\(name)\" must be a string") }
        return text
    }

    func int(_ name: String) throws(APIError) -> Int64? {
        guard let value = members[name], !value.isNull else { return nil }
        guard let number = value.intValue else { throw .badRequest("\"\(name)\" must be a whole number") }
        return number
    }
}
