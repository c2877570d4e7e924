import Crypto
import Foundation

/// The authentication of every request after enrollment: an RFC 9421 HTTP Message Signature with
/// `hmac-sha256` under the device key, covering the method, path, query and an RFC 9530
/// `Content-Digest` of the body, with `created`, `nonce` and `keyid` (the device id) parameters.
///
/// Only one shape is accepted, the one `sign` produces, so the server never has to interpret
/// alternatives. docs/PROTOCOL.md, "Signed requests", has a worked example.
public enum RequestSignature {
    public static let label = "caresync"
    public static let coveredComponents = #"("@method" "@path" "@query" "content-digest")"#
    public static let algorithm = "hmac-sha256"

    /// The headers a signed request carries.
    public struct Headers: Sendable, Equatable {
        public var contentDigest: String
        public var signatureInput: String
        public var signature: String
    }

    /// What the server reads out of `Signature-Input` and `Signature`.
    public struct Parameters: Sendable, Equatable {
        public let created: Int64
        public let nonce: String
        public let keyID: UUID
        public let signature: [UInt8]
        /// The `Signature-Input` value after `caresync=`, as signed.
        public let signatureParams: String
    }

    /// `sha-256=:<base64>:` of the body (RFC 9530).
    public static func contentDigest(of body: some Sequence<UInt8>) -> String {
        "sha-256=:\(Data(SHA256.hash(data: Array(body))).base64EncodedString()):"
    }

    /// A fresh nonce: 128 random bits as 32 hex digits. Drawn as two 64-bit words: each draw from the
    /// system generator is a `getrandom` call, and a byte at a time made 16 of them per request.
    public static func makeNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next(), generator.next()]
        return Hex.encode(words.withUnsafeBytes { Array($0) })
    }

    /// The signature base of RFC 9421 section 2.5 for CareSync's covered components.
    /// `query` is the query string without `?` (empty if none); RFC 9421 writes an empty query as `?`.
    public static func signatureBase(method: String, path: String, query: String, contentDigest: String, signatureParams: String) -> String {
        [
            "\"@method\": \(method.uppercased())",
            "\"@path\": \(path)",
            "\"@query\": ?\(query)",
            "\"content-digest\": \(contentDigest)",
            "\"@signature-params\": \(signatureParams)",
        ].joined(separator: "\n")
    }

    public static func signatureParams(created: Int64, nonce: String, keyID: UUID) -> String {
        "\(coveredComponents);created=\(created);nonce=\"\(nonce)\";keyid=\"\(keyID.canonical)\";alg=\"\(algorithm)\""
    }

    /// Signs a request. `created` is Unix seconds.
    public static func sign(
        method: String, path: String, query: String, body: some Sequence<UInt8>, key: DeviceKey, keyID: UUID,
        created: Int64, nonce: String = makeNonce()
    ) -> Headers {
        let digest = contentDigest(of: body)
        let params = signatureParams(created: created, nonce: nonce, keyID: keyID)
        let base = signatureBase(method: method, path: path, query: query, contentDigest: digest, signatureParams: params)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(base.utf8), using: key.symmetricKey)
        return Headers(
            contentDigest: digest, signatureInput: "\(label)=\(params)", signature: "\(label)=:\(Data(mac).base64EncodedString()):")
    }

    /// Reads the two signature headers, refusing any shape but the one `sign` produces.
    public static func parse(signatureInput: String, signature: String) throws(RequestSignatureError) -> Parameters {
        let prefix = "\(label)="
        guard signatureInput.hasPrefix(prefix), signature.hasPrefix(prefix) else {
            throw .malformed("Signature-Input and Signature must carry one signature labelled \(label)")
        }
        let params = String(signatureInput.dropFirst(prefix.count))
        guard params.hasPrefix(coveredComponents) else {
            throw .malformed("the signature must cover exactly \(coveredComponents)")
        }
        var created: Int64?
        var nonce: String?
        var keyID: UUID?
        var alg: String?
        for item in params.dropFirst(coveredComponents.count).split(separator: ";", omittingEmptySubsequences: false).dropFirst() {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { throw .malformed("bad signature parameter \"\(item)\"") }
            let name = String(pair[0])
            var value = String(pair[1])
            let quoted = value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"")
            if quoted { value = String(value.dropFirst().dropLast()) }
            switch (name, quoted) {
            case ("created", false): created = Int64(value)
            case ("nonce", true): nonce = value
            case ("keyid", true): keyID = UUID(canonical: value)
            case ("alg", true): alg = value
            default: throw .malformed("unexpected signature parameter \"\(item)\"")
            }
        }
        guard let created else { throw .malformed("the signature needs a created parameter (Unix seconds)") }
        guard let nonce, (16...64).contains(nonce.count), nonce.utf8.allSatisfy({ isTokenByte($0) }) else {
            throw .malformed("the signature needs a nonce of 16 to 64 letters, digits, - or _")
        }
        guard let keyID else { throw .malformed("the signature needs a keyid: the device id") }
        guard alg == algorithm else { throw .malformed("the signature algorithm must be \(algorithm)") }
        let encoded = signature.dropFirst(prefix.count)
        guard encoded.hasPrefix(":"), encoded.hasSuffix(":"), encoded.count > 2,
            let mac = Data(base64Encoded: String(encoded.dropFirst().dropLast())), mac.count == 32
        else { throw .malformed("Signature must be \(label)=:<base64 of 32 bytes>:") }
        return Parameters(created: created, nonce: nonce, keyID: keyID, signature: Array(mac), signatureParams: params)
    }

    /// Whether the parsed signature is the HMAC of this request under `key`, compared in constant time.
    public static func isValid(_ parameters: Parameters, method: String, path: String, query: String, contentDigest: String, key: DeviceKey)
        -> Bool
    {
        let base = signatureBase(
            method: method, path: path, query: query, contentDigest: contentDigest, signatureParams: parameters.signatureParams)
        return HMAC<SHA256>.isValidAuthenticationCode(parameters.signature, authenticating: Array(base.utf8), using: key.symmetricKey)
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
    }
}

/// Why a request's signature headers cannot be read.
public enum RequestSignatureError: Error, Equatable, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let reason): reason
        }
    }
}
