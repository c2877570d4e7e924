import Foundation
import SyncCore

/// The one-page report a clinician reads before a visit: one self-contained HTML file (inline CSS and
/// SVG, nothing fetched) that prints on one A4 page. A timeline of the period with a band per flare
/// (height and colour its pain, labelled with its sites) and a lane per treatment kind; how often each
/// site flared; a summary; the open conflicts, so the reader knows what is uncertain.
public struct DiaryReport: Sendable {
    public let diaryName: String
    /// Every record of the diary that is not deleted.
    public let records: [DiaryRecord]
    public let conflicts: [OpenConflict]
    public let history: [HistoryEntry]
    public let lastSync: Date?
    /// The period, as calendar days (inclusive).
    public let from: CalendarDay
    public let to: CalendarDay
    public let today: CalendarDay

    public init(
        diaryName: String, records: [DiaryRecord], conflicts: [OpenConflict], history: [HistoryEntry], lastSync: Date?, from: CalendarDay,
        to: CalendarDay, today: CalendarDay
    ) {
        self.diaryName = diaryName
        self.records = records.filter { !$0.isDeleted }
        self.conflicts = conflicts
        self.history = history
        self.lastSync = lastSync
        self.from = from
        self.to = to
        self.today = today
    }

    // MARK: What the report says

    /// A flare within the period: its days clipped to the period (an open flare lasts until today).
    public struct FlareSpan: Sendable {
        public let record: DiaryRecord
        public let start: CalendarDay
        public let end: CalendarDay
        public let pain: Int
        public let sites: [String]
        public let isOpen: Bool
    }

    public var flaresInPeriod: [FlareSpan] {
        records.filter { $0.type == .flare }.compactMap { record -> FlareSpan? in
            guard let start = CalendarDay(record.values["started"]?.stringValue ?? "") else { return nil }
            let ended = record.values["ended"]?.stringValue.flatMap(CalendarDay.init)
            let end = max(start, ended ?? max(start, min(today, to)))
            guard start <= to, end >= from else { return nil }
            return FlareSpan(
                record: record, start: max(start, from), end: min(end, to), pain: Int(record.values["pain"]?.intValue ?? 0),
                sites: record.values["sites"]?.arrayValue?.compactMap(\.stringValue) ?? [], isOpen: ended == nil)
        }.sorted { $0.start < $1.start }
    }

    /// A treatment within the period: a course (start to end, or still going) or a single dose.
    public struct TreatmentSpan: Sendable {
        public let record: DiaryRecord
        public let kind: String
        public let name: String
        public let start: CalendarDay
        public let end: CalendarDay
        public let isSingleDose: Bool
        public let isOpen: Bool
    }

    public var treatmentsInPeriod: [TreatmentSpan] {
        records.filter { $0.type == .treatment }.compactMap { record -> TreatmentSpan? in
            let startedText = record.values["started"]?.stringValue ?? ""
            guard let start = CalendarDay(String(startedText.prefix(10))) else { return nil }
            let ended = record.values["ended"]?.stringValue.flatMap { CalendarDay(String($0.prefix(10))) }
            let isSingleDose = ended == nil && CalendarText.isDateTime(startedText)
            let end = isSingleDose ? start : max(start, ended ?? max(start, min(today, to)))
            guard start <= to, end >= from else { return nil }
            return TreatmentSpan(
                record: record, kind: record.values["kind"]?.stringValue ?? "other", name: record.values["name"]?.stringValue ?? "",
                start: max(start, from), end: min(end, to), isSingleDose: isSingleDose, isOpen: ended == nil && !isSingleDose)
        }.sorted { $0.start < $1.start }
    }

    /// Days on which at least one flare was going on, within the period.
    public var daysInFlare: Int {
        var days: Set<Int64> = []
        for flare in flaresInPeriod { days.formUnion(flare.start.number...flare.end.number) }
        return days.count
    }

    /// The median pain of the flares in the period ("5" or "5.5"), nil if there were none.
    public var medianPain: String? {
        let pains = flaresInPeriod.map(\.pain).sorted()
        guard !pains.isEmpty else { return nil }
        let middle = pains.count / 2
        if pains.count % 2 == 1 { return String(pains[middle]) }
        let sum = pains[middle - 1] + pains[middle]
        return sum % 2 == 0 ? String(sum / 2) : "\(sum / 2).5"
    }

