"""The RNN's and the GRU's CPU fast paths: nn.RNN's and nn.GRU's layer functions, one autograd node
per layer.

On the CPU PyTorch runs nn.LSTM through oneDNN's fused RNN kernel, while nn.RNN and nn.GRU record a
handful of autograd nodes per time step and layer; at these sizes (B x H by H x 3H products) that
bookkeeping costs more than the arithmetic. Here each layer is: the input projection of all time
steps in one matrix product, then one recurrent product and a few in-place elementwise ops per
step, forward and backward (BPTT written out), and the weight gradients in one product over all
steps. model.CharRNN.forward takes these on the CPU; CUDA keeps cuDNN's. The tests check values and
gradients against nn.RNN and nn.GRU.

    a_t = x_t W_ih^T + b_ih            (T, B, G*H): one product for all t, before the loop
    g_t = h_{t-1} W_hh^T + b_hh        (B, G*H): one product per step, inside the loop
"""

import torch
from torch import nn
from torch.nn import functional as F

PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # per layer, in the cell functions' order


class TanhRecurrence(torch.autograd.Function):
    """h_t = tanh(a_t + h_{t-1} W^T) for t = 1..T, a (T, B, H) time-major with both biases already
    in it: the sequential half of an nn.RNN layer. Returns every h_t, (T, B, H)."""

    @staticmethod
    def forward(ctx, a, h0, w):
        out = a.clone()
        h, w_t = h0, w.t()
        for o in out.unbind(0):
            o.addmm_(h, w_t).tanh_()
            h = o
        ctx.save_for_backward(h0, w, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        h0, w, out = ctx.saved_tensors
        # dz_t = (dL/dh_t + dz_{t+1} W) * (1 - h_t^2), built in place from the last step back
        dz = grad_out.contiguous().clone()
        dzs, slope = dz.unbind(0), (1 - out * out).unbind(0)
        dzs[-1].mul_(slope[-1])
        for t in range(len(dzs) - 2, -1, -1):
            dzs[t].addmm_(dzs[t + 1], w).mul_(slope[t])
        h_prev = torch.cat([h0[None], out[:-1]]).flatten(0, 1)
        return dz, dzs[0] @ w, dz.flatten(0, 1).t() @ h_prev


class GruRecurrence(torch.autograd.Function):
    """nn.GRU's layer, gates in PyTorch's order (r, z, n), a = x W_ih^T + b_ih (T, B, 3H):

        r, z = sigmoid(a_r + g_r), sigmoid(a_z + g_z)    g = h_{t-1} W_hh^T + b_hh
        n = tanh(a_n + r * g_n)                           (the reset gate scales g_n, bias included)
        h_t = n + z * (h_{t-1} - n)

    Returns every h_t, (T, B, H). A step is four ops besides its product: the product adds onto
    (a_r + b_hr, a_z + b_hz, b_hn), which then holds (r, z, g_n) for the backward pass."""

    @staticmethod
    def forward(ctx, a, h0, w, b):
        hidden = a.shape[2] // 3
        g = torch.empty_like(a)  # per step: (pre-r, pre-z, g_n), then (r, z, g_n)
        torch.add(a[..., : 2 * hidden], b[: 2 * hidden], out=g[..., : 2 * hidden])
        g[..., 2 * hidden :] = b[2 * hidden :]
        a_n, n = a[..., 2 * hidden :].unbind(0), a.new_empty(*a.shape[:2], hidden)
        out = torch.empty_like(n)
        h, w_t = h0, w.t().contiguous()
        r, z = g[..., :hidden].unbind(0), g[..., hidden : 2 * hidden].unbind(0)
        rz, g_n = g[..., : 2 * hidden].unbind(0), g[..., 2 * hidden :].unbind(0)
        for t, (g_t, n_t, o) in enumerate(zip(g.unbind(0), n.unbind(0), out.unbind(0))):
            g_t.addmm_(h, w_t)
            rz[t].sigmoid_()
            torch.addcmul(a_n[t], r[t], g_n[t], out=n_t).tanh_()
            h = torch.lerp(n_t, h, z[t], out=o)
        ctx.save_for_backward(h0, w, out, g, n)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        h0, w, out, g, n = ctx.saved_tensors
        steps, batch, hidden = out.shape
        r, z, g_n = g.split(hidden, 2)
        h_prev = torch.cat([h0[None], out[:-1]])
        # Every gradient of step t is dL/dh_t times a factor known from the forward pass, so the
        # factors are computed for all steps at once and the loop is one product and two ops a step.
        da_n = torch.ops.aten.tanh_backward(1 - z, n)  # d(a_n) per unit of dh_t
        per_dh = torch.empty_like(g)  # (d pre-r, d pre-z, d g_n) per unit of dh_t
        per_r, per_z, per_n = per_dh.split(hidden, 2)
        sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input
        sigmoid_backward(da_n * g_n, r, grad_input=per_r)
        sigmoid_backward(h_prev - n, z, grad_input=per_z)
        torch.mul(da_n, r, out=per_n)
        dg = torch.empty_like(per_dh)  # d(g_t), then da
        dh = grad_out.contiguous().clone()  # becomes dL/dh_t, through every later step
        per_t, dg3 = per_dh.view(steps, batch, 3, hidden), dg.view(steps, batch, 3, hidden)
        per_t, dg3, dg_t = per_t.unbind(0), dg3.unbind(0), dg.unbind(0)
        dh_t, dh_b, z_t = dh.unbind(0), dh[:, :, None].unbind(0), z.unbind(0)
        for t in range(steps - 1, 0, -1):
            torch.mul(per_t[t], dh_b[t], out=dg3[t])
            dh_t[t - 1].addcmul_(dh_t[t], z_t[t]).addmm_(dg_t[t], w)
        torch.mul(per_t[0], dh_b[0], out=dg3[0])
        dh0 = torch.addmm(dh[0] * z[0], dg[0], w)
        flat = dg.flatten(0, 1)
        dw, db = flat.t() @ h_prev.flatten(0, 1), flat.sum(0)
        torch.mul(da_n, dh, out=dg[..., 2 * hidden :])  # dg becomes da: d(a_r), d(a_z) as before
        return dg, dh0, dw, db


def layer_weights(rnn: nn.RNNBase, layer: int) -> list:
    return [getattr(rnn, f"{name}_l{layer}") for name in PARAMS]


def rnn_layer(x: torch.Tensor, h0: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> torch.Tensor:
    a = torch.addmm(b_ih + b_hh, x.flatten(0, 1), w_ih.t()).view(*x.shape[:2], -1)
    return TanhRecurrence.apply(a, h0, w_hh)


def gru_layer(x: torch.Tensor, h0: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> torch.Tensor:
    a = torch.addmm(b_ih, x.flatten(0, 1), w_ih.t()).view(*x.shape[:2], -1)
    return GruRecurrence.apply(a, h0, w_hh, b_hh)


LAYERS = {nn.RNN: rnn_layer, nn.GRU: gru_layer}


def recurrence(rnn: nn.RNN | nn.GRU, x: torch.Tensor, hidden: torch.Tensor, train: bool) -> tuple:
    """`rnn`'s function on time-major x (T, B, H) -> (out (T, B, H), h_T (layers, B, H)), its
    dropout between layers in training as nn.RNN / nn.GRU apply it (the same random draws)."""
    layer_fn, last = LAYERS[type(rnn)], []
    for layer, h0 in enumerate(hidden):
        if layer and rnn.dropout and train:
            x = F.dropout(x, rnn.dropout, training=True)
        x = layer_fn(x, h0, *layer_weights(rnn, layer))
        last.append(x[-1])
    return x, torch.stack(last)
