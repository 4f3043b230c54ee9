"""The OpenAPI 3 document of the JSON API, `gen/openapi/yoga.openapi.json`, made from the protos.

`scripts/gen_openapi.sh` runs gnostic's `protoc-gen-openapi` through buf (`buf.gen.openapi.yaml`)
and hands its YAML, with the workspace's descriptor set (comments included), to
`python -m devtools.openapi`, which writes the JSON. The plugin knows the `google.api.http`
rules and proto3 JSON (lowerCamelCase names, int64 as strings, Timestamp, Duration and
FieldMask as strings, enums by name); what it does not know about this gateway is corrected
here, each step saying why:

- a path variable bound to a nested field (`{yoga_class.class_id}`) keeps its proto name and
  makes a second path item for the same URL as `{class_id}`'s, which OpenAPI forbids: the
  operation moves into the one path item;
- a `body: "*"` rule's request body repeats the fields the path binds, which the gateway
  refuses in the body when they differ (`reject_binding_body_field_collisions`): they are left
  out, and the body is optional (an empty body is an empty request);
- int64 fields are strings without a format; the error details the services send
  (`google.rpc.ErrorInfo`, `google.rpc.BadRequest`) are not described at all;
- every operation needs a bearer token (the gateway's jwt_authn) and may be answered 401 by
  the gateway itself; the document is served by the gateway, so its server is "/".

`load_descriptors` and `http_rules` also serve the tests, over `envoy/yoga.pb` (what the
gateway transcodes with)."""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "gen" / "openapi" / "yoga.openapi.json"
TITLE = "Yoga studio API"
SCHEMAS = "#/components/schemas/"
# The error details the services put in a google.rpc.Status (yoga_common/interceptors.py) and
# the gateway in its own replies (envoy/envoy.yaml.tmpl): described so a client can read them.
ERROR_DETAILS = ("google.rpc.ErrorInfo", "google.rpc.BadRequest")
VERBS = ("get", "put", "post", "delete", "patch")
INT64_TYPES = {
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64: "uint64",
}


@dataclass(frozen=True)
class Message:
    """A message of the descriptor set, with what the source said about it and its fields."""

    name: str  # full name, e.g. "yoga.yogaclass.v1.YogaClass"
    proto: descriptor_pb2.DescriptorProto
    comment: str
    field_comments: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """One `google.api.http` rule: what the gateway transcodes into one gRPC method."""

    service: str  # "yoga.yogaclass.v1.YogaClassService"
    method: str  # "CreateClass"
    verb: str  # "post"
    path: str  # as the proto says: "/v1/classes/{yoga_class.class_id}"
    body: str  # "", "*" or a field name
    request: str  # full name of the request message
    response: str

    @property
    def variables(self) -> list[str]:
        """The proto field paths the path binds, in order ("yoga_class.class_id")."""
        return [v.split("=")[0] for v in re.findall(r"\{([^}]*)\}", self.path)]


@dataclass
class Descriptors:
    files: list[descriptor_pb2.FileDescriptorProto]
    messages: dict[str, Message]

    def json_path(self, message: str, path: str) -> str:
        """A proto field path as proto3 JSON names it: yoga_class.class_id -> yogaClass.classId."""
        names = []
        for part in path.split("."):
            field = next(f for f in self.messages[message].proto.field if f.name == part)
            names.append(json_name(field))
            message = field.type_name.lstrip(".")
        return ".".join(names)


