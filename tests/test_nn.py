"""Static network modules: channel rounding, dense stage sums, parallel blocks, config round trips."""

from __future__ import annotations

import pytest
import torch

from natv2.nn import (
    BNParams,
    ConvBNAct,
    MBConv,
    ParallelBlock,
    Stage,
    StaticNet,
    TransformBranch,
    build_static_net,
    make_divisible,
    mid_channels,
    se_channels,
)
from natv2.nn.layers import ExitHead


def test_make_divisible_matches_ofa_widths():
    # spec §1.1 table: w1.0 / w1.2 widths
    assert [make_divisible(c * 1.0) for c in (16, 24, 40, 80, 112, 160, 960, 1280)] == [16, 24, 40, 80, 112, 160, 960, 1280]
    assert [make_divisible(c * 1.2) for c in (16, 24, 40, 80, 112, 160, 960, 1280)] == [24, 32, 48, 96, 136, 192, 1152, 1536]
    assert make_divisible(3) == 8  # never below the divisor
    assert make_divisible(20) == 24  # int(24)//8*8 = 24
    assert make_divisible(17) == 16  # 16 >= 0.9 * 17: no bump
    assert mid_channels(16, 6) == 96 and mid_channels(24, 3) == 72 and mid_channels(40, 4) == 160
    assert se_channels(240) == 64 and se_channels(72) == 24  # make_divisible(mid // 4, 8)


def test_make_divisible_ten_percent_rule():
    # 12 -> nearest multiple of 8 is 16 (12 + 4 = 16); 11 -> 8, which is below 0.9 * 11 = 9.9, so 16
    assert make_divisible(12) == 16
    assert make_divisible(11) == 16
    assert make_divisible(19.2) == 24  # 16 < 17.28 -> +8


def _block(cin=8, cout=8, stride=1, residual=True, seed=0):
    torch.manual_seed(seed)
    return MBConv(cin, cout, 24, 3, stride, "relu", se_channels=8, expand=True, residual=residual).eval()


def test_dense_stage_follows_spec_sums():
    """in(j) = o_j for j <= 2, o_j + sum(o_1..o_{j-2}) for j >= 3 (spec §2.3), checked by hooks."""
    blocks = [_block(seed=i) for i in range(4)]
    stage = Stage(blocks, dense=True).eval()
    outs, ins = [], []

    def record(module, inputs, output):
        ins.append(inputs[0])
        outs.append(output)

    for b in blocks:
        b.register_forward_hook(record)
    x = torch.randn(2, 8, 6, 6)
    y = stage(x)
    o1, o2, o3, o4 = outs
    assert torch.equal(ins[0], x)
    assert torch.allclose(ins[1], o1)
    assert torch.allclose(ins[2], o2)
    assert torch.allclose(ins[3], o3 + o1)
    assert torch.allclose(y, o4 + o1 + o2)
    # and a plain stage simply chains
    outs.clear(), ins.clear()
    y_plain = Stage(blocks, dense=False)(x)
    assert torch.allclose(y_plain, outs[-1]) and not torch.allclose(y_plain, y)


def test_dense_stage_adds_are_out_of_place():
    blocks = [_block(seed=i) for i in range(3)]
    stage = Stage(blocks, dense=True).train()
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    stage(x).sum().backward()  # in-place adds on saved tensors would raise here
    assert x.grad is not None


def test_parallel_block_single_branch_equals_plain_block():
    blk = _block(seed=3)
    par = ParallelBlock({"mbconv": blk})
    x = torch.randn(2, 8, 7, 7)
    assert torch.equal(par(x), blk(x))


def test_parallel_block_sums_branches():
    torch.manual_seed(0)
    mb = MBConv(8, 16, 24, 5, 2, "h_swish", 0, True, False).eval()
    c1 = ConvBNAct(8, 16, 1, 2, act="h_swish").eval()
    tr = TransformBranch(8, 16, 2, "h_swish").eval()
    par = ParallelBlock({"transform": tr, "mbconv": mb, "conv1x1": c1}).eval()
    assert list(par.branches) == ["mbconv", "conv1x1", "transform"]
    x = torch.randn(2, 8, 9, 9)  # odd size: max-pool uses ceil mode like the strided convs
    assert torch.allclose(par(x), mb(x) + c1(x) + tr(x))
    with pytest.raises(ValueError):
        ParallelBlock({"attention": mb})


