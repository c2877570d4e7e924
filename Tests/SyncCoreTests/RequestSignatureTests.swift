import Foundation
import SyncCore
import Testing

struct RequestSignatureTests {
    let device = UUID(canonical: "0193a5c0-0000-7000-8000-000000000001")!
    let path = "/v1/diaries/0193a5b0-0000-7000-8000-00000000000d/changes"

    /// The worked example of docs/PROTOCOL.md section 8, computed there by an independent Python implementation.
    @Test func workedExampleOfTheProtocolDocumentIsReproduced() {
        let headers = RequestSignature.sign(
            method: "POST", path: path, query: "", body: Array(#"{"changes":[]}"#.utf8), key: Fixture.key, keyID: device,
            created: 1_732_500_000, nonce: "5f1c0a9e2b7d4c31a8e6f0b2d9c4e7a1")
        #expect(headers.contentDigest == "sha-256=:HHsL58/LUp1h33x7ULqpHmkZ3PDrpA5oZpZTqyiAxxE=:")
        #expect(headers.signature == "caresync=:Pdf0dXKajNuZ45ep+yNatKwU8aAEGWTHHojT+mTpays=:")
    }

    /// A device's nonce is 128 random bits as 32 hex digits (docs/PROTOCOL.md allows 16–64 characters): over 2,000 nonces,
    /// no two alike, and each of the 32 positions takes at least 15 of the 16 digits.
    @Test func noncesAre32HexDigitsOfFreshRandomness() {
        let nonces = (0..<2_000).map { _ in RequestSignature.makeNonce() }
        #expect(Set(nonces).count == nonces.count)
        #expect(nonces.allSatisfy { $0.utf8.count == 32 && $0.utf8.allSatisfy { Array("0123456789abcdef".utf8).contains($0) } })
        for position in 0..<32 {
            let digits = Set(nonces.map { Array($0.utf8)[position] })
            #expect(digits.count >= 15, "position \(position) took only \(digits.count) digits")
        }
    }

    @Test func signedHeadersParseAndVerifyAndAnyOtherRequestFails() throws {
        let body = Array(#"{"changes":[]}"#.utf8)
        let headers = RequestSignature.sign(method: "POST", path: path, query: "a=1", body: body, key: Fixture.key, keyID: device, created: 42)
        let parsed = try RequestSignature.parse(signatureInput: headers.signatureInput, signature: headers.signature)
        #expect(parsed.keyID == device && parsed.created == 42)
        let digest = RequestSignature.contentDigest(of: body)
        #expect(RequestSignature.isValid(parsed, method: "POST", path: path, query: "a=1", contentDigest: digest, key: Fixture.key))
        #expect(!RequestSignature.isValid(parsed, method: "GET", path: path, query: "a=1", contentDigest: digest, key: Fixture.key))
        #expect(!RequestSignature.isValid(parsed, method: "POST", path: path + "x", query: "a=1", contentDigest: digest, key: Fixture.key))
        #expect(!RequestSignature.isValid(parsed, method: "POST", path: path, query: "a=2", contentDigest: digest, key: Fixture.key))
        #expect(
            !RequestSignature.isValid(
                parsed, method: "POST", path: path, query: "a=1", contentDigest: RequestSignature.contentDigest(of: [1]), key: Fixture.key))
        #expect(!RequestSignature.isValid(parsed, method: "POST", path: path, query: "a=1", contentDigest: digest, key: Fixture.otherKey))
    }

    @Test(arguments: [
        (
            #"other=("@method");created=1;nonce="aaaaaaaaaaaaaaaa";keyid="0193a5c0-0000-7000-8000-000000000001";alg="hmac-sha256""#,
            "labelled caresync"
        ),
        (#"caresync=("@method");created=1;nonce="aaaaaaaaaaaaaaaa";keyid="0193a5c0-0000-7000-8000-000000000001";alg="hmac-sha256""#, "cover exactly"),
        (
            #"caresync=("@method" "@path" "@query" "content-digest");nonce="aaaaaaaaaaaaaaaa";keyid="0193a5c0-0000-7000-8000-000000000001";alg="hmac-sha256""#,
            "created"
        ),
        (
            #"caresync=("@method" "@path" "@query" "content-digest");created=1;nonce="short";keyid="0193a5c0-0000-7000-8000-000000000001";alg="hmac-sha256""#,
            "nonce"
        ),
        (
            #"caresync=("@method" "@path" "@query" "content-digest");created=1;nonce="aaaaaaaaaaaaaaaa";keyid="0193a5c0-0000-7000-8000-000000000001";alg="rsa-pss-sha512""#,
            "algorithm"
        ),
    ])
    func malformedSignatureInputIsRefusedWithAReason(input: String, reason: String) {
        let error = #expect(throws: RequestSignatureError.self) {
            try RequestSignature.parse(signatureInput: input, signature: "caresync=:\(Data(count: 32).base64EncodedString()):")
        }
        #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
    }
}
