"""The uncertainty stated for each clinical measure (dmask.measure.clinical.UNCERTAINTY) is the one measured."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmask.measure.clinical import UNCERTAINTY
from dmask.evaluation.repeatability import MEASURES, pooled_sd

# The talking heads the per-second figures were measured on (docs/fidelity.md, "Repeatability").
VIDEOS = ("st_WDA_AlexandriaOcasioCortez_000.mp4", "fom_demo_old_00.mp4", "lp_source_s20.mp4", "lp_source_s32.mp4",
          "3ddfa_obama.mp4")


def test_groups_pool_their_spread_about_their_own_means():
    sd, dof = pooled_sd([[1.0, 3.0], [10.0, 12.0, 14.0], [5.0], [math.nan, 2.0, 4.0]])
    assert dof == 4 and sd == pytest.approx(math.sqrt((2.0 + 8.0 + 2.0) / 4))
    assert math.isnan(pooled_sd([[1.0], [np.nan, 2.0]])[0])


@pytest.mark.slow
def test_the_stated_uncertainty_is_the_one_measured(shared_data, config, tmp_path):
    from dmask.evaluation.repeatability import evaluate_repeatability

    result = evaluate_repeatability([shared_data / "identities"], [shared_data / "videos" / v for v in VIDEOS], tmp_path,
                                    config, progress=False)
    assert [s.name for s in result.spreads] == list(MEASURES) == list(UNCERTAINTY)
    for spread in result.spreads:
        stated = UNCERTAINTY[spread.name]
        assert spread.photo_dof >= 30 and spread.second_dof >= 20
        assert (spread.per_photo, spread.per_second) == pytest.approx((stated.per_photo, stated.per_second), rel=0.05), spread
    assert "MRD1" in (tmp_path / "report.md").read_text()
