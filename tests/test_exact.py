"""The engine is exact: no race in the update, Adam as TensorFlow computes it, `window` as gpt-2-simple trains,
the same bytes run after run, and every knob (fine-tuning, temperature, top_k, prompt) really acts."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from generator.samples.cache import Params
from generator.samples.store import load_cache
from generator.samples.engine.recompute import ancestors
from tests.conftest import run_cli
from tests.stores import store_of

PROD = Params(temperature=0.8, top_k=30, length=16, seed=7, finetune_steps=1, learning_rate=1e-4)  # the production learning rate
PROMPT = "Rovers drive slowly. They carry cameras. They stop often to look at rocks."


@pytest.fixture(scope="module")
def engine(models):
    from generator.samples.engine.fast import FastEngine

    e = FastEngine(models / "tiny", max_finetune_steps=5, window=True)
    yield e
    e.close()


@pytest.fixture(scope="module")
def single(models):
    """The default engine: one step, closed-form Adam, no slots."""
    from generator.samples.engine.fast import FastEngine

    e = FastEngine(models / "tiny")
    yield e
    e.close()


def weights(e) -> list[np.ndarray]:
    return e.sess.run(e.weights)


@pytest.fixture(scope="module")
def operations(models):
    """The default engine without its compiled kernels (version 3): the update as TensorFlow's operations."""
    from generator.samples.engine.fast import FastEngine

    e = FastEngine(models / "tiny", kernel=False)
    yield e
    e.close()


UPDATES = ("AssignSub", "ScatterSub", "VsrStepUpdate")  # TensorFlow's updates, and the compiled one (engine version 5)


@pytest.mark.parametrize("which", ["single", "operations"])
def test_no_weight_moves_before_its_gradient_and_every_read_of_it(which, request):
    """Each update waits for its own gradient and for every op of the step that reads its weight
    (directly or through a view of its buffer: read, reshape), so no update races a read;
    and for nothing more, so the gradients are not all alive at once."""
    single = request.getfixturevalue(which)
    step = ancestors(single.adam.grads[0].op)
    for g in single.adam.grads:
        step |= ancestors(g.op) | {g.op}
    updates: dict = {}  # weight -> the op writing it last (the embeddings: the last of their blocks)
    for op in sorted(ancestors(single.adam.step) | set(single.adam.step.control_inputs), key=lambda o: len(ancestors(o))):
        if op.type in UPDATES and op.inputs[0].op in {w.op for w in single.weights}:
            updates[op.inputs[0].op] = op
    assert len(updates) == len(single.weights)
    waits_for_all = 0
    for w, g in zip(single.weights, single.adam.grads):
        before = ancestors(updates[w.op])
        # the embeddings' update sums its two parts block by block: it waits for what each part is made of
        # (the logits' gradient and h; the lookup's rows and tokens)
        assert g.op in before or (g.op.type == "AddN" and all(t.op in before for part in g.op.inputs for t in part.op.inputs[:2]))
        views, readers = [w.op.outputs[0]], set()
        while views:
            for op in views.pop().consumers():
                if op in step and op not in readers:
                    readers.add(op)
                    if op.type in ("Identity", "Reshape"):
                        views.extend(op.outputs)
        assert readers and not readers - before, f"{updates[w.op].name} may run before {sorted(o.name for o in readers - before)[:3]} read {w.op.name}"
        waits_for_all += {x.op for x in single.adam.grads} <= before
    assert waits_for_all < len(single.weights) // 2  # most updates run while other gradients are still to come


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "operations"])
def test_the_step_never_computes_a_tensor_of_the_embeddings_size(models, monkeypatch, kernel):
    """The embeddings (the largest weight: 307 MB for 1558M) are updated one block of rows at a time:
    what the step runs makes no tensor of their size but the variable itself, its views and its
    writes; not the output layer's dense gradient, not the lookup's rows spread out, not their sum.
    (The tiny model's embeddings are one block at the usual 4 MB; here a block is 4 kB, and the
    graph so built is not kept.)"""
    from generator.samples.engine import adam
    from generator.samples.engine.fast import FastEngine

    monkeypatch.setenv("VSR_GRAPH_CACHE", "off")
    monkeypatch.setattr(adam, "UPDATE_BLOCK_BYTES", 4096)
    e = FastEngine(models / "tiny", kernel=kernel)
    try:
        wte = next(w for w in e.weights if w.op.name == "model/wte")
        step = ancestors(e.adam.step)
        writes = [op for op in step if op.type in ("ScatterSub", "VsrStepUpdate") and op.inputs[0].op is wte.op]
        full = [op.name for op in step if op.type not in adam._VIEWS and op is not wte.op and op not in writes
                and any(t.shape.is_fully_defined() and t.shape.as_list() == wte.shape.as_list() for t in op.outputs)]
        assert not full, full
        assert len(writes) > 10  # the embeddings are updated, block by block
        # and every block's rows move as the whole gradient says, bit for bit
        from generator.samples.engine.adam import BETA2, EPSILON

        e.reset()
        base = weights(e)
        grads = e.sess.run(e.adam.grads, {e.tokens: [e.encode(PROMPT)]})
        lr, eps = np.float32(PROD.learning_rate), np.float32(EPSILON / (1 - BETA2) ** 0.5)
        e.generate(PROMPT, PROD, 2)
        assert all(np.array_equal(a, w - lr * (g / (np.abs(g) + eps))) for a, w, g in zip(weights(e), base, grads))
    finally:
        e.close()


