"""crm-web in a real browser: sign-in, lockout, search as you type, the
person page, editing, CSRF, record scope and sign-out (docs/WEB.md)."""

import re
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import LOCKOUT_FAILURES, LOCKOUT_SECONDS, PASSWORD

REFUSAL = "Wrong name or password, or too many failed attempts"


def wait(driver, seconds=10):
    return WebDriverWait(driver, seconds)


def sign_in(driver, base, name, password=PASSWORD):
    driver.get(base + "/")
    wait(driver).until(EC.presence_of_element_located((By.ID, "signin-form")))
    driver.find_element(By.ID, "name").clear()
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "signin").click()


def signed_in_as(driver, name):
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "who"), name))


def refusal_text(driver):
    return wait(driver).until(EC.presence_of_element_located((By.ID, "signin-error"))).text


def session_cookie(driver):
    return next(c for c in driver.get_cookies() if c["name"] == "crm_session")


def fetch(base, path, cookie=None, data=None, origin=None):
    """(status, body, headers) of a request outside the browser."""
    headers = {}
    if cookie:
        headers["Cookie"] = "crm_session=" + cookie
    if origin:
        headers["Origin"] = origin
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(base + path, data=body, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_visitor_gets_the_sign_in_page(stack, page):
    page.get(stack.base + "/")
    assert page.title.startswith("Sign in")
    assert page.find_element(By.ID, "password").get_attribute("type") == "password"
    status, body, headers = fetch(stack.base, "/")
    assert status == 200 and 'id="signin-form"' in body
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("crm_signin=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    # Pages behind the sign-in send a visitor to it.
    assert fetch(stack.base, f"/people/{stack.people['ada']}")[0] == 303
    assert fetch(stack.base, "/people/search?q=Ada")[0] == 401


def test_wrong_password_and_unknown_name_get_the_same_answer(stack, page):
    sign_in(page, stack.base, "wes", "not the password")
    wrong = refusal_text(page)
    assert REFUSAL in wrong
    sign_in(page, stack.base, "nobody-at-all", "not the password")
    assert refusal_text(page) == wrong
    assert not [c for c in page.get_cookies() if c["name"] == "crm_session"]
    # The right password still works after one failure.
    sign_in(page, stack.base, "wes")
    signed_in_as(page, "wes")


def test_lockout_after_repeated_failures_and_cool_down(stack, page):
    for _ in range(LOCKOUT_FAILURES):
        sign_in(page, stack.base, "lou", "wrong password")
        assert REFUSAL in refusal_text(page)
    locked_at = time.monotonic()
    # Locked: the right password is refused too, with the same words.
    sign_in(page, stack.base, "lou")
    assert REFUSAL in refusal_text(page)
    # An unknown name locks the same way, so locking tells no one it exists.
    for _ in range(LOCKOUT_FAILURES + 1):
        sign_in(page, stack.base, "nobody-else", "wrong password")
        assert REFUSAL in refusal_text(page)
    time.sleep(max(0, LOCKOUT_SECONDS + 0.5 - (time.monotonic() - locked_at)))
    sign_in(page, stack.base, "lou")
    signed_in_as(page, "lou")


def test_sign_in_sets_a_strict_http_only_session_cookie(stack, page):
    sign_in(page, stack.base, "rae")
    signed_in_as(page, "rae")
    cookie = session_cookie(page)
    assert re.fullmatch(r"[0-9a-f]{64}", cookie["value"])  # 256 random bits
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # no TLS and no --secure-cookies here
    assert page.find_element(By.ID, "search").get_attribute("autofocus") is not None


def test_search_as_you_type(stack, page):
    sign_in(page, stack.base, "rae")
    signed_in_as(page, "rae")
    box = page.find_element(By.ID, "search")
    for ch in "Lov":
        box.send_keys(ch)
        time.sleep(0.05)
    link = wait(page).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#results li a")))
    assert link.text == "Ada Lovelace"
    assert page.current_url.rstrip("/") == stack.base  # no submit: the script asked
    # Sam's Grace is outside rae's scope: search does not find her.
    box.clear()
    box.send_keys("Hop")
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "results"), "No one found."))
    box.clear()
    box.send_keys("ada@eng")
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "results"), "Ada Lovelace"))
    page.find_element(By.CSS_SELECTOR, "#results li a").click()
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "person-name"), "Ada Lovelace"))


