"""A private-channel or DM document is never a candidate where its readers could not see it."""

from __future__ import annotations

import pytest
from rank_bm25 import BM25Okapi
from slack_sdk import WebClient

from tests.documents.conftest import DM_U1, DM_U2, OTHER_PUBLIC, PRIVATE, PUBLIC, words
from tests.fake_slack import FakeSlack, Fault
from worker.documents.base import GatherRequest
from worker.documents.chunking import chunk_documents
from worker.documents.document import Document
from worker.documents.gather import DocumentGatherer
from worker.documents.permissions import ConversationDirectory, may_see
from worker.documents.settings import GatheringSettings
from worker.errors import DocumentUnreadableError

SECRET_PLAN = b"Incident SEC-7: rotate the signing key of the payments gateway before Friday.\n"


@pytest.fixture
def gatherer(client: WebClient, settings: GatheringSettings) -> DocumentGatherer:
    return DocumentGatherer.from_settings(settings, client)


def _private_file(slack: FakeSlack, realistic: bool = True) -> None:
    if realistic:  # Slack lists private-channel shares under "groups"
        slack.add_file("FPRIV", "sec-plan.txt", SECRET_PLAN)
        slack.share_file("FPRIV", PRIVATE)
    else:  # the fake's add_file puts it under "channels": privacy must come from conversations.info
        slack.add_file("FPRIV", "sec-plan.txt", SECRET_PLAN, channel=PRIVATE)
    slack.pin_file(PRIVATE, "FPRIV")


def _everything(gatherer: DocumentGatherer, channel: str, user: str) -> str:
    """All text and notes a question in ``channel`` could be answered from, every way of asking."""
    out = []
    for mode in ("ask", "logs", "runbook"):
        request = GatherRequest(channel, user, mode=mode, file_ids=("FPRIV",))
        gathered = gatherer.gather(request)
        out += [d.text + d.title for d in gathered.documents] + gathered.notes
    return "\n".join(out)


@pytest.mark.parametrize("realistic", [True, False])
def test_private_channel_document_never_reaches_a_public_channel(
        slack: FakeSlack, gatherer: DocumentGatherer, realistic: bool) -> None:
    _private_file(slack, realistic)
    for channel in (PUBLIC, OTHER_PUBLIC):
        seen = _everything(gatherer, channel, "U1")  # U1 is even a member of the private channel
        assert "SEC-7" not in seen and "sec-plan" not in seen


def test_private_channel_document_is_a_candidate_in_its_own_channel(
        slack: FakeSlack, gatherer: DocumentGatherer) -> None:
    _private_file(slack)
    gathered = gatherer.gather(GatherRequest(PRIVATE, "U1"))
    assert [d.doc_id for d in gathered.documents if d.doc_id.startswith("slack-file")] == ["slack-file:FPRIV"]


def test_dm_with_the_bot_sees_what_the_asker_may_see(slack: FakeSlack, gatherer: DocumentGatherer) -> None:
    _private_file(slack)
    member = gatherer.gather(GatherRequest(DM_U1, "U1", file_ids=("FPRIV",)))
    assert any("SEC-7" in d.text for d in member.documents)
    assert "SEC-7" not in _everything(gatherer, DM_U2, "U2")  # U2 is not in the private channel
    # U2 asking in U1's DM (should never happen) is refused too
    assert not gatherer.gather(GatherRequest(DM_U1, "U2", file_ids=("FPRIV",), mode="logs")).documents


def test_dm_document_stays_in_the_dm(slack: FakeSlack, gatherer: DocumentGatherer) -> None:
    slack.add_file("FDM", "my-notes.txt", b"personal notes about SEC-7\n")
    slack.share_file("FDM", DM_U1)
    assert gatherer.gather(GatherRequest(DM_U1, "U1", file_ids=("FDM",), mode="logs")).documents
    for channel in (PUBLIC, PRIVATE):
        gathered = gatherer.gather(GatherRequest(channel, "U1", file_ids=("FDM",), mode="logs"))
        assert not gathered.documents and not any("my-notes" in n for n in gathered.notes)


def test_public_channel_file_may_be_used_anywhere(slack: FakeSlack, gatherer: DocumentGatherer) -> None:
    slack.add_file("FPUB", "deploy-notes.txt", b"deploys freeze on Fridays\n", channel=OTHER_PUBLIC)
    gathered = gatherer.gather(GatherRequest(PRIVATE, "U1", file_ids=("FPUB",), mode="logs"))
    assert [d.doc_id for d in gathered.documents] == ["slack-file:FPUB"]