def json_name(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.json_name:
        return field.json_name
    head, *rest = field.name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _comment(locations: dict[tuple[int, ...], str], path: tuple[int, ...]) -> str:
    # One line per source line, the comment marker's space removed.
    text = locations.get(path, "")
    return "\n".join(line.strip() for line in text.strip().splitlines())


def load_descriptors(path: Path) -> Descriptors:
    """A binary FileDescriptorSet (buf's, or envoy/yoga.pb). Its method options are parsed with
    google.api.annotations known (imported above), so `http_rules` can read them."""
    fds = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
    messages: dict[str, Message] = {}
    for file in fds.file:
        locations = {
            tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location
        }

        def walk(
            protos: Any, prefix: str, path: tuple[int, ...], locations: Any = locations
        ) -> None:
            for index, proto in enumerate(protos):
                here = (*path, index)
                name = f"{prefix}.{proto.name}" if prefix else proto.name
                fields = tuple(_comment(locations, (*here, 2, i)) for i in range(len(proto.field)))
                messages[name] = Message(name, proto, _comment(locations, here), fields)
                walk(proto.nested_type, name, (*here, 3))

        walk(file.message_type, file.package, (4,))
    return Descriptors(list(fds.file), messages)


def http_rules(descriptors: Descriptors) -> list[Rule]:
    """Every `google.api.http` rule of the set's services (additional bindings included): the
    public methods. A method without one is internal and never reaches the document."""
    rules = []
    for file in descriptors.files:
        for service in file.service:
            full = f"{file.package}.{service.name}"
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                top: http_pb2.HttpRule = method.options.Extensions[annotations_pb2.http]
                for rule in [top, *top.additional_bindings]:
                    verb = rule.WhichOneof("pattern")
                    assert verb and verb != "custom", f"{full}.{method.name}: {verb}"
                    rules.append(
                        Rule(
                            full,
                            method.name,
                            verb,
                            getattr(rule, verb),
                            rule.body,
                            method.input_type.lstrip("."),
                            method.output_type.lstrip("."),
                        )
                    )
    return rules


def shape(path: str) -> str:
    """A path template with its variables unnamed: two templates of one shape are one URL."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for verb in VERBS:
            if verb in item:
                yield path, verb, item[verb]


# -- the corrections ------------------------------------------------------------------------------


def _find_operation(doc: dict[str, Any], rule: Rule) -> tuple[str, dict[str, Any]]:
    found = [
        (path, op)
        for path, verb, op in operations(doc)
        if verb == rule.verb and shape(path) == shape(rule.path)
    ]
    if len(found) != 1:
        raise SystemExit(f"openapi: {rule.verb} {rule.path}: {len(found)} operations, not one")
    return found[0]


def merge_path_items(doc: dict[str, Any], descriptors: Descriptors, rules: list[Rule]) -> None:
    """One path item per URL shape. The plugin names a variable bound to a nested field by its
    proto path (`{yoga_class.class_id}`), which makes `/v1/classes/{yoga_class.class_id}` next
    to `/v1/classes/{classId}`: OpenAPI forbids two templates of one shape. The operation moves
    into the path item of the simple name; alone, the variable gets its JSON path's name."""
    for rule in rules:
        path, op = _find_operation(doc, rule)
        nested = [v for v in rule.variables if "." in v]
        if not nested:
            continue
        others = [p for p in doc["paths"] if p != path and shape(p) == shape(path)]
        target = others[0] if others else path
        names = re.findall(r"\{([^}]*)\}", target)
        for variable, name in zip(rule.variables, names, strict=True):
            json_path = descriptors.json_path(rule.request, variable)
            if name == variable:  # alone: name it as JSON does
                name = json_path
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["name"] == variable:
                    param["name"] = name
                    param["description"] = f"The request's `{json_path}`."
            target = target.replace("{" + variable + "}", "{" + name + "}")
        del doc["paths"][path][rule.verb]
        if not doc["paths"][path]:
            del doc["paths"][path]
        doc["paths"].setdefault(target, {})[rule.verb] = op


def body_without_path_fields(
    doc: dict[str, Any], descriptors: Descriptors, rules: list[Rule]
) -> None:
    """`body: "*"` takes every field the path does not bind. The plugin's body is the whole
    request message, path fields included, but the gateway refuses a body whose field differs
    from the path's (reject_binding_body_field_collisions): the body's schema is the request's
    without them, and optional, as an absent body is an empty message."""
    schemas = doc["components"]["schemas"]
    for rule in rules:
        if rule.body != "*" or not rule.variables:
            continue
        _, op = _find_operation(doc, rule)
        content = op["requestBody"]["content"]["application/json"]
        assert content["schema"] == {"$ref": SCHEMAS + rule.request}, (rule, content)
        body = copy.deepcopy(schemas[rule.request])
        bound = {descriptors.json_path(rule.request, v).split(".")[0] for v in rule.variables}
        body["properties"] = {k: v for k, v in body.get("properties", {}).items() if k not in bound}
        body["description"] = (
            f"{rule.request} without the fields the path binds ({', '.join(sorted(bound))})."
        )
        content["schema"] = body
        op["requestBody"]["required"] = False


def int64_formats(doc: dict[str, Any], descriptors: Descriptors) -> None:
    """proto3 JSON writes 64-bit integers as strings; the plugin says `type: string` only."""
    for name, schema in doc["components"]["schemas"].items():
        message = descriptors.messages.get(name)
        if message is None:
            continue
        for field in message.proto.field:
            fmt = INT64_TYPES.get(field.type)
            prop = schema.get("properties", {}).get(json_name(field))
            if fmt and prop is not None:
                target = prop["items"] if prop.get("type") == "array" else prop
                assert target.get("type") == "string", (name, field.name, prop)
                target["format"] = fmt


def field_mask_parameters(doc: dict[str, Any]) -> None:
    """The plugin says `format: field-mask` only; the gateway reads a FieldMask in the query as
    proto3 JSON writes it (the proto comments name the fields in snake_case)."""
    for _, _, op in operations(doc):
        for param in op.get("parameters", []):
            if param["schema"].get("format") == "field-mask":
                param["description"] = (
                    param.get("description", "").rstrip()
                    + "\nComma-separated field paths in lowerCamelCase, e.g. `title,capacity`."
                ).lstrip()


SCALARS: dict[int, dict[str, Any]] = {
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: {"type": "string"},
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: {"type": "boolean"},
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: {"type": "integer", "format": "int32"},
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: {"type": "string", "format": "bytes"},
}


def message_schema(descriptors: Descriptors, name: str) -> dict[str, Any]:
    """The proto3 JSON schema of a plain message (strings, ints, bools, string maps, repeated
    and nested messages), in the plugin's style: enough for google.rpc's error details."""
    message = descriptors.messages[name]
    props: dict[str, Any] = {}
    for field, comment in zip(message.proto.field, message.field_comments, strict=True):
        if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE:
            entry = descriptors.messages[field.type_name.lstrip(".")]
            if entry.proto.options.map_entry:
                value = entry.proto.field[1]
                schema: dict[str, Any] = {
                    "type": "object",
                    "additionalProperties": dict(SCALARS[value.type]),
                }
            else:
                schema = {"$ref": SCHEMAS + entry.name}
        else:
            schema = dict(SCALARS[field.type])
        if field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED and not (
            schema.get("type") == "object" and "additionalProperties" in schema
        ):
            schema = {"type": "array", "items": schema}
        if comment:
            # A $ref takes no siblings in OpenAPI 3.0: the plugin wraps it in allOf, so here too.
            schema = {"allOf": [schema]} if "$ref" in schema else schema
            schema = {**schema, "description": comment}
        props[json_name(field)] = schema
    result: dict[str, Any] = {"type": "object", "properties": props}
    if message.comment:
        result["description"] = message.comment
    return result


def error_schemas(doc: dict[str, Any], descriptors: Descriptors) -> None:
    """The details of the errors, each as a JSON `Any`: its fields and `@type`."""
    schemas = doc["components"]["schemas"]
    pending = list(ERROR_DETAILS)
    while pending:
        name = pending.pop()
        schemas[name] = message_schema(descriptors, name)
        pending += [
            ref.removeprefix(SCHEMAS)
            for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(schemas[name]))
            if ref.removeprefix(SCHEMAS) not in schemas
        ]
    types = ", ".join(f"`type.googleapis.com/{name}`" for name in ERROR_DETAILS)
    details = schemas["google.rpc.Status"]["properties"]["details"]
    details["description"] = (
        f"Error details, each a JSON `Any`: its `@type` and the fields of the message it names. "
        f"The services and the gateway send {types} (an ErrorInfo with domain `yoga.studio` and "
        "a stable `reason` in every error)."
    )
    schemas["google.rpc.Status"]["properties"]["code"]["description"] = (
        "The google.rpc.Code number (3 INVALID_ARGUMENT, 5 NOT_FOUND, 7 PERMISSION_DENIED, "
        "9 FAILED_PRECONDITION, 16 UNAUTHENTICATED, ...)."
    )


