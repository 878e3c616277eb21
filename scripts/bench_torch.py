"""PyTorch worker for `npm run bench` (scripts/bench.ts): the workloads of scripts/bench-workloads.ts,
same shapes, activations, losses and optimizers, timed on request.

Protocol: one JSON object per line on stdin, one reply per line on stdout.
  {"op": "info"}                                    -> {"summary": "..."}
  {"op": "setup", "workload": W}                    -> {"ok": true}  (builds it, runs 2 warm-up steps)
  {"op": "measure", "workload": W, "ms": T}         -> {"times_ms": [...]}  (steps until T ms have passed, >= 1)
Run with OMP_WAIT_POLICY=passive (bench.ts sets it): spinning OpenMP threads distort timings on shared cores.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

torch.manual_seed(0)
# AIGC_TORCH_DEVICE=cuda runs the same workloads on the GPU (scripts/gpu-bench.sh); reading the loss
# with .item() at the end of each step waits for the GPU, as tfjs's `await data()` does.
DEV = torch.device(os.environ.get("AIGC_TORCH_DEVICE", "cpu"))
# Same thread count as the native kernels (one per core): torch 1.13 may default to 1 on a small VM.
torch.set_num_threads(int(os.environ.get("AIGC_THREADS", os.cpu_count() or 1)))


def blas_name():
    """The BLAS actually loaded (Debian's torch links the libblas.so.3 alternative, not a named BLAS)."""
    torch.randn(8, 8, device=DEV) @ torch.randn(8, 8, device=DEV)
    with open("/proc/self/maps") as maps:
        text = maps.read()
    for name, marker in (("OpenBLAS", "openblas"), ("BLIS", "blis"), ("MKL", "mkl"), ("reference BLAS", "libblas")):
        if marker in text:
            return name
    return "unknown BLAS"


def dense(i, o, params):
    w = torch.randn(i, o, device=DEV) * math.sqrt(2 / i)
    w.requires_grad_(True)
    b = torch.zeros(o, requires_grad=True, device=DEV)
    params += [w, b]
    return w, b


def lin(x, layer):
    return torch.addmm(layer[1], x, layer[0])


def bce_logits(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target) if isinstance(target, float) else target)


def causal_mask(t):
    return torch.triu(torch.full((t, t), -1e9, device=DEV), diagonal=1)


def sgemm(n):
    a, b = torch.randn(n, n, device=DEV), torch.randn(n, n, device=DEV)

    def step():
        c = a @ b
        c[0, 0].item()

    return step


def attend(x, wq, wk, wv, wo, h, mask):
    B, T, d = x.shape
    dh = d // h
    x2 = x.reshape(B * T, d)

    def split(w):
        return (x2 @ w).reshape(B, T, h, dh).transpose(1, 2)  # (B, h, T, dh)

    q, k, v = split(wq), split(wk), split(wv)
    att = torch.softmax(q @ k.transpose(-1, -2) * (1 / math.sqrt(dh)) + mask, dim=-1)
    y = (att @ v).transpose(1, 2).reshape(B * T, d)
    return (y @ wo).reshape(B, T, d)


def attention():
    B, T, d, h = 8, 128, 128, 4
    x = torch.randn(B, T, d, device=DEV)
    mask = causal_mask(T)
    ws = [(torch.randn(d, d, device=DEV) / math.sqrt(d)).requires_grad_(True) for _ in range(4)]

    def step():
        for w in ws:
            w.grad = None
        loss = attend(x, *ws, h, mask).square().mean()
        loss.backward()
        loss.item()

    return step


