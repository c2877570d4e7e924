import CareSyncServer
import Foundation
import SyncCore
import Testing

/// Every attack on an authenticated request is refused on its own, and changes nothing.
struct RequestAuthenticationTests {
    @Test func unsignedRequestIsRefused() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let response = try await client.send(.get, "/v1/diaries/\(owner.diary.canonical)/changes")
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "missing_signature")
        }
    }

    @Test func signatureWithAnotherKeyIsRefused() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let response = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes", by: owner, signingKey: DeviceKey.generate())
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "bad_signature")
        }
    }

    @Test func bodyChangedAfterSigningIsRefused() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let body = Array(#"{"changes":[]}"#.utf8)
            let tampered = JSONValue.object(["changes": [owner.change().wireValue]]).canonicalBytes
            let response = try await client.signed(
                .post, "/v1/diaries/\(owner.diary.canonical)/changes", by: owner, body: body, sentBody: tampered)
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "digest_mismatch")
            #expect(try await client.pull(by: owner)["changes"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func staleTimestampIsRefusedWithTheServersTime() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let stale = Int64(Date().timeIntervalSince1970) - 301
            let before = Int64(Date().timeIntervalSince1970)
            let response = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes", by: owner, created: stale)
            let after = Int64(Date().timeIntervalSince1970)
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "stale_signature")
            #expect(response.errorMessage.contains("clock"))
            let serverTime = response.json.objectValue?["error"]?.objectValue?["server_time"]?.intValue ?? 0
            #expect((before...after).contains(serverTime), "the server's clock as it read it while answering")
        }
    }

    @Test func replayedNonceIsRefused() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let nonce = RequestSignature.makeNonce()
            let first = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes", by: owner, nonce: nonce)
            #expect(first.status == .ok)
            let replay = try await client.signed(.get, "/v1/diaries/\(owner.diary.canonical)/changes", by: owner, nonce: nonce)
            #expect(replay.status == .unauthorized)
            #expect(replay.errorCode == "replayed_nonce")
        }
    }

    /// A captured owner request replayed to a restarted server, or to another instance over the same
    /// database, is refused: its nonce was spent in the database, not in the first server's memory.
    @Test func aRequestReplayedToARestartedOrAnotherServerIsRefused() async throws {
        let harness = try await ServerHarness()
        defer { harness.remove() }
        let created = Int64(Date().timeIntervalSince1970)
        let nonce = RequestSignature.makeNonce()
        let body = JSONValue.object(["role": "caregiver"]).canonicalBytes
        let owner = try await harness.app().test(.router) { client in
            let (owner, _, _) = try await client.family(harness)
            let first = try await client.signed(
                .post, "/v1/diaries/\(owner.diary.canonical)/invites", by: owner, body: body, created: created, nonce: nonce)
            #expect(first.status == .created)
            return owner
        }
        let other = try await harness.reopen()
        try await buildApplication(configuration: harness.configuration, store: other, logger: .quiet).test(.router) { client in
            let replay = try await client.signed(
                .post, "/v1/diaries/\(owner.diary.canonical)/invites", by: owner, body: body, created: created, nonce: nonce)
            #expect(replay.status == .unauthorized && replay.errorCode == "replayed_nonce", "\(replay.json.canonicalString)")
            #expect(replay["code"] == nil, "no second invite code")
        }
        try await other.close()
    }

    /// A push spends its nonce with its batch: sent again, even with changes never stored, it is refused and stores nothing.
    @Test func aReplayedPushIsRefusedAndStoresNothing() async throws {
        try await withServer { harness, client in
            var (owner, _, _) = try await client.family(harness)
            let nonce = RequestSignature.makeNonce()
            let path = "/v1/diaries/\(owner.diary.canonical)/changes"
            let first = JSONValue.object(["changes": [owner.change().wireValue]]).canonicalBytes
            #expect(try await client.signed(.post, path, by: owner, body: first, nonce: nonce).status == .ok)
            let replay = try await client.signed(.post, path, by: owner, body: first, nonce: nonce)
            #expect(replay.status == .unauthorized && replay.errorCode == "replayed_nonce", "\(replay.json.canonicalString)")
            let other = JSONValue.object(["changes": [owner.change().wireValue]]).canonicalBytes
            let reused = try await client.signed(.post, path, by: owner, body: other, nonce: nonce)
            #expect(reused.status == .unauthorized && reused.errorCode == "replayed_nonce")
            #expect(try await client.pull(by: owner)["changes"]?.arrayValue?.count == 1)
        }
    }

    @Test func anotherDiaryLooksLikeNoDiary() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let (otherDiary, _) = try await harness.store.createDiary(name: "Leo")
            let read = try await client.signed(.get, "/v1/diaries/\(otherDiary)/changes", by: owner)
            #expect(read.status == .notFound)
            var author = owner
            let write = try await client.push([author.change()], by: owner, diary: UUID(canonical: otherDiary)!)
            #expect(write.status == .notFound)
        }
    }

    @Test func revokedDeviceIsRefusedOnEveryRequest() async throws {
        try await withServer { harness, client in
            let (owner, caregiver, _) = try await client.family(harness)
            let revoked = try await client.signed(.post, "/v1/diaries/\(owner.diary.canonical)/devices/\(caregiver.id.canonical)/revoke", by: owner)
            #expect(revoked.status == .ok)
            #expect(revoked["revoked"] == .bool(true))
            for response in [
                try await client.pull(by: caregiver), try await client.signed(.get, "/v1/diaries/\(caregiver.diary.canonical)", by: caregiver),
            ] {
                #expect(response.status == .unauthorized)
                #expect(response.errorCode == "device_revoked")
            }
            let notOwner = try await client.signed(.post, "/v1/diaries/\(owner.diary.canonical)/devices/\(owner.id.canonical)/revoke", by: owner)
            #expect(notOwner.errorCode == "cannot_revoke_self")
        }
    }

    @Test func clinicianAccessExpires() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let invite = try await client.invite("clinician", by: owner, extra: ["access_expires_in_seconds": 60])
            let clinician = try await client.enroll(code: invite["code"]!.stringValue!, name: "Dr Short")
            #expect(try await client.pull(by: clinician).status == .ok)
            try await harness.sql(
                sqlite: "UPDATE device SET accessExpiresAt = ? WHERE id = ?", postgres: "UPDATE device SET access_expires_at = ? WHERE id = ?",
                [.date(Date().addingTimeInterval(-1)), .text(clinician.id.canonical)])
            let expired = try await client.pull(by: clinician)
            #expect(expired.status == .unauthorized)
            #expect(expired.errorCode == "access_expired")
        }
    }

    @Test func unknownDeviceIsRefused() async throws {
        try await withServer { harness, client in
            let (owner, _, _) = try await client.family(harness)
            let stranger = TestDevice(id: UUID.version7(), diary: owner.diary, key: DeviceKey.generate(), role: "owner")
            let response = try await client.pull(by: stranger)
            #expect(response.status == .unauthorized)
            #expect(response.errorCode == "unknown_device")
        }
    }
}
