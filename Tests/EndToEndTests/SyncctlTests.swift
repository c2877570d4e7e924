import Foundation
import GRDB
import SyncCore
import Testing

@testable import CareSyncClient

/// A family using the real `syncctl` against the real `caresync-server` (docs/USAGE.md).
@Suite struct SyncctlTests {
    static func id(_ output: String) -> String { output.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func aFlareRecordedByOneParentAppearsForTheOther() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let id = Self.id(
                try await family.ok(
                    "mum", "flare", "add", "--started", "2026-11-20", "--site", "tibia-left", "--site", "femur-right", "--pain", "6",
                    "--swelling", "--fever-c", "38.40", "--notes", "woke at night, \"worse\" on stairs"))
            #expect(UUID(canonical: id) != nil, "flare add prints the new id alone")
            try await family.ok("mum", "push")
            try await family.ok("dad", "pull")
            let records = try await family.records("dad")
            try #require(records.count == 1)
            let flare = records[0]
            #expect(flare["id"] as? String == id)
            #expect(flare["type"] as? String == "flare")
            #expect(flare["deleted"] as? Bool == false)
            #expect(flare["started"] as? String == "2026-11-20")
            #expect(flare["sites"] as? [String] == ["tibia-left", "femur-right"])
            #expect(flare["pain"] as? Int == 6)
            #expect(flare["swelling"] as? Bool == true)
            #expect((flare["fever_c"] as? NSNumber)?.doubleValue == 38.4)
            #expect(flare["notes"] as? String == "woke at night, \"worse\" on stairs")
            let shown = try await family.ok("dad", "flare", "show", String(id.prefix(8)), "--json")
            #expect(shown.contains(#""pain":6"#))
        }
    }

    @Test func concurrentEditsOfDifferentFieldsOfOneFlareBothSurvive() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let id = Self.id(try await family.ok("mum", "flare", "add", "--started", "2026-11-20", "--site", "ulna-left", "--pain", "4"))
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            // Both edit offline, different fields.
            try await family.ok("mum", "flare", "update", id, "--pain", "7")
            try await family.ok("dad", "flare", "update", id, "--ended", "2026-11-24", "--limp")
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            try await family.ok("mum", "sync")
            for parent in ["mum", "dad"] {
                let flare = try #require(try await family.records(parent).first)
                #expect(flare["pain"] as? Int == 7, "\(parent)")
                #expect(flare["ended"] as? String == "2026-11-24", "\(parent)")
                #expect(flare["limp"] as? Bool == true, "\(parent)")
            }
            let conflicts = try await family.ok("mum", "conflicts", "--json")
            #expect(conflicts.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "different fields do not conflict")
        }
    }

    @Test func twoParentsEditingPainAtOnceSeeTheSameValueAndTheOverriddenOneIsListed() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let id = Self.id(try await family.ok("mum", "flare", "add", "--started", "2026-11-20", "--site", "spine", "--pain", "4"))
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            try await family.ok("mum", "flare", "update", id, "--pain", "8")
            try await family.ok("dad", "flare", "update", id, "--pain", "5")
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            try await family.ok("mum", "sync")
            let mums = try #require(try await family.records("mum").first?["pain"] as? Int)
            let dads = try #require(try await family.records("dad").first?["pain"] as? Int)
            #expect(mums == dads, "every device converges on one value")
            #expect([5, 8].contains(mums))
            for parent in ["mum", "dad"] {
                let text = try await family.ok(parent, "conflicts", "--json")
                let conflicts = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
                try #require(conflicts.count == 1, "\(parent): \(text)")
                let conflict = conflicts[0]
                #expect(conflict["record"] as? String == id && conflict["field"] as? String == "pain")
                let kept = try #require(conflict["kept"] as? [String: Any])
                let overridden = try #require(conflict["overridden"] as? [String: Any])
                #expect(kept["value"] as? Int == mums)
                #expect(overridden["value"] as? Int == 13 - mums)
                #expect(Set([kept["author_name"] as? String, overridden["author_name"] as? String]) == ["mum's laptop", "dad's laptop"])
            }
            // Editing the field again, having seen both values, resolves the conflict.
            try await family.ok("dad", "flare", "update", id, "--pain", "6")
            try await family.ok("dad", "sync")
            try await family.ok("mum", "sync")
            #expect(try await family.ok("mum", "conflicts", "--json").trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
            #expect(try await family.records("mum").first?["pain"] as? Int == 6)
            let log = try await family.ok("mum", "log", id)
            #expect(log.contains("dad's laptop (caregiver)") && log.contains("mum's laptop (owner)") && log.contains("pain=6"), "\(log)")
        }
    }

    @Test func aTreatmentLinkedToAFlareReachesTheClinicianWhoseEditsAreRefused() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            try await family.invite("clinic", role: "clinician")
            let flare = Self.id(try await family.ok("mum", "flare", "add", "--started", "2026-11-02", "--site", "clavicle-right", "--pain", "7"))
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            let treatment = Self.id(
                try await family.ok(
                    "dad", "treatment", "add", "--kind", "nsaid", "--name", "naproxen", "--dose", "250", "--unit", "mg", "--route", "oral",
                    "--started", "2026-11-03", "--flare", String(flare.prefix(10))))
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            try await family.ok("clinic", "pull")
            let treatments = try await family.records("clinic", "treatment")
            try #require(treatments.count == 1)
            #expect(treatments[0]["id"] as? String == treatment)
            #expect(treatments[0]["flare"] as? String == flare)
            #expect((treatments[0]["dose"] as? NSNumber)?.intValue == 250 && treatments[0]["unit"] as? String == "mg")
            #expect(try await family.records("clinic").first?["id"] as? String == flare)

            let refused = try await family.syncctl("clinic", ["flare", "update", flare, "--pain", "2"])
            #expect(refused.status == 4, "\(refused)")
            #expect(refused.stderr.contains("clinician") && refused.stderr.contains("read-only"), "\(refused)")
            let added = try await family.syncctl("clinic", ["flare", "add", "--started", "2026-11-05", "--site", "rib-left", "--pain", "2"])
            #expect(added.status == 4 && added.stdout.isEmpty, "\(added)")
            #expect(try await family.status("clinic")["pending"] as? Int == 0, "nothing is queued")
            #expect(try await family.records("clinic").first?["pain"] as? Int == 7)
        }
    }

    @Test func withTheServerDownPushExits3AndKeepsTheChangeUntilItIsBack() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            await family.server.stop()
            let id = Self.id(try await family.ok("mum", "flare", "add", "--started", "2026-11-20", "--site", "talus-left", "--pain", "5"))
            let push = try await family.syncctl("mum", ["push"])
            #expect(push.status == 3, "\(push)")
            #expect(push.stderr.contains("outbox"), "the message says nothing is lost: \(push.stderr)")
            #expect(try await family.status("mum")["pending"] as? Int == 1)
            try await family.restartServer()
            try await family.ok("mum", "push")
            #expect(try await family.status("mum")["pending"] as? Int == 0)
            try await family.ok("dad", "pull")
            #expect(try await family.records("dad").first?["id"] as? String == id)
        }
    }

    @Test func aDeletedRecordIsHiddenFromListAndShownWithIncludeDeleted() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let kept = Self.id(try await family.ok("mum", "flare", "add", "--started", "2026-11-01", "--site", "pelvis-left", "--pain", "3"))
            let gone = Self.id(try await family.ok("mum", "flare", "add", "--started", "2026-11-02", "--site", "sacrum", "--pain", "2"))
            try await family.ok("mum", "flare", "delete", gone)
            try await family.ok("mum", "sync")
            try await family.ok("dad", "pull")
            #expect(try await family.records("dad").compactMap { $0["id"] as? String } == [kept])
            let all = try await family.records("dad", includeDeleted: true)
            #expect(Set(all.compactMap { $0["id"] as? String }) == [kept, gone])
            #expect(all.first { $0["id"] as? String == gone }?["deleted"] as? Bool == true)
            try await family.ok("dad", "flare", "restore", gone)
            try await family.ok("dad", "sync")
            try await family.ok("mum", "pull")
            #expect(try await family.records("mum").count == 2)
        }
    }

    @Test func invalidInputExitsNonZeroNamingTheFieldAndQueuesNothing() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let base = ["flare", "add", "--started", "2026-11-20"]
            let cases: [([String], String)] = [
                (base + ["--site", "tibia-left", "--pain", "11"], "pain"),
                (base + ["--site", "elbow", "--pain", "3"], "sites"),
                (base + ["--site", "tibia", "--pain", "3"], "sites"),
                (base + ["--site", "tibia-left", "--pain", "3", "--fever-c", "55"], "fever_c"),
                (["flare", "add", "--started", "20/11/2026", "--site", "tibia-left", "--pain", "3"], "started"),
                (["treatment", "add", "--kind", "nsaid", "--name", "naproxen", "--dose", "250", "--started", "2026-11-20"], "unit"),
            ]
            for (arguments, field) in cases {
                let result = try await family.syncctl("mum", arguments)
                #expect(result.status == 1, "\(arguments): \(result)")
                #expect(result.stderr.contains(field), "\(arguments) names \(field): \(result.stderr)")
                #expect(result.stdout.isEmpty)
            }
            let usage = try await family.syncctl("mum", ["flare", "add", "--pain", "many"])
            #expect(usage.status == 2, "a usage error: \(usage)")
            #expect(try await family.status("mum")["pending"] as? Int == 0)
            #expect(try await family.records("mum").isEmpty)
        }
    }

    @Test func aRevokedDeviceCannotPull() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let devices = try await family.ok("mum", "devices", "--json")
            let list = try #require(try JSONSerialization.jsonObject(with: Data(devices.utf8)) as? [[String: Any]])
            let dad = try #require(list.first { $0["name"] as? String == "dad's laptop" })
            #expect(dad["role"] as? String == "caregiver" && dad["revoked"] as? Bool == false)
            try await family.ok("mum", "revoke", try #require(dad["id"] as? String))
            let pull = try await family.syncctl("dad", ["pull"])
            #expect(pull.status == 4, "\(pull)")
            #expect(pull.stderr.contains("device_revoked"), "\(pull.stderr)")
            let notOwner = try await family.syncctl("dad", ["invite", "--role", "caregiver"])
            #expect(notOwner.status == 4, "\(notOwner)")
        }
    }

    @Test func aPullKilledHalfWayResumesWithoutGapsOrDuplicates() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            // Enough changes for many pages: imported in one go, pushed by the library.
            let count = 5_000
            let rows = (0..<count).map { index in
                #"{"type":"flare","started":"2026-0\#(index % 9 + 1)-1\#(index % 9)","sites":["rib-left"],"pain":\#(index % 11),"notes":"entry \#(index)"}"#
            }
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            try mum.importRecords(Data(("[" + rows.joined(separator: ",") + "]").utf8), format: .json)
            try await mum.push()

            let pull = Process()
            pull.executableURL = Binaries.syncctl
            pull.arguments = ["pull"]
            pull.environment = ProcessInfo.processInfo.environment.merging(["CARESYNC_HOME": family.home("dad")]) { $1 }
            pull.standardOutput = FileHandle.nullDevice
            pull.standardError = FileHandle.nullDevice
            let dad = try DiaryDevice(home: ClientHome(path: family.home("dad")))
            try pull.run()
            // The pull runs in slices of about 2 ms, stopped (SIGSTOP) while its cursor is read, so that it
            // is caught after its first page and before its last however fast it is. Polled while it ran
            // freely, it was missed in 1 of 30 runs of the suite: a delayed poll found it finished.
            var cursor: Int64 = 0
            while pull.isRunning {
                kill(pull.processIdentifier, SIGSTOP)
                cursor = try dad.replica.pullPosition().cursor
                if cursor > 0 {
                    kill(pull.processIdentifier, SIGKILL)
                    break
                }
                kill(pull.processIdentifier, SIGCONT)
                usleep(2_000)
            }
            await waitForExit(pull)
            let merged = try dad.replica.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM change")! }
            try #require(cursor > 0 && merged < count, "the pull was caught half way (\(merged) of \(count) merged)")
            #expect(Int64(merged) == (try dad.replica.pullPosition().cursor), "the cursor moved with exactly what was merged")

            try await family.ok("dad", "pull")
            let records = try await family.records("dad")
            #expect(records.count == count)
            #expect(Set(records.compactMap { $0["notes"] as? String }).count == count, "every record once")
            let changes = try dad.replica.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM change")! }
            #expect(changes == count)
        }
    }

    @Test func afterTheServerIsReplacedByAnOlderBackupOneSyncFromEachDeviceBringsEverythingBack() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let early = Self.id(try await family.ok("mum", "flare", "add", "--started", "2026-10-01", "--site", "femur-left", "--pain", "5"))
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            let backup = family.folder.path("backup.sqlite")
            #expect(try await family.serverCommand(["backup", "--db", family.database, "--to", backup]).status == 0)

            // After the backup: both parents record and sync; mum pulls dad's work too.
            let late = Self.id(try await family.ok("mum", "flare", "add", "--started", "2026-11-01", "--site", "tibia-right", "--pain", "6"))
            try await family.ok("mum", "flare", "update", early, "--ended", "2026-10-09")
            let dads = Self.id(
                try await family.ok("dad", "treatment", "add", "--kind", "bisphosphonate", "--name", "pamidronate", "--started", "2026-11-02"))
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            try await family.ok("mum", "sync")

            // The server's disk dies; the operator restores last week's backup.
            await family.server.stop()
            try await family.restartServer(database: backup)
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")

            // A new device joining now finds everything.
            try await family.invite("grandma", role: "caregiver")
            try await family.ok("grandma", "pull")
            let flares = try await family.records("grandma")
            #expect(Set(flares.compactMap { $0["id"] as? String }) == [early, late])
            #expect(flares.first { $0["id"] as? String == early }?["ended"] as? String == "2026-10-09")
            #expect(try await family.records("grandma", "treatment").compactMap { $0["id"] as? String } == [dads])
            let verified = try await family.serverCommand(["verify", "--db", backup])
            #expect(verified.status == 0, "\(verified)")
        }
    }
}
