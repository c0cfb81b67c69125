"""Time-series forecasting with LightGBM: panel loading, features, validation by time, fitting, prediction."""
