"""The web pages in a real browser (Debian's Chromium) against a live server: a user logs in,
uploads jfk.flac, follows the job, reads along with the player, corrects a word, runs
diarization and renames a speaker, searches, manages API keys and logs out. Every page passes
axe-core without critical or serious violations; screenshots of each page are kept."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ..conftest import ffmpeg
from .conftest import PASSWORD, Site, make_account, serious_violations

#: A name that would run script if a page put it into HTML unescaped.
HOSTILE = '<img src=x onerror="window.__pwned=1">.flac'


def check(page: Page, site: Site, name: str) -> None:
    """Screenshot the page and run axe-core on it."""
    page.screenshot(path=str(site.artifacts / f"{name}.png"), full_page=True)
    assert serious_violations(page) == [], name


def readme_shot(page: Page, site: Site, name: str) -> None:
    """A small screenshot for the README (copied to docs/images by hand when the pages change)."""
    page.set_viewport_size({"width": 1024, "height": 640})
    page.screenshot(path=str(site.artifacts / f"readme-{name}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})


def log_in(page: Page, site: Site, email: str) -> None:
    page.goto(site.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/library$"))


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def wait_player_at(page: Page, seconds: float) -> None:
    """Wait until the player is at ``seconds`` (within 50 ms)."""
    try:
        page.wait_for_function(
            "t => Math.abs(document.getElementById('player').currentTime - t) < 0.05",
            arg=seconds,
            timeout=10_000,
        )
    except PlaywrightTimeout:
        state = page.evaluate("[document.getElementById('player').currentTime, "
                              "document.getElementById('player').duration, "
                              "document.activeElement.outerHTML.slice(0, 80)]")  # fmt: skip
        raise AssertionError(
            f"player not at {seconds}: (time, duration, focus) = {state}"
        ) from None


def test_a_user_works_through_the_pages(
    site: Site, page: Page, console: list[str], media: Path
) -> None:
    make_account(site, "ada@example.com")
    page.goto(site.url + "/library")
    expect(page).to_have_url(re.compile(r"/login$"))  # no session: the login page
    check(page, site, "login")
    log_in(page, site, "ada@example.com")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "trax_session"]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    check(page, site, "library-empty")

    upload_and_follow(page, site, [media / "jfk.flac", media / "hotwords.mp3"])
    start = read_along(page, site)
    correct_a_word(page, start)
    diarize_and_rename(page, site)
    correct_a_segment(page, site)
    fits_a_phone(page, site)
    search_and_land(page, site)
    create_use_and_revoke_a_key(page, site)
    nav(page, "Library")
    check(page, site, "library")
    readme_shot(page, site, "library")
    page.goto(site.url + "/library?limit=1")  # cursor paging, one transcript a page
    first = page.locator("table.library a").all_inner_texts()
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    second = page.locator("table.library a").all_inner_texts()
    assert sorted(first + second) == ["hotwords.mp3", "jfk.flac"]
    page.get_by_label("Stage").select_option("basic")  # the newest version's stage
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.library a")).to_have_text(["hotwords.mp3"])
    html_names_are_text(page, site)
    missing = page.goto(site.url + "/transcripts/no-such-id")
    assert missing is not None
    assert missing.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    check(page, site, "not-found")
    page.get_by_role("link", name="Back to the library").click()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(site.url + "/library")
    expect(page).to_have_url(re.compile(r"/login$"))
    # Expected: the refused webhook URL (422) and the missing transcript (404).
    unexpected = [e for e in console if " 422 " not in e and " 404 " not in e]
    assert unexpected == [], "\n".join(unexpected)


def upload_and_follow(page: Page, site: Site, paths: list[Path]) -> None:
    """The files go up with progress, then each job is followed to its end; the first one's
    transcript opens."""
    nav(page, "Upload")
    page.set_input_files("#files", paths)
    done = page.get_by_role("link", name="Done: open the transcript")
    expect(done).to_have_count(len(paths), timeout=120_000)
    names = page.locator("#uploads .name").all_inner_texts()
    assert sorted(names) == sorted(p.name for p in paths)
    check(page, site, "upload")
    page.locator("#uploads li", has_text=paths[0].name).get_by_role("link").click()


def read_along(page: Page, site: Site) -> float:
    """Click a word: the player goes to its start and it is highlighted; arrows seek."""
    expect(page.locator("h1")).to_have_text("jfk.flac")
    word = page.locator(".w", has_text="country").first
    start = float(word.get_attribute("data-start") or "nan")
    word.click()
    wait_player_at(page, start)
    expect(word).to_have_class(re.compile(r"\bcurrent\b"))
    page.locator("h1").click()  # keys act on the page, not in a field
    page.keyboard.press("ArrowLeft")
    wait_player_at(page, max(0.0, start - 5))
    page.keyboard.press("ArrowRight")
    wait_player_at(page, max(0.0, start - 5) + 5)
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.getElementById('player').paused")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('player').paused")
    check(page, site, "transcript")
    return start


def correct_a_word(page: Page, start: float) -> None:
    """A new version (edited) with the word at the same time, and its diff."""
    page.locator(".w", has_text="country").first.click()
    page.get_by_label("Correct the selected word").fill("<i>nation</i>")
    page.get_by_role("button", name="Save word").click()
    expect(page).to_have_url(re.compile(r"version=2"))
    edited = page.locator(".w", has_text="<i>nation</i>")
    expect(edited).to_have_count(1)
    assert float(edited.get_attribute("data-start") or "nan") == start
    assert page.locator("#text i").count() == 0  # shown as text, not markup
    expect(page.locator("tr.current-version")).to_contain_text("edited")
    page.get_by_role("button", name="Show changes").click()
    expect(page.locator("#diff del")).to_contain_text("country")
    expect(page.locator("#diff ins")).to_have_text("<i>nation</i>")


def diarize_and_rename(page: Page, site: Site) -> None:
    page.get_by_label("Stage on v2").select_option("diarized")
    page.get_by_role("button", name="Run").click()
    newest = page.get_by_role("link", name="show the result")
    newest.wait_for(timeout=120_000)
    newest.click()
    expect(page.locator("tr.current-version")).to_contain_text("diarized")
    page.get_by_label("New name for Speaker 1").fill("<b>Ada</b>")
    page.get_by_role("button", name="Rename").first.click()
    expect(page.locator(".seg .speaker").first).to_have_text("<b>Ada</b>")
    assert page.locator(".seg .speaker b").count() == 0
    check(page, site, "transcript-diarized")
    page.get_by_label("New name for <b>Ada</b>").fill("Ada")
    page.get_by_role("button", name="Rename").first.click()
    expect(page.locator(".seg .speaker").first).to_have_text("Ada")


def correct_a_segment(page: Page, site: Site) -> None:
    """A segment typed anew: a new version with the text, starting where the segment did."""
    first = page.locator(".seg").first
    start = first.get_attribute("data-start")
    first.locator("summary").click()
    text = "And so, my fellow Americans, ask not what your nation can do for you."
    first.get_by_label(re.compile("Text of the segment")).fill(text)
    first.get_by_role("button", name="Save").click()
    expect(page.locator("tr.current-version")).to_contain_text("edited")
    expect(page.locator(".seg .words").first).to_have_text(" " + text)
    assert page.locator(".seg").first.get_attribute("data-start") == start
    page.locator(".w", has_text="fellow").first.click()
    readme_shot(page, site, "transcript")


def fits_a_phone(page: Page, site: Site) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(site.artifacts / "transcript-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def search_and_land(page: Page, site: Site) -> None:
    """A phrase's hit opens the transcript at its time."""
    nav(page, "Search")
    page.get_by_label("Search transcripts").fill('"ask not"')
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".hits mark").first).to_contain_text(re.compile("ask", re.I))
    check(page, site, "search")
    hit = page.locator("a.hit").first
    found = re.search(r"t=([0-9.]+)", hit.get_attribute("href") or "")
    assert found
    hit.click()
    wait_player_at(page, float(found.group(1)))


