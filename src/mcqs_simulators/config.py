"""The simulators' own settings (``MCQS_SIM_…``), apart from MCQS's: the core never reads them."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MCQS_SIM_", env_file=".env", extra="ignore")

    # Each simulator keeps its state in a SQLite file here: shared by the demo's web
    # processes, and kept across restarts.
    state_dir: Path = Path("var/simulators")
    # Delay of GoldenPay's getPaymentKey and getPaymentResult answers at start-up;
    # POST /_sim/goldenpay/sim/latency changes each at run time.
    goldenpay_latency_seconds: float = Field(default=0.0, ge=0)
