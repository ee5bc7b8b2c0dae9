"""natv2.config"""
