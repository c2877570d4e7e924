import Foundation
import SyncCore
import Testing

@testable import CareSyncClient

/// The record types beyond flares and treatments through the real syncctl and server: a day's check-in
/// shared by the family, labs checked against their test, and a kind of record this version does not
/// know, which is kept, synced, counted and exported untouched.
@Suite struct RecordKindsTests {
    static func json(_ text: String) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    }

    @Test func twoParentsCheckingInOnOneDayEndWithOneRecordHoldingBothEdits() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            // Neither has synced since joining: both create the day's check-in offline.
            let mums = try await family.ok("mum", "checkin", "--date", "2026-11-20", "--pain", "3", "--school-missed", "part")
            let dads = try await family.ok("dad", "checkin", "--date", "2026-11-20", "--pain", "3", "--wellbeing", "6", "--limp")
            #expect(mums == dads, "the day's record id is the same on both devices")
            for _ in 0..<2 {
                try await family.ok("mum", "sync")
                try await family.ok("dad", "sync")
            }
            for parent in ["mum", "dad"] {
                let checkins = try await family.records(parent, "checkin")
                try #require(checkins.count == 1, "\(parent): one record for the day: \(checkins)")
                let day = checkins[0]
                #expect(day["id"] as? String == mums.trimmingCharacters(in: .whitespacesAndNewlines))
                #expect(day["date"] as? String == "2026-11-20" && day["pain"] as? Int == 3, "\(parent)")
                #expect(day["school_missed"] as? String == "part" && day["wellbeing"] as? Int == 6 && day["limp"] as? Bool == true, "\(parent)")
            }
            let conflicts = try await family.ok("mum", "conflicts", "--json")
            #expect(conflicts.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "both wrote pain 3: they agree")

            // Checking in again that day adds to the record; `show` finds it by its date.
            try await family.ok("dad", "checkin", "--date", "2026-11-20", "--pain", "5", "--notes", "worse after school")
            let shown = try await family.ok("dad", "checkin", "show", "2026-11-20")
            #expect(shown.contains("worse after school") && shown.contains("part"), "\(shown)")
            #expect(try await family.records("dad", "checkin").count == 1)
        }
    }

    @Test func labsImagingAndGrowthAreCheckedAtTheCommandLineAndSynced() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            try await family.ok(
                "mum", "lab", "add", "--taken", "2026-11-20 08:30", "--test", "crp", "--value", "12.5", "--unit", "mg/L", "--ref-high", "5")
            try await family.ok("mum", "imaging", "add", "--date", "2026-11-21", "--modality", "mri", "--site", "femur-left", "--active-lesions", "2")
            try await family.ok("mum", "growth", "add", "--date", "2026-11-21", "--height-cm", "128.5")

            let wrongUnit = try await family.syncctl("mum", ["lab", "add", "--taken", "today", "--test", "esr", "--value", "40", "--unit", "mg/L"])
            #expect(wrongUnit.status == 1 && wrongUnit.stderr.contains("unit") && wrongUnit.stderr.contains("mm/h"), "\(wrongUnit)")
            let nothing = try await family.syncctl("mum", ["growth", "add", "--date", "2026-11-22"])
            #expect(nothing.status == 1 && nothing.stderr.contains("height_cm or weight_kg"), "\(nothing)")
            let tooTall = try await family.syncctl("mum", ["growth", "add", "--date", "2026-11-22", "--height-cm", "231"])
            #expect(tooTall.status == 1 && tooTall.stderr.contains("height_cm"), "\(tooTall)")

            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            let lab = try #require(try await family.records("dad", "lab").first)
            #expect(lab["test"] as? String == "crp" && (lab["value"] as? NSNumber)?.doubleValue == 12.5 && lab["unit"] as? String == "mg/L")
            let taken = try #require(lab["taken"] as? String)
            // A time typed without an offset is this machine's local time, written with its offset.
            #expect(taken.hasPrefix("2026-11-20T08:30:00") && taken.count == 25, "\(taken)")
            let imaging = try #require(try await family.records("dad", "imaging").first)
            #expect(imaging["active_lesions"] as? Int == 2 && (imaging["sites"] as? [String]) == ["femur-left"])
            #expect((try await family.records("dad", "growth").first?["height_cm"] as? NSNumber)?.doubleValue == 128.5)
        }
    }

    @Test func aRecordOfANewerKindIsKeptThroughSyncAndRestartCountedAndExportedUntouched() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            // A later version's device wrote a kind of record this version does not know.
            let newer = #"[{"id": "0195f0a0-0000-7000-d000-000000000001", "type": "sleep-log", "hours": "9", "woke": 2}]"#
            let file = family.folder.path("newer.json")
            try Data(newer.utf8).write(to: URL(fileURLWithPath: file))
            try await family.ok("mum", "import", "--format", "json", file)
            try await family.ok("mum", "sync")
            #expect(await family.server.stop() == 0)
            try await family.restartServer()
            let pulled = try await family.syncctl("dad", ["sync"])
            #expect(pulled.status == 0, "\(pulled)")
            #expect(pulled.stderr.contains("1 record of a newer kind: upgrade syncctl to see it"), "\(pulled)")
            #expect(try await family.status("dad")["newer_kind"] as? Int == 1)
            let status = try await family.ok("dad", "status")
            #expect(status.contains("1 record of a newer kind"), "\(status)")

            // Exported as it came: JSON with its fields, CSV with them in the fields column.
            let exported = try Self.json(try await family.ok("dad", "export", "--format", "json"))
            let record = try #require(exported.first { $0["type"] as? String == "sleep-log" })
            #expect(record["id"] as? String == "0195f0a0-0000-7000-d000-000000000001")
            #expect(record["hours"] as? String == "9" && record["woke"] as? Int == 2)
            let csv = try await family.ok("dad", "export", "--format", "csv")
            #expect(csv.contains(#"sleep-log"#) && csv.contains(#"{""hours"":""9"",""woke"":2}"#), "\(csv)")

            // A device that joins after the restart gets it from the server too.
            try await family.invite("grandma", role: "caregiver")
            try await family.ok("grandma", "pull")
            #expect(try await family.status("grandma")["newer_kind"] as? Int == 1)
        }
    }

    @Test func everyTypeComesBackFromItsCSVAndJSONExportIntoAnotherDiary() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let file = family.folder.path("season.json")
            try Data(ExportTests.newerRecords.utf8).write(to: URL(fileURLWithPath: file))
            try await family.ok("mum", "import", "--format", "json", file)
            try await family.ok(
                "mum", "flare", "add", "--started", "2026-11-01", "--site", "rib-left", "--pain", "4", "--notes", "a, b \"c\"\nnext line — ü")
            let csv = try await family.ok("mum", "export", "--format", "csv")
            let json = try await family.ok("mum", "export", "--format", "json")
            let csvFile = family.folder.path("diary.csv")
            try Data(csv.utf8).write(to: URL(fileURLWithPath: csvFile))

            for format in ["csv", "json"] {
                let device = "grandma-\(format)"
                let code = try await family.createDiaryCode()
                try await family.ok(device, "join", family.server.url, code)
                let input = format == "csv" ? csvFile : file
                if format == "json" { try Data(json.utf8).write(to: URL(fileURLWithPath: input)) }
                try await family.ok(device, "import", "--format", format, input)
                // Check-ins take the new diary's ids (derived from it and the date); all else is as it was.
                let theirs = try await family.ok(device, "export", "--format", format)
                var ours = format == "csv" ? csv : json
                let mine = try Self.json(json).filter { $0["type"] as? String == "checkin" }
                let new = try Self.json(try await family.ok(device, "export", "--format", "json")).filter { $0["type"] as? String == "checkin" }
                try #require(mine.count == 2 && new.count == 2)
                for (old, fresh) in zip(mine, new) {
                    #expect(old["date"] as? String == fresh["date"] as? String)
                    ours = ours.replacingOccurrences(of: old["id"] as? String ?? "?", with: fresh["id"] as? String ?? "?")
                }
                #expect(theirs == ours, "\(format) export of the imported diary")
            }
        }
    }
}

