"""What a question asks for (a figure, a date, a name, a place), and the words of a quoted
sentence that give it: the direct first line of an offline answer, always a verbatim span."""

from __future__ import annotations

import functools
import re

from ..names import variants
from ..sentences import STOPWORDS, stem, terms, words

_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
          r"Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_QUALIFIER = (r"(?:(?:about|around|approximately|roughly|nearly|almost|over|under|more than|less than|fewer than|"
              r"at least|up to|some|just|only|a record|record)\s+)?")
_WORD_NUMBER = (r"(?:once|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
                r"fifty|hundred|a dozen|dozens|half-dozen|a half-dozen|hundreds|thousands|millions|billions|twice|"
                r"double|triple|half)")
_FIGURE = re.compile(
    _QUALIFIER
    + r"(?:[$€£¥]\s?\d(?:[\d,.]*\d)?|(?:\d(?:[\d,.]*\d)?\s?%?\s?(?:[–-]|to)\s?)?\d(?:[\d,.]*\d)?(?![\w]|\.\w)|"  # "3–6", "20% to 25"
    + _WORD_NUMBER + r")"  # not "2.x"
    + r"(?:\s?(?:%|per ?cent|percent))?"
    + r"(?:\s(?:million|billion|trillion|thousand|hundred|bn)\b)?"
    + r"(?:\s+times\s+(?:more|less|faster|slower|larger|smaller|as\s+\w+)?)?",
    re.I,
)
_YEAR = re.compile(r"(?:1[89]|20)\d{2}")
_DATE = re.compile(
    r"(?:" + _WEEKDAY + r",?\s+)?(?:" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?|\d{1,2}\s+" + _MONTH
    + r"(?:\s+\d{4})?|" + _MONTH + r"\s+\d{4}|" + _MONTH + r"(?:\s+(?:last|this|next)\s+year)?|"
    r"\b" + _YEAR.pattern + r"\b|" + _WEEKDAY + r"|(?:last|this|next)\s+(?:year|month|week)|yesterday|today|"
    r"(?:(?:about|around|nearly|almost|over|more than|less than|just|only)\s+)?"  # "more than 2 years ago"
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|a few)\s+"
    r"(?:years?|months?|weeks?|days?|decades?)\s+ago\b)"
)
_DURATION = re.compile(
    _QUALIFIER + r"(?:\d[\d.]*|" + _WORD_NUMBER + r")[ -](?:years?|months?|weeks?|days?|decades?|hours?)(?:-old)?",
    re.I,
)
_UNIT = re.compile(r"\s+[a-z]+\b")  # what a figure counts: "79 characters"
_VERSION_DATE = re.compile(r"\b((?:[Vv]ersion|Python|[Rr]elease)\s+\d+(?:\.\d+)+)(?![\w.]*\d)")
_EXPLICIT_DATE = re.compile(r"\d|" + _MONTH + "|" + _WEEKDAY)
_VERSION = re.compile(r"(?<![\w.])\d+(?:\.\d+)+(?![\w.]*\d)")
_PLACE = re.compile(r"\b(?:in|at|near|to)\s+((?:the\s+)?[A-Z][\w’'-]+(?:,?\s+[A-Z][\w’'-]+)*)")
_NAME_RUN = re.compile(  # "General Atomics", "Group of 7", "iRay Technology"
    r"(?<![\w’'])(?:(?:[A-Z]|[a-z]+[A-Z])[\w’'.&-]*[\w]|[A-Z])"
    r"(?:\s+(?:(?:of|and|for|the|de|&)\s+)*(?:[A-Z][\w’'.&-]*[\w]|\d[\d.]*))*"
)
_CODE = re.compile(r"(?<![\w.])(?!(?:[A-Za-z]\.)+[A-Za-z]?\b)"  # not "e.g", "i.e"
                   r"(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?|[A-Za-z_]\w*\(\)|[a-z]+_\w+)")
_LABEL = re.compile(r"\A\s*([^:\n]{1,40}):\s+([^<(\n]+)")
# The first word of each sentence of a quote (a quote may hold two sentences).
_SENTENCE_START = re.compile(r"(?:\A|[.!?][\"”’')\]]*\s+)[\"“‘(]*[\w’'.-]*\w")

