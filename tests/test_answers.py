"""The offline answerer on the bundled articles: facts in the answer, exact quotes, abstentions."""

from __future__ import annotations

import pytest

from rag import Assistant, QuestionError, Turn
from rag.types import Document


def assert_exact(assistant: Assistant, answer) -> None:
    for c in answer.citations:
        assert assistant.document(c.doc_id).text[c.start : c.end] == c.quote


@pytest.mark.parametrize(
    "question, facts",
    [
        ("What share of Russia's microelectronics came from China in 2023?", ["90"]),
        ("How much were Russia's machine tool imports worth in the last quarter of 2023?", ["$900 million"]),
        ("Who is the spokesman of the Chinese Embassy in Washington?", ["Liu Pengyu"]),
        ("What did Russia's semiconductor imports from China grow to in 2022?", ["$500 million"]),
        ("Which two US companies did China sanction?", ["General Atomics", "General Dynamics"]),
        ("How much did trade between China and Russia reach in 2023?", ["$240 billion"]),
        ("What is nitrocellulose used for?", ["propellant"]),
    ],
)
def test_answers_contain_the_facts_and_every_quote_is_exact(bundled, question, facts):
    answer = bundled.ask(question)
    assert not answer.abstained, answer.text
    assert answer.citations
    for fact in facts:
        assert fact in answer.text
        assert any(fact in c.quote for c in answer.citations)
    assert_exact(bundled, answer)
    for n in range(1, len(answer.citations) + 1):
        assert f"[{n}]" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "What did Emmanuel Macron say about the war?",
        "What is the capital of Australia?",
        "How big is the commercial paper bag market?",
        "What is the history of online gambling?",
        "What did Angela Merkel tell Putin in 2019?",
    ],
)
def test_questions_the_articles_do_not_answer_are_abstained_on(bundled, question):
    answer = bundled.ask(question)
    assert answer.abstained, answer.text
    assert answer.citations == []
    assert answer.text


def test_several_articles_stating_a_fact_can_each_be_cited(bundled):
    answer = bundled.ask("What share of Russia's microelectronics came from China in 2023?")
    assert len({c.doc_id for c in answer.citations}) >= 2


def test_search_can_be_limited_to_given_articles(bundled):
    doc = "telegraph-china-cruise-missile-drone-tank-parts"
    answer = bundled.ask("What share of Russia's microelectronics came from China?", doc_ids=[doc])
    assert answer.citations and {c.doc_id for c in answer.citations} == {doc}
    with pytest.raises(QuestionError):
        bundled.ask("anything?", doc_ids=["no-such-article"])


def test_follow_up_uses_the_conversation(bundled):
    first = "Which Chinese companies provide optical components for Russian tanks?"
    history = [Turn("user", first), Turn("assistant", bundled.ask(first).text)]
    answer = bundled.chat("Which of them make military optics?", history=history)
    assert not answer.abstained
    assert any("iRay" in c.quote or "Hikvision" in c.quote for c in answer.citations)
    assert_exact(bundled, answer)


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_empty_or_huge_questions_get_a_clear_error(bundled, question):
    with pytest.raises(QuestionError):
        bundled.ask(question)


# --- the direct answer line, one line per fact, names as readers write them (issue 9) -------------
@pytest.mark.parametrize(
    "question, first_line",
    [
        ("What share of Russia's microelectronics came from China in 2023?", "about 90%"),
        ("How much did trade between China and Russia reach in 2023?", "a record $240 billion"),
        ("Which two American defense companies did China sanction?",
         "General Atomics Aeronautical Systems and General Dynamics Land Systems"),
        ("On which day did Xi meet Sergey Lavrov in Beijing?", "Tuesday"),
        ("Where is the G7 foreign ministers meeting that Blinken will attend?", "Capri, Italy"),
    ],
)
def test_the_first_line_answers_directly_with_words_from_the_quotes(bundled, question, first_line):
    answer = bundled.ask(question)
    line = answer.text.splitlines()[0]
    assert line.startswith(first_line), answer.text
    assert line.removesuffix(line[line.index(" ["):]) in " ".join(c.quote for c in answer.citations)
    assert_exact(bundled, answer)


def test_a_sentence_that_names_the_companies_beats_one_that_only_refers_to_them(bundled):
    answer = bundled.ask("Which two American defense companies did China sanction?")
    assert "General Atomics" in answer.citations[0].quote


