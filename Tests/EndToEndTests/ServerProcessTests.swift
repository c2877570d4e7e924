import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import NIOHTTP1
import SyncCore
import Testing

@testable import CareSyncClient

/// The real `caresync-server` process: durability across kill -9, graceful SIGTERM, TLS, and the exit
/// codes of its operator commands.
@Suite struct ServerProcessTests {
    static let flare = ["flare", "add", "--started", "2026-11-20", "--site", "tibia-left", "--pain", "6"]

    @Test func anAcknowledgedPushSurvivesKillDashNine() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let id = try await family.ok("mum", "flare", "add", "--started", "2026-11-20", "--site", "tibia-left", "--pain", "6")
            try await family.ok("mum", "push")
            await family.server.crash()
            try await family.restartServer()
            try await family.ok("dad", "pull")
            let records = try await family.records("dad")
            #expect(records.compactMap { $0["id"] as? String } == [id.trimmingCharacters(in: .whitespacesAndNewlines)])
            #expect(records.first?["pain"] as? Int == 6)
        }
    }

    @Test func sigtermLetsTheRequestInFlightFinishThenStops() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let device = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            try device.add(.flare, fields: ["started": "2026-11-20", "sites": ["tibia-left"], "pain": 5])
            let change = try #require(try device.replica.outboxBatch(after: 0, limit: 1).first)
            let body = Array(#"{"changes":["#.utf8) + change.body + Array("]}".utf8)
            let path = "/v1/diaries/\(device.identity.diary.canonical)/changes"
            let headers = RequestSignature.sign(
                method: "POST", path: path, query: "", body: body, key: device.key, keyID: device.identity.device,
                created: Int64(Date().timeIntervalSince1970))

            // The body arrives in two halves; SIGTERM comes between them.
            let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream()
            var request = HTTPClientRequest(url: family.server.url + path)
            request.method = .POST
            request.headers.add(name: "Content-Digest", value: headers.contentDigest)
            request.headers.add(name: "Signature-Input", value: headers.signatureInput)
            request.headers.add(name: "Signature", value: headers.signature)
            request.body = .stream(chunks, length: .known(Int64(body.count)))
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            continuation.yield(ByteBuffer(bytes: body.prefix(body.count / 2)))
            let response = Task { try await client.execute(request, timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(500))
            family.server.signal(SIGTERM)
            try await Task.sleep(for: .milliseconds(500))
            #expect(family.server.process.isRunning, "the server waits for the request in flight")
            continuation.yield(ByteBuffer(bytes: body.suffix(from: body.count / 2)))
            continuation.finish()
            let answer = try await response.value
            let text = String(buffer: try await answer.body.collect(upTo: 1 << 20))
            try await client.shutdown()
            #expect(answer.status == .ok, "\(text)")
            #expect(text.contains(#""stored":1"#))
            #expect(await family.server.stop() == 0)
            #expect(family.server.logText.contains("server stopped"))
            let verified = try await family.serverCommand(["verify", "--db", family.database])
            #expect(verified.status == 0 && verified.stdout.contains("1 changes checked"), "\(verified)")
            try await family.restartServer()
        }
    }

    @Test func servesHTTPSWithTheGivenCertificate() async throws {
        let tls = ["--tls-cert", "cert.pem", "--tls-key", "key.pem"]
        var arguments: [String] = []
        try await withFamily(
            {
                try await Family.start(serverArguments: [], scheme: "https") { folder in
                    let made = Process()
                    made.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
                    made.currentDirectoryURL = folder.url
                    made.arguments = [
                        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "key.pem", "-out",
                        "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    ]
                    made.standardError = FileHandle.nullDevice
                    try made.run()
                    made.waitUntilExit()
                    try #require(made.terminationStatus == 0, "openssl could not make a test certificate")
                    arguments = tls.map { $0.hasSuffix(".pem") ? folder.path($0) : $0 }
                }
            },
            { family in
                // The family above started plain; start it again with the certificate.
                await family.server.stop()
                family.server = try await ServerProcess(
                    database: family.database, port: family.port, log: family.folder.path("tls.log"), arguments: arguments, scheme: "https")
                let code = try await family.createDiaryCode()
                let plain = try await family.syncctl("mum", ["join", "http://127.0.0.1:\(family.port)", code])
                #expect(plain.status == 3, "plain HTTP to a TLS port cannot be understood: \(plain)")
                let untrusted = try await family.syncctl("mum", ["join", family.server.url, code])
                #expect(untrusted.status == 3, "a certificate nobody vouched for is refused: \(untrusted)")
                try await family.ok("mum", "join", family.server.url, code, "--ca-file", family.folder.path("cert.pem"))
                try await family.ok("mum", "flare", "add", "--started", "2026-11-20", "--site", "rib-left", "--pain", "3")
                try await family.ok("mum", "sync")
                #expect(try await family.status("mum")["pending"] as? Int == 0)
            })
    }

    @Test func verifyExitsNonZeroNamingAnEditedChange() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            try await family.ok("mum", "flare", "add", "--started", "2026-11-20", "--site", "tibia-left", "--pain", "6")
            try await family.ok("mum", "push")
            let clean = try await family.serverCommand(["verify", "--db", family.database])
            #expect(clean.status == 0, "\(clean)")

            let queue = try DatabaseQueue(path: family.database)
            let id = try await queue.write { db in
                try db.execute(sql: #"UPDATE change SET body = CAST(replace(CAST(body AS TEXT), '"pain":6', '"pain":2') AS BLOB)"#)
                return try String.fetchOne(db, sql: "SELECT id FROM change")!
            }
            try queue.close()
            let tampered = try await family.serverCommand(["verify", "--db", family.database])
            #expect(tampered.status == 1, "\(tampered)")
            #expect(tampered.stdout.contains(id))
        }
    }

    @Test func backupWritesAVerifiableCopyAndRefusesToOverwrite() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            try await family.ok("mum", "flare", "add", "--started", "2026-11-20", "--site", "tibia-left", "--pain", "6")
            try await family.ok("mum", "push")
            let copy = family.folder.path("backup.sqlite")
            let backup = try await family.serverCommand(["backup", "--db", family.database, "--to", copy])
            #expect(backup.status == 0, "\(backup)")
            let verified = try await family.serverCommand(["verify", "--db", copy])
            #expect(verified.status == 0 && verified.stdout.contains("1 changes checked"), "\(verified)")
            let again = try await family.serverCommand(["backup", "--db", family.database, "--to", copy])
            #expect(again.status != 0 && again.stderr.contains(copy), "\(again)")
        }
    }
}
