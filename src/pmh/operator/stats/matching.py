"""Matching municipality names from participation lists to 全国地方公共団体コード, never guessing.

Names are compared after folding what is only notation: width and spaces (``normalize_text``), ヶ/ケ
and ヵ/カ (鎌ヶ谷市 is 鎌ケ谷市), old and variant kanji forms that the official tables treat as one
character (四條畷市 / 四条畷市, 檜原村 / 桧原村), and a leading prefecture or 郡 name. A name that matches
exactly one body of its prefecture after folding is matched; anything else — a typo such as 長瀬町 for
長瀞町, a name listed under the wrong prefecture, a name two bodies share — is reported unmatched with
its nearest candidates for a person to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pmh.codes.prefectures import prefecture_name
from pmh.codes.text import normalize_text
from pmh.reference import catalogue
from pmh.registry.variants import fold_kanji

MAX_CANDIDATES = 3
_KANA_FOLDS = str.maketrans({"ヶ": "ケ", "ヵ": "カ", "ゖ": "ケ", "ゕ": "カ"})


def fold_name(name: str) -> str:
    """Return the form of a municipality name that notation differences do not change."""
    text = normalize_text(name).replace(" ", "").translate(_KANA_FOLDS)
    return "".join(fold_kanji(char) for char in text)


@dataclass(frozen=True)
class Candidate:
    """A body a name may have meant, and how far its name is from the one given (edits)."""

    code: str
    name: str
    prefecture_code: str
    distance: int

    def as_json(self) -> dict[str, object]:
        """Return the JSON shape of a candidate."""
        return {
            "code": self.code,
            "name": self.name,
            "prefecture": prefecture_name(self.prefecture_code),
            "distance": self.distance,
        }


@dataclass(frozen=True)
class Match:
    """The outcome of matching one name: the body, or nothing and the nearest candidates."""

    municipality: catalogue.Municipality | None
    candidates: tuple[Candidate, ...] = ()


@cache
def _index() -> dict[str, dict[str, list[catalogue.Municipality]]]:
    """Return, per prefecture code, the bodies under every folded spelling of their names."""
    index: dict[str, dict[str, list[catalogue.Municipality]]] = {}
    for body in catalogue.municipalities():
        spellings = {fold_name(body.name), fold_name(body.county + body.name)}
        for spelling in spellings:
            index.setdefault(body.prefecture_code, {}).setdefault(spelling, []).append(body)
    return index


def edit_distance(a: str, b: str) -> int:
    """Return the Levenshtein distance between two strings (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _strip_prefecture(folded: str, prefecture: str) -> str:
    prefix = fold_name(prefecture)
    return folded[len(prefix) :] if folded.startswith(prefix) and len(folded) > len(prefix) else folded


def match_name(name: str, prefecture_code: str) -> Match:
    """Match one name listed under a prefecture ("01".."47") to its body, or return the nearest candidates."""
    folded = _strip_prefecture(fold_name(name), prefecture_name(prefecture_code))
    local = _index().get(prefecture_code, {})
    found = {b.code: b for b in local.get(folded, [])}
    if len(found) == 1:
        return Match(next(iter(found.values())))
    return Match(None, _candidates(folded, prefecture_code))


def _candidates(folded: str, prefecture_code: str) -> tuple[Candidate, ...]:
    """Return the nearest bodies: same name elsewhere in Japan, then close names in the prefecture."""
    scored: dict[str, Candidate] = {}
    for code, spellings in _index().items():
        for spelling, bodies in spellings.items():
            if code != prefecture_code and spelling != folded:
                continue
            distance = edit_distance(folded, spelling)
            limit = max(1, min(2, len(folded) // 2))
            if distance > limit:
                continue
            for body in bodies:
                known = scored.get(body.code)
                if known is None or distance < known.distance:
                    scored[body.code] = Candidate(body.code, body.name, body.prefecture_code, distance)
    ordered = sorted(scored.values(), key=lambda c: (c.distance, c.prefecture_code != prefecture_code, c.code))
    return tuple(ordered[:MAX_CANDIDATES])
