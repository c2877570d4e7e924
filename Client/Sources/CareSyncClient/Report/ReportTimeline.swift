import Foundation
import SyncCore

/// The period's days along the timeline's x axis, which every chart of the timeline shares.
struct TimeAxis {
    let from: CalendarDay
    let to: CalendarDay
    /// Where the plot starts and ends, in SVG units; the lane labels stand left of `left`.
    let left: Double
    let right: Double

    var days: Double { Double(to.days(since: from) + 1) }
    var dayWidth: Double { (right - left) / days }

    /// The left edge of a day.
    func x(_ day: CalendarDay) -> Double { left + Double(day.days(since: from)) * dayWidth }
    func centre(_ day: CalendarDay) -> Double { x(day) + dayWidth / 2 }
    /// The width of a run of days, at least wide enough to be seen.
    func width(_ start: CalendarDay, _ end: CalendarDay) -> Double { max(2.5, Double(end.days(since: start) + 1) * dayWidth) }
}

/// SVG elements as the timeline writes them: coordinates to one decimal, text escaped.
enum SVG {
    static func n(_ value: Double) -> String { String(format: "%.1f", value) }

    static func text(
        _ content: String, x: Double, y: Double, size: Double, fill: String = "#1d2430", anchor: String? = nil, weight: String? = nil,
        classed: String? = nil
    ) -> String {
        var attributes = #"x="\#(n(x))" y="\#(n(y))" font-size="\#(size)" fill="\#(fill)""#
        if let anchor { attributes += #" text-anchor="\#(anchor)""# }
        if let weight { attributes += #" font-weight="\#(weight)""# }
        if let classed { attributes += #" class="\#(classed)""# }
        return "<text \(attributes)>\(DiaryReport.escape(content))</text>"
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double, dash: String? = nil) -> String {
        let dashed = dash.map { #" stroke-dasharray="\#($0)""# } ?? ""
        return #"<line x1="\#(n(x1))" y1="\#(n(y1))" x2="\#(n(x2))" y2="\#(n(y2))" stroke="\#(stroke)" stroke-width="\#(width)"\#(dashed)/>"#
    }

    /// A rectangle; `extra` holds further attributes, written as they are.
    static func rect(_ x: Double, _ y: Double, _ width: Double, _ height: Double, fill: String, extra: String = "") -> String {
        #"<rect x="\#(n(x))" y="\#(n(y))" width="\#(n(width))" height="\#(n(height))" fill="\#(fill)"\#(extra.isEmpty ? "" : " " + extra)/>"#
    }

    static func title(_ text: String) -> String { "<title>\(DiaryReport.escape(text))</title>" }

    /// About how wide a label is in DejaVu Sans, the page's font, so that labels can be kept apart.
    static func textWidth(_ text: String, size: Double) -> Double { Double(text.count) * size * 0.6 }
}

/// Rows of labels where no label overlaps another: each goes in the first row where it fits.
struct LabelRows {
    private(set) var ends: [Double] = []
    let maxRows: Int

    init(maxRows: Int) { self.maxRows = maxRows }

    /// The row for a label from `x` to `x + width`, or nil if none of the rows has room.
    mutating func place(_ x: Double, width: Double) -> Int? {
        for (row, end) in ends.enumerated() where x > end + 4 {
            ends[row] = x + width
            return row
        }
        guard ends.count < maxRows else { return nil }
        ends.append(x + width)
        return ends.count - 1
    }
}

/// Where a mark's name goes in a lane: right of the mark if it ends before the next mark, else left
/// of it if it starts after what came before, else nowhere (the mark's title still names it).
struct LaneLabel {
    private var occupied = -Double.infinity
    let left: Double

    init(left: Double) { self.left = left }

    /// The x where the name starts, or nil; `next` is where the lane's next mark starts.
    mutating func place(markStart: Double, markEnd: Double, width: Double, next: Double) -> Double? {
        defer { occupied = max(occupied, markEnd) }
        if markEnd + 3 + width < next - 4 {
            occupied = markEnd + 3 + width
            return markEnd + 3
        }
        if markStart - 3 - width > max(occupied + 4, left) { return markStart - 3 - width }
        return nil
    }
}

extension DiaryReport {
    static let timelineWidth = 640.0
    /// Room left of the plot for the lane labels.
    static let laneLabelWidth = 88.0
    /// Check-ins further apart than this are not joined by the pain line: the gap shows.
    static let painLineGapDays: Int64 = 3

    /// The period on one time axis: pain and flares, treatments, imaging, labs and height, each a band of
    /// its own under the months, in one SVG so that they line up when printed.
    func timeline() -> String {
        let axis = TimeAxis(from: from, to: to, left: Self.laneLabelWidth, right: Self.timelineWidth - 10)
        var y = 14.0
        var body = ""
        let bands: [(TimeAxis, Double) -> (svg: String, height: Double)?] = [
            painAndFlares, treatmentLanes, imagingLane, { self.labChart("crp", axis: $0, top: $1) }, { self.labChart("esr", axis: $0, top: $1) },
            heightChart,
        ]
        for band in bands {
            guard let drawn = band(axis, y) else { continue }
            body += drawn.svg
            y += drawn.height + 5
        }
        let height = y + 20
        var svg =
            ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \##(Int(Self.timelineWidth)) \##(Int(height))" role="img" aria-label="Timeline of pain, flares, treatments, imaging, labs and growth">"##
        svg +=
            ##"<defs><pattern id="open" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="2" height="4" fill="#fff" opacity="0.6"/></pattern></defs>"##
        svg += monthGrid(axis, bottom: y) + body + dayMarkers(axis, bottom: y)
        svg += SVG.text(from.text, x: axis.left, y: height - 3, size: 7.5, fill: "#5a6578")
        svg += SVG.text(to.text, x: axis.right, y: height - 3, size: 7.5, fill: "#5a6578", anchor: "end")
        return svg + "</svg>"
    }

    /// A line at the start of each month, named at the top (with the year in January and at the start).
    private func monthGrid(_ axis: TimeAxis, bottom: Double) -> String {
        var svg = ""
        var month = from.firstOfMonth
        if month < from { month = month.addingMonths(1) }
        let first = month
        while month <= to {
            let position = axis.x(month)
            svg += SVG.line(position, 4, position, bottom, stroke: "#e1e6ee", width: 0.8)
            let label = month.monthLabel(withYear: month.month == 1 || month == first)
            svg += SVG.text(label, x: position + 2, y: 10, size: 8, fill: "#5a6578")
            month = month.addingMonths(1)
        }
        return svg
    }

    /// Today and the previous visit, as dashed lines through every band, named under the last.
    private func dayMarkers(_ axis: TimeAxis, bottom: Double) -> String {
        var svg = ""
        var labels = LabelRows(maxRows: 2)
        var markers: [(CalendarDay, String, String)] = []
        if let previousVisit, previousVisit >= from && previousVisit <= to { markers.append((previousVisit, "previous visit", "#2f7a4f")) }
        if today >= from && today <= to { markers.append((today, "today", "#34415a")) }
        for (day, name, colour) in markers {
            let position = axis.centre(day)
            svg += SVG.line(position, 4, position, bottom, stroke: colour, width: 0.9, dash: "2 2")
            let width = SVG.textWidth(name, size: 7.5)
            let rightAligned = position + width > axis.right
            let start = rightAligned ? position - 2 - width : position + 2
            let row = labels.place(start, width: width) ?? 1
            svg += SVG.text(
                name, x: rightAligned ? position - 2 : position + 2, y: bottom + 7 + Double(row) * 8, size: 7.5, fill: colour,
                anchor: rightAligned ? "end" : nil)
        }
        return svg
    }

    // MARK: Pain and flares

    /// Daily pain from the check-ins as a line over the flares, each a band whose height is its pain
    /// on the same 0–10 scale, with the flares' sites named above.
    private func painAndFlares(_ axis: TimeAxis, top: Double) -> (svg: String, height: Double)? {
        let flares = flaresInPeriod
        // The site labels first, so that the chart starts under as many rows as they need.
        var rows = LabelRows(maxRows: 4)
        let labels = flares.map { flare -> (text: String, x: Double, row: Int?) in
            let text = flare.sites.map(Self.shortSite).joined(separator: ", ")
            let width = SVG.textWidth(text, size: 8)
            let start = min(axis.x(flare.start), axis.right - width)
            return (text, start, rows.place(start, width: width))
        }
        let labelHeight = Double(rows.ends.count) * 10
        let chartTop = top + labelHeight + 4
        let scale = 10.0
        let baseline = chartTop + 10 * scale
        var svg = ""
        for (index, label) in labels.enumerated() {
            guard let row = label.row else { continue }
            let y = top + 8 + Double(row) * 10
            svg += SVG.text(label.text, x: label.x, y: y, size: 8, classed: "flare-label")
            let bandX = axis.x(flares[index].start) + 1
            svg += SVG.line(bandX, y + 2, bandX, chartTop, stroke: "#c3cad6", width: 0.6)
        }
        for pain in stride(from: 0, through: 10, by: 2) {
            let lineY = baseline - Double(pain) * scale
            let threshold = pain == Self.painDayThreshold
            svg += SVG.line(
                axis.left, lineY, axis.right, lineY, stroke: threshold ? "#8c96a8" : "#eef1f5", width: threshold ? 0.7 : 0.6,
                dash: threshold ? "3 2" : nil)
            svg += SVG.text(String(pain), x: axis.left - 3, y: lineY + 2.5, size: 7, fill: "#5a6578", anchor: "end")
        }
        svg += SVG.text("Pain", x: 4, y: chartTop + 9, size: 9.5, weight: "600")
        let legend =
            checkinsInPeriod.isEmpty
            ? ["no check-ins", "bands: flares,", "height its pain"] : ["line: daily", "check-in pain", "bands: flares", "dashed: pain 4"]
        for (line, text) in legend.enumerated() {
            svg += SVG.text(text, x: 4, y: chartTop + 21 + Double(line) * 9, size: 7, fill: "#5a6578")
        }
        svg += flareBands(flares, axis, baseline: baseline, scale: scale)
        svg += painLine(axis, baseline: baseline, scale: scale)
        svg += SVG.line(axis.left, baseline, axis.right, baseline, stroke: "#9aa4b5", width: 0.8)
        return (svg, baseline - top)
    }

    /// A band per flare behind the pain line: as tall as its pain, redder with more, hatched at the end while open.
    private func flareBands(_ flares: [FlareSpan], _ axis: TimeAxis, baseline: Double, scale: Double) -> String {
        var svg = ""
        for flare in flares {
            let bandHeight = max(2, Double(flare.pain) * scale)
            let bx = axis.x(flare.start)
            let bw = axis.width(flare.start, flare.end)
            let title =
                "Flare from \(flare.started.text) to \(flare.ended?.text ?? "ongoing"), pain \(flare.pain)/10, \(flare.sites.map(BodySiteText.label).joined(separator: ", "))"
            svg += ##"<g class="flare" data-record="\##(flare.record.id.canonical)">"## + SVG.title(title)
            svg += SVG.rect(
                bx, baseline - bandHeight, bw, bandHeight, fill: Self.painColour(flare.pain),
                extra: ##"class="flare-band" rx="1" fill-opacity="0.45" data-pain="\##(flare.pain)""##)
            if flare.isOpen { svg += SVG.rect(bx + bw - 5, baseline - bandHeight, 5, bandHeight, fill: "url(#open)") }
            if bw >= 9 { svg += SVG.text(String(flare.pain), x: bx + bw / 2, y: baseline - 2.5, size: 7.5, anchor: "middle", weight: "600") }
            svg += "</g>"
        }
        return svg
    }

    /// The check-ins' pain joined day by day; a gap of more than `painLineGapDays` breaks the line.
    private func painLine(_ axis: TimeAxis, baseline: Double, scale: Double) -> String {
        var runs: [[Checkin]] = []
        for checkin in checkinsInPeriod {
            if let last = runs.last?.last, checkin.day.days(since: last.day) <= Self.painLineGapDays {
                runs[runs.count - 1].append(checkin)
            } else {
                runs.append([checkin])
            }
        }
        var svg = ""
        for run in runs {
            let points = run.map { (axis.centre($0.day), baseline - Double($0.pain) * scale) }
            if points.count == 1 {
                svg += ##"<circle class="pain-point" cx="\##(SVG.n(points[0].0))" cy="\##(SVG.n(points[0].1))" r="1.4" fill="#1d2430"/>"##
            } else {
                let text = points.map { "\(SVG.n($0.0)),\(SVG.n($0.1))" }.joined(separator: " ")
                svg +=
                    ##"<polyline class="pain-line" points="\##(text)" fill="none" stroke="#1d2430" stroke-width="1.1" stroke-linejoin="round"/>"##
            }
        }
        return svg
    }

    // MARK: Treatments and imaging

    /// A lane per kind of treatment; courses as bars, single doses as diamonds, each named where there is room.
    private func treatmentLanes(_ axis: TimeAxis, top: Double) -> (svg: String, height: Double)? {
        let treatments = treatmentsInPeriod
        let kinds = RecordSchema.treatmentKinds.filter { kind in treatments.contains { $0.kind == kind } }
        guard !kinds.isEmpty else { return nil }
        let laneHeight = 18.0
        var svg = ""
        for (lane, kind) in kinds.enumerated() {
            let laneTop = top + Double(lane) * laneHeight
            let colour = Self.kindColours[kind] ?? "#6b7a90"
            svg += SVG.text(Self.kindLabels[kind] ?? kind, x: 4, y: laneTop + 12, size: 8.5)
            svg += SVG.line(axis.left, laneTop + laneHeight - 0.5, axis.right, laneTop + laneHeight - 0.5, stroke: "#eef1f5", width: 0.6)
            let inLane = treatments.filter { $0.kind == kind }
            var names = LaneLabel(left: axis.left)
            for (index, treatment) in inLane.enumerated() {
                let tx = axis.x(treatment.start)
                let next = index + 1 < inLane.count ? axis.x(inLane[index + 1].start) - 5 : axis.right + 8
                let nameWidth = SVG.textWidth(treatment.name, size: 8)
                let ended = treatment.record.values["ended"]?.stringValue ?? (treatment.isSingleDose ? "single dose" : "ongoing")
                svg += ##"<g class="treatment" data-record="\##(treatment.record.id.canonical)" data-kind="\##(kind)">"##
                svg += SVG.title("\(treatment.name), \(treatment.record.values["started"]?.stringValue ?? "") to \(ended)")
                if treatment.isSingleDose {
                    let cx = axis.centre(treatment.start)
                    let y = laneTop + 9
                    svg +=
                        ##"<polygon class="treatment-dose" points="\##(SVG.n(cx)),\##(SVG.n(y - 6)) \##(SVG.n(cx + 5)),\##(SVG.n(y)) \##(SVG.n(cx)),\##(SVG.n(y + 6)) \##(SVG.n(cx - 5)),\##(SVG.n(y))" fill="\##(colour)"/>"##
                    if let x = names.place(markStart: cx - 5, markEnd: cx + 5, width: nameWidth, next: next) {
                        svg += SVG.text(treatment.name, x: x, y: y + 3, size: 8)
                    }
                } else {
                    let tw = axis.width(treatment.start, treatment.end)
                    svg += SVG.rect(tx, laneTop + 3, tw, 12, fill: colour, extra: #"class="treatment-course" rx="2" fill-opacity="0.9""#)
                    if treatment.isOpen {
                        svg +=
                            ##"<polygon points="\##(SVG.n(tx + tw)),\##(SVG.n(laneTop + 1.5)) \##(SVG.n(tx + tw + 5)),\##(SVG.n(laneTop + 9)) \##(SVG.n(tx + tw)),\##(SVG.n(laneTop + 16.5))" fill="\##(colour)"/>"##
                    }
                    let arrow = treatment.isOpen ? 5.0 : 0
                    if nameWidth < tw - 5 {
                        svg += SVG.text(treatment.name, x: tx + 3, y: laneTop + 12, size: 8, fill: "#fff")
                        _ = names.place(markStart: tx, markEnd: tx + tw + arrow, width: 0, next: .infinity)
                    } else if let x = names.place(markStart: tx, markEnd: tx + tw + arrow, width: nameWidth, next: next) {
                        svg += SVG.text(treatment.name, x: x, y: laneTop + 12, size: 8)
                    }
                }
                svg += "</g>"
            }
        }
        return (svg, Double(kinds.count) * laneHeight)
    }

    /// A mark per imaging study holding its count of active lesions, the modality named beside it.
    private func imagingLane(_ axis: TimeAxis, top: Double) -> (svg: String, height: Double)? {
        let studies = imagingInPeriod
        guard !studies.isEmpty else { return nil }
        var svg = SVG.text("Imaging", x: 4, y: top + 10, size: 8.5)
        svg += SVG.text("number: active lesions", x: 4, y: top + 19, size: 6.5, fill: "#5a6578")
        var names = LaneLabel(left: axis.left)
        for (index, study) in studies.enumerated() {
            let cx = axis.centre(study.day)
            let cy = top + 10
            let label = Self.modalityLabels[study.modality] ?? study.modality
            let lesions = study.activeLesions.map(String.init) ?? "?"
            let findings = (study.record.values["findings"]?.stringValue).map { ": \($0)" } ?? ""
            svg +=
                ##"<g class="imaging-mark" data-record="\##(study.record.id.canonical)" data-lesions="\##(lesions)">"##
                + SVG.title("\(label) \(study.day.text), \(lesions) active lesion(s)\(findings)")
            svg += ##"<circle cx="\##(SVG.n(cx))" cy="\##(SVG.n(cy))" r="6.5" fill="#6a4c93"/>"##
            svg += SVG.text(lesions, x: cx, y: cy + 3, size: 8, fill: "#fff", anchor: "middle", weight: "600")
            let next = index + 1 < studies.count ? axis.centre(studies[index + 1].day) - 6.5 : axis.right + 8
            if let x = names.place(markStart: cx - 6.5, markEnd: cx + 6.5, width: SVG.textWidth(label, size: 7.5), next: next) {
                svg += SVG.text(label, x: x, y: cy + 3, size: 7.5)
            }
            svg += "</g>"
        }
        return (svg, 22)
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
}
