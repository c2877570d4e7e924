import Foundation
import GRDB
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

            // The body arrives in two halves; SIGTERM comes once the server has read the first (through a
            // plain socket, to know it has: an HTTP client's request could still be on its way).
            let head =
                "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(family.server.port)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.count)\r\nContent-Digest: \(headers.contentDigest)\r\n"
                + "Signature-Input: \(headers.signatureInput)\r\nSignature: \(headers.signature)\r\nConnection: close\r\n\r\n"
            let connection = try RawConnection(port: family.server.port)
            defer { connection.close() }
            try connection.send(Array(head.utf8) + body.prefix(body.count / 2))
            try await connection.waitUntilTheServerHasReadEverything()
            family.server.signal(SIGTERM)
            try await Task.sleep(for: .milliseconds(500))
            #expect(family.server.process.isRunning, "the server waits for the request in flight")
            try connection.send(Array(body.suffix(from: body.count / 2)))
            let answer = String(decoding: connection.receiveAll(), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            #expect(answer.contains(#""stored":1"#))
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
