"""Version-pair report pages never collide: `<baseline>-vs-<candidate>` is ambiguous when a version name itself
contains `-vs-` (review finding), so such pairs get a hash suffix; plain pairs keep their readable name."""

from __future__ import annotations

import itertools

from driftwatch.reports.versions import version_page


def test_plain_pairs_keep_the_readable_page_name() -> None:
    assert version_page("m", "1.4", "1.5") == "m/versions/1.4-vs-1.5.html"
    assert version_page("credit-default", "v3.2", "v3.3") == "credit-default/versions/v3.2-vs-v3.3.html"


def test_pairs_whose_names_contain_the_separator_do_not_share_a_page() -> None:
    pairs = [
        ("a-vs-b", "c"),
        ("a", "b-vs-c"),
        ("a-vs", "b"),
        ("a", "vs-b"),
        ("a-vs", "vs-b"),
        ("a-vs-vs", "b"),
        ("a", "vs-vs-b"),
        ("a", "b"),
        ("a-vs-b-vs-c", "d"),
        ("a", "b-vs-c-vs-d"),
    ]
    pages = [version_page("m", b, c) for b, c in pairs]
    assert len(set(pages)) == len(pages), pages
    assert version_page("m", "a-vs-b", "c") == version_page("m", "a-vs-b", "c")  # stable
    assert all(p.startswith("m/versions/") and p.endswith(".html") for p in pages)
    # and a swapped pair is another page
    for b, c in itertools.islice(pairs, 4):
        assert version_page("m", b, c) != version_page("m", c, b)