def test_the_split_gradient_is_tensorflows_gradient_bit_for_bit(models):
    """``adam.gradients`` takes the loss's gradient in two parts (the logits', then from h down,
    one block at a time, each block's forward pass run again: ``recompute.py``); every weight's
    gradient is the one ``tf.gradients`` of the library's whole loss gives, bit for bit."""
    from generator.samples.engine import adam, forward
    from generator.samples.engine.checkpoint import Hparams
    from generator.samples.engine.tf import load

    tf, _ = load()
    from gpt_2_simple.src import model

    v1 = tf.compat.v1
    hp = model.default_hparams()
    hp.override_from_dict(Hparams.read(models / "tiny").as_dict())
    graph = tf.Graph()
    with graph.as_default(), v1.variable_scope(v1.get_variable_scope(), use_resource=False):
        tokens = v1.placeholder(tf.int32, [1, None])
        loss, output = forward.training_loss(tf, model, hp, tokens)
        ws = [v for v in v1.trainable_variables() if v.name.startswith("model/")]
        split, parts = adam.gradients(tf, loss, ws, output, forward.Blocks(tf, model, hp))
        whole = [tf.convert_to_tensor(g) for g in tf.gradients(ys=loss, xs=ws, gate_gradients=True)]
        saver = v1.train.Saver(ws)
    assert sum(p is not None for p in parts) == 1  # the embeddings, and only they, come in parts
    assert len([op for op in graph.get_operations() if op.name.startswith("recompute/")]) == hp.n_layer
    with v1.Session(graph=graph) as sess:
        saver.restore(sess, str(models / "tiny" / "model.ckpt"))
        feed = {tokens: [[5, 80, 17, 300, 2, 41, 9, 120, 33, 7]]}
        a, b = sess.run(split, feed), sess.run(whole, feed)  # apart: the graph optimizer cannot merge the two
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_one_step_equals_gradients_then_updates_in_separate_runs(single):
    """generate() with one step leaves exactly the weights that a gradient run followed by
    a separate update computes (float32, same operation order): no race, lr as given."""
    from generator.samples.engine.adam import BETA2, EPSILON

    single.reset()
    base = weights(single)
    grads = single.sess.run(single.adam.grads, {single.tokens: [single.encode(PROMPT)]})
    lr, eps = np.float32(PROD.learning_rate), np.float32(EPSILON / (1 - BETA2) ** 0.5)
    expected = [w - lr * (g / (np.abs(g) + eps)) for w, g in zip(base, grads)]
    single.generate(PROMPT, PROD, 2)  # the fine-tune inside generate, at the production learning rate
    after = weights(single)
    assert all(np.array_equal(a, e) for a, e in zip(after, expected))
    assert not all(np.array_equal(a, b) for a, b in zip(after, base))


def _tf_adam(base: list[np.ndarray], grads: list[list[np.ndarray]], lr: float) -> list[np.ndarray]:
    """TensorFlow's own AdamOptimizer.apply_gradients, step after step, on the given gradients."""
    from generator.samples.engine.tf import load

    tf, _ = load()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        variables = [v1.Variable(w, use_resource=False) for w in base]
        fed = [v1.placeholder(tf.float32, w.shape) for w in base]
        apply = v1.train.AdamOptimizer(learning_rate=lr).apply_gradients(list(zip(fed, variables)))
        sess.run(v1.global_variables_initializer())
        for step in grads:
            sess.run(apply, dict(zip(fed, step)))
        return sess.run(variables)


