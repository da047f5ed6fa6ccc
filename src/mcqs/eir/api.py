"""The operators' machine API: a FastAPI app of its own, in front of the citizen pages.

``OperatorApi`` (one middleware, added once in ``mcqs.app``) hands every request under
:data:`PREFIXES` to this app, so none of it ever meets the citizen's session cookie, the
CSRF check or the HTML error pages: principals here are operators' OAuth2 clients with
bearer tokens, and every error is ``application/problem+json`` (3GPP TS 29.500).

- ``POST /oauth2/token`` — client credentials grant (RFC 6749 §4.4), scopes
  ``n5g-eir-eic`` and ``mcqs-operator``.
- ``GET /n5g-eir-eic/v1/equipment-status`` — TS 29.511, scope ``n5g-eir-eic``.
- ``POST /operator-api/v1/equipment-status`` — bulk status (JSON or CSV), ``n5g-eir-eic``.
- ``POST /operator-api/v1/network-activity`` — upload a day of activity, ``mcqs-operator``.
- ``POST /operator-api/v1/lists`` and ``GET /operator-api/v1/lists/{run}/{kind}.csv`` —
  generate and download lists, ``mcqs-operator``.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from mcqs.config import Settings
from mcqs.db import Database, utcnow
from mcqs.eir.errors import OperatorInputRefused, operator_words, refused
from mcqs.eir.fast_check import FastStatusCheck
from mcqs.eir.lists import delta_csv, full_csv, generate_lists, get_run
from mcqs.eir.models import EquipmentStatus, ListKind
from mcqs.eir.network_import import import_network_file
from mcqs.eir.operators import (
    SCOPE_EIR,
    SCOPE_OPERATOR,
    OperatorAuthError,
    OperatorPrincipal,
    authenticate_client,
    granted_scopes,
    issue_token,
    operator_by_code,
    verify_token,
)
from mcqs.eir.service import imei_row, start_grace
from mcqs.eir.snapshot import STATUS_NAMES, StatusSnapshot, micros
from mcqs.eir.status import bulk_key, bulk_numbers, check_query, equipment_status
from mcqs.problems import problem_openapi, problem_response

PREFIXES = ("/oauth2/", "/n5g-eir-eic/", "/operator-api/")
UNKNOWN = "UNKNOWN"  # a bulk answer's status for equipment the registry does not know


class EirResponseData(BaseModel):
    status: EquipmentStatus


class OperatorApi:
    """Sends the operators' paths to their own app, everything else on to the site."""

    def __init__(self, app: ASGIApp, *, api: ASGIApp) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIXES):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_operator_api(
    settings: Settings, db: Database, *, clock: Callable[[], dt.datetime] = utcnow
) -> FastAPI:
    docs = settings.env in ("demo", "test")
    api = FastAPI(
        title="MCQS operator API",
        docs_url="/operator-api/docs" if docs else None,
        openapi_url="/operator-api/openapi.json" if docs else None,
        redoc_url=None,
    )
    # Tests move the clock to simulate days passing.
    api.state.clock = clock

    def now() -> dt.datetime:
        return api.state.clock()  # type: ignore[no-any-return]

    snapshot = (
        StatusSnapshot(db.engine.url.set(drivername="postgresql").render_as_string(False))
        if settings.eir_snapshot and db.engine.dialect.name == "postgresql"
        else None
    )
    api.state.snapshot = snapshot
    api.state.check = FastStatusCheck(
        secret_key=settings.secret_key, db=db, snapshot=snapshot, clock=now
    )

    def principal(
        scope_needed: str,
    ) -> Callable[[Request], Coroutine[Any, Any, OperatorPrincipal | None]]:
        # async: checking a signature is CPU work of microseconds, not worth a thread hop.
        async def dependency(request: Request) -> OperatorPrincipal | None:
            header = request.headers.get("authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token:
                if scope_needed == SCOPE_EIR and settings.eir_unauthenticated:
                    return None
                raise OperatorAuthError("invalid_token", 401, "a bearer token is required")
            who = verify_token(token.strip(), secret_key=settings.secret_key, now=now())
            if scope_needed not in who.scopes:
                raise OperatorAuthError(
                    "insufficient_scope", 403, f"the token lacks the scope {scope_needed}"
                )
            return who

        return dependency

    eir_client = Depends(principal(SCOPE_EIR))
    operator_client = Depends(principal(SCOPE_OPERATOR))

    # ---- errors: ProblemDetails, never HTML ------------------------------------------------

    @api.exception_handler(OperatorAuthError)
    def auth_refused(request: Request, error: OperatorAuthError) -> Response:
        challenge = f'Bearer error="{error.error}", error_description="{error.detail}"'
        return problem_response(
            error.status,
            error.detail,
            cause=error.error.upper(),
            headers={"WWW-Authenticate": challenge},
        )

    @api.exception_handler(OperatorInputRefused)
    def input_refused(request: Request, error: OperatorInputRefused) -> Response:
        status = 404 if error.code in ("list_run_unknown", "operator_unknown") else 422
        return problem_response(status, operator_words(error), cause=error.code.upper())

    @api.exception_handler(RequestValidationError)
    def malformed(request: Request, error: RequestValidationError) -> Response:
        invalid = [
            {"param": " ".join(str(part) for part in item["loc"]), "reason": item["msg"]}
            for item in error.errors()
        ]
        return problem_response(
            400, "the request is malformed", cause="INVALID_QUERY_PARAM", invalidParams=invalid
        )

    @api.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return problem_response(error.status_code, str(error.detail), headers=error.headers)

    @api.exception_handler(Exception)
    def unexpected(request: Request, error: Exception) -> Response:
        return problem_response(500, "unexpected error", cause="SYSTEM_FAILURE")

    # ---- the token endpoint ----------------------------------------------------------------

    @api.post("/oauth2/token", tags=["OAuth2"])
    async def token(request: Request) -> Response:
        """Client credentials grant: ``client_id`` and ``client_secret`` in the form or as
        HTTP Basic; errors as RFC 6749 §5.2 says (``{"error": …}``)."""
        form = await request.form()
        client_id, client_secret = (
            str(form.get("client_id", "")),
            str(form.get("client_secret", "")),
        )
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:]).decode()
            except ValueError:
                decoded = ":"
            client_id, _, client_secret = decoded.partition(":")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type")
        try:
            scopes = granted_scopes(str(form.get("scope", "")) or None)
            with db.reading() as session:
                operator = authenticate_client(
                    session, client_id=client_id, client_secret=client_secret
                )
        except OperatorAuthError as error:
            return _oauth_error(error.status, error.error)
        lifetime = dt.timedelta(minutes=settings.operator_token_minutes)
        access_token = issue_token(
            operator, scopes=scopes, secret_key=settings.secret_key, lifetime=lifetime, now=now()
        )
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": int(lifetime.total_seconds()),
                "scope": " ".join(sorted(scopes)),
            },
            headers={"Pragma": "no-cache"},
        )

    # ---- TS 29.511 -------------------------------------------------------------------------

    @api.get(
        "/n5g-eir-eic/v1/equipment-status",
        response_model=EirResponseData,
        responses=problem_openapi(400, 401, 403, 404),
        tags=["N5g-eir_EquipmentIdentityCheck"],
    )
    def get_equipment_status(
        pei: Annotated[str | None, Query()] = None,
        supi: Annotated[str | None, Query()] = None,
        gpsi: Annotated[str | None, Query()] = None,
        supported_features: Annotated[str | None, Query(alias="supported-features")] = None,
        who: OperatorPrincipal | None = eir_client,
    ) -> Response:
        imei_norm, imsi, msisdn, wrong = check_query(pei, supi, gpsi)
        if wrong or imei_norm is None:
            return problem_response(
                400,
                "malformed parameters",
                cause="INVALID_QUERY_PARAM" if pei else "MANDATORY_QUERY_PARAM_MISSING",
                invalidParams=[{"param": w.param, "reason": w.reason} for w in wrong],
            )
        moment = now()
        with db.reading() as session:
            status = equipment_status(
                session, imei_norm=imei_norm, imsi=imsi, msisdn=msisdn, now=moment
            )
        if status is None and settings.eir_unknown_is_first_sighting:
            status = _first_sighting(imei_norm, msisdn, moment)
        if status is None:
            return problem_response(
                404, "the equipment is not known to the registry", cause="ERROR_EQUIPMENT_UNKNOWN"
            )
        return JSONResponse({"status": status.value})

    def _first_sighting(imei_norm: str, msisdn: str | None, moment: dt.datetime) -> Any:
        with db.transaction() as session:
            row = imei_row(session, imei_norm, now=moment)
            start_grace(
                session,
                row,
                msisdns=[msisdn] if msisdn else [],
                grace=dt.timedelta(days=settings.eir_grace_days),
                register_url=f"{settings.public_url}/register",
                now=moment,
            )
            session.flush()
            return equipment_status(
                session, imei_norm=imei_norm, imsi=None, msisdn=msisdn, now=moment
            )

    # ---- bulk ------------------------------------------------------------------------------

    @api.post(
        "/operator-api/v1/equipment-status",
        responses=problem_openapi(400, 401, 403, 413),
        tags=["Operators"],
    )
    async def bulk_status(request: Request, who: OperatorPrincipal | None = eir_client) -> Response:
        """Many IMEIs at once: a JSON body ``{"peis": [...]}`` answered as
        ``{"results": [{"pei", "status"}]}``, or a CSV body (one PEI or IMEI a line, an
        optional ``pei`` header) answered as CSV ``pei,status``. Unknown: ``UNKNOWN``."""
        limit = settings.eir_bulk_limit
        # Over the limit before parsing (a PEI is at most 23 characters, quoted, with a
        # comma): refused by its announced length, and never read past it.
        body = await _body_at_most(request, limit * 40 + 1024)
        if body is None:
            return _too_many(limit)
        is_csv = request.headers.get("content-type", "").startswith("text/csv")
        if is_csv:
            entries = [line.strip() for line in body.decode("utf-8", "replace").splitlines()]
            entries = [e for e in entries if e and e.lower() not in ("pei", "imei")]
        else:
            try:
                document = orjson.loads(body)
                entries = document["peis"]
                if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return problem_response(
                    400,
                    'the body is {"peis": ["imei-…", …]} or text/csv',
                    cause="INVALID_MSG_FORMAT",
                    invalidParams=[{"param": "/peis", "reason": "a list of strings"}],
                )
        if len(entries) > limit:
            return _too_many(limit)
        wanted = bulk_numbers(entries)
        if wanted is None:
            keys = [bulk_key(entry) for entry in entries]
            if None in keys:
                wrong = [
                    {"param": f"/peis/{index}", "reason": "not an IMEI, IMEISV or PEI"}
                    for index, key in enumerate(keys)
                    if key is None
                ]
                return problem_response(
                    400,
                    f"{len(wrong)} entries are not IMEIs",
                    cause="INVALID_MSG_FORMAT",
                    invalidParams=wrong[:100],
                )
            wanted = np.fromiter((int(key or 0) for key in keys), np.int64, len(keys))
        codes = await _bulk_codes(wanted)
        if is_csv:
            return Response(bulk_csv(entries, codes), media_type="text/csv; charset=utf-8")
        return Response(bulk_json(entries, codes), media_type="application/json")

    async def _bulk_codes(wanted: Any) -> list[int]:
        """Each IMEI's status as an index into ``STATUS_NAMES``, in the order asked."""
        if snapshot is not None:
            snapshot.start_once()
            if snapshot.ready:
                return snapshot.codes(wanted, micros(now())).tolist()  # type: ignore[no-any-return]
        keys = [f"{number:014d}" for number in wanted.tolist()]
        found = await _in_thread(_bulk_lookup, keys)
        return [STATUS_CODES[found.get(key, UNKNOWN)] for key in keys]

    def _bulk_lookup(keys: list[str]) -> dict[str, str]:
        from mcqs.eir.status import bulk_statuses

        with db.reading() as session:
            return {k: s.value for k, s in bulk_statuses(session, keys, now=now()).items()}

    # ---- network activity ------------------------------------------------------------------

    @api.post(
        "/operator-api/v1/network-activity",
        responses=problem_openapi(401, 403, 422),
        tags=["Operators"],
    )
    async def upload_network_activity(
        request: Request,
        filename: Annotated[str, Query(max_length=200)] = "upload.csv",
        who: OperatorPrincipal = operator_client,
    ) -> Response:
        """The body is the file (``text/csv`` or ``application/zip``); the answer is the
        import's report. The same file again changes nothing (``outcome: unchanged``)."""
        most = settings.network_max_upload_mb * 1024 * 1024
        content = await _body_at_most(request, most)
        if content is None:
            return problem_response(
                413,
                f"at most {settings.network_max_upload_mb} MB in one upload: split the day",
                cause="UPLOAD_TOO_LARGE",
            )
        report = await _in_thread(
            lambda: import_network_file(
                db,
                operator_code=who.operator_code,
                content=content,
                filename=filename,
                settings=settings,
                started_by=f"api:{who.operator_code}",
                now=now(),
            )
        )
        return JSONResponse(
            {
                "outcome": report.outcome,
                "sha256": report.sha256,
                "read": report.read,
                "accepted": report.accepted,
                "rejected": report.rejected,
                "examples": report.examples,
                "triplets": report.triplets,
                "imeis": report.imeis,
                "grace_started": report.grace_started,
            }
        )

    # ---- lists -----------------------------------------------------------------------------

    @api.post("/operator-api/v1/lists", responses=problem_openapi(401, 403), tags=["Operators"])
    def new_list_run(who: OperatorPrincipal = operator_client) -> Response:
        with db.transaction() as session:
            operator = operator_by_code(session, who.operator_code)
            if operator is None:
                raise refused("operator_unknown", operator=who.operator_code)
            run = generate_lists(session, operator=operator, now=now())
            run_id, as_of = run.id, run.as_of
        return JSONResponse(
            {
                "run": run_id,
                "as_of": as_of.isoformat(),
                "lists": {
                    kind.value: f"/operator-api/v1/lists/{run_id}/{kind.value}.csv"
                    for kind in ListKind
                },
            },
            status_code=201,
        )

    @api.get(
        "/operator-api/v1/lists/{run}/{kind}.csv",
        responses=problem_openapi(401, 403, 404),
        tags=["Operators"],
    )
    def download_list(
        run: int,
        kind: ListKind,
        since: Annotated[int | None, Query(description="a run: the delta from it")] = None,
        who: OperatorPrincipal = operator_client,
    ) -> Response:
        with db.reading() as session:
            operator = operator_by_code(session, who.operator_code)
            if operator is None:
                raise refused("operator_unknown", operator=who.operator_code)
            get_run(session, operator=operator, run_id=run)
            if since is None:
                text = full_csv(session, run_id=run, kind=kind)
            else:
                get_run(session, operator=operator, run_id=since)
                text = delta_csv(session, since_run_id=since, run_id=run, kind=kind)
        return PlainTextResponse(text, media_type="text/csv")

    return api


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


