"""API fuzzing: schemathesis generates requests from the app's own OpenAPI schema.

Every operation, with valid (positive) and invalid (negative) input: no 5xx, and every
response, errors included, matches what the schema declares (status code, content type,
headers, body), and invalid input is rejected with a 4xx. This is the short in-process run
for the fast suite; `bench/fuzz.py` runs the long one (results in docs/reliability.md).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import APIOperation, BaseSchema

from minutes.embed import Embedder, HashingEmbedder
from minutes.web.settings import WebSettings

CONFIG = {"checks": {
    # Invalid input must be refused with a 4xx; 413/414 are the size limits refusing it first.
    "negative_data_rejection": {"expected-statuses": ["400", "404", "413", "414", "422", "429"]},
    # "Schema-valid input is accepted" cannot hold: a query of control characters only, or a date
    # like 2019-02-30, fits the schema but is rightly refused with a 422 in the one error shape.
    "positive_data_acceptance": {"enabled": False},
}}
# Per operation and mode: enough to reach every error path; the whole file stays under 20 s.
FAST_EXAMPLES = 5


def app_schema(index_dir: Path, embedder: Embedder, **settings: object) -> BaseSchema:
    """The app's own schema, bound to an in-process app (lifespan included)."""
    from minutes.web.app import create_app

    app = create_app(WebSettings(index_dir=index_dir, model="hashing", **settings),  # type: ignore[arg-type]
                     embedder=embedder)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG))


def operations(schema: BaseSchema) -> list[APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


def fuzz_operation(operation: APIOperation, mode: GenerationMode, examples: int,
                   statuses: Counter[int] | None = None, derandomize: bool = True) -> Counter[int]:
    """Run `examples` generated cases against one operation; raises on the first failure."""
    statuses = Counter() if statuses is None else statuses

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
                         phases=[Phase.explicit, Phase.generate, Phase.shrink],
                         suppress_health_check=list(HealthCheck), print_blob=True)
    def run(case: schemathesis.Case) -> None:
        response = case.call()
        statuses[response.status_code] += 1
        assert response.status_code < 500, f"{case.as_curl_command()} -> {response.status_code}: {response.text}"
        case.validate_response(response)

    try:
        run()
    except Unsatisfiable:
        if mode != GenerationMode.NEGATIVE:
            raise  # an operation without parameters (/healthz) has no invalid input to generate
    return statuses


@pytest.fixture(scope="module")
def fuzz_schema(seed_index_dir: Path, embedder: HashingEmbedder) -> BaseSchema:
    return app_schema(seed_index_dir, embedder)


def test_schema_covers_every_api_route(fuzz_schema: BaseSchema) -> None:
    paths = {op.path for op in operations(fuzz_schema)}
    assert {"/api/search", "/api/documents/{document_id}", "/healthz"} <= paths


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_operation_conforms_to_its_schema(fuzz_schema: BaseSchema, mode: GenerationMode) -> None:
    for operation in operations(fuzz_schema):
        fuzz_operation(operation, mode, FAST_EXAMPLES)
