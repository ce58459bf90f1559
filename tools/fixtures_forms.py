#!/usr/bin/env python3
"""The blank exchange/return forms the toy shop's affiliates mail to customers
(``[affiliates.*] return_form`` of fixtures/profiles/toys-ru.toml), as one-page PDFs in
fixtures/toys-ru/forms/: a page of Helvetica text with the form's fields, through
fixturelib's hand-written PDF page. Reproducible: the same bytes every run.

    python tools/fixtures_forms.py
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from fixturelib import pdf_page  # noqa: E402  (tools/fixturelib.py)

PROFILE = ROOT / "fixtures" / "profiles" / "toys-ru.toml"
OUT = ROOT / "fixtures" / "toys-ru" / "forms"
FIELDS = [
    "Order number: ______________________",
    "Customer (full name): ______________________________",
    "Phone: ____________________  E-mail: ____________________",
    "Items (SKU, quantity): _____________________________",
    "Reason: [ ] defect  [ ] incomplete  [ ] wrong item  [ ] size  [ ] colour  [ ] changed mind",
    "Exchange for (SKU): ____________________",
    "Refund to: [ ] Sberbank card  [ ] other bank  [ ] mobile phone  [ ] QIWI  [ ] YooMoney",
    "Card / account / BIK / INN / bank / wallet: _____________________________",
    "Date: ____________   Signature: ____________",
]


def pdf(title: str, lines: list[str]) -> bytes:
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = ["BT", "/F1 16 Tf", "50 790 Td", f"({esc(title)}) Tj", "/F1 11 Tf"]
    for line in lines:
        text += ["0 -28 Td", f"({esc(line)}) Tj"]
    text.append("ET")
    return pdf_page("\n".join(text).encode("latin-1"))


def main() -> None:
    profile = tomllib.loads(PROFILE.read_text("utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    for code, aff in profile["affiliates"].items():
        name = aff["return_form"]
        title = f"{code}: exchange / return form"
        (OUT / name).write_bytes(pdf(title, FIELDS))
        print(OUT / name)


if __name__ == "__main__":
    main()