async def _body_at_most(request: Request, most: int) -> bytes | None:
    """The request's body, or None as soon as it is known to be longer than ``most``."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > most:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > most:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


STATUS_CODES = {name: code for code, name in enumerate(STATUS_NAMES)}
# The end of a result after its PEI, one per status code.
_JSON_TAILS = tuple(f'","status":"{name}"}}' for name in STATUS_NAMES)
_CSV_TAILS = tuple(f",{name}\n" for name in STATUS_NAMES)


def bulk_json(entries: list[str], codes: list[int]) -> bytes:
    """``{"results":[{"pei":…,"status":…},…]}``, compact, written by joining pieces: a
    hundred thousand results in milliseconds, no dict per result. An entry that passed the
    check needs no escaping unless it came with spaces around it."""
    pieces: list[str] = []
    for entry, code in zip(entries, codes, strict=True):
        if entry == entry.strip():
            pieces += (',{"pei":"', entry, _JSON_TAILS[code])
        else:
            pieces += (',{"pei":', json.dumps(entry, ensure_ascii=False), _JSON_TAILS[code][1:])
    results = "".join(pieces)[1:]
    return f'{{"results":[{results}]}}'.encode()


def bulk_csv(entries: list[str], codes: list[int]) -> bytes:
    """``pei,status`` and a line per entry, in the order asked."""
    pieces = ["pei,status\n"]
    for entry, code in zip(entries, codes, strict=True):
        pieces += (_csv_field(entry), _CSV_TAILS[code])
    return "".join(pieces).encode()


def _csv_field(entry: str) -> str:
    if entry == entry.strip() and "," not in entry and '"' not in entry:
        return entry
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow((entry,))
    return out.getvalue()


def _too_many(limit: int) -> Response:
    return problem_response(
        413, f"at most {limit} IMEIs in one request", cause="TOO_MANY_PEIS", limit=limit
    )


def _oauth_error(status: int, error: str) -> Response:
    headers = {"WWW-Authenticate": "Basic"} if status == 401 else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def mount_operator_api(app: FastAPI, settings: Settings, db: Database) -> None:
    """Put the operator API in front of ``app``'s own routes (see :class:`OperatorApi`);
    call it right after the session middleware is added, so that the session never sees
    an operator's request."""
    api = create_operator_api(settings, db)
    app.state.operator_api = api
    app.add_middleware(OperatorApi, api=api)
    if api.state.snapshot is not None:
        app.router.add_event_handler("shutdown", api.state.snapshot.stop)