def test_person_page_fields_tags_custom_fields_and_timeline(stack, page):
    sign_in(page, stack.base, "rae")
    signed_in_as(page, "rae")
    ada = stack.people["ada"]
    page.get(f"{stack.base}/people/{ada}?size=4")
    assert page.find_element(By.ID, "person-name").text == "Ada Lovelace"
    assert "ada@engines.example (work)" in page.find_element(By.ID, "field-emails").text
    assert page.find_element(By.ID, "field-owner").text == "rae"
    assert [t.text for t in page.find_elements(By.CSS_SELECTOR, "#tags li")] == ["vip", "engines"]
    assert page.find_element(By.ID, "custom-budget").text == "1200.50"
    assert "Budget" in page.find_element(By.ID, "custom-fields").text
    # The timeline, newest first, a page of 4 with counts per kind, then older pages by page token.
    deadline = time.monotonic() + 10
    while len(page.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")) < 4 and time.monotonic() < deadline:
        time.sleep(0.3)
        page.refresh()
    def sequences():
        return [int(r.get_attribute("data-sequence")) for r in page.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")]
    first = sequences()
    assert len(first) == 4 and first == sorted(first, reverse=True)
    counts = page.find_element(By.ID, "timeline-counts").text
    assert "contacts." in counts
    assert sum(int(n.text) for n in page.find_elements(By.CSS_SELECTOR, "#timeline-counts .count")) == 4
    page.find_element(By.ID, "timeline-older").click()
    wait(page).until(EC.presence_of_element_located((By.ID, "timeline-newest")))
    second = sequences()
    assert second and max(second) < min(first)  # older entries, none repeated
    # Seven entries (a create and six updates): the second page of 4 is the last.
    assert len(second) == 3 and not page.find_elements(By.ID, "timeline-older")
    assert "contacts.contact.created" in page.find_element(By.ID, "timeline").text


def test_edit_shows_the_validation_error_next_to_the_field(stack, page):
    sign_in(page, stack.base, "rae")
    signed_in_as(page, "rae")
    ada = stack.people["ada"]
    page.get(f"{stack.base}/people/{ada}")
    page.find_element(By.ID, "edit").click()
    emails = wait(page).until(EC.presence_of_element_located((By.ID, "emails")))
    emails.clear()
    emails.send_keys("not-an-email")
    page.find_element(By.ID, "save").click()
    error = wait(page).until(EC.presence_of_element_located((By.ID, "error-emails")))
    assert "not an email address" in error.text
    # Next to its field: the error follows the emails box in the same field block, which is marked invalid.
    block = error.find_element(By.XPATH, "..")
    assert block.find_element(By.ID, "emails").get_attribute("aria-invalid") == "true"
    assert page.find_element(By.ID, "emails").get_attribute("value") == "not-an-email"  # what was typed is kept
    assert not page.find_elements(By.ID, "error-job_title")
    page.save_screenshot(stack.dir + "/edit-error.png")
    # A bad custom field value is shown next to its own field.
    emails = page.find_element(By.ID, "emails")
    emails.clear()
    emails.send_keys("ada@engines.example")
    budget = page.find_element(By.ID, "custom_fields-budget")
    budget.clear()
    budget.send_keys("lots")
    page.find_element(By.ID, "save").click()
    error = wait(page).until(EC.presence_of_element_located((By.ID, "error-custom_fields-budget")))
    assert "not a decimal number" in error.text
    # Fixed, the edit is saved and the person page shows it.
    budget = page.find_element(By.ID, "custom_fields-budget")
    budget.clear()
    budget.send_keys("1500")
    title = page.find_element(By.ID, "job_title")
    title.clear()
    title.send_keys("Chief Analyst")
    page.find_element(By.ID, "save").click()
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "field-job_title"), "Chief Analyst"))
    assert page.find_element(By.ID, "custom-budget").text == "1500"
    assert "ada@engines.example (work)" in page.find_element(By.ID, "field-emails").text  # its label kept
    assert stack.call("GetPerson", {"id": str(ada)})["jobTitle"] == "Chief Analyst"


