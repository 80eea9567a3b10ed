"""Loads a `pipeline get --format torch` state dict into the matching torch.nn module with
load_state_dict(strict=True) and compares its logits with ours.

Usage: python3 torch_check.py <model> <state.safetensors> <io.safetensors> [<mask.safetensors>]
  io.safetensors: `inputs` (NHWC float32, as our trainer feeds them) and `logits` (ours).
  mask.safetensors: our raw mask file (U8, our layout), compared with the exported weight_mask.
Prints one JSON line: {"maxAbsDiff": ..., "maxAbsLogit": ..., "masks": n, "argmaxAgree": fraction}.
The modules below are written from the papers' architectures in PyTorch's own idiom, with our
module names (which follow PyTorch's: fc1, layer1.0.conv1, ...).
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune
from safetensors.torch import load_file

BN_EPS = 1e-5


class LeNet300100(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.projects = stride != 1 or cin != cout
        if self.projects:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)
            self.shortcut_bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.shortcut_bn(self.shortcut(x)) if self.projects else x))


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16, eps=BN_EPS)
        cin = 16
        for s, c in enumerate([16, 32, 64]):
            blocks = []
            for i in range(3):
                blocks.append(Block(cin, c, 2 if s > 0 and i == 0 else 1))
                cin = c
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.mean(x, dim=(2, 3)))


class ModularMLP(nn.Module):
    """gouki510/Grokking-Tickets' OnlyMLP (no hidden layers) in torch.nn modules: modular_mlp_<p>_<dEmb>_<dHidden>."""

    def __init__(self, p, d_emb=500, d_hidden=48):
        super().__init__()
        self.embed = nn.Embedding(p, d_emb)
        self.inproj = nn.Linear(d_emb, d_hidden, bias=False)
        self.outproj = nn.Linear(d_hidden, d_emb, bias=False)
        self.unembed = nn.Linear(d_emb, p, bias=False)

    def forward(self, x):
        tokens = x.reshape(x.shape[0], -1).long()  # our [1, 2, 1] examples: the two operand ids
        return self.unembed(self.outproj(F.relu(self.inproj(self.embed(tokens).sum(1)))))


class TransformerBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, bias=False, batch_first=True)
        self.mlp_in = nn.Linear(d, 4 * d, bias=False)
        self.mlp_out = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        T = x.shape[1]
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        x = x + self.attn(x, x, x, attn_mask=causal, need_weights=False)[0]
        return x + self.mlp_out(F.relu(self.mlp_in(x)))


class ModularTransformer(nn.Module):
    """Nanda et al.'s one-layer grokking transformer (no layer norm, no biases): modular_transformer_<p>_<d>_<heads>_<layers>."""

    def __init__(self, p, d=128, heads=4, layers=1, n_ctx=2):
        super().__init__()
        self.embed = nn.Embedding(p, d)
        self.pos_embed = nn.Embedding(n_ctx, d)
        self.blocks = nn.ModuleList([TransformerBlock(d, heads) for _ in range(layers)])
        self.unembed = nn.Linear(d, p, bias=False)

    def forward(self, x):
        tokens = x.reshape(x.shape[0], -1).long()
        h = self.embed(tokens) + self.pos_embed(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            h = block(h)
        return self.unembed(h[:, -1])


MODELS = {"lenet300100": LeNet300100, "resnet20": ResNet20}


def make_model(name):
    for prefix, cls in (("modular_mlp_", ModularMLP), ("modular_transformer_", ModularTransformer)):
        if name.startswith(prefix):
            return cls(*[int(v) for v in name[len(prefix):].split("_")])
    return MODELS[name]()


def main():
    model_name, state_file, io_file = sys.argv[1:4]
    mask_file = sys.argv[4] if len(sys.argv) > 4 else None
    state = load_file(state_file)
    model = make_model(model_name)
    # Layers the export wrote as torch.nn.utils.prune keeps them get the same reparametrisation.
    pruned = []
    for key in state:
        if key.endswith("weight_mask"):  # <module>.weight_mask, or an attention's <module>.in_proj_weight_mask
            module, param = key[: -len("_mask")].rsplit(".", 1)
            prune.identity(model.get_submodule(module), param)
            pruned.append((model.get_submodule(module), param))
    model.load_state_dict(state, strict=True)
    # prune recomputes weight = weight_orig * weight_mask in the module's forward hook; MultiheadAttention
    # reads out_proj.weight without calling out_proj, so compute every pruned weight from what was loaded.
    for module, param in pruned:
        setattr(module, param, getattr(module, f"{param}_orig") * getattr(module, f"{param}_mask"))
    model.eval()
    io = load_file(io_file)
    with torch.no_grad():
        logits = model(io["inputs"].permute(0, 3, 1, 2).contiguous())
    ours = io["logits"]
    masks = 0
    if mask_file:
        raw = load_file(mask_file)
        for name, m in raw.items():
            layer = name[: -len(".kernel")]
            if layer.endswith(".in_proj"):
                layer = layer[: -len(".in_proj")]
                exported = state[f"{layer}.in_proj_weight_mask"]
            else:
                exported = state[f"{layer}.weight_mask"]
            ours_t = m.to(torch.float32)
            if not isinstance(model.get_submodule(layer), nn.Embedding):  # an embedding table keeps its layout
                ours_t = ours_t.t() if ours_t.dim() == 2 else ours_t.permute(3, 2, 0, 1)
            assert set(exported.unique().tolist()) <= {0.0, 1.0}, f"{layer}: mask values {exported.unique().tolist()}"
            assert torch.equal(exported, ours_t), f"{layer}: exported mask differs from ours"
            masks += 1
    print(json.dumps({
        "maxAbsDiff": (logits - ours).abs().max().item(),
        "maxAbsLogit": ours.abs().max().item(),
        "masks": masks,
        "argmaxAgree": (logits.argmax(1) == ours.argmax(1)).float().mean().item(),
    }))


if __name__ == "__main__":
    main()
