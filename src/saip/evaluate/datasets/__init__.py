"""Readers for the standard downstream dataset layouts (Market-1501/MSMT17, PA100K/PETA tables, ...)."""
