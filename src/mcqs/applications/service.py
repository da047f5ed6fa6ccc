"""Applications (ərizə): checking what a citizen typed, filling the form from the
population registry, fixing the fee, and following the application to its end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    bindparam,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session, joinedload

from mcqs.applications import lifecycle
from mcqs.applications.codes import new_notification_code, parse_notification_code
from mcqs.applications.holds import held_until_conflict, live_hold
from mcqs.applications.models import (
    Application,
    ApplicationImei,
    ApplicationStatus,
    Channel,
    ImeiHold,
)
from mcqs.db import serialise_on, utcnow
from mcqs.devices.imei import Imei, parse_imei
from mcqs.devices.service import blacklisted_clause, catalogue_entry
from mcqs.errors import Conflict, DomainError, FormErrors, InvalidInput, NotFound
from mcqs.fees.service import priced_fee_band, tariff_day
from mcqs.i18n import Language
from mcqs.identity.population import Person, PopulationRegistryClient
from mcqs.identity.rules import normalize_fin, normalize_id_card
from mcqs.localtime import baku_day
from mcqs.security.service import fin_key

MAX_IMEIS = 4
# How long a checked application waits for the citizen to press "Təsdiqlə və ödəniş et"
# (a GoldenPay session opened before then runs its own course).
FORM_MINUTES = 30


@dataclass(frozen=True)
class CheckInput:
    """What the citizen typed on the check form ("Məlumatları yoxla")."""

    id_card: str
    fin: str
    imeis: tuple[str, ...]  # up to four fields; empty ones are ignored


def parse_check_input(data: CheckInput) -> tuple[str, str, list[Imei]]:
    """Validate the typed fields, collecting every error so all can be shown at once."""
    errors: list[DomainError] = []
    fin = id_card = ""
    try:
        id_card = normalize_id_card(data.id_card)
    except InvalidInput as error:
        errors.append(error)
    try:
        fin = normalize_fin(data.fin)
    except InvalidInput as error:
        errors.append(error)
    imeis = _parse_imeis(data.imeis, errors)
    if errors:
        raise FormErrors(errors)
    return id_card, fin, imeis


def _parse_imeis(raw_imeis: tuple[str, ...], errors: list[DomainError]) -> list[Imei]:
    """The typed IMEIs (1–4 fields, empty ones ignored); what is wrong goes to ``errors``."""
    imeis: list[Imei] = []
    for position, raw in enumerate(raw_imeis[:MAX_IMEIS], start=1):
        field = f"imei_{position}"
        if not raw.strip():
            continue
        try:
            imei = parse_imei(raw, field=field)
        except InvalidInput as error:
            errors.append(error)
            continue
        if any(seen.imei_norm == imei.imei_norm for seen in imeis):
            errors.append(InvalidInput("imei_duplicate", field=field))
            continue
        imeis.append(imei)
    if not imeis and not any(e.field and e.field.startswith("imei") for e in errors):
        errors.append(InvalidInput("imei_required", field="imei_1"))
    return imeis


def parse_imeis(raw_imeis: tuple[str, ...]) -> list[Imei]:
    """The IMEI fields alone (a signed-in citizen types nothing else); :class:`FormErrors`
    with every problem found."""
    errors: list[DomainError] = []
    imeis = _parse_imeis(raw_imeis, errors)
    if errors:
        raise FormErrors(errors)
    return imeis


@dataclass(frozen=True)
class CheckedPerson:
    """What the population registry confirmed for a check: the person behind a valid card."""

    fin: str
    id_card: str
    imeis: list[Imei]
    person: Person


def confirm_person(population: PopulationRegistryClient, data: CheckInput) -> CheckedPerson:
    """Validate what was typed and ask the population registry about it.

    Called with no transaction open: the registry is an outside party. Raises
    :class:`FormErrors` with every problem found, each tied to its field."""
    id_card, fin, imeis = parse_check_input(data)
    # One question, whose answer carries the FİN's card: an unknown FİN takes the same
    # call as a known one (the answer's time tells nobody who is in the registry), and
    # "no such FİN" and "not this FİN's card" are one answer: two would tell anyone with
    # a security code which FİNs exist.
    person = population.get_person(fin)
    if person is None or person.id_card != id_card:
        raise FormErrors([InvalidInput("id_card_not_of_fin", field="id_card")])
    if not person.id_card_valid_on(baku_day(utcnow())):
        raise FormErrors([InvalidInput("id_card_expired", field="id_card")])
    return CheckedPerson(fin=fin, id_card=id_card, imeis=imeis, person=person)


def confirm_signed_in_person(
    population: PopulationRegistryClient, *, fin: str, imeis: tuple[str, ...]
) -> CheckedPerson:
    """The check of a citizen signed in through e-gov: the FİN is the login's, the ID card
    the registry's current one for it (the citizen types neither). An expired card is
    refused as on the form without login. Called with no transaction open."""
    parsed = parse_imeis(imeis)
    person = population.get_person(fin)
    if person is None:
        raise FormErrors([InvalidInput("egov_person_unknown")])
    if not person.id_card_valid_on(baku_day(utcnow())):
        raise FormErrors([InvalidInput("id_card_expired")])
    return CheckedPerson(fin=fin, id_card=person.id_card, imeis=parsed, person=person)


def imei_conflicts(session: Session, *, imeis: list[Imei], now: dt.datetime) -> list[DomainError]:
    """Why each IMEI may not be applied for (none: it may), asked of every domain in one
    statement: registered (or another domain's refusal), blacklisted, held by another
    application, in that order."""
    found = session.execute(
        _conflicts_query(len(imeis), tuple(lifecycle.imei_refusals())),
        _imei_parameters(imeis, now=now),
    ).one()
    return _conflicts_of(iter(found), imeis)


# The check's statements are built once per process for each number of IMEIs, with
# parameters (imei_1…, now, fin): the check is the site's busiest form, and building a
# statement (and its cache key) at every call cost more Python than its round trip.
@lru_cache(maxsize=4 * MAX_IMEIS)
def _conflicts_query(
    count: int, refusals: tuple[tuple[str, lifecycle.ImeiCondition], ...]
) -> Select[Any]:
    """For ``count`` IMEIs, in order: each other domain's refusal, blacklisted, held, the
    hold's end (read by :func:`_conflicts_of`)."""
    now = bindparam("now", type_=ImeiHold.held_until.type)
    columns: list[ColumnElement[Any]] = []
    for position in range(1, count + 1):
        norm = bindparam(f"imei_{position}", type_=String(14))
        hold = live_hold(norm, now=now)
        columns += [condition(norm) for _code, condition in refusals]
        columns += [
            blacklisted_clause(norm),
            hold.exists(),
            hold.with_only_columns(ImeiHold.held_until).scalar_subquery(),
        ]
    return select(*columns)


@lru_cache(maxsize=4 * MAX_IMEIS)
def _check_query(
    count: int, refusals: tuple[tuple[str, lifecycle.ImeiCondition], ...]
) -> Select[Any]:
    """:func:`_conflicts_query`, then the FİN's applications waiting to be paid, whether
    any of its unpaid, unstarted ones is for one of these IMEIs (it would give way), and
    the brand and model the first IMEI's TAC names: what a new application must know, in
    one round trip."""
    fin = bindparam("fin", type_=Application.fin.type)
    now = bindparam("now", type_=Application.expires_at.type)
    norms = [bindparam(f"imei_{n}", type_=String(14)) for n in range(1, count + 1)]
    waiting = (
        select(func.count())
        .select_from(Application)
        .where(
            Application.fin == fin,
            Application.status.in_(lifecycle.PAYABLE),
            Application.expires_at > now,
        )
        .scalar_subquery()
    )
    giving_way = exists().where(
        Application.id == ApplicationImei.application_id, *_gives_way(fin, norms)
    )
    brand, model = catalogue_entry(bindparam("tac", type_=String(8)))
    return _conflicts_query(count, refusals).add_columns(waiting, giving_way, brand, model)


def _imei_parameters(imeis: list[Imei], *, now: dt.datetime) -> dict[str, Any]:
    return {
        "now": now,
        **{f"imei_{n}": imei.imei_norm for n, imei in enumerate(imeis, start=1)},
    }


def _conflicts_of(found: Iterator[Any], imeis: list[Imei]) -> list[DomainError]:
    """The refusals in a row of :func:`_conflicts_query`'s columns (consumed from
    ``found``)."""
    refusals = lifecycle.imei_refusals()
    errors: list[DomainError] = []
    for position, _imei in enumerate(imeis, start=1):
        field = f"imei_{position}"
        refused = [code for code, _condition in refusals if next(found)]
        blacklisted, held, held_until = next(found), next(found), next(found)
        if refused:
            errors.append(Conflict(refused[0], field=field))
        elif blacklisted:
            errors.append(Conflict("imei_blacklisted", field=field))
        elif held:
            errors.append(held_until_conflict(held_until, field=field))
    return errors


def _giving_way(session: Session, *, fin: str, imeis: list[Imei]) -> list[Application]:
    """The same person checking the same IMEI again: their unpaid, unstarted applications
    for it, which give way to the new one (nothing was held for them). Locked, not yet
    expired."""
    norms = [imei.imei_norm for imei in imeis]
    return list(
        session.scalars(
            select(Application)
            .join(ApplicationImei)
            .where(*_gives_way(fin, norms))
            .with_for_update()
        ).unique()
    )


def _gives_way(
    fin: str | ColumnElement[str], norms: Sequence[str | ColumnElement[str]]
) -> tuple[ColumnElement[bool], ...]:
    """An application (joined to its IMEIs) that gives way to a new one of this FİN for one
    of these IMEIs: the same person's, unpaid and unstarted."""
    return (
        Application.fin == fin,
        Application.status == ApplicationStatus.CREATED,
        ApplicationImei.imei_norm.in_(norms),
    )


@dataclass(frozen=True)
class NewApplication:
    """An application :func:`create_application` wrote (the row itself was not read back:
    ``get_application`` loads it)."""

    id: int
    notification_code: str
    fee_qepik: int


# Written as rows, on the transaction's connection: the ORM's unit of work around two
# inserts cost the check more Python than anything else it does (docs/benchmarks.md).
_APPLICATIONS = cast(Table, Application.__table__)
_WRITE_APPLICATION = insert(_APPLICATIONS).returning(_APPLICATIONS.c.id)
_WRITE_IMEIS = insert(cast(Table, ApplicationImei.__table__))


def create_application(
    session: Session,
    *,
    checked: CheckedPerson,
    channel: Channel,
    max_open_per_fin: int,
    now: dt.datetime,
    language: Language = Language.AZ,
) -> NewApplication:
    """The "Məlumatları yoxla" step after the registry answered: refuse IMEIs that are
    registered, blacklisted or being paid for, fix the fee, write the application
    (remembering the page's ``language``, which its SMS are later written in).

    It holds nothing: IMEIs are held only once the citizen goes to pay. It writes nothing
    before its last refusal, so a caller may commit the transaction of a refused check as
    it stands (the check's FİN counted, nothing else changed)."""
    # Checks of one FİN are serialised first (until the transaction ends), or ten checks at
    # the same moment would each count the others' applications as not there yet; on the
    # FİN's key, which its count of checks (``count_fin_check``) took already when the
    # check came from the form (then this costs no statement).
    serialise_on(session, fin_key(checked.fin))
    tac = checked.imeis[0].tac
    found = iter(
        session.connection()
        .execute(
            _check_query(len(checked.imeis), tuple(lifecycle.imei_refusals())),
            {"fin": checked.fin, "tac": tac, **_imei_parameters(checked.imeis, now=now)},
        )
        .one()
    )
    conflicts = _conflicts_of(found, checked.imeis)
    if conflicts:
        raise FormErrors(conflicts)
    waiting, any_giving_way, brand, model = next(found), next(found), next(found), next(found)
    # Locked and read only when there are any (seldom: the same IMEI checked again).
    giving_way = (
        _giving_way(session, fin=checked.fin, imeis=checked.imeis) if any_giving_way else []
    )
    still_open = sum(1 for stale in giving_way if stale.expires_at > now)
    if waiting - still_open >= max_open_per_fin:
        raise FormErrors([Conflict("too_many_open_applications", limit=max_open_per_fin)])
    device, band = priced_fee_band(session, tac=tac, brand=brand, model=model, on=tariff_day(now))
    if giving_way:
        for stale in giving_way:
            lifecycle.expire(session, stale, now=now)
        session.flush()

    person = checked.person
    code = new_notification_code()
    db = session.connection()
    application_id = db.execute(
        _WRITE_APPLICATION,
        {
            "notification_code": code,
            "status": ApplicationStatus.CREATED,
            "channel": channel,
            "fin": checked.fin,
            "id_card": checked.id_card,
            "surname": person.surname,
            "name": person.name,
            "patronymic": person.patronymic,
            "address": person.address,
            "tac": device.tac,
            "brand": device.brand,
            "model": device.model,
            "market_value_usd": device.market_value_usd,
            "tariff_band_id": band.id,
            "fee_qepik": band.amount_qepik,
            "created_at": now,
            "expires_at": now + dt.timedelta(minutes=FORM_MINUTES),
            "language": language,
        },
    ).scalar_one()
    db.execute(
        _WRITE_IMEIS,
        [{"application_id": application_id, **row} for row in imei_rows(checked.imeis)],
    )
    return NewApplication(id=application_id, notification_code=code, fee_qepik=band.amount_qepik)


def imei_rows(imeis: list[Imei]) -> list[dict[str, Any]]:
    """The device's IMEIs as an application's rows (without the application's id), in the
    order typed (1–4: one per SIM slot)."""
    return [
        {"position": position, "imei": imei.imei, "imei_norm": imei.imei_norm}
        for position, imei in enumerate(imeis, start=1)
    ]


def application_imeis(imeis: list[Imei]) -> list[ApplicationImei]:
    """:func:`imei_rows` as objects, to add with an application object."""
    return [ApplicationImei(**row) for row in imei_rows(imeis)]


def get_application(session: Session, application_id: int, *, lock: bool = False) -> Application:
    """An application with its IMEIs and payments loaded (templates never query)."""
    return _loaded(
        session, Application.id == application_id, lock=lock, unknown="application_unknown"
    )


def _loaded(
    session: Session,
    which: ColumnElement[bool],
    *,
    lock: bool = False,
    unknown: str,
    field: str | None = None,
) -> Application:
    # One statement, its IMEIs and payments joined (at most four IMEIs times a few
    # payments: a handful of rows): a select of each collection after it (selectinload)
    # cost twice the CPU, and this is read at every step of a citizen's flow.
    query = (
        select(Application)
        .where(which)
        .options(joinedload(Application.imeis), joinedload(Application.payments))
    )
    if lock:
        # The application's row is locked, as before (PostgreSQL refuses to lock an
        # outer join's optional side). populate_existing: an application this session loaded
        # before the lock must be refreshed from the locked row, or a status another
        # transaction committed while this one waited (a second click on "pay", the
        # worker registering) goes unseen.
        query = query.with_for_update(of=Application).execution_options(populate_existing=True)
    application = session.scalars(query).unique().one_or_none()
    if application is None:
        raise NotFound(unknown, field=field)
    return application


def find_by_notification_code(session: Session, raw_code: str) -> Application:
    code = parse_notification_code(raw_code)
    if code is None:
        raise InvalidInput("notification_code_malformed", field="code")
    return _loaded(
        session,
        Application.notification_code == code,
        unknown="notification_code_unknown",
        field="code",
    )


def expire_unstarted_applications(session: Session, *, now: dt.datetime) -> int:
    """The worker's sweep over checked applications nobody went on to pay in time.

    Those with a payment started are the payments domain's to expire: a GoldenPay
    session may still be paid."""
    candidates = session.scalars(
        select(Application)
        .where(Application.status == ApplicationStatus.CREATED, Application.expires_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    for application in candidates:
        lifecycle.expire(session, application, now=now)
    return len(candidates)


# A paid application normally registers within seconds; past this its job has given up.
REGISTRATION_OVERDUE = dt.timedelta(minutes=30)


def paid_applications_waiting(session: Session, *, now: dt.datetime) -> list[int]:
    """Paid applications still undecided long after payment: the sweep registers them, so a
    job that gave up never leaves a paid application undecided."""
    return list(
        session.scalars(
            select(Application.id).where(
                Application.status.in_([ApplicationStatus.PAID, ApplicationStatus.SUBMITTED]),
                Application.paid_at <= now - REGISTRATION_OVERDUE,
            )
        )
    )
