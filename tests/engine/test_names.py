"""Name words (worker/engine/names.py): an alert's text finds the runbook named after the alert."""

from __future__ import annotations

from worker.documents.document import Chunk, Document
from worker.engine.names import (
    cleared_words,
    guessed_words,
    heading_scores,
    name_scores,
    stem,
    without_cleared,
    without_guesses,
    word_stems,
)


def _runbook(name: str) -> Document:
    return Document(f"runbook:alerts/{name}.md", name, "", kind="runbook", link=f"alerts/{name}.md")


def test_names_are_read_as_stemmed_words() -> None:
    assert word_stems("PrometheusRuleFailures") == {"prometheu", "rule", "fail"}
    assert word_stems("Prometheus is failing rule evaluations") == {"prometheu", "fail", "rule", "evaluation"}
    assert stem("failure") == "fail" and stem("pure") == "pure"


def test_the_runbook_whose_name_the_alert_text_paraphrases_scores_highest() -> None:
    documents = [_runbook(n) for n in ("PrometheusRuleFailures", "PrometheusTargetDown", "TargetDown",
                                       "KubeletDown")]
    chunks = [Chunk(d, "text", 1, 1) for d in documents]
    scores = name_scores("Prometheus is failing rule evaluations. Prometheus has failed to evaluate 42 rules.",
                         chunks)
    assert int(scores.argmax()) == 0 and scores[0] == 1.0
    assert scores[1] < 0.5 and scores[2] == 0.0, "a name shares one word of three with the text"
    assert name_scores("Kubelet has disappeared from discovery", chunks).argmax() == 3


def test_one_document_gets_nothing_from_its_name() -> None:
    log = Document("file:checkout-api.log", "checkout-api.log", "", kind="log")
    chunks = [Chunk(log, "a", 1, 1), Chunk(log, "b", 2, 2)]
    assert name_scores("why did checkout-api fail?", chunks).tolist() == [0.0, 0.0]


def test_a_section_whose_heading_the_question_asks_for_scores_by_its_heading_s_rare_words() -> None:
    """"bounce the workers" asks for the "Restart" section (a synonym); a heading that every runbook has
    ("Alerts") counts for less; a log has no headings."""
    text = ("# Transcoder\n## Alerts\nTranscodeBacklog\n## Queue backs up\nscale the workers\n"
            "## Restart\ndrain first: `transcodectl workers drain --all`\n")
    other = "# Resizer\n## Alerts\nResizerErrors\n## Cache misses\nwarm the cache\n"
    transcoder = Document("runbook:transcoder.md", "Transcoder", text, kind="runbook")
    resizer = Document("runbook:resizer.md", "Resizer", other, kind="runbook")
    log = Document("file:app.log", "app.log", "restart\n", kind="log")
    chunks = [Chunk(transcoder, "TranscodeBacklog", 3, 3), Chunk(transcoder, "scale the workers", 5, 5),
              Chunk(transcoder, "drain first", 7, 7), Chunk(resizer, "ResizerErrors", 3, 3),
              Chunk(resizer, "warm the cache", 5, 5), Chunk(log, "restart", 1, 1)]
    scores = heading_scores("need to bounce the encoding workers, how do I not lose jobs?", chunks)
    assert int(scores.argmax()) == 2 and scores[2] == 1.0
    assert scores[0] == 0.0 and scores[3] == 0.0 and scores[5] == 0.0
    alerts = heading_scores("what alerts fire?", chunks)
    assert alerts[0] == alerts[3] and 0 < alerts[0] < scores[2]  # 2 sections of 5 have it, 1 has "Restart"
    assert alerts[[1, 2, 4, 5]].tolist() == [0.0] * 4


