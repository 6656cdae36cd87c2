"""Equivalence with PyTorch: same initial weights, same data order -> same losses and weights.

Skips when torch is not installed (``pip install torch==2.13.0``, a CPU build).
"""

import numpy as np
import pytest

from nbae import Autoencoder

torch = pytest.importorskip("torch")

TORCH_ACTS = {
    "identity": lambda: torch.nn.Identity(),
    "tanh": lambda: torch.nn.Tanh(),
    "sigmoid": lambda: torch.nn.Sigmoid(),
    "relu": lambda: torch.nn.ReLU(),
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.2),
    "softmax": lambda: torch.nn.Softmax(dim=1),
}


def _torch_copy(ae):
    layers = []
    for W, b, name in zip(ae.weights, ae.biases, ae.activations, strict=True):
        lin = torch.nn.Linear(*W.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))  # torch stores (fan_out, fan_in)
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers += [lin, TORCH_ACTS[name]()]
    return torch.nn.Sequential(*layers)


def _torch_optimizer(name, params, lr, momentum):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr)
    return torch.optim.Adam(params, lr=lr)


@pytest.mark.parametrize("optimizer,lr,momentum,hidden,loss", [
    ("sgd", 0.2, 0.0, "tanh", "mse"),
    ("sgd", 0.05, 0.9, "leaky_relu", "mse"),
    ("adagrad", 0.02, 0.0, "sigmoid", "bce"),
    ("adam", 3e-3, 0.0, "tanh", "mse"),
    ("adam", 3e-3, 0.0, "relu", "bce"),
])
def test_matches_pytorch(optimizer, lr, momentum, hidden, loss):
    rng = np.random.default_rng(0)
    X = (rng.random((32, 35)) > 0.5).astype(np.float64)  # font-sized problem
    ae = Autoencoder([35, 20, 10, 2], activation=hidden, output_activation="sigmoid", loss=loss,
                     init="xavier", seed=1)
    net = _torch_copy(ae)
    epochs, batch = 60, 5  # 7 steps an epoch: 420 optimizer steps
    hist = ae.fit(X, epochs=epochs, batch_size=batch, optimizer=optimizer, lr=lr,
                  momentum=momentum, shuffle=False, restore_best=False)

    opt = _torch_optimizer(optimizer, net.parameters(), lr, momentum)
    crit = torch.nn.MSELoss() if loss == "mse" else torch.nn.BCELoss()
    Xt = torch.from_numpy(X)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, len(X), batch):
            xb = Xt[start:start + batch]
            opt.zero_grad()
            out = crit(net(xb), xb)
            out.backward()
            opt.step()
            total += out.item() * len(xb)
        losses.append(total / len(X))

    np.testing.assert_allclose(hist["loss"].to_numpy(), losses, rtol=1e-9, atol=1e-12)
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    for W, b, lin in zip(ae.weights, ae.biases, lins, strict=True):
        np.testing.assert_allclose(W, lin.weight.detach().numpy().T, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(b, lin.bias.detach().numpy(), rtol=1e-9, atol=1e-9)


def test_softmax_output_matches_pytorch():
    rng = np.random.default_rng(1)
    X = rng.random((12, 8))
    X /= X.sum(1, keepdims=True)
    ae = Autoencoder([8, 5, 3], activation="tanh", output_activation="softmax", init="xavier",
                     seed=2)
    net = _torch_copy(ae)
    loss, gW, gb = ae.gradients(X)
    Xt = torch.from_numpy(X)
    tl = torch.nn.MSELoss()(net(Xt), Xt)
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    for g, lin in zip(gW, lins, strict=True):
        np.testing.assert_allclose(g, lin.weight.grad.numpy().T, rtol=1e-10, atol=1e-14)
