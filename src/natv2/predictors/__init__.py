"""natv2.predictors"""
