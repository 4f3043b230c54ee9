"""The committed OpenAPI document (gen/openapi/yoga.openapi.json) against the descriptor set the
gateway transcodes with (envoy/yoga.pb): one operation per `google.api.http` rule, nothing of
the internal methods, a valid OpenAPI 3 document, and requests as the gateway reads them.
tests/integration/test_openapi.py holds the gateway's real answers to it."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from openapi_spec_validator import validate

from devtools import gateway_config, openapi
from tests.integration.gateway_support import booking, class_json

DOC_PATH = openapi.ROOT / "gen" / "openapi" / "yoga.openapi.json"


@cache
def doc() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DOC_PATH.read_text())
    return found


@cache
def descriptors() -> openapi.Descriptors:
    return openapi.load_descriptors(gateway_config.DESCRIPTOR)


def rules() -> list[openapi.Rule]:
    return openapi.http_rules(descriptors())


def operation(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    found = [o for o in openapi.operations(doc()) if o[2]["operationId"] == operation_id]
    assert len(found) == 1, operation_id
    return found[0]


def body_schema(operation_id: str) -> dict[str, Any]:
    schema: dict[str, Any] = operation(operation_id)[2]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def test_is_a_valid_openapi_3_document() -> None:
    validate(doc())
    assert doc()["openapi"].startswith("3.")
    assert doc()["info"]["version"] == "v1"
    assert doc()["servers"] == [{"url": "/"}]


def test_the_file_is_stably_formatted() -> None:
    """Sorted keys, two-space indent, a final newline: a regeneration diffs line by line."""
    assert DOC_PATH.read_text() == openapi.render(doc())


def test_every_http_rule_has_exactly_one_operation() -> None:
    ops = list(openapi.operations(doc()))
    assert len(ops) == len(rules()) == 22
    for rule in rules():
        matching = [
            (path, op)
            for path, verb, op in ops
            if verb == rule.verb and openapi.shape(path) == openapi.shape(rule.path)
        ]
        assert len(matching) == 1, rule
        path, op = matching[0]
        assert op["operationId"] == f"{rule.service.rsplit('.', 1)[1]}_{rule.method}"
        # A variable bound to a top-level field is named as JSON names it; one bound to a nested
        # field shares the path item of its URL (`/v1/classes/{classId}` for
        # `{yoga_class.class_id}`): the names differ only there.
        names = re.findall(r"\{([^}]*)\}", path)
        for variable, name in zip(rule.variables, names, strict=True):
            if "." not in variable:
                assert name == descriptors().json_path(rule.request, variable)
        params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        assert params == names, (rule, params)


def test_one_path_item_per_url() -> None:
    """OpenAPI: templates that differ only in their variables' names are one path."""
    shapes = [openapi.shape(p) for p in doc()["paths"]]
    assert len(shapes) == len(set(shapes))


def test_custom_verbs_and_nested_bindings() -> None:
    assert operation("ReservationService_CancelReservation")[:2] == (
        "/v1/reservations/{reservationId}:cancel",
        "post",
    )
    assert operation("YogaClassService_CancelSeries")[0] == "/v1/series/{seriesId}:cancel"
    assert operation("YogaClassService_UpdateClass")[:2] == ("/v1/classes/{classId}", "patch")
    assert operation("YogaClassService_UpdateSeries")[:2] == ("/v1/series/{seriesId}", "patch")


def test_no_internal_method_appears() -> None:
    internal = gateway_config.internal_methods()
    assert internal  # ReserveSeat, ReleaseSeat
    ids = {op["operationId"] for _, _, op in openapi.operations(doc())}
    schemas = set(doc()["components"]["schemas"])
    for method in internal:
        service, name = method.strip("/").split("/")
        assert f"{service.rsplit('.', 1)[1]}_{name}" not in ids
        assert (
            not {f"{service.rsplit('.', 1)[0]}.{name}{end}" for end in ("Request", "Response")}
            & schemas
        )
    public = {(r.service, r.method) for r in rules()}
    for method in internal:
        service, name = method.strip("/").split("/")
        assert (service, name) not in public
    # Nor the events, which only Kafka carries.
    assert not [s for s in doc()["components"]["schemas"] if "Event" in s or "Seat" in s]