LABEL_VALUE_WORDS = 8  # "Editor: Elvis Pranskevichus" names; "default: If provided, this will be ..." explains
NEAR_CHARS = 30  # a name this close to the question's words (and clearly closer than the next) answers it
_COUNT = re.compile(r"\bhow many\s+((?:[\w’'-]+\s+){0,2}[\w’'-]+)", re.I)
COUNTED_WITHIN = 4  # "five Chinese companies", "more than 255 arguments": the counted word follows closely
_MONEY = re.compile(r"[$€£¥]|\b(?:dollars?|euros?|pounds?|yuan|rubles?|roubles?)\b", re.I)
_SHARE = re.compile(r"\b(?:share|percentage|proportion|fraction|portion|per ?cent)\b", re.I)
_PERCENT = re.compile(r"%|per ?cent", re.I)
_PART_OF = re.compile(r"\bhow much of\b", re.I)  # "How much of Russia's imports came from China?" asks a share
# Who did it, as sentences say it: "analyzed by X", "according to X", "told X", "said X".
_AGENT = re.compile(r"\b(?:by|according to|told|said|says)\s+(?:the\s+)?$")
# A name as text writes it, possibly opening in lower case ("iRay Technology and North China ...").
_LOOSE_RUN = re.compile(r"[\w.’'()-]+(?:\s+(?:(?:of|and|for|the|de|&)\s+)*[A-Z][\w’'.&-]*)*")

_PLACED = re.compile(r"\b(?:in|at|near|to|from)\s+(?:the\s+)?$")
_WHO = re.compile(r"\b(?:who|whom|whose)\b", re.I)
_WH = re.compile(r"\b(?:who|whom|whose|which|what|when|where|why|how)\b", re.I)
_ASKS = (
    ("version", re.compile(r"\b(?:which|what) (?:\w+ )?(?:version|release)\b", re.I)),
    ("duration", re.compile(r"\bhow long\b", re.I)),
    ("number", re.compile(
        r"\b(?:how (?:many|much)|what (?:\w+ )?(?:share|percentage|proportion|fraction|portion|amount|value|number|sum|"
        r"figure|size)|what per ?cent)\b", re.I)),
    ("place", re.compile(r"\b(?:where|(?:which|what) (?:place|country|countries|city|cities|region|island|town))\b",
                         re.I)),
    ("date", re.compile(
        r"\b(?:when|what (?:year|date|day|month)|which (?:year|date|day|month)|in what year|on what (?:date|day))\b",
        re.I)),
    ("name", re.compile(r"\b(?:who (?!is\b|was\b|are\b|were\b)\w+|who (?:is|was|are|were) (?:the|a|an)\b|which\b|whom\b|what (?:\w+ )?(?:company|companies|"
                        r"module|modules|function|functions|class|classes|method|methods|library|package|country|"
                        r"countries|person|people|organi[sz]ations?|firms?|names?)\b)", re.I)),
)


def answer_type(question: str) -> str | None:
    """"number", "version", "date", "duration", "place", "name", or None for a question that wants a statement."""
    found = [(m.start(), n, kind) for n, (kind, pattern) in enumerate(_ASKS) if (m := pattern.search(question))]
    if not found:
        return None
    start, _, kind = min(found)
    first = _WH.search(question)
    # the question word that comes first decides: "What else must be set when ...?" asks no date
    return kind if first is None or first.start() >= start else None


def find(kind: str | None, sentence: str, question: str) -> tuple[int, int] | None:
    """Where in `sentence` the answer of this kind stands (nearest the question's words), or None."""
    if kind is None:
        return None
    spans = _candidates(kind, sentence, question)
    if not spans:
        return None
    anchors = _anchors(sentence, question)

    def distance(span: tuple[int, int]) -> float:
        if not anchors:
            return 0.0
        return min(min(abs(a - span[0]), abs(a - span[1])) for a in anchors)

    ordered = sorted(spans, key=lambda sp: (distance(sp), -(sp[1] - sp[0])))
    best = ordered[0]
    agents = [sp for sp in ordered if _AGENT.search(sentence[max(0, sp[0] - 25) : sp[0]])]
    if kind in ("name", "place") and len(ordered) > 1 and len(agents) != len(ordered):
        # several names and no pattern that says which: no direct line beats a wrong one
        if distance(best) > NEAR_CHARS or distance(ordered[1]) - distance(best) < NEAR_CHARS / 2:
            return None
    if kind == "name":
        return _coordinated(sentence, best, ordered + list(_names(sentence)))
    return _extend(sentence, best, question) if kind in ("number", "duration") else best