@pytest.mark.parametrize("steps", [1, 5])
def test_adam_equals_tensorflows_adamoptimizer(engine, single, steps):
    """The hand-written step against AdamOptimizer on the same gradients, at the production learning rate."""
    params = dataclasses.replace(PROD, finetune_steps=steps)
    for e in ([single] if steps == 1 else []) + [engine]:
        e.reset()
        base = weights(e)
        grads = []
        for t in range(1, steps + 1):  # what finetune() does, with each step's gradients kept
            grads.append(e.sess.run(e.adam.grads, {e.tokens: [e.encode(PROMPT)]}))
            e.sess.run(e.adam.step, {e.tokens: [e.encode(PROMPT)], e.adam.lr: params.learning_rate, e.adam.t: float(t)})
        replayed = weights(e)
        e.finetune(PROMPT, params)
        ours = weights(e)
        assert all(np.array_equal(a, b) for a, b in zip(ours, replayed))
        theirs = _tf_adam(base, grads, params.learning_rate)
        moved = max(float(np.abs(o - b).max()) for o, b in zip(ours, base))
        assert moved > params.learning_rate * steps / 2
        for o, t, b in zip(ours, theirs, base):
            np.testing.assert_allclose(o - b, t - b, rtol=0, atol=2e-7)  # float32 rounding, nothing more


def _agree(ours: list[np.ndarray], theirs: list[np.ndarray]) -> tuple[float, float]:
    """(largest difference, share of elements within 2e-7) of two sets of weight changes."""
    diffs = np.concatenate([np.abs(o - t).ravel() for o, t in zip(ours, theirs)])
    return float(diffs.max()), float((diffs <= 2e-7).mean())


def test_window_step_equals_gpt2_simple_finetune(engine, models):
    """train_on = window: with the same seed both draw the same five windows; the weights agree."""
    from generator.samples.engine.seed import SeedEngine

    params = dataclasses.replace(PROD, seed=5, train_on="window")
    engine.reset()
    base = weights(engine)
    engine.finetune(PROMPT, params)
    ours = [a - b for a, b in zip(weights(engine), base)]
    seed = SeedEngine(models / "tiny")
    try:
        seed.finetune(PROMPT, params)
        names = [w.op.name for w in engine.weights]
        with seed.sess.graph.as_default():
            variables = {v.op.name: v for v in seed.tf.compat.v1.global_variables()}
            theirs = [a - b for a, b in zip(seed.sess.run([variables[n] for n in names]), base)]
    finally:
        seed.close()
    # The two graphs compute the same gradients with kernels grouped differently, so a
    # gradient of ~1e-9 can differ in its last digits; Adam's first step (about lr·sign(g))
    # turns that into at most a few 1e-6 on such elements. Every other element agrees.
    largest, share = _agree(ours, theirs)
    assert largest < 1e-5 and share > 0.99, (largest, share)
    # and the passage's own tokens are a different training set
    engine.finetune(PROMPT, dataclasses.replace(params, train_on="passage"))
    largest, share = _agree([a - b for a, b in zip(weights(engine), base)], theirs)
    assert largest > 1e-4 and share < 0.9


def test_window_needs_an_engine_built_for_it(single):
    with pytest.raises(ValueError, match="window"):
        single.finetune(PROMPT, dataclasses.replace(PROD, train_on="window"))


def test_temperature_near_zero_without_top_k_is_greedy(single):
    single.reset()
    greedy = single.sample_tokens(PROMPT, dataclasses.replace(PROD, top_k=1, temperature=1.0, length=24), 1)[0]
    cold = single.sample_tokens(PROMPT, dataclasses.replace(PROD, top_k=0, temperature=1e-4, length=24), 3)
    assert all(np.array_equal(row, greedy) for row in cold)
    warm = single.sample_tokens(PROMPT, dataclasses.replace(PROD, top_k=0, temperature=1.0, length=24), 3)
    assert not all(np.array_equal(row, greedy) for row in warm)


def test_samples_depend_on_the_prompt(single):
    single.reset()
    a = single.sample(PROMPT, PROD, 4)
    b = single.sample("The wheels are made of aluminium. They wear out. Engineers watch them.", PROD, 4)
    assert a != b


