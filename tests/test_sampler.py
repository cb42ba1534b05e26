"""The sampler near its floor, and still gpt-2-simple's model: its steps' logits within 1e-5 of
those of the library's own ``model.model`` with ``past``, its greedy tokens those of the
library's ``sample_sequence``, the samples recorded with this engine version (on the platform
that recorded them), and an early stop that changes no sample."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from tests.sampler_cases import BASE, FIXTURE, PROMPTS, draw


@pytest.fixture(scope="module")
def engine(models):
    from generator.samples.engine.fast import FastEngine

    e = FastEngine(models / "tiny")
    yield e
    e.close()


def test_the_engine_runs_its_compiled_kernels(engine):
    """The tests' machine has g++ (tests/system-packages.sh): the kernels are built, loaded and
    in the sampler's graph (an attention a layer, two norms a layer and the last one, four
    matrix products a layer and the output layer), and the engine is version 5."""
    from generator.samples.engine.common import VERSIONS

    assert engine.kernel is not None, "the sampler's kernels did not load: see the log (is g++ installed?)"
    assert engine.version == VERSIONS["fast"] == 5
    ops = [op.type for op in engine.graph.get_operations()]
    assert ops.count("VsrDecodeAttention") == engine.hparams.n_layer
    assert ops.count("VsrLayerNorm") == 2 * engine.hparams.n_layer + 1
    assert ops.count("VsrDecodeDense") == 4 * engine.hparams.n_layer
    assert ops.count("VsrDecodeLogits") == 1


def _reference_and_ours(models, tokens: list[int], follow: np.ndarray, kernel=None):
    """Logits at every sampling step for the same tokens, the way sample_sequence steps: the
    prompt but its last token through the model once (batch 1, repeated for the batch), then
    one token per row at a time. The reference is the library's ``model.model`` with ``past``,
    concatenated as its sample_sequence does; ours is ``forward.prompt`` then ``forward.step``:
    with the compiled ``kernel`` (engine version 5: attention, norms, matrix products and the
    output layer), or (None) as TensorFlow's operations, its output layer in vocabulary blocks."""
    from generator.samples.engine import forward
    from generator.samples.engine.checkpoint import Hparams
    from generator.samples.engine.tf import load

    tf, _ = load()
    from gpt_2_simple.src import model

    hp = model.default_hparams()
    hp.override_from_dict(Hparams.read(models / "tiny").as_dict())
    batch = follow.shape[0]
    columns = np.concatenate([np.full((batch, 1), tokens[-1]), follow], axis=1).T
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        context = v1.placeholder(tf.int32, [1, None])
        prompt_out = model.model(hparams=hp, X=context)
        past_in = v1.placeholder(tf.float32, model.past_shape(hparams=hp, batch_size=batch))
        token_in = v1.placeholder(tf.int32, [batch, 1])
        stepped = model.model(hparams=hp, X=token_in, past=past_in, reuse=True)
        past = forward.prompt(tf, model, hp, context)
        # chunks of 4 positions, not the sampler's 16: the run's 13 steps fill three and start a fourth
        chunk = 4
        shape = [-(-len(columns) // chunk), batch * hp.n_head, chunk, hp.n_embd // hp.n_head]
        keys_in = [v1.placeholder(tf.float32, shape) for _ in past[0]]
        values_in = [v1.placeholder(tf.float32, shape) for _ in past[0]]
        i = v1.placeholder(tf.int32, [])
        # vocabulary blocks of 100 rows: the tiny vocabulary in several blocks, the last one short
        weights = forward.step_weights(tf, hp, block_rows=100)
        assert len(weights["blocks"]) > 2 and hp.n_vocab % 100
        ours_step = forward.step(tf, hp, weights, token_in[:, 0], past, keys_in, values_in, i, kernel)
        saver = v1.train.Saver([v for v in v1.global_variables() if v.name.startswith("model/")])
        with v1.Session(graph=graph, config=_engine_config(tf)) as sess:
            saver.restore(sess, str(models / "tiny" / "model.ckpt"))
            presents = sess.run(prompt_out["present"], {context: [tokens[:-1]]})
            past_values = np.repeat(presents, batch, axis=0)
            # the buffers the sampler writes into, not yet written: what is there must not matter
            rng = np.random.default_rng(0)
            k, v = ([rng.standard_normal(shape).astype(np.float32) * 1e3 for _ in keys_in] for _ in range(2))
            ref, ours = [], []
            for at, column in enumerate(columns):
                r = sess.run(stepped, {token_in: column[:, None], past_in: past_values})
                past_values = np.concatenate([past_values, r["present"]], axis=-2)
                ref.append(r["logits"][:, -1])
                logits, k, v = sess.run(ours_step, {token_in: column[:, None], i: at, context: [tokens[:-1]], **dict(zip(keys_in, k)), **dict(zip(values_in, v))})
                ours.append(logits)
    return ref, ours


@pytest.mark.parametrize("attention", ["kernel", "operations"])
@pytest.mark.parametrize("batch", [1, 3])
def test_every_steps_logits_are_within_1e_5_of_the_librarys(models, engine, batch, attention):
    """Every logit, at every step, within 1e-5 of its row's largest (what the sampler's draw
    weighs), with the buffers' unwritten positions holding large numbers: they must not count.
    Both steps: the compiled kernels (engine version 5) and TensorFlow's operations (3)."""
    tokens = engine.encode(PROMPTS[0])
    rng = np.random.RandomState(batch)
    follow = rng.randint(0, engine.hparams.n_vocab - 1, size=(batch, 12))
    ref, ours = _reference_and_ours(models, tokens, follow, engine.kernel if attention == "kernel" else None)
    assert len(ref) == len(ours) == 13
    for i, (a, b) in enumerate(zip(ref, ours)):
        assert a.shape == b.shape
        worst = (np.abs(a - b).max(axis=1) / np.abs(a).max(axis=1)).max()
        assert worst <= 1e-5, f"step {i}: largest difference {worst:.2e} of the row's largest logit"


def test_greedy_tokens_are_the_librarys_sample_sequence(models, engine):
    """top_k 1: the library's own ``sample_sequence`` and the sampler pick the same token at every
    step, from the same prompt, on the tiny checkpoint's base weights."""
    from gpt_2_simple.src import model, sample

    from generator.samples.engine import forward
    from generator.samples.engine.tf import load

    tf, _ = load()
    v1 = tf.compat.v1
    hp = model.default_hparams()
    hp.override_from_dict(engine.hparams.as_dict())
    params = dataclasses.replace(BASE, finetune_steps=0, top_k=1, temperature=1.0, length=40)
    tokens = engine.encode(PROMPTS[0])
    graph = tf.Graph()
    with graph.as_default():
        context = v1.placeholder(tf.int32, [2, None])
        out = sample.sample_sequence(hparams=hp, length=params.length, context=context, batch_size=2, temperature=1.0, top_k=1)
        saver = v1.train.Saver([v for v in v1.global_variables() if v.name.startswith("model/")])
        with v1.Session(graph=graph, config=_engine_config(tf)) as sess:
            saver.restore(sess, str(models / "tiny" / "model.ckpt"))
            theirs = sess.run(out, {context: [tokens, tokens]})[:, len(tokens):]
    engine.reset()
    ours = engine.sample_tokens(PROMPTS[0], params, 2)
    # long enough that the attention read three chunks of the sampler's buffers (forward.CHUNK)
    assert np.array_equal(theirs[0], theirs[1]) and 2 * forward.CHUNK < ours.shape[1] <= params.length
    # ours stops once every row has written <|endoftext|>; the library draws on to the length
    assert np.array_equal(ours, theirs[:, : ours.shape[1]]), f"first different step: {np.argmax((ours != theirs[:, : ours.shape[1]]).any(axis=0))}"
    assert ours.shape[1] == params.length or engine.end_of_text in list(ours[0])


def test_after_a_fine_tune_greedy_tokens_are_the_librarys_on_the_tuned_weights(models, engine):
    """The fine-tuned weights, everywhere the sampler reads them (a copy of a weight made at the
    restore, such as a transposed copy of the embeddings for the output layer, would be the
    base model's: sampling against one fails this test)."""
    from gpt_2_simple.src import model, sample

    from generator.samples.engine.tf import load

    tf, _ = load()
    v1 = tf.compat.v1
    hp = model.default_hparams()
    hp.override_from_dict(engine.hparams.as_dict())
    tuned = dataclasses.replace(BASE, learning_rate=1e-2)  # a step that changes what the model says
    params = dataclasses.replace(tuned, top_k=1, temperature=1.0, length=40)
    engine.finetune(PROMPTS[0], tuned)
    ours = engine.sample_tokens(PROMPTS[0], params, 1)
    weights = dict(zip([w.name.split(":")[0] for w in engine.weights], engine.sess.run(engine.weights)))
    tokens = engine.encode(PROMPTS[0])
    graph = tf.Graph()
    with graph.as_default():
        context = v1.placeholder(tf.int32, [1, None])
        out = sample.sample_sequence(hparams=hp, length=params.length, context=context, batch_size=1, temperature=1.0, top_k=1)
        with v1.Session(graph=graph, config=_engine_config(tf)) as sess:
            for v in v1.global_variables():
                v.load(weights[v.op.name], sess)
            theirs = sess.run(out, {context: [tokens]})[:, len(tokens):]
    engine.reset()
    base = engine.sample_tokens(PROMPTS[0], params, 1)
    assert not np.array_equal(base, ours[:, : base.shape[1]]) or base.shape != ours.shape, "the fine-tune changed nothing: the test shows nothing"
    assert np.array_equal(ours, theirs[:, : ours.shape[1]])


@pytest.mark.parametrize("n_embd", [768, 1024])
def test_output_layer_in_vocabulary_blocks_is_the_librarys_matmul(n_embd):
    """At GPT-2's own sizes (124M's and 355M's width, the whole vocabulary), where the tiny
    checkpoint's 32 columns cannot show a change in how a kernel sums: every logit of the
    blocked output layer equals ``matmul(h, wte, transpose_b=True)``'s, at several batch sizes."""
    from types import SimpleNamespace

    from generator.samples.engine import forward
    from generator.samples.engine.tf import load

    tf, _ = load()
    v1 = tf.compat.v1
    rng = np.random.default_rng(n_embd)
    hp = SimpleNamespace(n_vocab=50257, n_embd=n_embd)
    graph = tf.Graph()
    with graph.as_default():
        wte = v1.placeholder(tf.float32, [hp.n_vocab, n_embd])
        h = v1.placeholder(tf.float32, [None, n_embd])
        blocks = forward.vocab_blocks(tf, wte, hp)
        assert len(blocks) > 30
        ours, library = forward.output_layer(tf, h, blocks), tf.matmul(h, wte, transpose_b=True)
    table = (rng.standard_normal((hp.n_vocab, n_embd)) * 0.02).astype(np.float32)
    with v1.Session(graph=graph, config=_engine_config(tf)) as sess:
        for batch in (1, 3, 10):
            rows = rng.standard_normal((batch, n_embd)).astype(np.float32) * 3
            a, b = sess.run((ours, library), {wte: table, h: rows})
            assert a.shape == b.shape == (batch, hp.n_vocab)
            assert np.array_equal(a, b), f"batch {batch}: {np.count_nonzero(a != b)} logits differ"


def _engine_config(tf):
    from generator.platform import engine_threads
    from generator.samples.engine.fast import session_config

    return session_config(tf, engine_threads())


def test_the_weights_enter_the_sampling_loop_once(engine):
    """The loop is a TF1 frame: what its body reads from outside (the weights) enters once per
    run, where a TF2 ``While`` would carry each weight through every token as a loop variable."""
    ops = engine.graph.get_operations()
    assert not [op.name for op in ops if op.type in ("While", "StatelessWhile")]
    enters = [op for op in ops if op.type in ("Enter", "RefEnter")]
    carried = [op for op in enters if not op.get_attr("is_constant")]
    # the loop's own variables: while_loop's iteration counter (maximum_iterations), the step,
    # each layer's keys and values, the last token, the ended flags and the output
    assert len(carried) == 2 * engine.hparams.n_layer + 5
    assert len(enters) - len(carried) >= len(engine.weights)  # every weight enters as a constant


def test_tf1_loop_puts_the_setting_back():
    from generator.samples.engine.sampler import tf1_loop
    from generator.samples.engine.tf import load

    tf, _ = load()
    v1 = tf.compat.v1
    before = v1.control_flow_v2_enabled()
    try:
        with tf.Graph().as_default():
            v1.enable_control_flow_v2()
            with tf1_loop(tf):
                assert not v1.control_flow_v2_enabled()
            assert v1.control_flow_v2_enabled()
            with pytest.raises(ZeroDivisionError), tf1_loop(tf):
                1 / 0
            assert v1.control_flow_v2_enabled()
            v1.disable_control_flow_v2()
            with tf1_loop(tf):
                pass
            assert not v1.control_flow_v2_enabled()  # off before, off after
    finally:
        (v1.enable_control_flow_v2 if before else v1.disable_control_flow_v2)()


def test_samples_are_those_recorded_with_this_engine_version(models, engine):
    from generator.platform import this_machine
    from generator.samples.engine.checkpoint import fingerprint

    recorded = json.loads(FIXTURE.read_text())
    if fingerprint(models / "tiny") != recorded["model_fingerprint"] or this_machine(engine.platform.threads).as_dict() != recorded["platform"]:
        pytest.skip("recorded on another platform: TensorFlow's bits hold on one platform only (python -m tests.sampler_cases to record here)")
    assert recorded["engine"] == engine.version, "recorded with another engine version: python -m tests.sampler_cases records this one's"
    assert draw(engine) == recorded["cases"]


def test_early_stop_changes_no_sample_and_takes_fewer_steps(models, engine):
    """Against the same sampler built without the early stop: every case gives the same samples,
    and a batch whose every row ends at once runs fewer steps."""
    from generator.samples.engine.fast import FastEngine

    full = FastEngine(models / "tiny", early_stop=False)
    try:
        assert draw(engine) == draw(full)
        params = dataclasses.replace(BASE, finetune_steps=0, top_k=1, temperature=1.0, length=40)
        for e in (engine, full):
            e.reset()
        knobs = (engine.encode(PROMPTS[1]), 2, params.temperature, params.top_k, params.length, [params.seed, 1])
        steps, rows = engine.sess.run((engine.sampler.steps, engine.sampler.generated), engine.sampler.feed(*knobs))
        steps_full = full.sess.run(full.sampler.steps, full.sampler.feed(*knobs))
        assert all(engine.end_of_text in list(row) for row in rows) and steps < steps_full == params.length
        # rows that end at different steps: the loop goes on until the last one has ended
        knobs = (engine.encode(PROMPTS[1]), 4, 1.0, 0, 60, [5, 1])
        ours = engine.sess.run(engine.sampler.generated, engine.sampler.feed(*knobs))
        theirs = full.sess.run(full.sampler.generated, full.sampler.feed(*knobs))
        assert [engine.decode(r) for r in ours] == [full.decode(r) for r in theirs]
        assert np.array_equal(ours, theirs[:, : ours.shape[1]])
    finally:
        full.close()
