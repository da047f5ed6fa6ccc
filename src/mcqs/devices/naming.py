"""How a device is named to people: once, as they say it."""

from __future__ import annotations


def device_name(brand: str | None, model: str | None) -> str:
    """``("Nokia", "Nokia Lumia 630 Dual SIM")`` → ``"Nokia Lumia 630 Dual SIM"``.

    Catalogues (Osmocom's among them) often put the brand in the model name too, so the
    brand is added only when the model does not already start with it."""
    if not model:
        return brand or ""
    if brand and not model.lower().startswith(brand.lower()):
        return f"{brand} {model}"
    return model