def test_fine_tuning_changes_the_samples(single):
    params = dataclasses.replace(PROD, length=32)
    tuned = single.generate(PROMPT, params, 10).continuations
    untuned = single.generate(PROMPT, dataclasses.replace(params, finetune_steps=0), 10).continuations
    assert tuned != untuned


def _generate_bytes(content, models, *extra) -> dict[str, bytes]:
    assert run_cli("generate", "--content", str(content), "--models-dir", str(models), "--model", "tiny", "--samples", "3", "--length", "16", "--force", "-q", *extra) == 0
    return {p.relative_to(content).as_posix(): p.read_bytes() for p in sorted((content / "samples").glob("*.passages/*.json"))}


@pytest.mark.parametrize("train_on", ["passage", "window"])
def test_generate_gives_the_same_bytes_run_after_run_and_under_load(exhibit, models, train_on):
    first = _generate_bytes(exhibit, models, "--train-on", train_on)
    assert _generate_bytes(exhibit, models, "--train-on", train_on) == first
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        assert _generate_bytes(exhibit, models, "--train-on", train_on) == first
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert "samples/alpha.passages/models.json" in first and "samples/beta.passages/models.json" in first
    runs = [r for name, data in first.items() if not name.endswith("/models.json") for r in json.loads(data)["runs"] if r["model"] == "tiny"]
    assert runs and all(r["params"]["train_on"] == train_on for r in runs)


def test_escalation_draws_new_seeds_and_records_them():
    from generator.samples.policy import ladder

    rungs = ladder(PROD)
    assert [(r.top_k, r.temperature) for r in rungs] == [(40, 0.8), (80, 0.9)]
    assert len({PROD.seed, *(r.seed for r in rungs)}) == 3
    assert ladder(dataclasses.replace(PROD, top_k=0)) == []  # nothing is wider than no limit


def test_more_samples_adds_only_what_is_missing(exhibit, models):
    def runs():
        cache, _ = load_cache(store_of(exhibit, "beta"), "beta")
        (entry,) = cache.passages.values()
        return entry.runs

    base = ("generate", "--content", str(exhibit), "--models-dir", str(models), "--model", "tiny", "--essay", "beta", "--length", "16", "--top-k", "0", "-q")
    assert run_cli(*base, "--samples", "3") == 0
    first = runs()
    assert [len(r.samples) for r in first] == [3]
    assert run_cli(*base, "--samples", "3") == 0 and runs() == first  # done: nothing added
    assert run_cli(*base, "--samples", "5") == 0
    after = runs()
    assert after[0] == first[0] and [len(r.samples) for r in after] == [3, 2] and after[1].params.seed != PROD.seed


@pytest.mark.parametrize(
    "args, message",
    [
        (("--temperature", "0"), "--temperature must be greater than 0"),
        (("--top-k", "-1"), "--top-k must be 0"),
        (("--samples", "0"), "--samples must be between 1 and 1000"),
        (("--length", "0"), "--length must be between 1 and 1023"),
        (("--length", "2000"), "--length must be between 1 and 1023"),
        (("--learning-rate", "0"), "--learning-rate must be greater than 0"),
    ],
)
def test_out_of_range_options_are_refused(exhibit, tmp_path, capsys, args, message):
    assert run_cli("generate", "--content", str(exhibit), "--models-dir", str(tmp_path), *args) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("line, message", [("temperature = -1.0", "generation.temperature must be greater than 0"), ("top_k = -3", "generation.top_k must be 0"), ("train_on = \"both\"", "generation.train_on must be one of passage, window")])
def test_out_of_range_site_toml_is_refused(exhibit, capsys, line, message):
    toml = exhibit / "site.toml"
    toml.write_text(toml.read_text() + line + "\n")
    assert run_cli("check", "--content", str(exhibit)) == 1
    err = capsys.readouterr().err
    assert message in err and f"site.toml:{len(toml.read_text().splitlines())}" in err


def test_window_training_needs_a_1024_token_context(exhibit, models, tmp_path, capsys):
    import shutil

    small = tmp_path / "m" / "small"
    shutil.copytree(models / "tiny", small)
    hparams = json.loads((small / "hparams.json").read_text())
    (small / "hparams.json").write_text(json.dumps({**hparams, "n_ctx": 512}))
    args = ("generate", "--content", str(exhibit), "--models-dir", str(tmp_path / "m"), "--model", "small", "--train-on", "window", "--length", "16")
    assert run_cli(*args) == 1
    assert "train_on = window trains on 1024-token windows; this model's context holds 512" in capsys.readouterr().err
