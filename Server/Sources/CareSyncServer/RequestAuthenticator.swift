import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// The request context of CareSync's routes: Hummingbird's core storage, plus the device that signed
/// the request and its body, once `RequestAuthenticator` has checked them.
public struct CareSyncRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    var device: Device?
    var body: [UInt8] = []
    /// A push's nonce, verified but not yet spent: the push spends it in the transaction that stores
    /// its batch, so that a push costs one commit.
    var pushNonce: SeenNonce?
    /// The peer's IP address, where the transport knows it (not in router-level tests).
    let remoteAddress: String?
    /// The device and diary the authenticator found, for the request log.
    let requester = Requester()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The authenticated device; routes behind the authenticator always have one.
    func requireDevice() throws(APIError) -> Device {
        guard let device else { throw APIError(.unauthorized, "missing_signature", "this request must be signed") }
        return device
    }
}

/// Checks the RFC 9421 signature of every request to a diary (docs/PROTOCOL.md section 8): a fresh timestamp, an unseen
/// nonce, the body's digest, the device's HMAC, a device neither revoked nor expired, and the diary of the
/// path being the device's own. Refusals are 401, except another diary, which is 404 as if it did not exist.
struct RequestAuthenticator: RouterMiddleware {
    typealias Context = CareSyncRequestContext

    let store: any ServerStore
    let configuration: ServerConfiguration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var request = request
        guard let input = request.headers[.signatureInput], let signature = request.headers[.signature] else {
            throw APIError(.unauthorized, "missing_signature", "this request must carry Signature-Input and Signature headers (RFC 9421)")
        }
        let parameters: RequestSignature.Parameters
        do {
            parameters = try RequestSignature.parse(signatureInput: input, signature: signature)
        } catch {
            throw APIError(.unauthorized, "bad_signature", "the request signature cannot be read: \(error.description)")
        }
        let now = Date()
        let serverTime = Int64(now.timeIntervalSince1970)
        guard abs(parameters.created - serverTime) <= Int64(configuration.requestWindow.seconds) else {
            throw APIError(
                .unauthorized, "stale_signature",
                "the request was signed at \(parameters.created) but the server's clock says \(serverTime): "
                    + "check this device's clock (allowed difference \(Int64(configuration.requestWindow.seconds)) s)",
                details: ["server_time": .int(serverTime)])
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "the request body is larger than \(configuration.maxBodyBytes) bytes")
        }
        let bytes = Array(body.readableBytesView)
        let digest = RequestSignature.contentDigest(of: bytes)
        guard request.headers[.contentDigest] == digest else {
            throw APIError(.unauthorized, "digest_mismatch", "Content-Digest is missing or does not match the body")
        }
        guard let device = try await store.device(id: parameters.keyID.canonical) else {
            throw APIError(.unauthorized, "unknown_device", "no device \(parameters.keyID.canonical) is enrolled here")
        }
        let (path, query) = Self.splitTarget(request.head.path ?? "/")
        guard
            RequestSignature.isValid(
                parameters, method: request.method.rawValue, path: path, query: query, contentDigest: digest, key: device.deviceKey)
        else {
            throw APIError(.unauthorized, "bad_signature", "the request signature does not verify with this device's key")
        }
        // Only a verified signature may spend a nonce, so nobody can fill the cache for a device.
        let nonce = SeenNonce(
            device: device.id, nonce: parameters.nonce, at: now, window: configuration.requestWindow.seconds * 2)
        if request.method == .post, context.endpointPath == ChangesRoute.path {
            context.pushNonce = nonce
        } else if try await !store.spend(nonce) {
            throw APIError.replayedNonce
        }
        if device.revokedAt != nil {
            throw APIError(.unauthorized, "device_revoked", "this device was revoked by the diary's owner")
        }
        if let expiry = device.accessExpiresAt, expiry <= now {
            throw APIError(
                .unauthorized, "access_expired", "this device's access to the diary expired on \(ISO8601DateFormatter().string(from: expiry))")
        }
        if let diary = context.parameters.get("diary"), diary != device.diaryId {
            throw APIError(.notFound, "not_found", "no diary \(diary) here")
        }
        context.device = device
        context.requester.set(device: device.id, diary: device.diaryId)
        context.body = bytes
        return try await next(request, context)
    }

    /// Splits a request target into its path and query (without the `?`), as sent.
    static func splitTarget(_ target: String) -> (path: String, query: String) {
        guard let mark = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }
}

extension APIError {
    static let replayedNonce = APIError(StoreRefusal.replayedNonce)
}

extension HTTPField.Name {
    static let signatureInput = Self("Signature-Input")!
    static let signature = Self("Signature")!
    static let contentDigest = Self("Content-Digest")!
}

/// Slows guessing of invite codes: at most `limit` failed enrollments per window from one address
/// (and, behind a proxy that hides addresses, in all). The failures are kept in the database, so that a
/// restart does not give a guesser a fresh allowance.
struct EnrollmentLimiter {
    let store: any ServerStore
    let limit: Int
    let window: TimeInterval

    init(store: any ServerStore, limit: Int = 10, window: Duration = .seconds(60)) {
        self.store = store
        self.limit = limit
        self.window = window.seconds
    }

    func isBlocked(_ address: String, now: Date) async throws -> Bool {
        try await store.enrollmentFailures(from: address, since: now.addingTimeInterval(-window)) >= limit
    }

    func recordFailure(_ address: String, now: Date) async throws {
        try await store.recordEnrollmentFailure(from: address, at: now, forgetBefore: now.addingTimeInterval(-window))
    }
}
