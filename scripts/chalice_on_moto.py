"""Runs the Chalice CLI against moto (`python chalice_on_moto.py deploy --stage dev`).

Chalice 1.34 sends API Gateway a Swagger 2.0 document (`ImportRestApi`, `PutRestApi`); moto
5.2.5 accepts only OpenAPI 3 there and reads `info.description`. This launcher converts the
document Chalice generated into the equivalent OpenAPI 3.0 one just before it is sent, and
changes nothing else: every other call, the packaging and the deployed state are Chalice's own.
`scripts/bench-deploy.py` deploys with it; the endpoint comes from `AWS_ENDPOINT_URL`.
"""

import copy
import sys
from typing import Any


def _ref(value: Any) -> Any:
    """`#/definitions/X` → `#/components/schemas/X`, everywhere in `value`."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/definitions/"):
                out[k] = "#/components/schemas/" + v[len("#/definitions/"):]
            else:
                out[k] = _ref(v)
        return out
    if isinstance(value, list):
        return [_ref(v) for v in value]
    return value


def swagger_to_openapi3(doc: dict) -> dict:
    """The OpenAPI 3.0.1 equivalent of a Swagger 2.0 document as Chalice writes it (paths with
    `x-amazon-apigateway-*` extensions, `definitions`, `securityDefinitions`)."""
    doc = copy.deepcopy(doc)
    if "swagger" not in doc:
        return doc
    doc.pop("swagger")
    out: dict = {"openapi": "3.0.1"}
    info = doc.pop("info", {})
    info.setdefault("description", info.get("title", ""))
    out["info"] = info
    host, base = doc.pop("host", None), doc.pop("basePath", "/")
    schemes = doc.pop("schemes", ["https"])
    if host:
        out["servers"] = [{"url": f"{schemes[0]}://{host}{base}"}]
    produces_all = doc.pop("produces", None)
    consumes_all = doc.pop("consumes", None)
    components: dict = {}
    if "definitions" in doc:
        components["schemas"] = doc.pop("definitions")
    if "securityDefinitions" in doc:
        components["securitySchemes"] = doc.pop("securityDefinitions")
    paths = {}
    for path, item in doc.pop("paths", {}).items():
        new_item = {}
        for method, op in item.items():
            if not isinstance(op, dict) or method.startswith("x-"):
                new_item[method] = op
                continue
            produces = op.pop("produces", produces_all) or ["application/json"]
            op.pop("consumes", consumes_all)
            params = []
            for p in op.pop("parameters", []):
                if p.get("in") == "body":
                    op["requestBody"] = {
                        "content": {"application/json": {"schema": p.get("schema", {})}}
                    }
                    continue
                p = dict(p)
                schema = {k: p.pop(k) for k in ("type", "format", "items") if k in p}
                if schema:
                    p["schema"] = schema
                params.append(p)
            if params:
                op["parameters"] = params
            responses = {}
            for status, resp in op.pop("responses", {}).items():
                resp = dict(resp)
                schema = resp.pop("schema", None)
                resp.setdefault("description", f"{status} response")
                if schema is not None:
                    resp["content"] = {m: {"schema": schema} for m in produces}
                responses[status] = resp
            op["responses"] = responses
            new_item[method] = op
        paths[path] = new_item
    out["paths"] = paths
    if components:
        out["components"] = components
    out.update(doc)  # the remaining `x-amazon-apigateway-*` extensions
    return _ref(out)


def main() -> None:
    from chalice import awsclient
    from chalice.cli import main as chalice_main

    client = awsclient.TypedAWSClient
    original_import = client.import_rest_api
    original_update = client.update_api_from_swagger

    def import_rest_api(self, swagger_document, endpoint_type):
        return original_import(self, swagger_to_openapi3(swagger_document), endpoint_type)

    def update_api_from_swagger(self, rest_api_id, swagger_document):
        return original_update(self, rest_api_id, swagger_to_openapi3(swagger_document))

    client.import_rest_api = import_rest_api
    client.update_api_from_swagger = update_api_from_swagger
    sys.argv[0] = "chalice"
    sys.exit(chalice_main())


if __name__ == "__main__":
    main()