def test_every_operation_needs_a_token_and_answers_errors_as_status() -> None:
    assert doc()["security"] == [{"bearer": []}]
    scheme = doc()["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    status = {"$ref": openapi.SCHEMAS + "google.rpc.Status"}
    for _, _, op in openapi.operations(doc()):
        assert "security" not in op  # the document's applies
        responses = op["responses"]
        assert responses["401"] == {"$ref": "#/components/responses/Unauthenticated"}
        assert responses["default"]["content"]["application/json"]["schema"] == status
        assert set(responses) == {"200", "401", "default"}


def test_query_parameters_are_the_request_fields_not_bound_elsewhere() -> None:
    """The gateway reads every request field that neither the path nor the body binds from
    the query string, by its JSON name."""
    for rule in rules():
        _, _, op = operation(f"{rule.service.rsplit('.', 1)[1]}_{rule.method}")
        query = sorted(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
        if rule.body == "*":
            assert query == [], rule
            continue
        fields = descriptors().messages[rule.request].proto.field
        bound = {v.split(".")[0] for v in rule.variables} | {rule.body}
        expected = sorted(openapi.json_name(f) for f in fields if f.name not in bound)
        assert query == expected, rule


def test_list_classes_query_as_the_gateway_reads_it() -> None:
    params = {
        p["name"]: p["schema"] for p in operation("YogaClassService_ListClasses")[2]["parameters"]
    }
    assert params == {
        "startTime": {"type": "string", "format": "date-time"},
        "endTime": {"type": "string", "format": "date-time"},
        "pageSize": {"type": "integer", "format": "int32"},
        "pageToken": {"type": "string"},
        "seriesId": {"type": "string"},
        "instructor": {"type": "string"},
    }


def test_requests_the_gateway_tests_send_match_the_bodies() -> None:
    """The bodies test_gateway.py sends through the real gateway, against the document's
    request schemas with no property left unnamed."""
    create_reservation = openapi.strict(doc(), body_schema("ReservationService_CreateReservation"))
    create_reservation.validate(booking("c1"))
    create_reservation.validate({**booking("c1"), "declineWaitlist": True, "overrideLimit": False})
    with pytest.raises(Exception, match="class_id"):
        create_reservation.validate({"class_id": "c1"})  # proto names are not JSON names
    create_class = openapi.strict(doc(), body_schema("YogaClassService_CreateClass"))
    create_class.validate({**class_json(4), "cancellationWindow": "5400s", "waitlistCapacity": 2})
    with pytest.raises(Exception, match="is not a 'date-time'"):
        create_class.validate({"startTime": "tomorrow"})
    with pytest.raises(Exception, match="does not match"):
        create_class.validate({"cancellationWindow": "90 minutes"})
    # The create's idempotency key is a query parameter: the body is the class.
    _, _, op = operation("YogaClassService_CreateClass")
    assert [p["name"] for p in op["parameters"]] == ["requestId"]


def test_a_body_star_leaves_out_what_the_path_binds() -> None:
    """`POST /v1/reservations/A:cancel` takes the id from the path; the body may be empty."""
    for operation_id, properties in [
        ("ReservationService_CancelReservation", set()),
        ("ReservationService_CheckIn", set()),
        ("YogaClassService_LiftBlock", set()),
        ("YogaClassService_CancelSeries", {"fromDate"}),
    ]:
        schema = body_schema(operation_id)
        assert set(schema["properties"]) == properties, operation_id
        assert operation(operation_id)[2]["requestBody"]["required"] is False


def test_proto3_json_of_the_scalars() -> None:
    schemas = doc()["components"]["schemas"]
    yoga_class = schemas["yoga.yogaclass.v1.YogaClass"]["properties"]
    assert yoga_class["version"] == {**yoga_class["version"], "type": "string", "format": "int64"}
    assert yoga_class["startTime"]["format"] == "date-time"
    assert yoga_class["status"]["enum"] == [
        "CLASS_STATUS_UNSPECIFIED",
        "CLASS_STATUS_SCHEDULED",
        "CLASS_STATUS_CANCELLED",
    ]
    pattern = re.compile(yoga_class["cancellationWindow"]["pattern"])
    assert pattern.match("1.5s") and pattern.match("43200s") and not pattern.match("1h")
    reservation = schemas["yoga.reservation.v1.Reservation"]["properties"]
    assert reservation["waitlistTicket"]["format"] == "int64"
    mask = operation("YogaClassService_UpdateClass")[2]["parameters"][1]
    assert (mask["name"], mask["schema"]["format"]) == ("updateMask", "field-mask")


def test_error_details_are_described() -> None:
    schemas = doc()["components"]["schemas"]
    error_info = openapi.strict(doc(), {"$ref": openapi.SCHEMAS + "google.rpc.ErrorInfo"})
    error_info.validate({"reason": "CLASS_FULL", "domain": "yoga.studio", "metadata": {"a": "b"}})
    bad_request = openapi.strict(doc(), {"$ref": openapi.SCHEMAS + "google.rpc.BadRequest"})
    bad_request.validate(
        {"fieldViolations": [{"field": "yoga_class.title", "description": "is required"}]}
    )
    status = openapi.strict(doc(), {"$ref": openapi.SCHEMAS + "google.rpc.Status"})
    # The gateway's own 401 (envoy/envoy.yaml.tmpl's local replies).
    status.validate(
        {
            "code": 16,
            "message": "Jwt is missing",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "UNAUTHENTICATED",
                    "domain": "yoga.studio",
                }
            ],
        }
    )
    assert "google.rpc.BadRequest.FieldViolation" in schemas
