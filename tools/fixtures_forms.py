#!/usr/bin/env python3
"""The blank exchange/return forms the toy shop's affiliates mail to customers
(``[affiliates.*] return_form`` of fixtures/profiles/toys-ru.toml), as one-page PDFs in
fixtures/toys-ru/forms/. Written by hand (no PDF library): a page of Helvetica text
with the form's fields. Reproducible: the same bytes every run.

    python tools/fixtures_forms.py
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


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
