"""The training code must keep working: a few steps on a tiny sample, then export, quantize and load."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.reader import Reader, Text

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "squad-sample"


def test_a_smoke_run_trains_exports_and_loads_and_a_second_stage_starts_from_it(tmp_path: Path, monkeypatch):
    run, out = tmp_path / "run", tmp_path / "reader"
    done = subprocess.run([sys.executable, "-m", "training", "smoke", "--data", str(SAMPLE), "--run", str(run),
                           "--out", str(out), "--cache", str(tmp_path / "cache"), "--threads", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "checkpoint" and line["step"] == 3 for line in lines)
    assert lines[-1]["smoke"] == "ok"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["figures"]["dev"]) == {"float", "int8"}
    assert manifest["figures"]["dev"]["int8"]["megabytes"] < manifest["figures"]["dev"]["float"]["megabytes"] / 3
    text = "Warsaw is the capital of Poland. It lies on the Vistula."
    reading = Reader(out).read("What river is Warsaw on?", [Text(text, 0, len(text), ((0, 32), (33, len(text))))])[0]
    assert reading.best is not None and text[reading.best.span_start:reading.best.span_end]
    second = tmp_path / "second"
    done = subprocess.run([sys.executable, "-m", "training", "train", "--data", str(SAMPLE), "--run", str(second),
                           "--cache", str(tmp_path / "cache"), "--threads", "1", "--limit", "40", "--dev-limit", "5",
                           "--windows-per-batch", "8", "--max-steps", "1", "--seed", "14", "--learning-rate", "5e-5",
                           "--loosened-share", "0.5", "--cut-share", "0.5", "--swapped-share", "0.5",
                           "--adversarial", "0.5",
                           "--init", str(run / "net-000003.pt")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    monkeypatch.syspath_prepend(str(ROOT))  # the training code is a script folder in the checkout, not installed
    from training.__main__ import _commands, _learning_curve

    curve = _learning_curve(second)  # the manifest's learning curve covers every stage, the first one first
    assert curve[0]["run"] == run.as_posix() and curve[0]["step"] == 3 and curve[-1]["run"] == second.as_posix()

    commands = _commands(second)
    assert commands[:3] == _commands(run)[:-1] + [
        "python -m training prepare --seed 14 --loosened-share 0.5 --cut-share 0.5 --swapped-share 0.5 --limit 40"]
    assert f"--init {(run / 'net-000003.pt').as_posix()}" in commands[3] and "--learning-rate 5e-05" in commands[3]
    assert "--windows-per-batch 8" in commands[3] and "--limit 40" in commands[3]
    assert "--adversarial 0.5" in commands[3]

    # a stage from the exported int8 reader, its two checkpoints averaged into the export
    third = tmp_path / "third"
    done = subprocess.run([sys.executable, "-m", "training", "train", "--data", str(SAMPLE), "--run", str(third),
                           "--cache", str(tmp_path / "cache"), "--threads", "1", "--limit", "40", "--dev-limit", "5",
                           "--windows-per-batch", "8", "--max-steps", "2", "--stop-at", "1",
                           "--init", str(out / "model.onnx")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    done = subprocess.run([sys.executable, "-m", "training", "train", "--data", str(SAMPLE), "--run", str(third),
                           "--cache", str(tmp_path / "cache"), "--threads", "1", "--limit", "40", "--dev-limit", "5",
                           "--windows-per-batch", "8", "--max-steps", "2", "--resume",
                           "--init", str(out / "model.onnx")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    weights = [third / "net-000001.pt", third / "net-000002.pt"]
    commands = _commands(third, weights)
    shipped = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["figures"]["commands"]
    assert commands[:len(shipped)] == shipped[:-1] + [shipped[-1] + f" --out {out.as_posix()}"]
    assert commands[-3].endswith("--stop-at 1") and commands[-2].endswith("--resume")
    assert commands[-1].endswith(f"--weights {weights[0].as_posix()} {weights[1].as_posix()}")
    assert _learning_curve(third)[:-2] == manifest["figures"]["learning_curve"]


def test_weights_recovered_from_the_shipped_int8_reader_read_like_it(monkeypatch):
    """Dequantized, the shipped model's weights give the logits of the int8 model, within its rounding."""
    import numpy as np
    import torch

    monkeypatch.syspath_prepend(str(ROOT))
    from rag.embedder import _default_path
    from rag.reader import default_folder
    from training.model import ReaderNet
    from training.recover import weights_from_onnx

    net = ReaderNet(_default_path())
    net.load_state_dict(weights_from_onnx(default_folder() / "model.onnx"))  # strict: every weight is there
    net.eval()
    reader = Reader()
    text = "Warsaw is the capital of Poland. It lies on the Vistula."
    from rag.reader import cut

    (_, window), = cut("What river is Warsaw on?", [Text(text, 0, len(text), ((0, 32), (33, len(text))))], reader.tokens)
    int8 = reader.logits([window])[0]
    with torch.no_grad():
        recovered = net(torch.from_numpy(window.ids[None]), torch.ones(1, len(window.ids), dtype=torch.long),
                        torch.from_numpy(window.type_ids[None]))[0].numpy()
    assert np.abs(int8 - recovered).max() < 1.0
    context = slice(window.first, window.first + len(window.offsets))
    assert int8[context, 0].argmax() == recovered[context, 0].argmax()
    assert int8[context, 1].argmax() == recovered[context, 1].argmax()


