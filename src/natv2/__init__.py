"""natv2: multi-objective neural architecture search (OFA/OFAv2 supernets, NAT and NATv2)."""

__version__ = "0.1.0"
