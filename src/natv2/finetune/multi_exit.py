"""Moved to `natv2.nn.multi_exit` (an exported model needs it without fine-tuning code); kept so old imports work."""

from natv2.nn.multi_exit import AllOutputs, MultiExitEnsemble

__all__ = ["AllOutputs", "MultiExitEnsemble"]