def line(kind: str | None, sentence: str, question: str) -> tuple[int, int] | None:
    """The direct line's span: `find`'s, less two kinds of guess. "Which module/package/library ...?"
    is answered only by a sentence that says which (an apposition: "the functools module", "a new
    module, graphlib,"): prose names those by their kind word, and a bare name in a sentence that never
    says "module" ("Consider a Python function ...") is no module at all (exceptions, functions and
    classes are named bare, "raises TypeError": their lines stay). And a thing asked for ("Which
    company/engines ...?") is not answered by a country or its people ("Chinese and Russian").
    Ranking still uses `find`: these only keep a doubtful line off the answer."""
    span = find(kind, sentence, question)
    noun = asked_noun(question) if span and kind == "name" else None
    if noun and stem(noun) in _CONTAINER_KINDS and not _appositions(sentence, question):
        return None
    if noun and stem(noun) not in _POLITIES and _only_countries(sentence[span[0] : span[1]]):  # type: ignore[index]
        return None  # "Which company ...?" is not answered by "Chinese and Russian"
    if span and kind == "name" and _POSSESSIVE.search(sentence, span[0], span[1]) and not _POSSESSIVE.search(question):
        return None  # "Beijing’s" (leadership) owns what follows it; the thing asked is what follows
    return span


_POSSESSIVE = re.compile(r"\w['’]s\b")


_LIST_SEP = re.compile(r"\.?\s*(?:,|;|,?\s+and|,?\s+or)\s*(?:the\s+)?")


def _coordinated(sentence: str, best: tuple[int, int], spans: list[tuple[int, int]]) -> tuple[int, int]:
    """A name and the names listed with it ("X Co., Y Co. Ltd. and Z"): the whole list answers."""
    start, end = best
    grown = True
    while grown:
        grown = False
        for a, b in spans:
            if a >= end and _LIST_SEP.fullmatch(sentence[end:a]):
                end, grown = b, True
            elif b <= start and _LIST_SEP.fullmatch(sentence[b:start]):
                start, grown = a, True
    return start, end


def value_key(kind: str | None, text: str) -> str:
    """A comparable form of an answer: "90%" and "90 per cent" give the same key."""
    low = text.lower().replace("per cent", "%").replace("percent", "%")
    digits = re.findall(r"\d+(?:\.\d+)?", low.replace(",", ""))
    if digits and kind in ("number", "duration", "date", "version"):
        return " ".join(digits) + ("%" if "%" in low else "")
    return " ".join(words(low))