    public var worstPain: Int? { flaresInPeriod.map(\.pain).max() }

    /// Treatments going on today: courses started and not ended (single doses are not current).
    public var currentTreatments: [DiaryRecord] {
        records.filter { record in
            guard record.type == .treatment, let startedText = record.values["started"]?.stringValue,
                let start = CalendarDay(String(startedText.prefix(10))), start <= today
            else { return false }
            if let ended = record.values["ended"]?.stringValue { return CalendarDay(String(ended.prefix(10))).map { $0 >= today } ?? false }
            return !CalendarText.isDateTime(startedText)
        }
    }

    /// How many flares in the period touched each site, most first.
    public var siteCounts: [(site: String, flares: Int)] {
        var counts: [String: Int] = [:]
        for flare in flaresInPeriod { for site in flare.sites { counts[site, default: 0] += 1 } }
        return counts.map { ($0.key, $0.value) }.sorted { $0.flares != $1.flares ? $0.flares > $1.flares : $0.site < $1.site }
    }

    /// Per device: records it created and changes it made, over the whole diary.
    public var contributors: [(author: Author, created: Int, changes: Int)] {
        var firstAuthor: [UUID: (HLC, Author)] = [:]
        var changes: [UUID: (Author, Int)] = [:]
        for entry in history {
            if let first = firstAuthor[entry.record], first.0 < entry.hlc {} else { firstAuthor[entry.record] = (entry.hlc, entry.author) }
            changes[entry.author.id, default: (entry.author, 0)].1 += 1
        }
        var created: [UUID: Int] = [:]
        for (_, first) in firstAuthor { created[first.1.id, default: 0] += 1 }
        return changes.values.map { ($0.0, created[$0.0.id] ?? 0, $0.1) }.sorted { $0.changes > $1.changes }
    }

    // MARK: HTML