def test_the_same_fact_from_several_outlets_is_shown_once_naming_each(bundled):
    answer = bundled.ask("What share of Russia's microelectronics came from China in 2023?")
    assert len(answer.citations) >= 2
    assert "Reported by" in answer.text
    assert answer.text.count("“") < len(answer.citations) + 1  # not every near-identical quote in full


@pytest.mark.parametrize(
    "question",
    [
        "Where is the G7 foreign ministers meeting?",  # the article says "Group of 7"
        "What did U.S. officials say about China's microelectronics exports to Russia?",
        "What did the American officials say about machine tools?",
    ],
)
def test_abbreviations_and_variants_of_names_are_not_a_reason_to_abstain(bundled, question):
    answer = bundled.ask(question)
    assert not answer.abstained, answer.text


@pytest.mark.parametrize(
    "question",
    [
        "When will Windows 12 be released?",  # a name with a version the articles never state
        "How much more does Russia spend on defence than Brazil?",  # a comparison with something absent
        "What did Emmanuel Macron say about China's support for Russia?",
    ],
)
def test_questions_about_what_the_articles_never_state_abstain(bundled, question):
    assert bundled.ask(question).abstained


def test_name_forms_and_versions_are_checked_against_the_corpus():
    from rag.answer.base import unknown_names
    from rag.stats import CorpusStats
    from rag.types import Chunk

    text = ("Blinken travels to the Group of 7 foreign ministers meeting in Capri. Python 3.9 was released. "
            "The United States said so. Set the level to ERROR.")
    stats = CorpusStats.from_chunks([Chunk("c", "d", "t", text, 0, len(text))])
    assert unknown_names("Where do the G7 ministers meet?", stats) == []
    assert unknown_names("What did US officials say?", stats) == []
    assert unknown_names("What did American officials say?", stats) == []
    assert unknown_names("When was Python 3.9 released?", stats) == []
    assert unknown_names("When will Python 4.0 be released?", stats) == ["Python 4.0"]
    assert unknown_names("What is the numeric value of the TRACE level?", stats) == ["TRACE"]
    assert unknown_names("What does the ERROR level mean?", stats) == []


def test_direct_answers_come_from_structure_and_patterns():
    from rag.answer.direct import answer_type, find

    def direct(question: str, sentence: str) -> str | None:
        span = find(answer_type(question), sentence, question)
        return sentence[span[0] : span[1]] if span else None

    assert direct("Who edited What's New in Python 3.7?", "Editor: Elvis Pranskevichus <elvis@magic.io>") == \
        "Elvis Pranskevichus"
    assert direct("Which module was added for topological sorting?",
                  "A new module, graphlib, was added that contains the graphlib.TopologicalSorter class.") == "graphlib"
    assert direct("Who analyzed the customs data?", "Imports rose, according to Russian customs data analyzed by "
                  "the Free Russia Foundation, a group in Washington.") == "Free Russia Foundation"
    assert direct("When was Python 3.7 released?", "Python 3.7 was released on June 27, 2018.") == "June 27, 2018"
    assert direct("What proportion came from China?", "Nearly 70% of Russia’s $900 million in imports came from China.") \
        == "Nearly 70%"
    # several names and nothing to tell which one answers: no direct line rather than a wrong one
    assert direct("Which official spoke?", "Janet Yellen, back in Washington from Beijing, warned Moscow and Kyiv.") is None
    # a capitalised common word is no name ("For example", "If provided"); a CamelCase one is
    assert direct("Which functions of the operator module are handy?",
                  "The operator module functions allow sorting. For example, to sort by grade:") is None
    assert direct("Which exception is raised?", "TypeError will be raised if a field has no default.") == "TypeError"
    # "e.g." is no name; a PEP or a code name answers no who-question; a credit's verb is not the question's
    assert direct("Which warning is shown?", "WARNING | Something unexpected happened (e.g. ‘disk space low’).") \
        != "e.g"
    assert direct("Who implemented the syntax for variable annotations?", "PEP 526, syntax for variable annotations.") \
        is None
    assert direct("Which StreamReader method reads data until a separator appears?",
                  "New StreamReader.readuntil() method to read data until a separator appears. "
                  "(Contributed by Mark Korenberg.)") != "Mark Korenberg"
    assert direct("How much faster are glob() and iglob() now?", "They are now about 3–6 times faster.") == \
        "about 3–6 times faster"
    assert direct("Which encoders are faster?", "The ASCII and the Latin1 encoders are now up to 3 times as fast.") \
        == "ASCII and the Latin1"
    assert direct("Where does zoneinfo get its data?", "The database was specified in PEP 615.") is None
    assert direct("Who is the prime minister of Italy?", "Blinken travels to the ministers meeting in Capri, Italy.") \
        is None  # a place answers no who-question
    # a label whose value is a whole sentence explains; it names nothing
    assert direct("Which default applies?", "default: If provided, this will be the default value for this field.") \
        is None


