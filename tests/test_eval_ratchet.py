"""The CI regression guard: privacy and fidelity on a fixed subset of ../shared/data.

tests/ratchet.json records the figures this subset gave when they last
improved, with a noise margin for each. A figure that gets worse by more than
its margin fails the build; one that gets better by more than its margin also
fails, asking for the recorded figure to be tightened in the same change, so
the record only ever moves forwards. Each failure prints the measured figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # whole evaluations on ../shared/data: `pytest -m "not slow"` leaves it out

RATCHET = Path(__file__).with_name("ratchet.json")


def _measured(numbers: dict, dotted: str) -> float:
    for key in dotted.split("."):
        numbers = numbers[key]
    return float(numbers)


def check_ratchet(section: dict, numbers: dict) -> list[str]:
    """Lines naming each figure outside recorded ± margin; empty when all hold."""
    problems = []
    for name, record in section["figures"].items():
        value, recorded, margin = _measured(numbers, name), record["recorded"], record["margin"]
        worse = value - recorded if record["better"] == "lower" else recorded - value
        if worse > margin:
            problems.append(f"{name}: {value:.3f} is worse than the recorded {recorded:.3f} by more than {margin}")
        elif -worse > margin:
            problems.append(f"{name}: {value:.3f} improved on {recorded:.3f}; tighten tests/ratchet.json to it")
    return problems


@pytest.fixture(scope="module")
def ratchet() -> dict:
    return json.loads(RATCHET.read_text())


def test_check_ratchet_flags_regressions_and_improvements():
    section = {"figures": {
        "a.rank1": {"recorded": 0.10, "margin": 0.05, "better": "lower"},
        "b.r": {"recorded": 0.90, "margin": 0.02, "better": "higher"},
    }}
    assert check_ratchet(section, {"a": {"rank1": 0.14}, "b": {"r": 0.89}}) == []
    assert check_ratchet(section, {"a": {"rank1": 0.16}, "b": {"r": 0.89}}) == [
        "a.rank1: 0.160 is worse than the recorded 0.100 by more than 0.05"
    ]
    assert check_ratchet(section, {"a": {"rank1": 0.10}, "b": {"r": 0.95}}) == [
        "b.r: 0.950 improved on 0.900; tighten tests/ratchet.json to it"
    ]


def test_privacy_has_not_regressed(ratchet, shared_data, config, tmp_path):
    from dmask.evaluation.privacy import evaluate_privacy

    section = ratchet["privacy"]
    roots = [shared_data / root for root in section["roots"]]
    result = evaluate_privacy(roots, tmp_path, config, max_identities=section["max_identities"], progress=False)
    assert check_ratchet(section, result.numbers()) == []


def test_clinical_agreement_has_not_regressed_and_names_no_photo(ratchet, shared_data, config, tmp_path):
    from dmask.evaluation.agreement import evaluate_clinical

    section = ratchet["clinical"]
    roots = [shared_data / root for root in section["roots"]]
    result = evaluate_clinical(roots, tmp_path, config, progress=False)
    assert check_ratchet(section, result.numbers()) == []
    written = "".join(path.read_text() for path in (tmp_path / "report.md", tmp_path / "results.json"))
    assert not [photo.stem for root in roots for photo in root.iterdir() if photo.stem in written]


def test_fidelity_has_not_regressed(ratchet, shared_data, config, tmp_path):
    from dmask.evaluation.fidelity import evaluate_fidelity

    section = ratchet["fidelity"]
    videos = [shared_data / "videos" / name for name in section["videos"]]
    result = evaluate_fidelity(videos, tmp_path, config, max_frames=section["max_frames"], progress=False)
    assert check_ratchet(section, result.numbers()) == []
