"""/docs and /redoc with no internet, and an OpenAPI schema that describes what the service
really sends: the decision, the batch, the item, and `{"error": {"code", "message"}}`."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

REF = "#/components/schemas/"


class _Assets(HTMLParser):
    """Every URL a page makes the browser fetch: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag/rel, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"script", "img", "iframe"} and a.get("src"):
            self.urls.append((tag, a["src"] or ""))
        if tag == "link" and a.get("href"):
            self.urls.append((a.get("rel") or "link", a["href"] or ""))


def assets(html: str) -> list[tuple[str, str]]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_service(client, page):
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    found = assets(r.text)
    kinds = {kind for kind, _ in found}
    assert "script" in kinds and any("icon" in kind for kind in kinds), found
    # No absolute URL at all (no CDN, no Google Fonts, no fastapi.tiangolo.com favicon).
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", r.text, re.I), r.text
    for kind, url in found:
        assert url.startswith("/"), (kind, url)
        asset = client.get(url)
        assert asset.status_code == 200, url
        ctype = asset.headers["content-type"]
        if kind == "script":
            assert ctype.startswith("text/javascript") and len(asset.content) > 100_000
        elif kind == "stylesheet":
            assert ctype.startswith("text/css") and len(asset.content) > 10_000
        else:  # the favicon
            assert "icon" in kind and ctype.startswith("image/"), (kind, ctype)


def test_swagger_ui_never_calls_the_online_validator(client):
    assert re.search(r'"validatorUrl":\s*null', client.get("/docs").text)


@pytest.fixture
def schema(client) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].removeprefix(REF)]
    return node


def props(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Properties of an object schema, following $ref and allOf."""
    node = resolve(schema, node)
    out = dict(node.get("properties", {}))
    for part in node.get("allOf", []):
        out.update(props(schema, part))
    return out


def body_200(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    content = schema["paths"][path][method]["responses"]["200"]["content"]
    return content["application/json"]["schema"]


DECISION = {"decision", "channel", "publish", "reasons", "hits", "pii", "labels",
            "masked_text", "masked_title", "versions", "degraded"}
ANSWER = DECISION | {"request_id", "data_id", "item_id", "status", "duplicate"}


def test_moderate_200_documents_the_decision_and_the_item(schema):
    got = props(schema, body_200(schema, "/v1/moderate", "post"))
    assert set(got) >= ANSWER, ANSWER - set(got)
    assert set(resolve(schema, got["decision"])["enum"]) == {"pass", "review", "block"}
    hit = props(schema, got["hits"]["items"])
    assert {"field", "term", "category", "severity", "start", "end", "text"} <= set(hit)
    pii = props(schema, got["pii"]["items"])
    assert {"field", "type", "start", "end", "validated", "masked"} <= set(pii)
    versions = props(schema, got["versions"])
    assert {"lexicon", "lexicon_hash", "model", "policy"} <= set(versions)


def test_batch_200_documents_request_id_and_one_result_per_item(schema):
    got = props(schema, body_200(schema, "/v1/moderate/batch", "post"))
    assert {"request_id", "results"} <= set(got)
    variants = got["results"]["items"]["anyOf"]
    fields = [set(props(schema, v)) for v in variants]
    assert any(ANSWER | {"index"} <= f for f in fields), fields  # a decided item
    assert any({"index", "data_id", "error"} <= f for f in fields), fields  # its own error


def test_item_200_documents_the_stored_item(schema):
    got = props(schema, body_200(schema, "/v1/items/{data_id}", "get"))
    assert {"item_id", "data_id", "channel", "status", "decision", "verdict", "history",
            "created_at", "updated_at", "version"} <= set(got)
    assert DECISION - {"masked_title"} <= set(props(schema, got["decision"]))


def is_error_body(schema: dict[str, Any], node: dict[str, Any]) -> bool:
    body = resolve(schema, node)
    error = props(schema, body).get("error")
    return ("error" in body.get("required", []) and error is not None
            and {"code", "message"} <= set(props(schema, error))
            and {"code", "message"} <= set(resolve(schema, error).get("required", [])))


def test_every_error_response_documents_the_error_body(schema):
    assert "HTTPValidationError" not in json.dumps(schema)
    assert "ValidationError" not in schema["components"]["schemas"]
    checked = 0
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
            assert "500" in errors, (method, path)
            for status, response in errors.items():
                node = response.get("content", {}).get("application/json", {}).get("schema")
                assert node and is_error_body(schema, node), (method, path, status, response)
                checked += 1
    assert checked > 30
    moderate = schema["paths"]["/v1/moderate"]["post"]["responses"]
    assert {"401", "409", "413", "422", "429", "503"} <= set(moderate)
    degraded = props(schema, moderate["503"]["content"]["application/json"]["schema"])
    assert "decision" in degraded  # the decision travels with store_unavailable


def test_documented_models_match_what_the_service_answers(client, api_key, schema):
    """The real answers carry every required property of the documented 200 bodies."""
    from api_test_support import bearer

    one = client.post("/v1/moderate", headers=bearer(api_key), json={
        "data_id": "doc-1", "channel": "comment", "title": "求助",
        "content": "我的身份证号是110101199003074514，请帮我查询"}).json()
    node = resolve(schema, body_200(schema, "/v1/moderate", "post"))
    assert set(node["required"]) <= set(one), set(node["required"]) - set(one)
    assert set(props(schema, node)) >= set(one), set(one) - set(props(schema, node))
    item = client.get("/v1/items/doc-1", headers=bearer(api_key)).json()
    node = resolve(schema, body_200(schema, "/v1/items/{data_id}", "get"))
    assert set(node["required"]) <= set(item) and set(props(schema, node)) >= set(item)
    batch = client.post("/v1/moderate/batch", headers=bearer(api_key), json={"items": [
        {"data_id": "doc-2", "channel": "comment", "content": "路灯坏了"},
        {"data_id": "bad id", "channel": "comment", "content": "路灯坏了"}]}).json()
    node = resolve(schema, body_200(schema, "/v1/moderate/batch", "post"))
    assert set(node["required"]) <= set(batch)
    ok, bad = batch["results"]
    ok_node, err_node = (resolve(schema, v) for v in props(schema, node)["results"]["items"][
        "anyOf"])
    assert set(ok_node["required"]) <= set(ok) and set(err_node["required"]) <= set(bad)
