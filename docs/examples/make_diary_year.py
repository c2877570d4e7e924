#!/usr/bin/env python3
"""Writes diary-year.json: a year (2025-12-01 to 2026-11-30) of a child's CRMO diary, for the report.

The diary is made up but follows a plausible course: eight flares at the usual CRMO sites, daily
check-ins with pain that rises in flares and settles between them (lower once pamidronate and then
adalimumab take hold), NSAID courses, a short prednisolone course, pamidronate infusions, methotrexate
then adalimumab, CRP and ESR with their reference ranges, three MRIs and growth every three months.
The random numbers are seeded, so running it again writes the same file:

    python3 docs/examples/make_diary_year.py
"""

import datetime as dt
import json
import pathlib
import random

random.seed(20251201)

FIRST = dt.date(2025, 12, 1)
LAST = dt.date(2026, 11, 30)


def day(text):
    return dt.date.fromisoformat(text)


def days(first, last):
    current = first
    while current <= last:
        yield current
        current += dt.timedelta(days=1)


def record_id(kind, number):
    """Fixed ids, one block per record type, so that a regenerated file keeps them."""
    return f"0195f0b0-0000-7000-8{kind}00-{number:012d}"


# Flares: start, end (None: still going on), sites, pain and what else the parents noted.
FLARES = [
    ("2025-12-06", "2025-12-23", ["tibia-left"], 7, {"swelling": True, "limp": True, "notes": "Woke at night with shin pain; limping."}),
    ("2026-01-24", "2026-02-04", ["femur-right"], 6, {"limp": True}),
    ("2026-03-01", "2026-03-19", ["tibia-left", "clavicle-right"], 8, {"swelling": True, "warmth": True, "fever_c": 38.2}),
    ("2026-04-18", "2026-04-29", ["pelvis-left"], 6, {"limp": True, "notes": "Hip pain when climbing stairs."}),
    ("2026-06-06", "2026-06-15", ["spine-thoracic"], 5, {}),
    ("2026-07-10", "2026-07-17", ["tibia-right"], 4, {}),
    ("2026-09-03", "2026-09-14", ["clavicle-right"], 5, {"swelling": True}),
    ("2026-11-16", None, ["tibia-left", "femur-left"], 6, {"limp": True, "notes": "Both knees again; off sport."}),
]

# Treatments: kind, name, dose, unit, route, started, ended (None: a course still going on, or a
# single dose when started is a date-time), notes.
TREATMENTS = [
    ("nsaid", "naproxen", 250, "mg", "oral", "2025-12-10", "2026-05-31", None),
    ("steroid", "prednisolone", 20, "mg", "oral", "2026-03-04", "2026-03-18", "Short course for the March flare."),
    ("bisphosphonate", "pamidronate", 1, "mg/kg", "iv", "2026-04-28T09:30:00+02:00", None, "Day ward."),
    ("dmard", "methotrexate", 12.5, "mg", "sc", "2026-05-04", "2026-09-14", "Weekly; stopped for nausea."),
    ("bisphosphonate", "pamidronate", 1, "mg/kg", "iv", "2026-07-28T09:30:00+02:00", None, None),
    ("nsaid", "naproxen", 250, "mg", "oral", "2026-09-03", "2026-10-04", None),
    ("biologic", "adalimumab", 40, "mg", "sc", "2026-09-21", None, "Every two weeks."),
    ("bisphosphonate", "pamidronate", 1, "mg/kg", "iv", "2026-10-27T09:30:00+01:00", None, None),
    ("nsaid", "naproxen", 250, "mg", "oral", "2026-11-16", None, None),
]

# School holidays (no school day is missed then), first and last day.
HOLIDAYS = [
    ("2025-12-22", "2026-01-02"), ("2026-02-16", "2026-02-20"), ("2026-03-30", "2026-04-10"),
    ("2026-05-25", "2026-05-29"), ("2026-07-22", "2026-09-02"), ("2026-10-26", "2026-10-30"),
]
# A family holiday without the diary: a gap in the check-ins.
NO_CHECKINS = (day("2026-08-03"), day("2026-08-16"))

LOWER_LIMB = ("tibia", "femur", "pelvis", "fibula", "calcaneus")


def flare_on(date):
    for started, ended, sites, pain, _ in FLARES:
        if day(started) <= date <= (day(ended) if ended else LAST):
            return day(started), (day(ended) if ended else LAST), sites, pain
    return None


def baseline(date):
    """Pain between flares: it settles once pamidronate (April) and adalimumab (September) take hold."""
    if date < day("2026-05-10"):
        return 2.0
    if date < day("2026-10-05"):
        return 1.2
    return 0.6


def is_school_day(date):
    if date.weekday() >= 5:
        return False
    return not any(day(first) <= date <= day(last) for first, last in HOLIDAYS)


