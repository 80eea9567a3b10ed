#!/usr/bin/env python3
"""PyTorch CPU reference for bench/train.ts: training step time (forward + backward + update)
of the same architectures. Prints one JSON object on stdout.

Run with Debian's torch: /usr/bin/python3 bench/train_torch.py --threads 1 --steps 5
Reports the median wall time and the median process CPU time of a step (CPU time is the fairer
figure on a machine shared with other jobs; with 1 thread it is the work done).
(`apt-get install -y python3-torch libopenblas0-openmp`; without OpenBLAS, nn.Linear uses the
reference BLAS and the baseline is unfairly slow).
"""
import argparse, json, os, re, time

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--steps', type=int, default=5)
p.add_argument('--models', default='lenet300100,conv2,resnet20')
a = p.parse_args()

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(a.threads)
torch.manual_seed(0)


def blas():
    try:
        cfg = torch.__config__.show()
    except Exception:
        cfg = ''
    lib = ''
    try:
        with open('/proc/self/maps') as f:
            libs = sorted({l.split()[-1] for l in f if 'blas' in l.lower() and '.so' in l})
        lib = ', '.join(os.path.realpath(x) for x in libs)
    except Exception:
        pass
    m = re.search(r'BLAS_INFO=(\w+)', cfg)
    return 'build BLAS_INFO=%s; loaded: %s' % (m.group(1) if m else '?', lib or 'none')


class LeNet(nn.Module):
    def __init__(s):
        super().__init__(); s.fc1 = nn.Linear(784, 300); s.fc2 = nn.Linear(300, 100); s.fc3 = nn.Linear(100, 10)
    def forward(s, x):
        x = x.flatten(1); return s.fc3(F.relu(s.fc2(F.relu(s.fc1(x)))))


class Conv2(nn.Module):
    def __init__(s):
        super().__init__(); s.c1 = nn.Conv2d(3, 64, 3, padding=1); s.c2 = nn.Conv2d(64, 64, 3, padding=1)
        s.fc1 = nn.Linear(16 * 16 * 64, 256); s.fc2 = nn.Linear(256, 256); s.fc3 = nn.Linear(256, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c2(F.relu(s.c1(x)))), 2).flatten(1)
        return s.fc3(F.relu(s.fc2(F.relu(s.fc1(x)))))


class Block(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); s.b1 = nn.BatchNorm2d(cout)
        s.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(cout)
        s.sc = nn.Sequential()
        if stride != 1 or cin != cout:
            s.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(s, x):
        return F.relu(s.b2(s.c2(F.relu(s.b1(s.c1(x))))) + s.sc(x))


class ResNet20(nn.Module):
    def __init__(s):
        super().__init__(); s.c = nn.Conv2d(3, 16, 3, 1, 1, bias=False); s.b = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for i, c in enumerate([16, 32, 64]):
            for j in range(3):
                layers.append(Block(cin, c, 2 if i > 0 and j == 0 else 1)); cin = c
        s.layers = nn.Sequential(*layers); s.fc = nn.Linear(64, 10)
    def forward(s, x):
        x = s.layers(F.relu(s.b(s.c(x))))
        return s.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class ModularMLP(nn.Module):
    """Grokking-Tickets' OnlyMLP as src/nn/models/grokking.ts builds it: a shared embedding of the two
    operands, summed, 500 -> 48 -> ReLU -> 500 -> 97 logits, no biases."""
    def __init__(s, p=97, d=500, h=48):
        super().__init__(); s.embed = nn.Embedding(p, d)
        s.inproj = nn.Linear(d, h, bias=False); s.outproj = nn.Linear(h, d, bias=False); s.unembed = nn.Linear(d, p, bias=False)
    def forward(s, x):
        return s.unembed(s.outproj(F.relu(s.inproj(s.embed(x).sum(1)))))


class ModularTransformer(nn.Module):
    """Nanda et al.'s one-layer transformer as src/nn/models/grokking.ts builds it: token and position
    embeddings, x + causal attention(x), x + MLP(x) (d -> 4d -> d, ReLU), no biases or layer norm,
    the unembedding read at the last position."""
    def __init__(s, p=97, d=128, heads=4):
        super().__init__(); s.embed = nn.Embedding(p, d); s.pos_embed = nn.Embedding(2, d)
        s.attn = nn.MultiheadAttention(d, heads, bias=False, batch_first=True)
        s.mlp_in = nn.Linear(d, 4 * d, bias=False); s.mlp_out = nn.Linear(4 * d, d, bias=False); s.unembed = nn.Linear(d, p, bias=False)
        s.register_buffer('causal', torch.triu(torch.ones(2, 2, dtype=torch.bool), 1))
    def forward(s, x):
        h = s.embed(x) + s.pos_embed.weight
        h = h + s.attn(h, h, h, attn_mask=s.causal, need_weights=False)[0]
        h = h + s.mlp_out(F.relu(s.mlp_in(h)))
        return s.unembed(h[:, -1])


SPECS = {
    'lenet300100': (LeNet, 60, (1, 28, 28), 'adam'),
    'conv2': (Conv2, 60, (3, 32, 32), 'adam'),
    'resnet20': (ResNet20, 128, (3, 32, 32), 'momentum'),
    # Full batch: half of the 97^2 pairs, as bench/train.ts; AdamW with weight decay 1, beta2 0.98.
    'modular_mlp_97': (ModularMLP, 4704, 'tokens', 'adamw'),
    'modular_transformer_97': (ModularTransformer, 4704, 'tokens', 'adamw'),
}

out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'blas': '', 'ms': {}, 'cpu_ms': {}}
for name in a.models.split(','):
    cls, bs, shape, opt = SPECS[name]
    m = cls()
    if opt == 'adam':
        o = torch.optim.Adam(m.parameters(), 1.2e-3)
    elif opt == 'adamw':
        o = torch.optim.AdamW(m.parameters(), 1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    else:
        o = torch.optim.SGD(m.parameters(), 0.1, momentum=0.9)
    if shape == 'tokens':
        x = torch.randint(0, 97, (bs, 2)); y = torch.randint(0, 97, (bs,))
    else:
        x = torch.randn(bs, *shape); y = torch.randint(0, 10, (bs,))
    def step():
        o.zero_grad(); F.cross_entropy(m(x), y).backward(); o.step()
    step(); step()
    times, cpus = [], []
    for _ in range(a.steps):
        t0 = time.perf_counter(); c0 = time.process_time(); step()
        times.append((time.perf_counter() - t0) * 1000); cpus.append((time.process_time() - c0) * 1000)
    times.sort(); cpus.sort()
    out['ms'][name] = times[len(times) // 2]
    out['cpu_ms'][name] = cpus[len(cpus) // 2]
out['blas'] = blas()  # after the first nn.Linear, when the BLAS library is loaded
print(json.dumps(out))