def test_names_marked_as_names_and_owners_are_checked():
    from rag.answer.base import unknown_names
    from rag.stats import CorpusStats
    from rag.names import lowercase_names, possessors
    from rag.types import Chunk

    assert possessors("Which sorting algorithm does Rust's standard library use?") == ["Rust"]
    assert possessors("How is the Python Software Foundation’s board elected?") == ["Python Software Foundation"]
    assert possessors("What's new in Python 3.7?") == []
    assert lowercase_names("What is the default of the slots option in the attrs library?") == ["attrs"]
    text = "The dataclasses module adds slots. The logging package logs."
    stats = CorpusStats.from_chunks([Chunk("c", "d", "t", text, 0, len(text))])
    assert unknown_names("What does the attrs library default to?", stats) == ["attrs"]
    assert unknown_names("What does the logging package do?", stats) == []


def test_a_sentence_under_a_heading_is_about_that_heading():
    from rag.sentences import headings

    text = ("PEP 563: Postponed Evaluation of Annotations\n\nPEP written and implemented by Łukasz Langa.\n\n"
            "This idiom is called Decorate-Sort-Undecorate after its three steps:\n\n- First, decorate.\n\n"
            "dataclasses.fields(class_or_instance)\n\nReturns a tuple of Field objects.")
    found = [text[s:e] for s, e in headings(text)]
    assert found == ["PEP 563: Postponed Evaluation of Annotations", "dataclasses.fields(class_or_instance)"]
    code = ">>> sorted([5, 2, 3])\n\n[1, 2, 3]\n\nreturn self.x + 1\n\nself.x += element\n\nfrom a import b\n\nKey Functions"
    assert [code[s:e] for s, e in headings(code)] == ["Key Functions"]




def test_a_texts_structure_follows_the_headings_it_comes_with():
    """Document's hash and equality leave its headings out: the same text with the headings stored
    at ingest, and without any, must not share one cached structure."""
    from rag.answer.units import structure

    text = "Overview\n\nThe first paragraph says something.\n\nDetails\n\nThe second one says more."
    bare = Document("d", "T", text)
    none_known = Document("d", "T", text, headings=())  # as stored for a text ingest found none in
    at = text.index("The second")
    assert bare == none_known
    assert structure(bare).heading_of(at)[0] == (text.index("Details"), text.index("Details") + 7)
    assert structure(none_known).heading_of(at) is None
    assert structure(bare) is structure(Document("d", "T", text))  # still kept per text


def test_which_module_is_answered_only_by_a_sentence_that_says_which():
    """A direct line for "Which module ...?" needs the sentence to name a module as one; a bare name
    elsewhere ("Python", a function, an exception) is left out, and the quotes answer alone.
    Exceptions and functions are named bare, so their questions keep their lines."""
    from rag.answer.direct import line

    def said(sentence: str, question: str) -> str | None:
        span = line("name", sentence, question)
        return sentence[span[0] : span[1]] if span else None

    q = "Which module provides the partial function?"
    assert said("Consider a Python function f(a, b, c); this is called partial function application.", q) is None
    assert said("The decorator also provides a cache_clear() function for clearing the cache.",
                "Which module provides the lru_cache decorator?") is None
    assert said("The functools module provides partial() for partial function application.", q) == "functools"
    assert said("A new module, graphlib, was added.", "Which module was added?") == "graphlib"
    assert said("TypeError will be raised if a field without a default follows one with a default.",
                "Which exception is raised when a field without a default follows one with one?") == "TypeError"


