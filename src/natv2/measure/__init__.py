"""natv2.measure"""
