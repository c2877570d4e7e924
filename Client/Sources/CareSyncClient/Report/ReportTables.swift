import Foundation
import SyncCore

extension DiaryReport {
    /// Since the previous visit: flares, days with pain, school missed and how fully the diary was kept.
    func sinceVisitSection() -> String {
        let since = sinceVisit
        let span =
            since.isPreviousVisit
            ? "from the previous visit, \(since.first.text), to \(since.last.text): \(since.days) days"
            : "no previous visit given, so from the period's start, \(since.first.text), to \(since.last.text): \(since.days) days"
        // Without a check-in the diary says nothing of pain or school, which a 0 would hide.
        let kept = since.checkinDays > 0
        let figures: [(String, String, String)] = [
            ("since-flares", "Flares started", String(since.flares)),
            ("since-pain-days", "Days with pain ≥ \(Self.painDayThreshold)", kept ? String(since.daysWithPain) : "–"),
            ("since-school-days", "School days missed", kept ? Self.halves(since.schoolDaysMissed) : "–"),
        ]
        var html = ##"<section id="since-visit"><h2>Since the previous visit <span class="aside">\##(span)</span></h2><dl class="figures since">"##
        for (id, label, value) in figures { html += ##"<div><dt>\##(label)</dt><dd id="\##(id)">\##(value)</dd></div>"## }
        html +=
            ##"<div><dt>Days with a check-in</dt><dd><span id="since-checkin-days">\##(since.checkinDays)</span> <small>of <span id="since-days">\##(since.days)</span></small></dd></div>"##
        html += "</dl>"
        html +=
            ##"<p class="note">Days with pain and school days are counted from the check-ins only; a whole school day missed counts 1, part of a day ½.</p>"##
        return html + "</section>"
    }

    /// Per site and side: how often it flared, first and latest flare, whether it is active and new or recurrent.
    func sitesTable() -> String {
        let sites = siteHistory
        var html = "<section><h2>Sites that flared</h2>"
        guard let most = sites.first?.flares else { return html + ##"<p class="none">No flares in this period.</p></section>"## }
        let now = asOf == today ? "now" : "on \(asOf.text)"
        html +=
            ##"<table id="sites"><tr><th>Site</th><th class="n">Flares</th><th></th><th>First flare</th><th>Latest flare</th><th>Active \##(now)</th><th>New or recurrent</th></tr>"##
        for site in sites.prefix(16) {
            html +=
                ##"<tr data-site="\##(site.site)"><td>\##(Self.escape(BodySiteText.label(site.site)))</td><td class="n">\##(site.flares)</td><td><span class="bar" style="width: \##(SVG.n(Double(site.flares) / Double(most) * 18))mm"></span></td><td>\##(site.first.text)</td><td>\##(site.flares > 1 ? site.latest.text : "")</td><td\##(site.isActive ? #" class="active">active"# : ">–")</td><td>\##(site.isNew ? "new" : "recurrent")</td></tr>"##
        }
        if sites.count > 16 { html += ##"<tr><td colspan="7" class="none">and \##(sites.count - 16) more sites</td></tr>"## }
        html +=
            "</table><p class=\"note\">Dates are the days flares started. New: the site's first flare falls in this period and it flared once; recurrent: it flared before the period or more than once.</p>"
        return html + "</section>"
    }

    /// For each treatment started in the period: mean pain before and after, with how many check-ins each rests on.
    func treatmentResponseTable() -> String {
        let responses = treatmentResponses
        let after = "days \(Self.responseDelayDays + 1)–\(Self.responseDelayDays + Self.responseWindowDays) after"
        var html =
            ##"<section id="treatment-response"><h2>Is it working? <span class="aside">mean check-in pain in the \##(Self.responseWindowDays) days before each treatment started and \##(after) (the first \##(Self.responseDelayDays) days left out while it takes effect)</span></h2>"##
        guard !responses.isEmpty else { return html + ##"<p class="none">No treatment was started in this period.</p></section>"## }
        guard responses.contains(where: { $0.before.count + $0.after.count > 0 }) else {
            return html
                + ##"<p class="none">No check-ins around the treatments started in this period: their pain before and after cannot be compared.</p></section>"##
        }
        html +=
            ##"<table id="responses"><tr><th>Treatment</th><th>Started</th><th class="n">Pain before</th><th class="n">n</th><th class="n">Pain after</th><th class="n">n</th><th class="n">Change</th><th></th></tr>"##
        for response in responses {
            func mean(_ window: WindowMean) -> String { window.mean.map(Self.decimal) ?? "–" }
            var verdict = response.canJudge ? "" : "too few check-ins to judge"
            if response.afterIsOpen { verdict += (verdict.isEmpty ? "" : "; ") + "window ends \(response.after.last.text)" }
            html +=
                ##"<tr class="response" data-record="\##(response.record.id.canonical)"><td>\##(Self.escape(response.name)) <span class="none">(\##(Self.escape(Self.kindLabels[response.kind] ?? response.kind)))</span></td><td>\##(response.started.text)</td><td class="n before-mean">\##(mean(response.before))</td><td class="n before-count">\##(response.before.count)</td><td class="n after-mean">\##(mean(response.after))</td><td class="n after-count">\##(response.after.count)</td><td class="n">\##(response.change.map(Self.signed) ?? "–")</td><td class="few">\##(verdict)</td></tr>"##
        }
        html +=
            "</table><p class=\"note\">n: the check-ins a mean rests on. Fewer than \(Self.minimumCheckins) on either side: the means are shown but too few to judge. Treatments that overlap share their windows, so a change may be another's.</p>"
        return html + "</section>"
    }

    /// The parent-reported parts of the CDAS prefilled from the diary, and blank boxes for the clinician's.
    func cdasSection() -> String {
        let cdas = cdas
        let days = "\(cdas.pain.first.text) to \(cdas.pain.last.text)"
        func meanBox(_ id: String, _ label: String, _ window: WindowMean, _ latest: Int?, scale: String = "") -> String {
            let value = window.mean.map(Self.decimal) ?? "–"
            var note =
                scale
                + (window.count == 0
                    ? "no check-in in the last \(Self.cdasDays) days: ask at the visit" : "mean of \(window.count) check-in(s), \(days)")
            if let latest, let day = cdas.latestCheckin?.day { note += "; latest \(latest) on \(day.text)" }
            return ##"<div><div class="label">\##(label)</div><div class="value" id="\##(id)">\##(value)</div><p class="note">\##(note)</p></div>"##
        }
        var html =
            ##"<section id="cdas"><h2>CDAS <span class="aside">parent-reported parts prefilled from the diary; the clinician's parts to fill in; no total is computed here</span></h2><div class="cdas">"##
        html += meanBox("cdas-pain", "Patient pain (0–10)", cdas.pain, cdas.latestCheckin?.pain)
        html += meanBox(
            "cdas-global", "Patient global = wellbeing (0–10)", cdas.wellbeing, cdas.latestCheckin?.wellbeing,
            scale: "<strong>0 = very well, 10 = very poor</strong>; ")
        let sites =
            cdas.openFlareSites.map { "\(BodySiteText.label($0)) (open flare)" }
            + cdas.checkinSites.map { "\(BodySiteText.label($0)) (check-in \(cdas.latestCheckin!.day.text))" }
        html +=
            ##"<div><div class="label">Active sites, parent-reported</div><div class="value" id="cdas-active-sites">\##(cdas.activeSites.count)</div><p class="note">\##(sites.isEmpty ? "no open flare and no site in the latest check-in" : Self.escape(sites.joined(separator: ", ")))</p></div>"##
        let imaging = cdas.imaging.map { study in
            "\(Self.modalityLabels[study.modality] ?? study.modality) of \(study.day.text)"
                + (study.sites.isEmpty ? "" : ": " + study.sites.map(BodySiteText.label).joined(separator: ", "))
        }
        html +=
            ##"<div><div class="label">Active lesions on latest imaging</div><div class="value" id="cdas-imaging">\##(cdas.imaging?.activeLesions.map(String.init) ?? "–")</div><p class="note">\##(Self.escape(imaging ?? "no imaging with a lesion count"))</p></div>"##
        for (id, label) in [("physician-global", "Physician global (0–10)"), ("clinical-lesions", "Clinically active lesions on exam")] {
            html +=
                ##"<div class="clinician"><div class="label">\##(label)</div><div class="cdas-blank" id="cdas-\##(id)"></div><p class="note">clinician, at the visit</p></div>"##
        }
        html += "</div>"
        html +=
            ##"<p class="note">Patient pain and patient global are the means of the last \##(Self.cdasDays) days' check-ins up to \##(asOf.text); active sites are those of flares still open and of the latest check-in in those days.</p>"##
        return html + "</section>"
    }

    func contributorsTable() -> String {
        var html =
            ##"<section><h2>Who recorded what</h2><table id="contributors"><tr><th>Device</th><th class="n">Records</th><th class="n">Changes</th></tr>"##
        for (author, created, changes) in contributors {
            html += ##"<tr><td>\##(Self.escape(author.label))</td><td class="n">\##(created)</td><td class="n">\##(changes)</td></tr>"##
        }
        return html + "</table></section>"
    }

    func conflictsSection() -> String {
        var html = ##"<section id="conflicts"><h2>Open conflicts</h2>"##
        guard !conflicts.isEmpty else { return html + ##"<p class="none">None: every field has one agreed value.</p></section>"## }
        html += ##"<p class="none">Two devices changed these at the same time; the diary shows the first value, the second was overridden.</p>"##
        for conflict in conflicts {
            let record = records.first { $0.id == conflict.record }
            let when = record?.when.map { " of \(String($0.prefix(10)))" } ?? ""
            html +=
                ##"<p class="conflict"><strong>\##(conflict.type.rawValue)\##(Self.escape(when)), \##(Self.escape(conflict.field))</strong>: \##(Self.escape(Self.shown(conflict.kept.value))) (\##(Self.escape(conflict.kept.author.label)), \##(Self.minute(conflict.kept.time))) over \##(Self.escape(Self.shown(conflict.overridden.value))) (\##(Self.escape(conflict.overridden.author.label)), \##(Self.minute(conflict.overridden.time)))</p>"##
        }
        return html + "</section>"
    }
}