def _candidates(kind: str, sentence: str, question: str) -> list[tuple[int, int]]:
    asked = _question_words(question)
    if kind == "number":
        found = [m.span() for m in _FIGURE.finditer(sentence) if re.search(r"\w", m.group())]
        # a year dates the figure ("Nearly 70% of ... in 2023"); it is the amount only when nothing else is
        found = [(a, b) for a, b in found if not _YEAR.fullmatch(sentence[a:b])] or found
        if (_SHARE.search(question) or _PART_OF.search(question)) and any(_PERCENT.search(sentence[a:b]) for a, b in found):
            found = [(a, b) for a, b in found if _PERCENT.search(sentence[a:b])]
        counted = _COUNT.search(question)
        if counted:  # "how many tanks" counts tanks: a figure followed by them, not a share or a sum of money
            things = {stem(w) for w in words(counted.group(1))} - {stem(w) for w in STOPWORDS}
            found = [(a, b) for a, b in found if not _PERCENT.search(sentence[a:b]) and not _MONEY.search(sentence[a:b])
                     and things & {stem(w) for w in words(sentence[b:])[:COUNTED_WITHIN]}]
    elif kind == "duration":
        found = [m.span() for m in _DURATION.finditer(sentence)]
        if not found:  # "how long" may ask for a length: "79 characters", "300 miles"
            found = [(m.start(), u.end()) for m in _FIGURE.finditer(sentence)
                     if re.search(r"\d", m.group()) and (u := _UNIT.match(sentence, m.end()))]
    elif kind == "date":
        found = [m.span() for m in _DATE.finditer(sentence)]
        explicit = [(a, b) for a, b in found if _EXPLICIT_DATE.search(sentence[a:b])]
        found = explicit or found  # "in 1989" answers "when?" better than "the next year"
        if not found:  # documentation dates a change by its version: "New in version 3.9"
            found = [m.span(1) for m in _VERSION_DATE.finditer(sentence)]
    elif kind == "version":
        found = [m.span() for m in _VERSION.finditer(sentence)]
    elif kind == "place":
        found = [m.span(1) for m in _PLACE.finditer(sentence) if not re.match(r"\s+\d", sentence[m.end(1):])]
    else:
        found = _appositions(sentence, question)
        noun = asked_noun(question)
        code_kind = stem(noun) if noun and stem(noun) in _CODE_KINDS else None
        signature = _LABEL.match(sentence) if code_kind else None
        if not found and signature and _CODE.fullmatch(signature.group(1).strip()):
            # "uuid.uuid4(): Generate a random UUID." answers "Which function generates a random UUID?"
            found = [signature.span(1)]
        if not found:
            found = [sp for sp in _names(sentence) if not _in_question(sentence[sp[0] : sp[1]], asked)
                     and _new_name(sentence[sp[0] : sp[1]], asked)]
            if code_kind:
                found = [(a, b) for a, b in found if _named_as(code_kind, sentence[a:b])]
            agents = [sp for sp in found if _AGENT.search(sentence[max(0, sp[0] - 25) : sp[0]])]
            q_terms = _question_terms(question)
            doers = [sp for sp in agents if q_terms & _doing(sentence, sp[0])]
            asks_who = bool(_WHO.search(question))
            if asks_who:  # who: no number or code ("PEP 526"), no place ("meeting in Capri, Italy")
                found = [sp for sp in found if not re.search(r"[\d_]|\w\.\w|\(\)", sentence[sp[0] : sp[1]])
                         and not _PLACED.search(sentence[max(0, sp[0] - 12) : sp[0]])]
                agents = [sp for sp in agents if sp in found]
                doers = [sp for sp in doers if sp in found]
            if len(doers) == 1:
                return doers  # "analyzed by X" for "Who/Which group analyzed ...?"
            if not asks_who:  # "Which constant ...? (Contributed by Lisa Roach.)": not the doer
                return [sp for sp in found if sp not in agents] or found
            return agents or found
    return [sp for sp in found if not _in_question(sentence[sp[0] : sp[1]], asked)]


def _named_as(kind: str, name: str) -> bool:
    """True when `name` is written as code of this kind (a stem of _CODE_KINDS) is: in one word (not
    "Python 2.3"); an exception as one ("TimeoutError", "socket.timeout"), a function or decorator in
    lower case ("json.dumps()", "len"), other code not as an exception. "Which function serializes
    ...?" is not answered by "raise a TypeError", nor "Which exception ...?" by "TCP"."""
    if re.search(r"\s", name):
        return False
    if kind in _RAISED_KINDS:
        return bool(_RAISED_NAME.fullmatch(name)) or "." in name
    if kind in _CALLED_KINDS:
        return bool(_CALLED_NAME.fullmatch(name))
    return kind == _CLASS or not _RAISED_NAME.fullmatch(name)  # an exception is a class too


def _doing(sentence: str, start: int) -> set[str]:
    """The terms of the two words before "by" / "according to" ahead of a name: what the name did
    ("analyzed by X"), not what the sentence is about ("... appears. (Contributed by X.)")."""
    before = sentence[max(0, start - 40) : start]
    marker = _AGENT.search(before)
    head = re.split(r"[.!?(;]", before[: marker.start()] if marker else before)[-1]
    return set(terms(" ".join(words(head)[-2:])))