def test_what_the_question_says_is_working_is_no_reason_to_answer_from_its_runbook() -> None:
    """"fhir api looks healthy" rules the FHIR API out: its name and its heading words do not count."""
    documents = [Document("runbook:clinical/fhir-gateway.md", "FHIR gateway (fhir-api)", "", kind="runbook"),
                 Document("runbook:clinical/hl7-interface.md", "HL7 interface engine (Mirth)", "", kind="runbook")]
    chunks = [Chunk(d, "text", 1, 1) for d in documents]
    assert cleared_words("new admissions aren't showing, fhir api looks healthy. where do i start") == {"fhir", "api"}
    assert cleared_words("dashboards are behind but the collector looks healthy") == {"collector"}
    assert cleared_words("why is the fhir api slow?") == frozenset()
    assert cleared_words("site says DNF. finish read is there on the timing side") == {"tim"}  # present there
    assert cleared_words("the order is all there on the warehouse end, not in the app") == {"warehouse"}
    assert cleared_words("stations look fine, latency fine on the seedlink dash, but the M3.1 came out quality D"
                         ) == {"station", "seedlink"}  # fine on its dashboard
    assert cleared_words("latency not fine on the seedlink dash") == frozenset()
    assert cleared_words("trips arent on their acct yet. how much lag is ok before i panic") == frozenset()  # asks
    assert cleared_words("printers idle, stuff waiting for hours. slicer backlog is basically empty so its not that"
                         ) == {"slicer"}  # ruled out
    assert cleared_words("the queue is long so its not that bad, but fhir api is slow") == frozenset()
    assert name_scores("admissions aren't showing in the app, fhir api looks healthy", chunks).tolist() == [0.0, 0.0]
    assert name_scores("admissions aren't showing in the fhir api", chunks)[0] > 0


def test_a_team_the_question_quotes_is_not_the_one_asked_about() -> None:
    """"wave planner oncall says their side looks normal": the asker reports what another team told them."""
    assert cleared_words("bots sit idle, wave planner oncall says their side looks normal") == {"wave", "planner"}
    assert cleared_words("viewers get LIC-404-KID, the license folks say the kid isn't in their keystore") == {
        "license"}
    assert cleared_words("the search team owns the indexer, what does it say?") == frozenset()  # quotes nobody


def test_the_parts_of_a_dotted_name_are_not_the_question_s_words() -> None:
    """"3 booking.com guests" names the travel site, not the booking engine."""
    documents = [Document("runbook:hospitality/booking-engine.md", "Direct booking engine (bookit)", "",
                          kind="runbook"),
                 Document("runbook:hospitality/channel-manager.md", "Channel manager (chanman)", "", kind="runbook")]
    chunks = [Chunk(d, "text", 1, 1) for d in documents]
    assert name_scores("3 booking.com guests for one room, how do i stop more coming in", chunks).tolist() == [0, 0]
    assert name_scores("the booking engine shows no rooms", chunks)[0] > 0


def test_a_guess_at_the_system_is_left_out_of_what_the_question_asks() -> None:
    """Retrieval reads the symptoms, not the system the asker guesses at ("recall job thing broken?")."""
    question = "red cell units still quarantined, lab says results are done. recall job thing broken?"
    assert without_guesses(question) == "red cell units still quarantined, lab says results are done "
    assert without_guesses("is it the db again?") == "is it the db again?"  # nothing else to ask with
    assert without_guesses("site slow, db down?") == "site slow, db down?"  # too little else
    assert without_guesses("no new agency copy in desk view for 20 min, inkwell publish queue jammed again?") == (
        "no new agency copy in desk view for 20 min ")
    assert without_guesses("why is the db slow?") == "why is the db slow?"


def test_what_the_question_says_is_working_is_left_out_of_what_it_asks() -> None:
    """Retrieval reads the question without the clauses that say what is working: the seedlink dashboard that
    looks fine says nothing of what went wrong."""
    question = "stations look healthy, latency fine on the seedlink dash, but the M3.1 came out quality D. reprocess?"
    assert without_cleared(question) == ", latency , but the M3.1 came out quality D. reprocess?"
    assert without_cleared("why is the fhir api slow?") == "why is the fhir api slow?"
    assert without_cleared("how much lag is ok before i panic") == "how much lag is ok before i panic"
    assert without_cleared("8 pens stopped feeding, DO looks normal on grafana") == "8 pens stopped feeding on grafana"
    assert without_cleared("fhir api looks healthy") == "fhir api looks healthy"  # nothing else to ask with
    assert cleared_words("pallet probed at -11, can i override? reefer data says fine") == {"reefer", "data"}


