"""``dynalyze run`` for an N-class dataset: train, then the simplex-attractor analysis.

Used by :mod:`dynalyze.sentiment.pipeline` when the classifier has more than one
logit (``--dataset bbc_news``, ``synthetic_categorical``, ``synthetic_ordered``).
Writes ``results/simplex_attractor.nc``, ``results/trajectories.nc``,
``figures/class_states.png``, ``report.md`` and ``run.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dynalyze._atomic import atomic_path
from dynalyze._timing import Stopwatch

__all__ = ["classes_headline", "render_classes_report"]

#: Documents whose token-by-token states are saved.
TRAJECTORIES_SAVED = 100


def classes_headline(summary: dict[str, Any]) -> str:
    """The verdict on the attractor's dimension, from the numbers.

    Examples
    --------
    >>> classes_headline({"n_classes": 5, "late_state_dim_95": 4,
    ...                   "late_state_participation_ratio": 3.6, "fixed_point_dim_95": 4})
    ... # doctest: +ELLIPSIS
    '**An (N-1)-dimensional attractor.** The final states hold 95% of their variance in 4 ...'
    """
    n = int(summary["n_classes"])
    dim = int(summary["late_state_dim_95"])
    ratio = float(summary["late_state_participation_ratio"])
    if dim == n - 1:
        title = "**An (N-1)-dimensional attractor.**"
        meaning = "the dimension of a simplex with one vertex per class"
    elif dim < n - 1:
        title = "**A lower-dimensional attractor than N-1.**"
        meaning = (
            "some classes share directions (as ordered classes do), so the network does not "
            "hold a separate evidence axis for every class"
        )
    else:
        title = "**More dimensions than N-1.**"
        meaning = "more than a simplex of the classes needs"
    return (
        f"{title} The final states hold 95% of their variance in {dim} dimensions "
        f"(participation ratio {ratio:.2f}) for N = {n} classes (N - 1 = {n - 1}): "
        f"{meaning}; the distinct fixed points span {summary['fixed_point_dim_95']} "
        "dimension(s)."
    )


def render_classes_report(summary: dict[str, Any], simplex: xr.Dataset, figure: str) -> str:
    """Markdown of the N-class report, every sentence from the numbers.

    Examples
    --------
    >>> import numpy as np
    >>> summary = {"arch": "gru", "dataset": "bbc_news", "n_classes": 3, "test_accuracy": 0.9,
    ...            "bow_test_accuracy": 0.95, "late_state_dim_95": 2,
    ...            "late_state_participation_ratio": 1.9, "fixed_point_dim_95": 2,
    ...            "n_fixed_points_used": 7, "median_n_slow_modes": 2.0,
    ...            "late_state_readout_alignment": 0.9, "slow_readout_alignment": 0.8,
    ...            "readout_simplex_error": 0.1, "simplex_cosine": -0.5,
    ...            "reduced_agreement": 0.95, "class_names": ["a", "b", "c"]}
    >>> simplex = xr.Dataset({"readout_cosine": (("class", "class_b"), -0.5 + 1.5 * np.eye(3))},
    ...                      coords={"class": ["a", "b", "c"], "class_b": ["a", "b", "c"]})
    >>> render_classes_report(summary, simplex, "figures/class_states.png").splitlines()[0]
    '# dynalyze report: GRU on bbc_news (3 classes)'
    """
    n = int(summary["n_classes"])
    names = list(summary.get("class_names", []))
    lines = [
        f"# dynalyze report: {str(summary['arch']).upper()} on {summary['dataset']} ({n} classes)",
        "",
        classes_headline(summary),
        "",
        "## Accuracy",
        "",
        f"Test accuracy {100 * summary['test_accuracy']:.1f}% against "
        f"{100 * summary['bow_test_accuracy']:.1f}% for a multinomial bag-of-words "
        "regression on the same split.",
        "",
        "## The attractor",
        "",
        f"- Dimension: {summary['late_state_dim_95']} principal components hold 95% of the "
        f"final states' variance (participation ratio "
        f"{summary['late_state_participation_ratio']:.2f}); N - 1 = {n - 1}.",
        f"- Fixed points: {summary['n_fixed_points_used']} distinct converged fixed points, "
        f"spanning {summary['fixed_point_dim_95']} dimension(s) (95% of their variance).",
        f"- Slow modes: a median of {summary['median_n_slow_modes']:.1f} eigenmodes per fixed "
        "point have |λ| > 0.9 (time constant above ~9.5 tokens).",
        f"- Readout: {100 * summary['late_state_readout_alignment']:.0f}% of the readout's "
        f"class-difference space lies inside the final states' top {n - 1} PCs, and "
        f"{100 * summary['slow_readout_alignment']:.0f}% inside the slow subspace at the "
        "centre of the final states.",
        f"- Readout geometry: the centred class readout directions deviate from a regular "
        f"simplex (all cosines {summary['simplex_cosine']:.2f}) by at most "
        f"{summary['readout_simplex_error']:.2f}.",
        f"- Reduced model: integrating every token's input, projected onto the top {n - 1} "
        f"PCs, agrees with the network's predicted class on "
        f"{100 * summary['reduced_agreement']:.1f}% of the documents.",
        "",
        "Cosines between the centred class readout directions:",
        "",
        "| | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    cosine = simplex["readout_cosine"].values
    for i, name in enumerate(names):
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cosine[i]) + " |")
    ratio = summary["late_state_participation_ratio"]
    lines += [
        "",
        f"![Final states by class]({figure})",
        "",
        f"*Final states of the analysed documents on their first two principal components, "
        f"by class (left), and the share of variance per component (right): "
        f"{summary['late_state_dim_95']} components for 95%, participation ratio "
        f"{ratio:.2f}, against N - 1 = {n - 1}.*",
        "",
    ]
    return "\n".join(lines)


def analyze_classes(
    clf: Any,
    data: Any,
    cfg: Any,
    recipe: Any,
    staging: Path,
    stages: Stopwatch,
    *,
    training: dict[str, Any],
) -> dict[str, Any]:
    """Bag of words, simplex attractor, results, figure and report of an N-class run.

    Called by :func:`dynalyze.sentiment.pipeline.run_pipeline`; ``tests/test_multiclass.py``
    runs it end to end on a synthetic 3-class task.

    Returns
    -------
    dict
        The run's summary (also in ``run.json``).
    """
    from dynalyze.attractors.simplex import SimplexAttractor
    from dynalyze.plot.classes import class_states
    from dynalyze.results.io import save
    from dynalyze.sentiment.bow import fit_bow
    from dynalyze.sentiment.pipeline import write_run_record

    vocab, max_len, keep = clf.vocabulary, recipe.max_len, recipe.keep
    with stages("bag of words"):
        bow = fit_bow(data, vocab, max_len=max_len, keep=keep, seed=cfg.seed)
    with stages("trajectories"):
        n_test = len(data.test_texts)
        n = n_test if cfg.n_analysis is None else min(cfg.n_analysis, n_test)
        ids = vocab.encode(data.test_texts[:n], max_len, keep=keep)
        trajectories = clf.trajectories(
            ids, labels=data.test_labels[:n], provenance={"split": "test", "n_documents": n}
        )
        test_logits = clf.logits(vocab.encode(data.test_texts, max_len, keep=keep))
        accuracy = float(np.mean(np.argmax(test_logits, axis=1) == data.test_labels))
    with stages("simplex attractor"):
        analysis = SimplexAttractor(
            n_initial=cfg.n_initial, seed=cfg.seed, baseline=getattr(cfg, "baseline", "mean")
        )
        train_ids = vocab.encode(data.train_texts, max_len, keep=keep)
        simplex = analysis.fit(clf, trajectories, baseline_ids=train_ids)
        simplex = simplex.assign_coords(
            {"class": list(data.class_names), "class_b": list(data.class_names)}
        )
    summary: dict[str, Any] = {
        name: simplex[name].values.item()
        for name in (
            "n_classes",
            "expected_dimension",
            "late_state_dim_95",
            "late_state_participation_ratio",
            "fixed_point_dim_95",
            "n_fixed_points_used",
            "median_n_slow_modes",
            "late_state_readout_alignment",
            "slow_readout_alignment",
            "readout_simplex_error",
            "simplex_cosine",
            "reduced_agreement",
            "reduced_accuracy",
            "baseline_norm",
            "baseline_relative_norm",
        )
    }
    summary["baseline"] = "zero" if int(simplex["baseline_kind"]) == 0 else "mean"
    summary.update(
        dataset=recipe.dataset,
        arch=recipe.arch,
        units=recipe.units,
        class_names=list(data.class_names),
        test_accuracy=accuracy,
        bow_test_accuracy=float(bow.test_accuracy),
        n_accepted=summary["n_fixed_points_used"],
        best_epoch=training.get("best_epoch"),
        epochs_run=training.get("epochs_run"),
        mechanism=(
            "simplex_attractor"
            if summary["late_state_dim_95"] == summary["expected_dimension"]
            else "lower_dimensional_attractor"
            if summary["late_state_dim_95"] < summary["expected_dimension"]
            else "higher_dimensional"
        ),
    )
    summary["headline"] = classes_headline(summary)
    with stages("save results"):
        results = staging / "results"
        results.mkdir()
        save(simplex, results / "simplex_attractor.nc")
        save(trajectories.isel(example=slice(0, TRAJECTORIES_SAVED)), results / "trajectories.nc")
    with stages("figures"):
        folder = staging / "figures"
        folder.mkdir()
        with atomic_path(folder / "class_states.png", keep_suffix=True) as tmp:
            class_states(trajectories, simplex).savefig(tmp, dpi=120)
    with stages("report"):
        text = render_classes_report(summary, simplex, "figures/class_states.png")
        (staging / "report.md").write_text(text + "\n")
        write_run_record(staging, cfg, recipe, analysis, data, training, bow, summary, stages)
    return summary
