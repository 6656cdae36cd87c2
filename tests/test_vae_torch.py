"""VAE equivalence with PyTorch: the same initial weights, eps sequence and dropout masks give
the same losses and weights to 1e-9 (float64) after hundreds of optimizer steps, in the default
and in the reproducible arithmetic.

Skips when torch is not installed (``pip install torch==2.13.0``, a CPU build).
"""

import numpy as np
import pytest

from nbae.engine.vae import VAE

pytest.importorskip("torch")

# ---------------------------------------------------------------------------------------------
# PyTorch equivalence with the same eps sequence


def _torch_run(vae, X, E, epochs, batch, optimizer, lr, momentum, rng_state=None, wd=0.0):
    """Train a PyTorch copy of ``vae`` with the noise rows ``E``; with ``rng_state`` (the fit's
    splitmix64 state) the dropout masks are drawn from the same stream, in the same order."""
    torch = pytest.importorskip("torch")
    from test_torch import TORCH_ACTS

    from nbae.engine.kernels import next_uniform

    torch.set_num_threads(1)  # tiny products: threads only contend on a shared machine
    lins, acts = [], []
    for W, b, name in zip(vae.weights, vae.biases, vae.activations, strict=True):
        lin = torch.nn.Linear(*W.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        lins.append(lin)
        acts.append(TORCH_ACTS[name]())
    ne, k, L = vae.n_encoder_layers, vae.latent_dim, len(lins)

    def run(x, layers):
        for l in layers:
            x = lins[l](x)
            if l == L - 1 and vae.loss_name == "cce":
                return x  # logits: cross_entropy applies the softmax itself
            x = acts[l](x)
            p = vae.dropout[l]
            if p > 0:  # torch.nn.Dropout's inverted scaling, with nbae's keep decisions
                u = np.array([[next_uniform(rng_state) for _ in range(x.shape[1])]
                              for _ in range(x.shape[0])])
                x = x * torch.from_numpy(np.where(u >= p, 1.0 / (1.0 - p), 0.0))
        return x

    params = [p for lin in lins for p in lin.parameters()]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)
    elif optimizer == "adagrad":
        opt = torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    Xt, Et = torch.from_numpy(X), torch.from_numpy(E)
    F = torch.nn.functional
    rows, used = [], 0
    for ep in range(1, epochs + 1):
        beta = vae.beta * min(1.0, ep / vae.kl_warmup) if vae.kl_warmup else vae.beta
        tot = np.zeros(3)
        for start in range(0, len(X), batch):
            xb = Xt[start:start + batch]
            eb = Et[used:used + len(xb)]
            used += len(xb)
            opt.zero_grad()
            h = run(xb, range(ne))
            mu, logvar = h[:, :k], h[:, k:]
            z = mu + torch.exp(0.5 * logvar) * eb  # pytorch/examples' reparameterize
            out = run(z, range(ne, L))
            if vae.loss_name == "cce":  # the idiom: logits into cross_entropy (soft targets)
                rec = F.cross_entropy(out, xb, reduction="sum")
            elif vae.loss_name == "bce":
                rec = F.binary_cross_entropy(out, xb, reduction="sum")
            else:
                rec = F.mse_loss(out, xb, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (rec + beta * kld) / len(xb)
            loss.backward()
            opt.step()
            tot += np.array([loss.item(), rec.item() / len(xb), kld.item() / len(xb)]) * len(xb)
        rows.append(tot / len(X))
    return np.array(rows), lins


@pytest.mark.parametrize("optimizer,lr,momentum,hidden,loss,beta,warmup,wd", [
    ("sgd", 0.01, 0.0, "tanh", "bce", 1.0, 0, 0.0),
    ("sgd", 2e-3, 0.9, "leaky_relu", "mse", 0.5, 20, 1e-3),
    ("adagrad", 0.02, 0.0, "sigmoid", "bce", 1.0, 0, 0.0),
    ("adam", 3e-3, 0.0, "tanh", "bce", 2.0, 30, 0.0),
    ("adam", 3e-3, 0.0, "relu", "mse", 1.0, 0, 1e-2),
    ("adam", 3e-3, 0.0, "tanh", "cce", 1.0, 0, 0.0),
])
@pytest.mark.parametrize("reproducible", [False, True], ids=["blas", "reproducible"])
def test_matches_pytorch(optimizer, lr, momentum, hidden, loss, beta, warmup, wd, reproducible):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = (rng.random((32, 35)) > 0.5).astype(np.float64)
    if loss == "cce":
        X = (X + 0.1) / (X + 0.1).sum(1, keepdims=True)
    vae = VAE([35, 20, 10, 2], activation=hidden, loss=loss, beta=beta, kl_warmup=warmup,
              output_activation="softmax" if loss == "cce" else "sigmoid", seed=1)
    epochs, batch = 60, 5  # 7 steps an epoch: 420 optimizer steps
    E = rng.standard_normal((epochs * len(X), 2))
    ref, lins = _torch_run(vae, X, E, epochs, batch, optimizer, lr, momentum, wd=wd)
    hist = vae.fit(X, epochs=epochs, batch_size=batch, optimizer=optimizer, lr=lr,
                   momentum=momentum, weight_decay=wd, shuffle=False, restore_best=False,
                   latent_noise=E, reproducible=reproducible)
    got = hist[["loss", "reconstruction", "kl"]].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    assert got[-1, 0] < got[0, 0]  # it learned something, so the comparison is not vacuous
    for W, b, lin in zip(vae.weights, vae.biases, lins, strict=True):
        np.testing.assert_allclose(W, lin.weight.detach().numpy().T, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(b, lin.bias.detach().numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("optimizer,lr,hidden,dropout", [
    ("adam", 3e-3, "tanh", 0.2),
    ("sgd", 5e-3, "relu", [0.1, 0.0, 0.3, 0.5]),  # per hidden layer: 20, 10 | 10, 20
])
def test_dropout_matches_pytorch(optimizer, lr, hidden, dropout):
    pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    X = (rng.random((32, 35)) > 0.5).astype(np.float64)
    vae = VAE([35, 20, 10, 2], activation=hidden, dropout=dropout, seed=2)
    epochs, batch = 40, 5
    E = rng.standard_normal((epochs * len(X), 2))
    # the state fit() derives for its first call (see VAE.fit)
    state = np.random.SeedSequence(2).spawn(2)[-1].generate_state(1, dtype=np.uint64)
    ref, lins = _torch_run(vae, X, E, epochs, batch, optimizer, lr, 0.0, rng_state=state)
    hist = vae.fit(X, epochs=epochs, batch_size=batch, optimizer=optimizer, lr=lr,
                   shuffle=False, restore_best=False, latent_noise=E)
    np.testing.assert_allclose(hist[["loss", "reconstruction", "kl"]].to_numpy(), ref,
                               rtol=1e-9, atol=1e-12)
    for W, b, lin in zip(vae.weights, vae.biases, lins, strict=True):
        np.testing.assert_allclose(W, lin.weight.detach().numpy().T, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(b, lin.bias.detach().numpy(), rtol=1e-9, atol=1e-9)