def security_and_errors(doc: dict[str, Any]) -> None:
    """Every path under the gateway needs a bearer token from the studio's OpenID Connect
    provider; without a valid one the gateway answers 401 itself, a google.rpc.Status like the
    services' errors."""
    components = doc["components"]
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token of the studio's OpenID Connect provider (Keycloak).",
        }
    }
    components["responses"] = {
        "Unauthenticated": {
            "description": "No token, or one the gateway refuses (expired, wrong issuer or "
            "audience): code 16, an ErrorInfo with reason UNAUTHENTICATED.",
            "content": {"application/json": {"schema": {"$ref": SCHEMAS + "google.rpc.Status"}}},
        }
    }
    doc["security"] = [{"bearer": []}]
    for _, _, op in operations(doc):
        op["responses"]["401"] = {"$ref": "#/components/responses/Unauthenticated"}
        op["responses"]["default"]["description"] = (
            "An error: a google.rpc.Status whose HTTP status follows its code (400, 403, 404, "
            "409, 412, ...), from a service or from the gateway."
        )


def drop_unused_schemas(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    while True:
        text = json.dumps({k: v for k, v in doc.items() if k != "components"}) + json.dumps(
            {k: v for k, v in doc["components"].items() if k != "schemas"}
        )
        used = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
        for schema in schemas.values():
            used |= set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema)))
        unused = set(schemas) - used - set(ERROR_DETAILS)
        if not unused:
            return
        for name in unused:
            del schemas[name]


