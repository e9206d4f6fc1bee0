"""PyTorch reference implementation of TRM and HRM (FP32, CPU).

Written from the papers (TRM: arXiv 2510.04871; HRM: arXiv 2506.21734) and the
published behaviour of the upstream repositories (SamsungSAILMontreal/
TinyRecursiveModels, sapientinc/HRM). ARCHITECTURE.md beside this file is the
equation-level specification of exactly what this code computes; the Swift
side is written from that document, so keep the two in step.

Module attribute paths are chosen so that `state_dict()` keys match upstream
checkpoint names (`inner.L_level.layers.0.self_attn.qkv_proj.weight`, ...).

    python tools/reference/models.py describe CONFIG.json [seq_len=36 vocab_size=8]   # tensor names/shapes
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_LABEL_ID = -100


# --------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------

@dataclass
class Config:
    """Upstream field names (TinyRecursiveReasoningModel_ACTV1Config /
    HierarchicalReasoningModel_ACTV1Config) plus `arch`."""

    seq_len: int
    vocab_size: int
    arch: str = "trm"                 # "trm" | "hrm"
    batch_size: int = 0               # ignored (upstream needs it for the sparse puzzle embedding)
    puzzle_emb_ndim: int = 0          # 0 = no puzzle embedding
    num_puzzle_identifiers: int = 1
    H_cycles: int = 3
    L_cycles: int = 6
    H_layers: int = 0                 # HRM only (TRM ignores it)
    L_layers: int = 2
    hidden_size: int = 64
    expansion: float = 4.0
    num_heads: int = 4
    pos_encodings: str = "rope"       # "rope" | "learned" | "none"
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    halt_max_steps: int = 16
    halt_exploration_prob: float = 0.1
    forward_dtype: str = "float32"    # only float32 here
    mlp_t: bool = False               # TRM: token-mixing SwiGLU across the sequence instead of attention
    puzzle_emb_len: int = 0           # 0 = ceil(puzzle_emb_ndim / hidden_size); forced to 0 when puzzle_emb_ndim == 0
    no_ACT_continue: Optional[bool] = None  # None = True for TRM, False for HRM
    intermediate_size: Optional[int] = None    # hidden-axis SwiGLU width when not upstream's rule (MLP channels pruned)
    intermediate_size_t: Optional[int] = None  # TRM's token-MLP width, likewise
    head_dim: Optional[int] = None             # attention head width when not hidden_size // num_heads (heads pruned)

    def __post_init__(self):
        if self.arch not in ("trm", "hrm"):
            raise ValueError(f"arch must be 'trm' or 'hrm', got {self.arch!r}")
        if self.forward_dtype != "float32":
            raise ValueError("this reference runs in float32 only")
        if self.pos_encodings not in ("rope", "learned", "none"):
            raise ValueError(f"pos_encodings must be rope|learned|none, got {self.pos_encodings!r}")
        if self.no_ACT_continue is None:
            self.no_ACT_continue = self.arch == "trm"
        if self.puzzle_emb_ndim == 0:
            self.puzzle_emb_len = 0
        elif self.puzzle_emb_len == 0:
            self.puzzle_emb_len = -(self.puzzle_emb_ndim // -self.hidden_size)  # ceil div
        if self.puzzle_emb_ndim > self.puzzle_emb_len * self.hidden_size:
            raise ValueError("puzzle_emb_ndim does not fit into puzzle_emb_len * hidden_size")
        if self.arch == "hrm":
            if self.mlp_t:
                raise ValueError("mlp_t is a TRM option")
            if self.H_layers < 1:
                raise ValueError("HRM needs H_layers >= 1")
        if self.head_dim is not None and self.mlp_t:
            raise ValueError("head_dim is an attention option")
        if not self.mlp_t and self.head_dim is None and self.hidden_size % self.num_heads != 0:
            raise ValueError("hidden_size must be divisible by num_heads")
        if self.pos_encodings == "rope" and not self.mlp_t and self.attention_head_dim % 2:
            raise ValueError("RoPE needs an even head_dim")

    @property
    def attention_head_dim(self) -> int:
        """head_dim, else hidden_size // num_heads (upstream's Attention)."""
        return self.head_dim or self.hidden_size // self.num_heads

    @property
    def total_len(self) -> int:
        """Positions in the hidden state: puzzle-embedding prefix + tokens."""
        return self.seq_len + self.puzzle_emb_len

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def load(cls, path: str) -> "Config":
        with open(path) as f:
            return cls.from_dict(json.load(f))


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------

