"""natv2.finetune"""
