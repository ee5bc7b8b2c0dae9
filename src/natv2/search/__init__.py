"""natv2.search"""
