"""The FixedPointFinder migration page runs as written, and its PyTorch weight mapping is exact."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "from_fixedpointfinder.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_the_page_has_the_example_and_the_maps() -> None:
    text = PAGE.read_text()
    for heading in ("## Constructor options", "## Methods", "## Result fields"):
        assert heading in text
    # Every FixedPointFinder option and result field a user sets or reads is mapped.
    for name in (
        "tol_q", "tol_dq", "max_iters", "method=", "lr_init", "do_rerun_q_outliers",
        "outlier_distance_scale", "tol_unique", "max_n_unique", "do_compute_jacobians",
        "dtype", "random_seed", "verbose", "find_fixed_points", "sample_states", "get_unique",
        "decompose_jacobians", "xstar", "x_init", "F_xstar", "qstar", "dq", "n_iters", "J_xstar",
        "dFdu", "eigval_J_xstar", "eigvec_J_xstar", "is_stable", "cond_id",
    ):  # fmt: skip
        assert re.search(r"[`.]" + re.escape(name), text), name
    assert len(python_blocks()) == 2


def test_the_dynalyze_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("keras")
    namespace: dict[str, object] = {}
    exec(compile(python_blocks()[0], str(PAGE), "exec"), namespace)
    out = capsys.readouterr().out
    assert re.search(r"\d+ of 1024 searches converged; \d+ unique fixed points", out)
    lin = namespace["lin"]
    # What the page claims the variables are.
    xstar = namespace["xstar"]
    system = namespace["system"]
    residual = system.step(xstar, np.zeros((1, 3))) - xstar  # type: ignore[attr-defined]
    assert np.max(np.abs(residual)) < 1e-9
    np.testing.assert_allclose(lin["expansion_image"].values, xstar + residual, atol=1e-12)  # type: ignore[index]


def test_the_torch_weight_mapping_matches_torch_gru_step_by_step() -> None:
    namespace: dict[str, object] = {}
    exec(compile(python_blocks()[1], str(PAGE), "exec"), namespace)
    convert = namespace["gru_system_from_torch"]
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    rnn = torch.nn.GRU(3, 8, batch_first=True).double()
    weights = [
        getattr(rnn, name).detach().numpy()
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    ]
    system = convert(*weights)  # type: ignore[operator]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 20, 3))
    h0 = rng.normal(scale=0.5, size=(5, 8))
    with torch.no_grad():
        expected, _ = rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])
    h = h0
    for t in range(20):
        h = system.step(h, x[:, t])
        np.testing.assert_allclose(h, expected[:, t].numpy(), atol=1e-12)
