"""Serving odrt engines: Triton Inference Server (triton.py: a model repository with a Python-backend
model, and a launcher for the tritonserver of the nvidia-pytriton wheel) and Ray Data (ray.py)."""
