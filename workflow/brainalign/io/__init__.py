"""brainalign.io"""
