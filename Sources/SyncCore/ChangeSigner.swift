import Crypto

/// A device's 256-bit secret, shared with the server at enrollment and never sent again.
///
/// It has no `description`: printing a key by accident prints nothing of it.
public struct DeviceKey: Sendable, CustomStringConvertible {
    public let symmetricKey: SymmetricKey

    public init(symmetricKey: SymmetricKey) {
        precondition(symmetricKey.bitCount == 256, "device keys are 256 bits")
        self.symmetricKey = symmetricKey
    }

    /// A fresh random key.
    public static func generate() -> DeviceKey {
        DeviceKey(symmetricKey: SymmetricKey(size: .bits256))
    }

    /// Reads 64 lowercase hex digits.
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex), bytes.count == 32 else { return nil }
        self.init(symmetricKey: SymmetricKey(data: bytes))
    }

    /// The key as 64 hex digits, for the key file and the enrollment response only.
    public var hexForStorage: String {
        symmetricKey.withUnsafeBytes { Hex.encode($0) }
    }

    public var description: String { "DeviceKey(redacted)" }
}

/// Signs changes with a device key and checks signatures in constant time.
public enum ChangeSigner {
    public static func sign(_ change: Change, with key: DeviceKey) -> SignedChange {
        signWithWireBytes(change, with: key).signed
    }

    /// Signs a change and returns its wire bytes too, encoding the change once.
    public static func signWithWireBytes(_ change: Change, with key: DeviceKey) -> (signed: SignedChange, wire: [UInt8]) {
        let canonical = change.canonicalBytes
        let signed = SignedChange(change: change, signature: Array(HMAC<SHA256>.authenticationCode(for: canonical, using: key.symmetricKey)))
        return (signed, signed.wireBytes(canonical: canonical))
    }

    /// Whether `signed.signature` is the HMAC of the change under `key`, compared in constant time.
    public static func isValid(_ signed: SignedChange, key: DeviceKey) -> Bool {
        isValid(signature: signed.signature, for: signed.change.canonicalBytes, key: key)
    }

    /// Whether `signature` is the HMAC of `bytes` under `key`, compared in constant time.
    public static func isValid(signature: [UInt8], for bytes: [UInt8], key: DeviceKey) -> Bool {
        ChangeVerifier(key: key).isValid(signature: signature, for: [bytes[...]])
    }
}

/// Checks signatures made with one device key. HMAC hashes the padded key before any message, so a
/// verifier does that once and each check starts from a copy of that state: a push checks up to 1,000
/// changes by the same author, and setting up the key is a large part of the cost of checking a change.
public struct ChangeVerifier: Sendable {
    private let keyed: HMAC<SHA256>

    public init(key: DeviceKey) {
        keyed = HMAC<SHA256>(key: key.symmetricKey)
    }

    /// Whether `signature` is the HMAC of the concatenated `pieces`, compared in constant time.
    public func isValid(signature: [UInt8], for pieces: [ArraySlice<UInt8>]) -> Bool {
        var mac = keyed
        for piece in pieces { mac.update(data: piece) }
        // `==` between a MAC and bytes is swift-crypto's constant-time comparison.
        return mac.finalize() == signature
    }
}
