import Foundation
import SyncCore

/// The report a clinician reads before a visit: one self-contained HTML file (inline CSS and SVG,
/// nothing fetched) that prints on at most two A4 pages. This type holds the diary and every number
/// the page shows; `html` (ReportPage.swift) draws them, and docs/REPORT.md says how each is computed.
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
    /// The day of the previous visit, if one was given: where `sinceVisit` starts.
    public let previousVisit: CalendarDay?
    /// Every check-in of the diary by day, not only the period's: a treatment's window before its start
    /// may reach back before the period.
    public let checkins: [Checkin]

    public init(
        diaryName: String, records: [DiaryRecord], conflicts: [OpenConflict], history: [HistoryEntry], lastSync: Date?, from: CalendarDay,
        to: CalendarDay, today: CalendarDay, previousVisit: CalendarDay? = nil
    ) {
        self.diaryName = diaryName
        self.records = records.filter { !$0.isDeleted }
        self.conflicts = conflicts
        self.history = history
        self.lastSync = lastSync
        self.from = from
        self.to = to
        self.today = today
        self.previousVisit = previousVisit
        self.checkins = self.records.compactMap(Checkin.init).sorted { $0.day < $1.day }
    }

    /// The day "now" stands for on the page: today, or the period's last day if the period ended before today.
    public var asOf: CalendarDay { min(to, today) }

    // MARK: Flares and treatments

    /// A flare within the period: its days clipped to the period (an open flare lasts until `asOf`).
    public struct FlareSpan: Sendable {
        public let record: DiaryRecord
        /// The day it started, as recorded (before the period if it began earlier).
        public let started: CalendarDay
        /// The day it ended, or nil while it goes on.
        public let ended: CalendarDay?
        public let start: CalendarDay
        public let end: CalendarDay
        public let pain: Int
        public let sites: [String]
        public var isOpen: Bool { ended == nil }
    }

    /// Every flare of the diary, its days clipped to the period: one that does not overlap the period
    /// ends up with `end` before `start`.
    private var allFlares: [FlareSpan] {
        records.filter { $0.type == .flare }.compactMap { record -> FlareSpan? in
            guard let started = CalendarDay(record.values["started"]?.stringValue ?? "") else { return nil }
            let ended = record.values["ended"]?.stringValue.flatMap { CalendarDay($0) }
            let end = max(started, ended ?? max(started, asOf))
            return FlareSpan(
                record: record, started: started, ended: ended, start: max(started, from), end: min(end, to),
                pain: Int(record.values["pain"]?.intValue ?? 0), sites: record.values["sites"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }.sorted { $0.started < $1.started }
    }

    public var flaresInPeriod: [FlareSpan] { allFlares.filter { $0.start <= $0.end } }

    /// A treatment within the period: a course (start to end, or still going) or a single dose.
    public struct TreatmentSpan: Sendable {
        public let record: DiaryRecord
        public let kind: String
        public let name: String
        /// The day it started, as recorded (before the period if it began earlier).
        public let started: CalendarDay
        public let start: CalendarDay
        public let end: CalendarDay
        public let isSingleDose: Bool
        public let isOpen: Bool
    }

    public var treatmentsInPeriod: [TreatmentSpan] {
        records.filter { $0.type == .treatment }.compactMap { record -> TreatmentSpan? in
            let startedText = record.values["started"]?.stringValue ?? ""
            guard let start = CalendarDay(dayOf: startedText) else { return nil }
            let ended = record.values["ended"]?.stringValue.flatMap { CalendarDay(dayOf: $0) }
            let isSingleDose = ended == nil && CalendarText.isDateTime(startedText)
            let end = isSingleDose ? start : max(start, ended ?? max(start, asOf))
            guard start <= to, end >= from else { return nil }
            return TreatmentSpan(
                record: record, kind: record.values["kind"]?.stringValue ?? "other", name: record.values["name"]?.stringValue ?? "",
                started: start, start: max(start, from), end: min(end, to), isSingleDose: isSingleDose,
                isOpen: ended == nil && !isSingleDose)
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
                let start = CalendarDay(dayOf: startedText), start <= today
            else { return false }
            if let ended = record.values["ended"]?.stringValue { return CalendarDay(dayOf: ended).map { $0 >= today } ?? false }
            return !CalendarText.isDateTime(startedText)
        }
    }

    // MARK: Sites

    /// One body site (and side) that flared in the period.
    public struct SiteHistory: Sendable, Equatable {
        public let site: String
        /// Flares in the period that touched the site.
        public let flares: Int
        /// The day the first of them started, and the day the latest started.
        public let first: CalendarDay
        public let latest: CalendarDay
        /// Whether a flare at the site is going on at `asOf`.
        public let isActive: Bool
        /// New: the site's first flare ever falls within the period and it has flared once. Otherwise
        /// recurrent: it flared before the period, or more than once.
        public let isNew: Bool
    }

    /// Every site that flared in the period, most flares first.
    public var siteHistory: [SiteHistory] {
        let all = allFlares.filter { $0.started <= to }
        let inPeriod = flaresInPeriod
        let sites = Set(inPeriod.flatMap(\.sites))
        return sites.map { site -> SiteHistory in
            let here = inPeriod.filter { $0.sites.contains(site) }
            let ever = all.filter { $0.sites.contains(site) }
            return SiteHistory(
                site: site, flares: here.count, first: here.map(\.started).min()!, latest: here.map(\.started).max()!,
                isActive: ever.contains { $0.started <= asOf && ($0.ended ?? asOf) >= asOf },
                isNew: ever.count == 1 && ever[0].started >= from)
        }.sorted { $0.flares != $1.flares ? $0.flares > $1.flares : $0.site < $1.site }
    }

    // MARK: Check-ins

    /// How the child was on one day, as a parent checked in.
    public struct Checkin: Sendable {
        public let record: DiaryRecord
        public let day: CalendarDay
        public let pain: Int
        /// 0 very well, 10 very poor.
        public let wellbeing: Int?
        public let sites: [String]
        /// `none`, `part` or `whole`; nil on a day the parent did not say (a weekend, a holiday).
        public let schoolMissed: String?

        init?(_ record: DiaryRecord) {
            guard record.type == .checkin, let day = CalendarDay(record.values["date"]?.stringValue ?? ""),
                let pain = record.values["pain"]?.intValue
            else { return nil }
            self.record = record
            self.day = day
            self.pain = Int(pain)
            wellbeing = record.values["wellbeing"]?.intValue.map(Int.init)
            sites = record.values["sites"]?.arrayValue?.compactMap(\.stringValue) ?? []
            schoolMissed = record.values["school_missed"]?.stringValue
        }

        /// School days missed: a whole day is 1, part of a day 0.5.
        public var schoolDaysMissed: Double {
            switch schoolMissed {
            case "whole": 1
            case "part": 0.5
            default: 0
            }
        }
    }

    public var checkinsInPeriod: [Checkin] { checkins(from: from, to: to) }

    func checkins(from first: CalendarDay, to last: CalendarDay) -> [Checkin] {
        checkins.filter { $0.day >= first && $0.day <= last }
    }

    /// The mean of one daily value of the check-ins over a window of days, and how many check-ins it rests on.
    public struct WindowMean: Sendable, Equatable {
        public let first: CalendarDay
        public let last: CalendarDay
        public let count: Int
        public let total: Int
        public var mean: Double? { count == 0 ? nil : Double(total) / Double(count) }
    }

    func mean(from first: CalendarDay, to last: CalendarDay, of value: (Checkin) -> Int?) -> WindowMean {
        let values = checkins(from: first, to: last).compactMap(value)
        return WindowMean(first: first, last: last, count: values.count, total: values.reduce(0, +))
    }

    // MARK: Since the previous visit

    /// Pain at or above this counts a day as a day with pain on the page.
    public static let painDayThreshold = 4

    /// What happened from the previous visit to `asOf`.
    public struct SinceVisit: Sendable, Equatable {
        public let first: CalendarDay
        public let last: CalendarDay
        /// Whether `first` is the previous visit given; if not, it is the period's start.
        public let isPreviousVisit: Bool
        /// Flares that started in the span.
        public let flares: Int
        /// Days whose check-in's pain was `painDayThreshold` or more.
        public let daysWithPain: Int
        /// School days missed, from the check-ins: a whole day 1, part of a day 0.5.
        public let schoolDaysMissed: Double
        public let checkinDays: Int
        /// Days in the span, both ends included.
        public var days: Int { max(0, Int(last.days(since: first)) + 1) }
    }

    public var sinceVisit: SinceVisit {
        let first = previousVisit ?? from
        let last = asOf
        let days = checkins(from: first, to: last)
        return SinceVisit(
            first: first, last: last, isPreviousVisit: previousVisit != nil,
            flares: allFlares.filter { $0.started >= first && $0.started <= last }.count,
            daysWithPain: days.filter { $0.pain >= Self.painDayThreshold }.count, schoolDaysMissed: days.map(\.schoolDaysMissed).reduce(0, +),
            checkinDays: days.count)
    }

    // MARK: Is it working?

    /// The length of the windows before and after a treatment's start, in days.
    public static let responseWindowDays: Int64 = 28
    /// Days after the start left out before the window after it opens: the start's own flare is still
    /// going on, and most CRMO treatments take a week or two to act.
    public static let responseDelayDays: Int64 = 7
    /// Fewer check-ins than this on either side and the page says there are too few to judge.
    public static let minimumCheckins = 7

    /// Mean daily pain in the 28 days before a treatment started and in days 8 to 35 after.
    public struct TreatmentResponse: Sendable {
        public let record: DiaryRecord
        public let name: String
        public let kind: String
        public let started: CalendarDay
        public let before: WindowMean
        public let after: WindowMean
        /// Whether the window after ends after `asOf`, so that more check-ins may still come.
        public let afterIsOpen: Bool

        /// Whether both means rest on at least `minimumCheckins` check-ins.
        public var canJudge: Bool { before.count >= DiaryReport.minimumCheckins && after.count >= DiaryReport.minimumCheckins }

        /// After minus before: below zero, less pain after.
        public var change: Double? {
            guard let before = before.mean, let after = after.mean else { return nil }
            return after - before
        }
    }

    /// A row for each treatment (course or single dose) started in the period, in order of start.
    public var treatmentResponses: [TreatmentResponse] {
        treatmentsInPeriod.filter { $0.started >= from }.map { treatment in
            let start = treatment.started
            let after = (start.adding(days: Self.responseDelayDays + 1), start.adding(days: Self.responseDelayDays + Self.responseWindowDays))
            return TreatmentResponse(
                record: treatment.record, name: treatment.name, kind: treatment.kind, started: start,
                before: mean(from: start.adding(days: -Self.responseWindowDays), to: start.adding(days: -1)) { $0.pain },
                after: mean(from: after.0, to: after.1) { $0.pain }, afterIsOpen: after.1 > asOf)
        }
    }

    // MARK: CDAS

    /// The days the prefilled patient pain and patient global average over, up to `asOf`.
    public static let cdasDays: Int64 = 7

    /// The parent-reported parts of the CDAS, from the diary; the clinician's parts are left to the visit.
    public struct CDASPrefill: Sendable {
        /// Mean check-in pain over the last `cdasDays` days.
        public let pain: WindowMean
        /// Mean wellbeing (the patient global: 0 very well, 10 very poor) over the same days.
        public let wellbeing: WindowMean
        /// The latest check-in within those days.
        public let latestCheckin: Checkin?
        /// Sites of the flares going on at `asOf`, then those of the latest check-in not among them.
        public let openFlareSites: [String]
        public let checkinSites: [String]
        /// The latest imaging study up to `asOf` that counted active lesions.
        public let imaging: ImagingStudy?

        public var activeSites: [String] { openFlareSites + checkinSites }
    }

    public var cdas: CDASPrefill {
        let first = asOf.adding(days: -(Self.cdasDays - 1))
        let latest = checkins(from: first, to: asOf).last
        var flareSites: [String] = []
        for flare in allFlares where flare.started <= asOf && (flare.ended ?? asOf) >= asOf {
            for site in flare.sites where !flareSites.contains(site) { flareSites.append(site) }
        }
        return CDASPrefill(
            pain: mean(from: first, to: asOf) { $0.pain }, wellbeing: mean(from: first, to: asOf) { $0.wellbeing }, latestCheckin: latest,
            openFlareSites: flareSites, checkinSites: (latest?.sites ?? []).filter { !flareSites.contains($0) },
            imaging: allImaging.last { $0.day <= asOf && $0.activeLesions != nil })
    }

    // MARK: Labs, imaging, growth

    /// One lab result, in the unit its chart uses.
    public struct LabResult: Sendable {
        public let record: DiaryRecord
        public let day: CalendarDay
        public let value: Double
        public let unit: String
        public let refLow: Double?
        public let refHigh: Double?

        public var isOutOfRange: Bool { refHigh.map { value > $0 } == true || refLow.map { value < $0 } == true }
    }

    /// The labs charted on the timeline, the unit of each chart, and how other units convert to it.
    static let chartedLabs: [(test: String, label: String, unit: String, factors: [String: Double])] = [
        ("crp", "CRP", "mg/L", ["mg/L": 1, "mg/dL": 10]), ("esr", "ESR", "mm/h", ["mm/h": 1]),
    ]

    /// The results of a test taken in the period, oldest first, converted to the chart's unit (results
    /// in a unit it cannot convert are left out).
    public func labResults(_ test: String) -> [LabResult] {
        guard let chart = Self.chartedLabs.first(where: { $0.test == test }) else { return [] }
        return records.filter { $0.type == .lab && $0.values["test"]?.stringValue == test }.compactMap { record -> LabResult? in
            guard let day = CalendarDay(dayOf: record.values["taken"]?.stringValue ?? ""), day >= from, day <= to,
                let result = record.values["result"]?.objectValue, let value = result["value"]?.stringValue.flatMap(Double.init),
                let factor = chart.factors[result["unit"]?.stringValue ?? ""]
            else { return nil }
            func limit(_ name: String) -> Double? { record.values[name]?.stringValue.flatMap(Double.init).map { $0 * factor } }
            return LabResult(record: record, day: day, value: value * factor, unit: chart.unit, refLow: limit("ref_low"), refHigh: limit("ref_high"))
        }.sorted { $0.day < $1.day }
    }

    /// One imaging study.
    public struct ImagingStudy: Sendable {
        public let record: DiaryRecord
        public let day: CalendarDay
        public let modality: String
        public let sites: [String]
        public let activeLesions: Int?
    }

    private var allImaging: [ImagingStudy] {
        records.filter { $0.type == .imaging }.compactMap { record -> ImagingStudy? in
            guard let day = CalendarDay(record.values["date"]?.stringValue ?? "") else { return nil }
            return ImagingStudy(
                record: record, day: day, modality: record.values["modality"]?.stringValue ?? "",
                sites: record.values["sites"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                activeLesions: record.values["active_lesions"]?.intValue.map(Int.init))
        }.sorted { $0.day < $1.day }
    }

    public var imagingInPeriod: [ImagingStudy] { allImaging.filter { $0.day >= from && $0.day <= to } }

    /// One growth measurement: a height, a weight or both.
    public struct GrowthMeasurement: Sendable {
        public let record: DiaryRecord
        public let day: CalendarDay
        public let heightCm: Double?
        public let weightKg: Double?
    }

    public var growthInPeriod: [GrowthMeasurement] {
        records.filter { $0.type == .growth }.compactMap { record -> GrowthMeasurement? in
            guard let day = CalendarDay(record.values["date"]?.stringValue ?? ""), day >= from, day <= to else { return nil }
            return GrowthMeasurement(
                record: record, day: day, heightCm: record.values["height_cm"]?.stringValue.flatMap(Double.init),
                weightKg: record.values["weight_kg"]?.stringValue.flatMap(Double.init))
        }.sorted { $0.day < $1.day }
    }

    // MARK: The rest

    /// Records of a type this version does not know, which the page cannot show.
    public var newerKindCount: Int { records.filter { !$0.type.isKnown }.count }

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
}

extension DiaryDevice {
    /// The report of the period `from`…`to` (default: the six months up to today); `since` is the day of
    /// the previous visit, where the page's "since the previous visit" counts from (default: the period's start).
    public func report(from: CalendarDay? = nil, to: CalendarDay? = nil, since: CalendarDay? = nil, now: Date = Date()) throws(ClientError)
        -> DiaryReport
    {
        let today = CalendarDay.today(now)
        let end = to ?? today
        let start = from ?? end.addingMonths(-6)
        guard start <= end else { throw .invalid("the report's period starts (\(start.text)) after it ends (\(end.text))") }
        if let since, since > min(end, today) {
            throw .invalid("the previous visit (\(since.text)) is after the report's last day (\(min(end, today).text))")
        }
        let status = try status()
        let lastSync = [status.lastPullAt, status.lastPushAt].compactMap { $0 }.max()
        return DiaryReport(
            diaryName: identity.diaryName, records: try records(), conflicts: try conflicts(), history: try history(), lastSync: lastSync,
            from: start, to: end, today: today, previousVisit: since)
    }
}
