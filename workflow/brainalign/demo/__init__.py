"""brainalign.demo"""
