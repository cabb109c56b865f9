"""Redirects (worker/engine/redirects.py): words a runbook uses only where it sends a case elsewhere."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.default import Evidence
from worker.engine.redirects import redirect_scores, redirects

KYC = """# Seller identity verification (KYC)

`kyc-gateway` sends the seller's ID document to the vendor and sends unclear cases to the manual review
queue of the onboarding team. Scoring orders for fraud at checkout is a different system (the fraud scoring
runbook), even though both use the words "score" and "manual review".

## Manual review queue too long

1. Cases go to manual review when the vendor's score is below `kyc.auto_approve_min_score: 0.85`.
"""
FRAUD = """# Order fraud scoring

Checkout calls `riskscore` for every order. Orders in the review band go to the manual review queue.

## Declines suddenly up

1. Check whether a rule changed in the last hour: `riskctl rules diff --last`.
"""


def _runbook(path: str, text: str) -> Document:
    return Document(f"runbook:{path}", text.split("\n", 1)[0].lstrip("# "), text, kind="runbook", link=path)


def test_the_words_a_runbook_uses_only_to_send_a_case_elsewhere() -> None:
    (every, words), = redirects(_runbook("trust/kyc.md", KYC)).sentences
    assert {"checkout", "fraud", "order"} <= words and "fraud" in every
    assert not {"manual", "review", "queue", "seller", "score"} & words, "used in its own sentences too"
    assert not {"different", "system", "runbook", "both"} & words, "the cue's words, and short or function words"
    assert redirects(_runbook("trust/fraud.md", FRAUD)).sentences == (), "it sends nothing elsewhere"
    assert redirects(Document("file:app.log", "app.log", KYC, kind="log")).sentences == (), "runbooks only"


def test_cues_of_a_sentence_that_sends_a_case_elsewhere() -> None:
    for sentence in ("If only the push fails with 5xx, see the container registry runbook.",
                     "Kubernetes CronJobs without dependencies (use the cron scheduler runbook).",
                     "A bastion that cannot be reached at all is usually a VPN problem, not ours.",
                     "Metrics (recording rules) are a different pipeline.",
                     "Previews blank or spinning: that is `previewd`, page docs-oncall with its runbook.",
                     "If samples are labelled but results never show, that's them.",
                     "Getting results back from analyzers is the Instrument Bridge (`lab/instrument-bridge.md`)."):
        text = f"# Build runners\n\nRunners pick jobs from the queue.\n\n{sentence}\n"
        assert redirects(_runbook("ci/runners.md", text)).sentences, sentence


def test_the_other_system_named_as_a_suspect_says_nothing() -> None:
    """"No route since the map build, pelias?": the routing runbook says address lookups are "the geocoder
    (Pelias), a separate service"; naming that service (a capitalised name, or the name words of the
    runbook the sentence names) is no sign that the case is the geocoder's."""
    routing = _runbook("geo/routing.md", "# Routing engine (OSRM)\n\nRoutes between coordinates.\n\n"
                       "Turning an address into a point is the geocoder (Pelias), a separate service.\n"
                       "Pins in the wrong place: see the address geocoder runbook.\n")
    geocoder = _runbook("geo/geocoder.md", "# Address geocoder\n\nLooks addresses up.\n")
    chunks = [Chunk(routing, "", 1, 3), Chunk(geocoder, "", 1, 3)]
    assert redirect_scores("no route south of the river since the build. pelias? geocoder?", chunks).tolist() == [0, 0]
    assert redirect_scores("the pins are in the wrong place", chunks).tolist() == [1, 0], "a case it sends away"


