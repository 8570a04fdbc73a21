"""Property-based fuzzing of the whole API against its own OpenAPI document: no 500s.

Every operation of ``/openapi.json`` gets hypothesis-generated requests from
schemathesis's strategies (valid and invalid). Bounded for CI: a few dozen
examples per operation, on both backends. (schemathesis's own pytest plugin
does not run under pytest 9 yet, so the strategies are driven directly.)
"""

from __future__ import annotations

import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.api.conftest import seed_people_and_accounts
from tests.api.test_collect import basic

from kizuna.api import create_app
from kizuna.auth.sources import add_source
from kizuna.platform import Platform

MAX_EXAMPLES = 15


def test_no_operation_answers_with_a_server_error(platform: Platform) -> None:
    tokens = seed_people_and_accounts(platform)
    bearer = {"Authorization": f"Bearer {tokens['admin']}"}
    collect = basic(add_source(platform, "fuzz").write_key)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(platform))
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:
        headers = collect if operation.path.startswith("/v1/") else bearer
        _fuzz(operation, headers, failures)
    for thread in threading.enumerate():  # a daily run POST /ops/runs started
        if thread.name == "kizuna-daily-run":
            thread.join()
    assert failures == []


def _fuzz(operation: object, headers: dict[str, str], failures: list[str]) -> None:
    """Run generated cases of one operation, recording every 5xx answer."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())  # type: ignore[attr-defined]
    def check(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} {case.body!r} -> "
                f"{response.status_code}: {response.text[:300]}"
            )

    check()


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_openapi_document_and_docs_page_are_served(platform: Platform, path: str) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(platform)) as client:
        assert client.get(path).status_code == 200
