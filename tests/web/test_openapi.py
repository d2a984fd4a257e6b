"""Schemathesis against /api/openapi.json: generated requests never get a 5xx, and responses match the spec.

Cases are drawn with Hypothesis from each operation's strategy (schemathesis' own pytest
plugin does not load under pytest 9 yet). ``RAG_SCHEMATHESIS_EXAMPLES`` sets how many per
operation (default 30); a long run is recorded in docs/ROBUSTNESS.md.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = ["POST /api/ask", "GET /api/documents/{doc_id}", "GET /api/health", "GET /api/documents",
              "GET /api/documents/jobs/{job_id}",  # adds and removes change the index: tests/web/test_documents.py
              "POST /v1/chat/completions", "GET /v1/models", "GET /v1/models/{model}"]
EXAMPLES = int(os.environ.get("RAG_SCHEMATHESIS_EXAMPLES", "30"))  # read at import: the autouse fixture clears RAG_*


@pytest.fixture(scope="module")
def operations(app) -> dict:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    assert set(OPERATIONS) <= set(found)
    return found


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_matches_its_openapi_document(operations, label: str):
    @given(case=operations[label].as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        case.call_and_validate(checks=CHECKS)

    check()
