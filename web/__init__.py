"""The web layer of certverify: a thin Flask shell around the ``verify`` pipeline."""