def vae():
    B = 128
    params = []
    e1, e2, mu, lv = dense(784, 512, params), dense(512, 256, params), dense(256, 16, params), dense(256, 16, params)
    d1, d2, d3 = dense(16, 256, params), dense(256, 512, params), dense(512, 784, params)
    x = (torch.rand(B, 784, device=DEV) > 0.7).float()
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        eps = torch.randn(B, 16, device=DEV)
        opt.zero_grad(set_to_none=True)
        h = torch.relu(lin(torch.relu(lin(x, e1)), e2))
        m, logvar = lin(h, mu), lin(h, lv)
        z = m + torch.exp(0.5 * logvar) * eps
        logits = lin(torch.relu(lin(torch.relu(lin(z, d1)), d2)), d3)
        rec = bce_logits(logits, x) * 784
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - m.square() - logvar.exp(), 1))
        loss = rec + kl
        loss.backward()
        opt.step()
        loss.item()

    return step


def gan():
    B = 128
    gp, dp = [], []
    g = [dense(100, 256, gp), dense(256, 512, gp), dense(512, 784, gp)]
    d = [dense(784, 512, dp), dense(512, 256, dp), dense(256, 1, dp)]
    real = torch.rand(B, 784, device=DEV) * 2 - 1
    opt_g = torch.optim.Adam(gp, lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(dp, lr=2e-4, betas=(0.5, 0.999))

    def G(z):
        return torch.tanh(lin(F.leaky_relu(lin(F.leaky_relu(lin(z, g[0]), 0.2), g[1]), 0.2), g[2]))

    def D(x):
        return lin(F.leaky_relu(lin(F.leaky_relu(lin(x, d[0]), 0.2), d[1]), 0.2), d[2])

    def step():
        z = torch.randn(B, 100, device=DEV)
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce_logits(D(real), 1.0) + bce_logits(D(G(z).detach()), 0.0)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce_logits(D(G(z)), 1.0)
        loss_g.backward()
        opt_g.step()
        loss_g.item()

    return step


def char_gpt():
    L, H, d, T, B, V = 2, 4, 128, 64, 32, 65
    params = []

    def p(*shape, std=0.02):
        t = (torch.randn(*shape, device=DEV) * std).requires_grad_(True)
        params.append(t)
        return t

    def ones(n):
        t = torch.ones(n, requires_grad=True, device=DEV)
        params.append(t)
        return t

    def zeros(n):
        t = torch.zeros(n, requires_grad=True, device=DEV)
        params.append(t)
        return t

    wte, wpe = p(V, d), p(T, d)
    blocks = [
        dict(ln1g=ones(d), ln1b=zeros(d), wqkv=p(d, 3 * d), bqkv=zeros(3 * d), wo=p(d, d), bo=zeros(d),
             ln2g=ones(d), ln2b=zeros(d), w1=p(d, 4 * d), b1=zeros(4 * d), w2=p(4 * d, d), b2=zeros(d))
        for _ in range(L)
    ]
    lnfg, lnfb, head = ones(d), zeros(d), p(d, V)
    mask = causal_mask(T)
    idx = torch.randint(0, V, (B, T), device=DEV)
    targets = torch.randint(0, V, (B * T,), device=DEV)
    opt = torch.optim.Adam(params, lr=1e-3)

    def ln(x, g, b):
        return F.layer_norm(x, (d,), g, b, 1e-5)

    def step():
        opt.zero_grad(set_to_none=True)
        x = (wte[idx] + wpe).reshape(B * T, d)
        for k in blocks:
            qkv = torch.addmm(k["bqkv"], ln(x, k["ln1g"], k["ln1b"]), k["wqkv"])
            q, kk, v = (qkv[:, i * d:(i + 1) * d].reshape(B, T, H, d // H).transpose(1, 2) for i in range(3))
            att = torch.softmax(q @ kk.transpose(-1, -2) * (1 / math.sqrt(d // H)) + mask, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B * T, d)
            x = x + torch.addmm(k["bo"], y, k["wo"])
            hdn = F.gelu(torch.addmm(k["b1"], ln(x, k["ln2g"], k["ln2b"]), k["w1"]), approximate="tanh")
            x = x + torch.addmm(k["b2"], hdn, k["w2"])
        logits = ln(x, lnfg, lnfb) @ head
        loss = F.cross_entropy(logits, targets)
        loss.backward()
        opt.step()
        loss.item()

    return step


def conv_layer(k, cin, cout, params, transposed=False):
    """A k x k convolution's weight (He init over k*k*cin, as bench-workloads.ts) and bias."""
    shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
    w = (torch.randn(*shape, device=DEV) * math.sqrt(2 / (k * k * cin))).requires_grad_(True)
    b = torch.zeros(cout, requires_grad=True, device=DEV)
    params += [w, b]
    return w, b


def conv(x, layer, stride=1, padding=1):
    return F.conv2d(x, layer[0], layer[1], stride=stride, padding=padding)


def conv_t2(x, layer):
    """Transposed 4x4 stride-2 convolution doubling the size."""
    return F.conv_transpose2d(x, layer[0], layer[1], stride=2, padding=1)


def dcgan():
    B = 64
    gp, dp = [], []
    g0 = dense(64, 7 * 7 * 128, gp)
    g1 = conv_layer(4, 128, 64, gp, transposed=True)
    gamma = torch.ones(64, requires_grad=True, device=DEV)
    beta = torch.zeros(64, requires_grad=True, device=DEV)
    gp += [gamma, beta]
    g2 = conv_layer(4, 64, 1, gp, transposed=True)
    d1, d2 = conv_layer(4, 1, 64, dp), conv_layer(4, 64, 128, dp)
    d3 = dense(7 * 7 * 128, 1, dp)
    real = torch.rand(B, 1, 28, 28, device=DEV) * 2 - 1
    opt_g = torch.optim.Adam(gp, lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(dp, lr=2e-4, betas=(0.5, 0.999))

    def G(z):
        h = torch.relu(lin(z, g0)).reshape(B, 128, 7, 7)
        h = torch.relu(F.batch_norm(conv_t2(h, g1), None, None, gamma, beta, training=True, eps=1e-5))
        return torch.tanh(conv_t2(h, g2))

    def D(x):
        h = F.leaky_relu(conv(F.leaky_relu(conv(x, d1, 2), 0.2), d2, 2), 0.2)
        return lin(h.reshape(B, 7 * 7 * 128), d3)

    def step():
        z = torch.randn(B, 64, device=DEV)
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce_logits(D(real), 1.0) + bce_logits(D(G(z).detach()), 0.0)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce_logits(D(G(z)), 1.0)
        loss_g.backward()
        opt_g.step()
        loss_g.item()

    return step


def conv_vae():
    B = 128
    params = []
    e1, e2 = conv_layer(3, 1, 32, params), conv_layer(3, 32, 64, params)
    e3 = dense(7 * 7 * 64, 32, params)
    d0 = dense(16, 7 * 7 * 64, params)
    d1, d2 = conv_layer(4, 64, 32, params, transposed=True), conv_layer(4, 32, 1, params, transposed=True)
    x = (torch.rand(B, 1, 28, 28, device=DEV) > 0.7).float()
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        eps = torch.randn(B, 16, device=DEV)
        opt.zero_grad(set_to_none=True)
        h = torch.relu(conv(torch.relu(conv(x, e1, 2)), e2, 2)).reshape(B, 7 * 7 * 64)
        stats = lin(h, e3)
        m, logvar = stats[:, :16], stats[:, 16:]
        z = m + torch.exp(0.5 * logvar) * eps
        logits = conv_t2(torch.relu(conv_t2(torch.relu(lin(z, d0)).reshape(B, 64, 7, 7), d1)), d2)
        rec = bce_logits(logits, x) * 784
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - m.square() - logvar.exp(), 1))
        loss = rec + kl
        loss.backward()
        opt.step()
        loss.item()

    return step


def unet():
    B = 64
    params = []

    def norm(c):
        g, b = torch.ones(c, requires_grad=True, device=DEV), torch.zeros(c, requires_grad=True, device=DEV)
        params.extend([g, b])
        return g, b

    def res(cin, cout):
        c1, n1, t, c2, n2 = conv_layer(3, cin, cout, params), norm(cout), dense(128, cout, params), conv_layer(3, cout, cout, params), norm(cout)
        skip = None if cin == cout else conv_layer(1, cin, cout, params)

        def f(x, temb):
            h = F.silu(F.group_norm(conv(x, c1), 8, n1[0], n1[1], 1e-5))
            h = h + lin(temb, t).reshape(B, cout, 1, 1)
            h = F.silu(F.group_norm(conv(h, c2), 8, n2[0], n2[1], 1e-5))
            return h + (conv(x, skip, padding=0) if skip else x)

        return f

    t1, t2 = dense(1, 128, params), dense(128, 128, params)
    in_conv = conv_layer(3, 1, 32, params)
    down1, down2, down3, mid = res(32, 32), res(32, 64), res(64, 128), res(128, 128)
    up3, up2, up1 = res(256, 64), res(128, 32), res(64, 32)
    out_conv = conv_layer(3, 32, 1, params)
    x0 = torch.rand(B, 1, 28, 28, device=DEV) * 2 - 1
    opt = torch.optim.Adam(params, lr=2e-4)

    def step():
        t = torch.rand(B, 1, device=DEV)
        noise = torch.randn(B, 1, 28, 28, device=DEV)
        opt.zero_grad(set_to_none=True)
        angle = (t * (math.pi / 2)).reshape(B, 1, 1, 1)
        xt = x0 * torch.cos(angle) + noise * torch.sin(angle)
        temb = F.silu(lin(F.silu(lin(t, t1)), t2))
        a = down1(conv(xt, in_conv), temb)
        b = down2(F.avg_pool2d(a, 2), temb)
        c = down3(F.avg_pool2d(b, 2), temb)
        m = mid(c, temb)
        u3 = up3(torch.cat([m, c], 1), temb)
        u2 = up2(torch.cat([F.interpolate(u3, scale_factor=2, mode="nearest"), b], 1), temb)
        u1 = up1(torch.cat([F.interpolate(u2, scale_factor=2, mode="nearest"), a], 1), temb)
        loss = F.mse_loss(conv(u1, out_conv), noise)
        loss.backward()
        opt.step()
        loss.item()

    return step


MAKERS = {
    "attention": attention,
    "vae": vae,
    "gan": gan,
    "char-gpt": char_gpt,
    "dcgan": dcgan,
    "conv-vae": conv_vae,
    "unet": unet,
}


def main():
    steps = {}
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            reply = handle(msg, steps)
        except Exception as e:  # reported to bench.ts, which marks the cell or the engine
            reply = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def handle(msg, steps):
    """Answers one request (see the module docstring)."""
    op = msg["op"]
    if op == "info":
        if DEV.type == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError("CUDA is not available to PyTorch")
            reply = {"summary": f"PyTorch {torch.__version__} on {torch.cuda.get_device_name(0)} (fp32, TF32 {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'})"}
        else:
            reply = {"summary": f"PyTorch {torch.__version__} ({blas_name()}, {torch.get_num_threads()} threads)"}
    elif op == "setup":
        name = msg["workload"]
        step = sgemm(int(name[len("sgemm-"):])) if name.startswith("sgemm-") else MAKERS[name]()
        step()
        step()
        steps[msg["workload"]] = step
        reply = {"ok": True}
    elif op == "measure":
        step = steps[msg["workload"]]
        times, start = [], time.perf_counter()
        while True:
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1000)
            if (time.perf_counter() - start) * 1000 >= msg["ms"]:
                break
        reply = {"times_ms": times}
    else:
        reply = {"error": f"unknown op {op}"}
    return reply


if __name__ == "__main__":
    main()
