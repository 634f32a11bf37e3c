"""brainalign.analyses"""
