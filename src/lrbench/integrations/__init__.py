"""Adapters for training frameworks: torch `LRScheduler`, Hugging Face `Trainer`, Lightning.

Each module needs its framework only when imported: `lrbench.integrations.lightning` needs
`lightning`, and without it the import error names the extra to install.
"""