def trunc_normal_(t: torch.Tensor, std: float, lower: float = -2.0, upper: float = 2.0) -> torch.Tensor:
    """Truncated normal whose *actual* standard deviation is `std` (JAX/Flax
    convention used upstream): sample N(0,1) truncated to [lower, upper] by
    inverse CDF, then scale by std / std(truncated N(0,1))."""
    with torch.no_grad():
        if std == 0:
            return t.zero_()
        cdf = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
        pdf = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        z = cdf(upper) - cdf(lower)
        var = 1.0 + (lower * pdf(lower) - upper * pdf(upper)) / z - ((pdf(lower) - pdf(upper)) / z) ** 2
        scale = std / math.sqrt(var)
        t.uniform_(2.0 * cdf(lower) - 1.0, 2.0 * cdf(upper) - 1.0)
        t.erfinv_().mul_(math.sqrt(2.0))
        t.clamp_(lower, upper).mul_(scale)
    return t


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm over the last axis, no learnable weight."""
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)


def find_multiple(a: int, b: int) -> int:
    return -(a // -b) * b


def swiglu_inter(hidden: int, expansion: float) -> int:
    """Upstream rule: round(expansion * hidden * 2/3) rounded up to a multiple of 256."""
    return find_multiple(round(expansion * hidden * 2 / 3), 256)


class CastedLinear(nn.Module):
    """y = x W^T (+ b). W: [out, in], truncated LeCun normal (std 1/sqrt(in)); b zero."""

    def __init__(self, in_features: int, out_features: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(trunc_normal_(torch.empty(out_features, in_features), std=in_features ** -0.5))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class CastedEmbedding(nn.Module):
    def __init__(self, num: int, dim: int, init_std: float):
        super().__init__()
        self.embedding_weight = nn.Parameter(trunc_normal_(torch.empty(num, dim), std=init_std))

    def forward(self, ids):
        return F.embedding(ids, self.embedding_weight)


class PuzzleEmbedding(nn.Module):
    """Per-puzzle-identifier vector (upstream: CastedSparseEmbedding, trained with
    SignSGD; here a dense zero-initialised table trained by the main optimizer)."""

    def __init__(self, num: int, dim: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num, dim))

    def forward(self, ids):
        return F.embedding(ids, self.weights)


def rope_cos_sin(head_dim: int, positions: int, theta: float) -> Tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(positions, dtype=torch.float32), inv_freq)  # [P, d/2]
    emb = torch.cat((freqs, freqs), dim=-1)                                        # [P, d]
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, hidden: int, num_heads: int, head_dim: Optional[int] = None):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim or hidden // num_heads
        width = num_heads * self.head_dim  # hidden unless heads were pruned
        self.qkv_proj = CastedLinear(hidden, 3 * width, bias=False)
        self.o_proj = CastedLinear(width, hidden, bias=False)

    def forward(self, x, cos_sin):
        B, P, D = x.shape
        qkv = self.qkv_proj(x).view(B, P, 3 * self.num_heads, self.head_dim)
        q, k, v = qkv.split(self.num_heads, dim=2)                 # each [B, P, H, d]
        if cos_sin is not None:
            cos, sin = cos_sin                                     # [P, d]
            cos, sin = cos[:, None, :], sin[:, None, :]
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))           # [B, H, P, d]
        o = F.scaled_dot_product_attention(q, k, v, is_causal=False)
        return self.o_proj(o.transpose(1, 2).reshape(B, P, self.num_heads * self.head_dim))


class SwiGLU(nn.Module):
    def __init__(self, hidden: int, expansion: float, inter: Optional[int] = None):
        super().__init__()
        inter = inter or swiglu_inter(hidden, expansion)
        self.gate_up_proj = CastedLinear(hidden, 2 * inter, bias=False)
        self.down_proj = CastedLinear(inter, hidden, bias=False)

    def forward(self, x):
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class Block(nn.Module):
    """Post-norm block. Token mixer = attention, or (TRM mlp_t) a SwiGLU over
    the sequence axis; then a SwiGLU over the hidden axis."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.eps = cfg.rms_norm_eps
        self.use_mlp_t = cfg.mlp_t
        if cfg.mlp_t:
            self.mlp_t = SwiGLU(cfg.total_len, cfg.expansion, cfg.intermediate_size_t)
        else:
            self.self_attn = Attention(cfg.hidden_size, cfg.num_heads, cfg.head_dim)
        self.mlp = SwiGLU(cfg.hidden_size, cfg.expansion, cfg.intermediate_size)

    def forward(self, x, cos_sin):
        if self.use_mlp_t:
            xt = x.transpose(1, 2)                                 # [B, D, P]
            x = rms_norm(xt + self.mlp_t(xt), self.eps).transpose(1, 2)  # norm over P (as upstream)
        else:
            x = rms_norm(x + self.self_attn(x, cos_sin), self.eps)
        return rms_norm(x + self.mlp(x), self.eps)


