"""natv2.report"""
