"""brainalign.design"""
