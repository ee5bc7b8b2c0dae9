"""natv2.train"""
