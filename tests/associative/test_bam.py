"""BAM, the linear associator and the denoising autoencoder as associative memories."""

from __future__ import annotations

import pytest
import torch

from mneme.associative.bam import (
    associate,
    bam_energy,
    bam_recall,
    bam_weights,
    dae_recall,
    fit_dae,
    linear_associator,
)
from mneme.associative.hopfield import flip_noise


def pm1(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, shape, generator=g).float() * 2 - 1


def test_bam_weights_by_hand() -> None:
    x = torch.tensor([[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
    y = torch.tensor([[1.0, -1.0], [-1.0, -1.0]])
    # W_ij = sum_mu y_mu,i x_mu,j: row 0 = x1 - x2 = (0, -2, 2); row 1 = -x1 - x2 = (-2, 0, 0)
    torch.testing.assert_close(bam_weights(x, y), torch.tensor([[0.0, -2.0, 2.0], [-2.0, 0, 0]]))
    # E = -y^T W x: W x1 = (0 + 2 + 2, -2) = (4, -2), y1 . (4, -2) = 6;
    # W x2 = (0 - 2 - 2, -2) = (-4, -2), y2 . (-4, -2) = 6
    w = bam_weights(x, y)
    torch.testing.assert_close(bam_energy(w, x, y), torch.tensor([-6.0, -6.0]))


def test_bam_recalls_stored_pairs_from_either_side() -> None:
    x, y = pm1(4, 80, seed=1), pm1(4, 50, seed=2)
    w = bam_weights(x, y)
    g = torch.Generator().manual_seed(0)
    from_x = bam_recall(w, x=flip_noise(x, 0.2, g))
    assert torch.equal(from_x.x, x) and torch.equal(from_x.y, y)
    from_y = bam_recall(w, y=flip_noise(y, 0.2, g))
    assert torch.equal(from_y.x, x) and torch.equal(from_y.y, y)
    assert bool(from_x.converged.all()) and bool(from_y.converged.all())


@pytest.mark.parametrize("seed", range(5))
def test_bam_energy_never_increases(seed: int) -> None:
    # above capacity and from arbitrary pairs, so that the bouncing takes several steps
    x, y = pm1(12, 30, seed=seed), pm1(12, 20, seed=seed + 10)
    w = bam_weights(x, y)
    start_x, start_y = pm1(40, 30, seed=seed + 20), pm1(40, 20, seed=seed + 30)
    for result in (bam_recall(w, x=start_x), bam_recall(w, x=start_x, y=start_y)):
        e = result.energy
        assert (e[:, 1:] - e[:, :-1] <= 1e-4).all()
        assert bool(result.converged.all())
        torch.testing.assert_close(e[:, -1], bam_energy(w, result.x, result.y))


def test_linear_associator_pinv_is_exact_where_hebb_is_not() -> None:
    x = pm1(6, 16, seed=3)
    x[1] = x[0]
    x[1, :3] *= -1  # strongly correlated cues
    y = pm1(6, 10, seed=4)
    w_pinv = linear_associator(x, y, "pinv")
    torch.testing.assert_close(associate(w_pinv, x, binary=False), y, atol=1e-4, rtol=0)
    w_hebb = linear_associator(x, y, "hebb")
    assert not torch.equal(associate(w_hebb, x), y)
    # orthogonal cues: the Hebbian associator is exact too
    eye = torch.eye(8) * 2 - 1
    hadamard = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    h8 = torch.kron(torch.kron(hadamard, hadamard), hadamard)
    w = linear_associator(h8, eye, "hebb")
    torch.testing.assert_close(associate(w, h8, binary=False), eye)


def test_dae_learns_to_denoise_in_150_steps() -> None:
    x = pm1(10, 64, seed=5)
    model, losses = fit_dae(x, noise=0.2, steps=150, seed=0)
    assert losses[-1] < 0.1 * losses[0]
    g = torch.Generator().manual_seed(1)
    clean = x.repeat(20, 1)
    noisy = flip_noise(clean, 0.2, g)
    noisy_error = float((noisy != clean).float().mean())
    denoised_error = float((dae_recall(model, noisy) != clean).float().mean())
    assert noisy_error == pytest.approx(0.2, abs=0.01)
    assert denoised_error < 0.25 * noisy_error
    again, _ = fit_dae(x, noise=0.2, steps=150, seed=0)  # the seed fixes the result
    torch.testing.assert_close(again(noisy), model(noisy))


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="x"):
        bam_weights(torch.zeros(2, 3), pm1(2, 4))
    with pytest.raises(ValueError, match="same P"):
        bam_weights(pm1(2, 3), pm1(3, 4))
    with pytest.raises(ValueError, match="cue"):
        bam_recall(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="x must be"):
        bam_recall(torch.zeros(4, 3), x=pm1(2, 4))
    with pytest.raises(ValueError, match="rule"):
        linear_associator(pm1(2, 3), pm1(2, 3), "oja")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="noise"):
        fit_dae(pm1(2, 3), noise=1.5)