@functools.lru_cache(maxsize=20_000)  # by text alone: retrieved passages recur from question to question
def _names(sentence: str) -> tuple[tuple[int, int], ...]:
    label = _LABEL.match(sentence)
    if label and len(words(label.group(1))) <= 3 and re.search(r"[A-Z]", label.group(2)) and (
        len(label.group(2).split()) <= LABEL_VALUE_WORDS
    ):
        start, end = label.span(2)
        while end > start and sentence[end - 1] in " ,;.":
            end -= 1
        return ((start, end),)
    firsts = {m.end() for m in _SENTENCE_START.finditer(sentence)}
    found = [m.span() for m in _CODE.finditer(sentence)]
    for m in _NAME_RUN.finditer(sentence):
        start, end = _trimmed(m)
        name = sentence[start:end]
        if " " not in name and (name.lower() in STOPWORDS or name in _LITERALS or (
                end in firsts and not re.search(r"\w[A-Z\d_]", name))):
            continue  # a capitalised first word alone is not a name ("For example", "If"; "TypeError" is)
        if _DATE.fullmatch(name):
            continue  # "Thursday", "April" are dates, not names
        found.append((start, end))
    return tuple(found)


_LITERALS = frozenset(("True", "False", "None"))  # values written capitalised, not names ("... set to False.")
_LEADING_WORD = re.compile(r"([A-Za-z]+)\s+(?:(?:of|and|for|the|de|&)\s+)*")
_FIGURE_THEN_SENTENCE = re.compile(r"(?<=\d)\.\s+(?=[A-Z])")  # "Python 2 & 3. Probably the best ..."


def _trimmed(m: re.Match[str]) -> tuple[int, int]:
    """A name run without the common words that open it ("As of Python 2.3" -> "Python 2.3") and
    without what follows a sentence that ends on a figure ("Python 2 & 3. Probably" -> "Python 2 & 3")."""
    start, end = m.span()
    text = m.group()
    cut = _FIGURE_THEN_SENTENCE.search(text)
    if cut:
        end = start + cut.start()
    while (lead := _LEADING_WORD.match(m.string, start, end)) and lead.group(1).lower() in STOPWORDS:
        start = lead.end()
    return start, end


# Kinds of thing documentation names in lower case ("the asyncio module", "the filemode argument").
_CODE_KINDS = frozenset(stem(w) for w in (
    "module function class method package library attribute argument parameter keyword constant variable "
    "option flag field decorator type exception statement operator command").split())
# ...of which these are raised, and named so: a capitalised word ending as exceptions' names end
_RAISED_KINDS = frozenset(stem(w) for w in "exception error warning".split())
_RAISED_NAME = re.compile(r"(?:\w+\.)*[A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt|Iteration)")
# ...and these are called, and named in lower case (the last part of a dotted name), maybe with "()"
_CALLED_KINDS = frozenset(stem(w) for w in "function decorator".split())  # not "method": "a hashing method"
_CALLED_NAME = re.compile(r"(?:[A-Za-z_]\w*\.)*[a-z_]\w*(?:\(\))?")
_CLASS = stem("class")
# ...of which these hold the others, and prose names them with the kind word ("the asyncio module")
_CONTAINER_KINDS = frozenset(stem(w) for w in "module package library".split())
_NOT_NAMES = frozenset(
    "a an the this that these those its their his her new old same other another following first second last "
    "standard built-in builtin default main each every any some such several many few various multiple numerous etc "
    "both all most".split()
)


_ASKED_NOUN = re.compile(
    r"\b(?:which|what)\s+((?:[\w-]+\s+){0,3}?)([a-z]+)\b(?=\s+(?:is|are|was|were|do|does|did|has|"
    r"have|can|could|should|will|would|provides?|offers?|supports?|gives?|lets?|makes?|adds?|"
    r"got|that|being|\w+ed|allows?|introduces?|describes?|defines?|returns?|replaces?|uses?|needs?|contains?|"
    r"requires?|changes?|removes?|holds?|runs?|says?|means?|signals?|controls?|sets?)\b)", re.I)


