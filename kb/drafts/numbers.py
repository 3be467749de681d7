"""The numbers a piece of English text states, in any spelling, as comparable strings.

`numbers("about forty percent for three hours")` is `{"40", "3"}`, the same as for
"about 40% for 3 hours". Used by the polish check (kb.drafts.polish) so that a rewrite
cannot add or change a number by writing it in words: "twelve thousand" is 12000 and
"12,000" is 12000; "1.5 million" is 1500000; times and dates keep their digits ("17:34",
"2026-04-28" gives "2026", "4", "28"). Ordinals ("third"), multiplicatives ("twice") and
"half", "dozen" count as numbers too: a rewrite that adds one states something new.
"""

from __future__ import annotations

import re

__all__ = ["numbers"]

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
         "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9,
           "trillion": 10**12, "k": 1000, "m": 10**6, "bn": 10**9}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "twentieth": 20,
    "thirtieth": 30, "hundredth": 100, "thousandth": 1000,
}
# Words that state a quantity on their own.
_OTHER = {"half": "0.5", "quarter": "0.25", "dozen": "12", "dozens": "12", "twice": "2",
          "thrice": "3", "double": "2", "doubled": "2", "triple": "3", "tripled": "3",
          "once": "1", "single": "1", "pair": "2", "couple": "2", "hundreds": "100",
          "thousands": "1000", "millions": "1000000"}
# "one" is a pronoun after these ("no one", "anyone" is one word already).
_PRONOUN_BEFORE = {"no", "any", "every", "some", "each", "the", "this", "that", "which"}

_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[A-Za-z]+")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")


def _digits(token: str) -> str:
    """A digit token in one canonical spelling: "12,000" → "12000", "04" → "4"."""
    if _THOUSANDS.match(token):
        token = token.replace(",", "")
    if token.isdigit():
        return str(int(token))
    if re.fullmatch(r"\d+\.\d+", token):
        whole, frac = token.split(".")
        frac = frac.rstrip("0")
        return str(int(whole)) + (f".{frac}" if frac else "")
    return token  # 17:34, 1,5 — kept as written


def _scaled(value: str, scale: int) -> str:
    try:
        number = float(value) * scale
    except ValueError:
        return value
    return str(int(number)) if number == int(number) else repr(number)


def numbers(text: str) -> set[str]:
    """Every number `text` states, digits or words, as canonical strings (see module doc)."""
    found: set[str] = set()
    tokens = _TOKEN.findall(text)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        low = token.lower()
        if token[0].isdigit():
            value = _digits(token)
            nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
            if nxt in _SCALES and nxt not in ("m", "k") and ":" not in value:
                found.add(_scaled(value, _SCALES[nxt]))
                i += 2
                continue
            found.add(value)
            i += 1
            continue
        if low in _ORDINALS:
            found.add(str(_ORDINALS[low]))
        elif low in _OTHER:
            found.add(_OTHER[low])
        elif low in _UNITS or low in _TENS or (
            low == "a" and i + 1 < len(tokens) and tokens[i + 1].lower() in _SCALES
            and tokens[i + 1].lower() not in ("k", "m", "bn")
        ):
            if low == "one" and i > 0 and tokens[i - 1].lower() in _PRONOUN_BEFORE:
                i += 1
                continue
            total, current, j = 0, 0, i
            while j < len(tokens):
                word = tokens[j].lower()
                if word == "a" and j == i:
                    current = 1
                elif word in _UNITS:
                    current += _UNITS[word]
                elif word in _TENS:
                    current += _TENS[word]
                elif word == "hundred":
                    current = max(current, 1) * 100
                elif word in ("thousand", "million", "billion", "trillion"):
                    total += max(current, 1) * _SCALES[word]
                    current = 0
                elif word == "and" and j + 1 < len(tokens) and (
                        tokens[j + 1].lower() in _UNITS or tokens[j + 1].lower() in _TENS):
                    pass
                else:
                    break
                j += 1
            found.add(str(total + current))
            i = j
            continue
        i += 1
    return found
