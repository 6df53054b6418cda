"""Names as readers write them: abbreviations and variants (G7 / Group of 7 / Group of Seven,
U.S. / US / United States / American), acronyms, and the names and versions a question asks about."""

from __future__ import annotations

import re

from .sentences import words

# Names that stand for each other, written as `words()` returns them (lower case, dots kept inside).
# General knowledge, not tuned to a corpus: countries, blocs and organisations news and documentation
# abbreviate. Each group is one name.
VARIANTS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split("|"))
    for group in (
        "us|u.s|usa|u.s.a|united states|united states of america|america|american|americans",
        "uk|u.k|britain|british|united kingdom|great britain",
        "eu|e.u|european union",
        "un|u.n|united nations",
        "g7|g-7|group of 7|group of seven",
        "g20|g-20|group of 20|group of twenty",
        "nato|north atlantic treaty organization",
        "prc|china|chinese|people's republic of china",
        "uae|united arab emirates",
        "ussr|soviet union|soviet",
        "russia|russian|russians|russian federation",
        "ukraine|ukrainian|ukrainians",
    )
)
_BY_NAME = {name: group for group in VARIANTS for name in group}
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "twenty": "20",
}
_CONNECTORS = frozenset({"of", "and", "for", "the", "de", "&"})
# A run of capitalised words (with connectors inside) or numbers: a name as text writes it.
_NAME_RUN = re.compile(
    r"(?:[A-Z][\w’'.&-]*|\d[\d.,]*)(?:\s+(?:(?:of|and|for|the|de|&)\s+)*(?:[A-Z][\w’'.&-]*|\d[\d.,]*\b))*"
)
_TOKEN = re.compile(r"(?<![\w’'])(?:[A-Z][\w’'.-]*[\w]|[A-Z]|\d[\d,.]*\d|\d)")


def variants(name: str) -> frozenset[str]:
    """Every way of writing `name` that the table knows, itself included (lower case)."""
    key = " ".join(words(name))
    return _BY_NAME.get(key, frozenset({key}))


def acronym(phrase: str) -> str:
    """The initials of a name's capitalised words and its numbers: "Group of 7" -> "g7",
    "Group of Seven" -> "g7", "European Union" -> "eu"."""
    out = []
    for w in phrase.split():
        low = w.lower().strip(".,’'")
        if low in _CONNECTORS:
            continue
        if low in _NUMBER_WORDS:
            out.append(_NUMBER_WORDS[low])
        elif w[:1].isdigit():
            out.append(re.sub(r"\D", "", w))
        elif w[:1].isupper():
            out.append(low[0])
    return "".join(out)


def acronyms_in(text: str) -> set[str]:
    """Acronyms of the multi-word names in a text (for "G7" when the text says "Group of 7")."""
    found = set()
    for m in _NAME_RUN.finditer(text):
        phrase = m.group()
        if len(phrase.split()) >= 2:
            a = acronym(phrase)
            if len(a) >= 2:
                found.add(a)
    return found


def question_names(question: str) -> list[tuple[str, ...]]:
    """Names in a question, as runs of tokens: ("Janet", "Yellen"), ("Python", "4.0"), ("G7",).
    The question's first word is skipped: it is capitalised anyway."""
    body = question.strip()
    first = re.match(r"\S+", body)
    skip_to = first.end() if first else 0
    runs: list[list[str]] = []
    last_end = -1
    for m in _TOKEN.finditer(body):
        if m.start() < skip_to:
            continue
        token = m.group().rstrip(".,").removesuffix("’s").removesuffix("'s")
        if not token:
            continue
        if runs and re.fullmatch(r"\s+", body[last_end : m.start()] or "x"):
            runs[-1].append(token)
        else:
            runs.append([token])
        last_end = m.end()
    return [tuple(r) for r in runs]


# Words that say the word before them is a name, even in lower case ("the attrs library").
_KIND_NOUNS = ("library|libraries|module|package|framework|project|toolkit|language|crate|plugin|company|firm|"
               "agency|ministry|newspaper")
_NAMED = re.compile(rf"\bthe\s+([a-z][\w.+-]*)\s+(?:{_KIND_NOUNS})\b")
_NOT_OWNERS = frozenset("what who where when how why which that it there here let he she".split())  # "What's"
_POSSESSOR = re.compile(r"(?<![\w’'])((?:[A-Z][\w.-]*\s+)*[A-Z][\w.-]*)[’']s\b")


def lowercase_names(question: str) -> list[str]:
    """Names a question writes in lower case but marks as names: "the attrs library", "the requests package"."""
    return _NAMED.findall(question)


def possessors(question: str) -> list[str]:
    """Capitalised names that own what a question asks about: "Rust's standard library" -> "Rust".
    An article that never mentions the owner cannot say what belongs to it."""
    return [p for p in _POSSESSOR.findall(question) if p.lower() not in _NOT_OWNERS]


def has_number(run: tuple[str, ...]) -> bool:
    return any(t[:1].isdigit() for t in run)
