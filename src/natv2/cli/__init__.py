"""natv2.cli"""
