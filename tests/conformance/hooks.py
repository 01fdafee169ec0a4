"""Where schemathesis' generated data needs rules that relate fields.

The OpenAPI document states them in each schema's description and as `x-cross-field-rules`
(a JSON Schema the body must also satisfy), not as `anyOf` beside the properties, which would
make generated SDKs' request types unions. schemathesis reads only JSON Schema keywords, so
these hooks keep the bodies meant to be valid within the document's own
`x-cross-field-rules`, repairing them just before sending by dropping the optional field at
fault; bodies meant to be invalid are sent as generated. They also keep requests independent
of each other. None changes what a check expects.
Loaded by tests/conformance.rs through SCHEMATHESIS_HOOKS.
"""

import re
import uuid

import jsonschema_rs
import schemathesis

CREATE = "POST /api/uploads"
SIGN = "POST /api/uploads/{id}/parts"
VISIBLE_ASCII = re.compile(r"[!-~]{1,255}")
_validators = {}


def _cross_field_validator(operation):
    """The validator of the operation's body rules, from the document it was loaded from."""
    if operation.label in _validators:
        return _validators[operation.label]
    document = operation.schema.raw_schema
    body = document["paths"][operation.path][operation.method.lower()].get("requestBody", {})
    validator = None
    for media in body.get("content", {}).values():
        schema = media.get("schema", {})
        for candidate in [schema, *schema.get("allOf", [])]:
            ref = candidate.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                named = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
                rules = named.get("x-cross-field-rules")
                if rules is not None:
                    validator = jsonschema_rs.Draft202012Validator(rules)
    _validators[operation.label] = validator
    return validator


def _fits(operation, body):
    validator = _cross_field_validator(operation)
    if validator is not None and not validator.is_valid(body):
        return False
    # How many part checksums a declaration may carry is its part count, which follows from
    # size and part_size, a division no schema can state. One always fits.
    if operation.label == CREATE:
        checksums = body.get("part_checksums")
        return not (isinstance(checksums, list) and len(checksums) > 1)
    return True


def _repair(operation, body):
    """A body that breaks only the cross-field rules, made to keep them by removing optional
    fields (a valid body without an optional field is still valid)."""
    for optional in ("part_checksums", "parts", "part_numbers"):
        if _fits(operation, body):
            return
        if optional in body:
            if optional == "part_checksums" and isinstance(body[optional], list):
                body[optional] = body[optional][:1]
                if _fits(operation, body):
                    return
            del body[optional]
    if not _fits(operation, body) and operation.label == SIGN:
        # Neither list given: ask for part 1, which every plan has.
        body["part_numbers"] = [1]


def _meant_valid(case):
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if isinstance(case.body, dict) and _meant_valid(case):
        _repair(case.operation, case.body)
    # A key names one declaration: reusing it with another body is refused (422), as it should
    # be. Generated keys repeat across unrelated requests, so each valid one is replaced by a
    # fresh (equally valid) UUID; a malformed key is sent as generated.
    if case.operation.label != CREATE or not case.headers:
        return
    key = case.headers.get("Idempotency-Key")
    if isinstance(key, str) and VISIBLE_ASCII.fullmatch(key):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
