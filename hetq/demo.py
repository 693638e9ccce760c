"""``hetq demo``: the main job on built-in defaults.

Synthetic Concentration session -> 2 training samples per class -> calibrate three weight
conditions at D = 4 -> fit the GC layer -> process the other samples -> a printed utilisation
table and a PNG (MC raster, phase histogram, utilisation distributions).
"""

import time
from pathlib import Path

import numpy as np

from .golden.network.synth import SynthConfig, synthesize
from .pipeline import calibrate_weights, run_network, weight_spec
from .protocol import utilisation

__all__ = ["DEMO_CONDITIONS", "run_demo"]

#: (label, mode, extra spec arguments) of the demo's conditions.
DEMO_CONDITIONS = (
    ("Homogeneous (w=45)", "homogeneous", {"gain": 45.0}),
    ("Uniform", "uniform", {}),
    ("Adaptive (s=0.25)", "adaptive", {"smoothing": 0.25}),
)


def _split(labels, per_class, rng):
    train = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                            for c in np.unique(labels)])
    test = np.setdiff1d(np.arange(len(labels)), train)
    return np.sort(train), test


def run_demo(output, *, duplication=4, n_gc=128, seed=314, out=print, progress=None):
    """Run the demo, writing ``summary.png`` and ``summary.csv`` into ``output`` (created
    when the results are ready, so that a failed run leaves no empty folder).
    ``out(line)`` prints; ``progress(1)`` is called after every condition.

    ``summary.csv`` columns: condition, mc_util_mean, mc_util_sd, gc_util_mean, gc_util_sd
    (percent of units with a phase readout per test sample: mean and SD over the test
    samples) and seconds (calibrate + fit + process of that condition)."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ValueError(f"{output}: the demo's output must be a folder, and this is a file")
    samples, labels, _ = synthesize(SynthConfig(session="concentration", seed=seed))
    train, test = _split(labels, 2, np.random.default_rng(seed))
    out(f"synthetic Concentration session: {len(samples)} samples; "
        f"{len(train)} train (2 per class), {len(test)} test; D = {duplication}, {n_gc} GCs")
    rows, results = [], {}
    for label, mode, extra in DEMO_CONDITIONS:
        t0 = time.perf_counter()
        spec = weight_spec(mode, duplication, **extra)
        weights, _ = calibrate_weights(samples[train], spec)
        res = run_network(samples[test], weights, train=samples[train], n_gc=n_gc,
                          seed=seed, raster=True)
        mc, gc = utilisation(res.mc_phase), utilisation(res.gc_phase)
        rows.append((label, mc.mean(), mc.std(ddof=1), gc.mean(), gc.std(ddof=1),
                     time.perf_counter() - t0))
        results[label] = res
        if progress is not None:
            progress(1)
    output.mkdir(parents=True, exist_ok=True)
    out("")
    out(f"{'condition':<20} {'MC util %':>10} {'MC SD':>7} {'GC util %':>10} {'GC SD':>7} "
        f"{'time s':>7}")
    for label, mcm, mcs, gcm, gcs, sec in rows:
        out(f"{label:<20} {mcm:>10.1f} {mcs:>7.2f} {gcm:>10.1f} {gcs:>7.2f} {sec:>7.2f}")
    with open(output / "summary.csv", "w") as f:
        f.write("condition,mc_util_mean,mc_util_sd,gc_util_mean,gc_util_sd,seconds\n")
        for row in rows:
            f.write(",".join([row[0]] + [f"{v:.4f}" for v in row[1:]]) + "\n")
    png = output / "summary.png"
    plot_summary(results, labels[test], png)
    out(f"\nwrote {output / 'summary.csv'} and {png}")
    return rows


def plot_summary(results, labels, path):
    """Four panels: an MC raster of one sample per class, MC phase histograms, and MC and GC
    utilisation distributions per condition."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(2, 2, figsize=(12, 8))
    show = names[1] if len(names) > 1 else names[0]
    res = results[show]
    classes = np.unique(labels)
    picks = [np.flatnonzero(labels == c)[0] for c in classes]
    steps = res.mc_raster.shape[1]
    for n, i in enumerate(picks):
        t, unit = np.nonzero(res.mc_raster[i])
        ax[0, 0].scatter(t + n * steps, unit, s=2, color=f"C{n % 10}")
    ax[0, 0].set(title=f"MC spikes, {show}: one test sample per class",
                 xlabel="step (samples back to back)", ylabel="MC index")
    bins = np.arange(0.5, 19.5)
    for k, name in enumerate(names):
        ph = results[name].mc_phase
        ax[0, 1].hist(ph[ph > 0], bins=bins, histtype="step", lw=1.5, label=name, color=f"C{k}")
    ax[0, 1].set(title="MC phase readout (spiking MCs)", xlabel="phase", ylabel="count")
    ax[0, 1].legend(fontsize=8)
    for j, layer in enumerate(("mc", "gc")):
        data = [utilisation(getattr(results[n], f"{layer}_phase")) for n in names]
        ax[1, j].boxplot(data, tick_labels=[n.split(" ")[0] for n in names])
        ax[1, j].set(title=f"{layer.upper()} utilisation per test sample", ylabel="% active")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
