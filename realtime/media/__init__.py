"""Video runtime: decoding (``reader``), encoding (``writer``), the threaded file pipeline (``pipeline``) and live
capture (``camera``)."""