def test_a_name_does_not_open_with_a_common_word_run_into_the_next_sentence_or_be_a_literal():
    """What a name question may be answered with: "As of Python 2.3" names Python 2.3, "Python 2 & 3.
    Probably" runs into the next sentence, and True/False are values (all from Python HOWTO pages)."""
    from rag.answer.direct import _names

    def names(sentence: str) -> list[str]:
        return [sentence[a:b] for a, b in _names(sentence)]

    assert names("As of Python 2.3 you can specify how long a socket should wait.") == ["Python 2.3"]
    assert names("It works under both Python 2 & 3. Probably the best tool is tox.") == ["Python 2 & 3"]
    assert names("Turn off propagation by setting the propagate attribute of a logger to False.") == []
    assert names("The Washington Post said General Atomics agreed.") == ["Washington Post", "General Atomics"]


def test_the_asked_noun_is_the_noun_not_a_verb_after_it():
    """"Which decorator ensures that ...?" asks for a decorator (not an "ensure"), whatever the verb;
    "class" stays "class" (not "clas"); a plural noun before its verb is not taken for the verb."""
    from rag.answer.direct import asked_noun

    assert asked_noun("Which decorator ensures that enum values are unique?") == "decorator"
    assert asked_noun("Which function opens a URL?") == "function"
    assert asked_noun("Which class represents an IPv4 network?") == "class"
    assert asked_noun("Which enum class allows members to be combined?") == "class"
    assert asked_noun("Which Python versions support the walrus operator?") == "version"
    assert asked_noun("Which modules were added in 3.9?") == "module"
    assert asked_noun("Which PEP adds a new syntax?") == "pep"
    assert asked_noun("Which PEP is about f-strings?") == "pep"
    assert asked_noun("What NATO members are buying drones?") == "member"  # the acronym says which members
    assert asked_noun("Which EU countries have sent tanks?") != "eu"


def test_a_possessive_name_is_no_direct_answer():
    """"... sanction Chinese banks, companies and Beijing’s leadership": "Beijing’s" owns the
    leadership; it answers neither "Which companies ...?" nor anything else asked without a possessive."""
    from rag.answer.direct import find, line

    s = "He warned that the US was prepared to sanction Chinese banks, companies and Beijing’s leadership."
    q = "Which US companies did China sanction?"
    span = find("name", s, q)
    assert span and s[span[0] : span[1]] == "Beijing’s"  # ranking still sees a name there
    assert line("name", s, q) is None


def test_how_much_of_asks_a_share_and_a_year_only_dates_the_figure():
    from rag.answer.direct import find

    s = "Nearly 70% of Russia’s approximately $900 million in machine tool imports in the last quarter of 2023 came from China."
    span = find("number", s, "How much of Russia's machine tool imports came from China?")
    assert span and s[span[0] : span[1]] == "Nearly 70%"
    span = find("number", s, "How much were Russia's machine tool imports worth?")
    assert span and s[span[0] : span[1]] == "approximately $900 million"
    s = "Sales reached 1998 units."
    span = find("number", s, "How much did sales reach?")
    assert span and s[span[0] : span[1]] == "1998"  # nothing else: a year-like figure stays a candidate


def test_code_is_named_in_one_word_and_no_word_after_a_determiner_is_a_name():
    from rag.answer.direct import find

    def said(sentence: str, question: str) -> str | None:
        span = find("name", sentence, question)
        return sentence[span[0] : span[1]] if span else None

    q = "Which exception is raised when a socket times out?"
    assert said("As of Python 2.3 you can specify how long a socket should wait before timing out.", q) is None
    assert said("In this case, the exception raised when a socket times out is logged.", q) is None
    assert said("A socket that times out raises TimeoutError.", q) == "TimeoutError"
    assert said("uuid.uuid4(): Generate a random UUID.", "Which function generates a random UUID?") == "uuid.uuid4()"
    s = "If check is true, and the process exits with a non-zero exit code, a CalledProcessError exception will be raised."
    assert said(s, "Which exception does subprocess.run raise when check is true?") == "CalledProcessError"
    assert said("Nitrocellulose, a chemical compound, is used to make propellants.",
                "Which chemical compound is used to make propellants?") == "Nitrocellulose"


