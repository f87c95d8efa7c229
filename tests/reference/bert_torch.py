"""An independent PyTorch restatement of HuggingFace BERT maths (transformers 4.18 semantics):
BertModel, BertForPreTraining (MLM at gathered positions + NSP), Graphcore's packed pretraining
heads, BertForQuestionAnswering and BertForTokenClassification. Written from the equations, not
from the C code, in float64, so that it checks the C implementation.

int8 inference (cfg["int8_qmax"] set): the encoder layers' linear products use int8 fake
quantization as documented for bertc (docs/infer.md#int8): weights symmetric per output channel to
[-127, 127], each product's input per tensor to [0, qmax] with a zero point from its range widened
to include 0; scales computed in float32 as the C code does, the rest in float64.
"""
import math

import torch

MASK_VALUE = -10000.0


def gelu(x, kind):
    if kind == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def linear(x, w, b):
    return x @ w.t() + b


def f32(v):
    return torch.tensor(v, dtype=torch.float32)


def quantized_linear(x, w, b, qmax):
    """x @ w.t() + b with w and x replaced by their int8 / u8 quantized values."""
    lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
    scale = (f32(hi) - f32(lo)) / qmax if hi > lo else f32(1.0)
    zero = torch.clamp(torch.round(-f32(lo) / scale), 0, qmax)
    xq = torch.clamp(torch.round(x.float() * (1 / scale)) + zero, 0, qmax)
    xd = (xq.double() - zero.double()) * scale.double()
    amax = w.float().abs().amax(dim=1, keepdim=True)
    ws = torch.where(amax > 0, amax / 127, torch.ones_like(amax))
    wq = torch.clamp(torch.round(w.float() * (1 / ws)), -127, 127)
    return xd @ (wq.double() * ws.double()).t() + b


def encoder_linear(cfg):
    qmax = cfg.get("int8_qmax")
    return (lambda x, w, b: quantized_linear(x, w, b, qmax)) if qmax else linear


def encoder(cfg, P, inp):
    B, L = inp["input_ids"].shape
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // nh
    act = cfg.get("hidden_act", "gelu")
    eps = cfg["layer_norm_eps"]
    pos = inp.get("position_ids")
    if pos is None:
        pos = torch.arange(L).unsqueeze(0).expand(B, L)
    tt = inp.get("token_type_ids")
    if tt is None:
        tt = torch.zeros(B, L, dtype=torch.long)
    e = "bert.embeddings."
    x = P[e + "word_embeddings.weight"][inp["input_ids"]] + P[e + "position_embeddings.weight"][pos] \
        + P[e + "token_type_embeddings.weight"][tt]
    x = layer_norm(x, P[e + "LayerNorm.weight"], P[e + "LayerNorm.bias"], eps)
    if inp.get("seq_index") is not None:
        s = inp["seq_index"]
        mask = (s.unsqueeze(2) == s.unsqueeze(1)).to(x.dtype).unsqueeze(1)      # [B,1,L,L]
    elif inp.get("attention_mask") is not None:
        mask = inp["attention_mask"].to(x.dtype)[:, None, None, :]              # [B,1,1,L]
    else:
        mask = torch.ones(B, 1, 1, L, dtype=x.dtype)
    additive = (1.0 - mask) * MASK_VALUE
    dense = encoder_linear(cfg)
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        def heads(t):
            return t.view(B, L, nh, d).permute(0, 2, 1, 3)
        q = heads(dense(x, P[p + "attention.self.query.weight"], P[p + "attention.self.query.bias"]))
        k = heads(dense(x, P[p + "attention.self.key.weight"], P[p + "attention.self.key.bias"]))
        v = heads(dense(x, P[p + "attention.self.value.weight"], P[p + "attention.self.value.bias"]))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d) + additive
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(B, L, H)
        a = dense(ctx, P[p + "attention.output.dense.weight"], P[p + "attention.output.dense.bias"])
        x = layer_norm(a + x, P[p + "attention.output.LayerNorm.weight"], P[p + "attention.output.LayerNorm.bias"], eps)
        h = gelu(dense(x, P[p + "intermediate.dense.weight"], P[p + "intermediate.dense.bias"]), act)
        o = dense(h, P[p + "output.dense.weight"], P[p + "output.dense.bias"])
        x = layer_norm(o + x, P[p + "output.LayerNorm.weight"], P[p + "output.LayerNorm.bias"], eps)
    return x


