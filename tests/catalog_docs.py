"""CATALOG documents for tests: a small real-looking one to change field by field, and pictures
(real PNG/JPEG/WebP bytes made by Pillow)."""

from __future__ import annotations

import copy
import io
import uuid
from typing import Any

from PIL import Image

STARTERS = "3f1c2a4e-0b7d-4c1e-9a55-0d2b6c1e7a01"
MAINS = "3f1c2a4e-0b7d-4c1e-9a55-0d2b6c1e7a02"
CEVICHE = "7a0e5c33-51d2-4f0b-8a3e-1c9d2b4e6f01"
CAUSA = "7a0e5c33-51d2-4f0b-8a3e-1c9d2b4e6f02"
LOMO = "7a0e5c33-51d2-4f0b-8a3e-1c9d2b4e6f03"
COOKING = "b4d2e6f8-1a3c-4e5b-9d7f-2c4e6a8b0d01"
RARE = "c5e3f7a9-2b4d-4f6c-8e0a-3d5f7b9c1e01"
WELL_DONE = "c5e3f7a9-2b4d-4f6c-8e0a-3d5f7b9c1e02"


def catalog(version: str = "v1") -> dict[str, Any]:
    return copy.deepcopy(
        {
            "version": version,
            "branch": {"name": "Downtown Lima", "currency": "PEN", "tax_rate": 1800},
            "categories": [
                {"id": STARTERS, "name": "Entradas", "sort_order": 0, "is_active": True},
                {"id": MAINS, "name": "Fondos", "sort_order": 1, "is_active": True},
            ],
            "items": [
                item(CEVICHE, STARTERS, "Ceviche clásico", 3800),
                item(CAUSA, STARTERS, "Causa limeña", 2200, sort_order=1),
                item(LOMO, MAINS, "Lomo saltado", 4200, modifier_groups=[COOKING]),
            ],
            "modifier_groups": [
                {
                    "id": COOKING,
                    "name": "Término",
                    "min_selections": 1,
                    "max_selections": 1,
                    "modifiers": [
                        {
                            "id": RARE,
                            "name": "Jugoso",
                            "price": 0,
                            "is_available": True,
                            "sort_order": 0,
                        },
                        {
                            "id": WELL_DONE,
                            "name": "Bien cocido",
                            "price": 0,
                            "is_available": True,
                            "sort_order": 1,
                        },
                    ],
                }
            ],
        }
    )


def item(ident: str, category: str, name: str, price: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "category_id": category,
        "name": name,
        "description": f"{name} de la casa",
        "price": price,
        "image_url": None,
        "is_available": True,
        "sort_order": 0,
        "allergens": [],
        "dietary_tags": [],
        "spice_level": None,
        "preparation_time_min": 15,
        "modifier_groups": [],
        **extra,
    }


def find(document: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(entry for entry in document["items"] if entry["id"] == item_id)


def picture(kind: str = "PNG", color: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A small real image of `kind` (PNG, JPEG or WEBP)."""
    out = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(out, format=kind)
    return out.getvalue()


def new_id() -> str:
    return str(uuid.uuid4())
