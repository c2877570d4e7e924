import Foundation
import SyncCore
import Testing

@testable import CareSyncClient

/// The one-page report: its structure and numbers for a realistic diary, and what it says when there
/// is nothing to show.
@Suite struct ReportTests {
    static let november25 = Date(timeIntervalSince1970: 1_795_608_000)  // 2026-11-25T12:00:00Z

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
