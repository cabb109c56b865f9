"""Owners (worker/engine/owners.py): a runbook whose own tool the asker quotes saying all is well is ruled out; the
runbook of the team the asker speaks for is theirs."""

from __future__ import annotations

from worker.documents.document import Chunk, Document
from worker.engine.owners import (
    asker_team,
    own_team_scores,
    owning_team,
    ruled_out_scores,
    tools_said_fine,
    without_tool_names,
    without_tool_reports,
)

_ENROBER = """# Enrober control
Owning team: Line Automation

## Check
```
enrobctl status --line 2
enrobctl coat set --line 2 --g 41
ringctl read P-7
ringctl read P-8
```
"""
_TEMPERING = """# Tempering control
Owning team: Process Control

## Check
```
temperctl status --all
temperctl reseed TM-2
ringctl set P-7 --hz 38
ringctl read P-7
```
"""


def _runbook(name: str, text: str) -> Document:
    return Document(f"runbook:chocolate/{name}.md", name, text, kind="runbook", link=f"chocolate/{name}.md")


def _chunks() -> list[Chunk]:
    return [Chunk(_runbook("enrober", _ENROBER), "enrobctl status", 1, 9),
            Chunk(_runbook("tempering", _TEMPERING), "temperctl status", 1, 9)]


def test_a_tool_quoted_saying_all_is_well_is_read_in_its_many_wordings() -> None:
    assert tools_said_fine("line 2 bars dull. enrobctl status --line 2 all green, tank temp bang on") == {"enrobctl"}
    assert "temperctl" in tools_said_fine("tank 1.6C off. temperctl status shows TM-1..3 all in band. can i crank it")
    assert tools_said_fine("gatectl status --all says all gates shut no release order, fine. but units") == {"gatectl"}
    assert "furnacectl" in tools_said_fine("furnacectl on gw-hotend-01 says crown + zones are all fine. what now")
    # asked, not said; or said not to be fine
    assert tools_said_fine("does fillctl status look ok?") == frozenset()
    assert tools_said_fine("is gatectl status green?") == frozenset()
    assert tools_said_fine("fillctl status not green since 2am") == frozenset()


def test_the_runbook_whose_own_tool_says_all_is_well_is_ruled_out_not_one_whose_tool_is_shared() -> None:
    chunks = _chunks()
    assert list(ruled_out_scores("enrobctl status --line 2 all green, bars streaky", chunks)) == [1.0, 0.0]
    assert list(ruled_out_scores("temperctl status shows all in band, tank won't fill", chunks)) == [0.0, 1.0]
    assert list(ruled_out_scores("ringctl read shows 2.1 bar, normal. line 3 tank won't fill", chunks)) == [0.0, 0.0]
    assert list(ruled_out_scores("line 3 tank won't fill", chunks)) == [0.0, 0.0]


def test_what_the_tool_report_names_is_left_out_of_what_to_look_for() -> None:
    chunks = _chunks()
    assert without_tool_reports("tank 1.6C off. temperctl status shows TM-1..3 all in band. can i crank it",
                                chunks) == "tank 1.6C off. . can i crank it"
    assert without_tool_reports("temperctl status all green", _chunks()) == "temperctl status all green", "nothing else"
    assert without_tool_reports("gate log says it sent the code fine tho", _chunks()) == (
        "gate log says it sent the code fine tho"), "no tool of the candidates"
    assert without_tool_names("bars dull. enrobctl status --line 2 all green", chunks) == (
        "bars dull.   status --line 2 all green"), "the tool's name is no identifier to look for"


def test_the_asker_speaks_for_a_team_and_its_runbook_is_the_one_it_owns() -> None:
    assert asker_team("process control oncall here - line automation says line 3 tank wont fill") == {
        "process", "control"}
    assert asker_team("warehouse systems oncall, SR-1 hit 88%") == {"warehouse", "system"}
    assert asker_team("wave planner oncall says their side looks normal") == frozenset(), "a quoted team"
    assert asker_team("line 3 tank won't fill") == frozenset()
    assert owning_team(_runbook("tempering", _TEMPERING)) == {"process", "control"}
    assert owning_team(_runbook("x", "# X\n_Estate: Colle Alto. Owner: Viticulture team._\n")) == {"viticult"}
    chunks = _chunks()
    assert list(own_team_scores("process control oncall here - line automation says the tank wont fill", chunks)) == [
        0.0, 1.0]
    assert list(own_team_scores("line automation oncall here: tank wont fill", chunks)) == [1.0, 0.0]
    assert list(own_team_scores("finance oncall here: tank wont fill", chunks)) == [0.0, 0.0], "no candidate's team"
