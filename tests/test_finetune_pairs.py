"""The fine-tuning pairs of bench/structure_pairs.py, and the fine-tuned model's loading errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.structure_pairs import ordinance_pairs, paper_pairs, tfidf_negatives
from minutes.chunk import chunk_document
from minutes.embed import load_committee
from minutes.errors import ModelError
from minutes.records import Document

DISCUSSION = ("Members discussed the proposal to close the library on Sundays. The Cabinet Member said that "
              "footfall had fallen by a third since the pandemic and that the savings would fund longer weekday "
              "hours. Several Members asked whether the mobile library could visit the villages instead.")
MINUTES = f"""KENT COUNTY COUNCIL
CABINET

12. Library Opening Hours Review (Item 5)

{DISCUSSION}

RESOLVED that the revised opening hours be approved for consultation.

13. Highways Winter Maintenance Programme (Item 6)

The Director introduced the report on gritting routes for the coming winter. The budget had risen by four per cent
because of the price of salt, and the primary network would again be treated before the secondary routes. Members
welcomed the new weather stations and asked for the route maps to be published online.
"""


def _pairs(text: str, make) -> tuple[list[str], list]:  # type: ignore[no-untyped-def]
    document = Document("cabinet/minutes", text, title="Minutes of the meeting")
    passages = chunk_document(document)
    return [p.text for p in passages], make(document, passages, 0)


def test_item_titles_lead_to_their_minute_and_a_decision_to_the_discussion_before_it() -> None:
    texts, pairs = _pairs(MINUTES, paper_pairs)
    by_query = {p.query: texts[p.positive] for p in pairs}
    assert by_query["Library Opening Hours Review"].startswith("Members discussed the proposal")
    assert by_query["Highways Winter Maintenance Programme"].startswith("The Director introduced")
    resolved = [p for p in pairs if p.source == "resolved"]
    assert [p.query for p in resolved] == ["RESOLVED that the revised opening hours be approved for consultation."]
    assert "mobile library" in texts[resolved[0].positive]
    assert not any(p.query.startswith(("KENT COUNTY", "CABINET")) for p in pairs)


def test_an_ordinance_title_leads_to_its_body_not_to_itself() -> None:
    text = ("Ord. No. 19-15.\nBy Council Members Pruitt and Kelley (by departmental request).\n"
            "An emergency ordinance authorizing the Director of Public Utilities to modify a contract for\n"
            "the Lake Road Improvement.\nWhereas, this ordinance constitutes an emergency measure; now, therefore,\n"
            "Be it ordained by the Council of the City of Cleveland:\n\nSection 1. That the Director of Public "
            "Utilities is authorized to make the following alterations in the contract with Hooper Corporation for "
            "the Lake Road Improvement, which alteration has been recommended in writing by the Director and "
            "consented to by the surety on the contract.\n" + "".join(
                f"Section {n}. That the Director of Finance is authorized to pay the sums due under this contract from "
                f"Fund No. {n} SF 230, and that the Director shall report to the Utilities Committee on the work "
                f"done in each quarter, with the costs of the alterations and the dates on which they were made.\n"
                for n in range(2, 9)))
    texts, pairs = _pairs(text, ordinance_pairs)
    assert len(pairs) == 1 and pairs[0].query.startswith("An emergency ordinance authorizing")
    assert "Hooper Corporation" in texts[pairs[0].positive]
    assert not texts[pairs[0].positive].startswith("Ord. No.")


def test_a_hard_negative_is_never_the_answer_or_its_neighbour() -> None:
    texts = [f"passage {i} about the library budget and opening hours" for i in range(6)] + \
            ["another paper about roads and gritting routes"]
    docs = ["a"] * 6 + ["b"]
    negatives = tfidf_negatives(["library opening hours", "gritting routes"], [2, 6], texts, docs)
    assert negatives[0] in {0, 4, 5}
    assert docs[negatives[1]] == "a"  # the only passage of its paper: one of another paper


def test_the_fine_tuned_model_without_its_files_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="bench.finetune"):
        load_committee(path=tmp_path / "absent")
