"""The "your devices" example in two real (headless Chromium) browsers:
sign in on both, see two devices, sign the other location out, and the
first browser is signed out on its next page load."""

from selenium.common.exceptions import (StaleElementReferenceException,
                                        WebDriverException)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

import sessiond

from devices_app import SIGNED_OUT_BECAUSE, ago, describe_device, \
    signed_out_message

# A click starts a page load; elements read while it replaces the page go
# stale, so waits that read the page retry instead of failing.
# Chromium sometimes reports a node replaced by the page's reload as an
# "unhandled inspector error" (a WebDriverException) instead of a stale
# element: both mean "look again"; the wait still fails after its timeout.
STALE = (StaleElementReferenceException, WebDriverException)


def sign_in(browser, url, user, password):
    browser.get(url + "/")
    WebDriverWait(browser, 10).until(EC.url_contains("/login"))
    browser.find_element(By.ID, "user").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, 10).until(EC.url_contains("/devices"))


def device_rows(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#devices tbody tr")


def flashes(browser):
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".flash")]


def server_gives_reasons(server):
    """Whether this sessiond says why a session was revoked (REVOKED
    details): asked with two sessions of a throwaway user."""
    client = server.client()
    try:
        one = client.login(client.create().cookie, "reason-probe")
        two = client.login(client.create().cookie, "reason-probe")
        client.revoke_others(two.cookie)
        try:
            client.load(one.cookie)
        except sessiond.Revoked as e:
            return e.reason is not None
        return False
    finally:
        client.close()


def test_sign_out_all_other_locations(app_url, new_browser,
                                      sessiond_for_example):
    first, second = new_browser(), new_browser()

    sign_in(first, app_url, "alice", "wonderland")
    assert flashes(first) == ["Signed in as alice."]
    assert first.find_element(By.ID, "user").text == "alice"
    rows = device_rows(first)
    assert len(rows) == 1 and "this device" in rows[0].text
    assert "Chrome" in rows[0].text and "127.0.0.1" in rows[0].text
    assert "just now" in rows[0].text  # last seen and signed in
    assert "unknown" not in rows[0].text  # sessiond knows the sign-in time
    # The flash is shown exactly once.
    first.refresh()
    assert flashes(first) == []

    sign_in(second, app_url, "alice", "wonderland")
    rows = device_rows(second)
    assert len(rows) == 2
    assert [("this device" in r.text) for r in rows].count(True) == 1
    assert len(second.find_elements(By.CSS_SELECTOR, "tr.current")) == 1

    second.find_element(By.ID, "sign-out-others").click()
    WebDriverWait(second, 10, ignored_exceptions=STALE).until(
        lambda b: "Signed out 1 other location." in flashes(b))
    rows = device_rows(second)
    assert len(rows) == 1 and "this device" in rows[0].text

    # The first browser still holds its cookie, but its session has ended,
    # and the page says why (when sessiond records the reason).
    first.refresh()
    WebDriverWait(first, 10).until(EC.url_contains("/login"))
    if server_gives_reasons(sessiond_for_example):
        assert SIGNED_OUT_BECAUSE["signed_out_elsewhere"] in flashes(first)
    else:
        assert "Please sign in." in flashes(first)
    first.refresh()  # said once: the dead cookie was deleted
    assert flashes(first) == []
    # ...while the second one stays signed in.
    second.refresh()
    assert second.find_element(By.ID, "user").text == "alice"


def test_wrong_password_and_sign_out(app_url, new_browser):
    browser = new_browser()
    browser.get(app_url + "/login")
    browser.find_element(By.ID, "user").send_keys("bob")
    browser.find_element(By.ID, "password").send_keys("not-his-password")
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, 10, ignored_exceptions=STALE).until(
        lambda b: "Wrong user name or password." in flashes(b))
    assert "/login" in browser.current_url

    sign_in(browser, app_url, "bob", "builder")
    browser.find_element(By.ID, "sign-out").click()
    WebDriverWait(browser, 10).until(EC.url_contains("/login"))
    assert "Signed out." in flashes(browser)
    browser.get(app_url + "/devices")
    WebDriverWait(browser, 10).until(EC.url_contains("/login"))


def test_signed_out_messages():
    assert signed_out_message(None) is None
    assert "another device" in signed_out_message("signed_out_elsewhere")
    assert "password" in signed_out_message("password_changed")
    assert signed_out_message("something_new") == "Your session was ended."


def test_device_labels():
    assert describe_device(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/120.0 Safari/537.36") == "Chrome on Linux"
    assert describe_device("Mozilla/5.0 (Windows NT 10.0; rv:120.0) "
                           "Gecko/20100101 Firefox/120.0") == "Firefox on Windows"
    assert describe_device("") == "Unknown browser"
    assert ago(1000, now=1030) == "just now"
    assert ago(1000, now=1000 + 7200) == "2 h ago"
