"""L-BFGS: quasi-Newton steps from a short history of gradient differences, with an optional
strong-Wolfe line search. Unlike the other optimizers it evaluates the loss several times per
``step``, so ``step`` needs a closure that recomputes it."""

from __future__ import annotations

import numpy as np

from ..autograd import enable_grad, no_grad
from .optimizer import Optimizer

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    r"""Limited-memory BFGS (Liu & Nocedal, 1989), as ``torch.optim.LBFGS``.

    All parameters are treated as one flat vector ``x`` with gradient ``g``. Each of up to
    ``max_iter`` iterations of one ``step(closure)``:

    1. direction ``d = -H g``, where ``H`` approximates the inverse Hessian from the last
       ``history_size`` pairs ``s = x_k+1 - x_k``, ``y = g_k+1 - g_k`` (the two-loop recursion;
       the initial scaling is ``s.y / y.y``; a pair with ``s.y <= 1e-10`` is not kept);
    2. step length ``t``: ``lr`` (the first iteration ever: ``min(1, 1 / sum|g|) * lr``), or
       found by a line search meeting the strong Wolfe conditions
       (``line_search_fn='strong_wolfe'``: sufficient decrease with c1 = 1e-4 and curvature
       with c2 = 0.9, by cubic interpolation);
    3. ``x = x + t d``.

    It stops early when ``max|g| <= tolerance_grad``, when the step or the change in loss falls
    below ``tolerance_change``, or after ``max_eval`` evaluations (default ``max_iter * 5 // 4``).
    The history lives in ``state`` of the first parameter, as in PyTorch. Only one parameter
    group is allowed.

    Shape: the parameters may have any shapes; they must share one floating dtype.
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn: str | None = None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector ---------------------------------------------------

    def _flat_grad(self) -> np.ndarray:
        """Every parameter's gradient, flattened and joined (zeros where it has none)."""
        return np.concatenate([p.grad._data.ravel() if p.grad is not None
                               else np.zeros(p._data.size, p._data.dtype)
                               for p in self._params])

    def _move(self, t, d: np.ndarray) -> None:
        """``x += t * d``, in place, parameter by parameter."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += (t * d[offset:offset + n]).reshape(p._data.shape)
            offset += n

    def _evaluate(self, closure) -> float:
        with enable_grad():
            return float(closure())

    def _loss_and_grad_at(self, closure, x0: list, t, d: np.ndarray) -> tuple:
        """The loss and flat gradient at ``x0 + t d``; the parameters are put back to ``x0``."""
        self._move(t, d)
        loss = self._evaluate(closure)
        flat_grad = self._flat_grad()
        for p, saved in zip(self._params, x0):
            p._data[...] = saved
        return loss, flat_grad

    # ---- the step ----------------------------------------------------------------------------

    def step(self, closure=None):
        """Run up to ``max_iter`` iterations; return the loss ``closure()`` gave first."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that clears the gradients, computes "
                               "the loss, calls backward() and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:  # already at a stationary point
            self._stepped = True
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        with no_grad():
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs, old_stps, ro, H_diag = [], [], [], 1
                else:
                    d, H_diag = self._direction(flat_grad, prev_flat_grad, d, t, old_dirs,
                                                old_stps, ro, H_diag, history_size)
                prev_flat_grad = flat_grad.copy()
                prev_loss = loss
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
                else:
                    t = lr
                gtd = flat_grad.dot(d)  # the slope along d: negative for a descent direction
                if gtd > -tolerance_change:
                    break

                evals = 0
                if group["line_search_fn"] == "strong_wolfe":
                    x0 = [p._data.copy() for p in self._params]

                    def along(t_, d_):
                        return self._loss_and_grad_at(closure, x0, t_, d_)

                    loss, flat_grad, t, evals = _strong_wolfe(along, t, d, loss, flat_grad, gtd,
                                                              tolerance_change,
                                                              max_eval - current_evals)
                    self._move(t, d)
                    done = np.abs(flat_grad).max() <= tolerance_grad
                else:
                    self._move(t, d)
                    done = False
                    if n_iter != max_iter:  # the last iteration's loss is left to the caller
                        loss = self._evaluate(closure)
                        flat_grad = self._flat_grad()
                        done = np.abs(flat_grad).max() <= tolerance_grad
                        evals = 1
                current_evals += evals
                state["func_evals"] += evals
                if (n_iter == max_iter or current_evals >= max_eval or done
                        or np.abs(d * t).max() <= tolerance_change
                        or abs(loss - prev_loss) < tolerance_change):
                    break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        self._stepped = True
        return orig_loss

    @staticmethod
    def _direction(flat_grad, prev_flat_grad, d, t, old_dirs, old_stps, ro, H_diag,
                   history_size) -> tuple:
        """The new pair (s, y) into the history, then ``-H g`` by the two-loop recursion;
        returns the direction and the initial scaling ``H_diag``."""
        y = flat_grad - prev_flat_grad
        s = d * t
        ys = y.dot(s)
        if ys > 1e-10:  # keep only pairs of positive curvature
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            H_diag = ys / y.dot(y)
        al = [None] * len(old_dirs)
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q = q - al[i] * old_dirs[i]
        r = q * H_diag
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r = r + (al[i] - be_i) * old_stps[i]
        return r, H_diag


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, kept
    within ``bounds`` (default: between x1 and x2); their midpoint when the cubic has none."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, low), high)


def _strong_wolfe(along, t, d, f, g, gtd, tolerance_change, max_ls, c1=1e-4, c2=0.9):
    """A step length ``t`` along ``d`` meeting the strong Wolfe conditions:
    ``f(t) <= f + c1 t gtd`` (enough decrease) and ``|f'(t)| <= c2 |gtd|`` (flat enough).

    First the step grows (by cubic extrapolation) until an interval brackets such a point;
    then the interval shrinks by cubic interpolation (kept away from its ends) until the
    conditions hold, the interval is shorter than ``tolerance_change``, or ``max_ls``
    evaluations are spent. ``along(t, d)`` gives the loss and flat gradient at ``x + t d``.
    Returns ``(loss, flat gradient, t, evaluations)``.
    """
    d_norm = np.abs(d).max()
    f_new, g_new = along(t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = None
    while ls_iter < max_ls:  # grow the step until a bracket is found
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        grown = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = grown
        f_new, g_new = along(t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:  # shrink the bracket (zoom)
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1],
                           bracket_gtd[1])
        # a point too near an end of the bracket makes little progress: move it inside
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = (max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket))
                     else min(bracket) + eps)
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = along(t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals
