"""placeholder"""
def control_features(*a, **k): raise NotImplementedError
