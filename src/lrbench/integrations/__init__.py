"""Adapters for training frameworks: torch `LRScheduler`, Hugging Face `Trainer`, Lightning.

Each module imports its framework lazily-by-module: importing `lrbench.integrations.lightning`
needs `lightning`, and the error names the extra to install.
"""