def test_unreadable_private_file_note_does_not_leak_its_name(slack: FakeSlack, gatherer: DocumentGatherer) -> None:
    slack.add_file("FBIN", "sec-dump.bin", b"\x00\x01\x02" * 100, mimetype="application/octet-stream")
    slack.share_file("FBIN", PRIVATE)
    public = gatherer.gather(GatherRequest(PUBLIC, "U1", file_ids=("FBIN",), mode="logs"))
    assert public.documents == [] and public.notes == []
    with pytest.raises(DocumentUnreadableError, match=r"skipped sec-dump\.bin: binary file"):
        gatherer.gather(GatherRequest(PRIVATE, "U1", file_ids=("FBIN",), mode="logs"))


def test_lookup_failure_fails_closed(slack: FakeSlack, client: WebClient) -> None:
    document = Document("x", "x", "text", visible_in=(OTHER_PUBLIC,), restricted=True)
    slack.fail_next("conversations.info", Fault(error="channel_not_found"))
    assert not may_see(document, GatherRequest(PUBLIC, "U1"), ConversationDirectory(client))
    assert may_see(document, GatherRequest(PUBLIC, "U1"), ConversationDirectory(client))  # lookup works again
    nowhere = Document("y", "y", "text", restricted=True)
    assert not may_see(nowhere, GatherRequest(DM_U1, "U1"), ConversationDirectory(client))
    assert may_see(Document("r", "runbook", "text"), GatherRequest(DM_U2, "U2"), ConversationDirectory(None))


def test_private_document_never_appears_in_an_answer_in_a_public_channel(
        slack: FakeSlack, gatherer: DocumentGatherer) -> None:
    """End to end: the answer to a question that names the private document's content exactly, asked in
    a public channel, is built only from documents visible there."""
    _private_file(slack)
    slack.add_file("FPUB", "gateway.txt", b"The payments gateway signing key is managed by the platform team.\n",
                   channel=PUBLIC)
    question = "when must we rotate the signing key of the payments gateway"
    gathered = gatherer.gather(GatherRequest(PUBLIC, "U1", file_ids=("FPRIV", "FPUB")))
    chunks = chunk_documents(gathered.documents, 128, words)
    scores = BM25Okapi([c.text.lower().split() for c in chunks]).get_scores(question.split())
    best = max(zip(scores, chunks, strict=True), key=lambda pair: pair[0])[1]
    assert best.document.doc_id == "slack-file:FPUB"
    assert all("SEC-7" not in c.text for c in chunks)
    # the same question in the private channel is answered from the private document
    private = gatherer.gather(GatherRequest(PRIVATE, "U1", file_ids=("FPRIV", "FPUB")))
    private_chunks = chunk_documents(private.documents, 128, words)
    scores = BM25Okapi([c.text.lower().split() for c in private_chunks]).get_scores(question.split())
    assert max(zip(scores, private_chunks, strict=True), key=lambda p: p[0])[1].document.doc_id == "slack-file:FPRIV"


def test_public_channel_file_stays_out_of_a_slack_connect_channel(
        slack: FakeSlack, gatherer: DocumentGatherer) -> None:
    """People from another organisation read answers in a Slack Connect channel, but not our public
    channels: a file shared only in a public channel is no candidate there."""
    slack.add_channel("CEXT", "acme-shared", members={"U1", "UEXT"}, ext_shared=True)
    slack.add_file("FPUB", "deploy-notes.txt", b"deploys freeze on Fridays\n", channel=OTHER_PUBLIC)
    shared = gatherer.gather(GatherRequest("CEXT", "U1", file_ids=("FPUB",), mode="ask"))
    assert not any(d.doc_id == "slack-file:FPUB" for d in shared.documents)
    internal = gatherer.gather(GatherRequest(PUBLIC, "U1", file_ids=("FPUB",), mode="ask"))
    assert any(d.doc_id == "slack-file:FPUB" for d in internal.documents)


def test_a_dm_whose_info_names_no_user_is_no_ones(client: WebClient, slack: FakeSlack) -> None:
    slack.state.channels[DM_U1].pop("user")
    assert not ConversationDirectory(client).is_direct_message_with(DM_U1, "U1")
