"""All configuration, in one typed place: environment variables prefixed ``MCQS_``."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "dev-only-secret-change-me"  # public: in this file


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MCQS_", env_file=".env", extra="ignore")

    # --- running -----------------------------------------------------------------
    # Production behaviour is the default: demo and test conveniences (the development
    # secret, a fixed security code, the simulators) must be asked for by name.
    env: Literal["demo", "test", "production"] = "production"
    host: str = "127.0.0.1"
    port: int = 8000
    # Where citizens reach us; used for GoldenPay return URLs and the receipt's QR code.
    public_url: str = ""
    # Host headers we answer (comma-separated; "*" = any). Default: the public URL's host.
    # Every absolute URL we make comes from public_url, never from the Host header.
    allowed_hosts: str = ""
    database_url: str = "sqlite:///var/mcqs.sqlite3"
    secret_key: str = Field(default=DEVELOPMENT_SECRET, min_length=16)
    # A browser session (the applications it may see in full) ends after this long idle.
    session_idle_minutes: int = Field(default=30, gt=0)
    # A citizen signed in through e-gov is signed out this long after signing in, however
    # busy (the idle limit above applies too).
    citizen_session_hours: int = Field(default=8, gt=0)
    # Staff (counters, back office) are signed out after this long idle, and this long
    # after signing in however busy.
    staff_idle_minutes: int = Field(default=15, gt=0)
    staff_session_hours: int = Field(default=12, gt=0)
    # Staff sign-in attempts (password or code) per client address per minute, per process.
    staff_sign_in_limit_per_client: int = Field(default=20, gt=0)
    # Proxies whose X-Forwarded-For is believed (the client address drives rate limits).
    forwarded_allow_ips: str = "127.0.0.1"
    # Web processes `mcqs serve` runs on this node (uvicorn's multi-process mode).
    web_workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)

    # --- population registry (HTTP/JSON) ----------------------------------------------
    population_base_url: str = ""
    population_api_key: str = "demo-population-key"

    # --- GoldenPay merchant API ----------------------------------------------------
    goldenpay_base_url: str = ""
    goldenpay_merchant_name: str = "mcqs"
    goldenpay_auth_key: str = "demo-goldenpay-auth-key"
    # A payment session at GoldenPay lives this long.
    payment_session_minutes: int = 15
    # After a session's 15 minutes we go on asking GoldenPay this long before calling it
    # expired (clocks differ; GoldenPay's session starts a moment after ours), and the
    # IMEIs stay held as long: a payment made at the last second is never lost.
    payment_late_margin_minutes: int = 5
    # One person may hold one IMEI unpaid (while paying) this long a day, so nobody can
    # keep someone else's IMEI blocked by opening payment sessions one after another.
    hold_minutes_per_imei_per_day: int = 45
    # A web request waits on GoldenPay at most this long; then the citizen reads
    # "being checked" and the worker settles the payment.
    goldenpay_timeout_seconds: float = 5.0
    # One question to GoldenPay per payment at a time, and not more often than this.
    payment_ask_interval_seconds: float = 2.0
    # GoldenPay return URLs one client may open per minute (each may ask GoldenPay).
    return_limit_per_client: int = 30

    # --- SMS centre ----------------------------------------------------------------
    sms_base_url: str = ""
    sms_api_key: str = "demo-sms-key"
    sms_sender: str = "MCQS"

    # --- e-government portal login (OpenID Connect relying party) ---------------------
    # The provider's discovery document (a Keycloak realm: https://HOST/realms/REALM/
    # .well-known/openid-configuration); a confidential client's id and secret.
    egov_discovery_url: str = ""
    egov_client_id: str = "mcqs"
    egov_client_secret: str = "demo-egov-client-secret"
    egov_token_auth_method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_basic"
    )
    # The ID token's claim that carries the citizen's FİN.
    egov_fin_claim: str = Field(default="fin", min_length=1)
    # The longest any call waits on the portal (discovery, keys, the token endpoint).
    egov_timeout_seconds: float = Field(default=5.0, gt=0)
    # Sign-ins one client may start, and portal callbacks it may bring back, per minute:
    # each callback costs a call to the portal's token endpoint.
    egov_sign_in_limit_per_client: int = Field(default=20, gt=0)

    # --- security code and rate limits on "Məlumatları yoxla" ---------------------------
    security_code_ttl_seconds: int = 300
    security_code_max_attempts: int = 5
    # Demo and tests only: every security code is this value. Refused in production.
    security_code_fixed: str | None = None
    # Security codes (pictures) one client may be given per minute: each is a row.
    security_code_limit_per_client: int = Field(default=30, gt=0)
    check_limit_per_client: int = 20
    check_limit_per_fin: int = 10
    check_limit_window_seconds: int = 600
    # Applications one FİN may have checked and not yet paid at once (each may hold IMEIs).
    open_applications_per_fin: int = 3

    # --- worker ----------------------------------------------------------------------
    worker_poll_seconds: float = 1.0
    job_max_attempts: int = 25
    # SMS a worker hands to the SMS centre at once (each on a connection of the adapter's
    # pool): a batch of decisions' SMS waits for the slowest of this many, not all in turn.
    sms_sends_at_once: int = Field(default=8, gt=0, le=64)
    # Finished jobs (done, or failed for good) are deleted this many days after they ended.
    job_retention_days: int = Field(default=14, gt=0)

    # --- /healthz --------------------------------------------------------------------
    # Unhealthy when no worker has beaten for this long (a worker beats every 5 s)...
    health_worker_silent_seconds: int = Field(default=60, gt=0)
    # ... or when a job has been due, and not run, for this long.
    health_queue_stale_seconds: int = Field(default=300, gt=0)

    # --- mobile operators: EIR, network activity, lists --------------------------------
    # Life of an operator's access token (OAuth2 client credentials).
    operator_token_minutes: int = Field(default=60, gt=0)
    # Testing only: the status API without a token. Refused in production.
    eir_unauthenticated: bool = False
    # An IMEI the EIR does not know: 404 (False), or a first sighting that starts its
    # grace period and answers GREYLISTED (True).
    eir_unknown_is_first_sighting: bool = False
    # PostgreSQL: answer status checks from each web process's in-memory snapshot, kept
    # fresh by the database's change notifications (mcqs.eir.snapshot); off: a query each.
    eir_snapshot: bool = True
    # Days an unregistered IMEI may be used after its first sighting.
    eir_grace_days: int = Field(default=30, gt=0)
    # IMEIs one bulk status request may ask about.
    eir_bulk_limit: int = Field(default=100_000, gt=0)
    # Distinct IMSIs one IMEI is seen with at overlapping times that make it a clone.
    eir_clone_imsi_threshold: int = Field(default=3, ge=2)
    # A detection run that would blacklist more than this share of all seen IMEIs is
    # refused unless forced by name.
    eir_max_blacklist_share: float = Field(default=0.1, gt=0, le=1)
    # A network activity file is refused when more than this share of its rows is
    # rejected, and when more than the second share carries other operators' IMSIs.
    network_max_rejected_share: float = Field(default=0.05, ge=0, le=1)
    network_max_other_operator_share: float = Field(default=0.01, ge=0, le=1)
    # The largest network activity upload, in MB (a day of a national operator, zipped).
    network_max_upload_mb: int = Field(default=512, gt=0)
    # The country's MCC: an IMSI of another country is not the operator's subscriber.
    network_home_mcc: str = Field(default="400", pattern=r"^[0-9]{3}$")

    @field_validator("public_url", "population_base_url", "goldenpay_base_url", "sms_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        # Accept the plain libpq form and use psycopg 3, the driver we ship.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("security_code_fixed")
    @classmethod
    def _digits_only(cls, value: str | None) -> str | None:
        # Codes are digits: the same keys on every keyboard, and what the audio code can say.
        if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 8):
            raise ValueError("MCQS_SECURITY_CODE_FIXED must be 1 to 8 digits")
        return value

    @model_validator(mode="after")
    def _derive_and_check(self) -> Settings:
        one_session = self.payment_session_minutes + self.payment_late_margin_minutes
        if self.hold_minutes_per_imei_per_day < one_session:
            raise ValueError(
                "MCQS_HOLD_MINUTES_PER_IMEI_PER_DAY must be at least one payment session "
                f"with its margin ({one_session} minutes), or nobody could pay"
            )
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        sim = f"{self.public_url}/_sim"
        if not self.population_base_url:
            self.population_base_url = f"{sim}/population"
        if not self.goldenpay_base_url:
            self.goldenpay_base_url = f"{sim}/goldenpay"
        if not self.sms_base_url:
            self.sms_base_url = f"{sim}/sms"
        if not self.egov_discovery_url:
            self.egov_discovery_url = f"{sim}/egov/.well-known/openid-configuration"
        if self.env not in ("demo", "test"):
            self._refuse_demo_conveniences()
        return self

    def _refuse_demo_conveniences(self) -> None:
        # Each message is one line: `mcqs serve` prints it as it is and stops.
        if self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(
                "MCQS_SECRET_KEY is the public development secret: set a secret of your own "
                "(or MCQS_ENV=demo or test)"
            )
        if self.security_code_fixed is not None:
            raise ValueError(
                "MCQS_SECURITY_CODE_FIXED turns off the security code: unset it "
                "(or MCQS_ENV=demo or test)"
            )
        if self.eir_unauthenticated:
            raise ValueError(
                "MCQS_EIR_UNAUTHENTICATED answers the EIR without a token: unset it "
                "(or MCQS_ENV=demo or test)"
            )
        simulated = [
            name
            for name in (
                "population_base_url",
                "goldenpay_base_url",
                "sms_base_url",
                "egov_discovery_url",
            )
            if getattr(self, name).startswith(f"{self.public_url}/_sim/")
        ]
        if simulated:
            names = ", ".join(f"MCQS_{name.upper()}" for name in simulated)
            raise ValueError(f"{names} point at the simulators: set the real parties' URLs")

    @property
    def allowed_host_list(self) -> list[str]:
        if self.allowed_hosts.strip():
            return [host.strip() for host in self.allowed_hosts.split(",") if host.strip()]
        # Only the public URL's host by default: a page opened under another name would
        # link (and send its session cookie) to the public one, and lose the session.
        return [urlsplit(self.public_url).hostname or "localhost"]

    @property
    def egov_issuer_hint(self) -> str:
        """The discovery URL without its well-known suffix: what the provider calls itself
        when it is a standard one (its document's ``issuer`` is what is checked)."""
        return self.egov_discovery_url.removesuffix("/.well-known/openid-configuration")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


@lru_cache
def get_settings() -> Settings:
    return Settings()
