"""brainalign.brainbench"""