    public var html: String {
        let flares = flaresInPeriod
        let treatments = treatmentsInPeriod
        var body = header()
        if records.isEmpty {
            body += ##"<p class="empty" id="empty-diary">No flares or treatments have been recorded in this diary yet.</p>"##
        } else {
            body += summary(flares)
            if flares.isEmpty && treatments.isEmpty {
                body += ##"<p class="empty" id="empty-period">No flares or treatments between \##(from.text) and \##(to.text).</p>"##
            } else {
                body += "<section><h2>Timeline</h2>" + timeline(flares, treatments) + "</section>"
            }
            body += ##"<div class="columns">"## + sitesTable() + contributorsTable() + "</div>"
            body += conflictsSection()
        }
        body += footer()
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>\(escape(diaryName)) — CRMO diary report, \(from.text) to \(to.text)</title>
            <style>\(Self.css)</style></head>
            <body><main>\(body)</main></body></html>

            """
    }

    static let css = """
        @page { size: A4 portrait; margin: 12mm; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 9.5pt/1.35 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d2430; }
        main { width: 186mm; margin: 0 auto; }
        h1 { font-size: 15pt; margin: 0 0 1mm; }
        h2 { font-size: 10.5pt; margin: 4mm 0 1.5mm; color: #34415a; border-bottom: 0.3mm solid #d5dbe5; padding-bottom: 0.8mm; }
        .sub { color: #5a6578; margin: 0; }
        dl.figures { display: flex; gap: 3mm; margin: 3mm 0 1mm; }
        dl.figures div { flex: 1; background: #f2f5f9; border-radius: 1.5mm; padding: 1.8mm 2.5mm; }
        dt { font-size: 7.5pt; color: #5a6578; text-transform: uppercase; letter-spacing: 0.03em; }
        dd { margin: 0; font-size: 15pt; font-weight: 600; }
        .current { margin: 1.5mm 0 0; }
        .columns { display: flex; gap: 6mm; }
        .columns > section { flex: 1; }
        table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
        th, td { text-align: left; padding: 0.6mm 1.5mm; border-bottom: 0.2mm solid #e3e7ee; }
        th { color: #5a6578; font-weight: 600; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; }
        .bar { display: inline-block; height: 2.2mm; background: #c0504d; border-radius: 0.5mm; vertical-align: middle; }
        .empty { background: #f2f5f9; border-radius: 1.5mm; padding: 4mm; font-size: 11pt; text-align: center; }
        .conflict { margin: 0.8mm 0; }
        .none { color: #5a6578; }
        footer { margin-top: 4mm; font-size: 7.5pt; color: #7a8496; }
        svg { display: block; width: 100%; height: auto; }
        svg text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
        """

    private func header() -> String {
        """
        <header><h1>\(escape(diaryName)) — CRMO flares and treatments</h1>
        <p class="sub">\(from.text) to \(to.text) · printed \(today.text) · last synced \(lastSync.map(Self.minute) ?? "never")</p></header>
        """
    }

    private func summary(_ flares: [FlareSpan]) -> String {
        let figures: [(String, String, String)] = [
            ("flare-count", "Flares", String(flares.count)), ("days-in-flare", "Days in flare", String(daysInFlare)),
            ("median-pain", "Median pain", medianPain.map { "\($0)/10" } ?? "–"), ("worst-pain", "Worst pain", worstPain.map { "\($0)/10" } ?? "–"),
        ]
        var html = ##"<section><dl class="figures">"##
        for (id, label, value) in figures { html += ##"<div><dt>\##(label)</dt><dd id="\##(id)">\##(value)</dd></div>"## }
        html += "</dl>"
        let current = currentTreatments.map { record -> String in
            var text = "<strong>\(escape(record.values["name"]?.stringValue ?? ""))</strong> (\(escape(record.values["kind"]?.stringValue ?? ""))"
            if let dose = record.values["dosage"]?.objectValue, let amount = dose["dose"]?.stringValue, let unit = dose["unit"]?.stringValue {
                text += ", \(escape(amount)) \(escape(unit))"
            }
            if let route = record.values["route"]?.stringValue { text += " \(escape(route))" }
            return text + ", since \(escape(record.values["started"]?.stringValue.map { String($0.prefix(10)) } ?? ""))" + ")"
        }
        html +=
            ##"<p class="current" id="current-treatments">Current treatments: \##(current.isEmpty ? "none recorded" : current.joined(separator: "; "))</p>"##
        return html + "</section>"
    }

    // MARK: Timeline

    private func timeline(_ flares: [FlareSpan], _ treatments: [TreatmentSpan]) -> String {
        let width = 700.0
        let left = 92.0
        let plot = width - left - 8
        let days = Double(to.number - from.number + 1)
        func x(_ day: CalendarDay) -> Double { left + Double(day.number - from.number) / days * plot }
        func w(_ start: CalendarDay, _ end: CalendarDay) -> Double { max(2.5, Double(end.number - start.number + 1) / days * plot) }

        let axisTop = 14.0
        let flareLane = (top: axisTop + 22, height: 118.0)
        let kinds = RecordSchema.treatmentKinds.filter { kind in treatments.contains { $0.kind == kind } }
        let laneHeight = 24.0
        let treatmentTop = flareLane.top + flareLane.height + 10
        let height = treatmentTop + Double(kinds.count) * laneHeight + 26
        var svg =
            ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \##(Int(width)) \##(Int(height))" role="img" aria-label="Timeline of flares and treatments">"##
        svg +=
            ##"<defs><pattern id="open" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="2" height="4" fill="#fff" opacity="0.55"/></pattern></defs>"##

        // Month grid.
        var month = from.firstOfMonth
        if month < from { month = month.addingMonths(1) }
        while month <= to {
            let position = x(month)
            svg +=
                ##"<line x1="\##(f(position))" y1="\##(f(axisTop))" x2="\##(f(position))" y2="\##(f(height - 22))" stroke="#e1e6ee" stroke-width="0.8"/>"##
            let label =
                month.month == 1 || month == from.firstOfMonth || month.addingMonths(-1) < from
                ? month.monthLabel(withYear: true) : month.monthLabel(withYear: false)
            svg += ##"<text x="\##(f(position + 2))" y="\##(f(axisTop + 8))" font-size="8" fill="#5a6578">\##(label)</text>"##
            month = month.addingMonths(1)
        }
        if today >= from && today <= to {
            let position = x(today) + w(today, today) / 2
            svg +=
                ##"<line x1="\##(f(position))" y1="\##(f(axisTop))" x2="\##(f(position))" y2="\##(f(height - 22))" stroke="#34415a" stroke-dasharray="2 2" stroke-width="0.8"/>"##
            svg += ##"<text x="\##(f(position - 2))" y="\##(f(height - 12))" font-size="7.5" fill="#34415a" text-anchor="end">today</text>"##
        }

        // Flares: a band each, taller and redder with more pain.
        svg += ##"<text x="4" y="\##(f(flareLane.top + flareLane.height - 4))" font-size="10" font-weight="600" fill="#1d2430">Flares</text>"##
        svg += ##"<text x="4" y="\##(f(flareLane.top + flareLane.height + 5))" font-size="7.5" fill="#5a6578">height = pain 0–10</text>"##
        let baseline = flareLane.top + flareLane.height
        for flare in flares {
            let bandHeight = 10 + Double(flare.pain) * 9.2
            let bx = x(flare.start)
            let bw = w(flare.start, flare.end)
            let title =
                "Flare from \(flare.record.values["started"]?.stringValue ?? "") to \(flare.record.values["ended"]?.stringValue ?? "ongoing"), pain \(flare.pain)/10, \(flare.sites.map(BodySiteText.label).joined(separator: ", "))"
            svg += ##"<g class="flare" data-record="\##(flare.record.id.canonical)"><title>\##(escape(title))</title>"##
            svg +=
                ##"<rect class="flare-band" x="\##(f(bx))" y="\##(f(baseline - bandHeight))" width="\##(f(bw))" height="\##(f(bandHeight))" rx="1.5" fill="\##(Self.painColour(flare.pain))" fill-opacity="0.85" data-pain="\##(flare.pain)"/>"##
            if flare.isOpen {
                svg += ##"<rect x="\##(f(bx + bw - 6))" y="\##(f(baseline - bandHeight))" width="6" height="\##(f(bandHeight))" fill="url(#open)"/>"##
            }
            let label = flare.sites.map(Self.shortSite).joined(separator: ", ")
            // Labels near the right edge end at the band instead of running off the page.
            let nearEnd = bx + Double(label.count) * 4.6 > width - 8
            svg +=
                ##"<text x="\##(f(nearEnd ? bx + bw : bx + 1))" y="\##(f(baseline - bandHeight - 2))" font-size="8" fill="#1d2430"\##(nearEnd ? #" text-anchor="end""# : "")>\##(escape(label))</text>"##
            svg +=
                ##"<text x="\##(f(bx + bw / 2))" y="\##(f(baseline - 2.5))" font-size="8.5" fill="#fff" text-anchor="middle" font-weight="600">\##(bw >= 9 ? String(flare.pain) : "")</text></g>"##
        }
        svg += ##"<line x1="\##(f(left))" y1="\##(f(baseline))" x2="\##(f(width - 8))" y2="\##(f(baseline))" stroke="#9aa4b5" stroke-width="0.8"/>"##

        // Treatments: a lane per kind; courses as bars, single doses as diamonds.
        for (lane, kind) in kinds.enumerated() {
            let top = treatmentTop + Double(lane) * laneHeight
            let colour = Self.kindColours[kind] ?? "#6b7a90"
            svg += ##"<text x="4" y="\##(f(top + 15))" font-size="9.5" fill="#1d2430">\##(escape(Self.kindLabels[kind] ?? kind))</text>"##
            svg +=
                ##"<line x1="\##(f(left))" y1="\##(f(top + laneHeight - 1))" x2="\##(f(width - 8))" y2="\##(f(top + laneHeight - 1))" stroke="#eef1f5" stroke-width="0.6"/>"##
            for treatment in treatments where treatment.kind == kind {
                let tx = x(treatment.start)
                svg +=
                    ##"<g class="treatment" data-record="\##(treatment.record.id.canonical)" data-kind="\##(kind)"><title>\##(escape("\(treatment.name), \(treatment.record.values["started"]?.stringValue ?? "") to \(treatment.record.values["ended"]?.stringValue ?? (treatment.isSingleDose ? "single dose" : "ongoing"))"))</title>"##
                if treatment.isSingleDose {
                    let cx = tx + w(treatment.start, treatment.start) / 2
                    svg +=
                        ##"<polygon class="treatment-dose" points="\##(f(cx)),\##(f(top + 3)) \##(f(cx + 6)),\##(f(top + 11)) \##(f(cx)),\##(f(top + 19)) \##(f(cx - 6)),\##(f(top + 11))" fill="\##(colour)"/>"##
                    svg += ##"<text x="\##(f(cx + 8))" y="\##(f(top + 14.5))" font-size="8.5" fill="#1d2430">\##(escape(treatment.name))</text>"##
                } else {
                    let tw = w(treatment.start, treatment.end)
                    svg +=
                        ##"<rect class="treatment-course" x="\##(f(tx))" y="\##(f(top + 4))" width="\##(f(tw))" height="15" rx="2" fill="\##(colour)" fill-opacity="0.9"/>"##
                    if treatment.isOpen {
                        svg +=
                            ##"<polygon points="\##(f(tx + tw)),\##(f(top + 2)) \##(f(tx + tw + 6)),\##(f(top + 11.5)) \##(f(tx + tw)),\##(f(top + 21))" fill="\##(colour)"/>"##
                    }
                    let fits = Double(treatment.name.count) * 4.8 < tw - 4
                    svg +=
                        ##"<text x="\##(f(fits ? tx + 3 : tx + tw + 7))" y="\##(f(top + 14.5))" font-size="8.5" fill="\##(fits ? "#fff" : "#1d2430")">\##(escape(treatment.name))</text>"##
                }
                svg += "</g>"
            }
        }
        svg += ##"<text x="\##(f(left))" y="\##(f(height - 3))" font-size="7" fill="#5a6578">\##(from.text)</text>"##
        svg += ##"<text x="\##(f(width - 8))" y="\##(f(height - 3))" font-size="7" fill="#5a6578" text-anchor="end">\##(to.text)</text>"##
        return svg + "</svg>"
    }

    static let kindLabels = [
        "nsaid": "NSAID", "steroid": "Steroid", "antibiotic": "Antibiotic", "bisphosphonate": "Bisphosphonate", "biologic": "Biologic",
        "dmard": "DMARD", "analgesic": "Analgesic", "surgery": "Surgery", "physiotherapy": "Physiotherapy", "other": "Other",
    ]

    static let kindColours = [
        "nsaid": "#2f7ebc", "steroid": "#8e5bb5", "antibiotic": "#2a9d8f", "bisphosphonate": "#d08a1e", "biologic": "#b5446e",
        "dmard": "#5b6abf", "analgesic": "#4f8f3a", "surgery": "#7a5230", "physiotherapy": "#3a8f8a", "other": "#6b7a90",
    ]

    /// Pain 0 is a pale yellow, 10 a deep red.
    static func painColour(_ pain: Int) -> String {
        let level = Double(min(max(pain, 0), 10))
        return "hsl(\(Int(52 - level * 5.2)), 82%, \(Int(60 - level * 2.2))%)"
    }

    static func shortSite(_ site: String) -> String {
        for (side, mark) in [("left", "L"), ("right", "R")] where site.hasSuffix("-\(side)") {
            return "\(mark) " + site.dropLast(side.count + 1).replacingOccurrences(of: "-", with: " ")
        }
        return site.replacingOccurrences(of: "-", with: " ")
    }

    // MARK: Tables

    private func sitesTable() -> String {
        let counts = siteCounts
        var html = "<section><h2>Sites that flared</h2>"
        guard let most = counts.first?.flares else { return html + ##"<p class="none">No flares in this period.</p></section>"## }
        html += ##"<table id="sites"><tr><th>Site</th><th class="n">Flares</th><th></th></tr>"##
        for (site, flares) in counts.prefix(14) {
            html +=
                ##"<tr><td>\##(escape(BodySiteText.label(site)))</td><td class="n">\##(flares)</td><td><span class="bar" style="width: \##(f(Double(flares) / Double(most) * 30))mm"></span></td></tr>"##
        }
        if counts.count > 14 { html += ##"<tr><td colspan="3" class="none">and \##(counts.count - 14) more sites</td></tr>"## }
        return html + "</table></section>"
    }

    private func contributorsTable() -> String {
        var html =
            ##"<section><h2>Who recorded what</h2><table id="contributors"><tr><th>Device</th><th class="n">Records</th><th class="n">Changes</th></tr>"##
        for (author, created, changes) in contributors {
            html += ##"<tr><td>\##(escape(author.label))</td><td class="n">\##(created)</td><td class="n">\##(changes)</td></tr>"##
        }
        return html + "</table></section>"
    }

    private func conflictsSection() -> String {
        var html = ##"<section id="conflicts"><h2>Open conflicts</h2>"##
        guard !conflicts.isEmpty else { return html + ##"<p class="none">None: every field has one agreed value.</p></section>"## }
        html += ##"<p class="none">Two devices changed these at the same time; the diary shows the first value, the second was overridden.</p>"##
        for conflict in conflicts {
            let record = records.first { $0.id == conflict.record }
            let when = record?.values["started"]?.stringValue.map { " of \(String($0.prefix(10)))" } ?? ""
            html +=
                ##"<p class="conflict"><strong>\##(conflict.type.rawValue)\##(escape(when)), \##(escape(conflict.field))</strong>: \##(escape(Self.shown(conflict.kept.value))) (\##(escape(conflict.kept.author.label)), \##(Self.minute(conflict.kept.time))) over \##(escape(Self.shown(conflict.overridden.value))) (\##(escape(conflict.overridden.author.label)), \##(Self.minute(conflict.overridden.time)))</p>"##
        }
        return html + "</section>"
    }

    private func footer() -> String {
        "<footer>CareSync report of \(records.count) records. Pain on the 0–10 numeric rating scale. Bands with a hatched end are flares still going on; bars with an arrow, courses not ended.</footer>"
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

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// A calendar day, as days since 1970-01-01, for the report's arithmetic.
public struct CalendarDay: Comparable, Hashable, Sendable {
    public let number: Int64

    public init(number: Int64) { self.number = number }

    /// Reads `YYYY-MM-DD`.
    public init?(_ text: String) {
        guard let number = CalendarText.dayNumber(text) else { return nil }
        self.number = number
    }

    /// Today in the local time zone.
    public static func today(_ date: Date = Date()) -> CalendarDay {
        let local = date.addingTimeInterval(TimeInterval(TimeZone.current.secondsFromGMT(for: date)))
        return CalendarDay(number: Int64((local.timeIntervalSince1970 / 86_400).rounded(.down)))
    }

    /// Year, month, day (Howard Hinnant's civil_from_days).
    public var parts: (year: Int64, month: Int64, day: Int64) {
        let z = number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public var text: String {
        let (year, month, day) = parts
        return String(format: "%04d-%02d-%02d", Int(year), Int(month), Int(day))
    }

    public var month: Int64 { parts.month }

    public var firstOfMonth: CalendarDay {
        let (year, month, _) = parts
        return CalendarDay(number: CalendarText.daysSinceEpoch(year: year, month: month, day: 1))
    }

    /// The same day of the month `count` months later (clamped to the month's last day).
    public func addingMonths(_ count: Int64) -> CalendarDay {
        let (year, month, day) = parts
        let index = year * 12 + (month - 1) + count
        let newYear = index / 12
        let newMonth = index % 12 + 1
        var result = CalendarText.daysSinceEpoch(year: newYear, month: newMonth, day: 1)
        let nextMonth = CalendarText.daysSinceEpoch(year: (index + 1) / 12, month: (index + 1) % 12 + 1, day: 1)
        result += min(day, nextMonth - result) - 1
        return CalendarDay(number: result)
    }

    func monthLabel(withYear: Bool) -> String {
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let (year, month, _) = parts
        return names[Int(month) - 1] + (withYear ? " \(year)" : "")
    }

    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool { lhs.number < rhs.number }
}

extension DiaryDevice {
    /// The one-page report of the period `from`…`to` (default: the six months up to today).
    public func report(from: CalendarDay? = nil, to: CalendarDay? = nil, now: Date = Date()) throws(ClientError) -> DiaryReport {
        let today = CalendarDay.today(now)
        let end = to ?? today
        let start = from ?? end.addingMonths(-6)
        guard start <= end else { throw .invalid("the report's period starts (\(start.text)) after it ends (\(end.text))") }
        let status = try status()
        let lastSync = [status.lastPullAt, status.lastPushAt].compactMap { $0 }.max()
        return DiaryReport(
            diaryName: identity.diaryName, records: try records(), conflicts: try conflicts(), history: try history(), lastSync: lastSync,
            from: start, to: end, today: today)
    }
}