def test_a_question_about_the_case_sent_elsewhere_weighs_the_sending_runbook_less() -> None:
    """"Declines at checkout ... manual review queue is exploding": its "manual review queue" reads like the
    KYC runbook's section, its "checkout" is what that runbook says is another system's."""
    kyc, fraud = _runbook("trust/kyc.md", KYC), _runbook("trust/fraud.md", FRAUD)
    chunks = [Chunk(kyc, "## Manual review queue too long", 7, 9), Chunk(fraud, "## Declines suddenly up", 5, 7)]
    question = "declines at checkout jumped 4x and the manual review queue is exploding, where do i start"
    scores = redirect_scores(question, chunks)
    assert scores[0] == 0.5 and scores[1] == 0.0, "one of FULL_AT = 2 redirected words"
    assert redirect_scores("sellers stuck in manual review for hours", chunks).tolist() == [0.0, 0.0]
    with_redirects, without = Evidence(), Evidence(redirect_weight=0.0)
    difference = with_redirects(question, chunks) - without(question, chunks)
    assert difference[0] == pytest.approx(-0.1) and difference[1] == 0.0


def test_a_table_row_that_sends_a_case_elsewhere_is_a_sentence_of_its_own() -> None:
    """A symptom table whose one row says "Not ours": that row's words are redirected, the other rows' are the
    runbook's own."""
    text = ("# Gate scan\n\nTurnstiles validate tickets.\n\n| Symptom | Cause | Action |\n|---|---|---|\n"
            "| Scanners spinning, venue LTE down | network | Step 3 (offline mode) |\n"
            "| Everything rejected for recent purchases | stale manifest | Not ours: ask Seat Inventory to republish |"
            "\n")
    (_, words), = redirects(_runbook("ticketing/gate-scan.md", text)).sentences
    assert {"recent", "purchase", "stale", "republish"} <= words
    assert not {"scanner", "spinning", "offline", "network"} & words


def test_a_section_headed_as_not_ours_sends_every_case_in_it_elsewhere() -> None:
    """"## Not ours (common mis-pages)": its items send cases elsewhere though none says so itself."""
    text = ("# Lane scoring\n\nTurns camera frames into pin counts.\n\n## Camera down\n\n1. Ping the camera.\n\n"
            "## Not ours (common mis-pages)\n\n- Wrong bowler order -> lane booking (`laneplan lane swap`).\n"
            "- Pinsetter physically jammed -> on-site mechanic.\n\n## Escalation\n\n- Strike Squad on-call.\n")
    sentences = redirects(_runbook("bowling/lane-scoring.md", text)).sentences
    words = frozenset().union(*(w for _, w in sentences))
    assert {"bowler", "order", "jamm", "mechanic"} <= words
    assert not {"strike", "squad", "camera", "ping"} & words, "the sections after it are the runbook's own"


def test_a_sentence_that_names_a_neighbour_runbook_sends_its_case_there() -> None:
    """Look-alike runbooks name each other by file name ("go to `bowling/lane-booking.md`", "Test won't load /
    audio = placement-exam"): a sentence that names another candidate runbook's file sends a case there."""
    exam = _runbook("school/placement-exam.md", "# Placement exam\n\nServes the test.\n")
    engine = _runbook("school/placement-engine.md",
                      "# Placement engine\n\nLevels and classes after the test.\n\n"
                      "Test won't load / listening audio / timer = placement-exam. Wrong level = here.\n")
    chunks = [Chunk(engine, "", 1, 5), Chunk(exam, "", 1, 3)]
    assert redirect_scores("the listening audio just spins", chunks).tolist() == [1.0, 0.0]
    assert redirects(engine).sentences == (), "alone, no neighbour is named"
    assert redirect_scores("wrong level for half the class", chunks).tolist() == [0.0, 0.0]


def test_what_the_question_says_is_working_is_no_case_it_asks_about() -> None:
    """"online bookings coming thru fine so its not apptbridge": the lab runbook sends missing bookings to the
    booking runbook, but the question says bookings are fine; its case is the lab's."""
    lab = _runbook("vet/lab-results.md", "# Lab results\n\nResults from the lab into the chart.\n\n"
                   "| Online booking missing | not ours | see `vet/booking-sync.md` |\n")
    booking = _runbook("vet/booking-sync.md", "# Booking sync\n\nCopies appointments.\n")
    chunks = [Chunk(lab, "", 1, 5), Chunk(booking, "", 1, 3)]
    assert redirect_scores("bloodwork not on the chart, online booking missing too", chunks).tolist() == [0.5, 0.0]
    assert redirect_scores("bloodwork not on the chart. online bookings coming thru fine", chunks).tolist() == [0, 0]
