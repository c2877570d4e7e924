import CareSyncServer
import Foundation
import SyncCore
import Testing

struct EnrollmentTests {
    @Test func ownerInviteEnrollsOnceAndReturnsAFreshKey() async throws {
        try await withServer { harness, client in
            let (diary, code) = try await harness.store.createDiary(name: "Mia")
            #expect(InviteCodeShape.isWellFormed(code))
            let owner = try await client.enroll(code: code)
            #expect(owner.diary.canonical == diary)
            #expect(owner.role == "owner")
            let again = try await client.send(.post, "/v1/enroll", body: Array(#"{"code":"\#(code)","device_name":"second"}"#.utf8))
            #expect(again.status == .unauthorized)
            #expect(again.errorCode == "invalid_invite")
        }
    }

    @Test func codesAreFreshAndCarryAtLeast100BitsOfRandomness() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        var codes: [String] = []
        for _ in 0..<50 { codes.append(try await harness.store.createDiary(name: "x").code) }
        #expect(Set(codes).count == codes.count)
        // 32 base32 characters: 160 bits.
        for code in codes { #expect(code.filter { $0 != "-" }.count * 5 >= 100) }
    }

    @Test func typedCodesForgiveCaseSpacesAndDashes() async throws {
        try await withServer { harness, client in
            let (_, code) = try await harness.store.createDiary(name: "Mia")
            let typed = code.uppercased().replacingOccurrences(of: "-", with: " ")
            let owner = try await client.enroll(code: typed)
            #expect(owner.role == "owner")
        }
    }

    @Test func expiredInviteIsRefused() async throws {
        try await withServer { harness, client in
            let (_, code) = try await harness.store.createDiary(name: "Mia", now: Date().addingTimeInterval(-8 * 86_400))
            let response = try await client.send(.post, "/v1/enroll", body: Array(#"{"code":"\#(code)","device_name":"late"}"#.utf8))
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "invalid_invite")
        }
    }

    @Test func repeatedFailedEnrollmentsAreRateLimited() async throws {
        try await withServer { _, client in
            var statuses: [Int] = []
            for attempt in 0..<12 {
                let response = try await client.send(.post, "/v1/enroll", body: Array(#"{"code":"guess-\#(attempt)","device_name":"x"}"#.utf8))
                statuses.append(response.status.code)
            }
            #expect(statuses.prefix(10).allSatisfy { $0 == 401 })
            #expect(statuses.suffix(2).allSatisfy { $0 == 429 })
        }
    }

    @Test(arguments: [
        (#"{"code": 12, "device_name": "x"}"#, "\"code\" must be a string"),
        (#"{"device_name": "x"}"#, "\"code\" is required"),
        (#"{"code": "a", "device_name": "x", "admin": true}"#, "unknown member \"admin\""),
        (#"{"code": "a", "device_name": ""}"#, "\"device_name\" must be one line"),
        ("{not json", "not valid JSON"),
    ])
    func malformedEnrollmentIsRefusedWithAReason(body: String, message: String) async throws {
        try await withServer { _, client in
            let response = try await client.send(.post, "/v1/enroll", body: Array(body.utf8))
            #expect(response.status == .badRequest)
            #expect(response.errorMessage.contains(message), "\(response.errorMessage)")
        }
    }

    @Test func anEnrollmentBodyOverItsLimitIsAJSONRefusalNamingTheLimit() async throws {
        try await withServer { harness, client in
            let (_, code) = try await harness.store.createDiary(name: "Mia")
            let padded = #"{"code":"\#(code)","device_name":"\#(String(repeating: "x", count: 16 * 1024))"}"#
            let response = try await client.send(.post, "/v1/enroll", body: Array(padded.utf8))
            #expect(response.status == .contentTooLarge)
            #expect(response.errorCode == "body_too_large")
            #expect(response.errorMessage.contains("16384 bytes"), "\(response.errorMessage)")
            _ = try await client.enroll(code: code)
        }
    }

    /// A device name counts code points, as the fields' texts do, and is one line without control
    /// characters once trimmed of white space at both ends (docs/PROTOCOL.md section 7).
    @Test(arguments: [
        (String(repeating: "e\u{301}", count: 51), "must be at most 100 characters (got 102)"),
        ("mum's\tlaptop", "must be a single line of text without control characters (found U+0009)"),
        ("mum's\u{2028}laptop", "must be a single line of text without control characters (found U+2028)"),
        ("mum's\u{85}laptop", "must be a single line of text without control characters (found U+0085)"),
        (" \u{3000}\n", "must not be empty"),
    ])
    func aDeviceNameBreakingItsRuleIsRefusedSayingWhy(name: String, rule: String) async throws {
        try await withServer { harness, client in
            let (_, code) = try await harness.store.createDiary(name: "Mia")
            let body = JSONValue.object(["code": .string(code), "device_name": .string(name)]).canonicalBytes
            let response = try await client.send(.post, "/v1/enroll", body: body)
            #expect(response.status == .badRequest)
            #expect(response.errorCode == "bad_request")
            #expect(response["error"]?.objectValue?["field"] == "device_name")
            #expect(response["error"]?.objectValue?["rule"]?.stringValue == rule, "\(response.errorMessage)")
            _ = try await client.enroll(code: code)
        }
    }

    @Test func aDeviceNameIsTrimmedAndCountedInCodePoints() async throws {
        try await withServer { harness, client in
            let (_, code) = try await harness.store.createDiary(name: "Mia")
            let longest = String(repeating: "e\u{301}", count: 50)
            let owner = try await client.enroll(code: code, name: "\u{3000} \(longest)\n")
            let devices = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/devices", by: owner)
            let stored = devices["devices"]?.arrayValue?.first?.objectValue?["name"]?.stringValue
            #expect(stored?.unicodeScalars.elementsEqual(longest.unicodeScalars) == true, "100 code points, trimmed")
        }
    }

    @Test func ownerInvitesAndListsDevicesButOthersCannotInvite() async throws {
        try await withServer { harness, client in
            let family = try await client.family(harness)
            let devices = try await client.signed(.get, "/v1/diaries/\(family.caregiver.diary.canonical)/devices", by: family.caregiver)
            #expect(devices.status == .ok)
            let listed = devices["devices"]?.arrayValue ?? []
            #expect(listed.compactMap { $0.objectValue?["role"]?.stringValue } == ["owner", "caregiver", "clinician"])
            #expect(!devices.json.canonicalString.contains(family.owner.key.hexForStorage), "keys are never sent after enrollment")
            let refused = try await client.invite("caregiver", by: family.caregiver)
            #expect(refused.status == .forbidden)
            #expect(refused.errorCode == "owner_only")
            let ownerInvite = try await client.invite("owner", by: family.owner)
            #expect(ownerInvite.status == .badRequest)
        }
    }
}

enum InviteCodeShape {
    static func isWellFormed(_ code: String) -> Bool {
        code.split(separator: "-").count == 8 && code.split(separator: "-").allSatisfy { $0.count == 4 }
            && code.allSatisfy { $0 == "-" || ("a"..."z").contains($0) || ("2"..."7").contains($0) }
    }
}