# "Which function opens a URL?": a noun, then a verb in -s (not -ss: "class") and what it acts on;
# the verbs _ASKED_NOUN knows are few, and "Which decorator ensures that ..." would make "ensure" the noun
_NOUN_VERB_OBJECT = re.compile(
    r"\b(?:which|what)\s+([a-z]+)\s+[a-z]+[^s\W]s\s+(?:a|an|the|this|that|these|those|its|their|it|them|to|in|"
    r"on|with|for|from|by|as|when|if|all|any|each|every|more|new|multiple)\b", re.I)


# "Which PEP ...?" asks for a PEP; "Which US companies did ...?" for companies (a word, then an auxiliary)
_ACRONYM_ASKED = re.compile(
    r"\b(?:which|what)\s+([A-Z]{2,})\b(?:\s+([a-z]+)(?=\s+(?:did|does|do|is|are|was|were|has|have|had|will|can|could|"
    r"would|should|may|might)\b))?", re.I)


@functools.lru_cache(maxsize=256)
def asked_noun(question: str) -> str | None:
    """What a "which/what X ...?" question asks for, lower case and singular: "pep", "module"."""
    acronym = _ACRONYM_ASKED.search(question)
    word: str | None = None
    if acronym and acronym.group(1).isupper():  # "Which PEP ...", "Which RFC ..."
        if not (acronym.group(2) or "").islower():
            return acronym.group(1).lower()
        word = acronym.group(2)  # "Which US companies did ...?": the acronym says which companies
    m = _NOUN_VERB_OBJECT.search(question) if word is None else None
    word = word or (m.group(1) if m else (m2.group(2) if (m2 := _ASKED_NOUN.search(question)) else None))
    if word is None:
        return None
    word = word.lower()
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word  # "modules"; "class" stays


def _appositions(sentence: str, question: str) -> list[tuple[int, int]]:
    """The name given to what a "which/what X" question asks about: "nitrocellulose, a chemical",
    "a new module, graphlib," or "the asyncio module" answer "Which chemical/module ...?"."""
    found_noun = asked_noun(question)
    if not found_noun:
        return []
    anywhere, patterns = _apposition_patterns(found_noun)
    if not anywhere.search(sentence):
        return []  # every pattern holds the noun as a word: most sentences do not (the scans cost 120 us a sentence)
    for pattern, strict in patterns:
        found = []
        for hit in pattern.finditer(sentence):
            word = hit.group(1)
            if strict and re.fullmatch(r"\d[\d.]*", word) and hit.start() < hit.start(1):
                found.append((hit.start(), hit.end(1)))  # "PEP 557", "version 3.9"
                continue
            if word.lower() in _NOT_NAMES or word.lower() in STOPWORDS or word.isdigit():
                continue
            if not strict and _DETERMINED.search(sentence, 0, hit.start(1)):
                continue  # "In this case, the exception ...": a word after a determiner is no name
            looks_named = word != word.lower() or re.search(r"[._()\d]", word)
            if (strict or pattern is patterns[-1][0] and stem(found_noun) not in _CODE_KINDS) and not looks_named:
                continue  # without a comma, only a word that looks like a name, or code ("the asyncio module")
            run = _LOOSE_RUN.match(sentence, hit.start(1))
            span = (hit.start(1), run.end()) if run and word != word.lower() else hit.span(1)
            found.append(_with_coordinated(sentence, span) if not strict else span)
        if found:
            return found
    return []


