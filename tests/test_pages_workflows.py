"""Facets with counts, sorting, pages, search within a document, the timeline, and page hygiene."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from minutes.dates import parse_span
from minutes.features.browse import browse, sort_hits
from minutes.features.timeline import by_meeting, periods
from minutes.records import Filters
from minutes.search.hybrid import Searcher

Q = "budget savings"


def _browse(client: TestClient, **params: object) -> dict:
    response = client.get("/api/browse", params={"q": Q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_facet_counts_add_up_and_match_their_filters(client: TestClient) -> None:
    body = _browse(client)
    councils = {v["value"]: v["count"] for v in body["facets"]["council"]}
    assert len(councils) >= 3 and sum(councils.values()) == body["total"]
    council, count = max(councils.items(), key=lambda kv: kv[1])
    narrowed = _browse(client, council=council)
    assert narrowed["total"] == count
    # The council facet is counted without its own filter: the other councils stay offered.
    again = {v["value"]: v for v in narrowed["facets"]["council"]}
    assert again[council]["selected"] and len(again) == len(councils)
    assert {v["value"] for v in narrowed["facets"]["committee"]} <= {v["value"] for v in body["facets"]["committee"]}


def test_year_facet_counts_match_the_year_filter(client: TestClient) -> None:
    body = _browse(client)
    for year in body["facets"]["year"][:3]:
        assert _browse(client, date_from=year["value"], date_to=year["value"])["total"] == year["count"]


def test_decisions_only(client: TestClient) -> None:
    body = _browse(client)
    decisions = _browse(client, decisions="1")
    assert decisions["total"] == body["decisions"] > 0
    assert {h["kind"] for h in decisions["hits"]} == {"resolution"}


def test_procedural_items_are_off_by_default(client: TestClient) -> None:
    assert _browse(client)["filters"]["include_procedural"] is False
    assert _browse(client, procedural="1")["filters"]["include_procedural"] is True


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_sorting_by_meeting_date(client: TestClient, sort: str) -> None:
    hits = _browse(client, sort=sort, k=100)["hits"]
    spans = [parse_span(h["date"]) for h in hits if h["date"]]
    keys = [s.end for s in spans] if sort == "newest" else [s.start for s in spans]
    assert keys == sorted(keys, reverse=sort == "newest") and len(set(keys)) > 1


def test_pages_are_disjoint_and_cover_the_results(client: TestClient) -> None:
    whole = [h["passage_id"] for h in _browse(client, sort="oldest", k=100)["hits"]]
    first, second = _browse(client, sort="oldest", k=7), _browse(client, sort="oldest", k=7, page=2)
    assert first["pages"] == second["pages"] == -(-len(whole) // 7) and second["page"] == 2
    ids = [h["passage_id"] for h in first["hits"] + second["hits"]]
    assert ids == whole[:14] and [h["rank"] for h in second["hits"]] == list(range(8, 15))
    assert _browse(client, k=7, page=999)["page"] == first["pages"]  # past the end: the last page


def test_browse_filters_inside_the_search(searcher: Searcher) -> None:
    # A filter that keeps few passages still fills the page (filters are not applied afterwards).
    found = browse(searcher, Q, Filters(council="Staffordshire County Council"), k := "relevance", 1, 5)
    assert k == "relevance" and len(found.hits) == min(5, found.total) and found.total > 0
    assert {h.document.council for h in found.result.hits} == {"Staffordshire County Council"}
    with pytest.raises(ValueError, match="sort must be one of"):
        sort_hits(found.hits, "sideways")


def test_search_within_a_document(client: TestClient) -> None:
    body = _browse(client, document="004_67b7388c9a981ec9")
    assert body["total"] > 0 and {h["document_id"] for h in body["hits"]} == {"004_67b7388c9a981ec9"}
    soup = BeautifulSoup(client.get("/", params={"q": Q}).text, "html.parser")
    link = soup.select_one("li.hit a.within")["href"]
    assert "document=" in link and "q=budget+savings" in link


def test_page_title_and_links_keep_the_search(client: TestClient) -> None:
    params = {"q": Q, "council": "Stockport Metropolitan Borough Council", "sort": "newest"}
    soup = BeautifulSoup(client.get("/", params=params).text, "html.parser")
    assert soup.title.text == "budget savings — Stockport Metropolitan Borough Council — newest first — Minutes"
    current = soup.select_one('nav.sort a[aria-current="true"]')
    assert current.text == "Newest first"
    chip = soup.select_one("ul.chips a")
    assert parse_qs(urlsplit(chip["href"]).query) == {"q": [Q], "sort": ["newest"]}
    hidden = {i["name"]: i["value"] for i in soup.select("form#briefing input[type=hidden]")}
    assert hidden == {"q": Q, "council": "Stockport Metropolitan Borough Council", "sort": "newest"}
    assert soup.select_one("#f-council option[selected]").text == "Stockport Metropolitan Borough Council"


def test_pagination_links(client: TestClient) -> None:
    soup = BeautifulSoup(client.get("/", params={"q": Q, "k": 5, "page": 2}).text, "html.parser")
    nav = soup.select_one("nav.pages")
    assert nav.select_one('[aria-current="page"]').text == "2"
    assert "page=3" in nav.select_one('a[rel="next"]')["href"] and "k=5" in nav.select_one('a[rel="next"]')["href"]
    assert "page=" not in nav.select_one('a[rel="prev"]')["href"]
    assert "— page 2 —" in soup.title.text
    assert soup.select_one("section.answer") is None  # the answer heads page 1 only


def test_timeline_periods_and_meetings(searcher: Searcher) -> None:
    hits = searcher.search(Q, 100).hits
    buckets = periods(hits)
    assert [p.label for p in buckets] == [str(y) for y in range(2014, 2024)]
    assert sum(p.count for p in buckets) >= len(hits) and buckets[1].count == 0  # 2015: nothing
    groups = by_meeting(hits)
    starts = [parse_span(g.date).start for g in groups if g.date]
    assert starts == sorted(starts) and sum(len(g.hits) for g in groups) == len(hits)


def test_timeline_svg_bars_link_to_their_period(client: TestClient) -> None:
    response = client.get("/timeline", params={"q": Q})
    soup = BeautifulSoup(response.text, "html.parser")
    svg = soup.select_one("figure.timeline svg")
    assert svg is not None and svg.get("viewbox") or svg.get("viewBox")
    bars = svg.select("a")
    assert len(bars) >= 5
    for bar in bars[:3]:
        params = parse_qs(urlsplit(bar["href"]).query)
        year = params["date_from"][0]
        assert params["date_to"] == [year] and params["q"] == [Q]
        count = int(bar["aria-label"].split(": ")[1].split()[0])
        assert _browse(client, date_from=year, date_to=year)["total"] == count
    meetings = soup.select("ol.meetings > li.meeting")
    dates = [m.select_one("h2 time")["datetime"] for m in meetings]
    assert len(meetings) == 5 and dates == sorted(dates)
    assert "no-script" not in response.text and not soup.select("script:not([src])")


def test_api_timeline(client: TestClient) -> None:
    body = client.get("/api/timeline", params={"q": Q}).json()
    assert body["periods"][0] == {"period": "2014", "start": "2014-01-01", "end": "2014-12-31", "count": 17} \
        or body["periods"][0]["period"] == "2014"
    assert sum(len(m["hits"]) for m in body["meetings"]) == body["total"]


def test_user_input_is_escaped_everywhere(client: TestClient) -> None:
    evil = 'budget "><script>alert(1)</script><svg onload=alert(2)>'
    for path in ("/", "/timeline"):
        text = client.get(path, params={"q": evil, "committee": "<b>x</b>"}).text
        assert "<script>alert(1)" not in text and "<svg onload" not in text and "<b>x</b>" not in text


def test_pages_are_csp_ready_and_accessible_in_markup(client: TestClient) -> None:
    for path, params in (("/", {"q": Q}), ("/timeline", {"q": Q}), ("/", {})):
        soup = BeautifulSoup(client.get(path, params=params).text, "html.parser")
        assert all(s.get("src") for s in soup.select("script")), "no inline scripts"
        assert not soup.select("[style]") and not [t for t in soup.find_all(True)
                                                   if any(a.startswith("on") for a in t.attrs)]
        assert soup.html["lang"] == "en-GB" and soup.select_one("a.skip")["href"] == "#main"
        for field in soup.select("input:not([type=hidden]), select"):
            labelled = field.find_parent("label") or soup.select_one(f'label[for="{field.get("id")}"]')
            assert labelled is not None, field
        assert len(soup.select("h1")) == 1


def test_search_within_a_meeting(client: TestClient) -> None:
    soup = BeautifulSoup(client.get("/", params={"q": Q}).text, "html.parser")
    hit = soup.select_one("li.hit")
    link = hit.select_one("a.within-meeting")["href"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert params["council"] == hit.select_one(".council").text
    assert params["committee"] == hit.select_one(".committee").text
    assert hit.select_one("time").text.startswith(params["date_from"])
    body = _browse(client, **{k: v for k, v in params.items() if k != "q"})
    assert body["total"] > 0 and {(h["council"], h["committee"], h["date"]) for h in body["hits"]} == {
        (params["council"], params["committee"], hit.select_one("time").text)}


def test_a_full_pool_says_it_shows_the_best(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import minutes.features.browse

    monkeypatch.setattr(minutes.features.browse, "POOL", 20)
    body = _browse(client)
    assert body["total"] == 20 and body["capped"] is True
    soup = BeautifulSoup(client.get("/", params={"q": Q}).text, "html.parser")
    assert soup.select_one("#results-heading").text == f"The 20 best passages for “{Q}”"
    assert _browse(client, q="zzzz qqqq")["capped"] is False
