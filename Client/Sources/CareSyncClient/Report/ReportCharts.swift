import Foundation
import SyncCore

extension DiaryReport {
    /// A small chart of one lab test on the timeline's axis: its results as points (red outside the
    /// reference range) joined by a line, each labelled with its value, over the lab's reference range shaded.
    func labChart(_ test: String, axis: TimeAxis, top: Double) -> (svg: String, height: Double)? {
        let results = labResults(test)
        guard let chart = Self.chartedLabs.first(where: { $0.test == test }), !results.isEmpty else { return nil }
        let plotTop = top + 9
        let plotHeight = 32.0
        let baseline = plotTop + plotHeight
        let ceiling = Self.roundedUp(max(results.map(\.value).max()!, results.compactMap(\.refHigh).max() ?? 0) * 1.1)
        func y(_ value: Double) -> Double { baseline - min(value, ceiling) / ceiling * plotHeight }

        var svg = ##"<g class="lab-chart" data-test="\##(test)">"##
        svg += SVG.text(chart.label, x: 4, y: plotTop + 8, size: 8.5, weight: "600")
        svg += SVG.text(chart.unit, x: 4, y: plotTop + 17, size: 7, fill: "#5a6578")
        if let latest = results.last(where: { $0.refHigh != nil }), let high = latest.refHigh {
            let range = "\(Self.shortNumber(latest.refLow ?? 0))–\(Self.shortNumber(high))"
            svg += SVG.text("shaded: normal \(range)", x: 4, y: plotTop + 26, size: 6.5, fill: "#5a6578")
        }
        for band in referenceBands(results, axis) {
            let high = y(band.high)
            svg += SVG.rect(band.start, high, band.end - band.start, y(band.low) - high, fill: "#dcefe0", extra: #"class="lab-reference""#)
        }
        for tick in [0, ceiling] {
            svg += SVG.text(Self.shortNumber(tick), x: axis.left - 3, y: y(tick) + 2.5, size: 7, fill: "#5a6578", anchor: "end")
        }
        svg += SVG.line(axis.left, baseline, axis.right, baseline, stroke: "#c3cad6", width: 0.6)
        let points = results.map { (x: axis.centre($0.day), y: y($0.value), result: $0) }
        if points.count > 1 {
            let text = points.map { "\(SVG.n($0.x)),\(SVG.n($0.y))" }.joined(separator: " ")
            svg += ##"<polyline points="\##(text)" fill="none" stroke="#7a8496" stroke-width="0.9"/>"##
        }
        var labelEnd = -Double.infinity
        for point in points {
            let result = point.result
            let colour = result.isOutOfRange ? "#c0392b" : "#34415a"
            let range = [result.refLow, result.refHigh].map { $0.map(Self.shortNumber) ?? "" }.joined(separator: "–")
            svg +=
                ##"<circle class="lab-point" cx="\##(SVG.n(point.x))" cy="\##(SVG.n(point.y))" r="2.3" fill="\##(colour)" data-value="\##(Self.shortNumber(result.value))">"##
                + SVG.title("\(chart.label) \(Self.shortNumber(result.value)) \(result.unit) on \(result.day.text) (reference \(range))")
                + "</circle>"
            // A value is named unless it would run into the one before.
            let label = Self.shortNumber(result.value)
            let width = SVG.textWidth(label, size: 7)
            if point.x - width / 2 > labelEnd + 2 {
                svg += SVG.text(label, x: point.x, y: point.y - 4, size: 7, fill: colour, anchor: "middle")
                labelEnd = point.x + width / 2
            }
        }
        return (svg + "</g>", baseline - top)
    }

    /// The reference ranges behind a lab's points: each result's own range from halfway to the result
    /// before to halfway to the next, runs of the same range drawn as one band.
    private func referenceBands(_ results: [LabResult], _ axis: TimeAxis) -> [(start: Double, end: Double, low: Double, high: Double)] {
        var bands: [(start: Double, end: Double, low: Double, high: Double)] = []
        for (index, result) in results.enumerated() {
            let start = index == 0 ? axis.left : (axis.centre(results[index - 1].day) + axis.centre(result.day)) / 2
            let end = index == results.count - 1 ? axis.right : (axis.centre(result.day) + axis.centre(results[index + 1].day)) / 2
            guard let high = result.refHigh else { continue }
            let low = result.refLow ?? 0
            if let last = bands.last, last.low == low, last.high == high, abs(last.end - start) < 0.01 {
                bands[bands.count - 1].end = end
            } else {
                bands.append((start, end, low, high))
            }
        }
        return bands
    }

    /// Height as a line on the timeline's axis, each measurement labelled where there is room.
    func heightChart(_ axis: TimeAxis, top: Double) -> (svg: String, height: Double)? {
        let measured = growthInPeriod.compactMap { growth in growth.heightCm.map { (growth, $0) } }
        guard let lowest = measured.map(\.1).min(), let highest = measured.map(\.1).max() else { return nil }
        let plotTop = top + 9
        let plotHeight = 24.0
        let floor = (lowest - 0.5).rounded(.down)
        let ceiling = max(floor + 2, (highest + 0.5).rounded(.up))
        func y(_ value: Double) -> Double { plotTop + plotHeight - (value - floor) / (ceiling - floor) * plotHeight }

        var svg = ##"<g class="height-chart">"##
        svg += SVG.text("Height", x: 4, y: plotTop + 8, size: 8.5, weight: "600")
        svg += SVG.text("cm", x: 4, y: plotTop + 17, size: 7, fill: "#5a6578")
        if let weight = growthInPeriod.last(where: { $0.weightKg != nil }) {
            svg += SVG.text("weight \(Self.shortNumber(weight.weightKg!)) kg", x: 4, y: plotTop + 26, size: 6.5, fill: "#5a6578")
        }
        for tick in [floor, ceiling] {
            svg += SVG.text(Self.shortNumber(tick), x: axis.left - 3, y: y(tick) + 2.5, size: 7, fill: "#5a6578", anchor: "end")
        }
        svg += SVG.line(axis.left, plotTop + plotHeight, axis.right, plotTop + plotHeight, stroke: "#c3cad6", width: 0.6)
        let points = measured.map { (x: axis.centre($0.0.day), y: y($0.1), growth: $0.0, height: $0.1) }
        if points.count > 1 {
            let text = points.map { "\(SVG.n($0.x)),\(SVG.n($0.y))" }.joined(separator: " ")
            svg += ##"<polyline points="\##(text)" fill="none" stroke="#2a7f62" stroke-width="1"/>"##
        }
        var labelEnd = -Double.infinity
        for point in points {
            let weight = point.growth.weightKg.map { ", \(Self.shortNumber($0)) kg" } ?? ""
            svg +=
                ##"<circle class="height-point" cx="\##(SVG.n(point.x))" cy="\##(SVG.n(point.y))" r="2.2" fill="#2a7f62">"##
                + SVG.title("\(Self.shortNumber(point.height)) cm\(weight) on \(point.growth.day.text)") + "</circle>"
            let label = Self.shortNumber(point.height)
            let width = SVG.textWidth(label, size: 7)
            if point.x - width / 2 > labelEnd + 2 {
                svg += SVG.text(label, x: point.x, y: point.y - 4, size: 7, fill: "#2a7f62", anchor: "middle")
                labelEnd = point.x + width / 2
            }
        }
        return (svg + "</g>", plotHeight + 9)
    }

    /// A chart's top: a round number (1, 1.5, 2, 3, 4, 5, 6 or 8 times a power of ten) at or above the value.
    static func roundedUp(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let power = pow(10, (log10(value)).rounded(.down))
        return [1, 1.5, 2, 3, 4, 5, 6, 8, 10].map { $0 * power }.first { $0 >= value * 0.999_999 } ?? 10 * power
    }

    /// A measurement as people write it: "5", "12.5" (no trailing zeros, at most two decimals).
    static func shortNumber(_ value: Double) -> String {
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