def test_the_export_takes_no_attention_mask_and_reads_unpadded_windows_as_the_network_does(tmp_path: Path,
                                                                                            monkeypatch):
    """The exported graph drops the mask (windows are never padded) and still gives the network's logits."""
    import numpy as np
    import onnx
    import onnxruntime
    import torch

    monkeypatch.syspath_prepend(str(ROOT))
    from rag.embedder import _default_path
    from rag.reader import cut, default_folder
    from training.export import export_float
    from training.model import ReaderNet
    from training.recover import weights_from_onnx

    net = ReaderNet(_default_path())
    net.load_state_dict(weights_from_onnx(default_folder() / "model.onnx"))
    export_float(net, tmp_path / "float.onnx")
    graph = onnx.load(str(tmp_path / "float.onnx")).graph
    assert [i.name for i in graph.input] == ["input_ids", "token_type_ids"]
    assert not {"IsNaN", "Where"} & {node.op_type for node in graph.node}
    session = onnxruntime.InferenceSession(str(tmp_path / "float.onnx"), providers=["CPUExecutionProvider"])
    text = "Warsaw is the capital of Poland. It lies on the Vistula, which flows north to the Baltic Sea."
    tokens = Reader().tokens
    for question in ("What river is Warsaw on?", "Where does the Vistula flow?"):
        (_, window), = cut(question, [Text(text, 0, len(text), ((0, 32), (33, len(text))))], tokens)
        exported = session.run(None, {"input_ids": window.ids[None], "token_type_ids": window.type_ids[None]})[0]
        with torch.no_grad():
            plain = net(torch.from_numpy(window.ids[None]), torch.ones(1, len(window.ids), dtype=torch.long),
                        torch.from_numpy(window.type_ids[None])).numpy()
        assert np.abs(exported - plain).max() < 1e-3


def test_a_reader_exported_with_an_attention_mask_still_reads(tmp_path: Path, monkeypatch):
    """A reader folder of the format before v2 (its graph takes a mask) is fed one and reads as the v2 export does."""
    import numpy as np
    import torch

    monkeypatch.syspath_prepend(str(ROOT))
    from rag.embedder import _default_path
    from rag.reader import MASKED_FORMAT, cut
    from training.export import export_float, write_folder
    from training.model import ReaderNet

    torch.manual_seed(0)
    net = ReaderNet(_default_path()).eval()
    export_float(net, tmp_path / "v2.onnx")
    export_float(net, tmp_path / "v1.onnx", masked=True)
    tokenizer = Path(_default_path()) / "tokenizer.json"
    write_folder(tmp_path / "v2.onnx", tokenizer, tmp_path / "new", {})
    write_folder(tmp_path / "v1.onnx", tokenizer, tmp_path / "old", {})
    manifest = json.loads((tmp_path / "old" / "manifest.json").read_text(encoding="utf-8"))
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({**manifest, "format": MASKED_FORMAT}), encoding="utf-8")
    text = "Warsaw is the capital of Poland. It lies on the Vistula."
    old, new = Reader(tmp_path / "old"), Reader(tmp_path / "new")
    (_, window), = cut("What river is Warsaw on?", [Text(text, 0, len(text), ((0, 32), (33, len(text))))], new.tokens)
    assert np.abs(old.logits([window])[0] - new.logits([window])[0]).max() < 1e-4