def checkin(date):
    flare = flare_on(date)
    base = baseline(date)
    if flare:
        started, ended, sites, peak = flare
        length = (ended - started).days + 1
        t = ((date - started).days + 0.5) / length
        # Up over the first quarter, a plateau, down over the last third.
        shape = min(1.0, t / 0.25, (1.0 - t) / 0.33 + 0.15)
        pain = base + (peak - base) * max(0.0, shape) + random.uniform(-1.0, 1.0)
    else:
        sites = []
        pain = base + random.uniform(-1.3, 1.3)
    pain = max(0, min(10, round(pain)))
    fields = {"type": "checkin", "date": date.isoformat(), "pain": pain}
    if random.random() < 0.92:
        fields["wellbeing"] = max(0, min(10, round(pain * 0.8 + random.uniform(-1.0, 1.4))))
    if flare and pain >= 3:
        fields["sites"] = sites
    fields["limp"] = bool(flare) and pain >= 4 and any(site.startswith(LOWER_LIMB) for site in sites)
    if is_school_day(date):
        fields["school_missed"] = "whole" if pain >= 7 else "part" if pain >= 5 and random.random() < 0.6 else "none"
    fields["sleep_disturbed"] = pain >= 6
    return fields


def checkins():
    rows = []
    for date in days(FIRST, LAST):
        if NO_CHECKINS[0] <= date <= NO_CHECKINS[1]:
            continue
        # Parents check in on most days, and on nearly every day of a flare.
        if random.random() < (0.96 if flare_on(date) else 0.82):
            rows.append(checkin(date))
    return rows


def labs():
    rows = []
    taken = ["2025-12-09", "2026-01-27", "2026-03-05T08:40:00+01:00", "2026-04-21", "2026-06-09", "2026-07-28", "2026-09-08",
             "2026-10-27", "2026-11-19"]
    for number, when in enumerate(taken, start=1):
        inflamed = flare_on(day(when[:10])) is not None
        crp = round(random.uniform(12, 28) if inflamed else random.uniform(0.8, 4.2), 1)
        esr = round(random.uniform(28, 46) if inflamed else random.uniform(7, 17))
        rows.append({"id": record_id(2, number * 2 - 1), "type": "lab", "taken": when, "test": "crp", "value": crp, "unit": "mg/L",
                     "ref_low": 0, "ref_high": 5})
        rows.append({"id": record_id(2, number * 2), "type": "lab", "taken": when, "test": "esr", "value": esr, "unit": "mm/h",
                     "ref_low": 0, "ref_high": 20})
    return rows


def imaging():
    return [
        {"id": record_id(3, 1), "type": "imaging", "date": "2025-12-18", "modality": "whole-body-mri",
         "sites": ["tibia-left", "femur-right", "clavicle-right"], "active_lesions": 3,
         "findings": "Marrow oedema at the left distal tibial metaphysis, right distal femur and right medial clavicle; no abscess."},
        {"id": record_id(3, 2), "type": "imaging", "date": "2026-06-12", "modality": "mri", "sites": ["spine-thoracic"],
         "active_lesions": 1, "findings": "T7 marrow oedema without loss of vertebral height."},
        {"id": record_id(3, 3), "type": "imaging", "date": "2026-11-24", "modality": "whole-body-mri",
         "sites": ["tibia-left", "femur-left"], "active_lesions": 2,
         "findings": "New oedema at the left proximal tibia and left distal femur; earlier lesions resolved."},
    ]


def growth():
    measured = [("2025-12-09", 138.4, 32.0), ("2026-03-05", 139.2, 33.1), ("2026-06-09", 140.3, 33.6), ("2026-09-08", 141.5, 34.2),
                ("2026-11-19", 142.1, 34.9)]
    return [{"id": record_id(4, number), "type": "growth", "date": date, "height_cm": height, "weight_kg": weight}
            for number, (date, height, weight) in enumerate(measured, start=1)]


def flares():
    rows = []
    for number, (started, ended, sites, pain, extra) in enumerate(FLARES, start=1):
        row = {"id": record_id(0, number), "type": "flare", "started": started}
        if ended:
            row["ended"] = ended
        row.update({"sites": sites, "pain": pain})
        row.update(extra)
        rows.append(row)
    return rows


def treatments():
    rows = []
    for number, (kind, name, dose, unit, route, started, ended, notes) in enumerate(TREATMENTS, start=1):
        row = {"id": record_id(1, number), "type": "treatment", "kind": kind, "name": name, "dose": dose, "unit": unit, "route": route,
               "started": started}
        if ended:
            row["ended"] = ended
        if notes:
            row["notes"] = notes
        rows.append(row)
    return rows


def main():
    diary = flares() + treatments() + checkins() + labs() + imaging() + growth()
    path = pathlib.Path(__file__).with_name("diary-year.json")
    path.write_text(json.dumps(diary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = {}
    for row in diary:
        counts[row["type"]] = counts.get(row["type"], 0) + 1
    print(f"wrote {path.name}: " + ", ".join(f"{count} {kind}" for kind, count in counts.items()))


if __name__ == "__main__":
    main()
