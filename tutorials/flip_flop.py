"""Tutorial: the 3-bit flip-flop (Sussillo & Barak 2013), in Keras, analysed with dynalyze.

FixedPointFinder's showcase, end to end with dynalyze. A GRU receives three
input channels of sparse +1/-1 pulses and must output, on each channel, the
sign of the last pulse it received there: three independent bits of memory.
A network that solves it stores the 2^3 = 8 memories as 8 **stable fixed
points** at the corners of a (distorted) cube, and between neighbouring
corners sit **saddles** whose unstable direction points at the two corners
they separate (a pulse kicks the state across the saddle's stable manifold).

The script

1. trains a Keras GRU on the task (a few seconds to a minute on a laptop CPU),
2. wraps the trained layer (``dynalyze.wrap``) and samples starting states from
   its hidden-state trajectories (``dynalyze.sample_initial_states``),
3. finds the fixed points (``dynalyze.find_fixed_points``) and keeps the unique
   ones (``dynalyze.unique_fixed_points``),
4. linearizes there (``dynalyze.Linearization``) and counts stable points and
   saddles (the number of eigenvalues outside the unit circle),
5. reads each stable point's memory through the trained readout and plots the
   fixed points in the top three principal components of the trajectories.

Run it with ``python tutorials/flip_flop.py [output folder]``. dynalyze's test
suite runs it (``tests/test_tutorials.py``) and checks that it finds the 8
stable points, one per memory. The same analysis written with FixedPointFinder
is on the migration page, ``docs/from_fixedpointfinder.md``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import keras
import matplotlib
import numpy as np

import dynalyze

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BITS, STEPS, UNITS = 3, 64, 24
PULSE_PROBABILITY = 0.05


def flip_flop_data(n_trials: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs: sparse +/-1 pulses (every bit is set at t = 0); targets: the last pulse's sign."""
    rng = np.random.default_rng(seed)
    pulses = rng.random((n_trials, STEPS, BITS)) < PULSE_PROBABILITY
    pulses[:, 0, :] = True
    signs = rng.choice([-1.0, 1.0], size=(n_trials, STEPS, BITS))
    inputs = np.where(pulses, signs, 0.0)
    targets = np.empty_like(inputs)
    state = np.zeros((n_trials, BITS))
    for t in range(STEPS):
        state = np.where(pulses[:, t], signs[:, t], state)
        targets[:, t] = state
    return inputs.astype(np.float32), targets.astype(np.float32)


def train(seed: int = 0) -> keras.Model:
    """A GRU with a linear readout at every step, trained on the mean squared error."""
    keras.utils.set_random_seed(seed)
    x, y = flip_flop_data(2048, seed)
    model = keras.Sequential(
        [
            keras.Input((None, BITS)),
            keras.layers.GRU(UNITS, return_sequences=True, name="gru"),
            keras.layers.Dense(BITS, name="readout"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
    model.fit(x, y, batch_size=128, epochs=40, verbose=0)
    x_test, y_test = flip_flop_data(256, seed + 1)
    prediction = model.predict(x_test, verbose=0)
    accuracy = float(np.mean(np.sign(prediction) == y_test))
    print(f"Trained GRU-{UNITS}: sign accuracy {accuracy:.4f} on held-out trials")
    return model


def analyse(model: keras.Model, out: Path) -> dict[str, int]:
    """Fixed points, their stability and their memories; a PCA figure."""
    # 1. The recurrent layer as a float64 map h' = F(h, x).
    system = dynalyze.wrap(model, layer="gru")
    # 2. Starting states: states the network visits on held-out trials, plus a little noise.
    x_test, _ = flip_flop_data(256, seed=2)
    hidden = keras.Model(model.inputs, model.get_layer("gru").output)
    states = np.asarray(hidden.predict(x_test, verbose=0), dtype=np.float64)
    starts = dynalyze.sample_initial_states(states, 1024, noise=0.02, seed=0)
    # 3. Fixed points with zero input (the memory-holding dynamics), unique ones only.
    found = dynalyze.find_fixed_points(system, starts, np.zeros((1, BITS)))
    unique = dynalyze.unique_fixed_points(found)
    # 4. Linearization: stable when every eigenvalue is inside the unit circle; a saddle
    #    has some outside (n_unstable_modes counts them).
    lin = dynalyze.Linearization().compute(system, unique)
    stable = lin["is_stable"].values == 1
    saddles = lin["n_unstable_modes"].values >= 1
    # 5. The memory each stable point holds, through the trained readout.
    weights, bias = model.get_layer("readout").get_weights()
    xstar = unique["fixed_point_state"].values
    readout = xstar @ weights + bias
    memories = {tuple(int(v) for v in np.sign(row)) for row in readout[stable]}
    print(
        f"{found.sizes['fixed_point']} searches: {int((found['status'] == 0).sum())} converged, "
        f"{unique.sizes['fixed_point']} unique fixed points"
    )
    print(f"Stable fixed points: {int(stable.sum())}; saddles: {int(saddles.sum())}")
    modes = lin["n_unstable_modes"].values[saddles]
    for k in np.unique(modes):
        print(f"  saddles with {k} unstable mode(s): {int(np.sum(modes == k))}")
    for row in sorted(readout[stable].round(2).tolist()):
        print(f"  stable point, readout {row}")
    print(f"Distinct memories held by the stable points: {len(memories)} of {2**BITS}")
    # Principal components of the visited states; fixed points projected on the top three.
    flat = states.reshape(-1, UNITS)
    center = flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat - center, full_matrices=False)
    pcs = vt[:3].T
    figure = plt.figure(figsize=(6, 5))
    axes = figure.add_subplot(projection="3d")
    for trial in (states[:8] - center) @ pcs:
        axes.plot(*trial.T, color="0.7", linewidth=0.6)
    projected = (xstar - center) @ pcs
    axes.scatter(*projected[stable].T, color="black", s=40, label="stable")
    axes.scatter(*projected[saddles].T, color="red", marker="x", s=30, label="saddle")
    axes.set_xlabel("PC 1")
    axes.set_ylabel("PC 2")
    axes.set_zlabel("PC 3")
    axes.set_title(
        f"3-bit flip-flop GRU: {int(stable.sum())} stable points, {int(saddles.sum())} saddles"
    )
    axes.legend(loc="upper left")
    figure.savefig(out / "flip_flop_fixed_points.png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    dynalyze.save(lin, out / "flip_flop_linearization.nc")
    return {
        "stable": int(stable.sum()),
        "saddles": int(saddles.sum()),
        "memories": len(memories),
    }


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    counts = analyse(train(), out)
    print(f"Figure and linearization in {out}")
    if counts["stable"] != 2**BITS or counts["memories"] != 2**BITS:
        sys.exit(f"expected {2**BITS} stable points, one per memory; got {counts}")


if __name__ == "__main__":
    main()
