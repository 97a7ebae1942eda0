"""The public survey page (docs/WEB.md "Survey links"): a requester opens the
link from a solved ticket's invitation in a real browser and answers; a GET
changes nothing, a bad link is a plain 404, and crmd's refusal of an answer
is shown on the form."""

import json
import urllib.parse

import pytest
from selenium.webdriver.common.by import By

from test_web import fetch

SURVEYS = "/crm.service.v1.Surveys/"


def call(stack, method, request):
    return json.loads(stack.crmctl("call", method, json.dumps(request)))


@pytest.fixture(scope="module")
def survey_site(stack):
    """A crm-web that answers survey links as `edge`, and a solved ticket's link."""
    stack.crmctl("access", "roles", "--add", "survey_edge", "--description", "Web edge: survey links",
                 "--permission", "service.survey.respond=all")
    stack.crmctl("access", "users", "--add", "edge")
    stack.crmctl("access", "grant", "edge", "survey_edge")
    base = stack.start_web(survey_user="edge")
    call(stack, SURVEYS + "CreateSurvey", {"survey": {
        "name": "How did we do?", "isDefault": True, "active": True, "questions": [
            {"key": "csat", "kind": "SURVEY_QUESTION_KIND_CSAT", "prompt": "How satisfied are you?", "required": True},
            {"key": "comment", "kind": "SURVEY_QUESTION_KIND_TEXT", "prompt": "Anything else?"}]},
        "idempotencyKey": "web-survey-1"})
    ticket = call(stack, "/crm.service.v1.Service/CreateTicket", {"ticket": {
        "subject": "Printer <on fire>", "requesterId": str(stack.people["grace"])}})
    call(stack, "/crm.service.v1.Service/SetTicketStatus", {"id": ticket["id"], "status": "SOLVED"})
    invitation = call(stack, SURVEYS + "ListSurveyInvitations", {"ticketId": ticket["id"]})["invitations"][0]
    token = urllib.parse.parse_qs(urllib.parse.urlparse(invitation["link"]).query)["t"][0]
    return {"base": base, "token": token, "invitation": invitation["id"]}


def answers(stack, invitation):
    return call(stack, SURVEYS + "GetSurveyInvitation", {"id": invitation}).get("answers", [])


def test_a_requester_answers_the_survey_in_the_browser(stack, page, survey_site):
    base, token = survey_site["base"], survey_site["token"]
    page.get(base + "/service/survey?t=" + token)
    assert page.find_element(By.ID, "survey-title").text == "How did we do?"
    # The subject is crmd's text, escaped: shown as written, not as markup.
    assert "Printer <on fire>" in page.find_element(By.CLASS_NAME, "survey-ticket").text
    assert answers(stack, survey_site["invitation"]) == [], "opening the link changes nothing"
    page.find_element(By.CSS_SELECTOR, "input[name=q_csat][value='5']").click()
    page.find_element(By.ID, "q_comment").send_keys("Quick and kind")
    page.find_element(By.ID, "survey-submit").click()
    assert page.find_element(By.ID, "survey-thanks").text == "Thank you"
    recorded = {a["questionKey"]: a for a in answers(stack, survey_site["invitation"])}
    assert recorded["csat"]["score"] == 5 and recorded["comment"]["text"] == "Quick and kind"
    # Back on the form, the answers given are there to change.
    page.get(base + "/service/survey?t=" + token)
    assert page.find_element(By.CSS_SELECTOR, "input[name=q_csat][value='5']").is_selected()


def test_a_wrong_link_is_a_plain_404_and_a_refused_answer_is_shown(stack, page, survey_site):
    base, token = survey_site["base"], survey_site["token"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, body, _ = fetch(base, "/service/survey?t=" + tampered)
    assert status == 404 and "not valid or has expired" in body
    assert fetch(base, "/service/survey")[0] == 404, "no token at all"
    # The required CSAT left out: crmd's message on the form, with a 400.
    status, body, _ = fetch(base, "/service/survey", data={"t": token, "q_comment": "no score"}, origin=base)
    assert status == 400 and 'id="survey-error"' in body and "csat" in body
    # From another site's page the POST is refused before crmd is asked.
    assert fetch(base, "/service/survey", data={"t": token, "q_csat": "1"}, origin="http://evil.example")[0] == 403
    recorded = {a["questionKey"]: a for a in answers(stack, survey_site["invitation"])}
    assert recorded.get("csat", {}).get("score") != 1
    # The console without --survey-user serves no survey page.
    assert fetch(stack.base, "/service/survey?t=" + token)[0] == 404