def test_a_system_the_question_only_guesses_at_is_no_reason_to_answer_from_its_runbook() -> None:
    """"is the irrigation controller borked or what": the asker does not know which system it is; the symptoms say."""
    documents = [Document("runbook:greenhouse/irrigation-controller.md", "Irrigation controller", "", kind="runbook"),
                 Document("runbook:greenhouse/fertigation-controller.md", "Fertigation controller", "", kind="runbook")]
    chunks = [Chunk(d, "text", 1, 1) for d in documents]
    question = "ec at the bay1 drippers way off target. is the irrigation controller borked or what"
    assert guessed_words(question) == {"irrigation", "controller"}
    assert name_scores(question, chunks).tolist() == [0.0, 0.0]
    assert guessed_words("thermostats stuck on DOWNLOADING. is this the mqtt broker again?") == {"mqtt", "broker"}
    assert guessed_words("is the payout side down?") == {"payout"}
    assert guessed_words("8 pens stopped feeding at once, oxyguard acting up again or what") == {"oxyguard"}
    assert guessed_words("is it safe to just switch off auto approvals?") == frozenset()
    assert guessed_words("tasks land in vendor-b's queue?? is the auditor mis-sampling or what") == {"auditor"}
    assert guessed_words("units still quarantined hours after the results. recall job thing broken?") == {
        "recall", "job"}  # a guess after the symptoms, without "is"
    assert guessed_words("no audit samples for 25 min, restart the workers? also is the router affected") == {
        "router"}  # what it asks about besides: the problem is elsewhere
    assert guessed_words("is anyone else affected?") == frozenset()
    assert guessed_words("recall job broken?") == frozenset()  # nothing else said: it names the system
    assert guessed_words("kids say the listening clips just spin forever, is placement engine down") == {
        "placement", "engine"}  # asked without a question mark
    assert guessed_words("lane 7 keeps giving ppl strikes. is the booking system messing w the scores??") == {"book"}
    assert guessed_words("board still shows it in retort. is the temp monitor thing not sending cooldown??") == {
        "temp", "monitor"}
    assert guessed_words("members get no wax, gate log says it sent the code fine tho. plate cam thing broken or "
                         "what") == {"plate", "cam"}
    assert guessed_words("why is the queue stuck") == frozenset()  # it says the queue is stuck
    assert guessed_words("clock stopped on my gm screen AND on the room tv. roomcast died??") == {"roomcast"}
    assert guessed_words("showclock broke?? 14:00 show, dome is completely dark, 180 ppl sitting there") == {
        "showclock"}  # first, with the symptoms after it
    # "zk problem??" under a log's symptoms points at what the log shows, not at a system the asker only guesses at
    assert guessed_words("diff counts on every refresh. zk problem??") == frozenset()
    assert guessed_words("is the queue growing?") == frozenset()  # a symptom, not a system it suspects
    assert name_scores("the irrigation controller is down, bays are dry", chunks)[0] > 0  # said, not guessed


def test_a_runbook_whose_own_tool_the_question_uses_is_named() -> None:
    """"lmictl rejects is all unknown_imei": the gateway's tool names the gateway as its name would; not a tool that
    both runbooks use, nor one of a system the question only guesses at."""
    gateway = Document("runbook:cranehire/lmi-gateway.md", "lmi-gateway", "## Rejects\n\n1. `lmictl rejects --since "
                       "30m`\n2. `lmictl status --all`\n", kind="runbook")
    holds = Document("runbook:cranehire/windhold.md", "windhold", "## Holds\n\n1. `whctl crane TC-1 --explain`\n"
                     "2. `whctl consumer lag`\n", kind="runbook")
    chunks = [Chunk(gateway, "a", 1, 1), Chunk(holds, "b", 1, 1)]
    assert name_scores("windhold says NO_DATA for TC-0521. lmictl rejects is all unknown_imei", chunks).tolist() == [
        1.0, 1.0]
    assert name_scores("windhold says NO_DATA for TC-0521", chunks).tolist() == [0.0, 1.0]
    assert name_scores("is lmi-gateway broken again?? cab tablet says WIND HOLD. lmictl shows frames from 3s ago",
                       chunks).tolist() == [0.0, 0.0]
    # the tool quoted saying all is fine: its runbook is ruled out, not named
    assert name_scores("TC-0412 on HOLD again. lmictl on crn-tel-01 says frames + imeis are all fine. why the hold?",
                       chunks).tolist() == [0.0, 0.0]
    assert {"lmictl", "frame", "imei"} <= cleared_words("lmictl on crn-tel-01 says frames + imeis are all fine")
    both = Document("runbook:cranehire/other.md", "other", "1. `lmictl status`\n2. `lmictl rejects`\n", kind="runbook")
    assert name_scores("lmictl rejects is all unknown_imei", [*chunks, Chunk(both, "c", 1, 1)]).tolist() == [
        0.0, 0.0, 0.0]
