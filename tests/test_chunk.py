from collections import Counter

from minutes.chunk import MAX_WORDS, TARGET_WORDS, chunk_document
from minutes.ingest import Problem, load_documents
from minutes.records import Document

from .conftest import CORPUS


def corpus_documents() -> list[Document]:
    return [d for d in load_documents([CORPUS]) if not isinstance(d, Problem)]


def test_passages_are_exact_slices_in_order() -> None:
    for doc in corpus_documents():
        passages = chunk_document(doc)
        assert passages, doc.document_id
        previous_end = 0
        for ordinal, p in enumerate(passages):
            assert p.ordinal == ordinal
            assert doc.text[p.char_start:p.char_end] == p.text
            assert p.text == p.text.strip()
            assert p.char_start >= previous_end
            previous_end = p.char_end
            assert len(p.text.split()) <= MAX_WORDS


def test_structure_is_recognised() -> None:
    kinds = Counter(p.kind for d in corpus_documents() for p in chunk_document(d))
    for kind in ("bullet", "minutes", "resolution", "project", "table", "description"):
        assert kinds[kind] > 0, kind


def test_short_breaks_bullet_stands_apart_from_others() -> None:
    [stockport] = [d for d in corpus_documents() if d.document_id == "000_fc91bc6c358244ac"]
    passages = chunk_document(stockport)
    [breaks] = [p for p in passages if "availability of short breaks" in p.text]
    assert breaks.kind == "bullet"
    # merged only with neighbouring bullets of its own section, up to the passage size
    assert "Stone Mill" not in breaks.text and len(breaks.text.split()) <= MAX_WORDS
    assert breaks.heading == "Investing in Stockport - Executive Proposals"


def test_project_blocks_take_the_project_name_as_heading() -> None:
    [paper] = [d for d in corpus_documents() if d.document_id == "003_1fb74289b39c3150"]
    headings = {p.heading for p in chunk_document(paper) if p.kind == "project"}
    assert any("Project: Housing – 18+ Accommodation" in h for h in headings)


def test_resolution_is_marked() -> None:
    text = "Minutes:\n\nThe committee discussed the budget.\n\nRESOLVED – that the report be noted.\n(1) more.\n"
    passages = chunk_document(Document("d", text, item="Budget"))
    assert [p.kind for p in passages] == ["minutes", "resolution"]
    assert passages[1].text.startswith("RESOLVED")


def test_long_paragraph_is_split_at_sentences() -> None:
    sentence = "The committee noted the pressures on the budget for looked after children this year. "
    text = sentence * 60
    passages = chunk_document(Document("d", text))
    assert len(passages) > 1
    for p in passages:
        assert p.text.endswith(".")
        assert len(p.text.split()) <= MAX_WORDS


def test_text_without_sentence_ends_is_still_split() -> None:
    passages = chunk_document(Document("d", "word " * 1000))
    assert len(passages) >= 1000 // MAX_WORDS
    assert sum(len(p.text.split()) for p in passages) == 1000


def test_transcript_turns_merge_until_readable() -> None:
    turns = "\n\n".join(f"**Speaker {i % 3}:** {'yes that is right . ' * (1 + i % 4)}" for i in range(120))
    passages = chunk_document(Document("m", turns))
    assert all(p.kind == "turn" for p in passages)
    assert len(turns.split()) // TARGET_WORDS <= len(passages) < 120
    assert all(len(p.text.split()) <= TARGET_WORDS + 25 for p in passages)  # whole turns, packed


def test_pages_follow_offsets() -> None:
    text = "First page text here.\n\nSecond page text here."
    doc = Document("d", text, page_starts=(0, text.index("Second")))
    assert [p.page for p in chunk_document(doc)] in ([1], [1, 2])
    assert doc.page_at(text.index("Second") + 3) == 2


def test_passages_never_cross_a_page_break() -> None:
    # Short paragraphs that would be merged on one page stay apart across pages.
    pages = ["First page paragraph about the budget.", "Second page paragraph about the budget.",
             "Third page paragraph about the budget."]
    text = "\n\n".join(pages)
    starts = tuple(text.index(p) for p in pages)
    passages = chunk_document(Document("d", text, page_starts=starts))
    assert [p.page for p in passages] == [1, 2, 3]
    assert [p.text for p in passages] == pages
    unpaged = chunk_document(Document("d", text))
    assert len(unpaged) == 1 and unpaged[0].page is None


# An item titled "Minutes", as a real GetMeeting response has it (Manchester's Audit Committee,
# recorded by DemocracyClub's LGSF), written the way the ModernGov importer writes items.
MINUTES_ITEM = ("Minutes\n\nTo approve as a correct record the minutes of the meeting held on 25 November 2025.\n\n"
                "Minutes:\nTo approve the minutes of the meeting held on 25 November 2025 as a correct record.")


def test_an_item_titled_minutes_keeps_its_title_and_description() -> None:
    passages = chunk_document(Document("m", MINUTES_ITEM, title="Minutes", item="1. Minutes"))
    assert [(p.kind, p.text.split("\n")[0][:30]) for p in passages] == [
        ("description", "Minutes"), ("minutes", "To approve the minutes of the ")]
    assert "To approve as a correct record" in passages[0].text  # the description is not labelled a minute
    assert passages[0].heading == passages[1].heading == "1. Minutes"


def test_an_item_titled_decision_is_not_a_decision() -> None:
    text = ("Decision\n\nTo note the decision of the Leader on the A2 junction.\n\n"
            "Minutes:\nMembers noted the decision.\n\nDecision:\nRESOLVED that the decision be noted.")
    for item in ("4. Decision", "77/21 Decision"):
        kinds = [(p.kind, p.text[:12]) for p in chunk_document(Document("d", text, title="Decision", item=item))]
        assert kinds == [("description", "Decision\n\nTo"), ("minutes", "Members note"),
                         ("resolution", "RESOLVED tha")], item


def test_a_decision_page_label_line_is_not_a_resolution() -> None:
    text = "Award of Waste Contracts\n\nDecision maker: Director of Environment\nDecision status: Approved"
    assert {p.kind for p in chunk_document(Document("d", text, title="Award of Waste Contracts"))} == {"description"}


def test_a_resolution_ends_at_a_gap() -> None:
    text = "RESOLVED that the salt stock be restored.\n\n13. Quarry lorry traffic on the A20\n\nResidents complained."
    assert [p.kind for p in chunk_document(Document("d", text))][-1] == "description"


def test_a_resolution_introducing_a_list_runs_on_across_gaps() -> None:
    text = ("RESOLVED – That:\n\na) the progress made be noted;\n\nb) the next phase be approved.\n\n"
            "Members then discussed school transport.")
    passages = chunk_document(Document("d", text))
    assert [p.kind for p in passages] == ["resolution", "description"]
    assert passages[0].text.endswith("b) the next phase be approved.")
