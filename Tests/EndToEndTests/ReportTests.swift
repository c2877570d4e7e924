import Foundation
import SyncCore
import Testing

@testable import CareSyncClient

/// The clinician's report: its structure and numbers for a realistic diary, numbers checked against a
/// diary counted by hand, a year's diary printed on at most two A4 pages, and what it says when there
/// is nothing to show.
@Suite struct ReportTests {
    static let november25 = Date(timeIntervalSince1970: 1_795_608_000)  // 2026-11-25T12:00:00Z
    static let march31 = Date(timeIntervalSince1970: 1_774_958_400)  // 2026-03-31T12:00:00Z
    static let yearDiary = URL(fileURLWithPath: ExportTests.exampleDiary).deletingLastPathComponent().appendingPathComponent("diary-year.json").path

    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    static func figure(_ id: String, in html: String) -> String? {
        guard let start = html.range(of: #"id="\#(id)">"#), let end = html[start.upperBound...].range(of: "<") else { return nil }
        return String(html[start.upperBound..<end.lowerBound])
    }

    @Test func theReportOfTenFlaresAndSixTreatmentsHoldsTenBandsAndTheRightSummary() async throws {
        try await withFamily({ try await ExportTests.familyWithExampleDiary() }) { family in
            // Both parents change the pain of the open flare at once: an open conflict.
            try await family.ok("dad", "sync")
            try await family.ok("mum", "flare", "update", "0195f0a0-0000-7000-8000-000000000010", "--pain", "7")
            try await family.ok("dad", "flare", "update", "0195f0a0-0000-7000-8000-000000000010", "--pain", "5")
            try await family.ok("mum", "sync")
            try await family.ok("dad", "sync")
            try await family.ok("clinic", "pull")

            let clinic = try DiaryDevice(home: ClientHome(path: family.home("clinic")))
            let report = try clinic.report(from: CalendarDay("2026-06-01"), to: CalendarDay("2026-11-25"), now: Self.november25)
            let html = report.html
            #expect(Self.count(#"class="flare-band""#, in: html) == 10)
            #expect(Self.count(#"class="treatment""#, in: html) == 6)
            #expect(Self.count(#"class="treatment-dose""#, in: html) == 2, "the two pamidronate infusions are single doses")
            #expect(Self.figure("flare-count", in: html) == "10")
            // 10 + 7 + 14 + 5 + 13 + 5 + 12 + 5 + 8 days, and the open flare from 19 to 25 November: 7.
            #expect(Self.figure("days-in-flare", in: html) == "86")
            let pain = try #require(try clinic.record(UUID(canonical: "0195f0a0-0000-7000-8000-000000000010")!)?.values["pain"]?.intValue)
            // Pains 6 4 8 3 7 5 7 4 5 and the open flare's, which the conflict left at 5 or 7.
            #expect(Self.figure("median-pain", in: html) == (pain == 7 ? "5.5/10" : "5/10"))
            #expect(Self.figure("worst-pain", in: html) == "8/10")
            let current = try #require(Self.figure("current-treatments", in: html + "<"))
            #expect(current.contains("Current treatments"))
            #expect(html.contains("<strong>naproxen</strong> (nsaid, 250 mg oral, since 2026-09-28)"))
            #expect(!html.contains("<strong>prednisolone</strong>"), "a course that ended is not current")
            #expect(html.contains(#"<td>Left tibia</td><td class="n">4</td>"#), "the left tibia flared four times")
            #expect(html.contains(#"<section id="conflicts">"#) && html.contains("pain</strong>"))
            #expect(html.contains("mum's laptop (owner)"), "who recorded what names the devices")

            // Self-contained: nothing fetched, nothing run.
            #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href=") && !html.contains("@import"))
            #expect(Self.count("http", in: html) == 1, "only the SVG namespace")
        }
    }

    /// The texts of the cells of the table row of a record (`data-record="…"`), tags removed.
    static func cells(ofRow record: String, in html: String) -> [String] {
        guard let start = html.range(of: #"data-record="\#(record)">"#), let end = html[start.upperBound...].range(of: "</tr>") else { return [] }
        return html[start.upperBound..<end.lowerBound].components(separatedBy: "</td>").dropLast().map { cell in
            cell.replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression).trimmingCharacters(in: .whitespaces)
        }
    }

    /// A month of a diary small enough to count by hand: 17 check-ins around three treatment starts,
    /// four flares in the period and one before it, labs in two CRP units, imaging, growth and a
    /// record of a newer kind.
    static func handCountedDiary() -> [[String: Any]] {
        // Day of March (or "02-10"), pain, wellbeing, school day missed, sites.
        let days: [(String, Int, Int?, String?, [String])] = [
            ("02-10", 10, nil, nil, []), ("03-08", 6, nil, nil, []), ("03-09", 5, nil, "whole", []), ("03-10", 7, nil, "none", []),
            ("03-11", 4, nil, "none", []), ("03-12", 6, nil, "whole", []), ("03-13", 5, nil, "part", []), ("03-14", 7, nil, nil, []),
            ("03-16", 9, nil, "whole", []), ("03-20", 8, nil, "part", []), ("03-23", 2, nil, "part", []), ("03-24", 3, nil, "none", []),
            ("03-25", 1, 2, "none", []), ("03-26", 4, 5, "none", []), ("03-27", 2, 3, "none", []), ("03-28", 3, 3, nil, []),
            ("03-29", 1, 2, nil, ["femur-right", "tibia-left"]),
        ]
        var diary: [[String: Any]] = days.map { date, pain, wellbeing, school, sites in
            var checkin: [String: Any] = ["type": "checkin", "date": "2026-\(date)", "pain": pain]
            if let wellbeing { checkin["wellbeing"] = wellbeing }
            if let school { checkin["school_missed"] = school }
            if !sites.isEmpty { checkin["sites"] = sites }
            return checkin
        }
        func id(_ block: Int, _ number: Int) -> String { String(format: "0195f0c0-0000-7000-8%d00-%012d", block, number) }
        diary += [
            ["id": id(0, 1), "type": "flare", "started": "2025-10-01", "ended": "2025-10-10", "sites": ["tibia-left"], "pain": 5],
            ["id": id(0, 2), "type": "flare", "started": "2026-03-08", "ended": "2026-03-18", "sites": ["tibia-left"], "pain": 7],
            ["id": id(0, 3), "type": "flare", "started": "2026-03-19", "sites": ["femur-right"], "pain": 8],
            ["id": id(0, 4), "type": "flare", "started": "2026-03-25", "ended": "2026-03-27", "sites": ["clavicle-right"], "pain": 3],
            ["id": id(0, 5), "type": "flare", "started": "2026-03-29", "ended": "2026-03-30", "sites": ["clavicle-right"], "pain": 4],
            [
                "id": id(1, 1), "type": "treatment", "kind": "physiotherapy", "name": "physiotherapy", "started": "2026-02-01",
            ],
            [
                "id": id(1, 2), "type": "treatment", "kind": "steroid", "name": "prednisolone", "dose": 20, "unit": "mg", "started": "2026-03-05",
                "ended": "2026-03-10",
            ],
            ["id": id(1, 3), "type": "treatment", "kind": "nsaid", "name": "naproxen", "dose": 250, "unit": "mg", "started": "2026-03-15"],
            [
                "id": id(1, 4), "type": "treatment", "kind": "bisphosphonate", "name": "pamidronate", "dose": 1, "unit": "mg/kg",
                "started": "2026-03-28T10:00:00+01:00",
            ],
            ["id": id(2, 1), "type": "lab", "taken": "2026-03-09", "test": "crp", "value": 18.5, "unit": "mg/L", "ref_low": 0, "ref_high": 5],
            [
                "id": id(2, 2), "type": "lab", "taken": "2026-03-26T08:15:00+01:00", "test": "crp", "value": 0.31, "unit": "mg/dL", "ref_low": 0,
                "ref_high": 0.5,
            ],
            ["id": id(2, 3), "type": "lab", "taken": "2026-03-09", "test": "esr", "value": 35, "unit": "mm/h", "ref_high": 20],
            ["id": id(3, 1), "type": "imaging", "date": "2025-10-05", "modality": "mri", "active_lesions": 1],
            ["id": id(3, 2), "type": "imaging", "date": "2026-03-20", "modality": "mri", "sites": ["femur-right"], "active_lesions": 2],
            ["id": id(3, 3), "type": "imaging", "date": "2026-03-30", "modality": "xray", "sites": ["clavicle-right"]],
            ["id": id(4, 1), "type": "growth", "date": "2026-03-09", "height_cm": 131.5, "weight_kg": 28.2],
            ["id": id(5, 1), "type": "medication-dose", "given_on": "2026-03-20", "amount": "1"],
        ]
        return diary
    }

    @Test func theReportsNumbersMatchADiaryCountedByHand() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let file = family.folder.path("month.json")
            try JSONSerialization.data(withJSONObject: Self.handCountedDiary()).write(to: URL(fileURLWithPath: file))
            try await family.ok("mum", "import", "--format", "json", file)
            let mum = try DiaryDevice(home: ClientHome(path: family.home("mum")))
            let report = try mum.report(
                from: CalendarDay("2026-03-01"), to: CalendarDay("2026-03-31"), since: CalendarDay("2026-03-10"), now: Self.march31)
            let html = report.html

            // Since 2026-03-10, through the 31st: 22 days; flares started on the 19th, 25th and 29th (not the
            // 8th); check-ins on the 10th–14th, 16th, 20th and 23rd–29th; pain 4 or more on the 10th (7),
            // 11th (4), 12th, 13th, 14th, 16th, 20th and 26th (4); school: whole on the 12th and 16th, part
            // on the 13th, 20th and 23rd (the 9th's whole day is before the visit).
            let since = report.sinceVisit
            #expect(since.first == CalendarDay("2026-03-10") && since.last == CalendarDay("2026-03-31") && since.isPreviousVisit)
            #expect(since.days == 22 && since.flares == 3 && since.checkinDays == 14)
            #expect(since.daysWithPain == 8)
            #expect(since.schoolDaysMissed == 3.5)
            #expect(Self.figure("since-flares", in: html) == "3" && Self.figure("since-pain-days", in: html) == "8")
            #expect(Self.figure("since-school-days", in: html) == "3.5" && html.contains("a whole school day missed counts 1, part of a day ½"))
            #expect(Self.figure("since-checkin-days", in: html) == "14" && Self.figure("since-days", in: html) == "22")

            // Treatments started in the period (not the physiotherapy of February), in order of start.
            let responses = report.treatmentResponses
            try #require(responses.map(\.name) == ["prednisolone", "naproxen", "pamidronate"])
            // Prednisolone from the 5th: before, 5 Feb–4 Mar holds only the 10 of 10 Feb; after, 13 Mar–9 Apr
            // holds 5 7 9 8 2 3 1 4 2 3 1 = 45 over 11.
            let prednisolone = responses[0]
            #expect(prednisolone.before.count == 1 && prednisolone.before.mean == 10)
            #expect(prednisolone.after.count == 11 && prednisolone.after.total == 45 && !prednisolone.canJudge)
            // Naproxen from the 15th: before, the 7 days 8–14 March, 6 5 7 4 6 5 7 = 40; the 16th and 20th
            // fall in the week left out; after, 23–29 March, 2 3 1 4 2 3 1 = 16. Seven each: enough.
            let naproxen = responses[1]
            #expect(naproxen.before.first == CalendarDay("2026-02-15") && naproxen.before.last == CalendarDay("2026-03-14"))
            #expect(naproxen.after.first == CalendarDay("2026-03-23") && naproxen.after.last == CalendarDay("2026-04-19"))
            #expect(naproxen.before.count == 7 && naproxen.before.total == 40 && naproxen.after.count == 7 && naproxen.after.total == 16)
            #expect(naproxen.canJudge && naproxen.afterIsOpen)
            // Pamidronate on the 28th: before, 28 Feb–27 Mar, 40 + 9 + 8 + (2 3 1 4 2) = 69 over 14; nothing after yet.
            let pamidronate = responses[2]
            #expect(pamidronate.before.count == 14 && pamidronate.before.total == 69 && pamidronate.after.count == 0)
            #expect(pamidronate.after.mean == nil && !pamidronate.canJudge)

            #expect(
                Self.cells(ofRow: naproxen.record.id.canonical, in: html).dropFirst().prefix(6) == ["2026-03-15", "5.7", "7", "2.3", "7", "−3.4"])
            let prednisoloneRow = Self.cells(ofRow: prednisolone.record.id.canonical, in: html)
            #expect(prednisoloneRow.dropFirst().prefix(5) == ["2026-03-05", "10.0", "1", "4.1", "11"])
            #expect(prednisoloneRow.last == "too few check-ins to judge; window ends 2026-04-09", "\(prednisoloneRow)")
            #expect(Self.cells(ofRow: pamidronate.record.id.canonical, in: html).last?.hasPrefix("too few check-ins to judge") == true)
            #expect(html.contains("28 days before each treatment started and days 8–35 after"), "the page names its windows")

