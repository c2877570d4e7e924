import Foundation
import SyncCore

extension DiaryReport {
    /// The whole page: the figures and the timeline first (what a clinician reads in a minute), then the
    /// tables and the CDAS boxes, which the print layout lets flow onto a second page.
    public var html: String {
        var body = header() + newerKindNote()
        if records.allSatisfy({ !$0.type.isKnown }) {
            body += ##"<p class="empty" id="empty-diary">No flares, treatments or check-ins have been recorded in this diary yet.</p>"##
        } else {
            body += summary() + sinceVisitSection()
            if flaresInPeriod.isEmpty && treatmentsInPeriod.isEmpty {
                body += ##"<p class="empty" id="empty-period">No flares or treatments between \##(from.text) and \##(to.text).</p>"##
            }
            if hasTimeline { body += ##"<section class="timeline"><h2>Timeline</h2>"## + timeline() + "</section>" }
            body += sitesTable() + treatmentResponseTable() + cdasSection()
            body += ##"<div class="columns">"## + contributorsTable() + conflictsSection() + "</div>"
        }
        body += footer()
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>\(Self.escape(diaryName)) — CRMO diary report, \(from.text) to \(to.text)</title>
            <style>\(Self.css)</style></head>
            <body><main>\(body)</main></body></html>

            """
    }

    /// Whether anything in the period has a place on the time axis.
    var hasTimeline: Bool {
        !flaresInPeriod.isEmpty || !treatmentsInPeriod.isEmpty || !checkinsInPeriod.isEmpty || !imagingInPeriod.isEmpty
            || !growthInPeriod.isEmpty || Self.chartedLabs.contains { !labResults($0.test).isEmpty }
    }

    static let css = """
        @page { size: A4 portrait; margin: 11mm 12mm; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 9pt/1.3 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d2430; }
        main { width: 186mm; margin: 0 auto; }
        @media screen { body { padding: 8mm 0; } }
        section { break-inside: avoid; }
        h1 { font-size: 14pt; margin: 0 0 0.5mm; }
        h2 { font-size: 10pt; margin: 3.2mm 0 1.2mm; color: #34415a; border-bottom: 0.3mm solid #d5dbe5; padding-bottom: 0.6mm; }
        h2 .aside { font-weight: normal; font-size: 8pt; color: #5a6578; }
        .sub { color: #5a6578; margin: 0; }
        dl.figures { display: flex; gap: 2.5mm; margin: 2mm 0 1mm; }
        dl.figures div { flex: 1; background: #f2f5f9; border-radius: 1.5mm; padding: 1.3mm 2.5mm; }
        dl.since div { background: #eef4ec; }
        dt { font-size: 7pt; color: #5a6578; text-transform: uppercase; letter-spacing: 0.03em; }
        dd { margin: 0; font-size: 13pt; font-weight: 600; }
        dd small { font-size: 8pt; font-weight: normal; color: #5a6578; }
        .current { margin: 1mm 0 0; }
        .note { color: #5a6578; font-size: 7.5pt; margin: 0.8mm 0 0; }
        .newer { background: #fff4d6; border: 0.3mm solid #e0b84a; border-radius: 1.5mm; padding: 1.2mm 2.5mm; margin: 2mm 0 0; }
        .columns { display: flex; gap: 6mm; }
        .columns > section { flex: 1; }
        table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
        th, td { text-align: left; padding: 0.45mm 1.5mm; border-bottom: 0.2mm solid #e3e7ee; }
        th { color: #5a6578; font-weight: 600; font-size: 7.5pt; white-space: nowrap; }
        td { white-space: nowrap; }
        td.few, td.wrap { white-space: normal; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
        td.few { color: #9a5b00; font-size: 7.5pt; }
        .bar { display: inline-block; height: 2mm; background: #c0504d; border-radius: 0.5mm; vertical-align: middle; }
        .active { color: #b03a2e; font-weight: 600; }
        .empty { background: #f2f5f9; border-radius: 1.5mm; padding: 3mm; font-size: 10.5pt; text-align: center; }
        .conflict { margin: 0.8mm 0; }
        .none { color: #5a6578; }
        .cdas { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2mm; }
        .cdas > div { border: 0.25mm solid #d5dbe5; border-radius: 1.5mm; padding: 1.2mm 2mm; }
        .cdas .label { font-size: 7pt; color: #5a6578; text-transform: uppercase; letter-spacing: 0.03em; }
        .cdas .value { font-size: 12pt; font-weight: 600; }
        .cdas .clinician { background: #fafbfc; border-style: dashed; }
        .cdas-blank { height: 8mm; margin-top: 1mm; border: 0.35mm solid #7a8496; border-radius: 1mm; background: #fff; }
        footer { margin-top: 3mm; font-size: 7pt; color: #7a8496; }
        svg { display: block; width: 100%; height: auto; }
        svg text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
        """

    private func header() -> String {
        """
        <header><h1>\(Self.escape(diaryName)) — CRMO diary report</h1>
        <p class="sub">\(from.text) to \(to.text) · printed \(today.text) · last synced \(lastSync.map(Self.minute) ?? "never")</p></header>
        """
    }

    /// Says what the page leaves out, so that nobody takes it for the whole diary.
    private func newerKindNote() -> String {
        let count = newerKindCount
        guard count > 0 else { return "" }
        let records = count == 1 ? "1 record of a newer kind is" : "\(count) records of a newer kind are"
        return ##"<p class="newer" id="newer-kind">\##(records) not shown: upgrade syncctl.</p>"##
    }

    private func summary() -> String {
        let figures: [(String, String, String)] = [
            ("flare-count", "Flares", String(flaresInPeriod.count)), ("days-in-flare", "Days in flare", String(daysInFlare)),
            ("median-pain", "Median flare pain", medianPain.map { "\($0)/10" } ?? "–"),
            ("worst-pain", "Worst flare pain", worstPain.map { "\($0)/10" } ?? "–"),
        ]
        var html = ##"<section><dl class="figures">"##
        for (id, label, value) in figures { html += ##"<div><dt>\##(label)</dt><dd id="\##(id)">\##(value)</dd></div>"## }
        html += "</dl>"
        let current = currentTreatments.map { record -> String in
            var text =
                "<strong>\(Self.escape(record.values["name"]?.stringValue ?? ""))</strong> (\(Self.escape(record.values["kind"]?.stringValue ?? ""))"
            if let dose = record.values["dosage"]?.objectValue, let amount = dose["dose"]?.stringValue, let unit = dose["unit"]?.stringValue {
                text += ", \(Self.escape(amount)) \(Self.escape(unit))"
            }
            if let route = record.values["route"]?.stringValue { text += " \(Self.escape(route))" }
            return text + ", since \(Self.escape(record.values["started"]?.stringValue.map { String($0.prefix(10)) } ?? ""))" + ")"
        }
        html +=
            ##"<p class="current" id="current-treatments">Current treatments: \##(current.isEmpty ? "none recorded" : current.joined(separator: "; "))</p>"##
        return html + "</section>"
    }

    private func footer() -> String {
        """
        <footer>CareSync report of \(records.count) records. Pain and wellbeing are parent-reported on 0–10 scales: pain 0 none, 10 the \
        worst; wellbeing 0 very well, 10 very poor. Flares with a hatched end are still going on; treatment bars with an arrow, courses \
        not ended; diamonds, single doses.</footer>
        """
    }

    // MARK: Text

    static func shown(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .array(let items): items.compactMap(\.stringValue).joined(separator: ", ")
        case .null: "(cleared)"
        default: value.canonicalString
        }
    }

    static func minute(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A coordinate or a mean, to one decimal.
    static func decimal(_ value: Double) -> String { String(format: "%.1f", value) }

    /// A count that may be a half ("3.5"), without a trailing ".0".
    static func halves(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : decimal(value) }

    /// A signed change to one decimal, with a real minus sign.
    static func signed(_ value: Double) -> String {
        let text = decimal(abs(value))
        return text == "0.0" ? "0.0" : (value < 0 ? "−" : "+") + text
    }

    static func shortSite(_ site: String) -> String {
        for (side, mark) in [("left", "L"), ("right", "R")] where site.hasSuffix("-\(side)") {
            return "\(mark) " + site.dropLast(side.count + 1).replacingOccurrences(of: "-", with: " ")
        }
        return site.replacingOccurrences(of: "-", with: " ")
    }

    static let modalityLabels = [
        "mri": "MRI", "whole-body-mri": "WB-MRI", "xray": "X-ray", "bone-scan": "Bone scan", "ct": "CT", "ultrasound": "Ultrasound",
    ]
}