def test_an_adversarial_step_adds_gradients_and_puts_the_embeddings_back(monkeypatch):
    import torch

    monkeypatch.syspath_prepend(str(ROOT))
    from rag.embedder import _default_path
    from training.__main__ import _tokens
    from training.data import Group, examples_of, split_paragraphs
    from training.model import ReaderNet, batch_tensors, loss
    from training.train import adversarial_backward

    tokens = _tokens()
    text = "The ferry sank in May. The captain was Ana Ruiz."
    paragraph = split_paragraphs([("Ferry", text)], tokens)[0]
    answer = (text.index("Ana"), text.index("Ana") + len("Ana Ruiz"))
    batch = [Group("q", True, tuple(examples_of(tokens.question("Who was the captain?"), paragraph, tokens, answer)))]
    torch.manual_seed(0)
    net = ReaderNet(_default_path())
    inputs = batch_tensors(batch)
    value, _ = loss(net(*inputs), batch)
    value.backward()
    embeddings = net.encoder.embeddings.word_embeddings.weight
    before, plain = embeddings.detach().clone(), embeddings.grad.clone()
    adversarial_backward(net, inputs, batch, 1.0)
    assert torch.equal(embeddings.detach(), before)  # moved, then put back exactly
    used = torch.unique(inputs[0])
    assert not torch.allclose(embeddings.grad[used], plain[used])  # the moved loss's gradients were added
    unused = torch.ones(embeddings.shape[0], dtype=torch.bool)
    unused[used] = False
    assert torch.equal(embeddings.grad[unused], plain[unused])  # words not in the batch get nothing


def test_loosened_questions_drop_shared_words_but_keep_the_question_word_and_one_more(monkeypatch):
    import random

    monkeypatch.syspath_prepend(str(ROOT))
    from training.data import loosen

    paragraph = "Carter and Le Drian co-chaired the meeting in Paris on Tuesday."
    question = "Who presided over the meeting in Paris on Tuesday?"
    results = {loosen(question, paragraph, random.Random(seed)) for seed in range(40)}
    assert len(results) > 5  # each seed drops a different choice of the shared words
    for loose in results:
        words = loose.split()
        assert words[:3] == ["Who", "presided", "over"]  # the question word and words the text lacks stay
        assert set(words) <= set(question.split())
    assert "Who presided over in on" in results or any(len(r.split()) < 6 for r in results)
    assert loosen("Meeting Paris", paragraph, random.Random(1), share=1.0) in ("Meeting", "Paris")


def test_an_entity_swap_changes_a_name_the_paragraph_mentions_into_one_it_does_not(monkeypatch):
    import random

    monkeypatch.syspath_prepend(str(ROOT))
    from training.data import entities, swap_entity

    paragraph = "In 1990 Maria Lopez sailed the Aurora to Boston, where it was sold."
    question = "Which ship did Maria Lopez sail to Boston in 1990?"
    found, pool = entities([question, "Peter Smith left Chicago in 1985."])
    assert found == [("Maria Lopez", "PERSON"), ("Boston", "GPE"), ("1990", "DATE")]
    swaps = {swap_entity(question, found, paragraph, pool, random.Random(seed)) for seed in range(20)}
    assert swaps == {question.replace("Maria Lopez", "Peter Smith"), question.replace("Boston", "Chicago"),
                     question.replace("1990", "1985")}  # one entity the paragraph mentions, for one of its kind
    # nothing of the question in the paragraph, or nothing of the same kind the paragraph lacks: no swap
    assert swap_entity(question, found, "A text about ferries.", pool, random.Random(1)) is None
    assert swap_entity(question, found, paragraph, [("Boston", "GPE"), ("Maria Lopez Jr", "PERSON")],
                       random.Random(1)) is None


