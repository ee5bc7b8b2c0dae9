"""The distributed helpers of natv2.train.dist on two real gloo ranks (forked processes, CPU): the gradient
all-reduce averages (not sums, not rank 0's copy), the step statistics ride along, parameters without a
gradient are left alone; broadcast, gather and any-flag agree on every rank. A few seconds; the default tier.
(The torchrun end-to-end equivalence of training is tests/test_train_ddp_cli.py, slow tier.)"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import traceback

import pytest
import torch
import torch.distributed as torch_dist

from natv2.errors import ConfigError
from natv2.train.dist import (
    DistContext,
    all_gather_objects,
    average_gradients,
    broadcast_model,
    init_distributed,
)
from natv2.device import resolve_device


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, port: int, out: str) -> None:
    code = 1
    try:
        os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(port))
        torch.set_num_threads(1)
        ctx = init_distributed("cpu")
        a = torch.nn.Parameter(torch.zeros(3))
        b = torch.nn.Parameter(torch.zeros(2, 2))
        frozen = torch.nn.Parameter(torch.zeros(4))  # no gradient on any rank (an inactive layer)
        a.grad = torch.tensor([1.0, 2.0, 3.0]) * (rank + 1)  # rank 0: 1,2,3; rank 1: 2,4,6
        b.grad = torch.full((2, 2), 10.0 * rank)  # 0 and 10
        extra = torch.tensor([4.0 * rank, float(rank)])
        stats = average_gradients([a, frozen, b], ctx, extra)
        solo = torch.nn.Parameter(torch.zeros(2))
        solo.grad = torch.full((2,), float(rank))
        solo_stats = average_gradients([solo], ctx, torch.tensor([3.0 * rank]))  # a single gradient
        none_stats = average_gradients([frozen], ctx, torch.tensor([2.0 * rank]))  # no gradient at all
        net = torch.nn.Linear(2, 2)
        with torch.no_grad():
            net.weight.fill_(rank + 1.0)
            net.bias.fill_(-rank - 1.0)
        broadcast_model(net, ctx)
        result = {
            "rank": ctx.rank, "world": ctx.world_size, "main": ctx.is_main, "distributed": ctx.distributed,
            "a": a.grad.tolist(), "b": b.grad.tolist(), "frozen": frozen.grad is None, "stats": stats.tolist(),
            "solo": solo.grad.tolist(), "solo_stats": solo_stats.tolist(), "none_stats": none_stats.tolist(),
            "weight": net.weight.tolist(), "bias": net.bias.tolist(),
            "gathered": all_gather_objects({"r": rank}, ctx),
        }
        ctx.barrier()
        joined = init_distributed("cpu")  # the group exists already: this context does not own it
        result["joined_owns"] = joined.owns_group
        joined.close()
        result["alive_after_joined_close"] = torch_dist.is_initialized()
        ctx.barrier()
        ctx.close()
        result["alive_after_owner_close"] = torch_dist.is_initialized()
        with open(f"{out}.{rank}", "w") as fh:
            json.dump(result, fh)
        code = 0
    except BaseException:  # noqa: BLE001 - report anything to the test
        with open(f"{out}.{rank}.err", "w") as fh:
            fh.write(traceback.format_exc())
    finally:
        os._exit(code)


def test_two_gloo_ranks_average_gradients_and_agree(tmp_path):
    ctx = mp.get_context("fork")  # the ranks run the code this process imported (a mutant too)
    port, out = _free_port(), str(tmp_path / "rank")
    procs = [ctx.Process(target=_rank_main, args=(r, port, out)) for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        if p.is_alive():
            p.kill()
    errors = [(tmp_path / f"rank.{r}.err") for r in (0, 1)]
    assert not any(e.exists() for e in errors), "\n".join(e.read_text() for e in errors if e.exists())
    assert [p.exitcode for p in procs] == [0, 0]
    r0, r1 = (json.loads((tmp_path / f"rank.{r}").read_text()) for r in (0, 1))
    for r, res in enumerate((r0, r1)):
        assert (res["rank"], res["world"], res["main"], res["distributed"]) == (r, 2, r == 0, True)
        assert res["a"] == [1.5, 3.0, 4.5]  # the mean over ranks, on every rank
        assert res["b"] == [[5.0, 5.0], [5.0, 5.0]]
        assert res["frozen"] is True
        assert res["stats"] == [2.0, 0.5]
        assert (res["solo"], res["solo_stats"], res["none_stats"]) == ([0.5, 0.5], [1.5], [1.0])
        assert res["weight"] == [[1.0, 1.0], [1.0, 1.0]] and res["bias"] == [-1.0, -1.0]  # rank 0's values
        assert res["gathered"] == [{"r": 0}, {"r": 1}]
        # only the context that created the process group destroys it
        assert (res["joined_owns"], res["alive_after_joined_close"], res["alive_after_owner_close"]) == (False, True, False)


def test_a_group_of_one_leaves_everything_as_it_is(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    ctx = init_distributed("cpu")
    assert DistContext() == DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), owns_group=False)
    assert ctx == DistContext() and ctx.is_main and not ctx.distributed
    g = torch.nn.Parameter(torch.zeros(2))
    g.grad = torch.tensor([3.0, 4.0])
    extra = torch.tensor([7.0])
    assert average_gradients([g], ctx, extra) is extra and g.grad.tolist() == [3.0, 4.0]
    assert all_gather_objects("x", ctx) == ["x"]
    ctx.barrier()
    ctx.close()
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="run.device is 'cuda'"):
            init_distributed("cuda")
