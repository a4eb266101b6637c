"""A finished study's best-trials list: each parameter set once, with how many trials
drew it."""

from __future__ import annotations

import optuna
from optuna.distributions import IntDistribution
from optuna.trial import create_trial

from prediction.research.services.results import BEST_LISTED, best_rows

FAST = IntDistribution(2, 60)


def _trial(number: int, fast: int, value: float) -> optuna.trial.FrozenTrial:
    trial = create_trial(
        params={"fast": fast}, distributions={"fast": FAST}, value=value, user_attrs={}
    )
    trial.number = number
    return trial


def test_a_parameter_set_drawn_again_is_listed_once_with_its_count():
    ranked = [_trial(4, 5, 1.2), _trial(7, 5, 1.2), _trial(9, 5, 1.2), _trial(2, 10, 0.3)]
    rows = best_rows(ranked)
    assert [(r["number"], r["params"], r["trials"]) for r in rows] == [
        (4, {"fast": 5}, 3),
        (2, {"fast": 10}, 1),
    ]


def test_repeats_do_not_push_other_sets_off_the_list():
    ranked = [_trial(n, 5, 2.0) for n in range(5)] + [
        _trial(10 + k, 6 + k, 1.0 - k / 100) for k in range(BEST_LISTED)
    ]
    rows = best_rows(ranked)
    assert len(rows) == BEST_LISTED
    assert rows[0]["trials"] == 5
    assert [r["params"]["fast"] for r in rows[1:]] == list(range(6, 6 + BEST_LISTED - 1))
