"""placeholder"""
def forecast_features(*a, **k): raise NotImplementedError
