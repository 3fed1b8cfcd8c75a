"""The hello API on Chalice, for `scripts/bench-local.sh` (`chalice local` as a peer of
`portico local`). Same routes as examples/hello:

- GET /                              -> {"hello":"world"}
- GET /users/{id}                    -> {"id":"<id>"}
- POST /users {"name","email"}       -> 201 with the new user
- GET /respond/succeed?taskToken=XYZ -> "approved XYZ" (400 without a token)
"""

from chalice import BadRequestError, Chalice, Response

app = Chalice(app_name="chalice_hello")


@app.route("/")
def index():
    return {"hello": "world"}


@app.route("/users/{id}")
def get_user(id):
    return {"id": id}


@app.route("/users", methods=["POST"])
def create_user():
    body = app.current_request.json_body
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("name"), str)
        or not isinstance(body.get("email"), str)
    ):
        raise BadRequestError("expected a JSON object with string `name` and `email`")
    return Response(
        status_code=201,
        body={"id": "u-1", "name": body["name"], "email": body["email"]},
    )


@app.route("/respond/succeed")
def succeed():
    token = (app.current_request.query_params or {}).get("taskToken")
    if not token:
        raise BadRequestError("missing query parameter `taskToken`")
    return Response(
        body="approved " + token,
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
