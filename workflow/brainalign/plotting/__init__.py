"""brainalign.plotting"""
