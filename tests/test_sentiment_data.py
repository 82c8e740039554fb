"""Datasets, vocabulary, models, training, save/load and the BoW baseline.

Fast: synthetic data and tiny models; the real CSV only in small subsets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import attrs
import numpy as np
import pytest

from dynalyze.errors import (
    ConfigurationError,
    DataError,
    DynalyzeError,
    ModelLoadError,
    UnsupportedModelError,
    VocabularyMismatchError,
)
from dynalyze.sentiment import defaults
from dynalyze.sentiment.bow import document_matrix, fit_bow
from dynalyze.sentiment.datasets import (
    DATASET_NAMES,
    SentimentData,
    SyntheticConfig,
    load_dataset,
    parse_label,
)
from dynalyze.vocabulary import Vocabulary, tokenize

SMALL = SyntheticConfig(n_examples=400)


def write_csv(path: Path, text: str | bytes) -> str:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return f"csv:{path}"


def unique_rows(n: int) -> str:
    rows = ["text,label"]
    for i in range(n):
        word = "good" if i % 2 else "bad"
        rows.append(f'"document {i}, quite {word}",{i % 2}')
    return "\n".join(rows) + "\n"


# --------------------------------------------------------------------------- import hygiene


def test_import_does_not_load_tensorflow() -> None:
    code = (
        "import sys, dynalyze, dynalyze.sentiment, dynalyze.sentiment.bow, "
        "dynalyze.sentiment.models, dynalyze.sentiment.training, dynalyze.sentiment.defaults\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- datasets


def test_synthetic_is_deterministic_and_balanced() -> None:
    a = load_dataset("synthetic", seed=3, synthetic=SMALL)
    b = load_dataset("synthetic", seed=3, synthetic=SMALL)
    c = load_dataset("synthetic", seed=4, synthetic=SMALL)
    assert a.train_texts == b.train_texts and a.test_texts == b.test_texts
    np.testing.assert_array_equal(a.train_labels, b.train_labels)
    assert a.train_texts != c.train_texts
    assert a.sizes == {"train": 320, "validation": 40, "test": 40}
    assert a.test_labels.mean() == 0.5 and a.train_labels.dtype == np.int8
    # label = sign of the summed true valence, with the margin
    for text, label in zip(a.train_texts[:50], a.train_labels[:50], strict=True):
        total = sum(a.true_valences[w] for w in text.split())
        assert (total > 0) == bool(label) and abs(total) > SMALL.margin
    d = a.describe()
    assert d["seed"] == 3 and d["generator"]["n_examples"] == 400
    assert d["fractions"] == {"train": 0.8, "validation": 0.1, "test": 0.1}


def test_csv_splits_disjoint_deterministic_and_limited(tmp_path: Path) -> None:
    name = write_csv(tmp_path / "d.csv", unique_rows(200))
    a = load_dataset(name, seed=1)
    b = load_dataset(name, seed=1)
    assert a.train_texts == b.train_texts and a.validation_texts == b.validation_texts
    splits = [set(a.train_texts), set(a.validation_texts), set(a.test_texts)]
    assert sum(len(s) for s in splits) == 200 == len(set.union(*splits))
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    assert a.sizes == {"train": 160, "validation": 20, "test": 20}
    assert a.train_labels.mean() == 0.5
    # limits take prefixes: a small run's test set is inside the full one
    small = load_dataset(name, seed=1, max_examples=50, max_test=3)
    assert small.sizes == {"train": 40, "validation": 5, "test": 3}
    assert set(small.test_texts) <= splits[2] and set(small.train_texts) <= splits[0]
    assert small.describe()["limits"]["max_test"] == 3
    assert load_dataset(name, seed=2).test_texts != a.test_texts


def test_real_datasets_load_without_line_breaks() -> None:
    imdb = load_dataset("imdb", max_train=200, max_validation=20, max_test=20)
    assert imdb.n_examples == 25000
    assert imdb.sizes == {"train": 200, "validation": 20, "test": 20}
    assert all("<br" not in t.lower() for t in imdb.train_texts)
    assert set(np.unique(imdb.train_labels)) == {0, 1}
    again = load_dataset("IMDB", max_train=200, max_validation=20, max_test=20)
    assert again.train_texts == imdb.train_texts
    rt = load_dataset("rotten_tomatoes", max_examples=100)
    assert rt.n_examples == 8530 and sum(rt.sizes.values()) == 100
    assert not set(rt.test_texts) & set(load_dataset("rotten_tomatoes").train_texts)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("1", 1),
        (" Positive ", 1),
        ("NEG", 0),
        ("pos", 1),
        ("negative", 0),
        ("True", 1),
        ("false", 0),
        ("1.0", 1),
        (0, 0),
        (True, 1),
    ],
)
def test_parse_label_accepts(value: object, expected: int) -> None:
    assert parse_label(value) == expected


def test_csv_label_words(tmp_path: Path) -> None:
    rows = "\n".join(f"text {i},{'positive' if i % 2 else 'NEG'}" for i in range(40))
    data = load_dataset(write_csv(tmp_path / "w.csv", "Text,Label\n" + rows + "\n"))
    assert sum(data.sizes.values()) == 40 and data.train_labels.mean() == 0.5


def test_csv_custom_columns_and_br(tmp_path: Path) -> None:
    rows = "\n".join(f"a<br />b{i},{i % 2}" for i in range(40))
    data = load_dataset(
        write_csv(tmp_path / "c.csv", "review,sentiment\n" + rows + "\n"),
        text_column="review",
        label_column="sentiment",
    )
    assert all("<br" not in t for t in data.train_texts)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"text,label\n", "no data rows"),
        (b"review,label\nfine,1\n", "no column named 'text'"),
        (b"text,score\nfine,1\n", "no column named 'label'"),
        (b"text,label\ngood,1\nbad,0\nmeh,neutral\n", "binary labels.*'neutral'"),
        (b"text,label\ngood,1\nbad,2\n", "binary labels.*'2'"),
        (b"text,label\ngood,1\nbad,\n", "binary labels"),
        (b"text,label\ngood,1\ngreat,1\n", "only positive"),
        (b"text,label\nbad \xe9t\xe9,0\ngood,1\n", "not valid UTF-8.*line 2"),
        (b"text,label\ngood\n", "field"),
        (b"text,label\ngood,1\nbad,0\n", "too few"),
    ],
)
def test_csv_errors(tmp_path: Path, content: bytes, match: str) -> None:
    with pytest.raises(DataError, match=match):
        load_dataset(write_csv(tmp_path / "bad.csv", content))


def test_dataset_name_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="imdb, rotten_tomatoes, synthetic, bbc_news") as info:
        load_dataset("yelp")
    assert isinstance(info.value, DynalyzeError) and "yelp" in str(info.value)
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"csv:{tmp_path / 'missing.csv'}")
    with pytest.raises(DataError, match="folder"):
        load_dataset(f"csv:{tmp_path}")
    with pytest.raises(DataError, match="needs a path"):
        load_dataset("csv:")
    with pytest.raises(ConfigurationError):
        load_dataset("synthetic", test_fraction=0.6, validation_fraction=0.5)
    with pytest.raises(ConfigurationError):
        load_dataset("synthetic", max_train=0)
    with pytest.raises(ConfigurationError):
        SyntheticConfig(min_length=10, max_length=5)
    assert "csv:PATH" in DATASET_NAMES


# --------------------------------------------------------------------------- vocabulary


def test_tokenize_like_keras() -> None:
    assert tokenize("It's GREAT!<br /><br />A must-see... 10/10") == [
        "its",
        "great",
        "a",
        "mustsee",
        "1010",
    ]
    assert tokenize("") == []


def test_vocabulary_build_encode_decode() -> None:
    texts = ["the good film", "the bad film", "the the good"]
    vocab = Vocabulary.build(texts)
    assert vocab.tokens[:2] == ("", "[UNK]")
    assert vocab.tokens[2:] == ("the", "film", "good", "bad")
    assert Vocabulary.build(texts, max_tokens=4).tokens == ("", "[UNK]", "the", "film")
    assert Vocabulary.build(texts, min_count=2).tokens == ("", "[UNK]", "the", "film", "good")
    ids = vocab.encode(["the good unknown film", "bad", ""], max_len=3)
    assert ids.dtype == np.int32 and ids.shape == (3, 3)
    np.testing.assert_array_equal(ids, [[2, 4, 1], [5, 0, 0], [0, 0, 0]])
    last = vocab.encode(["the good unknown film"], max_len=3, keep="last")
    np.testing.assert_array_equal(last, [[4, 1, 3]])
    assert vocab.decode(ids) == [["the", "good", "[UNK]"], ["bad"], []]
    assert vocab.index("good") == 4 and "good" in vocab and "zzz" not in vocab
    with pytest.raises(KeyError, match="zzz"):
        vocab.index("zzz")
    with pytest.raises(ConfigurationError):
        vocab.encode(["x"], max_len=0)
    with pytest.raises(ConfigurationError):
        Vocabulary.build(texts, max_tokens=2)


def test_vocabulary_round_trip(tmp_path: Path) -> None:
    vocab = Vocabulary.build(["café naïve good", "bad"])
    path = vocab.save(tmp_path / "sub" / "vocabulary.txt")
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "" and lines[1] == "[UNK]" and len(lines) == len(vocab) + 1
    assert Vocabulary.load(path).tokens == vocab.tokens
    (tmp_path / "crlf.txt").write_bytes(b"\r\n[UNK]\r\ngood\r\n")
    assert Vocabulary.load(tmp_path / "crlf.txt").tokens == ("", "[UNK]", "good")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"[UNK]\ngood\n", "padding"),
        (b"\n[UNK]\ngood\ngood\n", "more than once"),
        (b"\n[UNK]\ngood\n\nbad\n", "non-empty token"),
        (b"\n[UNK]\ntwo words\n", "whitespace"),
        (b"\n[UNK]\nd\xe9j\xe0\n", "UTF-8"),
        (b"", "padding"),
    ],
)
def test_vocabulary_malformed_file(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        Vocabulary.load(path)


def test_vocabulary_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        Vocabulary.load(tmp_path / "nope.txt")


# --------------------------------------------------------------------------- BoW


def test_bow_recovers_valence_signs() -> None:
    data = load_dataset("synthetic", seed=0, synthetic=SyntheticConfig(n_examples=1000))
    vocab = Vocabulary.build(data.train_texts)
    bow = fit_bow(data, vocab)
    assert bow.weights.shape == (len(vocab),) and bow.weights[0] == 0.0
    assert bow.test_accuracy > 0.9 and len(bow.selection) == 6
    true = data.true_valences
    assert true is not None
    valenced = [t for t in vocab.tokens[2:] if true[t] != 0]
    signs = [np.sign(bow.weights[vocab.index(t)]) == np.sign(true[t]) for t in valenced]
    assert np.mean(signs) == 1.0
    weights = np.array([bow.weights[vocab.index(t)] for t in vocab.tokens[2:]])
    valences = np.array([true[t] for t in vocab.tokens[2:]])
    assert np.corrcoef(weights, valences)[0, 1] > 0.9
    fixed = fit_bow(data, vocab, features="counts", C=1.0)
    assert fixed.features == "counts" and fixed.C == 1.0 and len(fixed.selection) == 1


def test_document_matrix_binary() -> None:
    vocab = Vocabulary(["", "[UNK]", "good", "bad"])
    x = document_matrix(["good good bad zzz"], vocab, features="binary")
    np.testing.assert_array_equal(x.toarray(), [[0, 1, 1, 1]])
    x = document_matrix(["good good bad"], vocab, max_len=1, keep="last")
    np.testing.assert_array_equal(x.toarray(), [[0, 0, 0, 1]])


# --------------------------------------------------------------------------- models & training

keras = pytest.importorskip("keras")

import dynalyze  # noqa: E402
from dynalyze.keras import load_model, save_model  # noqa: E402
from dynalyze.sentiment.models import (  # noqa: E402
    ARCHITECTURES,
    architecture_of,
    build_model,
    register_architecture,
    untrained_copy,
)
from dynalyze.sentiment.training import (  # noqa: E402
    evaluate_accuracy,
    predict_logits,
    train_model,
)


@pytest.mark.parametrize(
    ("arch", "layer"), [("simple", "SimpleRNN"), ("gru", "GRU"), ("lstm", "LSTM")]
)
def test_build_model(arch: str, layer: str) -> None:
    model = build_model(arch, 30, units=5, embedding_dim=4, seed=1)
    assert [lay.name for lay in model.layers[1:]] == ["embedding", "rnn", "readout"]
    assert type(model.get_layer("rnn")).__name__ == layer
    assert model.get_layer("embedding").mask_zero
    assert model.get_layer("embedding").input_dim == 30
    assert model.get_layer("rnn").units == 5 and model.output_shape == (None, 1)
    same = build_model(arch, 30, units=5, embedding_dim=4, seed=1)
    for w1, w2 in zip(model.get_weights(), same.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)


def test_build_model_errors_and_registry() -> None:
    with pytest.raises(ConfigurationError, match="gru, lstm, simple"):
        build_model("transformer", 30, units=5, embedding_dim=4)
    with pytest.raises(ConfigurationError):
        build_model("gru", 30, units=0, embedding_dim=4)
    with pytest.raises(ConfigurationError, match="already registered"):
        register_architecture("gru", ARCHITECTURES["gru"])

    def gru_v1(units: int, *, seed: int, name: str) -> keras.layers.Layer:
        return keras.layers.GRU(units, name=name, reset_after=False)

    register_architecture("gru_v1_test", gru_v1, system="gru")
    try:
        model = build_model("gru_v1_test", 10, units=3, embedding_dim=2)
        assert model.get_layer("rnn").reset_after is False
        # The built-in architecture naming a system comes first.
        assert architecture_of(dynalyze.wrap(model)) == "gru"
    finally:
        del ARCHITECTURES["gru_v1_test"]
    with pytest.raises(ConfigurationError, match="system"):
        register_architecture("gru_v2_test", gru_v1, system="")


def test_one_architecture_registry() -> None:
    """Recipe/CLI names, the systems their layers become, and back (``"simple"``)."""
    from dynalyze.keras import architectures

    assert ARCHITECTURES is architectures.ARCHITECTURES  # the re-export is the table
    assert build_model is architectures.build_model
    assert [(name, entry.system) for name, entry in ARCHITECTURES.items()] == [
        ("simple", "simple_rnn"),
        ("gru", "gru"),
        ("lstm", "lstm"),
        ("ugrnn", "ugrnn"),
    ]
    systems = dynalyze.list_systems()
    for arch, entry in ARCHITECTURES.items():
        system = dynalyze.wrap(build_model(arch, 10, units=3, embedding_dim=2, seed=0))
        assert type(system) is systems[entry.system]
        assert architecture_of(system) == arch
    keras_system = dynalyze.wrap(build_model("gru", 10, units=3, embedding_dim=2), system="keras")
    assert architecture_of(keras_system) == "keras"  # unknown: its registry name

    class Nameless:
        name = ""

    assert architecture_of(Nameless()) == "Nameless"


def test_untrained_copy_is_the_architecture_before_training() -> None:
    model = build_model("lstm", 10, units=3, embedding_dim=2, seed=4)
    initial = model.get_weights()
    model.set_weights([w - 0.5 for w in initial])  # stands in for training
    copy = untrained_copy(model, seed=5)
    assert copy is not model and copy.name == model.name
    assert [type(layer).__name__ for layer in copy.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    for got, want in zip(copy.get_weights(), initial, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def trained() -> tuple[keras.Model, Vocabulary, SentimentData, object]:
    recipe = defaults.default_recipe("synthetic").with_overrides(epochs=8)
    assert recipe.synthetic is not None
    data = load_dataset(
        "synthetic", seed=0, synthetic=attrs.evolve(recipe.synthetic, n_examples=1000)
    )
    vocab = Vocabulary.build(data.train_texts, max_tokens=recipe.max_tokens)
    model = build_model(
        recipe.arch, len(vocab), units=recipe.units, embedding_dim=recipe.embedding_dim, seed=0
    )
    result = train_model(
        model,
        data,
        vocab,
        max_len=recipe.max_len,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        seed=0,
        patience=recipe.patience,
        learning_rate=recipe.learning_rate,
        keep=recipe.keep,
        clipnorm=recipe.clipnorm,
        progress=False,
    )
    return model, vocab, data, result


def test_tiny_gru_learns_synthetic(trained: tuple) -> None:
    model, vocab, data, result = trained
    assert result.test_accuracy >= 0.9, result
    assert result.wall_time_s < 60
    assert 1 <= result.best_epoch <= result.epochs_run <= 8
    assert result.validation_accuracy == max(result.history["val_accuracy"])
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    acc = evaluate_accuracy(
        model, vocab, data.test_texts, data.test_labels, max_len=30, keep="last", batch_size=64
    )
    assert acc == pytest.approx(result.test_accuracy)
    assert result.describe()["settings"]["seed"] == 0


def test_save_load_round_trip(trained: tuple, tmp_path: Path) -> None:
    model, vocab, data, _ = trained
    folder = save_model(model, vocab, tmp_path / "m")
    assert (folder / "model.keras").is_file() and (folder / "vocabulary.txt").is_file()
    loaded, loaded_vocab = load_model(folder)
    assert loaded_vocab.tokens == vocab.tokens
    texts = data.test_texts[:50]
    np.testing.assert_allclose(
        predict_logits(loaded, loaded_vocab, texts, max_len=30),
        predict_logits(model, vocab, texts, max_len=30),
        rtol=0,
        atol=1e-6,
    )
    again, _ = load_model(folder / "model.keras", vocabulary=folder / "vocabulary.txt")
    assert again.get_layer("rnn").units == 16


def test_load_model_errors(trained: tuple, tmp_path: Path) -> None:
    model, vocab, data, _ = trained
    folder = save_model(model, vocab, tmp_path / "m")
    wrong = Vocabulary(vocab.tokens[:-1])
    with pytest.raises(VocabularyMismatchError, match=str(len(vocab))):
        load_model(folder, vocabulary=wrong)
    with pytest.raises(VocabularyMismatchError):
        save_model(model, wrong, tmp_path / "w")
    with pytest.raises(VocabularyMismatchError):
        train_model(model, data, wrong, max_len=5, epochs=1, batch_size=8, seed=0, patience=0)
    with pytest.raises(ConfigurationError, match="data must be a split of documents"):
        train_model(
            model, data.train_texts, vocab, max_len=5, epochs=1, batch_size=8, seed=0, patience=0
        )
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nothing.keras")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "model.keras").write_bytes(b"not a zip file")
    vocab.save(tmp_path / "corrupt" / "vocabulary.txt")
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_model(tmp_path / "corrupt")
    (folder / "vocabulary.txt").unlink()
    with pytest.raises(ModelLoadError, match="vocabulary"):
        load_model(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"no \.keras"):
        load_model(tmp_path / "empty")


def test_lambda_model_needs_unsafe_opt_in(tmp_path: Path) -> None:
    vocab = Vocabulary(["", "[UNK]", "good", "bad"])
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(len(vocab), 3, mask_zero=True)(tokens)
    x = keras.layers.GRU(4)(x)
    x = keras.layers.Dense(1)(x)
    x = keras.layers.Lambda(lambda z: z * 2.0)(x)
    model = keras.Model(tokens, x)
    folder = save_model(model, vocab, tmp_path / "lambda")
    with pytest.raises(ModelLoadError, match="safe_mode=False"):
        load_model(folder)
    loaded, _ = load_model(folder, safe_mode=False)
    ids = vocab.encode(["good bad", "bad"], max_len=3)
    np.testing.assert_allclose(loaded.predict_on_batch(ids), model.predict_on_batch(ids), atol=1e-6)
    # the opt-in is per call: safe mode is on again afterwards
    with pytest.raises(ModelLoadError):
        load_model(folder)


def test_model_without_embedding_is_refused(tmp_path: Path) -> None:
    inputs = keras.Input(shape=(None, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GRU(2)(inputs)))
    with pytest.raises(UnsupportedModelError, match="Embedding"):
        save_model(model, Vocabulary(["", "[UNK]", "a"]), tmp_path / "x")


def test_random_windows_are_slices_of_each_document() -> None:
    """``window=W``: each drawn document is W consecutive tokens of it (whole if shorter)."""
    from dynalyze.keras._batches import windows

    lengths = np.array([3, 12, 40])
    ids = np.zeros((3, 40), dtype=np.int32)
    for row, n in enumerate(lengths):
        ids[row, :n] = 100 * (row + 1) + np.arange(n)  # distinct, increasing tokens
    cut = windows(ids, 10, np.random.default_rng(0))
    starts = {1: set(), 2: set()}
    for _ in range(300):
        out = cut(np.array([0, 1, 2]))
        assert out.shape == (3, 10)
        np.testing.assert_array_equal(out[0, :3], ids[0, :3])  # shorter: whole
        assert not out[0, 3:].any()
        for row in (1, 2):
            window = out[row]
            start = int(window[0]) - 100 * (row + 1)
            np.testing.assert_array_equal(window, ids[row, start : start + 10])
            starts[row].add(start)
    assert starts[1] == set(range(3)) and starts[2] == set(range(31))  # every start occurs
    again = windows(ids, 10, np.random.default_rng(0))(np.array([0, 1, 2]))
    first = windows(ids, 10, np.random.default_rng(0))(np.array([0, 1, 2]))
    np.testing.assert_array_equal(again, first)  # seeded


def test_window_option_is_validated_and_reaches_the_recipe(trained: tuple) -> None:
    from dynalyze.sentiment.pipeline import RunConfig

    _, vocab, data, _ = trained
    model = build_model("gru", len(vocab), units=4, embedding_dim=4, seed=0)  # the fixture's stays
    with pytest.raises(ConfigurationError, match="window"):
        train_model(model, data, vocab, max_len=30, epochs=1, batch_size=32, seed=0,
                    patience=1, window=0, progress=False)  # fmt: skip
    assert RunConfig.build(dataset="synthetic", window=12).recipe.window == 12
    assert RunConfig.build(dataset="synthetic", window=0).recipe.window is None
    assert RunConfig.build(dataset="synthetic").recipe.window is None
    with pytest.raises(ConfigurationError, match="window"):
        RunConfig.build(dataset="synthetic", window=-1)
    result = train_model(model, data, vocab, max_len=30, epochs=1, batch_size=32, seed=0,
                         patience=1, window=8, progress=False)  # fmt: skip
    assert result.settings["window"] == 8 and result.epochs_run == 1
