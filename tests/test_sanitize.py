"""HTML sanitising, and inline images resolved from ``cid:`` to the hub's URLs. Pure."""

from __future__ import annotations

import pytest

from hub.message_parts import full_text, shown_html, with_content_ids
from hub.sanitize import clean_html, link_inline_images


def test_cid_references_survive_sanitising_on_images_only() -> None:
    html = clean_html(
        '<p>Logo: <img src="cid:logo@x.example" alt="cid:logo" onerror="steal()">'
        '<a href="cid:logo@x.example">link</a><img src="javascript:alert(1)">'
        '<img srcset="cid:logo@x.example 2x"><script>alert(1)</script></p>'
    )
    assert html is not None
    assert '<img src="cid:logo@x.example" alt="cid:logo">' in html
    assert 'href="cid:' not in html and "srcset" not in html
    assert "javascript" not in html and "script" not in html and "onerror" not in html


def test_html_without_cid_is_cleaned_as_before() -> None:
    assert clean_html('<p onclick="x()">hi <a href="https://example.com">l</a></p>') == (
        '<p>hi <a href="https://example.com" rel="noopener noreferrer">l</a></p>'
    )
    assert clean_html("<script>x</script>") is None


def test_inline_images_point_at_the_hub() -> None:
    stored = clean_html(
        '<p><img src="CID:logo%40x.example"><img src="cid:&lt;other@x&gt;"><img src="cid:gone"></p>'
    )
    shown = link_inline_images(
        stored, {"logo@x.example": "/api/v1/attachments/7", "other@x": "/api/v1/attachments/8"}
    )
    assert shown == '<p><img src="/api/v1/attachments/7"><img src="/api/v1/attachments/8"><img></p>'


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "//evil.example/x.png", "/\\evil.example/x", "https://evil.example/x", ""]
)
def test_only_paths_on_the_hub_are_written(url: str) -> None:
    assert link_inline_images('<img src="cid:a">', {"a": url}) == "<img>"


def test_html_without_cid_is_shown_unchanged() -> None:
    assert link_inline_images("<p>as stored</p>", {"a": "/x"}) == "<p>as stored</p>"
    assert link_inline_images(None, {}) is None


def test_message_parts_from_meta() -> None:
    files = [{"id": 3, "filename": "logo.png"}, {"id": 4, "filename": "invoice.pdf"}]
    meta = {"content_ids": '{"logo.png": "logo@x.example"}', "full_text": "Hi\n\n> old"}
    linked = with_content_ids(files, meta)
    assert [f["content_id"] for f in linked] == ["logo@x.example", None]
    assert shown_html('<img src="cid:logo@x.example">', linked) == '<img src="/api/v1/attachments/3">'
    assert full_text(meta) == "Hi\n\n> old"
    # meta is written by connectors: anything malformed is ignored
    for bad in ("{", "[1]", '{"logo.png": 5}', 7):
        assert [f["content_id"] for f in with_content_ids(files, {"content_ids": bad})] == [None, None]
    assert full_text({}) is None and full_text({"full_text": ""}) is None