/// Dates and times as people type them, on a fixed clock and time zone.
@Suite struct TypedTimeTests {
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    /// 2026-03-29T00:30:00Z: 01:30 in Berlin, half an hour before the clocks go forward.
    static let springForward = Date(timeIntervalSince1970: 1_774_744_200)

    @Test func todayAndYesterdayAreThisMachinesCalendarDays() {
        let time = TypedTime(now: Self.springForward, timeZone: Self.berlin)
        #expect(time.date("today") == "2026-03-29" && time.date("Yesterday") == "2026-03-28")
        // In New York it is still the evening before.
        let newYork = TypedTime(now: Self.springForward, timeZone: TimeZone(identifier: "America/New_York")!)
        #expect(newYork.date("today") == "2026-03-28")
        #expect(time.date("2026-02-30") == "2026-02-30", "anything else is passed on for validation to refuse")
    }

    @Test func aTimeWithoutAnOffsetIsTheLocalTimeWithTheOffsetItHadThen() {
        let time = TypedTime(now: Self.springForward, timeZone: Self.berlin)
        #expect(time.dateOrDateTime("2026-01-10 08:00") == "2026-01-10T08:00:00+01:00")
        #expect(time.dateOrDateTime("2026-07-10T08:00:30") == "2026-07-10T08:00:30+02:00", "summer time")
        #expect(time.dateOrDateTime("2026-03-29 03:30") == "2026-03-29T03:30:00+02:00", "just after the change")
        #expect(time.dateOrDateTime("now") == "2026-03-29T01:30:00+01:00")
        #expect(time.dateOrDateTime("2026-07-10T08:00:00-04:00") == "2026-07-10T08:00:00-04:00", "an offset is kept as written")
        #expect(time.dateOrDateTime("yesterday") == "2026-03-28")
        #expect(time.dateOrDateTime("10 July, 8am") == "10 July, 8am", "passed on for validation to refuse")
    }
}