def create_use_and_revoke_a_key(page: Page, site: Site) -> None:
    nav(page, "Account")
    page.get_by_role("button", name="Create an API key").click()
    key = page.locator("#new-key").inner_text()
    assert key.startswith("trx_")
    check(page, site, "account")
    with httpx.Client(base_url=site.url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {key}"}
        assert http.get("/api/v1/users/me", headers=auth).status_code == 200
        page.get_by_role("button", name=f"Revoke key {key[:8]}").click()
        expect(page.locator("tr.key")).to_have_count(0)
        assert http.get("/api/v1/users/me", headers=auth).status_code == 401

    # Webhooks: an unsafe URL is refused on the page; an endpoint is added (its secret shown
    # once) and deleted.
    page.get_by_label(re.compile("Endpoint URL")).fill("http://127.0.0.1:9/hook")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#hooks .error")).to_contain_text("127.0.0.1")
    page.get_by_label(re.compile("Endpoint URL")).fill("https://hooks.example.com/trax")
    page.get_by_label("Description").fill("<script>window.__pwned=1</script>")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#hooks .note code")).to_contain_text("whsec_")
    expect(page.locator(".hooks li")).to_contain_text("<script>window.__pwned=1</script>")
    check(page, site, "account-webhook")
    page.get_by_role("button", name="Delete webhook https://hooks.example.com/trax").click()
    expect(page.locator(".hooks li")).to_have_count(0)


def html_names_are_text(page: Page, site: Site) -> None:
    """Uploads reduce names to safe characters, so the hostile name is written to the row, as
    one from another source would be; the pages show it as text."""
    with sqlite3.connect(site.settings.data_dir.parent / "trax.db") as db:
        db.execute("UPDATE media SET filename = ? WHERE filename = 'jfk.flac'", (HOSTILE,))
    nav(page, "Library")
    expect(page.get_by_role("link", name=HOSTILE)).to_have_count(1)
    check(page, site, "library-hostile-name")
    page.get_by_role("link", name=HOSTILE).click()
    expect(page.locator("h1")).to_have_text(HOSTILE)
    assert page.evaluate("window.__pwned") is None


def test_captions_are_burned_into_a_video(
    site: Site, page: Page, console: list[str], media: Path, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=128x72:d=11", "-i", str(media / "jfk.flac"),
           "-shortest", "-c:v", "libx264", "-c:a", "aac", str(video))  # fmt: skip
    make_account(site, "cy@example.com")
    log_in(page, site, "cy@example.com")
    upload_and_follow(page, site, [video])
    expect(page.locator("video#player track[kind=captions]")).to_have_count(1)
    page.wait_for_function("() => document.getElementById('player').textTracks[0].cues?.length")
    check(page, site, "transcript-video")
    page.get_by_role("button", name="Burn captions into the video").click()
    page.get_by_role("link", name="show the result").click(timeout=120_000)
    download = page.get_by_role("link", name=re.compile("Video with captions"))
    answer = page.request.get(site.url + (download.get_attribute("href") or ""))
    assert answer.status == 200
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.body()[4:8] == b"ftyp"
    assert console == []
