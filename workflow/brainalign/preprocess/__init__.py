"""brainalign.preprocess"""
