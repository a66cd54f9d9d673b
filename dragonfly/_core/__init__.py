"""The hot path: compiled Cython modules, each with a pure-Python twin.

For every module ``X`` there is ``X_py.py`` (the reference implementation and
fallback), ``X_c.pyx`` (compiled) and ``X.py``, which selects one of them with
:func:`dragonfly._core._select.select`. ``DRAGONFLY_NO_EXTENSIONS=1`` selects the
pure twins everywhere.
"""
