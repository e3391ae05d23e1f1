"""The built docs site loads nothing from other hosts (ADR-0020).

``make docs`` runs :mod:`tests.docs.site_check` on ``site/`` after every build; these
tests prove the checker flags each kind of external asset and ignores plain links.
"""

from __future__ import annotations

from pathlib import Path

from tests.docs import site_check


def test_external_assets_are_flagged() -> None:
    html = """<html><head>
    <link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">
    <link rel="preconnect" href="//fonts.gstatic.com">
    <script src="https://cdn.jsdelivr.net/npm/x.js"></script>
    <style>@import "https://cdn.example/x.css"; body{background:url(https://cdn.example/a.png)}</style>
    </head><body><img src="http://img.example/a.png"><iframe src="https://x.example/"></iframe>
    </body></html>"""
    found = site_check.external_assets_in_html(html)
    assert len(found) == 7, found


def test_local_assets_and_plain_links_pass() -> None:
    html = """<link rel="stylesheet" href="../assets/main.css"><script src="assets/x.js"></script>
    <link rel="canonical" href="https://example.github.io/x/"><a href="https://github.com/">gh</a>
    <img src="data:image/png;base64,AAAA">"""
    assert site_check.external_assets_in_html(html) == []


def test_site_with_a_cdn_script_fails(tmp_path: Path, capsys) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/index.html").write_text('<script src="https://cdn.example/x.js"></script>')
    (tmp_path / "a/style.css").write_text("p{background:url('//cdn.example/b.png')}")
    assert site_check.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "a/index.html: loads <script src=https://cdn.example/x.js>" in err
    assert "a/style.css: loads //cdn.example/b.png" in err
    assert "the site must work offline" in err


def test_clean_or_missing_site(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<script src="x.js"></script>')
    assert site_check.main([str(tmp_path)]) == 0
    assert site_check.main([str(tmp_path / "nope")]) == 2
