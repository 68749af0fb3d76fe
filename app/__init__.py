"""Enhance Studio's PySide6 desktop editor: thin views over :mod:`enhance_core` objects.

Only this package imports Qt. Its entry point is :func:`app.launcher.main`
(the ``enhance-studio`` command), which imports Qt only when the editor opens.
"""