def test_the_answer_sentence_is_cut_out_cleanly_or_not_at_all(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from training.__main__ import _tokens
    from training.data import split_paragraphs, without_answer

    tokens = _tokens()
    text = "The ferry sank in May. Nobody died. The captain was Ana Ruiz, who had sailed for years. It was rebuilt in May."
    paragraph = split_paragraphs([("Ferry", text)], tokens)[0]
    cut = without_answer(paragraph, ("Ana Ruiz", text.index("Ana Ruiz")), tokens)
    assert cut is not None and cut.text == "The ferry sank in May. Nobody died. It was rebuilt in May."
    assert [cut.text[a:b] for a, b in cut.sentences] == ["The ferry sank in May.", "Nobody died.", "It was rebuilt in May."]
    assert tokens.context(cut.text)[0] == cut.ids
    # the answer's words still in the rest: the question stays answerable, so no cut
    assert without_answer(paragraph, ("May", text.index("May")), tokens) is None
    across = text.index("died")  # an answer over two sentences
    assert without_answer(paragraph, (text[across:across + 20], across), tokens) is None
    single = split_paragraphs([("One", "Ana Ruiz was the captain.")], tokens)[0]
    assert without_answer(single, ("Ana Ruiz", 0), tokens) is None


BAD_OPTIONS = [
    (["train", "--dropped-share", "1.5"], "--dropped-share is a share"),
    (["train", "--loosened-share", "nan"], "--loosened-share is a share"),
    (["train", "--learning-rate", "-1"], "--learning-rate must be a positive number"),
    (["train", "--epochs", "0"], "--epochs must be a positive number"),
    (["train", "--adversarial", "inf"], "--adversarial must be 0 (off) or a positive number"),
    (["train", "--windows-per-batch", "0"], "--windows-per-batch must be at least 1"),
    (["train", "--limit", "-5"], "--limit cannot be negative"),
    (["train", "--init", "README.md"], "--init takes a run's net-STEP.pt or an exported model.onnx"),
    (["train", "--init", "missing/net-000001.pt"], "does not exist"),
    (["train", "--weights", "README.md"], "use it with export"),
    (["train", "--resume"], "holds no checkpoint.pt to resume"),
    (["smoke", "--resume"], "a smoke run always starts over"),
    (["export"], "holds no trained run"),
]


@pytest.mark.parametrize("argv, message", BAD_OPTIONS)
def test_bad_training_options_stop_before_any_work_with_one_line(tmp_path: Path, monkeypatch, capsys, argv, message):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.chdir(ROOT)
    from training.__main__ import main

    run = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        main(argv + ["--data", str(SAMPLE), "--run", str(run), "--cache", str(tmp_path / "cache")])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("python -m training: error: ") and message in error[0]
    assert not (tmp_path / "cache").exists() and not run.exists()  # nothing prepared, nothing written


def test_a_saved_run_is_never_started_over_and_resumes_only_with_its_own_options(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT))
    from training.__main__ import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"weights of a long run")
    (run / "config.json").write_text(json.dumps({"learning_rate": 3e-05, "seed": 18, "init": ""}), encoding="utf-8")
    common = ["--data", str(SAMPLE), "--run", str(run), "--cache", str(tmp_path / "cache")]
    for argv, message in ((["train"], "already holds a trained run; add --resume"),
                          (["all"], "already holds a trained run; add --resume"),
                          (["smoke"], "give smoke a new --run folder"),
                          (["train", "--resume", "--seed", "18"], "was trained with --learning-rate 3e-05"),
                          (["train", "--resume", "--learning-rate", "3e-5"], "was trained with --seed 18"),
                          (["train", "--resume", "--learning-rate", "3e-5", "--seed", "18", "--cut-share", "0.5"],
                           "was trained with --cut-share 0.0")):
        with pytest.raises(SystemExit) as stop:
            main(argv + common)
        assert stop.value.code == 2 and message in capsys.readouterr().err
    assert (run / "checkpoint.pt").read_bytes() == b"weights of a long run"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "config.json"]