def test_a_time_ago_dates_an_event():
    from rag.answer.direct import find

    s = ("Just this week Gen. Chris Cavoli told lawmakers that Russia has been successful at reconstituting "
         "its military since it invaded Ukraine more than 2 years ago.")
    span = find("date", s, "When did Russia invade Ukraine?")
    assert span and s[span[0] : span[1]] == "more than 2 years ago"


def test_a_thing_asked_for_is_not_answered_by_a_country():
    """The direct line of "Which company/engines ...?" is never a country or its people ("Chinese and
    Russian entities", "providing Russia with engines"); "Which country ...?" still may be."""
    from rag.answer.direct import answer_type, line

    def said(sentence: str, question: str) -> str | None:
        span = line(answer_type(question), sentence, question)
        return sentence[span[0] : span[1]] if span else None

    s = "Chinese and Russian entities have also been working jointly to produce drones inside of Russia."
    assert said(s, "Which company makes drones together with Russia?") is None
    s = ("The support China is providing includes drone and turbojet engines and technology for cruise missiles, "
         "which Russia uses.")
    assert said(s, "Which engines did China provide?") is None
    assert said("The parts were made in Iran.", "Which country made the parts?") == "Iran"
    assert said("Sanctions were imposed by the United States on Tuesday.", "Which government imposed sanctions?") == (
        "United States")