class ReasoningModule(nn.Module):
    def __init__(self, cfg: Config, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList([Block(cfg) for _ in range(num_layers)])

    def forward(self, hidden, injection, cos_sin):
        hidden = hidden + injection
        for layer in self.layers:
            hidden = layer(hidden, cos_sin)
        return hidden


# --------------------------------------------------------------------------
# Inner model (one supervision step = one full recursion)
# --------------------------------------------------------------------------

class Inner(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        D = cfg.hidden_size
        self.embed_scale = math.sqrt(D)
        embed_std = 1.0 / self.embed_scale
        self.embed_tokens = CastedEmbedding(cfg.vocab_size, D, embed_std)
        self.lm_head = CastedLinear(D, cfg.vocab_size, bias=False)
        self.q_head = CastedLinear(D, 2, bias=True)
        if cfg.puzzle_emb_ndim > 0:
            self.puzzle_emb = PuzzleEmbedding(cfg.num_puzzle_identifiers, cfg.puzzle_emb_ndim)
        if cfg.pos_encodings == "learned":
            self.embed_pos = CastedEmbedding(cfg.total_len, D, embed_std)
        if cfg.pos_encodings == "rope" and not cfg.mlp_t:
            cos, sin = rope_cos_sin(cfg.attention_head_dim, cfg.total_len, cfg.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        else:
            self.rope_cos = self.rope_sin = None
        if cfg.arch == "hrm":
            self.H_level = ReasoningModule(cfg, cfg.H_layers)
        self.L_level = ReasoningModule(cfg, cfg.L_layers)
        self.register_buffer("H_init", trunc_normal_(torch.empty(D), std=1.0), persistent=True)
        self.register_buffer("L_init", trunc_normal_(torch.empty(D), std=1.0), persistent=True)
        with torch.no_grad():
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)

    @property
    def puzzle_emb_len(self) -> int:
        return self.cfg.puzzle_emb_len

    def input_embeddings(self, inputs, puzzle_identifiers):
        cfg = self.cfg
        emb = self.embed_tokens(inputs.long())                       # [B, L, D]
        if cfg.puzzle_emb_ndim > 0:
            pe = self.puzzle_emb(puzzle_identifiers.long())          # [B, ndim]
            pad = cfg.puzzle_emb_len * cfg.hidden_size - pe.shape[-1]
            if pad > 0:
                pe = F.pad(pe, (0, pad))
            emb = torch.cat((pe.view(-1, cfg.puzzle_emb_len, cfg.hidden_size), emb), dim=1)
        if cfg.pos_encodings == "learned":
            emb = 0.707106781 * (emb + self.embed_pos.embedding_weight)
        return self.embed_scale * emb

    def forward(self, z_H, z_L, inputs, puzzle_identifiers, trace: Optional[list] = None):
        """One supervision step. Returns (z_H, z_L) detached, logits [B, L, V],
        q_halt [B], q_continue [B]. Gradient flows only through the last
        recursion (TRM: the whole last H cycle; HRM: the last L and H update)."""
        cfg = self.cfg
        cos_sin = (self.rope_cos, self.rope_sin) if self.rope_cos is not None else None
        x = self.input_embeddings(inputs, puzzle_identifiers)
        H_level = self.H_level if cfg.arch == "hrm" else self.L_level
        grad = torch.is_grad_enabled()
        n_L = cfg.H_cycles * cfg.L_cycles
        k = 0
        for h in range(cfg.H_cycles):
            for l in range(cfg.L_cycles):
                k += 1
                if cfg.arch == "trm":
                    with_grad = grad and h == cfg.H_cycles - 1
                else:
                    with_grad = grad and k == n_L
                with torch.set_grad_enabled(with_grad):
                    z_L = self.L_level(z_L, z_H + x, cos_sin)
                if trace is not None:
                    trace.append((f"h{h}.l{l}.z_L", z_L.detach().clone()))
            with torch.set_grad_enabled(grad and h == cfg.H_cycles - 1):
                z_H = H_level(z_H, z_L, cos_sin)
            if trace is not None:
                trace.append((f"h{h}.z_H", z_H.detach().clone()))
        logits = self.lm_head(z_H)[:, cfg.puzzle_emb_len:]
        q = self.q_head(z_H[:, 0])
        return z_H.detach(), z_L.detach(), logits, q[..., 0], q[..., 1]


# --------------------------------------------------------------------------
# ACT wrapper
# --------------------------------------------------------------------------

@dataclass
class Carry:
    z_H: torch.Tensor          # [B, P, D]
    z_L: torch.Tensor          # [B, P, D]
    steps: torch.Tensor        # [B] int32, supervision steps done on the current puzzle
    halted: torch.Tensor       # [B] bool; halted rows take new data and reset on the next call
    current_data: Dict[str, torch.Tensor] = field(default_factory=dict)


class RecursiveModel(nn.Module):
    """TRM or HRM with the ACT wrapper. `state_dict()` keys start with `inner.`."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.inner = Inner(cfg)

    def initial_carry(self, batch: Dict[str, torch.Tensor]) -> Carry:
        B = batch["inputs"].shape[0]
        shape = (B, self.cfg.total_len, self.cfg.hidden_size)
        return Carry(
            z_H=torch.zeros(shape), z_L=torch.zeros(shape),  # overwritten: every row starts halted
            steps=torch.zeros(B, dtype=torch.int32),
            halted=torch.ones(B, dtype=torch.bool),
            current_data={k: torch.zeros_like(v) for k, v in batch.items()},
        )

    def forward(self, carry: Carry, batch: Dict[str, torch.Tensor], trace: Optional[list] = None):
        """One ACT (supervision) step. Rows halted in `carry` are reset to
        H_init/L_init and take their data from `batch`; the others continue."""
        cfg = self.cfg
        inner = self.inner
        reset = carry.halted.view(-1, 1, 1)
        z_H = torch.where(reset, inner.H_init, carry.z_H)
        z_L = torch.where(reset, inner.L_init, carry.z_L)
        steps = torch.where(carry.halted, torch.zeros_like(carry.steps), carry.steps)
        data = {k: torch.where(carry.halted.view((-1,) + (1,) * (v.ndim - 1)), batch[k], v)
                for k, v in carry.current_data.items()}
        if trace is not None:
            trace.append(("in.z_H", z_H.detach().clone()))
            trace.append(("in.z_L", z_L.detach().clone()))

        z_H, z_L, logits, q_halt, q_cont = inner(z_H, z_L, data["inputs"], data["puzzle_identifiers"], trace=trace)
        out = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_cont}

        with torch.no_grad():
            steps = steps + 1
            is_last = steps >= cfg.halt_max_steps
            halted = is_last
            if self.training and cfg.halt_max_steps > 1:
                if cfg.no_ACT_continue:
                    halted = halted | (q_halt > 0)
                else:
                    halted = halted | (q_halt > q_cont)
                explore = torch.rand_like(q_halt) < cfg.halt_exploration_prob
                min_steps = explore * torch.randint_like(steps, low=2, high=cfg.halt_max_steps + 1)
                halted = halted & (steps >= min_steps)
                if not cfg.no_ACT_continue:
                    # Bootstrapped target (no replay buffer / target net): one more
                    # recursion from the new carry on the same data.
                    _, _, _, nq_halt, nq_cont = inner(z_H, z_L, data["inputs"], data["puzzle_identifiers"])
                    out["target_q_continue"] = torch.sigmoid(
                        torch.where(is_last, nq_halt, torch.maximum(nq_halt, nq_cont)))
        return Carry(z_H, z_L, steps, halted, data), out

    @torch.no_grad()
    def run(self, batch: Dict[str, torch.Tensor], steps: Optional[int] = None, trace: bool = False):
        """Evaluation: every row runs `steps` (default halt_max_steps) supervision
        steps from the initial state. Returns a list with one dict per step:
        logits, q_halt_logits, q_continue_logits, z_H, z_L (+ trace list)."""
        was_training = self.training
        self.eval()
        try:
            n = self.cfg.halt_max_steps if steps is None else steps
            if not 1 <= n <= self.cfg.halt_max_steps:
                raise ValueError(f"steps must be in 1...{self.cfg.halt_max_steps} (rows reset after halt_max_steps)")
            carry = self.initial_carry(batch)
            results = []
            for _ in range(n):
                tr = [] if trace else None
                carry, out = self(carry, batch, trace=tr)
                rec = {k: v for k, v in out.items()}
                rec["z_H"], rec["z_L"] = carry.z_H, carry.z_L
                if trace:
                    rec["trace"] = tr
                results.append(rec)
            return results
        finally:
            self.train(was_training)


# --------------------------------------------------------------------------
# Losses (upstream ACTLossHead)
# --------------------------------------------------------------------------

def log_stablemax(x, dim=-1):
    s = torch.where(x < 0, 1.0 / (1.0 - x + 1e-30), x + 1.0)
    return torch.log(s / s.sum(dim=dim, keepdim=True))


def token_loss(logits, labels, kind: str):
    """Per-token cross-entropy, 0 where label == IGNORE_LABEL_ID."""
    valid = labels != IGNORE_LABEL_ID
    safe = torch.where(valid, labels, 0).long()
    if kind == "stablemax":
        lp = log_stablemax(logits.double(), -1)
    elif kind == "softmax":
        lp = F.log_softmax(logits.float(), -1)
    else:
        raise ValueError(kind)
    nll = -lp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.where(valid, nll, torch.zeros_like(nll))


def act_loss(carry: Carry, out: Dict[str, torch.Tensor], loss_kind: str, changed_weight: float = 1.0):
    """Returns (summed loss over the batch, metrics dict of sums).
    loss = sum_b mean_t CE + 0.5 * (BCE(q_halt, seq_correct) + BCE(q_cont, target))

    changed_weight != 1 (not upstream; a training aid for tasks whose labels
    mostly copy the input, e.g. mazes): cells whose label differs from the input
    weigh `changed_weight` in the per-puzzle mean CE, the others 1, so the
    model cannot settle in the copy-the-input minimum."""
    labels = carry.current_data["labels"]
    logits = out["logits"]
    with torch.no_grad():
        mask = labels != IGNORE_LABEL_ID
        counts = mask.sum(-1)
        divisor = counts.clamp_min(1).unsqueeze(-1)
        weight, loss_divisor = None, divisor
        if changed_weight != 1.0:
            changed = mask & (labels != carry.current_data["inputs"])
            weight = torch.where(changed, changed_weight, 1.0) * mask
            loss_divisor = weight.sum(-1).clamp_min(1e-9).unsqueeze(-1)
        correct = mask & (logits.argmax(-1) == labels)
        seq_correct = correct.sum(-1) == counts
        valid = carry.halted & (counts > 0)
        metrics = {
            "count": valid.sum().item(),
            "accuracy": torch.where(valid, (correct.float() / divisor).sum(-1), 0.0).sum().item(),
            "exact_accuracy": (valid & seq_correct).sum().item(),
            "q_halt_accuracy": (valid & ((out["q_halt_logits"] >= 0) == seq_correct)).sum().item(),
            "steps": torch.where(valid, carry.steps, 0).sum().item(),
        }
    tl = token_loss(logits, labels, loss_kind)
    if weight is not None:
        tl = tl * weight
    lm_loss = (tl / loss_divisor).sum()
    q_halt_loss = F.binary_cross_entropy_with_logits(out["q_halt_logits"], seq_correct.float(), reduction="sum")
    loss = lm_loss + 0.5 * q_halt_loss
    metrics["lm_loss"] = lm_loss.item()
    metrics["q_halt_loss"] = q_halt_loss.item()
    if "target_q_continue" in out:
        q_cont_loss = F.binary_cross_entropy_with_logits(out["q_continue_logits"], out["target_q_continue"], reduction="sum")
        loss = loss + 0.5 * q_cont_loss
        metrics["q_continue_loss"] = q_cont_loss.item()
    return loss.float(), metrics


# --------------------------------------------------------------------------
# I/O helpers
# --------------------------------------------------------------------------

def load_model(model_dir: str) -> RecursiveModel:
    import os
    from safetensors.torch import load_file
    cfg = Config.load(os.path.join(model_dir, "config.json"))
    model = RecursiveModel(cfg)
    state = load_file(os.path.join(model_dir, "model.safetensors"))
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def describe(cfg: Config) -> str:
    torch.manual_seed(0)
    m = RecursiveModel(cfg)
    lines = ["| tensor | shape | elements |", "| --- | --- | --- |"]
    total = 0
    for k, v in m.state_dict().items():
        lines.append(f"| `{k}` | [{', '.join(map(str, v.shape))}] | {v.numel()} |")
        total += v.numel()
    lines.append(f"| **total** | | {total} ({total * 4 / 1e6:.3f} MB FP32) |")
    inter = cfg.intermediate_size or swiglu_inter(cfg.hidden_size, cfg.expansion)
    extra = f"SwiGLU inter (hidden mlp) = {inter}"
    if cfg.mlp_t:
        extra += f"; mlp_t inter = {cfg.intermediate_size_t or swiglu_inter(cfg.total_len, cfg.expansion)}"
    return "\n".join(lines) + "\n\n" + extra


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "describe":
        with open(sys.argv[2]) as f:
            d = json.load(f)
        d.pop("train", None)
        d.pop("comment", None)
        for kv in sys.argv[3:]:  # e.g. seq_len=36 vocab_size=8 for files under configs/
            k, _, v = kv.partition("=")
            d[k] = json.loads(v)
        print(describe(Config.from_dict(d)))
    else:
        print(__doc__)
