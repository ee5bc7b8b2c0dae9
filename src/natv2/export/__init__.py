"""natv2.export"""