def test_mbconv_refuses_bad_shortcut():
    with pytest.raises(ValueError):
        MBConv(8, 16, 24, 3, 1, "relu", residual=True)


def test_static_net_config_round_trip_and_multi_exit():
    torch.manual_seed(0)
    bn = BNParams(0.1, 1e-5)
    net = StaticNet(
        ConvBNAct(3, 8, 3, 2, act="h_swish"),
        MBConv(8, 8, 8, 3, 1, "relu", expand=False, residual=True),
        [Stage([_block(8, 8)], dense=False), Stage([_block(8, 8), _block(8, 8)], dense=True)],
        {1: ExitHead(8, 16, 24, 5, 0.0), 2: ExitHead(8, 16, 24, 5, 0.0)},
        outputs=[2, 1],
        bn=bn,
    ).eval()
    rebuilt = build_static_net(net.config).eval()
    rebuilt.load_state_dict(net.state_dict())
    assert rebuilt.config == net.config
    x = torch.randn(2, 3, 16, 16)
    out, out2 = net(x), rebuilt(x)
    assert isinstance(out, list) and len(out) == 2 and out[0].shape == (2, 5)
    for a, b in zip(out, out2):
        assert torch.equal(a, b)
    with pytest.raises(ValueError):
        StaticNet(net.first_conv, net.first_block, list(net.stages), {1: ExitHead(8, 16, 24, 5)})  # deepest exit != last stage


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_fast_path_is_exact(stride):
    from natv2.nn.ops import depthwise_conv

    torch.manual_seed(0)
    for h, w in [(1, 1), (2, 2), (3, 3), (2, 5), (4, 4), (9, 9)]:
        for k in (3, 5, 7):
            x = torch.randn(2, 6, h, w)
            weight = torch.randn(6, 1, k, k)
            ref = torch.nn.functional.conv2d(x, weight, None, stride, k // 2, 1, 6)
            got = depthwise_conv(x, weight, stride)
            assert got.shape == ref.shape and torch.allclose(got, ref, atol=1e-6), (h, w, k)


def test_pointwise_fast_path_is_exact_and_keeps_layout():
    from natv2.nn.layers import FastConv2d
    from natv2.nn.ops import conv1x1

    torch.manual_seed(0)
    x = torch.randn(2, 6, 5, 5).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(8, 12, 1, 1)[:, :6]  # a non-contiguous slice, as elastic blocks pass
    y = conv1x1(x, weight)
    assert torch.allclose(y, torch.nn.functional.conv2d(x, weight), atol=1e-5)
    assert y.is_contiguous(memory_format=torch.channels_last)
    conv = FastConv2d(6, 8, 1, bias=True)
    assert isinstance(conv, torch.nn.Conv2d)  # hook-based counters still see it
    seen = []
    conv.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    assert torch.allclose(conv(x), torch.nn.functional.conv2d(x, conv.weight, conv.bias), atol=1e-5) and seen


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_traced_static_net_is_not_specialised_to_the_trace_size():
    """Tracing (e.g. for ONNX) disables the shape-dependent depthwise crop, so a trace at 32 px is valid at 64 px."""
    torch.manual_seed(0)
    net = StaticNet(
        ConvBNAct(3, 8, 3, 2, act="h_swish"),
        MBConv(8, 8, 8, 3, 1, "relu", expand=False, residual=True),
        [Stage([MBConv(8, 16, 32, 7, 2, "h_swish", se_channels=8, residual=False)]), Stage([MBConv(16, 16, 48, 7, 2, "relu")])],
        {2: ExitHead(16, 32, 40, 5, 0.0)},
    ).eval()
    with torch.no_grad():
        traced = torch.jit.trace(net, torch.randn(1, 3, 8, 8))  # late maps are 1x1 at 8 px
        x = torch.randn(2, 3, 64, 64)
        assert torch.allclose(traced(x), net(x), atol=1e-5)
