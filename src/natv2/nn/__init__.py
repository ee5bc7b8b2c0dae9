"""natv2.nn"""