            // CDAS: the last 7 days (25–31 March) hold pains 1 4 2 3 1 and wellbeing 2 5 3 3 2; the open
            // flare's femur and the 29th's check-in's tibia are active; the x-ray counted no lesions, so the
            // MRI of the 20th gives the count.
            let cdas = report.cdas
            #expect(cdas.pain.count == 5 && cdas.pain.total == 11 && cdas.wellbeing.count == 5 && cdas.wellbeing.total == 15)
            #expect(cdas.activeSites == ["femur-right", "tibia-left"] && cdas.latestCheckin?.day == CalendarDay("2026-03-29"))
            #expect(cdas.imaging?.day == CalendarDay("2026-03-20") && cdas.imaging?.activeLesions == 2)
            #expect(Self.figure("cdas-pain", in: html) == "2.2" && Self.figure("cdas-global", in: html) == "3.0")
            #expect(Self.figure("cdas-active-sites", in: html) == "2" && Self.figure("cdas-imaging", in: html) == "2")
            #expect(html.contains(#"<div class="cdas-blank" id="cdas-physician-global"></div>"#))
            #expect(html.contains(#"<div class="cdas-blank" id="cdas-clinical-lesions"></div>"#))
            #expect(html.contains("0 = very well, 10 = very poor"), "the page says which end of wellbeing is good")

