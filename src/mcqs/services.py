"""The adapters of external parties, built once from settings and handed to domain code."""

from __future__ import annotations

from dataclasses import dataclass

from mcqs.config import Settings
from mcqs.identity.population import PopulationRegistryClient
from mcqs.notifications.sms import SmsClient
from mcqs.payments.goldenpay import GoldenPayClient


@dataclass(frozen=True)
class Services:
    settings: Settings
    population: PopulationRegistryClient
    goldenpay: GoldenPayClient
    sms: SmsClient

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        return cls(
            settings=settings,
            population=PopulationRegistryClient(
                base_url=settings.population_base_url, api_key=settings.population_api_key
            ),
            goldenpay=GoldenPayClient(
                base_url=settings.goldenpay_base_url,
                merchant_name=settings.goldenpay_merchant_name,
                auth_key=settings.goldenpay_auth_key,
                timeout=settings.goldenpay_timeout_seconds,
            ),
            sms=SmsClient(
                base_url=settings.sms_base_url,
                api_key=settings.sms_api_key,
                sender=settings.sms_sender,
            ),
        )
