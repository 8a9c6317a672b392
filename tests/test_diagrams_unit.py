"""Diagram generation from a table, independent of the library's own tables."""

from __future__ import annotations

import pytest

from ibkr_exec.diagrams import Edge, Lifecycle, dot_available, render_svg, to_dot, to_mermaid

TOY = Lifecycle(
    name="toy",
    title="Toy",
    states=("A", "B", "C"),
    transitions=(
        {"trigger": "go", "source": "A", "dest": "B"},
        {"trigger": "finish", "source": ["A", "B"], "dest": "C", "conditions": "is_done"},
        {"trigger": "poke", "source": "B", "dest": None},
        {"trigger": "stop", "source": "*", "dest": "C", "unless": ["is_stuck"]},
    ),
    initial="A",
    terminal=frozenset({"C"}),
)


def test_edges_expand_source_lists_wildcards_and_internal_transitions() -> None:
    edges = TOY.edges()
    assert Edge("A", "C", "finish", ("is_done",)) in edges
    assert Edge("B", "C", "finish", ("is_done",)) in edges
    assert Edge("B", "B", "poke") in edges
    assert {e.src for e in edges if e.trigger == "stop"} == {"A", "B", "C"}
    assert Edge("A", "C", "stop", ("!is_stuck",)).label == "stop [!is_stuck]"


def test_mermaid_lists_every_edge_with_its_label_and_marks_terminal_states() -> None:
    text = to_mermaid(TOY)
    assert "[*] --> A" in text
    assert "A --> B: go" in text
    assert "A --> C: finish [is_done]<br/>stop [!is_stuck]" in text
    assert "C --> [*]" in text
    assert "class C terminal" in text


def test_mermaid_highlights_visited_states() -> None:
    assert "class A,B visited" in to_mermaid(TOY, visited=["A", "B", "A"])


def test_dot_numbers_and_highlights_the_path_taken() -> None:
    text = to_dot(TOY, path=[Edge("A", "B", "go"), Edge("B", "C", "finish")])
    assert '"A" -> "B" [label=<<font color="#d9480f"><b>1. go</b></font>>, color="#d9480f"' in text
    # one arrow B -> C: the step taken highlighted, the edge not taken plain
    assert (
        '"B" -> "C" [label=<<font color="#d9480f"><b>2. finish [is_done]</b></font><br/>'
        "stop [!is_stuck]>"
    ) in text
    assert text.count('"B" -> "C"') == 1
    assert (
        '"C" [label=<<b>C</b><br/><font point-size="9">&#8635; stop [!is_stuck]</font>>, ' in text
    )
    assert 'peripheries=2, style="rounded,filled"' in text


def test_dot_lists_self_loops_in_the_state_and_draws_only_those_taken() -> None:
    plain = to_dot(TOY)
    assert '"B" [label=<<b>B</b><br/><font point-size="9">&#8635; poke</font>>];' in plain
    assert '"B" -> "B"' not in plain
    taken = to_dot(TOY, path=[Edge("A", "B", "go"), Edge("B", "B", "poke"), Edge("B", "B", "poke")])
    assert '"B" -> "B" [label="2,3. poke", fontcolor="#d9480f"' in taken


@pytest.mark.skipif(not dot_available(), reason="Graphviz dot not installed")
def test_svg_is_rendered_by_real_dot() -> None:
    svg = render_svg(to_dot(TOY))
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    assert ">finish [is_done]</text>" in svg
