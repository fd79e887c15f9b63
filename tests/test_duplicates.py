"""The near-duplicate rule (minutes.text.duplicates): collapse true copies only, never a minute into its blurb."""

from __future__ import annotations

from minutes.text.duplicates import is_duplicate

# From a real ModernGov GetMeeting response (Manchester, Audit Committee, recorded by DemocracyClub's LGSF):
BLURB = "The report of the Governance and Scrutiny Support Unit, attached."
MINUTE = ("The Committee considered a report of the Governance and Scrutiny Support Unit which set out its "
          "future Work Programme for the remainder of 2025/26 municipal year.")


def test_a_minute_is_never_hidden_behind_its_agenda_blurb() -> None:
    assert not is_duplicate(MINUTE, "minutes", BLURB, "description")
    assert not is_duplicate("RESOLVED that the report be noted.", "resolution",
                            "RESOLVED that the report be noted.", "description")


def test_a_short_passage_inside_a_longer_one_is_not_a_copy() -> None:
    # every word of the blurb is in the minute, but the minute says much more
    assert not is_duplicate(BLURB.replace(", attached", ""), "description", MINUTE, "minutes")
    assert not is_duplicate(BLURB, "description", MINUTE, "description")


def test_true_duplicates_collapse() -> None:
    copy = MINUTE.replace("The Committee", "the committee")
    assert is_duplicate(copy, "minutes", MINUTE, "minutes")
    assert is_duplicate(BLURB, "description", BLURB + " ", "description")
    assert is_duplicate(MINUTE, "description", MINUTE, "minutes")  # a description may go behind its minute
    assert is_duplicate("", "description", " ", "description")
