import pytest
from discolab.core.graphs import precision_recall_f1, score_graph, structural_hamming_distance

TRUE = [("a", "b"), ("b", "c"), ("c", "d")]


def test_perfect_prediction():
    m = score_graph(TRUE, TRUE)
    assert (m.precision, m.recall, m.f1, m.shd, m.skeleton_f1) == (1.0, 1.0, 1.0, 0, 1.0)


def test_hand_computed_mixed_case():
    # b->a reversed, b->c correct, c->d missing, a->d extra.
    m = score_graph(TRUE, [("b", "a"), ("b", "c"), ("a", "d")])
    assert m.precision == pytest.approx(1 / 3)
    assert m.recall == pytest.approx(1 / 3)
    assert m.f1 == pytest.approx(1 / 3)
    assert m.shd == 3  # one reversal, one missing, one extra
    # skeleton: {a,b} {b,c} {a,d} vs {a,b} {b,c} {c,d}
    assert m.skeleton_precision == pytest.approx(2 / 3)
    assert m.skeleton_recall == pytest.approx(2 / 3)


def test_two_cycle_in_prediction_costs_one_per_pair():
    assert structural_hamming_distance([("a", "b")], [("a", "b"), ("b", "a")]) == 1
    assert structural_hamming_distance([("a", "b")], [("b", "a")]) == 1
    assert structural_hamming_distance([("a", "b")], []) == 1
    assert structural_hamming_distance([], [("a", "b"), ("b", "a")]) == 1


def test_empty_prediction():
    m = score_graph(TRUE, [])
    assert (m.precision, m.recall, m.f1, m.shd) == (1.0, 0.0, 0.0, 3)


def test_precision_recall_f1_values():
    assert precision_recall_f1({1, 2, 3, 4}, {1, 2, 5}) == pytest.approx((2 / 3, 0.5, 4 / 7))


def test_self_loop_is_rejected():
    with pytest.raises(ValueError, match="self-loop"):
        score_graph(TRUE, [("a", "a")])
