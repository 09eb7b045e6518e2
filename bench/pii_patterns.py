#!/usr/bin/env python
"""Personal data found before the API: bot.llm.redact's plain patterns vs presidio-analyzer's recognizers.

    .venv/bin/python bench/pii_patterns.py                 # plain patterns
    PYTHONPATH=. /path/to/venv-with-presidio/bin/python bench/pii_patterns.py   # both

The set: support messages written for this benchmark, each with the personal values it holds (emails,
phones in US, UK, German and French forms, Luhn-valid card numbers, checksum-valid IBANs, street
addresses), mixed with what must *not* be hidden (order numbers, tracking numbers, dates, prices, SKUs,
Luhn-invalid digit runs). The plain patterns were written alongside this set, so their figure flatters
them; presidio's shows what a general library does on it. A value counts as found when a placeholder
covers it whole; a false hit is a placeholder over anything else.

presidio is measured with its predefined pattern recognizers called directly (Email, Phone, CreditCard,
Iban; it has no street-address recognizer), because its ``AnalyzerEngine`` loads a spaCy model that is a
separate download. Even so its email recognizer asks the network for the public-suffix list at first use.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.llm.redact import Redactor, Vault  # noqa: E402

CASES: list[tuple[str, list[str]]] = [
    ("My email is ana.silva@example.com, order 1042.", ["ana.silva@example.com"]),
    ("Write to j.doe+shop@mail.co.uk please", ["j.doe+shop@mail.co.uk"]),
    ("Call me on +1 415 555 0132 after 5pm", ["+1 415 555 0132"]),
    ("my number is (415) 555-0199", ["(415) 555-0199"]),
    ("UK mobile 07700 900123, tracking 1Z999AA10123456784", ["07700 900123"]),
    ("Handy: 0176 12345678", ["0176 12345678"]),
    ("tel +49 30 1234 5678 or +33 1 23 45 67 89", ["+49 30 1234 5678", "+33 1 23 45 67 89"]),
    ("phone 415.555.0132", ["415.555.0132"]),
    ("card 4111 1111 1111 1111 was charged twice", ["4111 1111 1111 1111"]),
    ("Visa 4012-8888-8888-1881 expired", ["4012-8888-8888-1881"]),
    ("Amex 378282246310005", ["378282246310005"]),
    ("IBAN DE89 3704 0044 0532 0130 00 for the refund", ["DE89 3704 0044 0532 0130 00"]),
    ("refund to GB82WEST12345698765432 thanks", ["GB82WEST12345698765432"]),
    ("NL91 ABNA 0417 1643 00", ["NL91 ABNA 0417 1643 00"]),
    ("Ship it to 221B Baker Street, London", ["221B Baker Street"]),
    ("I moved to 1600 Pennsylvania Avenue", ["1600 Pennsylvania Avenue"]),
    ("new address: 42 Elm St. Springfield", ["42 Elm St."]),
    ("Lieferadresse Hauptstraße 5, Berlin", ["Hauptstraße 5"]),
    ("vivo en Calle Mayor 10, Madrid", ["Calle Mayor 10"]),
    ("email ana@example.com and phone +44 20 7946 0958", ["ana@example.com", "+44 20 7946 0958"]),
    # Nothing personal: all of it must reach the model as written.
    ("Where is order 1042? It was $89.00 on 2026-11-14.", []),
    ("Tracking 9400111899223344556677 shows no movement", []),
    ("The SKU LAMP-HALO costs 49.99 EUR", []),
    ("I ordered 3 lamps on 17/11/2026 and 2 bulbs", []),
    ("Order #100234 and #100235 both late", []),
    ("My gift card 1234 5678 9012 3456 is not accepted", []),  # Luhn-invalid 16 digits
    ("Refund of 129.95 to my card ending 1111", []),
    ("Delivery window 10:00-14:00 on Nov 20", []),
    ("It has been 14 days and 3 emails", []),
    ("Tracking 1Z999AA10123456784 and order 1043", []),
]


def plain(text: str) -> list[tuple[int, int]]:
    vault = Vault()
    Redactor().redact(text, vault)
    return [_span(text, value) for value in vault.values]


def _span(text: str, value: str) -> tuple[int, int]:
    start = text.find(value)
    return (start, start + len(value))


def presidio() -> object | None:
    try:
        from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer,
                                                              IbanRecognizer, PhoneRecognizer)
    except ImportError:
        return None
    recognizers = [EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), IbanRecognizer()]

    def find(text: str) -> list[tuple[int, int]]:
        spans = []
        for r in recognizers:
            spans += [(x.start, x.end) for x in r.analyze(text, r.supported_entities, None) if x.score >= 0.4]
        return spans

    return find


def score(name: str, find: object) -> None:
    found = missed = false = 0
    started = time.perf_counter()
    for _ in range(20):
        for text, _values in CASES:
            find(text)  # type: ignore[operator]
    per_message_ms = (time.perf_counter() - started) / (20 * len(CASES)) * 1000
    for text, values in CASES:
        spans = find(text)  # type: ignore[operator]
        wanted = [_span(text, v) for v in values]
        for ws, we in wanted:
            if any(s <= ws and e >= we for s, e in spans):
                found += 1
            else:
                missed += 1
        false += sum(1 for s, e in spans if not any(s <= ws and e >= we or ws <= s and we >= e for ws, we in wanted))
    total = found + missed
    print(f"{name:10} recall {found}/{total} = {found / total:.0%}, false hits {false}, "
          f"{per_message_ms:.3f} ms a message")


def main() -> None:
    score("plain", plain)
    find = presidio()
    if find is None:
        print("presidio   not installed (pip install presidio-analyzer; its spaCy model is not needed here)")
    else:
        score("presidio", find)


if __name__ == "__main__":
    main()