def api_version(rules: list[Rule]) -> str:
    """The proto packages' version (`yoga.yogaclass.v1` -> "v1"): one for the whole API."""
    versions = {r.service.split(".")[-2] for r in rules}
    if len(versions) != 1:
        raise SystemExit(f"openapi: the public services have versions {sorted(versions)}")
    return versions.pop()


def finish(plugin_doc: dict[str, Any], descriptors: Descriptors) -> dict[str, Any]:
    doc = copy.deepcopy(plugin_doc)
    rules = http_rules(descriptors)
    found = sorted((shape(p), v) for p, v, _ in operations(doc))
    wanted = sorted((shape(r.path), r.verb) for r in rules)
    if found != wanted:
        raise SystemExit(f"openapi: the plugin's operations {found} are not the rules {wanted}")
    body_without_path_fields(doc, descriptors, rules)
    merge_path_items(doc, descriptors, rules)
    int64_formats(doc, descriptors)
    field_mask_parameters(doc)
    error_schemas(doc, descriptors)
    security_and_errors(doc)
    drop_unused_schemas(doc)
    doc["info"] = {
        "title": TITLE,
        "version": api_version(rules),
        "description": (
            "The studio's JSON API at the Envoy gateway (gRPC-JSON transcoding), made from the "
            "protos: proto3 JSON (lowerCamelCase names, 64-bit integers as strings, times as RFC "
            '3339 strings, durations as "90s" strings, enums by name). Errors are '
            "google.rpc.Status bodies."
        ),
    }
    doc["servers"] = [{"url": "/"}]
    return doc


def strict(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator of JSON against `schema` (e.g. `{"$ref": "#/components/schemas/X"}`) of
    the document, in which no object has a property the document does not name: what the
    tests hold the gateway's answers and the documented requests to."""
    schemas = copy.deepcopy(doc["components"]["schemas"])

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schemas)
    close(schema := copy.deepcopy(schema))
    root = {**schema, "components": {"schemas": schemas}}
    return jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plugin_yaml", type=Path, help="protoc-gen-openapi's openapi.yaml")
    parser.add_argument("descriptors", type=Path, help="the workspace's FileDescriptorSet")
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    plugin_doc = yaml.safe_load(args.plugin_yaml.read_text())
    doc = finish(plugin_doc, load_descriptors(args.descriptors))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
