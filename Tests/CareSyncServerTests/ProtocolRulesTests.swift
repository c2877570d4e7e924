import CareSyncServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import SyncCore
import Testing

/// The rules of docs/PROTOCOL.md that a client author would otherwise have to guess: the shape of every
/// request, what a push accepts of a change, and what a pull's cursors are.
struct ProtocolRulesTests {
    // MARK: Every request

    /// Every endpoint, with the query parameters it takes, and one that takes none for each method.
    static func endpoints(_ owner: TestDevice, caregiver: TestDevice) -> [(HTTPRequest.Method, String, body: String)] {
        let diary = "/v1/diaries/\(owner.diary.canonical)"
        return [
            (.get, diary, ""), (.get, diary + "/devices", ""), (.get, diary + "/changes", ""),
            (.post, diary + "/changes", #"{"changes":[]}"#), (.post, diary + "/invites", #"{"role":"caregiver"}"#),
            (.post, diary + "/devices/\(caregiver.id.canonical)/revoke", ""),
        ]
    }

    @Test func anUnknownQueryParameterIsRefusedNamingItOnEveryEndpoint() async throws {
        try await withServer { harness, client in
            let (owner, caregiver, _) = try await client.family(harness)
            for (method, path, body) in Self.endpoints(owner, caregiver: caregiver) {
                let response = try await client.signed(method, path + "?colour=blue", by: owner, body: Array(body.utf8))
                #expect(response.status == .badRequest, "\(method) \(path)")
                #expect(response.errorCode == "bad_request", "\(method) \(path)")
                #expect(response.errorMessage.contains(#"unknown query parameter "colour""#), "\(method) \(path): \(response.errorMessage)")
            }
            let pull = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes?after=0&since=5", by: owner)
            #expect(pull.status == .badRequest)
            #expect(pull.errorMessage.contains(#""since""#) && pull.errorMessage.contains("after, limit"), "\(pull.errorMessage)")
            let enroll = try await client.send(.post, "/v1/enroll?colour=blue", body: Array(#"{"code":"a","device_name":"x"}"#.utf8))
            #expect(enroll.status == .badRequest)
            #expect(enroll.errorMessage.contains(#"unknown query parameter "colour""#), "\(enroll.errorMessage)")
            // Nothing was done by the refused requests: the caregiver is not revoked.
            let devices = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/devices", by: owner)
            #expect(devices["devices"]?.arrayValue?.allSatisfy { $0.objectValue?["revoked"] == false } == true)
        }
    }

    @Test(arguments: ["after=1&after=2", "limit=5&after=0&limit=5"])
    func aRepeatedQueryParameterIsRefusedNamingIt(query: String) async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let response = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes?\(query)", by: owner)
            #expect(response.status == .badRequest)
            let name = query.hasPrefix("after") ? "after" : "limit"
            #expect(response.errorMessage.contains(#"query parameter "\#(name)" is given more than once"#), "\(response.errorMessage)")
        }
    }

    @Test func theQueryParametersAreReadAsSent() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            _ = try await client.push([owner.change(), owner.change()], by: owner)
            let page = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes?limit=1", by: owner)
            #expect(page["changes"]?.arrayValue?.count == 1, "a parameter left out takes its default")
            let encoded = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes?limit=%31", by: owner)
            #expect(encoded.status == .badRequest, "values are plain digits, not percent-encoded")
        }
    }

    /// A signed request with the Content-Type given, or none.
    func signed(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, by device: TestDevice, body: [UInt8],
        contentType: String?
    ) async throws -> TestResponse {
        let signature = RequestSignature.sign(
            method: method.rawValue, path: path, query: "", body: body, key: device.key, keyID: device.id,
            created: Int64(Date().timeIntervalSince1970))
        var headers = HTTPFields()
        headers[HTTPField.Name("Content-Digest")!] = signature.contentDigest
        headers[HTTPField.Name("Signature-Input")!] = signature.signatureInput
        headers[HTTPField.Name("Signature")!] = signature.signature
        if let contentType { headers[.contentType] = contentType }
        return try await client.send(method, path, body: body, headers: headers)
    }

    @Test func aBodyMustBeSentAsJSONOrWithoutAType() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let path = "/v1/diaries/\(owner.diary.canonical)/changes"
            func push(_ contentType: String?) async throws -> TestResponse {
                let body = JSONValue.object(["changes": [owner.change().wireValue]]).canonicalBytes
                return try await signed(client, .post, path, by: owner, body: body, contentType: contentType)
            }
            for refused in ["text/plain", "application/x-www-form-urlencoded", "application/jsonl"] {
                let response = try await push(refused)
                #expect(response.status == .unsupportedMediaType, "\(refused)")
                #expect(response.errorCode == "unsupported_media_type", "\(refused)")
                #expect(response.errorMessage.contains(refused), "\(response.errorMessage)")
            }
            for accepted in ["application/json", "Application/JSON; charset=UTF-8", "application/json;charset=utf-8", nil] {
                #expect(try await push(accepted)["stored"] == 1, "\(accepted ?? "no Content-Type")")
            }
            #expect(try await client.pull(by: owner)["changes"]?.arrayValue?.count == 4, "only the pushes sent as JSON were stored")
            // A request without a body needs no Content-Type, and any is let pass.
            let pull = try await signed(client, .get, path, by: owner, body: [], contentType: "text/plain")
            #expect(pull.status == .ok)
        }
    }

    @Test func anEnrollmentBodyMustBeSentAsJSON() async throws {
        try await withServer { harness, client in
            let (_, code) = try await harness.store.createDiary(name: "Mia")
            let body = Array(#"{"code":"\#(code)","device_name":"mum's laptop"}"#.utf8)
            let refused = try await client.send(.post, "/v1/enroll", body: body, headers: [.contentType: "text/plain"])
            #expect(refused.status == .unsupportedMediaType)
            #expect(refused.errorCode == "unsupported_media_type")
            let enrolled = try await client.send(.post, "/v1/enroll", body: body, headers: [.contentType: "application/json; charset=utf-8"])
            #expect(enrolled.status == .created, "the refusal did not spend the code")
        }
    }

    // MARK: What a push accepts of a change

    /// A change's wire text with one member's JSON replaced, signed or not: the refusals below come
    /// before the signature is checked.
    func pushText(_ text: String, by device: TestDevice, _ client: any TestClientProtocol) async throws -> TestResponse {
        try await client.signed(
            .post, "/v1/diaries/\(device.diary.canonical)/changes", by: device, body: Array(#"{"changes":[\#(text)]}"#.utf8))
    }

    @Test func anUnknownMemberOfAChangeIs422NamingItButOfTheBody400() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            var wire = try #require(owner.change().wireValue.objectValue)
            wire["colour"] = "blue"
            let change = try await pushText(JSONValue.object(wire).canonicalString, by: owner, client)
            #expect(change.status == .unprocessableContent)
            #expect(change.errorCode == "invalid_field")
            #expect(change["error"]?.objectValue?["field"] == "colour")
            #expect(change["error"]?.objectValue?["index"] == 0)
            let body = try await client.signed(
                .post, "/v1/diaries/\(owner.diary.canonical)/changes", by: owner, body: Array(#"{"changes":[],"colour":"blue"}"#.utf8))
            #expect(body.status == .badRequest)
            #expect(body.errorCode == "bad_request")
            #expect(body.errorMessage.contains(#"unknown member "colour""#))
        }
    }

    @Test(arguments: [
        ("0000000000000000", "must be from 0000000000000001 to 7fffffffffffffff"),
        ("8000000000000000", "must be from 0000000000000001 to 7fffffffffffffff"),
        ("0193610C0D000000", "must be 16 lowercase hex digits"),
    ])
    func anHLCOutOfRangeIsRefusedSayingSo(hlc: String, rule: String) async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let change = owner.change(millis: 1_732_500_000_000)
            let text = change.wireValue.canonicalString.replacingOccurrences(of: change.change.hlc.text, with: hlc)
            let response = try await pushText(text, by: owner, client)
            #expect(response.status == .unprocessableContent)
            #expect(response.errorCode == "invalid_field")
            #expect(response["error"]?.objectValue?["field"] == "hlc")
            #expect(response["error"]?.objectValue?["rule"]?.stringValue?.hasPrefix(rule) == true, "\(response.errorMessage)")
            #expect(try await client.pull(by: owner)["changes"]?.arrayValue?.isEmpty == true)
        }
    }

    /// Required fields are required of a record, not of a change: a record made by a change without
    /// them is stored, and is complete once another change brings them.
    @Test func aChangeCreatingARecordWithoutItsRequiredFieldsIsStored() async throws {
        try await withServer { harness, client in
            var (owner, caregiver, _) = try await client.family(harness)
            let record = UUID.version7()
            let partial = try await client.push([owner.change(record: record, fields: ["notes": "swollen knee, more later"])], by: owner)
            #expect(partial.status == .ok)
            #expect(partial["stored"] == 1)
            let rest = try await client.push(
                [caregiver.change(record: record, fields: ["started": "2024-11-24", "sites": ["patella-left"]])], by: caregiver)
            #expect(rest["stored"] == 1)
            let cleared = try await client.push([owner.change(record: record, fields: ["pain": .null])], by: owner)
            #expect(cleared.status == .unprocessableContent, "a required field cannot be cleared")
            #expect(cleared["error"]?.objectValue?["rule"] == "is required and cannot be cleared")
        }
    }

    /// The server requires record and change ids in canonical form, not of version 7.
    @Test func idsOfAnyUUIDVersionAreStoredButOnlyInCanonicalForm() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let version4 = try #require(UUID(canonical: "0193a5c3-1d2e-4a40-9f00-2b7c4d5e6f70"))
            let change = Change(
                id: UUID(), diary: owner.diary, record: version4, type: .flare, hlc: HLC(millis: HybridLogicalClock.wallMillisNow(), counter: 0),
                author: owner.id, fields: ["pain": 2], seen: ["pain": []])
            let stored = try await client.push([ChangeSigner.sign(change, with: owner.key)], by: owner)
            #expect(stored["stored"] == 1, "\(stored.json.canonicalString)")
            let text = ChangeSigner.sign(change, with: owner.key).wireValue.canonicalString
            let upper = try await pushText(
                text.replacingOccurrences(of: version4.canonical, with: version4.canonical.uppercased()), by: owner, client)
            #expect(upper.status == .unprocessableContent)
            #expect(upper["error"]?.objectValue?["field"] == "record")
        }
    }

    // MARK: A pull's cursors

    @Test func anEmptyPagesNextIsTheAfterSent() async throws {
        try await withServer { harness, client in
            var (owner, _, clinician) = try await client.family(harness)
            let empty = try await client.pull(by: clinician)
            #expect(empty["changes"]?.arrayValue?.isEmpty == true)
            #expect(empty["next"] == 0)
            let latest = try #require(try await client.push([owner.change(), owner.change()], by: owner)["latest"]?.intValue)
            for after in [latest, latest + 7] {
                let page = try await client.pull(by: clinician, after: after)
                #expect(page["changes"]?.arrayValue?.isEmpty == true, "after \(after)")
                #expect(page["next"]?.intValue == after, "after \(after)")
                #expect(page["more"] == false)
            }
        }
    }

    /// On SQLite, sequence numbers count the changes of every diary of the server: a diary's own have
    /// gaps where another diary's lie. On PostgreSQL, a position counts the diary's own changes alone,
    /// without a gap. Either way, following `next` brings every one of them.
    @Test func aDiarysSequenceNumbersHaveGapsAndNextFollowsThem() async throws {
        try await withServer { harness, client in
            var (mia, _, _) = try await client.family(harness)
            var (leo, _, _) = try await client.family(harness)
            var pushed: [Int64] = []
            for _ in 0..<3 {
                pushed.append(try #require(try await client.push([mia.change()], by: mia)["latest"]?.intValue))
                _ = try await client.push([leo.change(), leo.change()], by: leo)
            }
            let step: Int64 = TestEngine.current.isSQLite ? 3 : 1
            #expect(zip(pushed, pushed.dropFirst()).allSatisfy { $1 - $0 == step }, "\(pushed): Leo's changes lie between on SQLite only")
            var cursor: Int64 = 0
            var nexts: [Int64] = []
            while true {
                let page = try await client.pull(by: mia, after: cursor, limit: 1)
                cursor = try #require(page["next"]?.intValue)
                nexts.append(cursor)
                if page["more"] == false { break }
            }
            #expect(nexts == pushed)
        }
    }

    // MARK: Invites

    /// A clinician's access lasts at most ten years: a longer one was accepted and then made the code
    /// fail to enroll with a 500, as its expiry could not be stored.
    @Test func aClinicianInviteOfMoreThanTenYearsIsRefusedAndTenYearsEnrolls() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let tooLong = try await client.invite("clinician", by: owner, extra: ["access_expires_in_seconds": .int(315_360_001)])
            #expect(tooLong.status == .badRequest && tooLong.errorMessage.contains("315360000"), "\(tooLong.json.canonicalString)")
            let far = try await client.invite("clinician", by: owner, extra: ["access_expires_in_seconds": .int(1_000_000_000_000)])
            #expect(far.status == .badRequest)
            let tenYears = try await client.invite("clinician", by: owner, extra: ["access_expires_in_seconds": .int(315_360_000)])
            #expect(tenYears.status == .created)
            let clinician = try await client.enroll(code: tenYears["code"]!.stringValue!, name: "Dr Rossi")
            #expect(clinician.role == "clinician")
        }
    }
}
