"""One epoch of scripts/train-vae.ts in PyTorch, for the same-machine comparison of issue 14: the MLP VAE
784-512-256-20 (ReLU, Glorot-uniform weights, zero biases), Bernoulli likelihood from logits summed over pixels +
closed-form KL, Adam 1e-3, batches of 128 in a reshuffled order (468 full batches of the 60,000 training images),
then the test negative ELBO on the 10,000 test images with one sample per image, as the script's epoch does.

    OMP_WAIT_POLICY=passive /usr/bin/python3 scripts/vae_epoch_torch.py [/usr/share/datasets/fashion-mnist]
"""
import gzip, sys, time
import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
def images(name):
    with gzip.open(f"{d}/{name}", "rb") as f:
        return torch.from_numpy(np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255)
train, test = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
torch.manual_seed(0)
torch.set_num_threads(2)
def dense(i, o):
    l = torch.nn.Linear(i, o); torch.nn.init.xavier_uniform_(l.weight); torch.nn.init.zeros_(l.bias); return l
enc = torch.nn.ModuleList([dense(784, 512), dense(512, 256)]); mu, lv = dense(256, 20), dense(256, 20)
dec = torch.nn.ModuleList([dense(20, 256), dense(256, 512), dense(512, 784)])
params = [p for m in [enc, mu, lv, dec] for p in m.parameters()]
opt = torch.optim.Adam(params, lr=1e-3)
def loss(x):
    h = x
    for l in enc: h = F.relu(l(h))
    m, v = mu(h), lv(h)
    z = m + torch.exp(0.5 * v) * torch.randn_like(m)
    g = z
    for i, l in enumerate(dec): g = l(g) if i == len(dec) - 1 else F.relu(l(g))
    rec = F.binary_cross_entropy_with_logits(g, x, reduction="none").sum(1)
    kl = 0.5 * (torch.exp(v) + m * m - 1 - v).sum(1)
    return rec + kl
t0 = time.perf_counter()
order = torch.randperm(train.shape[0])
for s in range(train.shape[0] // 128):
    x = train[order[s * 128:(s + 1) * 128]]
    opt.zero_grad(set_to_none=True)
    l = loss(x).mean(); l.backward(); opt.step()
train_s = time.perf_counter() - t0
with torch.no_grad():
    test_elbo = torch.cat([loss(test[i:i + 500]) for i in range(0, test.shape[0], 500)]).mean().item()
total = time.perf_counter() - t0
print(f"PyTorch {torch.__version__}: one epoch (468 steps of 128) {train_s:.2f} s training, {total:.2f} s with the test evaluation; test -ELBO {test_elbo:.2f}")
