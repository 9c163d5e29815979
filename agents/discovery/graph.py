"""The IGDA discovery loop, wired:

    elicit_prior -> select -> experiment -> update -> score -> (more rounds ? select : END)

elicit_prior also scores the prior alone (round 0), and ends the run at once when R = 0.
"""

from langgraph.graph import END, START, StateGraph

from .nodes import elicit_prior, experiment, score, select, should_continue, update
from .state import DiscoveryState


def build_graph() -> StateGraph:
    graph = StateGraph(DiscoveryState)
    graph.add_node("elicit_prior", elicit_prior)
    graph.add_node("select", select)
    graph.add_node("experiment", experiment)
    graph.add_node("update", update)
    graph.add_node("score", score)

    graph.add_edge(START, "elicit_prior")
    graph.add_conditional_edges("elicit_prior", should_continue, {"select": "select", "end": END})
    graph.add_edge("select", "experiment")
    graph.add_edge("experiment", "update")
    graph.add_edge("update", "score")
    graph.add_conditional_edges("score", should_continue, {"select": "select", "end": END})
    return graph