            // Sites: the clavicle flared twice in the period (recurrent), the femur once and is open (new),
            // the tibia had flared in October (recurrent).
            let sites = report.siteHistory
            #expect(sites.map(\.site) == ["clavicle-right", "femur-right", "tibia-left"])
            #expect(
                sites.map(\.flares) == [2, 1, 1] && sites.map(\.isActive) == [false, true, false] && sites.map(\.isNew) == [false, true, false])
            #expect(sites[0].first == CalendarDay("2026-03-25") && sites[0].latest == CalendarDay("2026-03-29"))
            #expect(html.contains(#"<td>Right femur</td><td class="n">1</td>"#) && html.contains(#"class="active">active</td><td>new</td>"#))

            // Flares 7, 8, 3 and 4 in the period, on the days 8–31 March.
            #expect(Self.figure("flare-count", in: html) == "4" && Self.figure("days-in-flare", in: html) == "24")
            #expect(Self.figure("median-pain", in: html) == "5.5/10" && Self.figure("worst-pain", in: html) == "8/10")

            // The charts: a pain line, CRP (0.31 mg/dL drawn as 3.1 mg/L) and ESR over their reference
            // ranges, two imaging marks, the height, and the record of a newer kind named.
            #expect(Self.count(#"class="pain-line""#, in: html) >= 1)
            #expect(html.contains(#"<g class="lab-chart" data-test="crp">"#) && html.contains(#"<g class="lab-chart" data-test="esr">"#))
            #expect(Self.count(#"class="lab-reference""#, in: html) == 2, "one band per chart: the CRP ranges agree once converted")
            #expect(html.contains(#"data-value="3.1""#) && html.contains(#"data-value="18.5""#))
            #expect(Self.count(#"class="imaging-mark""#, in: html) == 2 && html.contains(#"data-lesions="2""#))
            #expect(html.contains(#"class="height-point""#))
            #expect(report.newerKindCount == 1 && html.contains("1 record of a newer kind is not shown: upgrade syncctl"))
            #expect(!html.contains("<script") && !html.contains("https://") && Self.count("http://", in: html) == 1, "only the SVG namespace")

            // Without a previous visit, the page counts from the period's start and says so.
            let unvisited = try mum.report(from: CalendarDay("2026-03-01"), to: CalendarDay("2026-03-31"), now: Self.march31)
            #expect(unvisited.sinceVisit.first == CalendarDay("2026-03-01") && !unvisited.sinceVisit.isPreviousVisit)
            #expect(unvisited.sinceVisit.checkinDays == 16 && unvisited.sinceVisit.flares == 4)
            #expect(unvisited.html.contains("no previous visit given, so from the period's start, 2026-03-01"))

            // syncctl report --since: the same figures, in its JSON and on the page it writes.
            let page = family.folder.path("month.html")
            let printed = try await family.ok(
                "mum", "report", "--output", page, "--from", "2026-03-01", "--to", "2026-03-31", "--since", "2026-03-10", "--json")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [String: Any])
            let visit = try #require(json["since_previous_visit"] as? [String: Any])
            #expect(visit["flares"] as? Int == 3 && visit["days_with_pain_4_or_more"] as? Int == 8 && visit["days_with_checkin"] as? Int == 14)
            #expect(visit["school_days_missed"] as? Double == 3.5 && visit["days"] as? Int == 22)
            let rows = try #require(json["treatment_responses"] as? [[String: Any]])
            #expect(rows.map { $0["checkins_before"] as? Int } == [1, 7, 14] && rows.map { $0["enough_to_judge"] as? Bool } == [false, true, false])
            let written = try String(contentsOfFile: page, encoding: .utf8)
            #expect(Self.figure("since-pain-days", in: written) == "8" && Self.figure("since-school-days", in: written) == "3.5")
            let late = try await family.syncctl("mum", ["report", "--output", page, "--to", "2026-03-31", "--since", "2026-04-02"])
            #expect(late.status == 1 && late.stderr.contains("after the report's last day"), "\(late)")
            let typo = try await family.syncctl("mum", ["report", "--output", page, "--since", "2026-13-01"])
            #expect(typo.status != 0 && typo.stderr.contains("--since 2026-13-01 is not a date"), "\(typo)")
            try await family.ok("mum", "report", "--output", page, "--since", "yesterday")
        }
    }

    /// Mum imports the year's example diary (docs/examples/diary-year.json) and writes its report.
    static func yearReport(_ family: Family) async throws -> (html: String, file: String) {
        try await family.ok("mum", "import", "--format", "json", yearDiary)
        let file = family.folder.path("year.html")
        try await family.ok("mum", "report", "--output", file, "--from", "2025-12-01", "--to", "2026-11-30", "--since", "2026-09-01")
        return (try String(contentsOfFile: file, encoding: .utf8), file)
    }

    @Test func theYearDiaryReportDrawsEveryKindOfRecordOnOneAxis() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let (html, _) = try await Self.yearReport(family)
            let diary = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.yearDiary))) as? [[String: Any]])
            func records(_ type: String) -> [[String: Any]] { diary.filter { $0["type"] as? String == type } }

            #expect(Self.count(#"class="flare-band""#, in: html) == records("flare").count)
            #expect(Self.count(#"<g class="treatment""#, in: html) == records("treatment").count)
            #expect(
                Self.count(#"class="treatment-dose""#, in: html) == records("treatment").filter { ($0["started"] as? String)?.count ?? 0 > 10 }.count)
            #expect(Self.count(#"class="imaging-mark""#, in: html) == records("imaging").count)
            #expect(Self.count(#"class="lab-point""#, in: html) == records("lab").count, "every CRP and ESR of the year")
            #expect(Self.count(#"class="lab-reference""#, in: html) == 2)
            #expect(Self.count(#"class="height-point""#, in: html) == records("growth").count)
            #expect(Self.count(#"class="pain-line""#, in: html) >= 2, "the family's holiday without check-ins breaks the line")
            #expect(Self.count(#"<tr class="response""#, in: html) == records("treatment").count, "every treatment started within the year")
            #expect(Self.count(#"class="cdas-blank""#, in: html) == 2)
            #expect(!html.contains("newer-kind"), "no record of a newer kind, so no line about one")
            #expect(!html.contains("<script") && !html.contains("https://") && Self.count("http://", in: html) == 1)
        }
    }

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// A program on the PATH, or nil.
    static func installed(_ name: String) -> URL? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Printed as a browser prints it, the year's report takes at most two A4 pages. Outside CI it needs
    /// chromium and pdfinfo (Tests/run.sh installs them); in CI their absence is a failure.
    @Test(.enabled(if: isCI || (installed("chromium") != nil && installed("pdfinfo") != nil), "chromium and pdfinfo are not installed"))
    func theYearDiaryReportPrintsOnAtMostTwoA4Pages() async throws {
        let chromium = try #require(Self.installed("chromium"), "chromium is not installed (Tests/run.sh installs it)")
        let pdfinfo = try #require(Self.installed("pdfinfo"), "pdfinfo is not installed (Tests/run.sh installs poppler-utils)")
        try await withFamily({ try await Family.parents() }) { family in
            let (_, file) = try await Self.yearReport(family)
            let pdf = family.folder.path("year.pdf")
            let printed = try await run(
                chromium,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(family.folder.path("chromium"))", "--print-to-pdf=\(pdf)",
                    "--no-pdf-header-footer", "file://\(file)",
                ])
            try #require(printed.status == 0 && FileManager.default.fileExists(atPath: pdf), "chromium printed the report: \(printed)")
            let info = try await run(pdfinfo, [pdf])
            let pages = info.stdout.split(separator: "\n").first { $0.hasPrefix("Pages:") }.flatMap {
                Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces))
            }
            let size = info.stdout.split(separator: "\n").first { $0.hasPrefix("Page size:") }.map(String.init) ?? ""
            #expect(pages.map { 1...2 ~= $0 } == true, "the report prints on at most two pages: \(info)")
            #expect(size.contains("(A4)"), "on A4: \(size)")
        }
    }

    @Test func anEmptyDiarySaysSoInsteadOfDrawingAnEmptyChart() async throws {
        try await withFamily({ try await Family.parents() }) { family in
            let file = family.folder.path("report.html")
            try await family.ok("mum", "report", "--output", file)
            let html = try String(contentsOfFile: file, encoding: .utf8)
            #expect(html.contains(#"id="empty-diary""#))
            #expect(!html.contains("<svg"))
        }
    }

    @Test func aPeriodWithoutFlaresOrTreatmentsSaysSo() async throws {
        try await withFamily({ try await ExportTests.familyWithExampleDiary() }) { family in
            let file = family.folder.path("report.html")
            try await family.ok("clinic", "report", "--output", file, "--from", "2025-01-01", "--to", "2025-03-31")
            let html = try String(contentsOfFile: file, encoding: .utf8)
            #expect(html.contains("No flares or treatments between 2025-01-01 and 2025-03-31."))
            #expect(!html.contains("<svg"))
            #expect(Self.figure("flare-count", in: html) == "0")
            let backwards = try await family.syncctl("clinic", ["report", "--output", file, "--from", "2026-03-01", "--to", "2026-01-01"])
            #expect(backwards.status == 1 && backwards.stderr.contains("after it ends"), "\(backwards)")
        }
    }
}
