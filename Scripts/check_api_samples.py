#!/usr/bin/env python3
"""Validates the sample responses in Tests/Fixtures/api/ (produced by the Swift code, kept equal
to it by Tests/MurmurAPITests/APISampleTests.swift) against the schemas of Specs/api.yaml.
Needs PyYAML and jsonschema (pip install pyyaml jsonschema)."""
import json, pathlib, sys, yaml
from jsonschema import Draft202012Validator

root = pathlib.Path(__file__).resolve().parent.parent
doc = yaml.safe_load((root / "Specs/api.yaml").read_text())

def response_schema(path, method, status, media="application/json"):
    r = doc["paths"][path][method]["responses"][status]
    if "$ref" in r:
        r = doc["components"]["responses"][r["$ref"].split("/")[-1]]
    return r["content"][media]["schema"]

schemas = {
    "job_accepted": response_schema("/v1/jobs", "post", "202"),
    "job_verified": response_schema("/v1/jobs/{id}", "get", "200"),
    "job_running": response_schema("/v1/jobs/{id}", "get", "200"),
    "job_pending_unknown_record": response_schema("/v1/jobs/{id}", "get", "200"),
    "job_failed": response_schema("/v1/jobs/{id}", "get", "200"),
    "models": response_schema("/v1/models", "get", "200"),
    "peers": response_schema("/v1/peers", "get", "200"),
    "status": response_schema("/v1/status", "get", "200"),
    "error_invalid_json": response_schema("/v1/jobs", "post", "400"),
    "error_parse_413": response_schema("/v1/jobs", "post", "413"),
}
failed = 0
samples = sorted((root / "Tests/Fixtures/api").glob("*.json"))
assert {p.stem for p in samples} == set(schemas), f"samples and schemas differ: {sorted(p.stem for p in samples)}"
for p in samples:
    schema = dict(schemas[p.stem])
    schema["components"] = doc["components"]
    errors = list(Draft202012Validator(schema).iter_errors(json.loads(p.read_text())))
    for e in errors:
        print(f"{p.name}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    failed += bool(errors)
print(f"{len(samples) - failed}/{len(samples)} samples match Specs/api.yaml")
sys.exit(1 if failed else 0)