def pooler(P, states):
    return torch.tanh(linear(states, P["bert.pooler.dense.weight"], P["bert.pooler.dense.bias"]))


def mlm_logits(cfg, P, seq, positions):
    B, M = positions.shape
    gathered = torch.gather(seq, 1, positions.unsqueeze(-1).expand(B, M, seq.shape[-1]))
    t = gelu(linear(gathered, P["cls.predictions.transform.dense.weight"], P["cls.predictions.transform.dense.bias"]),
             cfg.get("hidden_act", "gelu"))
    t = layer_norm(t, P["cls.predictions.transform.LayerNorm.weight"], P["cls.predictions.transform.LayerNorm.bias"],
                   cfg["layer_norm_eps"])
    return linear(t, P["bert.embeddings.word_embeddings.weight"], P["cls.predictions.bias"])


def masked_accuracy(logits, labels):
    """Per sample: correct / real masked slots (label != 0); then the mean over samples."""
    real = labels != 0
    correct = ((logits.argmax(-1) == labels) & real).sum(-1).double()
    return (correct / real.sum(-1).double()).mean()


def pretraining(cfg, P, inp):
    seq = encoder(cfg, P, inp)
    out = {"sequence_output": seq}
    B, L, H = seq.shape
    packed = inp.get("seq_index") is not None
    S = inp["nsp_labels"].shape[1] if packed else 1
    cls_states = seq[:, L - S:, :] if packed else seq[:, :1, :]
    pooled = pooler(P, cls_states)                                               # [B,S,H]
    nsp = linear(pooled, P["cls.seq_relationship.weight"], P["cls.seq_relationship.bias"])
    logits = mlm_logits(cfg, P, seq, inp["masked_positions"])
    out.update(pooled=pooled.reshape(B * S, H), nsp_logits=nsp.reshape(B * S, 2),
               mlm_logits=logits.reshape(-1, logits.shape[-1]))
    labels = inp["masked_labels"]
    mlm_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=0)
    nsp_labels = inp["nsp_labels"].reshape(-1)
    nsp_rows = torch.nn.functional.cross_entropy(nsp.reshape(-1, 2), nsp_labels, reduction="none")
    correct = (nsp.reshape(-1, 2).argmax(-1) == nsp_labels).double()
    if packed:
        m = inp["nsp_mask"].reshape(-1).double()
        nsp_loss = (nsp_rows * m).sum() / m.sum()
        nsp_acc = (correct * m).sum() / m.sum()
        ratio = m.sum() / B
    else:
        nsp_loss, nsp_acc, ratio = nsp_rows.mean(), correct.mean(), torch.tensor(1.0, dtype=torch.float64)
    out["losses"] = torch.stack([mlm_loss + nsp_loss, mlm_loss, nsp_loss, masked_accuracy(logits, labels),
                                 nsp_acc, ratio])
    out["loss"] = mlm_loss + nsp_loss
    return out


def question_answering(cfg, P, inp):
    seq = encoder(cfg, P, inp)
    logits = linear(seq, P["qa_outputs.weight"], P["qa_outputs.bias"])
    start, end = logits[..., 0], logits[..., 1]
    out = {"sequence_output": seq, "start_logits": start, "end_logits": end}
    L = start.shape[1]
    sp = inp["start_positions"].clamp(0, L)
    ep = inp["end_positions"].clamp(0, L)
    loss = (torch.nn.functional.cross_entropy(start, sp, ignore_index=L)
            + torch.nn.functional.cross_entropy(end, ep, ignore_index=L)) / 2
    out["loss"] = loss
    out["losses"] = loss.reshape(1)
    return out


def token_classification(cfg, P, inp):
    seq = encoder(cfg, P, inp)
    return {"sequence_output": seq, "token_logits": linear(seq, P["classifier.weight"], P["classifier.bias"])}


def base(cfg, P, inp):
    seq = encoder(cfg, P, inp)
    out = {"sequence_output": seq}
    if "bert.pooler.dense.weight" in P:
        out["pooled"] = pooler(P, seq[:, 0, :])
    return out


TASKS = {"pretraining": pretraining, "pretraining_packed": pretraining, "qa": question_answering,
         "token_classification": token_classification, "base": base}
