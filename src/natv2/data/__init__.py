"""natv2.data"""
