"""natv2.supernets"""
