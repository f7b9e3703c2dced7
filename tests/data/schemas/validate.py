"""Validates a kiln provenance file: the in-toto Statement v1 schema on the
whole, the SLSA Provenance v1 schema on the predicate (both beside this
script). Usage: python3 validate.py STATEMENT.json; exits 1 with the first
error. Needs the jsonschema module (Debian: python3-jsonschema)."""
import json
import pathlib
import sys

import jsonschema

here = pathlib.Path(__file__).parent
statement = json.loads(pathlib.Path(sys.argv[1]).read_text())
for schema, document in [
    ("in-toto-statement-v1.schema.json", statement),
    ("slsa-provenance-v1.schema.json", statement.get("predicate")),
]:
    validator = jsonschema.Draft202012Validator(json.loads((here / schema).read_text()))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path)
        print(f"{schema}: {where}: {error.message}", file=sys.stderr)
        sys.exit(1)
if statement.get("predicateType") != "https://slsa.dev/provenance/v1":
    print("predicateType is not SLSA provenance v1", file=sys.stderr)
    sys.exit(1)
print("valid: in-toto Statement v1 with a SLSA Provenance v1 predicate")
