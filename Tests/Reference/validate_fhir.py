#!/usr/bin/env python3
"""Validates a FHIR Bundle written by `syncctl export --format fhir` with the fhir.resources models.

Usage: validate_fhir.py BUNDLE.json  (exit 0 valid, 1 invalid, 2 fhir.resources missing)
fhir.resources 8.x ships R5 models by default; CareSync writes FHIR R4, checked here with the R4B models
(R4B differs from R4 in none of the resources CareSync writes).
"""
import sys

try:
    from fhir.resources.R4B.bundle import Bundle
except ImportError:
    print("fhir.resources is missing: pip install 'fhir.resources>=8,<9'", file=sys.stderr)
    sys.exit(2)

with open(sys.argv[1], encoding="utf-8") as file:
    text = file.read()
try:
    bundle = Bundle.model_validate_json(text)
except Exception as error:  # pydantic's ValidationError lists every offending path
    print(f"invalid FHIR R4 Bundle: {error}", file=sys.stderr)
    sys.exit(1)
kinds = {}
for entry in bundle.entry or []:
    name = entry.resource.get_resource_type()
    kinds[name] = kinds.get(name, 0) + 1
print("valid FHIR R4 Bundle (%s): %s" % (bundle.type, ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))))
