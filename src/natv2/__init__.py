"""natv2: multi-objective neural architecture search (OFA/OFAv2 supernets, NAT and NATv2).

The front door: the names most scripts need, without knowing the sub-packages.

    from natv2 import create_supernet, list_supernets, SubnetConfig, SearchConfig, run_search, load_model
    net = create_supernet("ofav2_ee_d", n_classes=10, r=[32])
    result = run_search(net.space, evaluate, SearchConfig(objectives=("err", "params"), iterations=5))
    model = load_model("runs/x/models/subnet-0")
    print(predict(model_folder, ["cat.png"]))

Every name is imported on first use (PEP 562), so `import natv2` stays cheap (no torch), and
`load_model` / `predict` pull in neither training nor fine-tuning code.
"""

from __future__ import annotations

from natv2.lazy import lazy_getattr

__version__ = "0.1.0"
"""The installed natv2 version (also in every run directory's and exported model's metadata)."""

# public name -> (module, attribute in it)
_EXPORTS: dict[str, tuple[str, str]] = {
    "create_supernet": ("natv2.supernets.registry", "create"),
    "list_supernets": ("natv2.supernets.registry", "list_supernets"),
    "register_supernet": ("natv2.supernets.registry", "register_supernet"),
    "SubnetConfig": ("natv2.space.subnet", "SubnetConfig"),
    "SearchSpace": ("natv2.space.space", "SearchSpace"),
    "SearchConfig": ("natv2.search.config", "SearchConfig"),
    "run_search": ("natv2.search.loop", "run_search"),
    "load_model": ("natv2.supernets.bundle", "load_model"),
    "predict": ("natv2.export.predict", "predict"),
    "Registry": ("natv2.registry", "Registry"),
}

__all__ = ["__version__", *sorted(_EXPORTS)]

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