@functools.lru_cache(maxsize=256)
def _apposition_patterns(found_noun: str) -> tuple[re.Pattern[str], tuple[tuple[re.Pattern[str], bool], ...]]:
    """`_appositions`' patterns for one asked noun, compiled once, and the noun as a word (each holds it)."""
    noun = re.escape(found_noun)
    patterns = (
        # "nitrocellulose, a chemical" (the word between is lower case: in "exit code, a CalledProcessError
        # exception" the name stands there, and "code" is no answer)
        (rf"(\w[\w.]*\w(?:\(\))?|\w),\s+(?:a|an|the)\s+(?:(?-i:[a-z][\w-]*)\s+)?{noun}s?\b", False),
        # "a new module, graphlib,"; "the dumps() function, called dump()," names it after the participle
        (rf"\b{noun}s?,\s+(?:(?:called|named|known\s+as)\s+)?(\w[\w.]*\w(?:\(\))?|\w)", False),
        (rf"\b{noun}s?\s+(\w[\w.]*\w(?:\(\))?|\w)", True),  # "firms iRay Technology"
        (rf"(\w[\w.]*\w(?:\(\))?|\w)(?:\s+\([^()]{{1,20}}\))?\s+{noun}s?\b", False),  # "the asyncio module", "tau (τ) constant"
    )
    # each pattern holds the noun as a word of its own (after white space or \b, before s?\b, "," or \s)
    return re.compile(rf"\b{noun}s?\b", re.I), tuple((re.compile(p, re.I), strict) for p, strict in patterns)


# What a country or its people may answer; other asked things ("Which company ...?") are not answered by one.
_POLITIES = frozenset(stem(w) for w in (
    "country nation state government side power ally member bloc party region place capital people army force "
    "military economy market partner neighbour neighbor supplier buyer").split())


def _only_countries(name: str) -> bool:
    """True for a name made only of countries and their peoples ("Russia", "Chinese and Russian")."""
    ws = [w for w in words(name) if w not in ("and", "or", "the", "of")]
    return bool(ws) and all(len(variants(w)) > 1 for w in ws)


_DETERMINED = re.compile(r"\b(?:this|that|these|those|such|each|every|any|no|some|which|what)\s+$", re.I)
_BEFORE_AND = re.compile(r"(?:^|(?<=\s))([A-Z\d][\w.]*\w(?:\(\))?)(?:,\s*|\s+and\s+|\s+or\s+)(?:the\s+)?$")


def _with_coordinated(sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    """A name with the names listed before it: "the ASCII and the Latin1 encoders" -> "ASCII and the Latin1"."""
    start, end = span
    while m := _BEFORE_AND.search(sentence[:start]):
        start = m.start(1)
    return start, end


@functools.lru_cache(maxsize=256)
def _question_terms(question: str) -> frozenset[str]:
    return frozenset(terms(question))


@functools.lru_cache(maxsize=256)
def _question_words(question: str) -> frozenset[str]:
    asked = set(words(question))
    for w in list(asked):
        for form in variants(w):
            asked |= {form, *form.split()}
    return frozenset(asked | {stem(w) for w in asked})


def _in_question(text: str, asked: frozenset[str]) -> bool:
    """True when every word of a candidate is already in the question (it cannot be the answer)."""
    ws = [w for w in words(text) if w not in ("the", "of", "and", "in", "on", "a")]
    return bool(ws) and all(w in asked or stem(w) in asked for w in ws)


def _new_name(text: str, asked: frozenset[str]) -> bool:
    """A name the question does not already hold: "Python 3.7.2" adds only a number to "Python 3.7"."""
    return any(w[:1].isupper() and words(w) and words(w)[0] not in asked for w in text.split()) or bool(
        _CODE.search(text))


def _anchors(sentence: str, question: str) -> list[int]:
    q_terms = _question_terms(question)
    return [m.start() for m in _TOKEN.finditer(sentence) if q_terms & _token_terms(m.group())]


_TOKEN = re.compile(r"[\w’']+")


@functools.lru_cache(maxsize=1 << 16)  # per distinct token: a sentence's ~30 cost 100 us uncached
def _token_terms(token: str) -> frozenset[str]:
    return frozenset(terms(token))


def _extend(sentence: str, span: tuple[int, int], question: str) -> tuple[int, int]:
    """Carry a figure on to the words the question uses for what is counted ("five Chinese
    companies"), at most four words."""
    q_terms = _question_terms(question)
    end = span[1]
    for _ in range(4):
        m = re.match(r"[ \t]+([\w’'-]+)", sentence[end:])
        if not m or not set(terms(m.group(1))) & q_terms:
            break
        end += m.end()
    return span[0], end
