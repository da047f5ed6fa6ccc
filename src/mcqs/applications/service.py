"""Applications (ərizə): checking what a citizen typed, filling the form from the
population registry, fixing the fee, and following the application to its end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from mcqs.applications.models import (
    OPEN_STATUSES,
    Application,
    ApplicationImei,
    ApplicationStatus,
)
from mcqs.devices.imei import Imei, parse_imei
from mcqs.devices.service import is_blacklisted, lookup_device
from mcqs.errors import Conflict, DomainError, FormErrors, InvalidInput, NotFound
from mcqs.fees.service import fee_band, tariff_day
from mcqs.identity.population import PopulationRegistryClient
from mcqs.identity.rules import normalize_fin, normalize_id_card
from mcqs.payments.models import PaymentStatus
from mcqs.receipts.codes import new_notification_code, parse_notification_code
from mcqs.registrations.models import RegistrationImei

MAX_IMEIS = 4
# How long a checked application waits for the citizen to press "Təsdiqlə və ödəniş et".
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
    imeis: list[Imei] = []
    for position, raw in enumerate(data.imeis[:MAX_IMEIS], start=1):
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
    if errors:
        raise FormErrors(errors)
    return id_card, fin, imeis


def _lock_imeis(session: Session, imeis: list[Imei]) -> None:
    """Serialise checks of the same IMEI until the end of the transaction.

    Row locks cannot guard rows that do not exist yet (two citizens checking one IMEI at
    once would both find no open application). PostgreSQL takes an advisory lock per IMEI,
    in a fixed order against deadlocks; SQLite transactions already run one at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for imei_norm in sorted({imei.imei_norm for imei in imeis}):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"imei:{imei_norm}"}
        )


def _imei_conflicts(session: Session, *, fin: str, imeis: list[Imei]) -> list[DomainError]:
    _lock_imeis(session, imeis)
    errors: list[DomainError] = []
    for position, imei in enumerate(imeis, start=1):
        field = f"imei_{position}"
        registered = session.scalar(
            select(RegistrationImei.id).where(
                RegistrationImei.imei_norm == imei.imei_norm, RegistrationImei.active
            )
        )
        if registered is not None:
            errors.append(Conflict("imei_already_registered", field=field))
            continue
        if is_blacklisted(session, imei_norm=imei.imei_norm):
            errors.append(Conflict("imei_blacklisted", field=field))
            continue
        pending = session.scalars(
            select(Application)
            .join(ApplicationImei)
            .where(ApplicationImei.imei_norm == imei.imei_norm)
            .where(Application.status.in_(OPEN_STATUSES))
            .options(selectinload(Application.payments))
            .with_for_update()
        ).all()
        for application in pending:
            # The same person starting again with nothing paid or being paid: the unfinished
            # application gives way.
            if application.fin == fin and _nothing_paid_or_pending(application):
                application.status = ApplicationStatus.EXPIRED
                continue
            paid = application.status in (ApplicationStatus.PAID, ApplicationStatus.SUBMITTED)
            code = "imei_in_paid_application" if paid else "imei_in_pending_application"
            errors.append(Conflict(code, field=field))
            break
    return errors


def _nothing_paid_or_pending(application: Application) -> bool:
    return application.status in (
        ApplicationStatus.CREATED,
        ApplicationStatus.AWAITING_PAYMENT,
    ) and all(
        p.status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED) for p in application.payments
    )


def check_and_create_application(
    session: Session,
    *,
    population: PopulationRegistryClient,
    data: CheckInput,
    channel: str,
    now: dt.datetime,
) -> Application:
    """The "Məlumatları yoxla" step: validate, ask the population registry, fix the fee.

    Raises :class:`FormErrors` with every problem found, each tied to its field."""
    id_card, fin, imeis = parse_check_input(data)

    person = population.get_person(fin)
    if person is None:
        raise FormErrors([InvalidInput("fin_unknown", field="fin")])
    card = population.id_card_check(fin, id_card)
    if card is None or not card.match:
        raise FormErrors([InvalidInput("id_card_not_of_fin", field="id_card")])
    if not card.valid:
        raise FormErrors([InvalidInput("id_card_expired", field="id_card")])

    conflicts = _imei_conflicts(session, fin=fin, imeis=imeis)
    if conflicts:
        raise FormErrors(conflicts)

    device = lookup_device(session, tac=imeis[0].tac)
    band = fee_band(session, device=device, on=tariff_day(now))
    application = Application(
        notification_code=new_notification_code(),
        status=ApplicationStatus.CREATED,
        channel=channel,
        fin=fin,
        id_card=id_card,
        surname=person.surname,
        name=person.name,
        patronymic=person.patronymic,
        address=person.address,
        tac=device.tac,
        brand=device.brand,
        model=device.model,
        market_value_usd=device.market_value_usd,
        tariff_band_id=band.id,
        fee_qepik=band.amount_qepik,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=FORM_MINUTES),
    )
    session.add(application)
    session.flush()
    add_imeis(session, application=application, imeis=imeis)
    return application


def add_imeis(session: Session, *, application: Application, imeis: list[Imei]) -> None:
    """The device's IMEIs, in the order typed (1–4: one per SIM slot)."""
    for position, imei in enumerate(imeis, start=1):
        session.add(
            ApplicationImei(
                application_id=application.id,
                position=position,
                imei=imei.imei,
                imei_norm=imei.imei_norm,
            )
        )
    session.flush()


def get_application(session: Session, application_id: int, *, lock: bool = False) -> Application:
    """An application with its IMEIs and payments loaded (templates never query)."""
    query = (
        select(Application)
        .where(Application.id == application_id)
        .options(selectinload(Application.imeis), selectinload(Application.payments))
    )
    if lock:
        query = query.with_for_update()
    application = session.scalars(query).first()
    if application is None:
        raise NotFound("application_unknown")
    return application


def find_by_notification_code(session: Session, raw_code: str) -> Application:
    code = parse_notification_code(raw_code)
    if code is None:
        raise InvalidInput("notification_code_malformed", field="code")
    application_id = session.scalar(
        select(Application.id).where(Application.notification_code == code)
    )
    if application_id is None:
        raise NotFound("notification_code_unknown", field="code")
    return get_application(session, application_id)


def expire_if_abandoned(application: Application, *, now: dt.datetime) -> bool:
    """Expire an application nobody will pay for any more; its IMEIs are free again.

    One with a payment still pending at GoldenPay, or paid, is never expired here."""
    if application.expires_at > now:
        return False
    if _nothing_paid_or_pending(application):
        application.status = ApplicationStatus.EXPIRED
        return True
    return False


def expire_abandoned_applications(session: Session, *, now: dt.datetime) -> int:
    """The worker's sweep over forms never sent to payment and payments never made."""
    candidates = session.scalars(
        select(Application)
        .where(
            Application.status.in_([ApplicationStatus.CREATED, ApplicationStatus.AWAITING_PAYMENT]),
            Application.expires_at <= now,
        )
        .options(selectinload(Application.payments))
        .with_for_update(skip_locked=True)
    ).all()
    return sum(expire_if_abandoned(application, now=now) for application in candidates)


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