def test_a_diagram_of_many_bars_is_shaped_at_once():
    """An ASCII diagram is a "sentence" of many bars (doctest's page has one). The header-row pattern
    used to take exponential time to refuse it: minutes for one sentence, which hung the first ingest
    of 494 documentation pages once every sentence was shaped. It must come back at once."""
    import signal

    from rag.answer.shape import shape

    diagram = ("        |     | Example |     |       |\n            v        |     |   ...   |     v       |\n"
               "           DocTestParser   | Example |   OutputChecker\n                           +---------+")

    def hung(*_):
        raise TimeoutError("shape() did not return within 5 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        assert shape.__wrapped__(diagram)[3] is False  # not a header row either
        for text in ("x  |  " * 200 + "9", "a  |  b  " * 100 + "|"):
            shape.__wrapped__(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_tables_header_row_is_structure_not_an_answer():
    """"Flag | Meaning" names a table's columns (it was quoted first for "What does the re.IGNORECASE
    flag do?"); rows that state something keep their place."""
    from rag.answer.shape import shape as _shape

    assert _shape("Flag | Meaning")[3] and _shape("Method/Attribute | Purpose")[3]
    assert not _shape("ERROR | 40")[3]
    assert not _shape("DEBUG | Detailed information, typically of interest only when diagnosing problems.")[3]
    assert _shape("Flag | Meaning")[0] is None  # and no label bonus for "flag"

def test_how_long_may_ask_for_a_length():
    from rag.answer.direct import find

    s = "Wrap lines so that they don’t exceed 79 characters."
    span = find("duration", s, "How long may a line be?")
    assert span and s[span[0] : span[1]] == "79 characters"
    s = "The war has lasted more than two years, longer than 300 days."
    span = find("duration", s, "How long has the war lasted?")
    assert span and s[span[0] : span[1]] == "more than two years"


def test_a_role_or_event_asked_about_must_be_stated():
    from rag.answer.checks import asked_predicate

    assert asked_predicate("Who is the current president of the Python Software Foundation?") == "president"
    assert asked_predicate("When was Guido van Rossum born?") == "born"
    assert asked_predicate("Who maintains the glob module?") == "maintains"
    assert asked_predicate("Who is Liu Pengyu?") is None  # a name, not a role: anything about him answers
    assert asked_predicate("Who was Guido?") is None
    assert asked_predicate("Who wrote PEP 8?") is None  # "written by", "author": the past is stated many ways
    assert asked_predicate("When did Python 3.7 come out?") is None  # paraphrases stay free


_CREDITED = (
    "The IDLE features formerly implemented as extensions have been reimplemented as normal features. Their settings "
    "have been moved from the Extensions tab to other dialog tabs. (Contributed by Charles Wohlganger and Terry Jan "
    "Reedy in bpo-27099.)\n\nThe tau constant was added. (Contributed by Lisa Roach.)\n"
)
_SECTIONS = (
    "PEP 540: Forced UTF-8 Runtime Mode\n\nThe new -X utf8 command line option and PYTHONUTF8 environment variable "
    "can be used to enable the Python UTF-8 Mode.\n\nPEP 562: Customization of Access to Module Attributes\n\n"
    "Python 3.7 allows defining __getattr__() on modules.\n"
)


@pytest.mark.parametrize(
    "body, question, first_line",
    [
        # a paragraph's closing credit answers who did what its first sentence says
        (_CREDITED, "Who reimplemented the IDLE extensions as normal features?", "Charles Wohlganger and Terry Jan Reedy"),
        # "Which PEP ...?" is answered from the heading a sentence opens
        (_SECTIONS, "Which PEP adds the -X utf8 command line option?", "PEP 540"),
    ],
)
def test_structure_answers_what_the_sentence_alone_does_not(tmp_path, body, question, first_line):
    from rag import Settings

    (tmp_path / "new.md").write_text(f"---\ntitle: What's New\n---\n{body}", encoding="utf-8")
    with Assistant(Settings(corpus_dir=tmp_path, data_dir=tmp_path / "data")) as assistant:
        answer = assistant.ask(question)
        assert answer.text.splitlines()[0].startswith(first_line), answer.text
        assert_exact(assistant, answer)


def test_further_quotes_must_be_about_the_numbered_name_asked():
    from rag.answer.checks import numbers_asked

    assert numbers_asked("Who wrote PEP 530?") == {"530"}
    assert numbers_asked("What is new in Python 3.7?") == {"3.7"}
    assert numbers_asked("Who wrote the Logging HOWTO?") == frozenset()


def test_a_close_form_of_a_word_is_found_as_a_scan_of_the_vocabulary_would():
    """`knows` finds "Americans" from "American" by a prefix search of the sorted vocabulary: the
    same answer as scanning every word, for words before, among and after the vocabulary's."""
    import random

    from rag.stats import CorpusStats

    vocabulary = ["american", "americas", "budget", "budgetary", "zebra", "zz", "ab", "candid", "candidate", "élan"]
    stats = CorpusStats(vocabulary=frozenset(vocabulary))
    rng = random.Random(3)
    letters = "abcdeélmnrtyz"
    probes = ["Americans", "budgeting", "candidacy", "aaaaa", "zzzzzz", "élans", "Zebras", "camel"]
    probes += ["".join(rng.choice(letters) for _ in range(rng.randint(5, 9))) for _ in range(500)]
    for word in probes:
        w = word.lower()
        stem = w[: max(5, int(len(w) * 0.8))]
        scanned = w in stats.vocabulary or (len(w) >= 5 and any(v.startswith(stem) for v in vocabulary))
        assert stats.knows(word) == scanned, word


def test_candidate_terms_and_vectors_built_from_their_sentences_equal_those_of_the_whole_text():
    """A two-part quote's terms and vector come from its sentences' (the answerer reads each text
    once); they must equal what reading the whole quote gives, whatever stands between the parts."""
    import numpy as np

    from rag.answer.base import Evidence
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.answer.units import candidates, units_terms
    from rag.chunking import normalise
    from rag.sentences import sentence_spans, terms
    from rag.stats import CorpusStats
    from rag.types import Chunk, Document

    from .fakes import HashEmbedder

    text = ("Ferry news\n\nThe Kerran ferry resumed crossings on Tuesday. They are run by Ferrylink Ltd. "
            "Its captain is Ann Roe. The Σίσυφος sails at noon. It left port.\n\n"
            "The harbour was dredged in May. Tides were low. It reopened in June. "
            "(Contributed by Ann Roe in bpo-123.)\n")
    doc = Document("ferry", "Ferry news", text)
    spans = tuple(sentence_spans(text))
    chunk = Chunk("ferry@v:0-1", "ferry", doc.title, text, 0, len(text), 0.0, spans)
    evidence = Evidence([chunk], {"ferry": doc}, CorpusStats.from_chunks([chunk]))
    units = candidates(evidence)
    assert any(u.pair for u in units) and any(u.pair and not text[u.first_end:u.second_start].isspace() for u in units)
    assert units_terms(units, evidence) == [frozenset(terms(u.text)) for u in units]

    stored = dict(zip([("ferry", s, e) for s, e in spans], HashEmbedder().embed([text[s:e] for s, e in spans])))
    evidence = Evidence([chunk], {"ferry": doc}, evidence.stats, stored)
    got = ExtractiveAnswerer(HashEmbedder())._unit_vectors(units, evidence)
    v = lambda s, e: np.asarray(stored[("ferry", s, e)], dtype=np.float32)  # noqa: E731
    want = [normalise(v(u.start, u.first_end) + v(u.second_start, u.end)) if u.pair else v(u.start, u.end)
            for u in units]
    assert all(np.array_equal(g, w) for g, w in zip(got, want))  # the same bits as row by row


@pytest.mark.parametrize(
    "question, doc_id, words",
    [
        ("What did the Telegraph report about tank parts?", "telegraph-china-cruise-missile-drone-tank-parts", "tank parts"),
        ("What did AP report about machine tools?", "ap-china-surging-equipment-sales-russia", "machine tool"),
        ("According to CNN, what share of Russia's microelectronics came from China?",
         "cnn-china-support-russia-weapons-manufacturing", "90%"),
    ],
)
def test_a_question_that_names_an_outlet_is_answered_from_its_articles(bundled, question, doc_id, words):
    """The outlet is the article's metadata, not its text (the Telegraph's article never names the
    Telegraph): the question is known, and answered from that outlet's articles only."""
    answer = bundled.ask(question)
    assert not answer.abstained, answer.text
    assert {c.doc_id for c in answer.citations} == {doc_id}
    assert any(words in c.quote for c in answer.citations), answer.text
    assert_exact(bundled, answer)


def test_the_same_words_twice_in_a_page_are_quoted_once():
    """A page that repeats a paragraph ("PEP 487 ... implemented by Martin Teichmann." under two
    headings) gives one quote of it, not two identical ones."""
    from rag.answer.base import Evidence, Question
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.sentences import sentence_spans
    from rag.stats import CorpusStats
    from rag.types import Chunk

    from .fakes import HashEmbedder

    said = "PEP 487 was written and implemented by Martin Teichmann."
    text = f"New features\n\n{said}\n\nSummary\n\n{said}\n\nOther changes were small.\n"
    doc = Document("whatsnew", "What's New", text)
    chunk = Chunk("whatsnew@v:0-1", "whatsnew", doc.title, text, 0, len(text), 0.0, tuple(sentence_spans(text)))
    evidence = Evidence([chunk], {"whatsnew": doc}, CorpusStats.from_chunks([chunk]))
    question = Question("Who implemented PEP 487?", "Who implemented PEP 487?")
    answer = ExtractiveAnswerer(HashEmbedder(), min_relevance=0.0).answer(question, evidence)
    quotes = [c.quote for c in answer.citations]
    assert said in quotes and len(quotes) == len(set(quotes))


def test_code_is_answered_by_a_name_of_its_kind():
    """An exception is named as one ("TimeoutError", "socket.timeout"); a function in lower case: "Which
    function serializes ...?" is not answered by "raise a TypeError", "Which exception ...?" not by "TCP"."""
    from rag.answer.direct import line

    def answer(question, sentence):
        span = line("name", sentence, question)
        return sentence[span[0] : span[1]] if span else None

    raised = "Which exception is raised when a socket times out?"
    assert answer(raised, "A TCP connection may time out.") is None
    assert answer(raised, "When a timeout occurs, TimeoutError is raised.") == "TimeoutError"
    assert answer(raised, "On a timeout, socket.timeout is raised.") == "socket.timeout"
    called = "Which function serializes an object to a JSON formatted string?"
    assert answer(called, "It should return a JSON encodable version of the object or raise a TypeError.") is None
    assert answer(called, "Python is a language.") is None
    assert answer(called, "Use json.dumps() for that.") == "json.dumps()"


def test_a_name_given_after_called_and_no_etc():
    """"the dumps() function, called dump()," names dump() (not "called"); "functions, etc." names none
    (the Python tutorial's pages, read as a new user would)."""
    from rag.answer.direct import line

    def answer(question, sentence):
        span = line("name", sentence, question)
        return sentence[span[0] : span[1]] if span else None

    s = "Another variant of the dumps() function, called dump(), simply serializes the object to a text file."
    assert answer("Which function serializes an object to a file?", s) == "dump()"
    s = "Note that it lists all types of names: variables, modules, functions, etc."
    assert answer("Which function returns a list of all the names a module defines?", s) is None