def test_mixed_files_are_read_with_their_weights_and_the_no_answer_share_is_met(tmp_path: Path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from training.data import no_answer_shares, read_train

    rows = [json.loads(line) for line in (SAMPLE / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    extra = tmp_path / "extra.jsonl"
    extra.write_text("".join(json.dumps({**row, "id": f"x{n}", "question": row["question"] + "?"}) + "\n"
                             for n, row in enumerate(rows)), encoding="utf-8")
    base_paragraphs, base = read_train(SAMPLE / "train.jsonl")
    paragraphs, questions = read_train(SAMPLE / "train.jsonl", ((extra, 2.0),))
    assert len(questions) == 3 * len(base) and paragraphs == base_paragraphs  # same paragraphs, read once
    assert sum(q.qid.endswith("#2") for q in questions) == len(base)
    _, half = read_train(SAMPLE / "train.jsonl", ((extra, 0.5),), seed=3)
    assert 0.25 * len(base) < len(half) - len(base) < 0.75 * len(base)
    from training.data import Question

    mixed = ([Question(str(n), "q", 0, (("a", 0),)) for n in range(90)]
             + [Question(f"u{n}", "q", 0, ()) for n in range(10)])
    dropped, cut, swapped = no_answer_shares(mixed, 0.3, 0.2, 0.2, 0.0)
    made = 90 * (dropped + cut)  # the no-answer groups made from the 90 answerable questions
    assert swapped == 0.0 and dropped == cut > 0 and abs((made + 10) / (100 + made) - 0.3) < 1e-9
    assert no_answer_shares(mixed, 0.05, 0.2, 0.2, 0.0) == (0.0, 0.0, 0.0)  # 10 of 100 is already more


@pytest.mark.parametrize("flags, message", [
    (["--mix", "nowhere.jsonl=1"], "does not exist"),
    (["--mix", "tests/data/squad-sample/train.jsonl=lots"], "FILE=WEIGHT"),
    (["--no-answer-share", "0.3", "--dropped-share", "0"], "scales"),
    (["--no-answer-share", "1"], "below 1"),
])
def test_bad_mix_options_are_refused_before_any_work(flags, message, tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "training", "train", "--data", str(SAMPLE), "--run",
                           str(tmp_path / "run"), *flags], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_pack_gives_back_the_prepared_groups_and_weights_come_back_whole(tmp_path: Path, monkeypatch):
    """What travels to a GPU machine trains the same: packed groups unpack to the same windows and targets."""
    import numpy as np
    import torch

    monkeypatch.syspath_prepend(str(ROOT))
    from training import data
    from training.pack import join, pack, split, unpack
    from rag.embedder import _default_path
    from rag.reader import Tokens

    tokens = Tokens(Path(_default_path()) / "tokenizer.json")
    raw, questions = data.read_train(SAMPLE / "train.jsonl")
    questions = questions[:30]
    paragraphs = data.split_paragraphs(raw, tokens)
    groups = data.make_groups(paragraphs, questions, tokens, 1, 0.5, 7, cut_share=0.5)
    dev = (paragraphs[:2], questions[:2], {q.qid: [] for q in questions[:2]})
    pack(groups, dev, Path(_default_path()), tmp_path / "pack")
    unpacked, dev_back = unpack(tmp_path / "pack", tokens.cls, tokens.sep)
    assert len(unpacked) == len(groups) and dev_back[1] == dev[1]
    for old, new in zip(groups, unpacked):
        assert old.answerable == new.answerable and len(old.examples) == len(new.examples)
        for a, b in zip(old.examples, new.examples):
            assert np.array_equal(a.window.ids, b.window.ids) and np.array_equal(a.window.type_ids, b.window.type_ids)
            assert a.window.first == b.window.first and len(a.window.offsets) == len(b.window.offsets)
            assert (a.starts, a.ends, a.sentences) == (b.starts, b.ends, b.sentences)
    weights = {"big": torch.randn(30000, 384), "small": torch.randn(7), "count": torch.tensor([3])}
    paths = split(weights, tmp_path / "parts")
    assert len(paths) >= 2 and all(path.stat().st_size < 15_500_000 for path in paths)
    back = join(tmp_path / "parts")
    assert set(back) == set(weights) and back["count"].tolist() == [3]
    assert torch.allclose(back["big"], weights["big"], atol=1e-2) and back["big"].dtype == torch.float32