def test_csrf_a_post_without_the_token_or_from_another_origin_is_refused(stack, page):
    sign_in(page, stack.base, "rae")
    signed_in_as(page, "rae")
    ada = stack.people["ada"]
    before = stack.call("GetPerson", {"id": str(ada)})
    # From the page itself (same origin, with the session cookie) but without the token.
    status = page.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: "POST", credentials: "same-origin",
              headers: {"Content-Type": "application/x-www-form-urlencoded"},
              body: "first_name=Mallory&last_name=X&version=" + arguments[1]})
          .then(r => done(r.status)).catch(e => done(String(e)));
    """, f"/people/{ada}/edit", before["version"])
    assert status == 403
    # With the right token and cookie but from another site's page: the Origin check refuses it.
    cookie = session_cookie(page)["value"]
    token = page.find_element(By.CSS_SELECTOR, "meta[name=csrf-token]").get_attribute("content")
    form = {"csrf": token, "first_name": "Mallory", "last_name": "X", "version": before["version"]}
    assert fetch(stack.base, f"/people/{ada}/edit", cookie, form, origin="http://evil.example")[0] == 403
    assert fetch(stack.base, f"/people/{ada}/edit", cookie, form)[0] == 403  # no Origin, no Referer
    # Sign-out is a POST too.
    assert fetch(stack.base, "/signout", cookie, {}, origin=stack.base)[0] == 403
    after = stack.call("GetPerson", {"id": str(ada)})
    assert after["firstName"] == "Ada" and after["version"] == before["version"]
    # The same form with everything right goes through (the check is not refusing everything).
    form.update({"first_name": "Ada", "last_name": "Lovelace", "emails": "ada@engines.example",
                 "job_title": after["jobTitle"], "tags": "vip, engines", "custom_fields.budget": "1500"})
    status, _, headers = fetch(stack.base, f"/people/{ada}/edit", cookie, form, origin=stack.base)
    assert status == 303 and headers["Location"] == f"/people/{ada}"


def test_a_sales_rep_does_not_see_another_reps_person(stack, page):
    sign_in(page, stack.base, "rae")
    signed_in_as(page, "rae")
    grace = stack.people["grace"]
    page.get(f"{stack.base}/people/{grace}")
    assert page.find_element(By.ID, "error-title").text == "Not found"
    assert page.find_element(By.ID, "error-status").text == "NOT_FOUND"
    assert "Hopper" not in page.page_source
    cookie = session_cookie(page)["value"]
    assert fetch(stack.base, f"/people/{grace}", cookie)[0] == 404
    assert fetch(stack.base, f"/people/{grace}/edit", cookie)[0] == 404
    # Her own rep and the manager do see her.
    page.delete_all_cookies()
    sign_in(page, stack.base, "sam")
    signed_in_as(page, "sam")
    page.get(f"{stack.base}/people/{grace}")
    assert page.find_element(By.ID, "person-name").text == "Grace Hopper"
    page.delete_all_cookies()
    sign_in(page, stack.base, "mia")
    signed_in_as(page, "mia")
    page.get(f"{stack.base}/people/{grace}")
    assert page.find_element(By.ID, "person-name").text == "Grace Hopper"


def test_a_web_user_without_a_crm_user_gets_a_clear_refusal(stack, page):
    sign_in(page, stack.base, "ghost")
    signed_in_as(page, "ghost")
    page.get(f"{stack.base}/people/{stack.people['ada']}")
    assert page.find_element(By.ID, "error-title").text == "Not allowed"
    assert "crm-user ghost is not a CRM user" in page.page_source
    assert fetch(stack.base, f"/people/{stack.people['ada']}", session_cookie(page)["value"])[0] == 403


def test_sign_out_ends_the_session(stack, page):
    sign_in(page, stack.base, "rae")
    signed_in_as(page, "rae")
    old = session_cookie(page)["value"]
    page.find_element(By.ID, "signout").click()
    wait(page).until(EC.presence_of_element_located((By.ID, "signin-form")))
    assert not [c for c in page.get_cookies() if c["name"] == "crm_session"]
    # The old id is dead on the server, not only forgotten by the browser.
    status, body, _ = fetch(stack.base, "/", old)
    assert status == 200 and 'id="signin-form"' in body
    assert fetch(stack.base, f"/people/{stack.people['ada']}", old)[0] == 303


def test_idle_and_absolute_session_expiry(stack, page):
    base = stack.start_web(session_idle_seconds=2, session_max_seconds=4)
    sign_in(page, base, "rae")
    signed_in_as(page, "rae")
    cookie = session_cookie(page)["value"]
    time.sleep(1)
    assert fetch(base, "/", cookie)[1].count('id="who"') == 1  # used within the idle time: alive
    time.sleep(2.5)
    assert 'id="signin-form"' in fetch(base, "/", cookie)[1]  # idle too long
    sign_in(page, base, "rae")
    signed_in_as(page, "rae")
    cookie = session_cookie(page)["value"]
    for _ in range(5):  # busy, never idle, but past its absolute lifetime
        time.sleep(1)
        body = fetch(base, "/", cookie)[1]
    assert 'id="signin-form"' in body
